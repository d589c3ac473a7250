// One conformance suite run against both PseudonymisationStore
// implementations, plus a restart test of the RocksDB store.
#include <functional>
#include <memory>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/pseudonymisation/memory_pseudonymisation_store.h"
#include "services/pseudonymisation/rocksdb_pseudonymisation_store.h"

namespace datalab::pseudonymisation {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::datalab::testing::TempDir;

v1::StoredDomain Domain(const std::string& id, const std::string& kek = "aaaa") {
  v1::StoredDomain d;
  d.mutable_domain()->set_name("domains/" + id);
  d.mutable_domain()->set_kind(v1::UPN);
  d.mutable_domain()->set_current_key_version(1);
  d.mutable_linkage_key()->set_kek_id(kek);
  d.mutable_linkage_key()->set_wrapped("L-" + id);
  auto* v = d.add_versions();
  v->set_version(1);
  v->set_kek_id(kek);
  v->set_wrapped("K1-" + id);
  return d;
}

v1::ReidentificationRequest Request(const std::string& id) {
  v1::ReidentificationRequest r;
  r.set_name("reidentificationRequests/" + id);
  r.set_state(v1::ReidentificationRequest::PENDING);
  return r;
}

struct StoreFactory {
  std::string name;
  std::function<std::unique_ptr<PseudonymisationStore>(const std::string& dir)> make;
};

class StoreConformanceTest : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { store_ = GetParam().make(dir_.Sub("db")); }
  TempDir dir_;
  std::unique_ptr<PseudonymisationStore> store_;
};

