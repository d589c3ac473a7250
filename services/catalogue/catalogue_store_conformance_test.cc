// One suite, run against the in-memory and the RocksDB store, plus a restart
// test for the RocksDB store (close, reopen, everything still there).
#include <functional>
#include <memory>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/catalogue/memory_catalogue_store.h"
#include "services/catalogue/rocksdb_catalogue_store.h"

namespace datalab::catalogue {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::datalab::testing::TempDir;

struct Backend {
  std::string name;
  std::function<std::unique_ptr<CatalogueStore>(const std::string& dir)> open;
};

class StoreConformance : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { store_ = GetParam().open(dir_.Sub("db")); ASSERT_NE(store_, nullptr); }
  TempDir dir_;
  std::unique_ptr<CatalogueStore> store_;
};

cv1::Dataset Dataset(const std::string& id) {
  cv1::Dataset d;
  d.set_name("datasets/" + id);
  d.set_title(id);
  return d;
}

cv1::Schema Schema(const std::string& id, int v) {
  cv1::Schema s;
  s.set_name("datasets/" + id + "/schemas/" + std::to_string(v));
  s.set_version(v);
  s.add_columns()->set_name("c" + std::to_string(v));
  return s;
}

cv1::DatasetVersion Version(const std::string& id, int v) {
  cv1::DatasetVersion x;
  x.set_name("datasets/" + id + "/versions/" + std::to_string(v));
  x.set_version(v);
  x.set_row_count(v * 10);
  return x;
}

