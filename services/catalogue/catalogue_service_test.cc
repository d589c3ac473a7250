// In-process gRPC tests of every CatalogueService RPC over real TLS on
// loopback, with the shared AuthProcessor in front: allowed calls, denials
// by the processor (wrong role, no credentials, internal RPCs from users)
// and denials by the domain (self-approval, non-lead edits).
#include "services/catalogue/catalogue_service.h"

#include <grpcpp/grpcpp.h>

#include "common/audit_client/audit_client.h"
#include "common/auth/policy.h"
#include "common/server/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/catalogue/memory_catalogue_store.h"
#include "services/catalogue/validation.h"

namespace datalab::catalogue {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;
using ::testing::HasSubstr;
namespace c = ::datalab::common::v1;

// "authorization: Bearer <role>:<user>" -> a user; otherwise the lab
// service named by the client certificate.
class FakeAuthenticator : public auth::Authenticator {
 public:
  absl::StatusOr<c::Principal> Authenticate(const auth::CallInfo& call) override {
    c::Principal p;
    auto it = call.headers.find("authorization");
    if (it != call.headers.end()) {
      std::string token(it->second.substr(7));
      size_t colon = token.find(':');
      if (colon == std::string::npos) return absl::UnauthenticatedError("bad token");
      auto role = auth::RoleFromClaim(token.substr(0, colon));
      if (!role.ok()) return absl::UnauthenticatedError("bad token");
      p.set_kind(c::Principal::USER);
      p.set_subject("users/" + token.substr(colon + 1));
      p.add_roles(*role);
      return p;
    }
    if (auth::IsKnownService(call.peer_common_name)) {
      p.set_kind(c::Principal::SERVICE);
      p.set_subject(call.peer_common_name);
      return p;
    }
    return absl::UnauthenticatedError("no credentials");
  }
};

class CatalogueServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());
    for (const char* cn : {"catalogue", "gateway", "query", "ingestion"}) {
      auto pair = ca_.Issue(cn);
      WriteFileOrDie(dir_.Sub(std::string(cn) + ".pem"), pair.cert);
      WriteFileOrDie(dir_.Sub(std::string(cn) + ".key"), pair.key);
    }
    auto cat = Catalogue::Create({&store_, &audit_, &clock_});
    ASSERT_THAT(cat, IsOk());
    catalogue_ = std::move(*cat);
    service_ = std::make_unique<CatalogueService>(catalogue_.get(), authenticator_);
    server::ServerOptions o;
    o.service_name = "catalogue";
    o.tls = {dir_.Sub("catalogue.pem"), dir_.Sub("catalogue.key"), dir_.Sub("ca.pem")};
    o.require_client_cert = true;
    o.metrics_address = "";
    auto s = server::Server::Start(o, {service_.get()}, authenticator_);
    ASSERT_THAT(s, IsOk());
    server_ = std::move(*s);
    for (const char* cn : {"gateway", "query", "ingestion"}) {
      server::TlsFiles t{dir_.Sub(std::string(cn) + ".pem"), dir_.Sub(std::string(cn) + ".key"),
                         dir_.Sub("ca.pem")};
      auto ch = server::MakeChannel("127.0.0.1:" + std::to_string(server_->port()), t,
                                    {.server_name_override = "localhost"});
      ASSERT_THAT(ch, IsOk());
      stubs_[cn] = cv1::CatalogueService::NewStub(*ch);
    }
  }

  // A context for a user ("role:user") through the gateway's certificate,
  // or for the service itself when `bearer` is empty.
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& bearer) {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!bearer.empty()) ctx->AddMetadata("authorization", "Bearer " + bearer);
    return ctx;
  }
  cv1::CatalogueService::Stub& As(const std::string& cn = "gateway") { return *stubs_[cn]; }

  void SeedUsers() {
    for (const char* id : {"lead", "member", "approver"}) {
      cv1::CreateUserRequest r;
      r.set_user_id(id);
      r.mutable_user()->set_display_name(id);
      r.mutable_user()->set_active(true);
      auto* a = r.mutable_user()->mutable_accreditation();
      a->set_scheme("ONS Accredited Researcher");
      a->set_training_date("2023-01-01");
      a->set_expiry_date("2030-01-01");
      cv1::User u;
      ASSERT_TRUE(As().CreateUser(Ctx("admin:root").get(), r, &u).ok());
    }
  }

  cv1::CreateDatasetRequest Census() {
    cv1::CreateDatasetRequest r;
    r.set_dataset_id("census");
    auto* d = r.mutable_dataset();
    d->set_title("School census");
    d->set_source_system(cv1::SIMS);
    d->set_topic(cv1::CENSUS);
    d->set_lawful_basis("Art. 6(1)(e)");
    d->set_retention_days(365);
    d->set_subject_kind(c::PUPIL);
    d->set_identifier_domain("domains/pupil");
    auto* upn = r.mutable_schema()->add_columns();
    upn->set_name("upn");
    upn->set_type(c::STRING);
    upn->set_classification(c::DIRECT_IDENTIFIER);
    upn->set_treatment(c::PSEUDONYMISE);
    upn->set_subject_key(true);
    upn->set_required(true);
    auto* fsm = r.mutable_schema()->add_columns();
    fsm->set_name("fsm");
    fsm->set_type(c::BOOLEAN);
    fsm->set_classification(c::QUASI_IDENTIFIER);
    fsm->set_treatment(c::KEEP);
    return r;
  }

  cv1::CreateProjectRequest Project() {
    cv1::CreateProjectRequest r;
    r.set_project_id("gap");
    auto* p = r.mutable_project();
    p->set_title("Gap");
    p->set_purpose("Measure the gap");
    p->set_lawful_basis("Art. 6(1)(e)");
    p->add_members("users/member");
    auto* a = p->add_datasets();
    a->set_dataset("datasets/census");
    a->add_columns("fsm");
    p->mutable_dates()->set_start_date("2023-09-01");
    p->mutable_dates()->set_end_date("2024-08-31");
    return r;
  }

  TempDir dir_;
  TestCa ca_;
  MemoryCatalogueStore store_;
  audit_client::FakeAuditClient audit_;
  FakeClock clock_;
  std::shared_ptr<auth::Authenticator> authenticator_ = std::make_shared<FakeAuthenticator>();
  std::unique_ptr<Catalogue> catalogue_;
  std::unique_ptr<CatalogueService> service_;
  std::unique_ptr<server::Server> server_;
  std::map<std::string, std::unique_ptr<cv1::CatalogueService::Stub>> stubs_;
};

