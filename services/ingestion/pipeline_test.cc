// RowPipeline: CSV quirks, validation rules, treatments, error policies and
// hostile input, with an in-memory pseudonymiser and sink.
#include "services/ingestion/pipeline.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/identifiers/upn.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingestion/testing_fakes.h"

namespace datalab::ingestion {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;
namespace cv1 = ::datalab::common::v1;
namespace cat = ::datalab::catalogue::v1;

cat::Column Col(const std::string& name, cv1::ColumnType type,
                cv1::Treatment treatment = cv1::KEEP) {
  cat::Column c;
  c.set_name(name);
  c.set_type(type);
  c.set_treatment(treatment);
  return c;
}

struct Fixture {
  cat::Dataset dataset;
  cat::Schema schema;
};

// A pupil dataset at schema version 1, with no columns yet.
Fixture EmptyFixture(const std::string& dataset, const std::string& domain) {
  Fixture f;
  f.dataset.set_name(dataset);
  f.dataset.set_subject_kind(cv1::PUPIL);
  f.dataset.set_identifier_domain(domain);
  f.dataset.set_current_schema_version(1);
  f.schema.set_version(1);
  return f;
}

Fixture PupilSchema() {
  Fixture f = EmptyFixture("datasets/attainment", "domains/pupil");
  auto* s = &f.schema;
  s->set_unique_subject_per_period(true);
  cat::Column upn = Col("upn", cv1::STRING, cv1::PSEUDONYMISE);
  upn.set_subject_key(true);
  upn.set_required(true);
  upn.add_aliases("Unique Pupil Number");
  *s->add_columns() = upn;
  cat::Column name = Col("pupil_name", cv1::STRING, cv1::DROP);
  name.add_aliases("Name");
  *s->add_columns() = name;
  *s->add_columns() = Col("dob", cv1::DATE, cv1::GENERALISE_DOB_YEAR_MONTH);
  *s->add_columns() = Col("postcode", cv1::STRING, cv1::GENERALISE_POSTCODE_DISTRICT);
  cat::Column term = Col("term", cv1::STRING);
  term.set_period_key(true);
  *s->add_columns() = term;
  *s->add_columns() = Col("fsm", cv1::BOOLEAN);
  cat::Column att8 = Col("att8", cv1::DECIMAL);
  att8.add_missing_markers("SUPP");
  att8.add_missing_markers("NE");
  att8.set_has_range(true);
  att8.set_min_value(0);
  att8.set_max_value(90);
  *s->add_columns() = att8;
  *s->add_columns() = Col("attendance", cv1::PERCENTAGE);
  cat::Column sen = Col("sen", cv1::CODE);
  for (const char* c : {"N", "K", "E"}) sen.add_codes()->set_code(c);
  *s->add_columns() = sen;
  *s->add_columns() = Col("sessions", cv1::INTEGER);
  return f;
}

std::string Upn(int serial) {
  auto u = identifiers::MakeUpn(801, 2000, 19, serial);
  return u.ok() ? *u : "";
}

const char kHeader[] =
    "Unique Pupil Number,NAME,DOB,Postcode,Term,FSM,ATT8,Attendance,SEN,Sessions\r\n";

std::string Row(const std::string& upn, const std::string& rest =
                                            "Ann Smith,2008-03-14,LS6 2AB,autumn,Y,55.5,96.5%,N,"
                                            "\"1,234\"") {
  return absl::StrCat(upn, ",", rest, "\r\n");
}

struct Run {
  std::unique_ptr<CompiledSchema> schema;
  testing::FakePseudonymiser pseudo;
  testing::CollectingSink sink;
  std::unique_ptr<RowPipeline> pipeline;
  absl::Status status;
};

std::unique_ptr<Run> RunPipeline(const std::string& data, PipelineOptions o = {},
                                 const Fixture& f = PupilSchema(), size_t chunk = 7,
                                 std::set<std::string> invalid = {}) {
  auto r = std::make_unique<Run>();
  auto s = CompiledSchema::Create(f.dataset, f.schema);
  EXPECT_THAT(s, IsOk());
  r->schema = std::move(*s);
  r->pseudo.SetInvalid(std::move(invalid));
  if (o.school.empty()) o.school = "100000";
  if (o.period.empty()) o.period = "autumn-2025";
  auto p = RowPipeline::Create(r->schema.get(), o, &r->pseudo, &r->sink);
  EXPECT_THAT(p, IsOk());
  r->pipeline = std::move(*p);
  for (size_t off = 0; off < data.size() && r->status.ok(); off += chunk) {
    r->status = r->pipeline->Feed(std::string_view(data).substr(off, chunk));
  }
  if (r->status.ok()) r->status = r->pipeline->Finish();
  return r;
}

int64_t Total(const cv1::ColumnType&, const v1::ValidationReport& r, const std::string& rule) {
  int64_t n = 0;
  for (const auto& t : r.totals()) n += t.rule() == rule ? t.count() : 0;
  return n;
}
int64_t RuleCount(const v1::ValidationReport& r, const std::string& rule) {
  return Total(cv1::STRING, r, rule);
}

TEST(PipelineTest, TreatsEveryColumnAndHandlesBomCrlfAliasesAndQuirks) {
  std::string data = absl::StrCat("\xEF\xBB\xBF", kHeader, Row(Upn(1)),
                                  Row(Upn(2), "\"Smith, Bob\",14/03/2009,ls62ab,autumn,N,SUPP,"
                                              "88,K,12"));
  auto r = RunPipeline(data);
  ASSERT_THAT(r->status, IsOk());
  ASSERT_FALSE(r->pipeline->rejected()) << r->pipeline->reject_reason();
  ASSERT_EQ(r->sink.batches.size(), 1u);
  const auto& b = r->sink.batches[0];
  ASSERT_EQ(b.rows(), 2);
  // Stored: upn, dob, postcode, term, fsm, att8, attendance, sen, sessions, _school, _period
  const auto& cols = r->schema->stored_columns();
  ASSERT_EQ(cols.size(), 11u);
  for (const auto& c : cols) EXPECT_NE(c.name(), "pupil_name");  // dropped
  EXPECT_TRUE(cols[0].subject());
  auto str = [&](int c) { return testing::Strings(b.columns(c), b.rows()); };
  EXPECT_EQ(str(0)[0], testing::FakePseudonymiser::PseudonymFor("domains/pupil", Upn(1)));
  EXPECT_EQ(str(1)[0], "2008-03");
  EXPECT_EQ(str(1)[1], "2009-03");
  EXPECT_EQ(str(2)[0], "LS6");
  EXPECT_EQ(str(2)[1], "LS6");
  EXPECT_EQ(b.columns(4).ints(0), 1);
  EXPECT_EQ(b.columns(4).ints(1), 0);
  EXPECT_DOUBLE_EQ(b.columns(5).doubles(0), 55.5);
  ASSERT_EQ(b.columns(5).missing().size(), 2u);
  EXPECT_EQ(b.columns(5).missing()[1], static_cast<char>(cv1::SUPP));
  EXPECT_DOUBLE_EQ(b.columns(6).doubles(0), 96.5);
  EXPECT_EQ(b.columns(8).ints(0), 1234);  // thousands separator in quotes
  EXPECT_EQ(str(3)[0], "autumn");
  EXPECT_EQ(str(7)[0], "N");  // CODE cells, by their code-list position
  EXPECT_EQ(str(7)[1], "K");
  EXPECT_EQ(str(9)[0], "100000");
  EXPECT_EQ(str(10)[1], "autumn-2025");
  // No raw identifier or name anywhere in what was written.
  const std::string all = b.SerializeAsString();
  EXPECT_EQ(all.find(Upn(1)), std::string::npos);
  EXPECT_EQ(all.find("Smith"), std::string::npos);
  EXPECT_EQ(all.find("2AB"), std::string::npos);
  const auto& rep = r->pipeline->report();
  EXPECT_EQ(rep.rows_total(), 2);
  EXPECT_EQ(rep.rows_valid(), 2);
  EXPECT_EQ(rep.encoding_detected(), "utf-8");
  bool supp = false;
  for (const auto& m : rep.missing_markers()) supp |= m.column() == "att8" && m.marker() == "SUPP";
  EXPECT_TRUE(supp);
  EXPECT_EQ(r->pipeline->progress().rows_loaded(), 2);
}

TEST(PipelineTest, SameResultWhateverTheChunkSize) {
  std::string data = kHeader;
  for (int i = 1; i <= 20; ++i) data += Row(Upn(i));
  auto a = RunPipeline(data, {}, PupilSchema(), 1);
  auto b = RunPipeline(data, {}, PupilSchema(), 1 << 20);
  ASSERT_THAT(a->status, IsOk());
  ASSERT_THAT(b->status, IsOk());
  EXPECT_EQ(a->sink.rows, 20);
  ASSERT_EQ(a->sink.batches.size(), b->sink.batches.size());
  for (size_t i = 0; i < a->sink.batches.size(); ++i) {
    EXPECT_EQ(a->sink.batches[i].SerializeAsString(), b->sink.batches[i].SerializeAsString())
        << "batch " << i;
  }
}

TEST(PipelineTest, BatchesOfTheConfiguredSize) {
  std::string data = kHeader;
  for (int i = 1; i <= 10; ++i) data += Row(Upn(i));
  PipelineOptions o;
  o.batch_rows = 3;
  auto r = RunPipeline(data, o);
  ASSERT_THAT(r->status, IsOk());
  ASSERT_EQ(r->sink.batches.size(), 4u);
  EXPECT_EQ(r->sink.batches[3].rows(), 1);
  EXPECT_EQ(r->pseudo.calls(), 4);  // one call per batch, not per row
}

TEST(PipelineTest, BatchSizeOutsideItsRangeIsRefused) {
  auto s = CompiledSchema::Create(PupilSchema().dataset, PupilSchema().schema);
  ASSERT_THAT(s, IsOk());
  testing::FakePseudonymiser pseudo;
  testing::CollectingSink sink;
  for (int64_t rows : {int64_t{0}, int64_t{-1}, kMaxBatchRows + 1, int64_t{1} << 40}) {
    PipelineOptions o;
    o.batch_rows = rows;
    EXPECT_THAT(RowPipeline::Create(s->get(), o, &pseudo, &sink),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("batch_rows")))
        << rows;
  }
  PipelineOptions o;
  o.batch_rows = kMaxBatchRows;
  EXPECT_THAT(RowPipeline::Create(s->get(), o, &pseudo, &sink), IsOk());
}

