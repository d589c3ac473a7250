// Real TLS servers on loopback: health without credentials, the shared
// AuthProcessor allowing and denying, mTLS refusals, and the metrics port.
#include "common/server/server.h"

#include <grpcpp/grpcpp.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "common/server/client.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::server {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;
namespace cat = ::datalab::catalogue::v1;
namespace v1 = ::datalab::common::v1;

// Accepts "Bearer <role>" for users, and lab service certificates.
class FakeAuthenticator : public auth::Authenticator {
 public:
  absl::StatusOr<v1::Principal> Authenticate(const auth::CallInfo& call) override {
    v1::Principal p;
    auto it = call.headers.find("authorization");
    if (it != call.headers.end()) {
      auto role = auth::RoleFromClaim(it->second.substr(7));
      if (!role.ok()) return absl::UnauthenticatedError("bad token");
      p.set_kind(v1::Principal::USER);
      p.set_subject("users/" + std::string(it->second.substr(7)));
      p.add_roles(*role);
      return p;
    }
    if (auth::IsKnownService(call.peer_common_name)) {
      p.set_kind(v1::Principal::SERVICE);
      p.set_subject(call.peer_common_name);
      return p;
    }
    return absl::UnauthenticatedError("no credentials");
  }
};

// Handlers record who called; GetTrustFloor echoes the caller in updated_by.
class EchoCatalogue : public cat::CatalogueService::Service {
 public:
  explicit EchoCatalogue(std::shared_ptr<auth::Authenticator> a) : auth_(std::move(a)) {}
  grpc::Status GetTrustFloor(grpc::ServerContext* ctx, const cat::GetTrustFloorRequest*,
                             cat::TrustFloor* out) override {
    ++calls;
    auto p = auth::PrincipalFromContext(*auth_, *ctx);
    if (!p.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no principal");
    out->set_updated_by(p->subject());
    return grpc::Status::OK;
  }
  grpc::Status SetTrustFloor(grpc::ServerContext*, const cat::SetTrustFloorRequest*,
                             cat::TrustFloor*) override {
    ++calls;
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
  std::shared_ptr<auth::Authenticator> auth_;
};

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server_pair = ca_.Issue("catalogue");
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());
    WriteFileOrDie(dir_.Sub("server.pem"), server_pair.cert);
    WriteFileOrDie(dir_.Sub("server.key"), server_pair.key);
    auto client = ca_.Issue("query");
    WriteFileOrDie(dir_.Sub("client.pem"), client.cert);
    WriteFileOrDie(dir_.Sub("client.key"), client.key);
    auto expired = ca_.Issue("query", /*expired=*/true);
    WriteFileOrDie(dir_.Sub("expired.pem"), expired.cert);
    WriteFileOrDie(dir_.Sub("expired.key"), expired.key);
    TestCa other("another CA");
    auto rogue = other.Issue("query");
    WriteFileOrDie(dir_.Sub("rogue.pem"), rogue.cert);
    WriteFileOrDie(dir_.Sub("rogue.key"), rogue.key);
  }

  void StartServer(bool require_client_cert) {
    ServerOptions o;
    o.service_name = "catalogue";
    o.tls = {dir_.Sub("server.pem"), dir_.Sub("server.key"), dir_.Sub("ca.pem")};
    o.require_client_cert = require_client_cert;
    o.port_file = dir_.Sub("ports.json");
    o.health_address = "127.0.0.1:0";
    auto s = Server::Start(o, {&service_}, authenticator_,
                           [this](const auth::Denial& d) {
                             std::lock_guard<std::mutex> l(mu_);
                             denials_.push_back(d);
                           });
    ASSERT_THAT(s, IsOk());
    server_ = std::move(*s);
  }

  std::shared_ptr<grpc::Channel> Channel(const std::string& cert, const std::string& key) {
    TlsFiles t{cert.empty() ? "" : dir_.Sub(cert), key.empty() ? "" : dir_.Sub(key),
               dir_.Sub("ca.pem")};
    auto ch = MakeChannel("127.0.0.1:" + std::to_string(server_->port()), t,
                          {.server_name_override = "localhost"});
    EXPECT_THAT(ch, IsOk());
    return *ch;
  }

  grpc::Status Health(std::shared_ptr<grpc::Channel> ch) {
    auto stub = grpc::health::v1::Health::NewStub(ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    if (s.ok()) {
      EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
    }
    return s;
  }

  // A health client on the TLS port, with the client certificate.
  static auto HealthClient(const std::shared_ptr<grpc::Channel>& ch) {
    return NewClient<grpc::health::v1::Health>(ch);
  }
  auto HealthClient() { return HealthClient(Channel("client.pem", "client.key")); }
  // A health request naming `service` (empty: the whole server).
  static grpc::health::v1::HealthCheckRequest HealthRequest(const std::string& service) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    return req;
  }

  grpc::Status GetFloor(std::shared_ptr<grpc::Channel> ch, const std::string& bearer,
                        cat::TrustFloor* out) {
    auto stub = cat::CatalogueService::NewStub(ch);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!bearer.empty()) ctx.AddMetadata("authorization", "Bearer " + bearer);
    return stub->GetTrustFloor(&ctx, cat::GetTrustFloorRequest(), out);
  }

  TempDir dir_;
  TestCa ca_;
  std::shared_ptr<auth::Authenticator> authenticator_ = std::make_shared<FakeAuthenticator>();
  EchoCatalogue service_{authenticator_};
  std::unique_ptr<Server> server_;
  std::mutex mu_;
  std::vector<auth::Denial> denials_;
};

