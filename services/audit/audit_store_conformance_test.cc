// One conformance suite run against every AuditStore implementation.
#include <filesystem>
#include <functional>
#include <limits>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/memory_audit_store.h"
#include "services/audit/merkle/compact_range.h"
#include "services/audit/rocksdb_audit_store.h"

namespace datalab::audit {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::ElementsAre;

struct StoreFactory {
  std::string name;
  // Opens the store at the given directory (RocksDB) or returns the same
  // in-memory instance (reopen == same object).
  std::function<std::unique_ptr<AuditStore>(const std::string& dir)> open;
  bool durable;
};

class AuditStoreConformance : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override { store_ = GetParam().open(dir_.Sub("db")); }

  // Appends n leaves starting at the current size, like the sequencer does,
  // and indexes them unless `index` is false.
  void AppendLeaves(int n, int64_t time_base = 1000, bool index = true) {
    auto state = store_->LoadTreeState();
    ASSERT_THAT(state, IsOk());
    auto range = merkle::CompactRange::FromFrontier(state->size, state->frontier);
    ASSERT_THAT(range, IsOk());
    AppendBatch b;
    b.first_index = state->size;
    for (int i = 0; i < n; ++i) {
      uint64_t idx = range->size();
      LeafRecord l;
      l.event_id = "id-" + std::to_string(idx);
      l.entry = "entry-" + std::to_string(idx);
      l.leaf_hash = merkle::LeafHash(l.entry);
      l.time_unix_ms = time_base + static_cast<int64_t>(idx);
      l.terms = {"s:users/a", idx % 2 == 0 ? "p:projects/even" : "p:projects/odd"};
      ASSERT_THAT(range->Append(l.leaf_hash,
                                [&](const merkle::NodeId& id, const merkle::Hash& h) {
                                  if (id.level >= 1) b.nodes.emplace_back(id, h);
                                  return absl::OkStatus();
                                }),
                  IsOk());
      b.leaves.push_back(l);
    }
    b.frontier = range->frontier();
    ASSERT_THAT(store_->Append(b), IsOk());
    roots_.push_back(range->Root());
    if (!index) return;
    std::vector<IndexRecord> records;
    for (uint64_t k = 0; k < b.leaves.size(); ++k) {
      records.push_back({b.first_index + k, b.leaves[k].time_unix_ms, b.leaves[k].terms});
    }
    ASSERT_THAT(store_->WriteIndex(records, b.first_index + b.leaves.size()), IsOk());
  }

  std::optional<uint64_t> FindOne(std::string_view id) {
    std::vector<std::string_view> ids = {id};
    auto found = store_->FindEventIds(ids);
    EXPECT_THAT(found, IsOk());
    return found.ok() ? (*found)[0] : std::nullopt;
  }

  TreeHead Head(uint64_t size, int64_t ts) {
    TreeHead h;
    h.tree_size = size;
    h.timestamp_unix_ms = ts;
    h.root_hash = merkle::LeafHash("root" + std::to_string(size));
    h.signature = std::string(64, 's');
    h.key_id = "k1";
    return h;
  }

  ::datalab::testing::TempDir dir_;
  std::unique_ptr<AuditStore> store_;
  std::vector<merkle::Hash> roots_;
};

TEST_P(AuditStoreConformance, EmptyStore) {
  auto s = store_->LoadTreeState();
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->size, 0u);
  EXPECT_TRUE(s->frontier.empty());
  EXPECT_FALSE(FindOne("x").has_value());
  EXPECT_THAT(store_->GetLeafHash(0), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_FALSE(store_->LatestTreeHead()->has_value());
  EXPECT_EQ(*store_->IndexedThrough(), 0u);
}

TEST_P(AuditStoreConformance, IndexIsSeparateFromAppend) {
  AppendBatch b;
  LeafRecord l;
  l.event_id = "x";
  l.entry = "x";
  l.leaf_hash = merkle::LeafHash("x");
  l.time_unix_ms = 5;
  l.terms = {"s:users/x"};
  b.leaves.push_back(l);
  b.frontier = {l.leaf_hash};
  ASSERT_THAT(store_->Append(b), IsOk());
  int hits = 0;
  ASSERT_THAT(store_->ScanTerm("s:users/x", 0, [&](uint64_t) { return ++hits, true; }), IsOk());
  EXPECT_EQ(hits, 0);  // Append writes no index records
  ASSERT_THAT(store_->WriteIndex({{0, 5, {"s:users/x"}}}, 1), IsOk());
  ASSERT_THAT(store_->ScanTerm("s:users/x", 0, [&](uint64_t) { return ++hits, true; }), IsOk());
  EXPECT_EQ(hits, 1);
  EXPECT_EQ(*store_->IndexedThrough(), 1u);
}

