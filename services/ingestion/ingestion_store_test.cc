// One conformance suite run against both IngestionStore implementations,
// plus a reopen test for RocksDB.
#include "services/ingestion/ingestion_store.h"

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::ingestion {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::datalab::testing::TempDir;

v1::StagedUpload Upload(const std::string& id, int64_t bytes = 0) {
  v1::StagedUpload u;
  u.mutable_session()->set_name("uploads/" + id);
  u.mutable_session()->set_bytes_received(bytes);
  u.set_wrapped_data_key("wrapped");
  return u;
}
v1::JobRecord Job(const std::string& id, v1::Job::State s = v1::Job::QUEUED) {
  v1::JobRecord j;
  j.mutable_job()->set_name("jobs/" + id);
  j.mutable_job()->set_state(s);
  j.set_step(v1::STEP_PROCESS);
  return j;
}

class StoreTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    if (GetParam()) {
      auto s = OpenRocksDbIngestionStore(dir_.Sub("db"));
      ASSERT_THAT(s, IsOk());
      store_ = std::move(*s);
    } else {
      store_ = NewMemoryIngestionStore();
    }
  }
  TempDir dir_;
  std::unique_ptr<IngestionStore> store_;
};

TEST_P(StoreTest, UploadsAndChunksInOrder) {
  EXPECT_THAT(store_->GetUpload("u1").status(), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(store_->PutUpload(Upload("u1")), IsOk());
  for (int i = 0; i < 300; ++i) {
    ASSERT_THAT(store_->AppendChunk(Upload("u1", i + 1), i, "c" + std::to_string(i)), IsOk());
  }
  ASSERT_THAT(store_->AppendChunk(Upload("u2", 1), 0, "other"), IsOk());
  auto u = store_->GetUpload("u1");
  ASSERT_THAT(u, IsOk());
  EXPECT_EQ(u->session().bytes_received(), 300);
  int64_t expect = 0;
  ASSERT_THAT(store_->ForEachChunk("u1",
                                   [&](int64_t i, const std::string& c) {
                                     EXPECT_EQ(i, expect);
                                     EXPECT_EQ(c, "c" + std::to_string(i));
                                     ++expect;
                                     return true;
                                   }),
              IsOk());
  EXPECT_EQ(expect, 300);
}

TEST_P(StoreTest, JobsListInIdOrderWithPaging) {
  for (const char* id : {"003", "001", "002"}) {
    ASSERT_THAT(store_->CompleteUpload(Upload(std::string("u") + id), Job(id)), IsOk());
  }
  auto all = store_->ListJobs("", 10);
  ASSERT_THAT(all, IsOk());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].job().name(), "jobs/001");
  auto after = store_->ListJobs("001", 1);
  ASSERT_THAT(after, IsOk());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].job().name(), "jobs/002");
  EXPECT_THAT(store_->GetJob("nope").status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreTest, FinishJobDeletesChunksAndRecordsReportAndDedup) {
  ASSERT_THAT(store_->AppendChunk(Upload("u1", 1), 0, "secret"), IsOk());
  ASSERT_THAT(store_->AppendChunk(Upload("u10", 1), 0, "keep"), IsOk());  // prefix sibling
  v1::JobRecord j = Job("j1", v1::Job::COMMITTED);
  v1::ValidationReport r;
  r.set_rows_total(5);
  v1::StagedUpload u = Upload("u1", 1);
  u.clear_wrapped_data_key();
  EXPECT_THAT(store_->FindDuplicate("k"), IsOk());
  ASSERT_THAT(store_->FinishJob(j, r, u, "k"), IsOk());
  int n = 0;
  ASSERT_THAT(store_->ForEachChunk("u1", [&](int64_t, const std::string&) { return ++n, true; }),
              IsOk());
  EXPECT_EQ(n, 0);
  ASSERT_THAT(store_->ForEachChunk("u10", [&](int64_t, const std::string&) { return ++n, true; }),
              IsOk());
  EXPECT_EQ(n, 1);
  EXPECT_TRUE(store_->GetUpload("u1")->wrapped_data_key().empty());
  EXPECT_EQ(store_->GetReport("j1")->rows_total(), 5);
  auto dup = store_->FindDuplicate("k");
  ASSERT_THAT(dup, IsOk());
  ASSERT_TRUE(dup->has_value());
  EXPECT_EQ(**dup, "j1");
  EXPECT_FALSE(store_->FindDuplicate("other")->has_value());
  EXPECT_THAT(store_->GetReport("j2").status(), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(StoreTest, PutJobAndReport) {
  ASSERT_THAT(store_->PutJobAndReport(Job("j"), v1::ValidationReport()), IsOk());
  EXPECT_THAT(store_->GetReport("j"), IsOk());
  EXPECT_THAT(store_->GetJob("j"), IsOk());
}

INSTANTIATE_TEST_SUITE_P(Both, StoreTest, ::testing::Values(false, true),
                         [](const auto& i) { return i.param ? "RocksDb" : "Memory"; });

TEST(RocksDbStoreTest, SurvivesReopen) {
  TempDir dir;
  {
    auto s = OpenRocksDbIngestionStore(dir.Sub("db"));
    ASSERT_THAT(s, IsOk());
    ASSERT_THAT((*s)->CompleteUpload(Upload("u"), Job("j")), IsOk());
    ASSERT_THAT((*s)->AppendChunk(Upload("u", 1), 0, "x"), IsOk());
  }
  auto s = OpenRocksDbIngestionStore(dir.Sub("db"));
  ASSERT_THAT(s, IsOk());
  EXPECT_THAT((*s)->GetJob("j"), IsOk());
  EXPECT_EQ((*s)->GetUpload("u")->session().bytes_received(), 1);
}

}  // namespace
}  // namespace datalab::ingestion
