// IngestionService over real TLS on loopback: every RPC, denials, and an
// upload stream dropped half-way then resumed from the acknowledged offset.
#include "services/ingestion/ingestion_service.h"

#include <grpcpp/grpcpp.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "common/auth/policy.h"
#include "common/identifiers/upn.h"
#include "common/server/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingestion/testing_fakes.h"

namespace datalab::ingestion {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;
using ::testing::HasSubstr;
namespace cv1 = ::datalab::common::v1;

// "authorization: Bearer <role>:<user>" -> a user with that role.
class FakeAuthenticator : public auth::Authenticator {
 public:
  absl::StatusOr<cv1::Principal> Authenticate(const auth::CallInfo& call) override {
    auto it = call.headers.find("authorization");
    if (it == call.headers.end()) return absl::UnauthenticatedError("no credentials");
    std::string v(it->second.substr(7));
    size_t colon = v.find(':');
    auto role = auth::RoleFromClaim(v.substr(0, colon));
    if (!role.ok()) return absl::UnauthenticatedError("bad token");
    cv1::Principal p;
    p.set_kind(cv1::Principal::USER);
    p.set_subject("users/" + v.substr(colon + 1));
    p.add_roles(*role);
    return p;
  }
};

std::string File(int rows) {
  std::string f = "UPN,FSM\n";
  for (int i = 1; i <= rows; ++i) {
    absl::StrAppend(&f, *identifiers::MakeUpn(801, 2000, 19, i), ",", i % 2 ? "Y" : "N", "\n");
  }
  return f;
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalogue::v1::Dataset d;
    d.set_name("datasets/census");
    d.set_identifier_domain("domains/pupil");
    d.set_current_schema_version(1);
    catalogue::v1::Schema s;
    auto* upn = s.add_columns();
    upn->set_name("upn");
    upn->set_treatment(cv1::PSEUDONYMISE);
    upn->set_subject_key(true);
    auto* fsm = s.add_columns();
    fsm->set_name("fsm");
    fsm->set_type(cv1::BOOLEAN);
    catalogue_.AddDataset(d, s);
    store_ = NewMemoryIngestionStore();
    IngestionOptions o;
    o.store = store_.get();
    o.catalogue = &catalogue_;
    o.pseudonymiser = &pseudo_;
    o.versions = &versions_;
    o.audit = &audit_;
    o.staging_key = crypto::SecureBytes(crypto::ByteView(std::string(32, 's')));
    o.start_worker = false;
    auto i = Ingestion::Create(std::move(o));
    ASSERT_THAT(i, IsOk());
    ingestion_ = std::move(*i);
    ASSERT_THAT(ingestion_->Start(), IsOk());
    service_ = std::make_unique<IngestionServiceImpl>(ingestion_.get(), authn_);

    auto pair = ca_.Issue("ingestion");
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());
    WriteFileOrDie(dir_.Sub("server.pem"), pair.cert);
    WriteFileOrDie(dir_.Sub("server.key"), pair.key);
    server::ServerOptions so;
    so.service_name = "ingestion";
    so.tls = {dir_.Sub("server.pem"), dir_.Sub("server.key"), dir_.Sub("ca.pem")};
    so.require_client_cert = false;
    so.metrics_address = "";
    auto srv = server::Server::Start(so, {service_.get()}, authn_);
    ASSERT_THAT(srv, IsOk());
    server_ = std::move(*srv);
    auto ch = server::MakeChannel("127.0.0.1:" + std::to_string(server_->port()),
                                  {"", "", dir_.Sub("ca.pem")},
                                  {.server_name_override = "localhost"});
    ASSERT_THAT(ch, IsOk());
    stub_ = v1::IngestionService::NewStub(*ch);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& bearer = "data_steward:sam") {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    if (!bearer.empty()) c->AddMetadata("authorization", "Bearer " + bearer);
    return c;
  }
  v1::UploadHeader Header(const std::string& data) {
    v1::UploadHeader h;
    h.set_dataset("datasets/census");
    h.set_school_urn("100000");
    h.set_total_bytes(static_cast<int64_t>(data.size()));
    h.set_sha256(testing::Sha256Hex(data));
    h.set_file_name("census.csv");
    return h;
  }
  // Sends the first message then chunks of `data` from `from` to `to`.
  grpc::Status Stream(const v1::UploadRequest& first, const std::string& data, size_t from,
                      size_t to, v1::UploadResponse* resp, size_t chunk = 16,
                      const std::string& bearer = "data_steward:sam") {
    auto ctx = Ctx(bearer);
    auto w = stub_->Upload(ctx.get(), resp);
    w->Write(first);
    for (size_t off = from; off < to; off += chunk) {
      v1::UploadRequest c;
      c.set_chunk(data.substr(off, std::min(chunk, to - off)));
      c.set_offset(static_cast<int64_t>(off));
      if (!w->Write(c)) break;
    }
    w->WritesDone();
    return w->Finish();
  }

  TempDir dir_;
  TestCa ca_;
  std::shared_ptr<auth::Authenticator> authn_ = std::make_shared<FakeAuthenticator>();
  testing::FakeCatalogue catalogue_;
  testing::FakePseudonymiser pseudo_;
  testing::FakeVersionStore versions_;
  audit_client::FakeAuditClient audit_;
  std::unique_ptr<IngestionStore> store_;
  std::unique_ptr<Ingestion> ingestion_;
  std::unique_ptr<IngestionServiceImpl> service_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<v1::IngestionService::Stub> stub_;
};