TEST_F(ServerTest, HealthIsPublicAndPrincipalReachesHandler) {
  StartServer(/*require_client_cert=*/true);
  auto ch = Channel("client.pem", "client.key");
  EXPECT_TRUE(Health(ch).ok());
  cat::TrustFloor floor;
  grpc::Status s = GetFloor(ch, "researcher", &floor);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(floor.updated_by(), "users/researcher");
  // Each call carries its own principal, even on one connection.
  s = GetFloor(ch, "dpo", &floor);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(floor.updated_by(), "users/dpo");
  // The service identity from the client certificate works without a token.
  s = GetFloor(ch, "", &floor);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(floor.updated_by(), "query");
}

TEST_F(ServerTest, DeniesWithoutReachingTheHandler) {
  StartServer(true);
  auto ch = Channel("client.pem", "client.key");
  auto stub = cat::CatalogueService::NewStub(ch);
  {
    // A researcher may not set the trust floor.
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer researcher");
    cat::TrustFloor out;
    grpc::Status s = stub->SetTrustFloor(&ctx, cat::SetTrustFloorRequest(), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer nonsense");
    cat::TrustFloor out;
    grpc::Status s = stub->GetTrustFloor(&ctx, cat::GetTrustFloorRequest(), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  {
    // A lab service identity holds only its data-flow edges: the query
    // service may read the catalogue but not change it.
    grpc::ClientContext ctx;
    cat::Dataset out;
    grpc::Status s = stub->CreateDataset(&ctx, cat::CreateDatasetRequest(), &out);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  EXPECT_EQ(service_.calls.load(), 0);
  std::lock_guard<std::mutex> l(mu_);
  ASSERT_EQ(denials_.size(), 3u);
  EXPECT_EQ(denials_[0].method, "/datalab.catalogue.v1.CatalogueService/SetTrustFloor");
  EXPECT_EQ(denials_[0].permission, v1::TRUST_FLOOR_ADMIN);
  // An authenticated caller who is refused is named; an unidentified one is not.
  EXPECT_EQ(denials_[0].subject, "users/researcher");
  EXPECT_EQ(denials_[1].subject, "");
}

TEST_F(ServerTest, MtlsRefusesMissingWrongCaAndExpiredCertificates) {
  StartServer(true);
  EXPECT_FALSE(Health(Channel("", "")).ok());                       // no client cert
  EXPECT_FALSE(Health(Channel("rogue.pem", "rogue.key")).ok());     // wrong CA
  EXPECT_FALSE(Health(Channel("expired.pem", "expired.key")).ok()); // expired
  // Plaintext against a TLS port fails too.
  auto plain = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->port()),
                                   grpc::InsecureChannelCredentials());
  EXPECT_FALSE(Health(plain).ok());
  EXPECT_TRUE(Health(Channel("client.pem", "client.key")).ok());
}

TEST_F(ServerTest, TlsOnlyServerAcceptsClientsWithoutCertificates) {
  StartServer(false);
  EXPECT_TRUE(Health(Channel("", "")).ok());
  cat::TrustFloor floor;
  EXPECT_TRUE(GetFloor(Channel("", ""), "dpo", &floor).ok());
  // A client presenting an untrusted certificate is still refused.
  EXPECT_FALSE(Health(Channel("rogue.pem", "rogue.key")).ok());
}

TEST_F(ServerTest, WritesPortFileAndExposesMetrics) {
  StartServer(true);
  std::ifstream in(dir_.Sub("ports.json"));
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(content.find("\"grpc_port\":" + std::to_string(server_->port())), std::string::npos);
  EXPECT_GT(server_->metrics_port(), 0);
  cat::TrustFloor floor;
  ASSERT_TRUE(GetFloor(Channel("client.pem", "client.key"), "researcher", &floor).ok());
  // Collect the registry directly: the same families the exposer serves.
  // The interceptor records when the call object is released, just after
  // the client has its answer, so poll briefly.
  bool found = false;
  for (int i = 0; i < 100 && !found; ++i) {
    for (const auto& family : server_->registry().Collect()) {
      if (family.name == "datalab_catalogue_rpc_total" && !family.metric.empty()) found = true;
    }
    if (!found) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(found);
}

TEST_F(ServerTest, PlaintextHealthPortServesOnlyHealth) {
  StartServer(true);
  ASSERT_GT(server_->health_port(), 0);
  auto plain = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->health_port()),
                                   grpc::InsecureChannelCredentials());
  EXPECT_TRUE(Health(plain).ok());
  // No datalab API is reachable there, with or without a token.
  cat::TrustFloor floor;
  grpc::Status s = GetFloor(plain, "admin", &floor);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNIMPLEMENTED);
  EXPECT_EQ(service_.calls.load(), 0);
}