TEST_P(AuditStoreConformance, AppendAndReadBack) {
  AppendLeaves(5);
  AppendLeaves(3);
  auto s = store_->LoadTreeState();
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->size, 8u);
  ASSERT_EQ(s->frontier.size(), 1u);
  EXPECT_EQ(s->frontier[0], roots_.back());
  EXPECT_EQ(FindOne("id-6"), 6u);
  // Several at once, in the caller's order, missing ones included.
  std::vector<std::string_view> ids = {"id-7", "nope", "id-0", "id-7"};
  auto found = store_->FindEventIds(ids);
  ASSERT_THAT(found, IsOk());
  EXPECT_THAT(*found, ElementsAre(std::optional<uint64_t>(7), std::nullopt,
                                  std::optional<uint64_t>(0), std::optional<uint64_t>(7)));
  EXPECT_THAT(store_->FindEventIds({}), IsOk());
  EXPECT_EQ(*store_->GetLeafHash(3), merkle::LeafHash("entry-3"));
  // The level-3 node covering all eight leaves was stored.
  auto node = store_->GetNode({3, 0});
  ASSERT_THAT(node, IsOk());
  ASSERT_TRUE(node->has_value());
  EXPECT_EQ(**node, roots_.back());
  EXPECT_FALSE(store_->GetNode({3, 1})->has_value());

  std::vector<uint64_t> seen;
  ASSERT_THAT(store_->ScanEntries(2, 6, [&](const StoredEntry& e) {
    EXPECT_EQ(*e.entry, "entry-" + std::to_string(e.index));
    EXPECT_FALSE(e.pruned);
    EXPECT_EQ(*e.leaf_hash, merkle::LeafHash(*e.entry));
    seen.push_back(e.index);
    return true;
  }),
              IsOk());
  EXPECT_THAT(seen, ElementsAre(2, 3, 4, 5));
}

TEST_P(AuditStoreConformance, LargeBatchesReadBackAcrossTheirChunks) {
  // 600 then 10 leaves: in RocksDB, chunks of 256, 256, 88 and 10.
  AppendLeaves(600);
  AppendLeaves(10);
  for (uint64_t i : {0, 255, 256, 511, 512, 599, 600, 609}) {
    EXPECT_EQ(*store_->GetLeafHash(i), merkle::LeafHash("entry-" + std::to_string(i))) << i;
  }
  EXPECT_THAT(store_->GetLeafHash(610).status(), StatusIs(absl::StatusCode::kNotFound));
  std::vector<uint64_t> seen;
  ASSERT_THAT(store_->ScanEntries(250, 605, [&](const StoredEntry& e) {
    EXPECT_EQ(*e.entry, "entry-" + std::to_string(e.index));
    EXPECT_EQ(*e.leaf_hash, merkle::LeafHash(*e.entry));
    seen.push_back(e.index);
    return true;
  }),
              IsOk());
  ASSERT_EQ(seen.size(), 355u);
  for (size_t k = 0; k < seen.size(); ++k) EXPECT_EQ(seen[k], 250 + k);
  // A visitor that stops is not called again.
  int calls = 0;
  ASSERT_THAT(store_->ScanEntries(0, 610, [&](const StoredEntry&) { return ++calls < 300; }), IsOk());
  EXPECT_EQ(calls, 300);

  // Pruning leaves in three chunks empties exactly those entries.
  ASSERT_THAT(store_->Prune({{255, 1255, {}}, {256, 1256, {}}, {605, 1605, {}}}), IsOk());
  ASSERT_THAT(store_->ScanEntries(254, 610, [&](const StoredEntry& e) {
    const bool pruned = e.index == 255 || e.index == 256 || e.index == 605;
    EXPECT_EQ(e.pruned, pruned) << e.index;
    if (!pruned) {
      EXPECT_EQ(*e.entry, "entry-" + std::to_string(e.index));
    }
    EXPECT_EQ(*e.leaf_hash, merkle::LeafHash("entry-" + std::to_string(e.index)));
    return true;
  }),
              IsOk());
}