TEST(PipelineTest, Windows1252Declared) {
  std::string data = absl::StrCat(kHeader, Row(Upn(1), "Zo\xEB" " O\x92" "Brien,2008-03-14,LS6 2AB,"
                                                       "autumn,Y,55,90,N,1"));
  PipelineOptions o;
  o.encoding = csv::Encoding::kWindows1252;
  auto r = RunPipeline(data, o);
  ASSERT_THAT(r->status, IsOk());
  EXPECT_FALSE(r->pipeline->rejected());
  EXPECT_EQ(r->pipeline->report().encoding_detected(), "windows-1252");
}

TEST(PipelineTest, RejectPolicyLoadsNothingButReportsEveryRow) {
  std::string data = absl::StrCat(kHeader, Row(Upn(1)),
                                  Row(Upn(2), "B,2008-02-30,LS6 2AB,autumn,Y,95,90,Q,1"),
                                  Row(Upn(3)));
  auto r = RunPipeline(data);
  ASSERT_THAT(r->status, IsOk());
  EXPECT_TRUE(r->pipeline->rejected());
  EXPECT_TRUE(r->sink.batches.empty());
  const auto& rep = r->pipeline->report();
  EXPECT_EQ(rep.rows_total(), 3);
  EXPECT_EQ(rep.rows_invalid(), 1);
  EXPECT_EQ(rep.rows_valid(), 2);
  EXPECT_EQ(RuleCount(rep, "type"), 1);       // the impossible date
  EXPECT_EQ(RuleCount(rep, "range"), 1);      // att8 95 > 90
  EXPECT_EQ(RuleCount(rep, "code_list"), 1);  // SEN "Q"
  for (const auto& e : rep.errors()) {
    EXPECT_EQ(e.row(), 2);
    EXPECT_EQ(e.line(), 3);
    if (e.column() == "dob") {
      EXPECT_EQ(e.reason(), "not a valid date");
    }
    EXPECT_THAT(e.reason(), Not(HasSubstr("30")));
    EXPECT_THAT(e.reason(), Not(HasSubstr("Q")));
  }
}

