// One conformance suite for QueryStore, run against the RocksDB and the
// in-memory backends, plus crash consistency and restart tests.
#include <memory>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/rowbatch/string_column.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/kv_query_store.h"
#include "services/query/testing_support.h"

namespace datalab::query {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::datalab::testing::TempDir;
using ::testing::HasSubstr;
using namespace ::datalab::query::testing;  // NOLINT

enum class Kind { kMemory, kRocksDb };

class QueryStoreTest : public ::testing::TestWithParam<Kind> {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    store_.reset();
    if (GetParam() == Kind::kRocksDb) {
      backend_.reset();
      auto b = OpenRocksDbBackend(dir_.Sub("db"));
      ASSERT_THAT(b, IsOk());
      backend_ = std::move(*b);
    } else if (backend_ == nullptr) {
      backend_ = NewMemoryBackend();
    }
    KvQueryStore::Options o;
    o.backend = backend_;
    o.max_cached_bytes = 1 << 20;
    auto s = KvQueryStore::Open(o);
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }
  // Values of a column of a loaded version, as text.
  std::vector<std::string> Column(const std::string& dataset, const std::string& col,
                                  std::optional<int64_t> v = std::nullopt) {
    auto m = store_->ResolveVersion(dataset, v);
    EXPECT_THAT(m, IsOk());
    auto lv = store_->Load(*m);
    EXPECT_THAT(lv, IsOk());
    const engine::Column* c = (*lv)->table->Find(col);
    std::vector<std::string> out;
    for (const auto& ch : c->chunks()) {
      for (uint32_t r = 0; r < ch.num_rows; ++r) {
        if (ch.IsMissing(r)) out.push_back("<missing>");
        else if (c->type() == engine::ColumnType::kCode) out.push_back(c->dictionary()[ch.u32[r]]);
        else if (c->type() == engine::ColumnType::kInt64) out.push_back(std::to_string(ch.i64[r]));
        else if (c->type() == engine::ColumnType::kDouble) out.push_back(std::to_string(ch.f64[r]));
        else out.push_back("id" + std::to_string(ch.u32[r]));
      }
    }
    return out;
  }

  TempDir dir_;
  std::shared_ptr<StoreBackend> backend_;
  std::unique_ptr<KvQueryStore> store_;
};

TEST_P(QueryStoreTest, WriteAndReadBack) {
  auto r = WriteCensus(*store_, "datasets/census/versions/1", School("A", 3));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rows(), 3);
  EXPECT_EQ(r->distinct_subjects(), 3);
  EXPECT_EQ(r->content_sha256().size(), 64u);
  EXPECT_FALSE(r->already_committed());
  EXPECT_THAT(Column("datasets/census", "school"), ::testing::ElementsAre("A", "A", "A"));
  EXPECT_THAT(Column("datasets/census", "idx"), ::testing::ElementsAre("1", "2", "3"));
  // Subjects are ids, never pseudonyms.
  EXPECT_THAT(Column("datasets/census", "upn"), ::testing::Each(::testing::StartsWith("id")));
  auto m = store_->ResolveVersion("datasets/census", std::nullopt);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->content_sha256(), r->content_sha256());
}

TEST_P(QueryStoreTest, SameContentSameHash) {
  auto a = WriteCensus(*store_, "datasets/a/versions/1", School("A", 5));
  auto b = WriteCensus(*store_, "datasets/b/versions/1", School("A", 5));
  auto c = WriteCensus(*store_, "datasets/c/versions/1", School("B", 5));
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(a->content_sha256(), b->content_sha256());
  EXPECT_NE(a->content_sha256(), c->content_sha256());
}

TEST_P(QueryStoreTest, InvisibleUntilCommitAndOldVersionStaysReadable) {
  ASSERT_THAT(WriteCensus(*store_, "datasets/census/versions/1", School("A", 2)), IsOk());
  auto w = store_->BeginVersion(CensusSpec("datasets/census/versions/2", "job2"));
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(CensusBatch(School("B", 4))), IsOk());
  auto latest = store_->ResolveVersion("datasets/census", std::nullopt);
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->dataset_version(), "datasets/census/versions/1");
  EXPECT_THAT(store_->ResolveVersion("datasets/census", 2), StatusIs(absl::StatusCode::kNotFound));
  v1::CommitVersion c;
  c.set_total_rows(4);
  ASSERT_THAT((*w)->Commit(c), IsOk());
  latest = store_->ResolveVersion("datasets/census", std::nullopt);
  EXPECT_EQ(latest->dataset_version(), "datasets/census/versions/2");
  EXPECT_THAT(Column("datasets/census", "school", 1), ::testing::ElementsAre("A", "A"));
}