TEST_F(ServiceTest, UploadThenJobReportAndList) {
  const std::string data = File(40);
  v1::UploadRequest first;
  *first.mutable_header() = Header(data);
  v1::UploadResponse resp;
  ASSERT_TRUE(Stream(first, data, 0, data.size(), &resp).ok());
  EXPECT_TRUE(resp.complete());
  EXPECT_EQ(resp.bytes_received(), static_cast<int64_t>(data.size()));
  ASSERT_FALSE(resp.job().empty());
  ingestion_->RunQueuedJobs();

  v1::GetJobRequest gj;
  gj.set_name(resp.job());
  v1::Job job;
  ASSERT_TRUE(stub_->GetJob(Ctx().get(), gj, &job).ok());
  EXPECT_EQ(job.state(), v1::Job::COMMITTED) << job.error();
  EXPECT_EQ(job.uploader(), "users/sam");
  v1::GetValidationReportRequest gr;
  gr.set_job(resp.job());
  v1::ValidationReport report;
  ASSERT_TRUE(stub_->GetValidationReport(Ctx("dpo:dee").get(), gr, &report).ok());
  EXPECT_EQ(report.rows_valid(), 40);
  v1::ListJobsResponse list;
  ASSERT_TRUE(stub_->ListJobs(Ctx().get(), v1::ListJobsRequest(), &list).ok());
  EXPECT_EQ(list.jobs_size(), 1);
  v1::CancelJobRequest cj;
  cj.set_name(resp.job());
  v1::Job cancelled;
  EXPECT_EQ(stub_->CancelJob(Ctx().get(), cj, &cancelled).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // The same file again: answered from the header, nothing re-sent.
  v1::UploadResponse dup;
  (void)Stream(first, data, 0, data.size(), &dup);  // server ends it early
  EXPECT_TRUE(dup.duplicate_of_existing());
  EXPECT_EQ(dup.job(), resp.job());
}

TEST_F(ServiceTest, DroppedStreamResumesFromTheAcknowledgedOffset) {
  const std::string data = File(200);
  v1::UploadRequest first;
  *first.mutable_header() = Header(data);
  // Send about half, then drop the connection (cancel the call).
  v1::UploadResponse resp;
  std::string upload;
  int64_t sent = 0;
  {
    auto ctx = Ctx();
    auto w = stub_->Upload(ctx.get(), &resp);
    ASSERT_TRUE(w->Write(first));
    for (size_t off = 0; off < data.size() / 2; off += 100) {
      v1::UploadRequest c;
      c.set_chunk(data.substr(off, 100));
      c.set_offset(static_cast<int64_t>(off));
      ASSERT_TRUE(w->Write(c));
      sent = static_cast<int64_t>(off + c.chunk().size());
    }
    // A real client keeps the session name from the header's response; here
    // the test reads it from the audit trail, then waits until the server
    // has stored every chunk sent before dropping the call. (Dropping it
    // while chunks are still in flight would let the server store one more
    // after the offset below is read; a real client then reads the offset
    // again and resumes from there.)
    for (int i = 0; i < 500; ++i) {
      for (const auto& e : audit_.events()) {
        if (e.action() == "ingestion.upload.start") upload = e.resources(0);
      }
      if (!upload.empty()) {
        auto s = ingestion_->GetUploadSession(cv1::Principal(), upload);
        if (s.ok() && s->bytes_received() == sent) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ctx->TryCancel();
    EXPECT_FALSE(w->Finish().ok());
  }
  ASSERT_FALSE(upload.empty());
  v1::GetUploadSessionRequest gs;
  gs.set_name(upload);
  v1::UploadSession session;
  ASSERT_TRUE(stub_->GetUploadSession(Ctx().get(), gs, &session).ok());
  EXPECT_FALSE(session.complete());
  const int64_t acked = session.bytes_received();
  EXPECT_EQ(acked, sent);
  // Another user may not look at or continue it.
  v1::UploadSession other;
  EXPECT_EQ(stub_->GetUploadSession(Ctx("data_steward:eve").get(), gs, &other).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // A chunk at the wrong offset is refused, naming the expected one.
  v1::UploadRequest resume;
  resume.set_resume(upload);
  v1::UploadResponse bad;
  grpc::Status s = Stream(resume, data, 0, 10, &bad);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(s.error_message(), HasSubstr(absl::StrCat("expected offset ", acked)));
  // Resume from the acknowledged offset.
  v1::UploadResponse done;
  ASSERT_TRUE(Stream(resume, data, static_cast<size_t>(acked), data.size(), &done).ok());
  EXPECT_TRUE(done.complete());
  ingestion_->RunQueuedJobs();
  v1::GetJobRequest gj;
  gj.set_name(done.job());
  v1::Job job;
  ASSERT_TRUE(stub_->GetJob(Ctx().get(), gj, &job).ok());
  EXPECT_EQ(job.state(), v1::Job::COMMITTED) << job.error();
  EXPECT_EQ(versions_.committed().begin()->second.rows, 200);
}

TEST_F(ServiceTest, Denials) {
  const std::string data = File(2);
  v1::UploadRequest first;
  *first.mutable_header() = Header(data);
  v1::UploadResponse resp;
  EXPECT_EQ(Stream(first, data, 0, data.size(), &resp, 16, "researcher:rita").error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Stream(first, data, 0, data.size(), &resp, 16, "").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  v1::Job job;
  v1::GetJobRequest gj;
  gj.set_name("jobs/x");
  EXPECT_EQ(stub_->GetJob(Ctx("researcher:rita").get(), gj, &job).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(stub_->GetJob(Ctx().get(), gj, &job).error_code(), grpc::StatusCode::NOT_FOUND);
  // A stream that starts with a chunk is malformed.
  v1::UploadRequest chunk_first;
  chunk_first.set_chunk("x");
  EXPECT_EQ(Stream(chunk_first, data, 0, 0, &resp).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(versions_.committed().empty());
}

}  // namespace
}  // namespace datalab::ingestion