TEST(PipelineTest, QuarantinePolicySetsBadRowsAsideAndLoadsTheRest) {
  std::string data = absl::StrCat(kHeader, Row(Upn(1)),
                                  Row(Upn(2), "B,2008-01-01,LS6 2AB,autumn,maybe,50,90,N,1"),
                                  Row(Upn(3)), Row("", "B,2008-01-01,LS6 2AB,autumn,Y,50,90,N,1"),
                                  "short,row\r\n");
  PipelineOptions o;
  o.policy = v1::QUARANTINE;
  auto r = RunPipeline(data, o);
  ASSERT_THAT(r->status, IsOk());
  EXPECT_FALSE(r->pipeline->rejected());
  EXPECT_EQ(r->sink.rows, 2);
  const auto& rep = r->pipeline->report();
  EXPECT_EQ(rep.rows_invalid(), 3);
  EXPECT_EQ(RuleCount(rep, "required"), 1);
  EXPECT_EQ(RuleCount(rep, "field_count"), 1);
  EXPECT_EQ(r->pipeline->progress().rows_quarantined(), 3);
}

TEST(PipelineTest, UpnCheckLetterIsValidatedAndNeverEchoed) {
  std::string good = Upn(7);
  std::string bad = good;
  bad[0] = bad[0] == 'A' ? 'B' : 'A';
  PipelineOptions o;
  o.policy = v1::QUARANTINE;
  auto r = RunPipeline(absl::StrCat(kHeader, Row(good), Row(bad)), o);
  ASSERT_THAT(r->status, IsOk());
  EXPECT_EQ(r->sink.rows, 1);
  const auto& rep = r->pipeline->report();
  ASSERT_EQ(rep.errors_size(), 1);
  EXPECT_EQ(rep.errors(0).rule(), "upn_check_letter");
  EXPECT_EQ(rep.SerializeAsString().find(bad), std::string::npos);
  EXPECT_EQ(r->pseudo.identifiers_seen(), 1);  // the invalid UPN was never sent
}

