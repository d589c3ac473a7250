// kill -9 during KEK rotation leaves every key usable: a forked child runs
// the rotation against the real RocksDB store and is SIGKILLed at a named
// step (crash hook) or at a random moment while rotating back and forth;
// the parent then reopens the store and checks that every key is wrapped
// under one KEK (old or new, never a mix), that the service starts with
// both KEKs given, and that pseudonyms are unchanged.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/pseudonymisation/pseudonymisation.h"
#include "services/pseudonymisation/rocksdb_pseudonymisation_store.h"

namespace datalab::pseudonymisation {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;

constexpr char kUpn[] = "B801200005001";

Kek FixedKek(char fill) {
  return std::move(*Kek::FromBytes(crypto::SecureBytes(crypto::ByteView(std::string(32, fill)))));
}

common::v1::Principal Admin() {
  common::v1::Principal p;
  p.set_kind(common::v1::Principal::USER);
  p.set_subject("users/alice");
  p.add_roles(common::v1::ADMIN);
  return p;
}

struct Env {
  audit_client::FakeAuditClient audit;
  SystemClock clock;
};

absl::StatusOr<std::unique_ptr<Pseudonymisation>> Open(
    PseudonymisationStore* store, Env* env, Kek kek, std::optional<Kek> new_kek,
    std::function<void(std::string_view)> hook = nullptr) {
  PseudonymisationOptions o;
  o.store = store;
  o.audit = &env->audit;
  o.clock = &env->clock;
  o.kek = std::move(kek);
  o.new_kek = std::move(new_kek);
  o.crash_hook = std::move(hook);
  return Pseudonymisation::Create(std::move(o));
}

std::string Pseudonym(Pseudonymisation& d, const std::string& domain) {
  v1::PseudonymiseRequest req;
  req.set_domain(domain);
  req.add_identifiers(domain == "domains/pupil" ? kUpn : "T-1001");
  v1::PseudonymiseResponse resp;
  BatchCounts c;
  if (!d.Pseudonymise(req, &resp, &c).ok() || resp.results_size() != 1) return "";
  return resp.results(0).pseudonym();
}

class KekCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = RocksDbPseudonymisationStore::Open({dir_.Sub("db")});
    ASSERT_THAT(store, IsOk());
    Env env;
    auto d = Open(store->get(), &env, FixedKek('A'), std::nullopt);
    ASSERT_THAT(d, IsOk());
    for (auto [id, kind] : {std::pair{"pupil", v1::UPN}, std::pair{"staff", v1::STAFF_NUMBER}}) {
      v1::CreateDomainRequest req;
      req.set_domain_id(id);
      req.mutable_domain()->set_kind(kind);
      ASSERT_THAT((*d)->CreateDomain(Admin(), req), IsOk());
    }
    ASSERT_THAT((*d)->RotateDomainKey(Admin(), "domains/pupil"), IsOk());
    pupil_ = Pseudonym(**d, "domains/pupil");
    staff_ = Pseudonym(**d, "domains/staff");
    ASSERT_FALSE(pupil_.empty());
  }

  // Runs `body` in a child process; returns the wait status.
  int RunChild(const std::function<void()>& body, int kill_after_ms = -1) {
    const pid_t pid = fork();
    if (pid == 0) {
      body();
      _exit(0);
    }
    if (kill_after_ms >= 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kill_after_ms));
      kill(pid, SIGKILL);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  }

  // Every key under one KEK, the one the KEK state names; returns its id.
  std::string CheckConsistent() {
    auto store = RocksDbPseudonymisationStore::Open({dir_.Sub("db")});
    EXPECT_THAT(store, IsOk());
    auto state = (*store)->GetKekState();
    EXPECT_THAT(state, IsOk());
    auto domains = (*store)->ListDomains();
    EXPECT_THAT(domains, IsOk());
    for (const auto& d : *domains) {
      EXPECT_EQ(d.linkage_key().kek_id(), state->kek_id());
      for (const auto& v : d.versions()) EXPECT_EQ(v.kek_id(), state->kek_id());
    }
    // The service starts with both KEKs and pseudonyms did not change.
    Env env;
    auto d = Open(store->get(), &env, FixedKek('A'), FixedKek('B'));
    EXPECT_THAT(d, IsOk());
    if (d.ok()) {
      EXPECT_EQ(Pseudonym(**d, "domains/pupil"), pupil_);
      EXPECT_EQ(Pseudonym(**d, "domains/staff"), staff_);
    }
    // And with only the KEK the state names.
    const char only = state->kek_id() == FixedKek('A').id() ? 'A' : 'B';
    auto single = Open(store->get(), &env, FixedKek(only), std::nullopt);
    EXPECT_THAT(single, IsOk());
    return state->kek_id();
  }

  TempDir dir_;
  std::string pupil_;
  std::string staff_;
};

void RotateWithCrashAt(const std::string& db, const std::string& step) {
  auto store = RocksDbPseudonymisationStore::Open({db});
  if (!store.ok()) _exit(2);
  Env env;
  auto d = Open(store->get(), &env, FixedKek('A'), FixedKek('B'), [step](std::string_view s) {
    if (s == step) raise(SIGKILL);
  });
  if (!d.ok()) _exit(3);
  (void)(*d)->RotateKek(Admin(), FixedKek('B'));
  _exit(4);  // the hook should have killed us
}

TEST_F(KekCrashTest, KilledBeforeTheAtomicWriteLeavesEveryKeyUnderTheOldKek) {
  const std::string db = dir_.Sub("db");
  int status = RunChild([&] { RotateWithCrashAt(db, "kek_rotation:rewrapped"); });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(CheckConsistent(), FixedKek('A').id());
}

TEST_F(KekCrashTest, KilledAfterTheAtomicWriteLeavesEveryKeyUnderTheNewKek) {
  const std::string db = dir_.Sub("db");
  int status = RunChild([&] { RotateWithCrashAt(db, "kek_rotation:written"); });
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
  EXPECT_EQ(CheckConsistent(), FixedKek('B').id());
}

TEST_F(KekCrashTest, KilledAtRandomMomentsWhileRotatingBackAndForth) {
  const std::string db = dir_.Sub("db");
  std::mt19937 rng(20261123);
  std::uniform_int_distribution<int> delay(30, 400);
  for (int round = 0; round < 4; ++round) {
    int status = RunChild(
        [&] {
          auto store = RocksDbPseudonymisationStore::Open({db});
          if (!store.ok()) _exit(2);
          Env env;
          auto d = Open(store->get(), &env, FixedKek('A'), FixedKek('B'));
          if (!d.ok()) _exit(3);
          for (int i = 0;; ++i) (void)(*d)->RotateKek(Admin(), FixedKek(i % 2 ? 'A' : 'B'));
        },
        delay(rng));
    ASSERT_TRUE(WIFSIGNALED(status)) << "round " << round;
    CheckConsistent();
  }
}

}  // namespace
}  // namespace datalab::pseudonymisation