TEST_P(StoreConformanceTest, DomainsCreateGetListUpdate) {
  EXPECT_THAT(store_->GetDomain("domains/pupil"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(store_->CreateDomain(Domain("pupil")), IsOk());
  ASSERT_THAT(store_->CreateDomain(Domain("staff")), IsOk());
  EXPECT_THAT(store_->CreateDomain(Domain("pupil")), StatusIs(absl::StatusCode::kAlreadyExists));
  auto got = store_->GetDomain("domains/pupil");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->linkage_key().wrapped(), "L-pupil");
  auto list = store_->ListDomains();
  ASSERT_THAT(list, IsOk());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].domain().name(), "domains/pupil");
  EXPECT_EQ((*list)[1].domain().name(), "domains/staff");
  v1::StoredDomain changed = *got;
  changed.mutable_domain()->set_current_key_version(2);
  ASSERT_THAT(store_->UpdateDomain(changed), IsOk());
  EXPECT_EQ(store_->GetDomain("domains/pupil")->domain().current_key_version(), 2);
  EXPECT_THAT(store_->UpdateDomain(Domain("nobody")), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreConformanceTest, KekStateAndAtomicReplace) {
  EXPECT_THAT(store_->GetKekState(), StatusIs(absl::StatusCode::kNotFound));
  v1::KekState s;
  s.set_kek_id("aaaa");
  ASSERT_THAT(store_->PutKekState(s), IsOk());
  ASSERT_THAT(store_->CreateDomain(Domain("pupil")), IsOk());
  ASSERT_THAT(store_->CreateDomain(Domain("staff")), IsOk());
  v1::KekState next;
  next.set_kek_id("bbbb");
  // One unknown domain: nothing at all is written.
  EXPECT_THAT(store_->ReplaceKeysAndKek({Domain("pupil", "bbbb"), Domain("ghost", "bbbb")}, next),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(store_->GetKekState()->kek_id(), "aaaa");
  EXPECT_EQ(store_->GetDomain("domains/pupil")->linkage_key().kek_id(), "aaaa");
  ASSERT_THAT(store_->ReplaceKeysAndKek({Domain("pupil", "bbbb"), Domain("staff", "bbbb")}, next),
              IsOk());
  EXPECT_EQ(store_->GetKekState()->kek_id(), "bbbb");
  auto all = store_->ListDomains();
  ASSERT_THAT(all, IsOk());
  for (const auto& d : *all) EXPECT_EQ(d.linkage_key().kek_id(), "bbbb");
}

TEST_P(StoreConformanceTest, VaultEntriesPerDomain) {
  v1::VaultEntry e;
  e.set_key_version(1);
  e.set_sealed("sealed-1");
  ASSERT_THAT(store_->PutVaultEntries("domains/pupil", {{"p1", e}, {"p2", e}}), IsOk());
  EXPECT_EQ(store_->GetVaultEntry("domains/pupil", "p1")->sealed(), "sealed-1");
  EXPECT_THAT(store_->GetVaultEntry("domains/staff", "p1"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetVaultEntry("domains/pupil", "p3"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->PutVaultEntries("domains/pupil", {}), IsOk());
}

TEST_P(StoreConformanceTest, ReidRequestsPaged) {
  for (const char* id : {"c", "a", "b"}) ASSERT_THAT(store_->PutReidRequest(Request(id)), IsOk());
  auto r = store_->GetReidRequest("reidentificationRequests/a");
  ASSERT_THAT(r, IsOk());
  r->set_state(v1::ReidentificationRequest::APPROVED);
  ASSERT_THAT(store_->PutReidRequest(*r), IsOk());
  EXPECT_EQ(store_->GetReidRequest("reidentificationRequests/a")->state(),
            v1::ReidentificationRequest::APPROVED);
  EXPECT_THAT(store_->GetReidRequest("reidentificationRequests/z"),
              StatusIs(absl::StatusCode::kNotFound));
  auto first = store_->ListReidRequests("", 2);
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].name(), "reidentificationRequests/a");
  EXPECT_EQ((*first)[1].name(), "reidentificationRequests/b");
  auto rest = store_->ListReidRequests((*first)[1].name(), 2);
  ASSERT_THAT(rest, IsOk());
  ASSERT_EQ(rest->size(), 1u);
  EXPECT_EQ((*rest)[0].name(), "reidentificationRequests/c");
}

INSTANTIATE_TEST_SUITE_P(
    Stores, StoreConformanceTest,
    ::testing::Values(
        StoreFactory{"memory",
                     [](const std::string&) -> std::unique_ptr<PseudonymisationStore> {
                       return std::make_unique<MemoryPseudonymisationStore>();
                     }},
        StoreFactory{"rocksdb",
                     [](const std::string& dir) -> std::unique_ptr<PseudonymisationStore> {
                       auto s = RocksDbPseudonymisationStore::Open({dir});
                       EXPECT_THAT(s, IsOk());
                       return std::move(*s);
                     }}),
    [](const ::testing::TestParamInfo<StoreFactory>& i) { return i.param.name; });

TEST(RocksDbPseudonymisationStoreTest, DataSurvivesRestart) {
  TempDir dir;
  {
    auto s = RocksDbPseudonymisationStore::Open({dir.Sub("db")});
    ASSERT_THAT(s, IsOk());
    ASSERT_THAT((*s)->CreateDomain(Domain("pupil")), IsOk());
    v1::KekState k;
    k.set_kek_id("aaaa");
    ASSERT_THAT((*s)->PutKekState(k), IsOk());
    v1::VaultEntry e;
    e.set_sealed("x");
    ASSERT_THAT((*s)->PutVaultEntries("domains/pupil", {{"p", e}}), IsOk());
    ASSERT_THAT((*s)->PutReidRequest(Request("r1")), IsOk());
  }
  auto s = RocksDbPseudonymisationStore::Open({dir.Sub("db")});
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ((*s)->GetDomain("domains/pupil")->linkage_key().wrapped(), "L-pupil");
  EXPECT_EQ((*s)->GetKekState()->kek_id(), "aaaa");
  EXPECT_EQ((*s)->GetVaultEntry("domains/pupil", "p")->sealed(), "x");
  EXPECT_THAT((*s)->GetReidRequest("reidentificationRequests/r1"), IsOk());
}

}  // namespace
}  // namespace datalab::pseudonymisation
