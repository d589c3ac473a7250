// GrpcAuditClient against a real in-process audit server over mTLS:
// synchronous appends (and their bounded wait for audit), outbox delivery
// after audit comes back, delivery of a previous instance's outbox, dead
// letters.
#include "common/audit_client/grpc_audit_client.h"

#include <atomic>
#include <set>
#include <thread>

#include "common/auth/policy.h"
#include "common/server/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_service.h"
#include "services/audit/memory_audit_store.h"

namespace datalab::audit_client {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;
namespace cv1 = ::datalab::common::v1;

class ServiceCertAuthenticator : public auth::Authenticator {
 public:
  absl::StatusOr<cv1::Principal> Authenticate(const auth::CallInfo& call) override {
    if (!auth::IsKnownService(call.peer_common_name)) return absl::UnauthenticatedError("no");
    cv1::Principal p;
    p.set_kind(cv1::Principal::SERVICE);
    p.set_subject(call.peer_common_name);
    return p;
  }
};

cv1::AuditEvent Event(const std::string& id, const std::string& reason = "ok") {
  cv1::AuditEvent e;
  e.set_event_id(id);
  e.set_service("catalogue");
  e.set_action("dataset.read");
  e.set_reason(reason);
  return e;
}

class GrpcAuditClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server_pair = ca_.Issue("audit");
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());
    WriteFileOrDie(dir_.Sub("server.pem"), server_pair.cert);
    WriteFileOrDie(dir_.Sub("server.key"), server_pair.key);
    auto client = ca_.Issue("catalogue");
    WriteFileOrDie(dir_.Sub("client.pem"), client.cert);
    WriteFileOrDie(dir_.Sub("client.key"), client.key);
    audit::AuditLogOptions o;
    o.store = &store_;
    o.signing_key = *crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'c'));
    auto log = audit::AuditLog::Create(std::move(o));
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
    service_ = std::make_unique<audit::AuditServiceImpl>(log_.get(), authenticator_);
  }

  void TearDown() override { StopAudit(); }

  void StartAudit() {
    server::ServerOptions so;
    so.service_name = "audit";
    so.listen_address = "127.0.0.1:" + std::to_string(port_);
    so.metrics_address = "";
    so.shutdown_grace = absl::Milliseconds(100);
    so.tls = {dir_.Sub("server.pem"), dir_.Sub("server.key"), dir_.Sub("ca.pem")};
    auto s = server::Server::Start(so, {service_.get()}, authenticator_);
    ASSERT_THAT(s, IsOk());
    server_ = std::move(*s);
    port_ = server_->port();
  }

  void StopAudit() {
    if (server_) server_->Shutdown();
    server_.reset();
  }

  std::unique_ptr<GrpcAuditClient> NewClient(absl::Duration sync_deadline = absl::Seconds(2)) {
    GrpcAuditClientOptions o;
    o.target = "127.0.0.1:" + std::to_string(port_);
    o.tls = {dir_.Sub("client.pem"), dir_.Sub("client.key"), dir_.Sub("ca.pem")};
    o.server_name_override = "localhost";
    o.outbox_dir = dir_.Sub("outbox");
    o.sync_deadline = sync_deadline;
    o.initial_backoff = absl::Milliseconds(20);
    o.max_backoff = absl::Milliseconds(200);
    auto c = GrpcAuditClient::Create(o);
    EXPECT_THAT(c, IsOk());
    return c.ok() ? std::move(*c) : nullptr;
  }

  std::set<std::string> StoredIds() {
    std::set<std::string> ids;
    auto entries = log_->GetEntries(0, 1000);
    EXPECT_THAT(entries, IsOk());
    for (const auto& e : *entries) {
      cv1::AuditEvent ev;
      EXPECT_TRUE(ev.ParseFromString(*e.entry));
      ids.insert(ev.event_id());
    }
    return ids;
  }

  TempDir dir_;
  TestCa ca_;
  audit::MemoryAuditStore store_;
  std::unique_ptr<audit::AuditLog> log_;
  std::shared_ptr<auth::Authenticator> authenticator_ = std::make_shared<ServiceCertAuthenticator>();
  std::unique_ptr<audit::AuditServiceImpl> service_;
  std::unique_ptr<server::Server> server_;
  int port_ = 0;
};

TEST_F(GrpcAuditClientTest, AppendSyncStoresAndFailsWithinItsDeadlineWhenAuditIsDown) {
  StartAudit();
  auto client = NewClient();
  ASSERT_THAT(client->AppendSync(Event("s1"), absl::InfiniteFuture()), IsOk());
  cv1::AuditEvent no_id = Event("");
  ASSERT_THAT(client->AppendSync(no_id, absl::InfiniteFuture()), IsOk());  // an id is assigned
  EXPECT_EQ(log_->Committed().size, 2u);
  EXPECT_THAT(client->AppendSync(Event("bad", "pupil A123456789012"), absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kInvalidArgument));
  StopAudit();
  auto start = absl::Now();
  EXPECT_THAT(client->AppendSync(Event("s2"), absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));  // bounded by the deadline, not stuck
  EXPECT_EQ(log_->Committed().size, 2u);
}

// A release must not be refused just because the channel's last attempt to
// connect failed: the call waits (within its deadline) for audit to come back.
TEST_F(GrpcAuditClientTest, AppendSyncWaitsForAnAuditThatIsComingBack) {
  StartAudit();
  auto client = NewClient(absl::Seconds(20));  // returns as soon as audit is back
  ASSERT_THAT(client->AppendSync(Event("w1"), absl::InfiniteFuture()), IsOk());
  StopAudit();  // the port is kept: StartAudit listens on it again
  std::thread restart([this] {
    absl::SleepFor(absl::Milliseconds(500));
    StartAudit();
  });
  absl::Status s = client->AppendSync(Event("w2"), absl::InfiniteFuture());
  restart.join();
  EXPECT_THAT(s, IsOk());
  std::set<std::string> ids = StoredIds();
  EXPECT_TRUE(ids.count("w2"));
}