TEST_F(CatalogueServiceTest, DatasetsSchemasVersionsAndSearch) {
  cv1::Dataset d;
  // A researcher may not register datasets: refused before any handler.
  EXPECT_EQ(As().CreateDataset(Ctx("researcher:r").get(), Census(), &d).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(As().CreateDataset(Ctx("data_steward:s").get(), Census(), &d).ok());
  EXPECT_EQ(d.name(), "datasets/census");
  // Bad input: INVALID_ARGUMENT naming the field.
  auto bad = Census();
  bad.set_dataset_id("other");
  bad.mutable_schema()->mutable_columns(1)->set_name("FSM");
  grpc::Status s = As().CreateDataset(Ctx("data_steward:s").get(), bad, &d);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("schema.columns[1].name"));

  cv1::GetDatasetRequest g;
  g.set_name("datasets/census");
  EXPECT_TRUE(As().GetDataset(Ctx("researcher:r").get(), g, &d).ok());
  g.set_name("datasets/none");
  EXPECT_EQ(As().GetDataset(Ctx("researcher:r").get(), g, &d).error_code(),
            grpc::StatusCode::NOT_FOUND);

  cv1::ListDatasetsResponse list;
  EXPECT_TRUE(As().ListDatasets(Ctx("researcher:r").get(), {}, &list).ok());
  EXPECT_EQ(list.datasets_size(), 1);
  cv1::ListDatasetsRequest lr;
  lr.set_page_token("garbage");
  EXPECT_EQ(As().ListDatasets(Ctx("researcher:r").get(), lr, &list).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  cv1::SearchDatasetsRequest sr;
  sr.set_query("FSM");
  EXPECT_TRUE(As().SearchDatasets(Ctx("researcher:r").get(), sr, &list).ok());
  EXPECT_EQ(list.datasets_size(), 1);

  cv1::UpdateDatasetRequest ur;
  ur.mutable_dataset()->set_name("datasets/census");
  ur.mutable_dataset()->set_description("Termly census");
  ur.add_update_mask("description");
  EXPECT_TRUE(As().UpdateDataset(Ctx("data_steward:s").get(), ur, &d).ok());
  EXPECT_EQ(d.description(), "Termly census");

  cv1::CreateSchemaVersionRequest sv;
  sv.set_parent("datasets/census");
  *sv.mutable_schema() = Census().schema();
  cv1::Schema schema;
  EXPECT_TRUE(As().CreateSchemaVersion(Ctx("data_steward:s").get(), sv, &schema).ok());
  EXPECT_EQ(schema.version(), 2);
  cv1::GetSchemaRequest gs;
  gs.set_name("datasets/census/schemas/latest");
  EXPECT_TRUE(As().GetSchema(Ctx("researcher:r").get(), gs, &schema).ok());
  EXPECT_EQ(schema.version(), 2);
  cv1::ListSchemaVersionsRequest ls;
  ls.set_parent("datasets/census");
  cv1::ListSchemaVersionsResponse lsr;
  EXPECT_TRUE(As().ListSchemaVersions(Ctx("researcher:r").get(), ls, &lsr).ok());
  EXPECT_EQ(lsr.schemas_size(), 2);

  // Dataset versions: only the ingestion service registers them.
  cv1::RegisterDatasetVersionRequest rv;
  rv.set_parent("datasets/census");
  rv.set_request_id("job-1");
  rv.mutable_version()->set_schema_version(1);
  rv.mutable_version()->set_row_count(10);
  rv.mutable_version()->mutable_period()->set_start_date("2023-09-01");
  rv.mutable_version()->mutable_period()->set_end_date("2023-12-31");
  rv.mutable_version()->add_source_extracts("census.csv");
  auto* m = rv.mutable_version()->mutable_quality()->add_breakdown();
  m->set_completeness(1);
  m->set_validity(1);
  cv1::DatasetVersion v;
  EXPECT_EQ(As().RegisterDatasetVersion(Ctx("data_steward:s").get(), rv, &v).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(As("query").RegisterDatasetVersion(Ctx("").get(), rv, &v).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(As("ingestion").RegisterDatasetVersion(Ctx("").get(), rv, &v).ok());
  EXPECT_EQ(v.quality().rating(), "D");  // complete and valid only: 0.3 + 0.3 = 60
  cv1::GetDatasetVersionRequest gv;
  gv.set_name("datasets/census/versions/1");
  EXPECT_TRUE(As().GetDatasetVersion(Ctx("researcher:r").get(), gv, &v).ok());
  cv1::ListDatasetVersionsRequest lv;
  lv.set_parent("datasets/census");
  cv1::ListDatasetVersionsResponse lvr;
  EXPECT_TRUE(As().ListDatasetVersions(Ctx("researcher:r").get(), lv, &lvr).ok());
  EXPECT_EQ(lvr.versions_size(), 1);
  cv1::GetQualityTrendRequest qt;
  qt.set_dataset("datasets/census");
  cv1::QualityTrend trend;
  EXPECT_TRUE(As().GetQualityTrend(Ctx("researcher:r").get(), qt, &trend).ok());
  EXPECT_EQ(trend.versions_size(), 1);
}

TEST_F(CatalogueServiceTest, ProjectsLifecycleAndDenials) {
  SeedUsers();
  cv1::Dataset d;
  ASSERT_TRUE(As().CreateDataset(Ctx("data_steward:s").get(), Census(), &d).ok());
  cv1::Project p;
  ASSERT_TRUE(As().CreateProject(Ctx("researcher:lead").get(), Project(), &p).ok());
  EXPECT_EQ(p.lead(), "users/lead");
  EXPECT_EQ(p.state(), cv1::Project::PROPOSED);

  cv1::ApproveProjectRequest a;
  a.set_name("projects/gap");
  // A researcher trying to approve is blocked by the processor.
  grpc::Status s = As().ApproveProject(Ctx("researcher:member").get(), a, &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("PROJECT_APPROVE"));
  // An approver who is a member: refused by the domain (self-approval).
  s = As().ApproveProject(Ctx("project_approver:member").get(), a, &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(s.error_message(), HasSubstr("self-approval"));
  // Only the lead edits.
  cv1::UpdateProjectRequest u;
  u.mutable_project()->set_name("projects/gap");
  u.mutable_project()->set_title("Gap (v2)");
  u.add_update_mask("title");
  EXPECT_EQ(As().UpdateProject(Ctx("researcher:member").get(), u, &p).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(As().UpdateProject(Ctx("researcher:lead").get(), u, &p).ok());
  // Bad dates: INVALID_ARGUMENT naming the field.
  auto bad = Project();
  bad.set_project_id("bad");
  bad.mutable_project()->mutable_dates()->set_end_date("2023-01-01");
  s = As().CreateProject(Ctx("researcher:lead").get(), bad, &p);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("project.dates.end_date"));

  ASSERT_TRUE(As().ApproveProject(Ctx("project_approver:approver").get(), a, &p).ok());
  EXPECT_EQ(p.state(), cv1::Project::APPROVED);

  cv1::GetProjectRequest gp;
  gp.set_name("projects/gap");
  EXPECT_TRUE(As().GetProject(Ctx("researcher:member").get(), gp, &p).ok());
  EXPECT_EQ(As().GetProject(Ctx("researcher:stranger").get(), gp, &p).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  cv1::ListProjectsResponse lp;
  EXPECT_TRUE(As().ListProjects(Ctx("project_approver:approver").get(), {}, &lp).ok());
  EXPECT_EQ(lp.projects_size(), 1);

  cv1::AddProjectMemberRequest add;
  add.set_name("projects/gap");
  add.set_member("users/approver");
  EXPECT_EQ(As().AddProjectMember(Ctx("researcher:lead").get(), add, &p).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(As().AddProjectMember(Ctx("project_approver:approver").get(), add, &p).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);  // adding oneself
  cv1::RemoveProjectMemberRequest rm;
  rm.set_name("projects/gap");
  rm.set_member("users/member");
  EXPECT_TRUE(As().RemoveProjectMember(Ctx("project_approver:approver").get(), rm, &p).ok());
  EXPECT_EQ(p.members_size(), 0);
  add.set_member("users/member");
  EXPECT_TRUE(As().AddProjectMember(Ctx("project_approver:approver").get(), add, &p).ok());

  cv1::SuspendProjectRequest sp;
  sp.set_name("projects/gap");
  sp.set_reason("review");
  EXPECT_TRUE(As().SuspendProject(Ctx("project_approver:approver").get(), sp, &p).ok());
  EXPECT_EQ(p.state(), cv1::Project::SUSPENDED);
  cv1::CloseProjectRequest cp;
  cp.set_name("projects/gap");
  cp.set_reason("done");
  EXPECT_TRUE(As().CloseProject(Ctx("project_approver:approver").get(), cp, &p).ok());
  EXPECT_EQ(As().ApproveProject(Ctx("project_approver:approver").get(), a, &p).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(CatalogueServiceTest, CheckAccessOnlyFromTheQueryService) {
  SeedUsers();
  cv1::Dataset d;
  ASSERT_TRUE(As().CreateDataset(Ctx("data_steward:s").get(), Census(), &d).ok());
  cv1::Project p;
  ASSERT_TRUE(As().CreateProject(Ctx("researcher:lead").get(), Project(), &p).ok());
  cv1::ApproveProjectRequest a;
  a.set_name("projects/gap");
  ASSERT_TRUE(As().ApproveProject(Ctx("project_approver:approver").get(), a, &p).ok());

  cv1::CheckAccessRequest r;
  r.set_principal("users/member");
  r.set_project("projects/gap");
  auto* acc = r.add_access();
  acc->set_dataset("datasets/census");
  acc->add_columns("fsm");
  cv1::CheckAccessResponse resp;
  // Users, even admins, cannot call the internal decision API.
  EXPECT_EQ(As().CheckAccess(Ctx("admin:root").get(), r, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(As("ingestion").CheckAccess(Ctx("").get(), r, &resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(As("query").CheckAccess(Ctx("").get(), r, &resp).ok());
  EXPECT_TRUE(resp.allowed());
  EXPECT_EQ(resp.disclosure().threshold(), 10);
  acc->add_columns("upn");
  ASSERT_TRUE(As("query").CheckAccess(Ctx("").get(), r, &resp).ok());
  EXPECT_FALSE(resp.allowed());
  EXPECT_THAT(resp.reason(), HasSubstr("'upn'"));
  int decisions = 0;
  for (const auto& e : audit_.events()) decisions += e.action() == "catalogue.access.check";
  EXPECT_EQ(decisions, 2);
}

TEST_F(CatalogueServiceTest, UsersFloorAndRecords) {
  cv1::CreateUserRequest cu;
  cu.set_user_id("alice");
  cu.mutable_user()->set_display_name("Alice");
  cv1::User u;
  EXPECT_EQ(As().CreateUser(Ctx("project_approver:x").get(), cu, &u).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(As().CreateUser(Ctx("admin:root").get(), cu, &u).ok());
  EXPECT_EQ(u.name(), "users/alice");
  cu.set_user_id("bob");
  cu.mutable_user()->mutable_accreditation()->set_scheme("ONS");
  cu.mutable_user()->mutable_accreditation()->set_training_date("2020-01-01");
  cu.mutable_user()->mutable_accreditation()->set_expiry_date("2021-01-01");
  grpc::Status s = As().CreateUser(Ctx("admin:root").get(), cu, &u);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), HasSubstr("already expired"));
  cv1::GetUserRequest gu;
  gu.set_name("users/alice");
  EXPECT_TRUE(As().GetUser(Ctx("dpo:d").get(), gu, &u).ok());
  EXPECT_EQ(As().GetUser(Ctx("researcher:r").get(), gu, &u).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  cv1::ListUsersResponse lu;
  EXPECT_TRUE(As().ListUsers(Ctx("admin:root").get(), {}, &lu).ok());
  EXPECT_EQ(lu.users_size(), 1);
  cv1::UpdateUserRequest uu;
  uu.mutable_user()->set_name("users/alice");
  uu.mutable_user()->set_active(true);
  uu.add_update_mask("active");
  EXPECT_TRUE(As().UpdateUser(Ctx("admin:root").get(), uu, &u).ok());
  EXPECT_TRUE(u.active());

  cv1::TrustFloor f;
  EXPECT_TRUE(As().GetTrustFloor(Ctx("researcher:r").get(), {}, &f).ok());
  EXPECT_EQ(f.settings().threshold(), 10);
  cv1::SetTrustFloorRequest sf;
  *sf.mutable_floor()->mutable_settings() = DefaultFloor();
  sf.mutable_floor()->mutable_settings()->set_threshold(12);
  EXPECT_EQ(As().SetTrustFloor(Ctx("project_approver:x").get(), sf, &f).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(As().SetTrustFloor(Ctx("admin:root").get(), sf, &f).ok());
  EXPECT_EQ(f.settings().threshold(), 12);
  sf.mutable_floor()->mutable_settings()->set_threshold(0);
  EXPECT_EQ(As().SetTrustFloor(Ctx("admin:root").get(), sf, &f).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  cv1::RecordsOfProcessing rec;
  EXPECT_EQ(As().GetRecordsOfProcessing(Ctx("researcher:r").get(), {}, &rec).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_TRUE(As().GetRecordsOfProcessing(Ctx("dpo:d").get(), {}, &rec).ok());
}

TEST_F(CatalogueServiceTest, NoCredentialsIsUnauthenticated) {
  cv1::TrustFloor f;
  // The gateway's certificate alone is a service principal for AUTHENTICATED
  // methods; a bad token is refused outright.
  EXPECT_EQ(As().GetTrustFloor(Ctx("nonsense").get(), {}, &f).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

}  // namespace
}  // namespace datalab::catalogue
