// Domain rules over the in-memory store, a fake clock (2023-11-14) and a
// fake audit client: datasets and schema versions, projects and their
// lifecycle, users, the trust floor, the access decision, quality and
// records of processing. Every refusal changes nothing.
#include "services/catalogue/catalogue.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/catalogue/memory_catalogue_store.h"

namespace datalab::catalogue {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
namespace c = ::datalab::common::v1;

constexpr int64_t kDayMs = 86'400'000;

Principal User(const std::string& id, std::vector<c::Role> roles) {
  Principal p;
  p.set_kind(Principal::USER);
  p.set_subject("users/" + id);
  for (auto r : roles) p.add_roles(r);
  return p;
}

Principal Service(const std::string& name) {
  Principal p;
  p.set_kind(Principal::SERVICE);
  p.set_subject(name);
  return p;
}

cv1::Column Col(const std::string& name, c::ColumnType type, c::Classification cls,
                c::Treatment t) {
  cv1::Column col;
  col.set_name(name);
  col.set_type(type);
  col.set_classification(cls);
  col.set_treatment(t);
  return col;
}

cv1::CreateDatasetRequest CensusRequest(const std::string& id = "census") {
  cv1::CreateDatasetRequest r;
  r.set_dataset_id(id);
  auto* d = r.mutable_dataset();
  d->set_title("School census");
  d->set_description("Termly pupil census with FSM and SEN provision");
  d->set_source_system(cv1::SIMS);
  d->set_topic(cv1::CENSUS);
  d->add_tags("disadvantage");
  d->set_lawful_basis("Art. 6(1)(e) public task");
  d->set_retention_days(2555);
  d->set_subject_kind(c::PUPIL);
  d->set_identifier_domain("domains/pupil");
  auto* s = r.mutable_schema();
  auto upn = Col("upn", c::STRING, c::DIRECT_IDENTIFIER, c::PSEUDONYMISE);
  upn.set_subject_key(true);
  upn.set_required(true);
  *s->add_columns() = upn;
  *s->add_columns() = Col("forename", c::STRING, c::DIRECT_IDENTIFIER, c::DROP);
  auto sen = Col("sen_provision", c::CODE, c::SPECIAL_CATEGORY, c::KEEP);
  for (const char* code : {"N", "K", "E"}) sen.add_codes()->set_code(code);
  *s->add_columns() = sen;
  *s->add_columns() = Col("fsm", c::BOOLEAN, c::QUASI_IDENTIFIER, c::KEEP);
  return r;
}

class CatalogueTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cat = Catalogue::Create({&store_, &audit_, &clock_});
    ASSERT_THAT(cat, IsOk());
    cat_ = std::move(*cat);
    for (const char* id : {"lead", "member", "approver", "other", "approver2"}) {
      AddUser(id, /*accredited=*/true);
    }
    ASSERT_THAT(cat_->CreateDataset(steward_, CensusRequest()), IsOk());
  }

  void AddUser(const std::string& id, bool accredited, bool active = true) {
    cv1::CreateUserRequest r;
    r.set_user_id(id);
    r.mutable_user()->set_display_name(id);
    r.mutable_user()->add_roles(c::RESEARCHER);
    r.mutable_user()->set_active(active);
    if (accredited) {
      auto* a = r.mutable_user()->mutable_accreditation();
      a->set_scheme("ONS Accredited Researcher");
      a->set_training_date("2023-01-01");
      a->set_expiry_date("2024-12-31");
    }
    ASSERT_THAT(cat_->CreateUser(admin_, r), IsOk());
  }

  cv1::CreateProjectRequest ProjectRequest(const std::string& id = "gap") {
    cv1::CreateProjectRequest r;
    r.set_project_id(id);
    auto* p = r.mutable_project();
    p->set_title("Disadvantage gap");
    p->set_purpose("How wide is the gap at each school?");
    p->set_lawful_basis("Art. 6(1)(e)");
    p->set_lead("users/lead");
    p->add_members("users/member");
    auto* a = p->add_datasets();
    a->set_dataset("datasets/census");
    a->add_columns("fsm");
    a->add_columns("sen_provision");
    p->mutable_dates()->set_start_date("2023-09-01");
    p->mutable_dates()->set_end_date("2024-08-31");
    return r;
  }

  cv1::Project Approved(const std::string& id = "gap") {
    EXPECT_THAT(cat_->CreateProject(lead_, ProjectRequest(id)), IsOk());
    cv1::ApproveProjectRequest a;
    a.set_name("projects/" + id);
    auto p = cat_->ApproveProject(approver_, a);
    EXPECT_THAT(p, IsOk());
    return p.ok() ? *p : cv1::Project();
  }

  cv1::CheckAccessRequest Access(const std::string& user, std::vector<std::string> columns = {"fsm"},
                                 const std::string& dataset = "datasets/census") {
    cv1::CheckAccessRequest r;
    r.set_principal("users/" + user);
    r.set_project("projects/gap");
    auto* a = r.add_access();
    a->set_dataset(dataset);
    for (auto& col : columns) a->add_columns(col);
    return r;
  }

  std::string Decide(const cv1::CheckAccessRequest& r) {
    auto resp = cat_->CheckAccess(query_, r);
    EXPECT_THAT(resp, IsOk());
    if (!resp.ok()) return "error";
    return resp->allowed() ? "allowed" : resp->reason();
  }

  MemoryCatalogueStore store_;
  audit_client::FakeAuditClient audit_;
  FakeClock clock_;  // 2023-11-14
  std::unique_ptr<Catalogue> cat_;
  Principal admin_ = User("admin", {c::ADMIN});
  Principal steward_ = User("steward", {c::DATA_STEWARD});
  Principal lead_ = User("lead", {c::RESEARCHER});
  Principal member_ = User("member", {c::RESEARCHER});
  Principal approver_ = User("approver", {c::PROJECT_APPROVER});
  Principal query_ = Service("query");
};