TEST(PipelineTest, OneRecordPerSubjectPerPeriod) {
  PipelineOptions o;
  o.policy = v1::QUARANTINE;
  auto r = RunPipeline(
      absl::StrCat(kHeader, Row(Upn(1)), Row(Upn(1)),
                   Row(Upn(1), "A,2008-03-14,LS6 2AB,spring,Y,55.5,96.5%,N,1")),
      o);
  ASSERT_THAT(r->status, IsOk());
  EXPECT_EQ(r->sink.rows, 2);  // autumn once, spring once
  EXPECT_EQ(RuleCount(r->pipeline->report(), "duplicate_subject"), 1);
  EXPECT_EQ(r->pipeline->duplicate_subject_rows(), 1);
  // Identifiers are not looked up as they are parsed: a pupil's two stored
  // rows are both sent, and both get the same pseudonym.
  EXPECT_EQ(r->pseudo.identifiers_seen(), 2);
  auto pupils = testing::Strings(r->sink.batches[0].columns(0), 2);
  EXPECT_EQ(pupils[0], pupils[1]);
}

TEST(PipelineTest, TreatmentRunsBehindParsingAndTheReportStaysInFileOrder) {
  std::string data = kHeader;
  for (int i = 1; i <= 10; ++i) data += Row(Upn(i));
  // Row 5 has a SEN code not in the list: a parse-time error found while
  // row 2's pseudonymisation refusal (batch 1) is still in treatment.
  std::string with_bad = kHeader;
  for (int i = 1; i <= 11; ++i) {
    with_bad += i == 5 ? Row(Upn(i), "Ann Smith,2008-03-14,LS6 2AB,autumn,Y,55.5,96.5%,Q,1")
                       : Row(Upn(i));
  }
  PipelineOptions o;
  o.policy = v1::QUARANTINE;
  o.batch_rows = 3;
  auto r = RunPipeline(with_bad, o, PupilSchema(), 5, {Upn(2), Upn(9)});
  ASSERT_THAT(r->status, IsOk());
  EXPECT_FALSE(r->pipeline->rejected());
  EXPECT_EQ(r->sink.rows, 8);
  ASSERT_EQ(r->sink.batches.size(), 4u);
  EXPECT_EQ(r->sink.batches[0].rows(), 2);  // rows 1, 3 (2 refused)
  EXPECT_EQ(r->sink.batches[1].rows(), 3);  // rows 4, 6, 7 (5 invalid)
  EXPECT_EQ(r->sink.batches[2].rows(), 2);  // rows 8, 10 (9 refused)
  const auto& rep = r->pipeline->report();
  ASSERT_EQ(rep.errors_size(), 3);
  EXPECT_EQ(rep.errors(0).row(), 2);
  EXPECT_EQ(rep.errors(0).rule(), "pseudonymise");
  EXPECT_EQ(rep.errors(1).row(), 5);
  EXPECT_EQ(rep.errors(1).rule(), "code_list");
  EXPECT_EQ(rep.errors(2).row(), 9);
  EXPECT_EQ(RuleCount(rep, "pseudonymise"), 2);
  EXPECT_EQ(rep.rows_valid(), 8);
  EXPECT_EQ(rep.rows_invalid(), 3);
  EXPECT_EQ(r->pipeline->progress().rows_quarantined(), 3);
  EXPECT_EQ(r->pipeline->rows_loaded(), 8);
  // Every pupil written is a pseudonym of a valid UPN, in file order.
  std::vector<std::string> written;
  for (const auto& b : r->sink.batches) {
    for (auto& p : testing::Strings(b.columns(0), b.rows())) written.push_back(p);
  }
  std::vector<std::string> want;
  for (int i : {1, 3, 4, 6, 7, 8, 10, 11}) {
    want.push_back(testing::FakePseudonymiser::PseudonymFor("domains/pupil", Upn(i)));
  }
  EXPECT_EQ(written, want);

  // REJECT: the refusal in the second batch stops every later write.
  o.policy = v1::REJECT;
  auto rej = RunPipeline(data, o, PupilSchema(), 5, {Upn(5)});
  ASSERT_THAT(rej->status, IsOk());
  EXPECT_TRUE(rej->pipeline->rejected());
  EXPECT_EQ(rej->sink.rows, 3);
  EXPECT_EQ(RuleCount(rej->pipeline->report(), "pseudonymise"), 1);

  // Every row refused: nothing to load is a rejection, not an empty version.
  o.policy = v1::QUARANTINE;
  std::set<std::string> all;
  for (int i = 1; i <= 10; ++i) all.insert(Upn(i));
  auto none = RunPipeline(data, o, PupilSchema(), 5, all);
  ASSERT_THAT(none->status, IsOk());
  EXPECT_TRUE(none->pipeline->rejected());
  EXPECT_EQ(none->pipeline->report().rows_valid(), 0);
}