// The caller's own deadline, when sooner, bounds the wait: nothing may be
// recorded for a caller that has given up.
TEST_F(GrpcAuditClientTest, AppendSyncGivesUpAtTheCallersDeadline) {
  StartAudit();
  auto client = NewClient(absl::Seconds(20));
  StopAudit();
  const absl::Time start = absl::Now();
  EXPECT_THAT(client->AppendSync(Event("late"), start + absl::Milliseconds(300)),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  // With audit serving, a deadline already past still refuses: the event is
  // not recorded for a caller that has gone.
  StartAudit();
  EXPECT_THAT(client->AppendSync(Event("later"), absl::Now() - absl::Milliseconds(1)),
              StatusIs(absl::StatusCode::kUnavailable));
  ASSERT_THAT(client->AppendSync(Event("in time"), absl::Now() + absl::Seconds(20)), IsOk());
  std::set<std::string> ids = StoredIds();
  EXPECT_FALSE(ids.count("late"));
  EXPECT_FALSE(ids.count("later"));
  EXPECT_TRUE(ids.count("in time"));
}

// An audit service that refuses with UNAVAILABLE itself (shutting down, a
// store it cannot write): the channel is ready, so the client does not wait
// and ask again.
class RefusingAudit : public audit::v1::AuditService::Service {
 public:
  grpc::Status AppendEvents(grpc::ServerContext*, const audit::v1::AppendEventsRequest*,
                            audit::v1::AppendEventsResponse*) override {
    ++calls;
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "audit log is shutting down");
  }
  std::atomic<int> calls{0};
};

TEST_F(GrpcAuditClientTest, AnAuditThatRefusesIsNotAskedTwice) {
  RefusingAudit refusing;
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  b.RegisterService(&refusing);
  std::unique_ptr<grpc::Server> srv = b.BuildAndStart();
  ASSERT_NE(srv, nullptr);
  GrpcAuditClientOptions o;
  o.channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                  grpc::InsecureChannelCredentials());
  o.outbox_dir = dir_.Sub("refused-outbox");
  auto client = GrpcAuditClient::Create(o);
  ASSERT_THAT(client, IsOk());
  EXPECT_THAT((*client)->AppendSync(Event("r1"), absl::InfiniteFuture()),
              StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("shutting down")));
  EXPECT_EQ(refusing.calls.load(), 1);
  (*client)->Close();
  srv->Shutdown();
}

TEST_F(GrpcAuditClientTest, OutboxDeliversAfterAuditComesBack) {
  StartAudit();
  StopAudit();  // keep the port, take audit away
  auto client = NewClient();
  for (int i = 0; i < 20; ++i) ASSERT_THAT(client->Append(Event("o" + std::to_string(i))), IsOk());
  EXPECT_THAT(client->Flush(absl::Milliseconds(200)),
              StatusIs(absl::StatusCode::kDeadlineExceeded));
  EXPECT_EQ(client->pending(), 20u);
  StartAudit();
  ASSERT_THAT(client->Flush(absl::Seconds(30)), IsOk());
  std::set<std::string> ids = StoredIds();
  for (int i = 0; i < 20; ++i) EXPECT_TRUE(ids.count("o" + std::to_string(i)));
  EXPECT_EQ(log_->Committed().size, 20u);
}

TEST_F(GrpcAuditClientTest, OutboxSurvivesAClientRestart) {
  StartAudit();
  StopAudit();
  {
    auto crashed = NewClient();
    for (int i = 0; i < 10; ++i) ASSERT_THAT(crashed->Append(Event("r" + std::to_string(i))), IsOk());
    // Gone before audit came back (Close() stands in for the crash: the
    // outbox is all that survives either way).
  }
  StartAudit();
  auto next = NewClient();
  EXPECT_EQ(next->pending(), 10u);
  ASSERT_THAT(next->Flush(absl::Seconds(30)), IsOk());
  std::set<std::string> ids = StoredIds();
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(ids.count("r" + std::to_string(i)));
  // Redelivery is deduplicated by event id.
  ASSERT_THAT(next->Append(Event("r3")), IsOk());
  ASSERT_THAT(next->Flush(absl::Seconds(30)), IsOk());
  EXPECT_EQ(log_->Committed().size, 10u);
}

TEST_F(GrpcAuditClientTest, RefusedEventsBecomeDeadLettersWithoutBlockingOthers) {
  StartAudit();
  auto client = NewClient();
  ASSERT_THAT(client->Append(Event("d1")), IsOk());
  ASSERT_THAT(client->Append(Event("d2", "about H801200001001")), IsOk());
  ASSERT_THAT(client->Append(Event("d3")), IsOk());
  ASSERT_THAT(client->Flush(absl::Seconds(30)), IsOk());
  EXPECT_EQ(client->dead_letters(), 1u);
  std::set<std::string> ids = StoredIds();
  EXPECT_TRUE(ids.count("d1"));
  EXPECT_TRUE(ids.count("d3"));
  EXPECT_FALSE(ids.count("d2"));
}

TEST_F(GrpcAuditClientTest, RequiresAnOutbox) {
  GrpcAuditClientOptions o;
  o.target = "127.0.0.1:1";
  EXPECT_THAT(GrpcAuditClient::Create(o), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace datalab::audit_client