// --- Datasets and schemas ---------------------------------------------------

TEST_F(CatalogueTest, CreateDatasetStoresFirstSchemaVersion) {
  auto d = cat_->GetDataset("datasets/census");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->current_schema_version(), 1);
  EXPECT_EQ(d->owner(), "users/steward");
  auto s = cat_->GetSchema("datasets/census/schemas/latest");
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->name(), "datasets/census/schemas/1");
  EXPECT_EQ(s->columns_size(), 4);
}

TEST_F(CatalogueTest, BadDatasetChangesNothingAndIsAudited) {
  auto r = CensusRequest("census_bad");
  r.mutable_schema()->mutable_columns(2)->add_codes()->set_code("K");
  const size_t events = audit_.events().size();
  EXPECT_THAT(cat_->CreateDataset(steward_, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("schema.columns[2].codes: duplicate code 'K'")));
  EXPECT_THAT(cat_->GetDataset("datasets/census_bad"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_EQ(audit_.events().size(), events + 1);
  EXPECT_EQ(audit_.events().back().decision(), c::DENY);
  EXPECT_EQ(audit_.events().back().action(), "catalogue.dataset.create");
}

TEST_F(CatalogueTest, DatasetIdRulesAndDuplicates) {
  EXPECT_THAT(cat_->CreateDataset(steward_, CensusRequest("Census")),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset_id")));
  EXPECT_THAT(cat_->CreateDataset(steward_, CensusRequest(std::string(64, 'a'))),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset_id")));
  EXPECT_THAT(cat_->CreateDataset(steward_, CensusRequest("census")),
              StatusIs(absl::StatusCode::kAlreadyExists));
}

TEST_F(CatalogueTest, SchemaChangeMakesNewImmutableVersion) {
  cv1::CreateSchemaVersionRequest r;
  r.set_parent("datasets/census");
  *r.mutable_schema() = CensusRequest().schema();
  *r.mutable_schema()->add_columns() = Col("eal", c::BOOLEAN, c::QUASI_IDENTIFIER, c::KEEP);
  auto s = cat_->CreateSchemaVersion(steward_, r);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->version(), 2);
  auto v1 = cat_->GetSchema("datasets/census/schemas/1");
  ASSERT_THAT(v1, IsOk());
  EXPECT_EQ(v1->columns_size(), 4);  // unchanged
  auto latest = cat_->GetSchema("datasets/census/schemas/latest");
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->version(), 2);
  auto list = cat_->ListSchemaVersions([] {
    cv1::ListSchemaVersionsRequest l;
    l.set_parent("datasets/census");
    l.set_page_size(1);
    return l;
  }());
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->schemas_size(), 1);
  EXPECT_FALSE(list->next_page_token().empty());
  // A bad schema version changes nothing.
  r.mutable_schema()->mutable_columns(0)->set_subject_key(false);
  EXPECT_THAT(cat_->CreateSchemaVersion(steward_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_key")));
  EXPECT_EQ(cat_->GetDataset("datasets/census")->current_schema_version(), 2);
  EXPECT_THAT(cat_->GetSchema("datasets/census/schemas/9"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(cat_->GetSchema("datasets/census/schemas/x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(CatalogueTest, UpdateDatasetWithMask) {
  cv1::UpdateDatasetRequest r;
  r.mutable_dataset()->set_name("datasets/census");
  r.mutable_dataset()->set_title("Spring census");
  EXPECT_THAT(cat_->UpdateDataset(steward_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("update_mask")));
  r.add_update_mask("subject_kind");
  EXPECT_THAT(cat_->UpdateDataset(steward_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("subject_kind")));
  r.clear_update_mask();
  r.add_update_mask("title");
  auto d = cat_->UpdateDataset(steward_, r);
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->title(), "Spring census");
  EXPECT_EQ(d->topic(), cv1::CENSUS);
  r.mutable_dataset()->set_title("");
  EXPECT_THAT(cat_->UpdateDataset(steward_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dataset.title")));
}

// --- Search and pagination ----------------------------------------------------

TEST_F(CatalogueTest, SearchMatchesWordsCaseInsensitively) {
  auto att = CensusRequest("attendance");
  att.mutable_dataset()->set_title("Attendance");
  att.mutable_dataset()->set_description("Sessions missed per term");
  att.mutable_dataset()->set_topic(cv1::ATTENDANCE);
  att.mutable_dataset()->clear_tags();
  ASSERT_THAT(cat_->CreateDataset(steward_, att), IsOk());
  auto search = [&](const std::string& q, cv1::Topic topic = cv1::TOPIC_UNSPECIFIED) {
    cv1::SearchDatasetsRequest r;
    r.set_query(q);
    r.set_topic(topic);
    std::vector<std::string> names;
    auto resp = cat_->SearchDatasets(r);
    EXPECT_THAT(resp, IsOk());
    if (resp.ok()) for (const auto& d : resp->datasets()) names.push_back(d.name());
    return names;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(search("CENSUS"), V{"datasets/census"});                 // title
  EXPECT_EQ(search("sessions"), V{"datasets/attendance"});            // description
  EXPECT_EQ(search("disadvantage"), V{"datasets/census"});            // tag
  EXPECT_EQ(search("sen_provision"), (V{"datasets/attendance", "datasets/census"}));  // column
  EXPECT_EQ(search("provision"), (V{"datasets/attendance", "datasets/census"}));      // its part
  EXPECT_EQ(search("sen", cv1::ATTENDANCE), V{"datasets/attendance"});  // filter
  EXPECT_EQ(search("census sessions"), V{});  // every word must match
  EXPECT_EQ(search("cens"), V{});             // words, not substrings
}

TEST_F(CatalogueTest, SchoolFilterUsesRegisteredVersions) {
  cv1::RegisterDatasetVersionRequest r;
  r.set_parent("datasets/census");
  r.set_request_id("job-1");
  r.mutable_version()->set_schema_version(1);
  r.mutable_version()->set_row_count(10);
  r.mutable_version()->mutable_period()->set_start_date("2023-09-01");
  r.mutable_version()->mutable_period()->set_end_date("2023-12-31");
  r.mutable_version()->add_source_extracts("census.csv sha256:00");
  r.mutable_version()->add_schools("100001");
  r.mutable_version()->mutable_quality()->add_breakdown()->set_validity(1);
  ASSERT_THAT(cat_->RegisterDatasetVersion(Service("ingestion"), r), IsOk());
  cv1::ListDatasetsRequest l;
  l.set_school("100001");
  EXPECT_EQ(cat_->ListDatasets(l)->datasets_size(), 1);
  l.set_school("100002");
  EXPECT_EQ(cat_->ListDatasets(l)->datasets_size(), 0);
}

TEST_F(CatalogueTest, PaginationWithOpaqueTokens) {
  for (int i = 0; i < 4; ++i) {
    ASSERT_THAT(cat_->CreateDataset(steward_, CensusRequest("d" + std::to_string(i))), IsOk());
  }
  cv1::ListDatasetsRequest r;
  r.set_page_size(2);
  std::vector<std::string> seen;
  for (int page = 0; page < 10; ++page) {
    auto resp = cat_->ListDatasets(r);
    ASSERT_THAT(resp, IsOk());
    for (const auto& d : resp->datasets()) seen.push_back(d.name());
    if (resp->next_page_token().empty()) break;
    r.set_page_token(resp->next_page_token());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"datasets/census", "datasets/d0", "datasets/d1",
                                            "datasets/d2", "datasets/d3"}));
  r.set_page_token("not-a-token!");
  EXPECT_THAT(cat_->ListDatasets(r), StatusIs(absl::StatusCode::kInvalidArgument,
                                              HasSubstr("page_token")));
  // A token from one listing is refused by another.
  r.clear_page_token();
  auto first = cat_->ListDatasets(r);
  ASSERT_THAT(first, IsOk());
  r.set_page_token(first->next_page_token());
  r.set_topic(cv1::ATTENDANCE);
  EXPECT_THAT(cat_->ListDatasets(r), StatusIs(absl::StatusCode::kInvalidArgument));
  r.clear_page_token();
  r.set_page_size(-1);
  EXPECT_THAT(cat_->ListDatasets(r), StatusIs(absl::StatusCode::kInvalidArgument));
  // Defaults: 50 per page, at most 500.
  r.set_page_size(0);
  r.set_topic(cv1::TOPIC_UNSPECIFIED);
  EXPECT_EQ(cat_->ListDatasets(r)->datasets_size(), 5);
  r.set_page_size(100000);
  EXPECT_EQ(cat_->ListDatasets(r)->datasets_size(), 5);
}

// --- Dataset versions and quality ------------------------------------------------

cv1::RegisterDatasetVersionRequest VersionRequest(const std::string& request_id, double validity) {
  cv1::RegisterDatasetVersionRequest r;
  r.set_parent("datasets/census");
  r.set_request_id(request_id);
  auto* v = r.mutable_version();
  v->set_schema_version(1);
  v->set_row_count(1000);
  v->set_distinct_subjects(400);
  v->mutable_period()->set_start_date("2023-09-01");
  v->mutable_period()->set_end_date("2023-12-31");
  v->add_source_extracts("census_100001.csv sha256:ab");
  auto* m = v->mutable_quality()->add_breakdown();
  m->set_completeness(1);
  m->set_validity(validity);
  m->set_uniqueness(1);
  m->set_timeliness(1);
  m->set_consistency(1);
  auto* col = v->mutable_quality()->add_breakdown();
  col->set_column("sen_provision");
  col->set_completeness(0.9);
  return r;
}

TEST_F(CatalogueTest, RegisterVersionIsIdempotentAndRated) {
  auto ingestion = Service("ingestion");
  auto v1 = cat_->RegisterDatasetVersion(ingestion, VersionRequest("job-1", 1.0));
  ASSERT_THAT(v1, IsOk());
  EXPECT_EQ(v1->name(), "datasets/census/versions/1");
  EXPECT_EQ(v1->quality().rating(), "A");
  EXPECT_DOUBLE_EQ(v1->quality().score(), 100);
  EXPECT_EQ(v1->quality().breakdown_size(), 2);
  auto again = cat_->RegisterDatasetVersion(ingestion, VersionRequest("job-1", 1.0));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(again->name(), v1->name());
  auto v2 = cat_->RegisterDatasetVersion(ingestion, VersionRequest("job-2", 0.5));
  ASSERT_THAT(v2, IsOk());
  EXPECT_EQ(v2->version(), 2);
  EXPECT_EQ(v2->quality().rating(), "B");  // 85
  EXPECT_EQ(cat_->GetDataset("datasets/census")->latest_version(), 2);
  cv1::GetQualityTrendRequest t;
  t.set_dataset("datasets/census");
  auto trend = cat_->GetQualityTrend(t);
  ASSERT_THAT(trend, IsOk());
  ASSERT_EQ(trend->versions_size(), 2);
  EXPECT_EQ(trend->versions(0).version(), 1);  // oldest first
  EXPECT_EQ(trend->versions(1).quality().rating(), "B");
}

TEST_F(CatalogueTest, RegisterVersionRefusesBadInput) {
  auto ingestion = Service("ingestion");
  auto r = VersionRequest("job-x", 1.0);
  r.mutable_version()->set_schema_version(7);
  EXPECT_THAT(cat_->RegisterDatasetVersion(ingestion, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version.schema_version")));
  r = VersionRequest("job-x", 1.0);
  r.mutable_version()->mutable_period()->set_end_date("2023-01-01");
  EXPECT_THAT(cat_->RegisterDatasetVersion(ingestion, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("period.end_date")));
  r = VersionRequest("job-x", 1.7);
  EXPECT_THAT(cat_->RegisterDatasetVersion(ingestion, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("breakdown[0].validity")));
  r = VersionRequest("", 1.0);
  EXPECT_THAT(cat_->RegisterDatasetVersion(ingestion, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("request_id")));
  EXPECT_EQ(cat_->GetDataset("datasets/census")->latest_version(), 0);
  // The refused request id was not consumed.
  EXPECT_THAT(cat_->RegisterDatasetVersion(ingestion, VersionRequest("job-x", 1.0)), IsOk());
}

TEST_F(CatalogueTest, RegisterVersionTakesTheStoresNumberButNeverGoesBack) {
  auto ingestion = Service("ingestion");
  ASSERT_THAT(cat_->RegisterDatasetVersion(ingestion, VersionRequest("job-1", 1.0)), IsOk());
  // The store wrote version 2 itself (an erasure): ingestion's next is 3.
  auto r = VersionRequest("job-3", 1.0);
  r.mutable_version()->set_version(3);
  auto v3 = cat_->RegisterDatasetVersion(ingestion, r);
  ASSERT_THAT(v3, IsOk());
  EXPECT_EQ(v3->name(), "datasets/census/versions/3");
  EXPECT_EQ(cat_->GetDataset("datasets/census")->latest_version(), 3);
  // At or before the latest: refused, nothing changes.
  for (int n : {3, 2, 1}) {
    r = VersionRequest(absl::StrCat("job-old-", n), 1.0);
    r.mutable_version()->set_version(n);
    EXPECT_THAT(cat_->RegisterDatasetVersion(ingestion, r),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("version.version")));
  }
  EXPECT_EQ(cat_->GetDataset("datasets/census")->latest_version(), 3);
  // No number: the next one.
  auto v4 = cat_->RegisterDatasetVersion(ingestion, VersionRequest("job-4", 1.0));
  ASSERT_THAT(v4, IsOk());
  EXPECT_EQ(v4->version(), 4);
}

// --- Projects ----------------------------------------------------------------

TEST_F(CatalogueTest, CreateProjectStartsProposedAtTheFloor) {
  auto p = cat_->CreateProject(lead_, ProjectRequest());
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->state(), cv1::Project::PROPOSED);
  EXPECT_EQ(p->disclosure().threshold(), 10);
  EXPECT_EQ(p->disclosure().rounding_base(), 5);
}

TEST_F(CatalogueTest, ProjectValidationNamesTheField) {
  auto r = ProjectRequest();
  r.mutable_project()->mutable_dates()->set_end_date("2023-09-01");
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("project.dates.end_date: must be after start_date")));
  r = ProjectRequest();
  r.mutable_project()->mutable_datasets(0)->add_columns("shoe_size");
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("project.datasets[0].columns[2]: column 'shoe_size' does not "
                                 "exist in datasets/census")));
  r = ProjectRequest();
  r.mutable_project()->mutable_datasets(0)->add_columns("forename");
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dropped on ingest")));
  r = ProjectRequest();
  r.mutable_project()->add_datasets()->set_dataset("datasets/nope");
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("project.datasets[1].dataset: datasets/nope does not exist")));
  r = ProjectRequest();
  r.mutable_project()->set_lead("users/ghost");
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("project.lead")));
  r = ProjectRequest();
  r.mutable_project()->add_members("users/ghost");
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("project.members[1]")));
  r = ProjectRequest();
  *r.mutable_project()->mutable_disclosure() = DefaultFloor();
  r.mutable_project()->mutable_disclosure()->set_threshold(5);
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("project.disclosure.threshold: below the trust floor")));
  EXPECT_THAT(cat_->GetProject(approver_, "projects/gap"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CatalogueTest, InactiveLeadRefused) {
  AddUser("sleepy", true, /*active=*/false);
  auto r = ProjectRequest();
  r.mutable_project()->set_lead("users/sleepy");
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an active user")));
}

TEST_F(CatalogueTest, SelfApprovalRefused) {
  ASSERT_THAT(cat_->CreateProject(lead_, ProjectRequest()), IsOk());
  cv1::ApproveProjectRequest a;
  a.set_name("projects/gap");
  // The lead and a member, even holding the approver role, cannot approve.
  EXPECT_THAT(cat_->ApproveProject(User("lead", {c::PROJECT_APPROVER}), a),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("self-approval")));
  EXPECT_THAT(cat_->ApproveProject(User("member", {c::PROJECT_APPROVER}), a),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("self-approval")));
  // Without the role: refused.
  EXPECT_THAT(cat_->ApproveProject(User("other", {c::RESEARCHER}), a),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("project_approver")));
  EXPECT_EQ(cat_->GetProject(approver_, "projects/gap")->state(), cv1::Project::PROPOSED);
  EXPECT_EQ(audit_.events().back().decision(), c::DENY);
  auto p = cat_->ApproveProject(approver_, a);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->state(), cv1::Project::APPROVED);
  EXPECT_EQ(p->approved_by(), "users/approver");
  EXPECT_EQ(audit_.events().back().action(), "catalogue.project.approve");
  EXPECT_EQ(audit_.events().back().decision(), c::ALLOW);
  EXPECT_THAT(cat_->ApproveProject(approver_, a), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(CatalogueTest, LifecycleTransitions) {
  Approved();
  cv1::SuspendProjectRequest s;
  s.set_name("projects/gap");
  EXPECT_THAT(cat_->SuspendProject(approver_, s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  s.set_reason("breach under review");
  EXPECT_THAT(cat_->SuspendProject(lead_, s), StatusIs(absl::StatusCode::kPermissionDenied));
  auto p = cat_->SuspendProject(approver_, s);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->state(), cv1::Project::SUSPENDED);
  EXPECT_THAT(cat_->SuspendProject(approver_, s), StatusIs(absl::StatusCode::kFailedPrecondition));
  // Re-approval lifts a suspension.
  cv1::ApproveProjectRequest a;
  a.set_name("projects/gap");
  ASSERT_THAT(cat_->ApproveProject(approver_, a), IsOk());
  cv1::CloseProjectRequest close;
  close.set_name("projects/gap");
  close.set_reason("finished");
  ASSERT_THAT(cat_->CloseProject(approver_, close), IsOk());
  // Closed is final.
  EXPECT_THAT(cat_->ApproveProject(User("approver2", {c::PROJECT_APPROVER}), a), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(cat_->CloseProject(approver_, close), StatusIs(absl::StatusCode::kFailedPrecondition));
  s.set_reason("x");
  EXPECT_THAT(cat_->SuspendProject(approver_, s), StatusIs(absl::StatusCode::kFailedPrecondition));
  cv1::UpdateProjectRequest u;
  u.mutable_project()->set_name("projects/gap");
  u.add_update_mask("title");
  u.mutable_project()->set_title("new");
  EXPECT_THAT(cat_->UpdateProject(lead_, u), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(CatalogueTest, ProposedProjectCannotBeSuspended) {
  ASSERT_THAT(cat_->CreateProject(lead_, ProjectRequest()), IsOk());
  cv1::SuspendProjectRequest s;
  s.set_name("projects/gap");
  s.set_reason("r");
  EXPECT_THAT(cat_->SuspendProject(approver_, s), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(CatalogueTest, ExpiryIsDerivedFromTheClock) {
  Approved();
  EXPECT_EQ(cat_->GetProject(lead_, "projects/gap")->state(), cv1::Project::APPROVED);
  EXPECT_EQ(Decide(Access("member")), "allowed");
  clock_.Set(1'725'148'800'000);  // 2024-09-01, the day after the end date
  EXPECT_EQ(cat_->GetProject(lead_, "projects/gap")->state(), cv1::Project::EXPIRED);
  EXPECT_THAT(Decide(Access("member")), HasSubstr("project expired"));
  cv1::ListProjectsRequest l;
  l.set_state(cv1::Project::EXPIRED);
  EXPECT_EQ(cat_->ListProjects(approver_, l)->projects_size(), 1);
  // Nothing was rewritten: the stored state is still APPROVED.
  EXPECT_EQ(store_.GetProject("gap")->state(), cv1::Project::APPROVED);
  clock_.Set(1'725'148'800'000 - kDayMs);  // the end date itself is inclusive
  EXPECT_EQ(Decide(Access("member")), "allowed");
}

TEST_F(CatalogueTest, OnlyTheLeadEditsAndMaterialEditsNeedReapproval) {
  Approved();
  cv1::UpdateProjectRequest u;
  u.mutable_project()->set_name("projects/gap");
  u.mutable_project()->set_title("Renamed");
  u.add_update_mask("title");
  EXPECT_THAT(cat_->UpdateProject(member_, u), StatusIs(absl::StatusCode::kPermissionDenied,
                                                        HasSubstr("only the project's lead")));
  auto p = cat_->UpdateProject(lead_, u);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->state(), cv1::Project::APPROVED);  // a title is not material
  // Adding a column sends it back to the panel.
  auto* a = u.mutable_project()->add_datasets();
  a->set_dataset("datasets/census");
  a->add_columns("fsm");
  a->add_columns("sen_provision");
  a->add_columns("upn");
  u.clear_update_mask();
  u.add_update_mask("datasets");
  p = cat_->UpdateProject(lead_, u);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->state(), cv1::Project::PROPOSED);
  EXPECT_TRUE(p->approved_by().empty());
  EXPECT_THAT(Decide(Access("member")), HasSubstr("not approved"));
  // Settings too.
  cv1::ApproveProjectRequest ap;
  ap.set_name("projects/gap");
  ASSERT_THAT(cat_->ApproveProject(approver_, ap), IsOk());
  u.clear_update_mask();
  u.add_update_mask("disclosure");
  *u.mutable_project()->mutable_disclosure() = DefaultFloor();
  u.mutable_project()->mutable_disclosure()->set_threshold(20);
  EXPECT_EQ(cat_->UpdateProject(lead_, u)->state(), cv1::Project::PROPOSED);
  // Loosening below the floor is refused and changes nothing.
  u.mutable_project()->mutable_disclosure()->set_rounding_base(2);
  EXPECT_THAT(cat_->UpdateProject(lead_, u),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rounding_base")));
  EXPECT_EQ(cat_->GetProject(lead_, "projects/gap")->disclosure().rounding_base(), 5);
  // Membership is not editable through UpdateProject.
  u.clear_update_mask();
  u.add_update_mask("members");
  EXPECT_THAT(cat_->UpdateProject(lead_, u), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(CatalogueTest, MembershipByApproverOnly) {
  Approved();
  cv1::AddProjectMemberRequest add;
  add.set_name("projects/gap");
  add.set_member("users/other");
  EXPECT_THAT(cat_->AddProjectMember(User("member", {c::PROJECT_APPROVER}), add),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(cat_->AddProjectMember(User("other", {c::PROJECT_APPROVER}), add),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("self-approval")));
  EXPECT_THAT(Decide(Access("other")), HasSubstr("not a member"));
  ASSERT_THAT(cat_->AddProjectMember(approver_, add), IsOk());
  EXPECT_EQ(Decide(Access("other")), "allowed");
  EXPECT_THAT(cat_->AddProjectMember(approver_, add), StatusIs(absl::StatusCode::kAlreadyExists));
  add.set_member("users/ghost");
  EXPECT_THAT(cat_->AddProjectMember(approver_, add), StatusIs(absl::StatusCode::kInvalidArgument));
  cv1::RemoveProjectMemberRequest rm;
  rm.set_name("projects/gap");
  rm.set_member("users/other");
  ASSERT_THAT(cat_->RemoveProjectMember(approver_, rm), IsOk());
  EXPECT_THAT(Decide(Access("other")), HasSubstr("not a member"));
  EXPECT_THAT(cat_->RemoveProjectMember(approver_, rm), StatusIs(absl::StatusCode::kNotFound));
  rm.set_member("users/lead");
  EXPECT_THAT(cat_->RemoveProjectMember(approver_, rm),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(CatalogueTest, ResearchersSeeOnlyTheirProjects) {
  Approved();
  EXPECT_THAT(cat_->GetProject(member_, "projects/gap"), IsOk());
  EXPECT_THAT(cat_->GetProject(User("other", {c::RESEARCHER}), "projects/gap"),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_EQ(cat_->ListProjects(User("other", {c::RESEARCHER}), {})->projects_size(), 0);
  EXPECT_EQ(cat_->ListProjects(member_, {})->projects_size(), 1);
  EXPECT_EQ(cat_->ListProjects(User("dpo", {c::DPO}), {})->projects_size(), 1);
}

// --- Users and the floor -----------------------------------------------------------

TEST_F(CatalogueTest, UsersAndAccreditation) {
  cv1::CreateUserRequest r;
  r.set_user_id("late");
  r.mutable_user()->set_display_name("Late");
  auto* a = r.mutable_user()->mutable_accreditation();
  a->set_scheme("ONS");
  a->set_training_date("2020-01-01");
  a->set_expiry_date("2023-01-01");
  EXPECT_THAT(cat_->CreateUser(admin_, r),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("user.accreditation.expiry_date: accreditation already expired")));
  EXPECT_THAT(cat_->GetUser("users/late"), StatusIs(absl::StatusCode::kNotFound));
  a->set_expiry_date("2025-01-01");
  EXPECT_THAT(cat_->CreateUser(approver_, r), StatusIs(absl::StatusCode::kPermissionDenied));
  ASSERT_THAT(cat_->CreateUser(admin_, r), IsOk());
  EXPECT_THAT(cat_->CreateUser(admin_, r), StatusIs(absl::StatusCode::kAlreadyExists));
  r.set_user_id("bad/id");
  EXPECT_THAT(cat_->CreateUser(admin_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("user_id")));
  cv1::UpdateUserRequest u;
  u.mutable_user()->set_name("users/late");
  u.mutable_user()->mutable_accreditation()->set_scheme("ONS");
  u.mutable_user()->mutable_accreditation()->set_training_date("2020-01-01");
  u.mutable_user()->mutable_accreditation()->set_expiry_date("2022-01-01");
  u.add_update_mask("accreditation");
  EXPECT_THAT(cat_->UpdateUser(admin_, u), StatusIs(absl::StatusCode::kInvalidArgument,
                                                    HasSubstr("already expired")));
  u.clear_update_mask();
  u.add_update_mask("active");
  u.mutable_user()->set_active(true);
  auto updated = cat_->UpdateUser(admin_, u);
  ASSERT_THAT(updated, IsOk());
  EXPECT_TRUE(updated->active());
  EXPECT_EQ(updated->accreditation().expiry_date(), "2025-01-01");
  u.mutable_user()->add_roles(static_cast<c::Role>(77));
  u.add_update_mask("roles");
  EXPECT_THAT(cat_->UpdateUser(admin_, u),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("user.roles[0]")));
  EXPECT_EQ(cat_->ListUsers({})->users_size(), 6);
}

TEST_F(CatalogueTest, TrustFloorDefaultsAndAdminOnly) {
  auto f = cat_->GetTrustFloor();
  ASSERT_THAT(f, IsOk());
  EXPECT_EQ(f->settings().threshold(), 10);
  EXPECT_EQ(f->settings().rounding_base(), 5);
  EXPECT_EQ(f->settings().dominance_n(), 2);
  EXPECT_EQ(f->settings().dominance_k_percent(), 90);
  EXPECT_EQ(f->settings().p_percent(), 10);
  cv1::SetTrustFloorRequest s;
  *s.mutable_floor()->mutable_settings() = DefaultFloor();
  s.mutable_floor()->mutable_settings()->set_threshold(15);
  EXPECT_THAT(cat_->SetTrustFloor(approver_, s), StatusIs(absl::StatusCode::kPermissionDenied));
  s.mutable_floor()->mutable_settings()->set_dominance_k_percent(0);
  EXPECT_THAT(cat_->SetTrustFloor(admin_, s),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("floor.settings.dominance_k")));
  s.mutable_floor()->mutable_settings()->set_dominance_k_percent(90);
  auto set = cat_->SetTrustFloor(admin_, s);
  ASSERT_THAT(set, IsOk());
  EXPECT_EQ(set->updated_by(), "users/admin");
  EXPECT_EQ(cat_->GetTrustFloor()->settings().threshold(), 15);
}

TEST_F(CatalogueTest, RaisingTheFloorTightensOlderProjects) {
  Approved();  // threshold 10
  cv1::SetTrustFloorRequest s;
  *s.mutable_floor()->mutable_settings() = DefaultFloor();
  s.mutable_floor()->mutable_settings()->set_threshold(20);
  s.mutable_floor()->mutable_settings()->set_dominance_k_percent(80);
  ASSERT_THAT(cat_->SetTrustFloor(admin_, s), IsOk());
  auto resp = cat_->CheckAccess(query_, Access("member"));
  ASSERT_THAT(resp, IsOk());
  EXPECT_TRUE(resp->allowed());
  EXPECT_EQ(resp->disclosure().threshold(), 20);
  EXPECT_EQ(resp->disclosure().dominance_k_percent(), 80);
  EXPECT_EQ(resp->disclosure().rounding_base(), 5);
  // New proposals must meet the new floor.
  auto r = ProjectRequest("gap2");
  *r.mutable_project()->mutable_disclosure() = DefaultFloor();
  EXPECT_THAT(cat_->CreateProject(lead_, r),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threshold")));
}

// --- The access decision --------------------------------------------------------------

TEST_F(CatalogueTest, CheckAccessReasons) {
  EXPECT_EQ(Decide(Access("member")), "unknown project");
  ASSERT_THAT(cat_->CreateProject(lead_, ProjectRequest()), IsOk());
  EXPECT_THAT(Decide(Access("member")), HasSubstr("not approved"));
  cv1::ApproveProjectRequest a;
  a.set_name("projects/gap");
  ASSERT_THAT(cat_->ApproveProject(approver_, a), IsOk());
  EXPECT_EQ(Decide(Access("member")), "allowed");
  EXPECT_EQ(Decide(Access("lead")), "allowed");  // the lead counts as a member
  EXPECT_THAT(Decide(Access("other")), HasSubstr("not a member"));
  EXPECT_THAT(Decide(Access("member", {"fsm", "upn"})),
              HasSubstr("column not approved for the project: 'upn'"));
  cv1::CreateDatasetRequest att = CensusRequest("attendance");
  ASSERT_THAT(cat_->CreateDataset(steward_, att), IsOk());
  EXPECT_THAT(Decide(Access("member", {"fsm"}, "datasets/attendance")),
              HasSubstr("dataset not approved"));
  // Inactive user.
  cv1::UpdateUserRequest u;
  u.mutable_user()->set_name("users/member");
  u.mutable_user()->set_active(false);
  u.add_update_mask("active");
  ASSERT_THAT(cat_->UpdateUser(admin_, u), IsOk());
  EXPECT_EQ(Decide(Access("member")), "user inactive");
  u.mutable_user()->set_active(true);
  ASSERT_THAT(cat_->UpdateUser(admin_, u), IsOk());
  // Accreditation lapses by itself.
  clock_.Set(1'735'776'000'000);  // 2025-01-02
  EXPECT_THAT(Decide(Access("member")), HasSubstr("expired"));  // project ended first
  clock_.Set(1'700'000'000'000);
  u.clear_update_mask();
  u.add_update_mask("accreditation");
  u.mutable_user()->clear_accreditation();
  ASSERT_THAT(cat_->UpdateUser(admin_, u), IsOk());
  EXPECT_EQ(Decide(Access("member")), "accreditation missing");
  // Suspended, then closed.
  cv1::SuspendProjectRequest s;
  s.set_name("projects/gap");
  s.set_reason("review");
  ASSERT_THAT(cat_->SuspendProject(approver_, s), IsOk());
  EXPECT_EQ(Decide(Access("lead")), "project suspended");
  cv1::CloseProjectRequest c;
  c.set_name("projects/gap");
  c.set_reason("done");
  ASSERT_THAT(cat_->CloseProject(approver_, c), IsOk());
  EXPECT_EQ(Decide(Access("lead")), "project closed");
}

TEST_F(CatalogueTest, AccreditationLapseDeniesAccess) {
  AddUser("short", false);
  cv1::UpdateUserRequest u;
  u.mutable_user()->set_name("users/short");
  auto* a = u.mutable_user()->mutable_accreditation();
  a->set_scheme("ONS");
  a->set_training_date("2023-01-01");
  a->set_expiry_date("2023-12-01");
  u.add_update_mask("accreditation");
  ASSERT_THAT(cat_->UpdateUser(admin_, u), IsOk());
  auto r = ProjectRequest();
  r.mutable_project()->add_members("users/short");
  ASSERT_THAT(cat_->CreateProject(lead_, r), IsOk());
  cv1::ApproveProjectRequest ap;
  ap.set_name("projects/gap");
  ASSERT_THAT(cat_->ApproveProject(approver_, ap), IsOk());
  EXPECT_EQ(Decide(Access("short")), "allowed");
  clock_.Set(1'701'475'200'000 + kDayMs);  // 2023-12-02
  EXPECT_EQ(Decide(Access("short")), "accreditation lapsed");
}

TEST_F(CatalogueTest, EveryDecisionIsAudited) {
  Approved();
  const size_t before = audit_.events().size();
  Decide(Access("member"));
  Decide(Access("other"));
  auto events = audit_.events();
  ASSERT_EQ(events.size(), before + 2);
  EXPECT_EQ(events[before].action(), "catalogue.access.check");
  EXPECT_EQ(events[before].decision(), c::ALLOW);
  EXPECT_EQ(events[before].actor().subject(), "users/member");
  EXPECT_EQ(events[before].details().at("asked_by"), "query");
  EXPECT_EQ(events[before + 1].decision(), c::DENY);
  EXPECT_THAT(events[before + 1].reason(), HasSubstr("not a member"));
}

// An audit client whose outbox refuses events (e.g. a full disk). The
// FakeAuditClient's Append never fails, as the real outbox rarely does.
class RefusingAuditClient : public audit_client::AuditClient {
 public:
  absl::Status AppendSync(const c::AuditEvent&, absl::Time) override {
    return absl::UnavailableError("down");
  }
  absl::Status Append(const c::AuditEvent&) override { return absl::UnavailableError("down"); }
};

TEST_F(CatalogueTest, AuditUnavailableFailsClosed) {
  Approved();
  RefusingAuditClient refusing;
  auto cat = Catalogue::Create({&store_, &refusing, &clock_});
  ASSERT_THAT(cat, IsOk());
  EXPECT_THAT((*cat)->CheckAccess(query_, Access("member")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT((*cat)->CreateDataset(steward_, CensusRequest("noaudit")),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(cat_->GetDataset("datasets/noaudit"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(CatalogueTest, CheckAccessMalformedRequest) {
  auto r = Access("member");
  r.set_principal("member");
  EXPECT_THAT(cat_->CheckAccess(query_, r), StatusIs(absl::StatusCode::kInvalidArgument));
  r = Access("member");
  r.set_project("gap");
  EXPECT_THAT(cat_->CheckAccess(query_, r), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(CatalogueTest, ApprovalRechecksTheCurrentFloor) {
  ASSERT_THAT(cat_->CreateProject(lead_, ProjectRequest()), IsOk());
  cv1::SetTrustFloorRequest s;
  *s.mutable_floor()->mutable_settings() = DefaultFloor();
  s.mutable_floor()->mutable_settings()->set_threshold(25);
  ASSERT_THAT(cat_->SetTrustFloor(admin_, s), IsOk());
  cv1::ApproveProjectRequest a;
  a.set_name("projects/gap");
  EXPECT_THAT(cat_->ApproveProject(approver_, a),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("threshold")));
}

// --- Records of processing ------------------------------------------------------------

TEST_F(CatalogueTest, RecordsOfProcessing) {
  Approved();
  cv1::GetRecordsOfProcessingRequest r;
  r.set_dataset("datasets/census");
  auto rec = cat_->GetRecordsOfProcessing(r);
  ASSERT_THAT(rec, IsOk());
  ASSERT_EQ(rec->records_size(), 1);
  const auto& d = rec->records(0);
  EXPECT_EQ(d.lawful_basis(), "Art. 6(1)(e) public task");
  EXPECT_EQ(d.retention_days(), 2555);
  EXPECT_TRUE(d.special_category());  // sen_provision
  EXPECT_THAT(d.recipients(), ::testing::Contains(HasSubstr("projects/gap")));
  for (const auto& cat : d.data_categories()) EXPECT_THAT(cat, ::testing::Not(HasSubstr("forename")));
  r.clear_dataset();
  r.set_project("projects/gap");
  rec = cat_->GetRecordsOfProcessing(r);
  ASSERT_THAT(rec, IsOk());
  ASSERT_EQ(rec->records_size(), 1);
  EXPECT_EQ(rec->records(0).purpose(), "How wide is the gap at each school?");
  EXPECT_THAT(rec->records(0).recipients(), ::testing::Contains("users/member"));
  r.clear_project();
  EXPECT_EQ(cat_->GetRecordsOfProcessing(r)->records_size(), 2);
  r.set_project("projects/none");
  EXPECT_THAT(cat_->GetRecordsOfProcessing(r), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace datalab::catalogue