TEST(PipelineTest, PseudonymisationErrorsBecomeRowErrors) {
  PipelineOptions o;
  o.policy = v1::QUARANTINE;
  auto r = RunPipeline(absl::StrCat(kHeader, Row(Upn(1)), Row(Upn(2)), Row(Upn(3))), o,
                       PupilSchema(), 64, {Upn(2)});
  ASSERT_THAT(r->status, IsOk());
  EXPECT_EQ(r->sink.rows, 2);
  EXPECT_EQ(RuleCount(r->pipeline->report(), "pseudonymise"), 1);
  EXPECT_EQ(r->pipeline->report().rows_valid(), 2);
  EXPECT_EQ(r->pipeline->report().rows_invalid(), 1);
  // Under REJECT the same file loads nothing.
  auto rej = RunPipeline(absl::StrCat(kHeader, Row(Upn(1)), Row(Upn(2))), {}, PupilSchema(), 64,
                         {Upn(2)});
  EXPECT_TRUE(rej->pipeline->rejected());
  EXPECT_TRUE(rej->sink.batches.empty());
}

TEST(PipelineTest, PseudonymisationOutageFailsTheJob) {
  auto s = CompiledSchema::Create(PupilSchema().dataset, PupilSchema().schema);
  ASSERT_THAT(s, IsOk());
  testing::FakePseudonymiser pseudo;
  pseudo.SetFailing(true);
  testing::CollectingSink sink;
  PipelineOptions o;
  o.school = "100000";
  auto p = RowPipeline::Create(s->get(), o, &pseudo, &sink);
  ASSERT_THAT(p, IsOk());
  ASSERT_THAT((*p)->Feed(absl::StrCat(kHeader, Row(Upn(1)))), IsOk());
  EXPECT_FALSE((*p)->Finish().ok());
}