TEST_P(QueryStoreTest, IdempotentCommit) {
  auto first = WriteCensus(*store_, "datasets/census/versions/1", School("A", 2), "jobs/1");
  ASSERT_THAT(first, IsOk());
  auto again = WriteCensus(*store_, "datasets/census/versions/1", School("A", 2), "jobs/1");
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->already_committed());
  EXPECT_EQ(again->content_sha256(), first->content_sha256());
  EXPECT_THAT(WriteCensus(*store_, "datasets/census/versions/1", School("A", 2), "jobs/other"),
              StatusIs(absl::StatusCode::kAlreadyExists));
  auto n = store_->CountStagingData();
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 0);
}

TEST_P(QueryStoreTest, BadBatchesAndCommitsAreRefused) {
  auto w = store_->BeginVersion(CensusSpec("datasets/census/versions/1", "k"));
  ASSERT_THAT(w, IsOk());
  auto b = CensusBatch(School("A", 2));
  b.mutable_columns(3)->clear_doubles();
  EXPECT_THAT((*w)->Write(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ks2")));
  b = CensusBatch(School("A", 2));
  b.mutable_columns(2)->set_missing(std::string("\x01\x63", 2));
  EXPECT_THAT((*w)->Write(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing reason")));
  ASSERT_THAT((*w)->Write(CensusBatch(School("A", 2))), IsOk());
  v1::CommitVersion c;
  c.set_total_rows(3);
  EXPECT_THAT((*w)->Commit(c), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("total_rows")));
  EXPECT_THAT(store_->BeginVersion(CensusSpec("tables/x", "k")),
              StatusIs(absl::StatusCode::kInvalidArgument));
  auto spec = CensusSpec("datasets/census/versions/1", "k2");
  spec.set_base_version("datasets/census/versions/9");
  EXPECT_THAT(store_->BeginVersion(spec), StatusIs(absl::StatusCode::kNotFound));
}

// The batch with its string columns in the dictionary-coded wire form.
v1::RowBatch Coded(const v1::RowBatch& plain, const std::string& unused_subject = "") {
  v1::RowBatch b = plain;
  for (int c : {0, 1, 5, 6}) {
    rowbatch::StringColumnBuilder builder;
    if (c == 0 && !unused_subject.empty()) builder.Intern(unused_subject);
    for (const auto& s : plain.columns(c).strings()) builder.Append(s);
    builder.MoveTo(b.mutable_columns(c));
  }
  return b;
}

TEST_P(QueryStoreTest, DictionaryCodedBatchesStoreLikePlainOnes) {
  auto rows = School("A", 4);
  auto more = School("B", 3);
  for (auto* version : {"datasets/plain/versions/1", "datasets/coded/versions/1"}) {
    const bool coded = std::string(version).find("coded") != std::string::npos;
    auto w = store_->BeginVersion(CensusSpec(version, version));
    ASSERT_THAT(w, IsOk());
    auto first = CensusBatch(rows);
    auto second = CensusBatch(more);
    // A missing pupil in the second batch.
    second.mutable_columns(0)->set_missing(std::string("\0\x01\0", 3));
    ASSERT_THAT((*w)->Write(coded ? Coded(first, "never-used") : first), IsOk());
    ASSERT_THAT((*w)->Write(coded ? Coded(second) : second), IsOk());
    v1::CommitVersion c;
    c.set_total_rows(7);
    auto r = (*w)->Commit(c);
    ASSERT_THAT(r, IsOk());
    // The unused dictionary entry is not a subject; the missing pupil neither.
    EXPECT_EQ(r->distinct_subjects(), 6);
  }
  auto plain = store_->ResolveVersion("datasets/plain", std::nullopt);
  auto coded = store_->ResolveVersion("datasets/coded", std::nullopt);
  ASSERT_THAT(plain, IsOk());
  ASSERT_THAT(coded, IsOk());
  EXPECT_EQ(plain->content_sha256(), coded->content_sha256());
  for (const char* col : {"upn", "school", "fsm", "ks2", "idx", "_school", "_period"}) {
    EXPECT_EQ(Column("datasets/plain", col), Column("datasets/coded", col)) << col;
  }
  EXPECT_THAT(Column("datasets/coded", "upn")[5], "<missing>");
}

TEST_P(QueryStoreTest, MalformedCodedBatchesAreRefusedWhole) {
  auto w = store_->BeginVersion(CensusSpec("datasets/census/versions/1", "k"));
  ASSERT_THAT(w, IsOk());
  auto b = Coded(CensusBatch(School("A", 2)));
  b.mutable_columns(1)->set_codes(1, 7);
  EXPECT_THAT((*w)->Write(b), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("school, batch row 2")));
  b = Coded(CensusBatch(School("A", 2)));
  b.mutable_columns(0)->add_strings("A-p9");
  EXPECT_THAT((*w)->Write(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("upn")));
  b = Coded(CensusBatch(School("A", 2)));
  b.mutable_columns(6)->set_dictionary_data("2024x");
  EXPECT_THAT((*w)->Write(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("_period")));
  // Nothing of the refused batches was kept.
  ASSERT_THAT((*w)->Write(Coded(CensusBatch(School("A", 2)))), IsOk());
  v1::CommitVersion c;
  c.set_total_rows(2);
  auto r = (*w)->Commit(c);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rows(), 2);
  EXPECT_EQ(r->distinct_subjects(), 2);
}

TEST_P(QueryStoreTest, AppendAndReplace) {
  std::vector<PupilRow> v1rows = School("A", 2);
  for (auto& r : School("B", 2)) v1rows.push_back(r);
  ASSERT_THAT(WriteCensus(*store_, "datasets/census/versions/1", v1rows), IsOk());
  // APPEND school C.
  auto spec = CensusSpec("datasets/census/versions/2", "append");
  spec.set_base_version("datasets/census/versions/1");
  auto w = store_->BeginVersion(spec);
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(CensusBatch(School("C", 1))), IsOk());
  v1::CommitVersion c;
  c.set_total_rows(1);
  auto r = (*w)->Commit(c);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rows(), 5);
  EXPECT_THAT(Column("datasets/census", "school"), ::testing::ElementsAre("A", "A", "B", "B", "C"));
  // REPLACE school B for 2024 with one row.
  spec = CensusSpec("datasets/census/versions/3", "replace");
  spec.set_base_version("datasets/census/versions/2");
  spec.set_replace_school("B");
  spec.set_replace_period("2024");
  w = store_->BeginVersion(spec);
  ASSERT_THAT(w, IsOk());
  ASSERT_THAT((*w)->Write(CensusBatch({{"B-new", "B", 1, 70, 9}})), IsOk());
  r = (*w)->Commit(c);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(Column("datasets/census", "school"), ::testing::ElementsAre("A", "A", "C", "B"));
  EXPECT_THAT(Column("datasets/census", "idx"), ::testing::ElementsAre("1", "2", "1", "9"));
}

