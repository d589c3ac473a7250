// In-process gRPC over real TLS on loopback with the shared AuthProcessor:
// WriteDatasetVersion streamed by the ingestion service, RunQuery by a
// researcher through the gateway, and denials (a user writing versions, a
// researcher erasing subjects, a catalogue deny).
#include "services/query/query_service.h"

#include <grpcpp/grpcpp.h>

#include "common/auth/policy.h"
#include "common/server/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/kv_query_store.h"
#include "services/query/testing_support.h"

namespace datalab::query {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;
using namespace ::datalab::query::testing;  // NOLINT
namespace c = ::datalab::common::v1;

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

class QueryServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());
    for (const char* cn : {"query", "gateway", "ingestion"}) {
      auto pair = ca_.Issue(cn);
      WriteFileOrDie(dir_.Sub(std::string(cn) + ".pem"), pair.cert);
      WriteFileOrDie(dir_.Sub(std::string(cn) + ".key"), pair.key);
    }
    auto backend = OpenRocksDbBackend(dir_.Sub("db"));
    ASSERT_THAT(backend, IsOk());
    KvQueryStore::Options so;
    so.backend = std::move(*backend);
    store_ = std::move(*KvQueryStore::Open(so));
    key_ = std::make_unique<crypto::Ed25519PrivateKey>(*crypto::Ed25519PrivateKey::Generate());
    QueryRunner::Options o;
    o.store = store_.get();
    o.catalogue = catalogue_.Start();
    o.audit = &audit_;
    o.signing_key = key_.get();
    runner_ = std::move(*QueryRunner::Create(o));
    service_ = std::make_unique<QueryServiceImpl>(runner_.get(), store_.get(), authenticator_);
    server::ServerOptions so2;
    so2.service_name = "query";
    so2.tls = {dir_.Sub("query.pem"), dir_.Sub("query.key"), dir_.Sub("ca.pem")};
    so2.require_client_cert = true;
    so2.metrics_address = "";
    auto s = server::Server::Start(so2, {service_.get()}, authenticator_);
    ASSERT_THAT(s, IsOk());
    server_ = std::move(*s);
    for (const char* cn : {"gateway", "ingestion"}) {
      server::TlsFiles t{dir_.Sub(std::string(cn) + ".pem"), dir_.Sub(std::string(cn) + ".key"),
                         dir_.Sub("ca.pem")};
      auto ch = server::MakeChannel("127.0.0.1:" + std::to_string(server_->port()), t,
                                    {.server_name_override = "localhost"});
      ASSERT_THAT(ch, IsOk());
      stubs_[cn] = v1::QueryService::NewStub(*ch);
    }
  }
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& bearer = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!bearer.empty()) ctx->AddMetadata("authorization", "Bearer " + bearer);
    return ctx;
  }
  grpc::Status Write(const std::string& as_cn, const std::string& bearer,
                     const std::vector<PupilRow>& rows, v1::WriteDatasetVersionResponse* resp,
                     bool commit = true) {
    auto ctx = Ctx(bearer);
    auto w = stubs_[as_cn]->WriteDatasetVersion(ctx.get(), resp);
    v1::WriteDatasetVersionRequest r;
    *r.mutable_begin() = CensusSpec("datasets/census/versions/1", "jobs/1");
    w->Write(r);
    for (size_t i = 0; i < rows.size(); i += 20) {
      std::vector<PupilRow> part(rows.begin() + i, rows.begin() + std::min(rows.size(), i + 20));
      *r.mutable_batch() = CensusBatch(part);
      w->Write(r);
    }
    if (commit) {
      r.mutable_commit()->set_total_rows(static_cast<int64_t>(rows.size()));
      w->Write(r);
    }
    w->WritesDone();
    return w->Finish();
  }

  TempDir dir_;
  TestCa ca_;
  std::shared_ptr<FakeAuthenticator> authenticator_ = std::make_shared<FakeAuthenticator>();
  FakeCatalogue catalogue_;
  audit_client::FakeAuditClient audit_;
  std::unique_ptr<KvQueryStore> store_;
  std::unique_ptr<crypto::Ed25519PrivateKey> key_;
  std::unique_ptr<QueryRunner> runner_;
  std::unique_ptr<QueryServiceImpl> service_;
  std::unique_ptr<server::Server> server_;
  std::map<std::string, std::unique_ptr<v1::QueryService::Stub>> stubs_;
};