// A pseudonymiser whose answer does not fit the question.
class MisfitPseudonymiser : public Pseudonymiser {
 public:
  enum Mode { kShort, kErrorOutOfRange } mode;
  explicit MisfitPseudonymiser(Mode m) : mode(m) {}
  absl::Status Pseudonymise(const std::string&, const std::string&,
                            const std::vector<std::string_view>& ids,
                            PseudonymBatch* out) override {
    out->width = 4;
    out->data.assign(ids.size() * 4, 'p');
    if (mode == kShort) out->data.resize(out->data.size() - 4);
    if (mode == kErrorOutOfRange) out->errors.emplace_back(ids.size(), "bad");
    return absl::OkStatus();
  }
};

TEST(PipelineTest, AMisfitPseudonymisationAnswerFailsTheJobAndWritesNothing) {
  for (auto mode : {MisfitPseudonymiser::kShort, MisfitPseudonymiser::kErrorOutOfRange}) {
    auto s = CompiledSchema::Create(PupilSchema().dataset, PupilSchema().schema);
    ASSERT_THAT(s, IsOk());
    MisfitPseudonymiser pseudo(mode);
    testing::CollectingSink sink;
    PipelineOptions o;
    o.school = "100000";
    auto p = RowPipeline::Create(s->get(), o, &pseudo, &sink);
    ASSERT_THAT(p, IsOk());
    ASSERT_THAT((*p)->Feed(absl::StrCat(kHeader, Row(Upn(1)), Row(Upn(2)))), IsOk());
    EXPECT_THAT((*p)->Finish(), StatusIs(absl::StatusCode::kInternal)) << mode;
    EXPECT_TRUE(sink.batches.empty());
  }
}

TEST(PipelineTest, SummaryRowsAreSkipped) {
  Fixture f = PupilSchema();
  f.schema.set_summary_row_column("term");
  f.schema.add_summary_row_values("TOTAL");
  auto r = RunPipeline(absl::StrCat(kHeader, Row(Upn(1)),
                                    ",,,,TOTAL,,,,,\r\n"),  // blank UPN, would be an error
                       {}, f);
  ASSERT_THAT(r->status, IsOk());
  EXPECT_FALSE(r->pipeline->rejected());
  EXPECT_EQ(r->pipeline->report().rows_summary_skipped(), 1);
  EXPECT_EQ(r->sink.rows, 1);
}

TEST(PipelineTest, MissingRequiredHeaderRejectsAndUnknownHeadersAreReported) {
  auto r = RunPipeline("Name,Colour\r\nAnn,red\r\n");
  ASSERT_THAT(r->status, IsOk());
  EXPECT_TRUE(r->pipeline->rejected());
  EXPECT_THAT(r->pipeline->reject_reason(), HasSubstr("required column"));
  EXPECT_THAT(r->pipeline->report().missing_headers(), ::testing::Contains("upn"));
  EXPECT_THAT(r->pipeline->report().unknown_headers(), ::testing::Contains("Colour"));
}

TEST(PipelineTest, HostileAndDegenerateFiles) {
  struct Case {
    std::string name;
    std::string data;
    std::string reason;
  };
  std::vector<Case> cases = {
      {"empty", "", "empty"},
      {"header only", kHeader, "no data rows"},
      {"unterminated quote", absl::StrCat(kHeader, Upn(1), ",\"Ann,2008"), "not well-formed"},
      {"NUL byte", absl::StrCat(kHeader, Upn(1), ",A\0nn,2008-01-01,LS6 2AB,a,Y,1,1,N,1\r\n"),
       "not well-formed"},
      {"invalid UTF-8 declared utf-8", absl::StrCat(kHeader, Row(Upn(1), "\xC3\x28,2008-01-01,"
                                                                         "LS6 2AB,a,Y,1,1,N,1")),
       "not well-formed"},
      {"not CSV", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16), ""},
      {"1 MB field", absl::StrCat(kHeader, Upn(1), ",", std::string(2 << 20, 'a'),
                                  ",2008-01-01,LS6 2AB,a,Y,1,1,N,1\r\n"),
       "not well-formed"},
  };
  cases[3].data = absl::StrCat(kHeader, Upn(1), ",A", std::string(1, '\0'),
                               "nn,2008-01-01,LS6 2AB,a,Y,1,1,N,1\r\n");
  for (const auto& c : cases) {
    PipelineOptions o;
    o.policy = v1::QUARANTINE;
    if (c.name == "invalid UTF-8 declared utf-8") o.encoding = csv::Encoding::kUtf8;
    auto r = RunPipeline(c.data, o, PupilSchema(), 4096);
    ASSERT_THAT(r->status, IsOk()) << c.name;
    EXPECT_TRUE(r->pipeline->rejected()) << c.name;
    EXPECT_THAT(r->pipeline->reject_reason(), HasSubstr(c.reason)) << c.name;
    EXPECT_TRUE(r->sink.batches.empty()) << c.name;
  }
}