TEST_P(QueryStoreTest, ManyChunks) {
  std::vector<PupilRow> rows;
  for (int i = 0; i < 150000; ++i) rows.push_back({"p" + std::to_string(i % 7000), "S" + std::to_string(i % 13), i % 2, i * 0.5, i});
  auto r = WriteCensus(*store_, "datasets/big/versions/1", rows);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->distinct_subjects(), 7000);
  auto m = store_->ResolveVersion("datasets/big", std::nullopt);
  auto lv = store_->Load(*m);
  ASSERT_THAT(lv, IsOk());
  EXPECT_EQ((*lv)->table->num_rows(), 150000u);
  EXPECT_EQ((*lv)->table->Find("idx")->max_value(), 149999);
}

TEST_P(QueryStoreTest, FindAndEraseSubjects) {
  ASSERT_THAT(WriteCensus(*store_, "datasets/census/versions/1", School("A", 4)), IsOk());
  ASSERT_THAT(WriteCensus(*store_, "datasets/other/versions/1", School("B", 2)), IsOk());
  auto found = store_->FindSubjectRecords({"A-p1", "A-p2", "nobody"});
  ASSERT_THAT(found, IsOk());
  ASSERT_EQ(found->datasets_size(), 1);
  EXPECT_EQ(found->datasets(0).dataset(), "datasets/census");
  EXPECT_EQ(found->datasets(0).records(), 2);
  auto erased = store_->EraseSubjectRecords({"A-p1", "A-p2"});
  ASSERT_THAT(erased, IsOk());
  ASSERT_EQ(erased->datasets_size(), 1);
  EXPECT_EQ(erased->datasets(0).new_version(), "datasets/census/versions/2");
  EXPECT_THAT(Column("datasets/census", "idx"), ::testing::ElementsAre("3", "4"));
  auto old = store_->ResolveVersion("datasets/census", 1);
  ASSERT_THAT(old, IsOk());
  EXPECT_EQ(old->superseded_by(), "datasets/census/versions/2");
  // An append on the superseded base does not bring them back.
  auto spec = CensusSpec("datasets/census/versions/3", "after-erasure");
  spec.set_base_version("datasets/census/versions/1");
  auto w = store_->BeginVersion(spec);
  ASSERT_THAT(w, IsOk());
  v1::CommitVersion c;
  ASSERT_THAT((*w)->Commit(c), IsOk());
  EXPECT_THAT(Column("datasets/census", "idx"), ::testing::ElementsAre("3", "4"));
}

