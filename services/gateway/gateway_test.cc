// The gateway end to end over real TLS on loopback: a JWT-authenticated
// client, the gateway, and a backend that authenticates the gateway's
// identity assertion over mTLS.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <thread>

#include "common/auth/identity_assertion.h"
#include "common/jwt/jwks.h"
#include "common/jwt/signer.h"
#include "common/server/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "datalab/audit/v1/audit.grpc.pb.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "datalab/ingestion/v1/ingestion.grpc.pb.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.grpc.pb.h"
#include "datalab/query/v1/query.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/gateway/forwarder.h"
#include "services/gateway/gateway_service.h"
#include "services/gateway/jwt_authenticator.h"

namespace datalab::gateway {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;
namespace cat = ::datalab::catalogue::v1;
namespace ing = ::datalab::ingestion::v1;
namespace aud = ::datalab::audit::v1;
namespace qv1 = ::datalab::query::v1;
namespace psv1 = ::datalab::pseudonymisation::v1;

constexpr char kIssuer[] = "https://idp.test";
constexpr char kAudience[] = "datalab";

// Waits up to 10 s for `flag` (set by a backend handler); returns it.
bool WaitFor(const std::atomic<bool>& flag) {
  for (int i = 0; i < 500 && !flag; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return flag;
}

class Catalogue : public cat::CatalogueService::Service {
 public:
  explicit Catalogue(std::shared_ptr<auth::Authenticator> a) : auth_(std::move(a)) {}
  grpc::Status GetTrustFloor(grpc::ServerContext* ctx, const cat::GetTrustFloorRequest*,
                             cat::TrustFloor* out) override {
    auto p = auth::PrincipalFromContext(*auth_, *ctx);
    if (!p.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no principal");
    out->set_updated_by(p->subject());
    return grpc::Status::OK;
  }
  grpc::Status GetDataset(grpc::ServerContext* ctx, const cat::GetDatasetRequest* req,
                          cat::Dataset*) override {
    if (req->name() == "datasets/slow") {
      slow_started = true;
      for (int i = 0; i < 100 && !ctx->IsCancelled(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (ctx->IsCancelled()) cancelled = true;
      return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    }
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "dataset " + req->name() + " not found");
  }
  std::atomic<bool> slow_started{false};
  std::atomic<bool> cancelled{false};

 private:
  std::shared_ptr<auth::Authenticator> auth_;
};

class Ingestion : public ing::IngestionService::Service {
 public:
  grpc::Status Upload(grpc::ServerContext* ctx, grpc::ServerReader<ing::UploadRequest>* reader,
                      ing::UploadResponse* out) override {
    // Answers before the caller has sent anything (the gateway forwards the
    // caller's request id).
    auto rid = ctx->client_metadata().find(auth::kRequestIdHeader);
    if (rid != ctx->client_metadata().end() && rid->second == "answer-first") {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "uploads are closed");
    }
    ing::UploadRequest req;
    int64_t bytes = 0;
    while (reader->Read(&req)) {
      // Refused at the header, while the caller is still sending.
      if (req.header().dataset() == "datasets/refused") {
        return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "datasets/refused is closed");
      }
      bytes += static_cast<int64_t>(req.chunk().size());
    }
    out->set_bytes_received(bytes);
    return grpc::Status::OK;
  }
};

// RunQuery: "fail" fails, "slow" runs until `release` is set.
class Query : public qv1::QueryService::Service {
 public:
  grpc::Status RunQuery(grpc::ServerContext* ctx, const qv1::RunQueryRequest* req,
                        qv1::QueryResult*) override {
    if (req->sql() == "fail") return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "bad sql");
    if (req->sql() == "slow") {
      running = true;
      while (!release && !ctx->IsCancelled()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    return grpc::Status::OK;
  }
  std::atomic<bool> running{false};
  std::atomic<bool> release{false};
};

// Server streaming: ExportLog sends one chunk per entry from `start` to
// `end`; `end` 0 streams until the call is cancelled; a `start` of -1 fails
// after two chunks.
class Audit : public aud::AuditService::Service {
 public:
  grpc::Status ExportLog(grpc::ServerContext* ctx, const aud::ExportLogRequest* req,
                         grpc::ServerWriter<aud::ExportLogChunk>* writer) override {
    for (int64_t i = std::max<int64_t>(0, req->start()); req->end() == 0 || i < req->end(); ++i) {
      if (req->start() == -1 && i == 2) {
        return grpc::Status(grpc::StatusCode::DATA_LOSS, "entry 2 is damaged");
      }
      aud::ExportLogChunk chunk;
      chunk.add_entries()->set_index(i);
      if (!writer->Write(chunk)) break;
      if (req->end() == 0) {
        streaming = true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (ctx->IsCancelled()) break;
      }
    }
    if (ctx->IsCancelled()) cancelled = true;
    return grpc::Status::OK;
  }
  std::atomic<bool> streaming{false};
  std::atomic<bool> cancelled{false};
};

class GatewayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"gateway", "catalogue"}) {
      auto pair = ca_.Issue(name);
      WriteFileOrDie(dir_.Sub(std::string(name) + ".pem"), pair.cert);
      WriteFileOrDie(dir_.Sub(std::string(name) + ".key"), pair.key);
    }
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());

    // Backend: verifies the gateway's assertions over mTLS.
    auto assertion_key = crypto::Ed25519PrivateKey::Generate();
    ASSERT_THAT(assertion_key, IsOk());
    auto pub = assertion_key->PublicKey();
    ASSERT_THAT(pub, IsOk());
    backend_auth_ = std::make_shared<auth::ServiceAuthenticator>(
        std::make_shared<auth::AssertionVerifier>(*pub));
    catalogue_ = std::make_unique<Catalogue>(backend_auth_);
    server::ServerOptions bo;
    bo.service_name = "catalogue";
    bo.tls = {dir_.Sub("catalogue.pem"), dir_.Sub("catalogue.key"), dir_.Sub("ca.pem")};
    bo.metrics_address = "";
    auto backend =
        server::Server::Start(bo, {catalogue_.get(), &ingestion_, &audit_, &query_}, backend_auth_);
    ASSERT_THAT(backend, IsOk());
    backend_ = std::move(*backend);

    // Identity provider.
    auto pem = jwt::GeneratePrivateKeyPem(jwt::Algorithm::kEs256);
    ASSERT_THAT(pem, IsOk());
    jwt::SignerOptions so;
    so.private_key_pem = *pem;
    so.kid = "k1";
    auto signer = jwt::Signer::Create(so);
    ASSERT_THAT(signer, IsOk());
    signer_ = std::move(*signer);
    auto jwks = jwt::Jwks::Parse(signer_->PublicJwksJson());
    ASSERT_THAT(jwks, IsOk());
    jwt::VerifierOptions vo;
    vo.issuer = kIssuer;
    vo.audience = kAudience;
    auto verifier = jwt::Verifier::Create(vo, *jwks);
    ASSERT_THAT(verifier, IsOk());
    jwt_auth_ = std::make_shared<JwtAuthenticator>(std::move(*verifier));

    // Gateway.
    server::TlsFiles client_tls{dir_.Sub("gateway.pem"), dir_.Sub("gateway.key"), dir_.Sub("ca.pem")};
    auto backend_channel = server::MakeChannel(
        "127.0.0.1:" + std::to_string(backend_->port()), client_tls);
    ASSERT_THAT(backend_channel, IsOk());
    limiter_ = std::make_shared<RateLimiter>(
        RateLimitOptions{.calls_per_second = 5, .burst = 40, .max_concurrent_queries = 1});
    // Nothing listens on port 1: pseudonymisation is a backend that is down.
    auto down_channel = server::MakeChannel("127.0.0.1:1", client_tls);
    ASSERT_THAT(down_channel, IsOk());
    assertion_signer_ = std::make_shared<auth::AssertionSigner>(*assertion_key);
    forwarder_ = std::make_unique<Forwarder>(
        jwt_auth_, assertion_signer_, limiter_,
        std::map<std::string, std::shared_ptr<grpc::Channel>>{
            {"datalab.catalogue.v1", *backend_channel},
            {"datalab.ingestion.v1", *backend_channel},
            {"datalab.audit.v1", *backend_channel},
            {"datalab.query.v1", *backend_channel},
            {"datalab.pseudonymisation.v1", *down_channel}});
    gateway_service_ = std::make_unique<GatewayService>(
        jwt_auth_, std::map<std::string, std::shared_ptr<grpc::Channel>>{{"catalogue", *backend_channel}},
        "test");
    server::ServerOptions go;
    go.service_name = "gateway";
    go.tls = {dir_.Sub("gateway.pem"), dir_.Sub("gateway.key"), dir_.Sub("ca.pem")};
    go.require_client_cert = false;
    go.metrics_address = "";
    go.shutdown_grace = absl::Milliseconds(300);  // ShutdownEndsAStreamInFlightAndReturns
    go.health_address = "127.0.0.1:0";
    auto gw = server::Server::Start(go, {gateway_service_.get()}, jwt_auth_, nullptr, forwarder_.get());
    ASSERT_THAT(gw, IsOk());
    gateway_ = std::move(*gw);
    auto ch = server::MakeChannel("127.0.0.1:" + std::to_string(gateway_->port()),
                                  {"", "", dir_.Sub("ca.pem")});
    ASSERT_THAT(ch, IsOk());
    channel_ = *ch;
  }

  std::string Token(const std::string& sub, std::vector<std::string> roles,
                    absl::Duration ttl = absl::Minutes(5)) {
    absl::Time now = absl::Now();
    nlohmann::json claims = {{"iss", kIssuer}, {"aud", kAudience}, {"sub", sub},
                             {"roles", roles}, {"iat", absl::ToUnixSeconds(now)},
                             {"exp", absl::ToUnixSeconds(now + ttl)}};
    auto t = signer_->Sign(claims);
    EXPECT_THAT(t, IsOk());
    return *t;
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token) {
    auto c = std::make_unique<grpc::ClientContext>();
    if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return c;
  }

  // An Upload call through the gateway as a data steward, with nothing sent
  // yet; a non-empty `request_id` goes with it as the caller's request id.
  struct UploadCall {
    std::unique_ptr<grpc::ClientContext> ctx;
    ing::UploadResponse resp;
    std::unique_ptr<grpc::ClientWriter<ing::UploadRequest>> writer;
  };
  // A generated client of `Service` through the gateway (gRPC calls it a
  // client; this is the one place the tests make one).
  template <typename Service>
  static auto Client(const std::shared_ptr<grpc::Channel>& channel) {
    return Service::NewStub(channel);
  }
  template <typename Service>
  auto Client() const {
    return Client<Service>(channel_);
  }
  std::unique_ptr<UploadCall> StartUpload(const std::string& request_id = "") {
    auto u = std::make_unique<UploadCall>();
    u->ctx = Ctx(Token("sam", {"data_steward"}));
    if (!request_id.empty()) u->ctx->AddMetadata(auth::kRequestIdHeader, request_id);
    u->writer = Client<ing::IngestionService>()->Upload(u->ctx.get(), &u->resp);
    return u;
  }
  // Sends a header naming `dataset`, then up to `chunks` 64 KiB chunks,
  // stopping at the first write the call refuses. Returns the chunk bytes
  // sent, or -1 when the header itself was refused.
  static int64_t SendFile(UploadCall& u, const std::string& dataset, int chunks) {
    ing::UploadRequest req;
    req.mutable_header()->set_dataset(dataset);
    if (!u.writer->Write(req)) return -1;
    int64_t sent = 0;
    for (int i = 0; i < chunks; ++i) {
      ing::UploadRequest chunk;
      chunk.set_chunk(std::string(65536, 'x'));
      if (!u.writer->Write(chunk)) break;
      sent += 65536;
    }
    return sent;
  }

  TempDir dir_;
  TestCa ca_;
  std::shared_ptr<auth::Authenticator> backend_auth_;
  std::unique_ptr<Catalogue> catalogue_;
  Ingestion ingestion_;
  Audit audit_;
  Query query_;
  std::unique_ptr<server::Server> backend_;
  std::unique_ptr<jwt::Signer> signer_;
  std::shared_ptr<JwtAuthenticator> jwt_auth_;
  std::shared_ptr<RateLimiter> limiter_;
  std::shared_ptr<auth::AssertionSigner> assertion_signer_;
  std::unique_ptr<Forwarder> forwarder_;
  std::unique_ptr<GatewayService> gateway_service_;
  std::unique_ptr<server::Server> gateway_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(GatewayTest, ForwardsWithTheCallersIdentity) {
  auto client = Client<cat::CatalogueService>();
  cat::TrustFloor floor;
  auto ctx = Ctx(Token("alice", {"researcher"}));
  grpc::Status s = client->GetTrustFloor(ctx.get(), {}, &floor);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(floor.updated_by(), "users/alice");
}