TEST(PipelineTest, ErrorListIsCappedButTotalsAreComplete) {
  std::string data = kHeader;
  for (int i = 1; i <= 50; ++i) data += Row(Upn(i), "A,notadate,LS6 2AB,autumn,Y,1,1,N,1");
  PipelineOptions o;
  o.policy = v1::QUARANTINE;
  o.max_reported_errors = 10;
  auto r = RunPipeline(data, o, PupilSchema(), 4096);
  ASSERT_THAT(r->status, IsOk());
  EXPECT_EQ(r->pipeline->report().errors_size(), 10);
  EXPECT_TRUE(r->pipeline->report().errors_truncated());
  EXPECT_EQ(RuleCount(r->pipeline->report(), "type"), 50);
}

TEST(PipelineTest, TrustWideUploadsCountCellsAndPresentValuesPerSchool) {
  // The per-school counts behind the quality metric "consistency": a
  // school's cells are its rows; present values per column.
  Fixture f = EmptyFixture("datasets/census", "domains/pupil");
  cat::Column upn = Col("upn", cv1::STRING, cv1::PSEUDONYMISE);
  upn.set_subject_key(true);
  *f.schema.add_columns() = upn;
  *f.schema.add_columns() = Col("school_urn", cv1::STRING);
  cat::Column att8 = Col("att8", cv1::DECIMAL);
  att8.add_missing_markers("SUPP");
  *f.schema.add_columns() = att8;
  const std::string data = absl::StrCat("upn,school_urn,att8\n", Upn(1), ",100001,50\n",
                                        Upn(2), ",100001,SUPP\n", Upn(3), ",100002,40\n",
                                        Upn(4), ",100001,\n", Upn(5), ",100002,41\n",
                                        // a row with a field missing: counted nowhere
                                        Upn(6), ",100002\n");
  PipelineOptions o;
  o.school = "trust-wide";
  o.policy = v1::QUARANTINE;
  auto r = RunPipeline(data, o, f);
  ASSERT_THAT(r->status, IsOk());
  const auto& stats = r->pipeline->column_stats();
  ASSERT_EQ(stats.size(), 3u);
  using Counts = std::pair<int64_t, int64_t>;  // (cells, present)
  EXPECT_EQ(stats[2].by_school.at("100001"), Counts(3, 1));
  EXPECT_EQ(stats[2].by_school.at("100002"), Counts(2, 2));
  EXPECT_EQ(stats[0].by_school.at("100001"), Counts(3, 3));
  EXPECT_EQ(stats[2].cells, 5);
  EXPECT_EQ(stats[2].present, 3);
  EXPECT_EQ(stats[2].by_school.size(), 2u);  // no "trust-wide" slot for the short row
}