TEST_P(QueryStoreTest, ReleasesHistoryAndLedgers) {
  v1::StoredRelease rel;
  rel.set_user("users/a");
  rel.mutable_result()->set_release("projects/p/releases/r1");
  v1::QueryHistoryEntry e;
  e.set_name("projects/p/queries/r1");
  e.set_user("users/a");
  e.set_status("released");
  e.set_time_unix_ms(1000);
  ASSERT_THAT(store_->PutRelease("projects/p/releases/r1", rel, e), IsOk());
  v1::QueryHistoryEntry e2 = e;
  e2.set_name("projects/p/queries/r2");
  e2.set_time_unix_ms(2000);
  ASSERT_THAT(store_->PutHistory(e2), IsOk());
  v1::QueryHistoryEntry other = e;
  other.set_name("projects/p/queries/r3");
  other.set_user("users/b");
  ASSERT_THAT(store_->PutHistory(other), IsOk());
  std::string next;
  auto h = store_->ListHistory("projects/p", "users/a", 1, "", &next);
  ASSERT_THAT(h, IsOk());
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].name(), "projects/p/queries/r2");  // newest first
  ASSERT_FALSE(next.empty());
  h = store_->ListHistory("projects/p", "users/a", 1, next, &next);
  ASSERT_EQ(h->size(), 1u);
  EXPECT_EQ((*h)[0].name(), "projects/p/queries/r1");
  EXPECT_THAT(store_->GetRelease("projects/p/releases/r1"), IsOk());
  EXPECT_THAT(store_->GetRelease("projects/p/releases/zz"), StatusIs(absl::StatusCode::kNotFound));

  auto& ledger = store_->release_ledger();
  ASSERT_THAT(ledger.Record("projects/p", "r1", {sdc::SubjectSet::Range(0, 20), sdc::SubjectSet::Range(0, 5)}), IsOk());
  int seen = 0;
  ASSERT_THAT(ledger.ForEachInCardinalityRange("projects/p", 10, 30, [&](const sdc::SubjectSet& s) {
    EXPECT_EQ(s.Cardinality(), 20u);
    ++seen;
    return true;
  }), IsOk());
  EXPECT_EQ(seen, 1);
  // The same population released again is held once.
  ASSERT_THAT(ledger.Record("projects/p", "r2", {sdc::SubjectSet::Range(0, 20)}), IsOk());
  seen = 0;
  ASSERT_THAT(ledger.ForEachInCardinalityRange("projects/p", 20, 20, [&](const sdc::SubjectSet&) {
    ++seen;
    return true;
  }), IsOk());
  EXPECT_EQ(seen, 1);
  ASSERT_THAT(ledger.ForEachInCardinalityRange("projects/q", 0, 100, [&](const sdc::SubjectSet&) {
    ADD_FAILURE() << "projects are isolated";
    return true;
  }), IsOk());
  EXPECT_THAT(store_->epsilon_ledger().Debit("projects/p", 10), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_THAT(store_->SetEpsilonBudget("projects/p", 25), IsOk());
  EXPECT_THAT(store_->epsilon_ledger().Debit("projects/p", 10), IsOk());
  EXPECT_THAT(store_->epsilon_ledger().Debit("projects/p", 10), IsOk());
  EXPECT_THAT(store_->epsilon_ledger().Debit("projects/p", 10), StatusIs(absl::StatusCode::kResourceExhausted));
  auto key = store_->RoundingKey();
  ASSERT_THAT(key, IsOk());
  EXPECT_EQ(key->size(), 32u);
  Reopen();
  EXPECT_EQ(*store_->RoundingKey(), *key);
  auto b = store_->EpsilonBudget("projects/p");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->second, 20);
}

