// Pure rules: ids, dataset and schema validation with field paths, the
// trust floor and effective settings, accreditation and quality ratings.
#include "services/catalogue/validation.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/catalogue/quality.h"

namespace datalab::catalogue {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
namespace c = ::datalab::common::v1;

cv1::Column Col(const std::string& name, c::ColumnType type, c::Classification cls,
                c::Treatment t) {
  cv1::Column col;
  col.set_name(name);
  col.set_type(type);
  col.set_classification(cls);
  col.set_treatment(t);
  return col;
}

cv1::Schema PupilSchema() {
  cv1::Schema s;
  auto upn = Col("upn", c::STRING, c::DIRECT_IDENTIFIER, c::PSEUDONYMISE);
  upn.set_subject_key(true);
  upn.set_required(true);
  *s.add_columns() = upn;
  *s.add_columns() = Col("forename", c::STRING, c::DIRECT_IDENTIFIER, c::DROP);
  *s.add_columns() = Col("date_of_birth", c::DATE, c::QUASI_IDENTIFIER, c::GENERALISE_DOB_YEAR_MONTH);
  auto sen = Col("sen_provision", c::CODE, c::SPECIAL_CATEGORY, c::KEEP);
  for (const char* code : {"N", "K", "E"}) sen.add_codes()->set_code(code);
  *s.add_columns() = sen;
  auto score = Col("score", c::INTEGER, c::NON_IDENTIFYING, c::KEEP);
  score.set_has_range(true);
  score.set_min_value(80);
  score.set_max_value(120);
  score.add_missing_markers("A");
  *s.add_columns() = score;
  return s;
}

absl::Status Check(const cv1::Schema& s, c::SubjectKind kind = c::PUPIL) {
  FieldErrors e;
  ValidateSchema(s, kind, "schema", e);
  return e.ToStatus();
}

TEST(IdsTest, LowerSnakeCase) {
  EXPECT_TRUE(IsLowerSnakeCase("census"));
  EXPECT_TRUE(IsLowerSnakeCase("ks4_results_2024"));
  EXPECT_TRUE(IsLowerSnakeCase(std::string(63, 'a')));
  EXPECT_FALSE(IsLowerSnakeCase(std::string(64, 'a')));
  EXPECT_FALSE(IsLowerSnakeCase(""));
  EXPECT_FALSE(IsLowerSnakeCase("Census"));
  EXPECT_FALSE(IsLowerSnakeCase("4census"));
  EXPECT_FALSE(IsLowerSnakeCase("census-2024"));
  EXPECT_TRUE(IsValidUserId("8f2c-aa|x@trust"));
  EXPECT_FALSE(IsValidUserId("a/b"));
  EXPECT_FALSE(IsValidUserId("a b"));
}

TEST(DatesTest, StrictFormat) {
  EXPECT_THAT(ParseDate("2024-02-29", "d"), IsOk());
  EXPECT_THAT(ParseDate("2023-02-29", "d"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDate("2024-2-01", "d"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseDate("", "x.y"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("x.y")));
}

TEST(SchemaTest, ValidPupilSchema) { EXPECT_THAT(Check(PupilSchema()), IsOk()); }

TEST(SchemaTest, UnknownTypeNamesField) {
  auto s = PupilSchema();
  s.mutable_columns(4)->set_type(static_cast<c::ColumnType>(42));
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[4].type: unknown column type")));
  s.mutable_columns(4)->set_type(c::COLUMN_TYPE_UNSPECIFIED);
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("columns[4].type")));
}

TEST(SchemaTest, DuplicateColumnNamesCaseInsensitive) {
  auto s = PupilSchema();
  auto dup = Col("score", c::INTEGER, c::NON_IDENTIFYING, c::KEEP);
  *s.add_columns() = dup;
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[5].name: duplicate column name")));
  // Names must be lower case anyway; aliases are compared case-insensitively.
  s.mutable_columns()->RemoveLast();
  s.mutable_columns(4)->add_aliases("UPN");
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[4].aliases[0]")));
}

TEST(SchemaTest, BadColumnName) {
  auto s = PupilSchema();
  s.mutable_columns(1)->set_name("Forename");
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[1].name: must be lower_snake_case")));
}

TEST(SchemaTest, DuplicateCodes) {
  auto s = PupilSchema();
  s.mutable_columns(3)->add_codes()->set_code("K");
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[3].codes: duplicate code 'K'")));
}

TEST(SchemaTest, CodesOnlyOnCodeColumns) {
  auto s = PupilSchema();
  s.mutable_columns(4)->add_codes()->set_code("X");
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[4].codes: a code list is only allowed")));
  s = PupilSchema();
  s.mutable_columns(3)->clear_codes();
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[3].codes: a CODE column needs")));
}

TEST(SchemaTest, ExactlyOneSubjectKeyForPupilsAndStaff) {
  auto s = PupilSchema();
  s.mutable_columns(0)->set_subject_key(false);
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("exactly one subject_key column, has 0")));
  EXPECT_THAT(Check(s, c::STAFF), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("exactly one subject_key")));
  s = PupilSchema();
  s.mutable_columns(1)->set_subject_key(true);
  s.mutable_columns(1)->set_required(true);
  s.mutable_columns(1)->set_treatment(c::PSEUDONYMISE);
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("has 2")));
}

