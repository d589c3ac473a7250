// Fault test: the real datalab-audit binary is killed with SIGKILL at random
// moments while several clients append; after each restart every
// acknowledged event must be present and the log must verify.
// Iterations: env DATALAB_FAULT_ITERATIONS (default 5). Binary: env
// DATALAB_BIN_DIR, else the build's bin directory (common/testing/paths.h).
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/crypto/ed25519.h"
#include "common/server/tls.h"
#include "common/testing/paths.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "datalab/audit/v1/audit.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/rocksdb_audit_store.h"
#include "services/audit/verifier.h"

namespace datalab::audit {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;

class KillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    binary_ = ::datalab::testing::BinDir() + "/datalab-audit";
    if (!std::filesystem::exists(binary_)) {
      GTEST_SKIP() << "datalab-audit is not built (DATALAB_BIN_DIR)";
    }
    auto server_pair = ca_.Issue("audit");
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());
    WriteFileOrDie(dir_.Sub("server.pem"), server_pair.cert);
    WriteFileOrDie(dir_.Sub("server.key"), server_pair.key);
    auto client = ca_.Issue("query");
    WriteFileOrDie(dir_.Sub("client.pem"), client.cert);
    WriteFileOrDie(dir_.Sub("client.key"), client.key);
    auto signing = crypto::Ed25519PrivateKey::Generate();
    ASSERT_THAT(signing, IsOk());
    WriteFileOrDie(dir_.Sub("signing.pem"), std::string(signing->ToPem()->AsStringView()));
    const auto& raw = signing->PublicKey()->Raw();
    public_key_raw_ = std::string(raw.begin(), raw.end());
    auto gateway = crypto::Ed25519PrivateKey::Generate();
    WriteFileOrDie(dir_.Sub("gateway.pub"), *gateway->PublicKey()->ToPem());
    std::filesystem::create_directories(dir_.Sub("data"));
  }

  void TearDown() override { Stop(SIGKILL); }

  // Starts the binary and waits for its port file; returns the gRPC port.
  int Start() {
    std::filesystem::remove(dir_.Sub("ports.json"));
    std::vector<std::string> args = {
        binary_,
        "--listen=127.0.0.1:0",
        "--metrics_listen=",
        "--port_file=" + dir_.Sub("ports.json"),
        "--tls_cert=" + dir_.Sub("server.pem"),
        "--tls_key=" + dir_.Sub("server.key"),
        "--tls_ca=" + dir_.Sub("ca.pem"),
        "--data_dir=" + dir_.Sub("data"),
        "--signing_key=" + dir_.Sub("signing.pem"),
        "--assertion_public_key=" + dir_.Sub("gateway.pub"),
        "--sign_interval_seconds=1",
        "--group_commit_max=64",
        "--log_level=warning",
        "--shutdown_grace_seconds=1",
    };
    pid_ = ::fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(binary_.c_str(), argv.data());
      ::_exit(127);
    }
    for (int i = 0; i < 300; ++i) {
      std::ifstream in(dir_.Sub("ports.json"));
      std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      auto pos = content.find("\"grpc_port\":");
      if (pos != std::string::npos) return std::atoi(content.c_str() + pos + 12);
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        ADD_FAILURE() << "datalab-audit exited during startup, status " << status;
        return 0;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "datalab-audit did not start";
    return 0;
  }

  void Stop(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::unique_ptr<v1::AuditService::Stub> Stub(int port) {
    auto ch = server::MakeChannel("127.0.0.1:" + std::to_string(port),
                                  {dir_.Sub("client.pem"), dir_.Sub("client.key"), dir_.Sub("ca.pem")},
                                  {.server_name_override = "localhost"});
    EXPECT_THAT(ch, IsOk());
    return v1::AuditService::NewStub(*ch);
  }

  std::string binary_;
  std::string public_key_raw_;
  TempDir dir_;
  TestCa ca_;
  pid_t pid_ = -1;
};

TEST_F(KillTest, NoAcknowledgedEventIsLostAcrossKill9) {
  int iterations = 5;
  if (const char* env = std::getenv("DATALAB_FAULT_ITERATIONS")) iterations = std::max(1, std::atoi(env));
  std::mt19937 rng(std::random_device{}());
  std::mutex mu;
  std::set<std::string> acked;
  std::atomic<uint64_t> next_id{0};

  for (int it = 0; it < iterations; ++it) {
    int port = Start();
    ASSERT_GT(port, 0);
    auto stub = Stub(port);
    std::atomic<bool> stop{false};
    std::vector<std::thread> clients;
    for (int c = 0; c < 8; ++c) {
      clients.emplace_back([&, c] {
        std::mt19937 local(static_cast<unsigned>(c * 7919 + it));
        while (!stop.load()) {
          v1::AppendEventsRequest req;
          int n = 1 + static_cast<int>(local() % 4);
          for (int k = 0; k < n; ++k) {
            auto* e = req.add_events();
            e->set_event_id("k" + std::to_string(next_id.fetch_add(1)));
            e->set_service("query");
            e->set_action("query.run");
            e->mutable_actor()->set_subject("users/r" + std::to_string(c));
          }
          grpc::ClientContext ctx;
          ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
          v1::AppendEventsResponse resp;
          if (stub->AppendEvents(&ctx, req, &resp).ok()) {
            std::lock_guard<std::mutex> l(mu);
            for (const auto& e : req.events()) acked.insert(e.event_id());
          } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 1400));
    Stop(SIGKILL);
    stop.store(true);
    for (auto& t : clients) t.join();
  }
  // A final clean start proves the store is accepted after the last kill
  // (startup checks: tree state, signed heads, witness), then a clean stop.
  ASSERT_GT(Start(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // let it sign a head
  Stop(SIGTERM);

  auto store = RocksDbAuditStore::Open(dir_.Sub("data") + "/audit-db");
  ASSERT_THAT(store, IsOk());
  std::set<std::string> stored;
  std::stringstream jsonl;
  jsonl << ExportHeaderLine(public_key_raw_, "") << "\n";
  ASSERT_THAT((*store)->ScanEntries(0, UINT64_MAX, [&](const StoredEntry& e) {
    common::v1::AuditEvent ev;
    EXPECT_TRUE(e.entry.has_value() && ev.ParseFromString(*e.entry));
    EXPECT_TRUE(stored.insert(ev.event_id()).second) << "event stored twice";
    jsonl << ExportEntryLine({e.index, e.entry, e.pruned, e.leaf_hash}) << "\n";
    return true;
  }),
              IsOk());
  ASSERT_THAT((*store)->ScanTreeHeads(UINT64_MAX, [&](const TreeHead& h) {
    jsonl << ExportHeadLine(h) << "\n";
    return true;
  }),
              IsOk());
  size_t lost = 0;
  for (const std::string& id : acked) lost += stored.count(id) == 0;
  EXPECT_EQ(lost, 0u) << "of " << acked.size() << " acknowledged events";
  EXPECT_GT(acked.size(), 0u);
  VerifyReport r = VerifyJsonLines(jsonl);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_GT(r.heads_verified, 0u);
  std::cout << "acknowledged " << acked.size() << ", stored " << stored.size() << ", heads "
            << r.heads_verified << "\n";
}

}  // namespace
}  // namespace datalab::audit