TEST_P(QueryStoreTest, RestartKeepsVersionsAndSubjectIds) {
  ASSERT_THAT(WriteCensus(*store_, "datasets/census/versions/1", School("A", 3)), IsOk());
  auto before = Column("datasets/census", "upn");
  Reopen();
  EXPECT_EQ(Column("datasets/census", "upn"), before);
  // The same pseudonyms map to the same ids in a later version.
  ASSERT_THAT(WriteCensus(*store_, "datasets/again/versions/1", School("A", 3)), IsOk());
  EXPECT_EQ(Column("datasets/again", "upn"), before);
}

TEST_P(QueryStoreTest, SubjectDictionaryOfEitherFormSurvivesRestart) {
  // A store written before the subject log: one key per subject.
  Batch legacy;
  legacy.Put(Space::kMeta, "s/A-p2", BigEndian32(0));
  ASSERT_THAT(backend_->Write(legacy, true), IsOk());
  Reopen();
  // New subjects go to the log, numbered after the legacy ids.
  ASSERT_THAT(WriteCensus(*store_, "datasets/a/versions/1", School("A", 3)), IsOk());
  EXPECT_THAT(Column("datasets/a", "upn"), ::testing::ElementsAre("id1", "id0", "id2"));
  ASSERT_THAT(WriteCensus(*store_, "datasets/b/versions/1", School("B", 2)), IsOk());
  Reopen();
  auto again = School("B", 2);
  for (auto& r : School("A", 3)) again.push_back(r);
  again.push_back({"C-p1", "C", 0, 50, 1});
  ASSERT_THAT(WriteCensus(*store_, "datasets/c/versions/1", again), IsOk());
  EXPECT_THAT(Column("datasets/c", "upn"),
              ::testing::ElementsAre("id3", "id4", "id1", "id0", "id2", "id5"));
  // A damaged log entry stops the store from opening rather than
  // renumbering pupils.
  Batch bad;
  bad.Put(Space::kMeta, "u/" + BigEndian32(9), std::string("\x05" "ab", 3));
  ASSERT_THAT(backend_->Write(bad, true), IsOk());
  KvQueryStore::Options o;
  o.backend = backend_;
  EXPECT_THAT(KvQueryStore::Open(o), StatusIs(absl::StatusCode::kDataLoss));
}

// Pseudonym-length keys that differ only in the middle are distinct
// subjects, in one batch, across versions and after a restart.
TEST_P(QueryStoreTest, PseudonymsThatShareTheirEndsAreDistinctSubjects) {
  std::vector<PupilRow> rows;
  for (int i = 0; i < 300; ++i) {
    rows.push_back({absl::StrCat("ABCDEFGH", absl::StrFormat("%010d", i), "STUVWXYZ"), "A", 0, 1, i});
  }
  rows.push_back({"ABCDEFGH0000000007STUVWXYZ", "A", 0, 1, 7});  // a repeat of row 7
  ASSERT_THAT(WriteCensus(*store_, "datasets/ends/versions/1", rows), IsOk());
  auto ids = Column("datasets/ends", "upn");
  ASSERT_EQ(ids.size(), 301u);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), 300u);
  EXPECT_EQ(ids[300], ids[7]);
  Reopen();
  ASSERT_THAT(WriteCensus(*store_, "datasets/again/versions/1", rows), IsOk());
  EXPECT_EQ(Column("datasets/again", "upn"), ids);
}