TEST_F(QueryServiceTest, IngestionWritesThenResearcherQueries) {
  std::vector<PupilRow> rows = School("A", 40);
  for (auto& r : School("B", 25)) rows.push_back(r);
  v1::WriteDatasetVersionResponse wr;
  // Without commit nothing is stored.
  EXPECT_EQ(Write("ingestion", "", rows, &wr, /*commit=*/false).error_code(), grpc::StatusCode::ABORTED);
  ASSERT_TRUE(Write("ingestion", "", rows, &wr).ok());
  EXPECT_EQ(wr.rows(), 65);
  EXPECT_EQ(wr.distinct_subjects(), 65);
  v1::WriteDatasetVersionResponse again;
  ASSERT_TRUE(Write("ingestion", "", rows, &again).ok());
  EXPECT_TRUE(again.already_committed());

  v1::RunQueryRequest q;
  q.set_project("projects/p");
  q.set_sql("SELECT school, COUNT(DISTINCT pupil) AS pupils, AVG(ks2) FROM census GROUP BY school");
  v1::QueryResult result;
  grpc::Status s = stubs_["gateway"]->RunQuery(Ctx("researcher:alice").get(), q, &result);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(result.rows_size(), 2);
  EXPECT_EQ(result.rows(0).cells(0).text(), "A");
  EXPECT_EQ(result.rows(0).cells(1).number(), 40);
  EXPECT_FALSE(result.release().empty());

  v1::ListStoredVersionsRequest lr;
  lr.set_dataset("datasets/census");
  v1::ListStoredVersionsResponse lv;
  ASSERT_TRUE(stubs_["ingestion"]->ListStoredVersions(Ctx().get(), lr, &lv).ok());
  ASSERT_EQ(lv.versions_size(), 1);

  v1::ListQueryHistoryRequest hr;
  hr.set_project("projects/p");
  v1::ListQueryHistoryResponse hist;
  ASSERT_TRUE(stubs_["gateway"]->ListQueryHistory(Ctx("researcher:alice").get(), hr, &hist).ok());
  EXPECT_EQ(hist.entries_size(), 1);
  v1::ExportReleaseRequest er;
  er.set_name(result.release());
  er.set_format(v1::CSV);
  v1::ExportReleaseResponse exported;
  ASSERT_TRUE(stubs_["gateway"]->ExportRelease(Ctx("researcher:alice").get(), er, &exported).ok());
  EXPECT_EQ(exported.content_type(), "text/csv");
}

TEST_F(QueryServiceTest, Denials) {
  v1::WriteDatasetVersionResponse wr;
  // A user (even through the gateway) cannot write versions.
  EXPECT_EQ(Write("gateway", "researcher:alice", School("A", 3), &wr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Write("ingestion", "", School("A", 30), &wr).ok());
  v1::SubjectRecordsRequest er;
  er.add_pseudonyms("A-p1");
  er.set_reference("x");
  v1::SubjectRecordsResponse sr;
  EXPECT_EQ(stubs_["gateway"]->EraseSubjectRecords(Ctx("researcher:alice").get(), er, &sr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  catalogue_.Deny("project expired: its end date has passed");
  v1::RunQueryRequest q;
  q.set_project("projects/p");
  q.set_sql("SELECT COUNT(*) FROM census");
  v1::QueryResult result;
  grpc::Status s = stubs_["gateway"]->RunQuery(Ctx("researcher:alice").get(), q, &result);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(s.error_message(), "project expired: its end date has passed");
  audit_.SetFailing(true);
  catalogue_.Deny("");
  s = stubs_["gateway"]->RunQuery(Ctx("researcher:alice").get(), q, &result);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace datalab::query