TEST_F(GatewayTest, BackendErrorsPassThrough) {
  auto client = Client<cat::CatalogueService>();
  cat::GetDatasetRequest req;
  req.set_name("datasets/none");
  cat::Dataset out;
  auto ctx = Ctx(Token("alice", {"researcher"}));
  grpc::Status s = client->GetDataset(ctx.get(), req, &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(s.error_message(), "dataset datasets/none not found");
}

TEST_F(GatewayTest, RefusesBadTokensRolesAndInternalMethods) {
  auto client = Client<cat::CatalogueService>();
  cat::TrustFloor floor;
  {
    auto ctx = Ctx("");
    EXPECT_EQ(client->GetTrustFloor(ctx.get(), {}, &floor).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    auto ctx = Ctx(Token("alice", {"researcher"}, absl::Seconds(-120)));
    EXPECT_EQ(client->GetTrustFloor(ctx.get(), {}, &floor).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    auto ctx = Ctx(Token("alice", {"researcher"}));
    EXPECT_EQ(client->SetTrustFloor(ctx.get(), {}, &floor).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    // Roles the lab does not know grant nothing.
    auto ctx = Ctx(Token("mallory", {"superuser"}));
    EXPECT_EQ(client->GetTrustFloor(ctx.get(), {}, &floor).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    // Service-internal RPCs are not reachable by any role.
    auto ctx = Ctx(Token("root", {"admin", "dpo", "data_steward", "project_approver", "researcher"}));
    cat::DatasetVersion v;
    EXPECT_EQ(client->RegisterDatasetVersion(ctx.get(), {}, &v).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    // A client cannot smuggle its own identity assertion.
    auto ctx = Ctx(Token("alice", {"researcher"}));
    ctx->AddMetadata("x-datalab-assertion", "forged");
    EXPECT_EQ(client->GetTrustFloor(ctx.get(), {}, &floor).error_code(),
              grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    // Unknown methods are refused before anything is forwarded.
    grpc::GenericStub generic(channel_);
    auto ctx = Ctx(Token("alice", {"researcher"}));
    grpc::Slice empty("");
    grpc::ByteBuffer req(&empty, 1), resp;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    grpc::Status status;
    generic.UnaryCall(ctx.get(), "/datalab.catalogue.v1.CatalogueService/DropEverything",
                      grpc::StubOptions(), &req, &resp, [&](grpc::Status s) {
                        std::lock_guard<std::mutex> l(mu);
                        status = s;
                        done = true;
                        cv.notify_one();
                      });
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return done; });
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(GatewayTest, ForwardsClientStreaming) {
  auto u = StartUpload();
  const int64_t sent = SendFile(*u, "datasets/census", 20);
  ASSERT_EQ(sent, 20 * 65536);  // the header and every chunk were taken
  u->writer->WritesDone();
  grpc::Status s = u->writer->Finish();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(u->resp.bytes_received(), sent);
}

TEST_F(GatewayTest, ForwardsServerStreamingInOrderWithTheStatus) {
  auto client = Client<aud::AuditService>();
  {
    auto ctx = Ctx(Token("dee", {"dpo"}));
    aud::ExportLogRequest req;
    req.set_start(0);
    req.set_end(50);
    auto reader = client->ExportLog(ctx.get(), req);
    aud::ExportLogChunk chunk;
    int64_t next = 0;
    while (reader->Read(&chunk)) {
      ASSERT_EQ(chunk.entries_size(), 1);
      EXPECT_EQ(chunk.entries(0).index(), next++);
    }
    grpc::Status s = reader->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(next, 50);
  }
  {
    // An error after some messages: the messages, then the backend's status.
    auto ctx = Ctx(Token("dee", {"dpo"}));
    aud::ExportLogRequest req;
    req.set_start(-1);
    req.set_end(10);
    auto reader = client->ExportLog(ctx.get(), req);
    aud::ExportLogChunk chunk;
    int got = 0;
    while (reader->Read(&chunk)) ++got;
    grpc::Status s = reader->Finish();
    EXPECT_EQ(got, 2);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS);
    EXPECT_EQ(s.error_message(), "entry 2 is damaged");
  }
  {
    // A researcher may not read the audit log: refused before any backend.
    auto ctx = Ctx(Token("alice", {"researcher"}));
    auto reader = client->ExportLog(ctx.get(), aud::ExportLogRequest());
    aud::ExportLogChunk chunk;
    EXPECT_FALSE(reader->Read(&chunk));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(GatewayTest, CancellingAStreamReachesTheBackend) {
  auto client = Client<aud::AuditService>();
  auto ctx = Ctx(Token("dee", {"dpo"}));
  auto reader = client->ExportLog(ctx.get(), aud::ExportLogRequest());  // end 0: endless
  aud::ExportLogChunk chunk;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(reader->Read(&chunk));
  EXPECT_TRUE(audit_.streaming);
  ctx->TryCancel();
  while (reader->Read(&chunk)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(WaitFor(audit_.cancelled));
}

TEST_F(GatewayTest, ABackendRefusingAStreamEarlyEndsTheCallersStream) {
  auto u = StartUpload();
  (void)SendFile(*u, "datasets/refused", 200);  // the caller keeps sending for a while
  u->writer->WritesDone();
  grpc::Status s = u->writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(s.error_message(), "datasets/refused is closed");
}

TEST_F(GatewayTest, AStreamingBackendMayAnswerBeforeTheCallerSendsAnything) {
  auto u = StartUpload("answer-first");
  // No message and no half-close: the backend's answer must still arrive
  // (a backend call held back until the caller's first message would
  // leave this waiting for its 10 s deadline).
  const auto start = std::chrono::steady_clock::now();
  grpc::Status s = u->writer->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(s.error_message(), "uploads are closed");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(GatewayTest, ABackendThatIsDownIsUnavailable) {
  auto client = Client<psv1::PseudonymisationService>();
  auto ctx = Ctx(Token("ada", {"admin"}));
  psv1::ListDomainsResponse out;
  grpc::Status s = client->ListDomains(ctx.get(), psv1::ListDomainsRequest(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

// The gateway's sync handlers (health, its own API) wait on queues that do
// not poll, and the probe server has no polling thread of its own
// (common/server/server.cc). Both health listeners still answer while calls
// are forwarded. (In this process the backend's threads and the test's
// clients poll too, so this cannot show that the forwarding thread alone
// serves them: the lab's `datalab health`, a process of its own, does, in
// lab.sh, demo.sh and every e2e start.)
TEST_F(GatewayTest, HealthAnswersOnBothPortsWhileCallsAreForwarded) {
  auto check = [](const std::shared_ptr<grpc::Channel>& ch) {
    auto health = Client<grpc::health::v1::Health>(ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = health->Check(&ctx, grpc::health::v1::HealthCheckRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.status();
  };
  ASSERT_GT(gateway_->health_port(), 0);
  auto probe = grpc::CreateChannel("127.0.0.1:" + std::to_string(gateway_->health_port()),
                                   grpc::InsecureChannelCredentials());
  std::atomic<bool> stop{false};
  std::thread load([&] {
    auto client = Client<cat::CatalogueService>();
    std::string token = Token("rita", {"researcher"});
    while (!stop.load()) {
      auto ctx = Ctx(token);
      cat::TrustFloor out;
      (void)client->GetTrustFloor(ctx.get(), cat::GetTrustFloorRequest(), &out);
    }
  });
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(check(probe), grpc::health::v1::HealthCheckResponse::SERVING);
    EXPECT_EQ(check(channel_), grpc::health::v1::HealthCheckResponse::SERVING);
  }
  stop = true;
  load.join();
}

TEST_F(GatewayTest, AServiceWithNoBackendConfiguredIsUnavailable) {
  // A gateway started with no backends at all.
  Forwarder none(jwt_auth_, assertion_signer_, limiter_, {});
  server::ServerOptions o;
  o.service_name = "gateway";
  o.tls = {dir_.Sub("gateway.pem"), dir_.Sub("gateway.key"), dir_.Sub("ca.pem")};
  o.require_client_cert = false;
  o.metrics_address = "";
  auto gw = server::Server::Start(o, {}, jwt_auth_, nullptr, &none);
  ASSERT_THAT(gw, IsOk());
  auto ch = server::MakeChannel("127.0.0.1:" + std::to_string((*gw)->port()),
                                {"", "", dir_.Sub("ca.pem")});
  ASSERT_THAT(ch, IsOk());
  auto client = Client<psv1::PseudonymisationService>(*ch);
  auto ctx = Ctx(Token("ada", {"admin"}));
  psv1::ListDomainsResponse out;
  grpc::Status s = client->ListDomains(ctx.get(), psv1::ListDomainsRequest(), &out);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "no backend is configured for datalab.pseudonymisation.v1");
  (*gw)->Shutdown();  // before `none` goes
}

TEST_F(GatewayTest, AQuerySlotIsFreedWhenTheQueryEndsHoweverItEnds) {
  // One query at a time per user (max_concurrent_queries = 1).
  auto client = Client<qv1::QueryService>();
  const std::string token = Token("rita", {"researcher"});
  auto run = [&](const std::string& sql) {
    auto ctx = Ctx(token);
    qv1::RunQueryRequest req;
    req.set_project("projects/p");
    req.set_sql(sql);
    qv1::QueryResult out;
    return client->RunQuery(ctx.get(), req, &out).error_code();
  };
  EXPECT_EQ(run("ok"), grpc::StatusCode::OK);
  EXPECT_EQ(run("fail"), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(run("ok"), grpc::StatusCode::OK);  // neither left its slot taken
  // While one runs, a second is refused, saying why.
  std::thread slow([&] { EXPECT_EQ(run("slow"), grpc::StatusCode::OK); });
  ASSERT_TRUE(WaitFor(query_.running));
  {
    auto ctx = Ctx(token);
    qv1::RunQueryRequest req;
    req.set_project("projects/p");
    req.set_sql("ok");
    qv1::QueryResult out;
    grpc::Status s = client->RunQuery(ctx.get(), req, &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("too many queries running"));
  }
  query_.release = true;
  slow.join();
  EXPECT_EQ(run("ok"), grpc::StatusCode::OK);
}

TEST_F(GatewayTest, ShutdownEndsAStreamInFlightAndReturns) {
  auto client = Client<aud::AuditService>();
  auto ctx = Ctx(Token("dee", {"dpo"}));
  auto reader = client->ExportLog(ctx.get(), aud::ExportLogRequest());  // endless
  aud::ExportLogChunk chunk;
  ASSERT_TRUE(reader->Read(&chunk));
  const auto start = std::chrono::steady_clock::now();
  gateway_->Shutdown();  // 300 ms grace, then the call is cancelled
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, std::chrono::milliseconds(250));  // the grace was given
  EXPECT_LT(took, std::chrono::seconds(5));
  while (reader->Read(&chunk)) {
  }
  EXPECT_FALSE(reader->Finish().ok());
  EXPECT_TRUE(WaitFor(audit_.cancelled));
}

TEST_F(GatewayTest, DeadlineAndCancellationReachTheBackend) {
  auto client = Client<cat::CatalogueService>();
  auto ctx = Ctx(Token("alice", {"researcher"}));
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  cat::GetDatasetRequest req;
  req.set_name("datasets/slow");
  cat::Dataset out;
  EXPECT_EQ(client->GetDataset(ctx.get(), req, &out).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(WaitFor(catalogue_->cancelled));
}

TEST_F(GatewayTest, ClientCancellationOfAUnaryCallReachesTheBackend) {
  auto client = Client<cat::CatalogueService>();
  auto ctx = Ctx(Token("alice", {"researcher"}));
  // Cancel once the call is running in the backend (not before it gets
  // there, which would test nothing on a slow machine).
  std::thread canceller([&] {
    WaitFor(catalogue_->slow_started);
    ctx->TryCancel();
  });
  cat::GetDatasetRequest req;
  req.set_name("datasets/slow");
  cat::Dataset out;
  EXPECT_EQ(client->GetDataset(ctx.get(), req, &out).error_code(), grpc::StatusCode::CANCELLED);
  canceller.join();
  EXPECT_TRUE(WaitFor(catalogue_->cancelled));
}

TEST_F(GatewayTest, RateLimitSaysWhenToRetry) {
  auto client = Client<cat::CatalogueService>();
  std::string token = Token("busy", {"researcher"});
  int exhausted = 0;
  for (int i = 0; i < 60; ++i) {
    cat::TrustFloor floor;
    auto ctx = Ctx(token);
    grpc::Status s = client->GetTrustFloor(ctx.get(), {}, &floor);
    if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
      ++exhausted;
      EXPECT_THAT(s.error_message(), ::testing::HasSubstr("retry"));
    }
  }
  EXPECT_GT(exhausted, 0);
}

// Many threads, a limiter that refuses some calls: forwarded and refused
// calls interleave on the same connection without crashing or leaking.
TEST_F(GatewayTest, ConcurrentForwardedAndRefusedCalls) {
  std::string token = Token("load", {"researcher"});
  std::atomic<int> ok{0}, refused{0}, other{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      auto client = Client<cat::CatalogueService>();
      for (int i = 0; i < 100; ++i) {
        cat::TrustFloor floor;
        auto ctx = Ctx(token);
        grpc::Status s = client->GetTrustFloor(ctx.get(), {}, &floor);
        if (s.ok()) ++ok;
        else if (s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) ++refused;
        else ++other;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok + refused, 1600);
  EXPECT_EQ(other.load(), 0);
  EXPECT_GT(refused.load(), 0);
  EXPECT_GT(ok.load(), 0);
}

TEST_F(GatewayTest, WhoAmI) {
  auto client = Client<gateway::v1::GatewayService>();
  gateway::v1::WhoAmIResponse resp;
  auto ctx = Ctx(Token("dora", {"dpo"}));
  grpc::Status s = client->WhoAmI(ctx.get(), {}, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.principal().subject(), "users/dora");
  EXPECT_THAT(resp.permissions(), ::testing::Contains("AUDIT_READ"));
  EXPECT_THAT(resp.permissions(), ::testing::Not(::testing::Contains("QUERY_RUN")));
  EXPECT_GT(resp.token_expiry_unix_ms(), 0);
  gateway::v1::LabStatus status;
  auto ctx2 = Ctx(Token("dora", {"dpo"}));
  ASSERT_TRUE(client->GetLabStatus(ctx2.get(), {}, &status).ok());
  ASSERT_EQ(status.backends_size(), 1);
  EXPECT_TRUE(status.backends(0).serving());
}

}  // namespace
}  // namespace datalab::gateway