// The health service is our own, on the sync API (health_service.h): gRPC's
// default one is written on the callback API, whose threads poll the
// process's one epoll set and take network events from the server's other
// calls. No such thread may start with a server.
std::set<std::string> ThreadNames() {
  std::set<std::string> names;
  DIR* d = opendir("/proc/self/task");
  if (d == nullptr) return names;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream in(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(in, name)) names.insert(name);
  }
  closedir(d);
  return names;
}

TEST_F(ServerTest, StartsNoCallbackThreads) {
  StartServer(true);
  auto plain = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->health_port()),
                                   grpc::InsecureChannelCredentials());
  ASSERT_TRUE(Health(plain).ok());
  ASSERT_TRUE(Health(Channel("client.pem", "client.key")).ok());
  auto names = ThreadNames();
  EXPECT_FALSE(names.empty());
  EXPECT_EQ(names.count("nexting_thread"), 0u) << "gRPC's callback threads are running";
}

TEST_F(ServerTest, HealthCheckKnowsOnlyTheWholeServer) {
  StartServer(true);
  auto health = HealthClient();
  grpc::ClientContext ctx;
  grpc::health::v1::HealthCheckResponse resp;
  grpc::Status s =
      health->Check(&ctx, HealthRequest("datalab.catalogue.v1.CatalogueService"), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("empty service name"));
}

TEST_F(ServerTest, HealthWatchStreamsTheStatusUntilShutdown) {
  StartServer(true);
  auto health = HealthClient();
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto reader = health->Watch(&ctx, grpc::health::v1::HealthCheckRequest());
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  std::thread stopper([&] { server_->Shutdown(); });
  // No ASSERT until the thread is joined.
  bool got = reader->Read(&resp);
  EXPECT_TRUE(got);
  if (got) {
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
    EXPECT_FALSE(reader->Read(&resp));
  }
  grpc::Status s = reader->Finish();
  stopper.join();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(ServerTest, HealthWatchOfAnUnknownNameSaysSoAndStaysOpen) {
  StartServer(true);
  auto health = HealthClient();
  grpc::ClientContext ctx;
  auto reader = health->Watch(&ctx, HealthRequest("no.such.Service"));
  grpc::health::v1::HealthCheckResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVICE_UNKNOWN);
  ctx.TryCancel();
  EXPECT_FALSE(reader->Read(&resp));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// Each open watch holds a handler thread, so a caller on the plaintext probe
// port cannot hold more than 16 of them.
TEST_F(ServerTest, HealthWatchesAreBounded) {
  StartServer(true);
  auto plain = grpc::CreateChannel("127.0.0.1:" + std::to_string(server_->health_port()),
                                   grpc::InsecureChannelCredentials());
  auto health = HealthClient(plain);
  struct Open {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReader<grpc::health::v1::HealthCheckResponse>> reader;
  };
  auto open = [&](Open& w) {
    w.reader = health->Watch(&w.ctx, grpc::health::v1::HealthCheckRequest());
    grpc::health::v1::HealthCheckResponse resp;
    return w.reader->Read(&resp);
  };
  std::vector<std::unique_ptr<Open>> watches;
  for (int i = 0; i < 16; ++i) {
    watches.push_back(std::make_unique<Open>());
    ASSERT_TRUE(open(*watches.back())) << "watch " << i;
  }
  Open refused;
  EXPECT_FALSE(open(refused));
  grpc::Status s = refused.reader->Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("use Check"));
  EXPECT_TRUE(Health(plain).ok());  // Check is not limited

  // A cancelled watch frees its slot once its handler notices (within 1 s).
  watches.front()->ctx.TryCancel();
  (void)watches.front()->reader->Finish();
  watches.erase(watches.begin());
  bool reopened = false;
  for (int i = 0; i < 50 && !reopened; ++i) {
    auto w = std::make_unique<Open>();
    if (open(*w)) {
      reopened = true;
      watches.push_back(std::move(w));
    } else {
      (void)w->reader->Finish();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  EXPECT_TRUE(reopened);
  for (auto& w : watches) w->ctx.TryCancel();
  for (auto& w : watches) (void)w->reader->Finish();
}

TEST(CheckPollStrategy, RefusesPollersOtherThanEpoll1) {
  EXPECT_THAT(CheckPollStrategy(nullptr), IsOk());
  EXPECT_THAT(CheckPollStrategy(""), IsOk());
  EXPECT_THAT(CheckPollStrategy("epoll1"), IsOk());
  EXPECT_THAT(CheckPollStrategy("all"), IsOk());
  EXPECT_THAT(CheckPollStrategy("epoll1,poll"), IsOk());
  for (const char* bad : {"poll", "none", "poll,epoll1"}) {
    absl::Status s = CheckPollStrategy(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << bad;
    EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("set it to epoll1")) << bad;
  }
}

TEST_F(ServerTest, RefusesToStartUnderAnotherPoller) {
  ::setenv("GRPC_POLL_STRATEGY", "poll", 1);
  ServerOptions o;
  o.service_name = "catalogue";
  o.tls = {dir_.Sub("server.pem"), dir_.Sub("server.key"), dir_.Sub("ca.pem")};
  auto s = Server::Start(o, {&service_}, authenticator_);
  ::unsetenv("GRPC_POLL_STRATEGY");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kFailedPrecondition);
}

// gRPC would set SO_REUSEPORT and let a second process start on a port in
// use, taking a share of its calls; both ports are refused instead.
TEST_F(ServerTest, RefusesPortsAnotherServerHolds) {
  StartServer(true);
  ServerOptions o;
  o.service_name = "catalogue";
  o.tls = {dir_.Sub("server.pem"), dir_.Sub("server.key"), dir_.Sub("ca.pem")};
  o.metrics_address = "";
  o.listen_address = "127.0.0.1:" + std::to_string(server_->port());
  auto second = Server::Start(o, {&service_}, authenticator_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), ::testing::HasSubstr("cannot listen on"));

  o.listen_address = "127.0.0.1:0";
  o.health_address = "127.0.0.1:" + std::to_string(server_->health_port());
  second = Server::Start(o, {&service_}, authenticator_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              ::testing::HasSubstr("cannot listen for health checks on"));
  EXPECT_TRUE(Health(Channel("client.pem", "client.key")).ok());  // the first one still serves
}