TEST(SchemaTest, SchoolDatasetsKeyByUrn) {
  cv1::Schema s;
  *s.add_columns() = Col("name", c::STRING, c::NON_IDENTIFYING, c::KEEP);
  EXPECT_THAT(Check(s, c::SCHOOL), StatusIs(absl::StatusCode::kInvalidArgument,
                                            HasSubstr("keyed by URN")));
  *s.add_columns() = Col("urn", c::STRING, c::NON_IDENTIFYING, c::KEEP);
  EXPECT_THAT(Check(s, c::SCHOOL), IsOk());
}

TEST(SchemaTest, TreatmentsValidForClassification) {
  auto s = PupilSchema();
  s.mutable_columns(1)->set_treatment(c::KEEP);  // forename kept
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[1].treatment: a DIRECT_IDENTIFIER must be "
                                           "DROP or PSEUDONYMISE")));
  s = PupilSchema();
  s.mutable_columns(4)->set_treatment(c::PSEUDONYMISE);  // a score pseudonymised
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[4].treatment: PSEUDONYMISE only")));
  s = PupilSchema();
  s.mutable_columns(0)->set_treatment(c::DROP);  // subject key dropped
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[0].treatment")));
  s = PupilSchema();
  s.mutable_columns(4)->set_treatment(c::GENERALISE_DOB_YEAR_MONTH);
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("needs a DATE")));
}

TEST(SchemaTest, RangesAndMissingMarkers) {
  auto s = PupilSchema();
  s.mutable_columns(4)->set_min_value(130);
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[4].min_value: min_value must not exceed")));
  s = PupilSchema();
  s.mutable_columns(4)->add_missing_markers("");
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("schema.columns[4].missing_markers[1]: must be a non-empty")));
  s = PupilSchema();
  s.mutable_columns(1)->set_has_range(true);
  EXPECT_THAT(Check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("numeric columns")));
}

TEST(SchemaTest, ReportsEveryProblem) {
  auto s = PupilSchema();
  s.mutable_columns(3)->add_codes()->set_code("N");
  s.mutable_columns(4)->set_min_value(500);
  auto st = Check(s);
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("columns[3].codes")));
  EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("columns[4].min_value")));
}

TEST(DatasetTest, RequiredFields) {
  cv1::Dataset d;
  d.set_subject_kind(c::PUPIL);
  FieldErrors e;
  ValidateDataset(d, "dataset", e);
  auto st = e.ToStatus();
  for (const char* f : {"dataset.title", "dataset.source_system", "dataset.topic",
                        "dataset.lawful_basis", "dataset.retention_days",
                        "dataset.identifier_domain"}) {
    EXPECT_THAT(st, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(f))) << f;
  }
}

TEST(DatasetTest, IdentifierDomainsFollowThePseudonymisationServicesIdRule) {
  // The domain must be one pseudonymisation can create: lower case, digits
  // and '-' (it refuses '_', so a dataset naming one could never load).
  auto domain_error = [](const std::string& domain, c::SubjectKind kind) {
    cv1::Dataset d;
    d.set_subject_kind(kind);
    d.set_identifier_domain(domain);
    FieldErrors e;
    ValidateDataset(d, "dataset", e);
    return std::string(e.ToStatus().message()).find("dataset.identifier_domain") !=
           std::string::npos;
  };
  for (const char* ok : {"domains/pupil", "domains/staff-ids", "domains/pupilround2"}) {
    EXPECT_FALSE(domain_error(ok, c::PUPIL)) << ok;
    EXPECT_FALSE(domain_error(ok, c::SCHOOL)) << ok;
  }
  for (const char* bad : {"domains/staff_ids", "domains/Pupil", "domains/", "pupil",
                          "domains/pupil/x"}) {
    EXPECT_TRUE(domain_error(bad, c::PUPIL)) << bad;
    EXPECT_TRUE(domain_error(bad, c::SCHOOL)) << bad;
  }
}

TEST(FloorTest, ProjectSettingsMustBeAtLeastAsStrict) {
  const auto floor = DefaultFloor();
  auto check = [&](const c::DisclosureSettings& s) {
    FieldErrors e;
    ValidateProjectDisclosure(s, floor, "project.disclosure", e);
    return e.ToStatus();
  };
  EXPECT_THAT(check(floor), IsOk());
  auto s = floor;
  s.set_threshold(9);
  EXPECT_THAT(check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("project.disclosure.threshold: below the trust floor")));
  s = floor;
  s.set_rounding_base(3);
  EXPECT_THAT(check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rounding_base")));
  s = floor;
  s.set_dominance_k_percent(95);
  EXPECT_THAT(check(s), StatusIs(absl::StatusCode::kInvalidArgument,
                                 HasSubstr("dominance_k_percent: above the trust floor")));
  s = floor;
  s.set_p_percent(5);
  EXPECT_THAT(check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("p_percent")));
  s = floor;
  s.set_dominance_n(1);
  EXPECT_THAT(check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dominance_n")));
  s = floor;
  s.set_epsilon_budget(1.0);
  EXPECT_THAT(check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epsilon_per_query")));
  s.set_epsilon_per_query(2.0);
  EXPECT_THAT(check(s), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("epsilon_per_query")));
  s.set_epsilon_per_query(0.1);
  EXPECT_THAT(check(s), IsOk());
  // Stricter is fine.
  s = floor;
  s.set_threshold(20);
  s.set_dominance_k_percent(80);
  EXPECT_THAT(check(s), IsOk());
}