TEST(PipelineTest, MissingCellsAreMarkedInTheirRowsAndSurviveDroppedRows) {
  // att8's first missing cell is in the batch's third row; the row before
  // it is dropped in treatment (a refused identifier), so the column's
  // missing bytes must be compacted with the values. sessions never has a
  // missing cell.
  const std::string data =
      absl::StrCat(kHeader, Row(Upn(1)), Row(Upn(2)),
                   Row(Upn(3), "A,2008-03-14,LS6 2AB,autumn,Y,SUPP,96.5%,N,7"),
                   Row(Upn(4), "A,2008-03-14,LS6 2AB,autumn,Y,40,96.5%,N,8"),
                   Row(Upn(5), "A,2008-03-14,LS6 2AB,autumn,Y,,96.5%,N,9"));
  PipelineOptions o;
  o.policy = v1::QUARANTINE;
  auto r = RunPipeline(data, o, PupilSchema(), 7, {Upn(2)});
  ASSERT_THAT(r->status, IsOk());
  ASSERT_EQ(r->sink.batches.size(), 1u);
  const auto& b = r->sink.batches[0];
  ASSERT_EQ(b.rows(), 4);
  int att8 = -1, sessions = -1;
  for (int i = 0; i < static_cast<int>(r->schema->stored_columns().size()); ++i) {
    if (r->schema->stored_columns()[i].name() == "att8") att8 = i;
    if (r->schema->stored_columns()[i].name() == "sessions") sessions = i;
  }
  ASSERT_GE(att8, 0);
  ASSERT_GE(sessions, 0);
  EXPECT_EQ(b.columns(att8).missing(),
            std::string({0, static_cast<char>(cv1::SUPP), 0, static_cast<char>(cv1::BLANK)}));
  EXPECT_EQ(b.columns(att8).doubles(0), 55.5);
  EXPECT_EQ(b.columns(att8).doubles(2), 40);
  EXPECT_TRUE(b.columns(sessions).missing().empty());
  EXPECT_EQ(b.columns(sessions).ints(3), 9);

  // Batches of two rows: the first missing cell is then the first row of
  // the second batch, and the only row of the third.
  o.batch_rows = 2;
  auto small = RunPipeline(data, o, PupilSchema(), 7, {Upn(2)});
  ASSERT_THAT(small->status, IsOk());
  ASSERT_EQ(small->sink.batches.size(), 3u);
  EXPECT_TRUE(small->sink.batches[0].columns(att8).missing().empty());
  EXPECT_EQ(small->sink.batches[1].columns(att8).missing(),
            std::string({static_cast<char>(cv1::SUPP), 0}));
  EXPECT_EQ(small->sink.batches[2].columns(att8).missing(),
            std::string(1, static_cast<char>(cv1::BLANK)));
}

TEST(PipelineTest, ANumericIdentifierIsPseudonymisedByItsText) {
  Fixture f = EmptyFixture("datasets/staff", "domains/staff");
  cat::Column id = Col("staff_id", cv1::INTEGER, cv1::PSEUDONYMISE);
  id.set_subject_key(true);
  *f.schema.add_columns() = id;
  *f.schema.add_columns() = Col("grade", cv1::INTEGER);
  auto r = RunPipeline("staff_id,grade\n1234,3\n0042,4\n", {}, f);
  ASSERT_THAT(r->status, IsOk());
  ASSERT_FALSE(r->pipeline->rejected()) << r->pipeline->reject_reason();
  ASSERT_EQ(r->sink.batches.size(), 1u);
  auto ids = testing::Strings(r->sink.batches[0].columns(0), 2);
  EXPECT_EQ(ids[0], testing::FakePseudonymiser::PseudonymFor("domains/staff", "1234"));
  EXPECT_EQ(ids[1], testing::FakePseudonymiser::PseudonymFor("domains/staff", "42"));
}

TEST(CompiledSchemaTest, RefusesUnusableSchemas) {
  Fixture f = PupilSchema();
  f.dataset.clear_identifier_domain();
  EXPECT_FALSE(CompiledSchema::Create(f.dataset, f.schema).ok());
  Fixture g = PupilSchema();
  g.schema.mutable_columns(3)->set_treatment(cv1::GENERALISE_DOB_YEAR_MONTH);  // a STRING
  EXPECT_FALSE(CompiledSchema::Create(g.dataset, g.schema).ok());
  Fixture h = PupilSchema();
  h.schema.mutable_columns(8)->clear_codes();
  EXPECT_FALSE(CompiledSchema::Create(h.dataset, h.schema).ok());
  Fixture k = PupilSchema();
  k.schema.set_summary_row_column("nope");
  EXPECT_FALSE(CompiledSchema::Create(k.dataset, k.schema).ok());
}

TEST(CompiledSchemaTest, PostcodeDistrict) {
  EXPECT_EQ(PostcodeDistrict("LS6 2AB"), "LS6");
  EXPECT_EQ(PostcodeDistrict("sw1a1aa"), "SW1A");
  EXPECT_EQ(PostcodeDistrict(" EC2Y 8BB "), "EC2Y");
  EXPECT_EQ(PostcodeDistrict("M1 1AE"), "M1");
  EXPECT_EQ(PostcodeDistrict("not a postcode"), "");
  EXPECT_EQ(PostcodeDistrict("12345"), "");
}

}  // namespace
}  // namespace datalab::ingestion