TEST_P(QueryStoreTest, AWriteThatFailsPartWayEndsTheVersion) {
  KvQueryStore::Options o;
  o.backend = backend_;
  o.chunks_per_flush = 1;  // a chunk write as soon as every column has one
  auto s = KvQueryStore::Open(o);
  ASSERT_THAT(s, IsOk());
  std::vector<PupilRow> rows;
  for (int i = 0; i < 70000; ++i) rows.push_back({"q" + std::to_string(i), "B", 0, 1, i});
  // The pupils exist already, so the write that fails is a chunk write,
  // after some columns have taken the batch.
  ASSERT_THAT(WriteCensus(**s, "datasets/pre/versions/1", rows), IsOk());
  auto w = (*s)->BeginVersion(CensusSpec("datasets/census/versions/1", "k"));
  ASSERT_THAT(w, IsOk());
  backend_->SetFailWrites(true);
  EXPECT_FALSE((*w)->Write(CensusBatch(rows)).ok());
  backend_->SetFailWrites(false);
  EXPECT_THAT((*w)->Write(CensusBatch(School("A", 2))),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("part-way")));
  v1::CommitVersion c;
  c.set_total_rows(70002);
  EXPECT_THAT((*w)->Commit(c), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT((*s)->ResolveVersion("datasets/census", std::nullopt),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(QueryStoreTest, CrashBeforeCommitLeavesNothingVisible) {
  ASSERT_THAT(WriteCensus(*store_, "datasets/census/versions/1", School("A", 3)), IsOk());
  {
    auto w = store_->BeginVersion(CensusSpec("datasets/census/versions/2", "crash"));
    ASSERT_THAT(w, IsOk());
    std::vector<PupilRow> rows;
    for (int i = 0; i < 70000; ++i) rows.push_back({"q" + std::to_string(i), "B", 0, 1, i});
    ASSERT_THAT((*w)->Write(CensusBatch(rows)), IsOk());
    backend_->SetFailWrites(true);  // the process "dies" at the commit write
    v1::CommitVersion c;
    c.set_total_rows(70000);
    EXPECT_THAT((*w)->Commit(c), StatusIs(absl::StatusCode::kUnavailable));
    auto n = store_->CountStagingData();
    ASSERT_THAT(n, IsOk());
    EXPECT_GT(*n, 0);  // staged chunks are on disk
    w->release();      // a crash runs no destructor: leak it on purpose
  }
  backend_->SetFailWrites(false);
  Reopen();
  auto latest = store_->ResolveVersion("datasets/census", std::nullopt);
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(latest->dataset_version(), "datasets/census/versions/1");
  auto n = store_->CountStagingData();
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 0);
  // The version can be written again after the crash.
  EXPECT_THAT(WriteCensus(*store_, "datasets/census/versions/2", School("B", 1), "crash"), IsOk());
}

TEST_P(QueryStoreTest, CacheIsBounded) {
  std::vector<PupilRow> rows;
  for (int i = 0; i < 70000; ++i) rows.push_back({"p" + std::to_string(i), "S", 0, 1, i});
  ASSERT_THAT(WriteCensus(*store_, "datasets/a/versions/1", rows), IsOk());
  ASSERT_THAT(WriteCensus(*store_, "datasets/b/versions/1", rows), IsOk());
  size_t one = 0;
  for (const char* d : {"datasets/a", "datasets/b"}) {
    auto m = store_->ResolveVersion(d, std::nullopt);
    ASSERT_THAT(store_->Load(*m), IsOk());
    if (one == 0) one = store_->cached_bytes();
  }
  // Each version is over the 1 MiB cap: only the most recent one is kept.
  EXPECT_GT(one, size_t{1} << 20);
  EXPECT_EQ(store_->cached_bytes(), one);
}

INSTANTIATE_TEST_SUITE_P(Backends, QueryStoreTest, ::testing::Values(Kind::kMemory, Kind::kRocksDb),
                         [](const auto& info) {
                           return info.param == Kind::kMemory ? "Memory" : "RocksDb";
                         });

}  // namespace
}  // namespace datalab::query