TEST(FloorTest, EffectiveIsStricterOfEachField) {
  auto project = DefaultFloor();
  project.set_threshold(20);            // stricter than the new floor
  project.set_dominance_k_percent(90);  // looser than the new floor
  auto floor = DefaultFloor();
  floor.set_threshold(15);
  floor.set_rounding_base(10);
  floor.set_dominance_k_percent(80);
  floor.set_p_percent(15);
  auto e = EffectiveSettings(project, floor);
  EXPECT_EQ(e.threshold(), 20);
  EXPECT_EQ(e.rounding_base(), 10);
  EXPECT_EQ(e.dominance_k_percent(), 80);
  EXPECT_EQ(e.p_percent(), 15);
  EXPECT_EQ(e.dominance_n(), 2);
}

TEST(AccreditationTest, ExpiredRefused) {
  cv1::Accreditation a;
  a.set_scheme("ONS Accredited Researcher");
  a.set_training_date("2022-01-10");
  a.set_expiry_date("2023-01-10");
  FieldErrors e;
  ValidateAccreditation(a, absl::CivilDay(2024, 1, 1), "user.accreditation", e);
  EXPECT_THAT(e.ToStatus(), StatusIs(absl::StatusCode::kInvalidArgument,
                                     HasSubstr("user.accreditation.expiry_date: accreditation "
                                               "already expired")));
  EXPECT_FALSE(AccreditationCurrent(a, absl::CivilDay(2024, 1, 1)));
  EXPECT_TRUE(AccreditationCurrent(a, absl::CivilDay(2023, 1, 10)));
  FieldErrors ok;
  ValidateAccreditation(a, absl::CivilDay(2022, 6, 1), "user.accreditation", ok);
  EXPECT_THAT(ok.ToStatus(), IsOk());
}

TEST(QualityTest, WeightedScoreAndLetters) {
  cv1::QualityRating m;
  auto* d = m.add_breakdown();
  d->set_completeness(1.0);
  d->set_validity(1.0);
  d->set_uniqueness(1.0);
  d->set_timeliness(1.0);
  d->set_consistency(1.0);
  auto r = ComputeRating(m, "quality");
  ASSERT_THAT(r, IsOk());
  EXPECT_DOUBLE_EQ(r->score(), 100);
  EXPECT_EQ(r->rating(), "A");
  // 0.3*0.9 + 0.3*0.8 + 0.15*1 + 0.1*0.5 + 0.15*0.6 = 0.80
  d->set_completeness(0.9);
  d->set_validity(0.8);
  d->set_timeliness(0.5);
  d->set_consistency(0.6);
  r = ComputeRating(m, "quality");
  ASSERT_THAT(r, IsOk());
  EXPECT_DOUBLE_EQ(r->score(), 80);
  EXPECT_EQ(r->rating(), "B");
  EXPECT_EQ(r->breakdown_size(), 1);
  EXPECT_EQ(LetterForScore(89.99), "B");
  EXPECT_EQ(LetterForScore(70), "C");
  EXPECT_EQ(LetterForScore(60), "D");
  EXPECT_EQ(LetterForScore(59.99), "E");
}

TEST(QualityTest, ColumnMeanWhenNoDatasetLevelMetric) {
  cv1::QualityRating m;
  for (double v : {1.0, 0.5}) {
    auto* c = m.add_breakdown();
    c->set_column(v == 1.0 ? "a" : "b");
    c->set_completeness(v);
    c->set_validity(v);
    c->set_uniqueness(v);
    c->set_timeliness(v);
    c->set_consistency(v);
  }
  auto r = ComputeRating(m, "quality");
  ASSERT_THAT(r, IsOk());
  EXPECT_DOUBLE_EQ(r->score(), 75);
  EXPECT_EQ(r->rating(), "C");
}

TEST(QualityTest, OutOfRangeAndDuplicatesRefused) {
  cv1::QualityRating m;
  m.add_breakdown()->set_completeness(1.5);
  EXPECT_THAT(ComputeRating(m, "version.quality"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("version.quality.breakdown[0].completeness")));
  m.mutable_breakdown(0)->set_completeness(1);
  m.add_breakdown();
  EXPECT_THAT(ComputeRating(m, "q"), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("more than one dataset-level")));
  EXPECT_THAT(ComputeRating(cv1::QualityRating(), "q"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace datalab::catalogue