TEST_P(AuditStoreConformance, RefusesAppendAtTheWrongIndex) {
  AppendLeaves(2);
  AppendBatch b;
  b.first_index = 1;
  LeafRecord l;
  l.event_id = "dup";
  l.entry = "x";
  b.leaves.push_back(l);
  EXPECT_THAT(store_->Append(b), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(store_->LoadTreeState()->size, 2u);
}

TEST_P(AuditStoreConformance, TermsAndTimes) {
  AppendLeaves(6, 5000);
  std::vector<uint64_t> even;
  ASSERT_THAT(store_->ScanTerm("p:projects/even", 1, [&](uint64_t i) {
    even.push_back(i);
    return true;
  }),
              IsOk());
  EXPECT_THAT(even, ElementsAre(2, 4));
  std::vector<uint64_t> none;
  ASSERT_THAT(store_->ScanTerm("p:projects/eve", 0, [&](uint64_t i) {
    none.push_back(i);
    return true;
  }),
              IsOk());
  EXPECT_TRUE(none.empty());  // a term is matched exactly, not as a prefix
  std::vector<std::pair<int64_t, uint64_t>> times;
  ASSERT_THAT(store_->ScanTimes(5001, 5004, [&](int64_t t, uint64_t i) {
    times.emplace_back(t, i);
    return true;
  }),
              IsOk());
  EXPECT_THAT(times, ElementsAre(std::make_pair(5001, 1), std::make_pair(5002, 2),
                                 std::make_pair(5003, 3)));
}

TEST_P(AuditStoreConformance, ClearIndexDropsTimesAndTermsOnly) {
  AppendLeaves(6, 5000);
  ASSERT_THAT(store_->ClearIndex(), IsOk());
  EXPECT_THAT(store_->IndexedThrough(), ::datalab::testing::IsOkAndHolds(0u));
  int seen = 0;
  ASSERT_THAT(store_->ScanTerm("s:users/a", 0, [&](uint64_t) { return ++seen, true; }), IsOk());
  ASSERT_THAT(store_->ScanTimes(std::numeric_limits<int64_t>::min(),
                                std::numeric_limits<int64_t>::max(),
                                [&](int64_t, uint64_t) { return ++seen, true; }),
              IsOk());
  EXPECT_EQ(seen, 0);
  // The log is untouched: entries, hashes and ids.
  ASSERT_THAT(store_->ScanEntries(0, 6, [&](const StoredEntry&) { return ++seen, true; }), IsOk());
  EXPECT_EQ(seen, 6);
  std::vector<std::string_view> ids = {"id-5"};
  EXPECT_THAT(store_->FindEventIds(ids),
              ::datalab::testing::IsOkAndHolds(ElementsAre(std::optional<uint64_t>(5))));
  // Indexing again works as on a new store.
  ASSERT_THAT(store_->WriteIndex({{2, 5002, {"s:users/a"}}}, 6), IsOk());
  std::vector<uint64_t> again;
  ASSERT_THAT(store_->ScanTerm("s:users/a", 0, [&](uint64_t i) { return again.push_back(i), true; }),
              IsOk());
  EXPECT_THAT(again, ElementsAre(2));
}

TEST_P(AuditStoreConformance, PruneKeepsLeafHashes) {
  AppendLeaves(4, 100);
  ASSERT_THAT(store_->Prune({{1, 101, {"s:users/a", "p:projects/odd"}}}), IsOk());
  bool saw = false;
  ASSERT_THAT(store_->ScanEntries(1, 2, [&](const StoredEntry& e) {
    saw = true;
    EXPECT_TRUE(e.pruned);
    EXPECT_EQ(*e.leaf_hash, merkle::LeafHash("entry-1"));
    return true;
  }),
              IsOk());
  EXPECT_TRUE(saw);
  std::vector<uint64_t> odd;
  ASSERT_THAT(store_->ScanTerm("p:projects/odd", 0, [&](uint64_t i) {
    odd.push_back(i);
    return true;
  }),
              IsOk());
  EXPECT_THAT(odd, ElementsAre(3));
  int in_range = 0;
  ASSERT_THAT(store_->ScanTimes(0, 1000, [&](int64_t, uint64_t) {
    ++in_range;
    return true;
  }),
              IsOk());
  EXPECT_EQ(in_range, 3);
  EXPECT_EQ(FindOne("id-1"), 1u);  // idempotency survives pruning
}

TEST_P(AuditStoreConformance, TimesAcrossSecondsAndWritesComeBackInOrder) {
  AppendLeaves(9, 0, /*index=*/false);
  using Pairs = std::vector<std::pair<int64_t, uint64_t>>;
  auto index = [&](const Pairs& pairs, uint64_t through) {
    std::vector<IndexRecord> records;
    for (const auto& [t, i] : pairs) records.push_back({i, t, {}});
    ASSERT_THAT(store_->WriteIndex(records, through), IsOk());
  };
  // Times in no particular order, across seconds, negative ones too, and
  // the same seconds again in a later write.
  index({{1500, 0}, {999, 1}, {-1, 2}, {2000, 3}, {1000, 4}, {1500, 5}}, 6);
  index({{1000, 6}, {-1000, 7}, {1999, 8}}, 9);
  auto scan = [&](int64_t begin, int64_t end, size_t stop_after = SIZE_MAX) {
    Pairs seen;
    EXPECT_THAT(store_->ScanTimes(begin, end, [&](int64_t t, uint64_t i) {
      seen.emplace_back(t, i);
      return seen.size() < stop_after;
    }),
                IsOk());
    return seen;
  };
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  const int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(scan(kMin, kMax), (Pairs{{-1000, 7}, {-1, 2}, {999, 1}, {1000, 4}, {1000, 6},
                                     {1500, 0}, {1500, 5}, {1999, 8}, {2000, 3}}));
  EXPECT_EQ(scan(1000, 2000), (Pairs{{1000, 4}, {1000, 6}, {1500, 0}, {1500, 5}, {1999, 8}}));
  EXPECT_EQ(scan(-1, 1000), (Pairs{{-1, 2}, {999, 1}}));
  EXPECT_EQ(scan(-1000, -999), (Pairs{{-1000, 7}}));
  EXPECT_EQ(scan(2001, kMax), Pairs{});
  EXPECT_EQ(scan(5, 5), Pairs{});
  EXPECT_EQ(scan(kMin, kMax, 3), (Pairs{{-1000, 7}, {-1, 2}, {999, 1}}));

  ASSERT_THAT(store_->Prune({{4, 1000, {}}, {7, -1000, {}}, {3, 2000, {}}}), IsOk());
  EXPECT_EQ(scan(kMin, kMax),
            (Pairs{{-1, 2}, {999, 1}, {1000, 6}, {1500, 0}, {1500, 5}, {1999, 8}}));
}

TEST_P(AuditStoreConformance, TreeHeads) {
  ASSERT_THAT(store_->PutTreeHead(Head(3, 10)), IsOk());
  ASSERT_THAT(store_->PutTreeHead(Head(10, 20)), IsOk());
  ASSERT_THAT(store_->PutTreeHead(Head(7, 15)), IsOk());
  auto latest = store_->LatestTreeHead();
  ASSERT_THAT(latest, IsOk());
  EXPECT_EQ(**latest, Head(10, 20));
  EXPECT_EQ(**store_->GetTreeHead(7), Head(7, 15));
  EXPECT_FALSE(store_->GetTreeHead(8)->has_value());
  std::vector<uint64_t> sizes;
  ASSERT_THAT(store_->ScanTreeHeads(7, [&](const TreeHead& h) {
    sizes.push_back(h.tree_size);
    return true;
  }),
              IsOk());
  EXPECT_THAT(sizes, ElementsAre(3, 7));
}

TEST_P(AuditStoreConformance, SurvivesReopen) {
  if (!GetParam().durable) GTEST_SKIP() << "in-memory store";
  AppendLeaves(9);
  ASSERT_THAT(store_->PutTreeHead(Head(9, 1)), IsOk());
  store_.reset();
  store_ = GetParam().open(dir_.Sub("db"));
  auto s = store_->LoadTreeState();
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->size, 9u);
  auto range = merkle::CompactRange::FromFrontier(s->size, s->frontier);
  ASSERT_THAT(range, IsOk());
  EXPECT_EQ(range->Root(), roots_.back());
  EXPECT_EQ(**store_->LatestTreeHead(), Head(9, 1));
}

std::unique_ptr<AuditStore> OpenRocks(const std::string& dir) {
  auto s = RocksDbAuditStore::Open(dir);
  EXPECT_THAT(s, IsOk());
  return std::move(*s);
}

INSTANTIATE_TEST_SUITE_P(
    Stores, AuditStoreConformance,
    ::testing::Values(StoreFactory{"memory",
                                   [](const std::string&) {
                                     return std::unique_ptr<AuditStore>(new MemoryAuditStore);
                                   },
                                   false},
                      StoreFactory{"rocksdb", OpenRocks, true}),
    [](const ::testing::TestParamInfo<StoreFactory>& i) { return i.param.name; });

}  // namespace
}  // namespace datalab::audit