// A peer that accepts the connection but is slow to shake hands (a loaded
// machine) keeps the attempt: the channel stays CONNECTING instead of failing
// it after 100 ms, which would fail every call made meanwhile. A listening
// socket that never accepts stands in for the slow peer: the kernel completes
// the TCP connection and the TLS handshake then waits.
TEST_F(ServerTest, ChannelsGiveASlowPeerTimeToShakeHands) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(fd, 8), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  TlsFiles t{dir_.Sub("client.pem"), dir_.Sub("client.key"), dir_.Sub("ca.pem")};
  auto ch = MakeChannel("127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), t,
                        {.server_name_override = "localhost"});
  ASSERT_THAT(ch, IsOk());
  EXPECT_EQ((*ch)->GetState(/*try_to_connect=*/true), GRPC_CHANNEL_IDLE);
  ASSERT_TRUE((*ch)->WaitForStateChange(GRPC_CHANNEL_IDLE,
                                        std::chrono::system_clock::now() + std::chrono::seconds(5)));
  ASSERT_EQ((*ch)->GetState(false), GRPC_CHANNEL_CONNECTING);
  EXPECT_FALSE((*ch)->WaitForStateChange(
      GRPC_CHANNEL_CONNECTING, std::chrono::system_clock::now() + std::chrono::milliseconds(1500)))
      << "the attempt ended in state " << (*ch)->GetState(false);
  ::close(fd);
}

TEST_F(ServerTest, RefusesToStartWithoutCertificates) {
  ServerOptions o;
  o.service_name = "catalogue";
  EXPECT_FALSE(Server::Start(o, {}, std::make_shared<FakeAuthenticator>()).ok());
  o.tls = {dir_.Sub("nope.pem"), dir_.Sub("nope.key"), ""};
  EXPECT_FALSE(Server::Start(o, {}, std::make_shared<FakeAuthenticator>()).ok());
}

TEST_F(ServerTest, ShutdownStopsServing) {
  StartServer(true);
  auto ch = Channel("client.pem", "client.key");
  ASSERT_TRUE(Health(ch).ok());
  server_->Shutdown();
  server_->Shutdown();  // idempotent
  EXPECT_FALSE(Health(ch).ok());
}

}  // namespace
}  // namespace datalab::server