TEST_P(StoreConformance, MissingRecordsAreNotFound) {
  EXPECT_THAT(store_->GetDataset("census"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetSchema("census", 1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetVersion("census", 1), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetProject("p"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(store_->GetUser("u"), StatusIs(absl::StatusCode::kNotFound));
  auto floor = store_->GetTrustFloor();
  ASSERT_THAT(floor, IsOk());
  EXPECT_FALSE(floor->has_value());
  auto req = store_->GetRequest("r1");
  ASSERT_THAT(req, IsOk());
  EXPECT_FALSE(req->has_value());
  auto list = store_->ListDatasets();
  ASSERT_THAT(list, IsOk());
  EXPECT_TRUE(list->empty());
}

TEST_P(StoreConformance, ApplyWritesEveryKindAtOnce) {
  CatalogueWrite w;
  w.datasets = {Dataset("census"), Dataset("attendance")};
  w.schemas = {Schema("census", 1), Schema("census", 2), Schema("attendance", 1)};
  w.versions = {Version("census", 1)};
  cv1::Project p;
  p.set_name("projects/gap");
  p.set_title("gap");
  w.projects = {p};
  cv1::User u;
  u.set_name("users/abc|def");
  u.set_display_name("A");
  w.users = {u};
  cv1::TrustFloor f;
  f.mutable_settings()->set_threshold(12);
  w.floor = f;
  w.request_ids = {{"req-1", "datasets/census/versions/1"}};
  ASSERT_THAT(store_->Apply(w), IsOk());

  auto d = store_->GetDataset("census");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->title(), "census");
  auto datasets = store_->ListDatasets();
  ASSERT_THAT(datasets, IsOk());
  ASSERT_EQ(datasets->size(), 2u);
  EXPECT_EQ((*datasets)[0].name(), "datasets/attendance");  // by id
  auto schemas = store_->ListSchemas("census");
  ASSERT_THAT(schemas, IsOk());
  ASSERT_EQ(schemas->size(), 2u);  // not attendance's
  EXPECT_EQ((*schemas)[0].version(), 1);
  EXPECT_EQ((*schemas)[1].version(), 2);
  auto s2 = store_->GetSchema("census", 2);
  ASSERT_THAT(s2, IsOk());
  EXPECT_EQ(s2->columns(0).name(), "c2");
  EXPECT_THAT(store_->GetVersion("census", 1), IsOk());
  EXPECT_THAT(store_->GetProject("gap"), IsOk());
  auto user = store_->GetUser("abc|def");
  ASSERT_THAT(user, IsOk());
  EXPECT_EQ(user->display_name(), "A");
  auto floor = store_->GetTrustFloor();
  ASSERT_THAT(floor, IsOk());
  ASSERT_TRUE(floor->has_value());
  EXPECT_EQ((*floor)->settings().threshold(), 12);
  auto req = store_->GetRequest("req-1");
  ASSERT_THAT(req, IsOk());
  EXPECT_EQ(**req, "datasets/census/versions/1");
}

TEST_P(StoreConformance, VersionsListInNumericOrderPastNine) {
  CatalogueWrite w;
  for (int v : {10, 2, 1, 11, 9}) w.versions.push_back(Version("ks4", v));
  w.versions.push_back(Version("ks4_extra", 1));  // a longer id sharing the prefix
  ASSERT_THAT(store_->Apply(w), IsOk());
  auto list = store_->ListVersions("ks4");
  ASSERT_THAT(list, IsOk());
  std::vector<int> got;
  for (const auto& v : *list) got.push_back(v.version());
  EXPECT_EQ(got, (std::vector<int>{1, 2, 9, 10, 11}));
}

TEST_P(StoreConformance, OverwriteReplaces) {
  CatalogueWrite w;
  w.datasets = {Dataset("census")};
  ASSERT_THAT(store_->Apply(w), IsOk());
  w.datasets[0].set_title("Census v2");
  ASSERT_THAT(store_->Apply(w), IsOk());
  auto d = store_->GetDataset("census");
  ASSERT_THAT(d, IsOk());
  EXPECT_EQ(d->title(), "Census v2");
  auto all = store_->ListDatasets();
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->size(), 1u);
}

TEST_P(StoreConformance, EmptyWriteIsOk) { EXPECT_THAT(store_->Apply({}), IsOk()); }

INSTANTIATE_TEST_SUITE_P(
    Backends, StoreConformance,
    ::testing::Values(
        Backend{"memory",
                [](const std::string&) -> std::unique_ptr<CatalogueStore> {
                  return std::make_unique<MemoryCatalogueStore>();
                }},
        Backend{"rocksdb",
                [](const std::string& dir) -> std::unique_ptr<CatalogueStore> {
                  auto s = RocksDbCatalogueStore::Open({dir});
                  return s.ok() ? std::move(*s) : nullptr;
                }}),
    [](const auto& info) { return info.param.name; });

TEST(RocksDbCatalogueStoreTest, SurvivesRestart) {
  TempDir dir;
  {
    auto store = RocksDbCatalogueStore::Open({dir.Sub("db")});
    ASSERT_THAT(store, IsOk());
    CatalogueWrite w;
    w.datasets = {Dataset("census")};
    w.schemas = {Schema("census", 1)};
    w.versions = {Version("census", 1)};
    cv1::TrustFloor f;
    f.mutable_settings()->set_threshold(11);
    w.floor = f;
    w.request_ids = {{"r", "datasets/census/versions/1"}};
    ASSERT_THAT((*store)->Apply(w), IsOk());
  }
  auto store = RocksDbCatalogueStore::Open({dir.Sub("db")});
  ASSERT_THAT(store, IsOk());
  EXPECT_THAT((*store)->GetDataset("census"), IsOk());
  EXPECT_THAT((*store)->GetSchema("census", 1), IsOk());
  EXPECT_THAT((*store)->GetVersion("census", 1), IsOk());
  auto floor = (*store)->GetTrustFloor();
  ASSERT_THAT(floor, IsOk());
  ASSERT_TRUE(floor->has_value());
  EXPECT_EQ((*floor)->settings().threshold(), 11);
  auto req = (*store)->GetRequest("r");
  ASSERT_THAT(req, IsOk());
  EXPECT_TRUE(req->has_value());
}

}  // namespace
}  // namespace datalab::catalogue
