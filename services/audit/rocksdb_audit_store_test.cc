// What only the RocksDB store has: the leaf-chunk record format and the
// conversion of stores written before it (one record per leaf). The
// behaviour both stores share is in audit_store_conformance_test.cc.
#include "services/audit/rocksdb_audit_store.h"

#include <algorithm>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/storage/kv_store.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/leaf_chunk.h"
#include "services/audit/merkle/compact_range.h"
#include "services/audit/postings.h"

namespace datalab::audit {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;

std::string Entry(uint64_t i) { return "entry-" + std::string(i % 300, 'x') + std::to_string(i); }

TEST(LeafChunkTest, RoundTripsHashesEntriesAndPrunedMarkers) {
  LeafChunkWriter w(3);
  w.Add(merkle::LeafHash("a"), "a");
  w.Add(merkle::LeafHash("b"), "");  // pruned
  const std::string big(1000, 'c');  // a length of two varint bytes
  w.Add(merkle::LeafHash(big), big);
  const std::string record = w.Finish();
  EXPECT_EQ(w.size(), 0u);  // ready for the next record

  LeafChunkReader r(record);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r.LeafHash(0), merkle::LeafHash("a"));
  EXPECT_EQ(r.LeafHash(2), merkle::LeafHash(big));
  LeafChunkReader::Entry e;
  ASSERT_TRUE(r.Next(&e));
  EXPECT_EQ(e.bytes, "a");
  EXPECT_FALSE(e.pruned);
  ASSERT_TRUE(r.Next(&e));
  EXPECT_TRUE(e.pruned);
  ASSERT_TRUE(r.Next(&e));
  EXPECT_EQ(e.bytes, big);
  EXPECT_FALSE(r.Next(&e));
  EXPECT_FALSE(r.damaged());
}

TEST(LeafChunkTest, DamagedRecordsReadAsFarAsTheyCan) {
  LeafChunkWriter w(2);
  w.Add(merkle::LeafHash("one"), "one");
  w.Add(merkle::LeafHash("two"), "two");
  const std::string good = w.Finish();

  EXPECT_EQ(LeafChunkReader("").size(), 0u);
  std::string bad_version = good;
  bad_version[0] = 2;
  EXPECT_EQ(LeafChunkReader(bad_version).size(), 0u);
  EXPECT_EQ(LeafChunkReader(good.substr(0, 2 + 32)).size(), 0u);  // a hash cut off
  std::string zero = good;
  zero[1] = 0;  // n = 0
  EXPECT_EQ(LeafChunkReader(zero).size(), 0u);
  std::string too_many = good;
  too_many[1] = static_cast<char>(0x81);  // varint 257: two bytes, 0x81 0x02
  too_many.insert(2, 1, '\x02');
  EXPECT_EQ(LeafChunkReader(too_many).size(), 0u);

  // Entries cut short: the hashes and the first entry still read.
  LeafChunkReader cut(good.substr(0, good.size() - 2));
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut.LeafHash(1), merkle::LeafHash("two"));
  LeafChunkReader::Entry e;
  ASSERT_TRUE(cut.Next(&e));
  EXPECT_EQ(e.bytes, "one");
  EXPECT_FALSE(cut.Next(&e));
  EXPECT_TRUE(cut.damaged());
  EXPECT_FALSE(cut.Next(&e));
}

// A store as releases before leaf chunks wrote it: one "entries" and one
// "hashes" record per leaf, with the tree state to match.
class ConversionTest : public ::testing::Test {
 protected:
  void WriteOldStore(uint64_t n, const std::vector<uint64_t>& pruned) {
    storage::KvStoreOptions o;
    o.path = dir_.Sub("db");
    o.column_families = {"entries", "hashes", "nodes", "ids", "times", "terms", "tree_heads",
                         "meta"};
    auto kv = storage::KvStore::Open(o);
    ASSERT_THAT(kv, IsOk());
    merkle::CompactRange range;
    storage::WriteBatch wb(kv->get());
    for (uint64_t i = 0; i < n; ++i) {
      const merkle::Hash h = merkle::LeafHash(Entry(i));
      const bool is_pruned = std::find(pruned.begin(), pruned.end(), i) != pruned.end();
      wb.Put("entries", storage::EncodeUint64(i), is_pruned ? "" : Entry(i));
      wb.Put("hashes", storage::EncodeUint64(i), std::string(h.begin(), h.end()));
      wb.Put("ids", "id-" + std::to_string(i), storage::EncodeUint64(i));
      range.Append(h);
    }
    std::string state = storage::EncodeUint64(n);
    for (const merkle::Hash& h : range.frontier()) state.append(h.begin(), h.end());
    wb.Put("meta", "tree_state", state);
    ASSERT_THAT((*kv)->Write(wb), IsOk());
    root_ = range.Root();
  }

  std::unique_ptr<storage::KvStore> OpenRaw() {
    storage::KvStoreOptions o;
    o.path = dir_.Sub("db");
    auto kv = storage::KvStore::Open(o);
    EXPECT_THAT(kv, IsOk());
    return std::move(*kv);
  }

  int CountKeys(storage::KvStore& kv, const std::string& cf) {
    int n = 0;
    EXPECT_THAT(kv.Scan(cf, "", [&](std::string_view, std::string_view) { return ++n > 0; }), IsOk());
    return n;
  }

  ::datalab::testing::TempDir dir_;
  merkle::Hash root_{};
};

TEST_F(ConversionTest, OldStoreIsConvertedWhole) {
  // More than one conversion round (4,096 leaves each).
  constexpr uint64_t kLeaves = 5000;
  WriteOldStore(kLeaves, {3, 4095, 4096});
  {
    auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
    ASSERT_THAT(store, IsOk());
    uint64_t next = 0;
    merkle::CompactRange range;
    ASSERT_THAT((*store)->ScanEntries(0, UINT64_MAX, [&](const StoredEntry& e) {
      EXPECT_EQ(e.index, next++);
      const bool pruned = e.index == 3 || e.index == 4095 || e.index == 4096;
      EXPECT_EQ(e.pruned, pruned) << e.index;
      if (!pruned) {
        EXPECT_EQ(*e.entry, Entry(e.index));
      }
      range.Append(*e.leaf_hash);
      return true;
    }),
                IsOk());
    EXPECT_EQ(next, kLeaves);
    EXPECT_EQ(range.Root(), root_);
    std::vector<std::string_view> ids = {"id-4999"};
    EXPECT_EQ((*(*store)->FindEventIds(ids))[0], 4999u);
    auto state = (*store)->LoadTreeState();
    ASSERT_THAT(state, IsOk());
    EXPECT_EQ(state->size, kLeaves);
  }
  auto kv = OpenRaw();
  EXPECT_EQ(CountKeys(*kv, "entries"), 0);
  EXPECT_EQ(CountKeys(*kv, "hashes"), 0);
  EXPECT_EQ(CountKeys(*kv, "leaves"), 20);  // 4096 = 16 x 256, then 904 = 3 x 256 + 136
  kv.reset();
  // Opening again finds nothing left to convert and reads the same.
  auto again = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*(*again)->GetLeafHash(4999), merkle::LeafHash(Entry(4999)));
}

TEST_F(ConversionTest, OldTimeIndexIsConvertedInRounds) {
  // One "times" key per leaf, as before time buckets: more than one round
  // (65,536 keys each), times spread over seconds and out of index order.
  constexpr uint64_t kLeaves = 70'000;
  std::vector<std::pair<int64_t, uint64_t>> expected;
  {
    storage::KvStoreOptions o;
    o.path = dir_.Sub("db");
    o.column_families = {"times"};
    auto kv = storage::KvStore::Open(o);
    ASSERT_THAT(kv, IsOk());
    storage::WriteBatch wb(kv->get());
    for (uint64_t i = 0; i < kLeaves; ++i) {
      const int64_t t = static_cast<int64_t>((i * 7919) % 90'000) - 1'000;
      wb.Put("times", TimeKey(t, i), "");
      expected.emplace_back(t, i);
    }
    ASSERT_THAT((*kv)->Write(wb), IsOk());
  }
  std::sort(expected.begin(), expected.end());
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(store, IsOk());
  std::vector<std::pair<int64_t, uint64_t>> seen;
  ASSERT_THAT((*store)->ScanTimes(std::numeric_limits<int64_t>::min(),
                                  std::numeric_limits<int64_t>::max(),
                                  [&](int64_t t, uint64_t i) {
                                    seen.emplace_back(t, i);
                                    return true;
                                  }),
              IsOk());
  EXPECT_EQ(seen, expected);
  store->reset();
  auto kv = OpenRaw();
  EXPECT_EQ(CountKeys(*kv, "times"), 0);
  EXPECT_GT(CountKeys(*kv, "time_buckets"), 0);
}

TEST_F(ConversionTest, IncompleteOldStoreIsRefusedAndLeftAsItWas) {
  // The damage is past the first conversion round (4,096 leaves): every old
  // leaf is checked before anything is written.
  WriteOldStore(5000, {});
  {
    auto kv = OpenRaw();
    ASSERT_THAT(kv->Delete("hashes", storage::EncodeUint64(4500)), IsOk());
  }
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  EXPECT_THAT(store.status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("leaf 4500 has an entry but no leaf hash")));
  auto kv = OpenRaw();
  EXPECT_EQ(CountKeys(*kv, "entries"), 5000);
  EXPECT_EQ(CountKeys(*kv, "hashes"), 4999);
  EXPECT_EQ(CountKeys(*kv, "leaves"), 0);
}

TEST_F(ConversionTest, MalformedOldHashOrStrayEntryIsRefused) {
  WriteOldStore(40, {});
  {
    auto kv = OpenRaw();
    ASSERT_THAT(kv->Put("hashes", storage::EncodeUint64(10), std::string(31, 'h')), IsOk());
  }
  EXPECT_THAT(RocksDbAuditStore::Open(dir_.Sub("db")).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("leaf 10 has a malformed leaf hash")));
  {
    auto kv = OpenRaw();
    const merkle::Hash h = merkle::LeafHash(Entry(10));
    const std::string hash(h.begin(), h.end());
    ASSERT_THAT(kv->Put("hashes", storage::EncodeUint64(10), hash), IsOk());
    ASSERT_THAT(kv->Put("hashes", storage::EncodeUint64(77), hash), IsOk());
  }
  EXPECT_THAT(RocksDbAuditStore::Open(dir_.Sub("db")).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("leaf 77 has a leaf hash but no entry")));
}

TEST_F(ConversionTest, MalformedOldKeysAreRefused) {
  for (const std::string& key : {std::string("not-an-index"), storage::EncodeUint64(UINT64_MAX)}) {
    ::datalab::testing::TempDir dir;
    storage::KvStoreOptions o;
    o.path = dir.Sub("db");
    o.column_families = {"entries", "hashes"};
    {
      auto kv = storage::KvStore::Open(o);
      ASSERT_THAT(kv, IsOk());
      const merkle::Hash h = merkle::LeafHash("e");
      ASSERT_THAT((*kv)->Put("entries", key, "e"), IsOk());
      ASSERT_THAT((*kv)->Put("hashes", key, std::string(h.begin(), h.end())), IsOk());
    }
    EXPECT_THAT(RocksDbAuditStore::Open(o.path).status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(key.size() == 8 ? "is beyond any tree size" : "malformed key")))
        << key.size();
  }
}

// A store with `n` leaves in one append, indexed at times 1000 + index.
class PruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
    ASSERT_THAT(store, IsOk());
    store_ = std::move(*store);
    merkle::CompactRange range;
    AppendBatch b;
    std::vector<IndexRecord> records;
    for (uint64_t i = 0; i < 300; ++i) {
      LeafRecord l;
      l.event_id = "id-" + std::to_string(i);
      l.entry = Entry(i);
      l.leaf_hash = merkle::LeafHash(l.entry);
      range.Append(l.leaf_hash);
      b.leaves.push_back(l);
      records.push_back({i, 1000 + static_cast<int64_t>(i), {"s:users/a"}});
    }
    b.frontier = range.frontier();
    ASSERT_THAT(store_->Append(b), IsOk());
    ASSERT_THAT(store_->WriteIndex(records, 300), IsOk());
  }

  // Whether leaf i's entry reads as pruned, and whether its time is indexed.
  std::pair<bool, bool> State(uint64_t i) {
    bool pruned = false, timed = false;
    EXPECT_THAT(store_->ScanEntries(i, i + 1, [&](const StoredEntry& e) {
      pruned = e.pruned;
      return true;
    }),
                IsOk());
    EXPECT_THAT(store_->ScanTimes(1000 + static_cast<int64_t>(i), 1001 + static_cast<int64_t>(i),
                                  [&](int64_t, uint64_t) { return timed = true; }),
                IsOk());
    return {pruned, timed};
  }

  ::datalab::testing::TempDir dir_;
  std::unique_ptr<RocksDbAuditStore> store_;
};

TEST_F(PruneTest, PrunesLeavesOutOfIndexOrderAcrossChunks) {
  // Retention picks leaves by time, not index: 290 (second chunk) first.
  ASSERT_THAT(store_->Prune({{290, 1290, {}}, {3, 1003, {}}, {255, 1255, {}}}), IsOk());
  for (uint64_t i : {3u, 255u, 290u}) EXPECT_EQ(State(i), std::make_pair(true, false)) << i;
  for (uint64_t i : {2u, 4u, 256u, 299u}) EXPECT_EQ(State(i), std::make_pair(false, true)) << i;
}

TEST_F(PruneTest, MissingLeafPrunesNothing) {
  EXPECT_THAT(store_->Prune({{3, 1003, {}}, {300, 1300, {}}}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("leaf 300 is missing")));
  EXPECT_EQ(State(3), std::make_pair(false, true));
}

TEST_F(PruneTest, DamagedChunkPrunesNothing) {
  {
    // Cut the second chunk's entries short (the chunk at 256 holds 44 leaves).
    auto record = store_->kv().Get("leaves", storage::EncodeUint64(256));
    ASSERT_THAT(record, IsOk());
    const std::string cut = record->substr(0, record->size() - 10);
    ASSERT_THAT(store_->kv().Put("leaves", storage::EncodeUint64(256), cut), IsOk());
  }
  EXPECT_THAT(store_->Prune({{3, 1003, {}}, {260, 1260, {}}}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("chunk at 256 is damaged")));
  EXPECT_EQ(State(3), std::make_pair(false, true));
}

TEST_F(PruneTest, MalformedIdAndTimeRecordsAreDataLoss) {
  ASSERT_THAT(store_->kv().Put("ids", "id-3", "short"), IsOk());
  std::vector<std::string_view> ids = {"id-2", "id-3"};
  EXPECT_THAT(store_->FindEventIds(ids).status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("event id record is malformed")));
  const std::string key =
      storage::EncodeUint64((uint64_t{1} << 63) | 1) + storage::EncodeUint64(999);
  ASSERT_THAT(store_->kv().Put("time_buckets", key, "fifteen bytes.."), IsOk());
  EXPECT_THAT(store_->ScanTimes(1000, 2000, [](int64_t, uint64_t) { return true; }),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("time index record is malformed")));
}

TEST_F(PruneTest, MalformedTimeRecordPrunesNothing) {
  const std::string bucket =
      storage::EncodeUint64((uint64_t{1} << 63) | 1) + storage::EncodeUint64(999);
  ASSERT_THAT(store_->kv().Put("time_buckets", bucket, "fifteen bytes.."), IsOk());
  EXPECT_THAT(store_->Prune({{3, 1003, {}}}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("time index record is malformed")));
  // Nothing changed: the entry is whole and the damaged record is still there.
  ASSERT_THAT(store_->ScanEntries(3, 4, [](const StoredEntry& e) {
    EXPECT_FALSE(e.pruned);
    return true;
  }),
              IsOk());
  EXPECT_THAT(store_->kv().Get("time_buckets", bucket), IsOkAndHolds("fifteen bytes.."));
}

TEST_F(PruneTest, ClearIndexRemovesDamagedAndForgedIndexRecords) {
  const std::string bucket =
      storage::EncodeUint64((uint64_t{1} << 63) | 1) + storage::EncodeUint64(999);
  ASSERT_THAT(store_->kv().Put("time_buckets", bucket, "fifteen bytes.."), IsOk());
  const std::string forged(80, '\xff');  // sorts after the range tombstone's end
  ASSERT_THAT(store_->kv().Put("terms", forged, "x"), IsOk());
  ASSERT_THAT(store_->kv().Put("meta", "indexed_through", "bad"), IsOk());
  EXPECT_THAT(store_->IndexedThrough(), StatusIs(absl::StatusCode::kDataLoss));
  ASSERT_THAT(store_->ClearIndex(), IsOk());
  EXPECT_THAT(store_->IndexedThrough(), IsOkAndHolds(0u));
  EXPECT_THAT(store_->ScanTimes(0, 5000, [](int64_t, uint64_t) { return true; }), IsOk());
  EXPECT_THAT(store_->kv().Get("terms", forged), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(State(3), std::make_pair(false, false));  // entry kept, time record gone
}

// A damaged posting record answers DATA_LOSS: read as it was, it would
// shorten or stretch a search's results without a word. Pruning over one
// writes nothing; --rebuild_index's ClearIndex repairs it.
TEST_F(PruneTest, DamagedPostingRecordsAreDataLoss) {
  const std::string term = "s:users/a";
  const std::string key = PostingKey(term, 299);
  auto scan = [&] { return store_->ScanTerm(term, 0, [](uint64_t) { return true; }); };
  ASSERT_THAT(scan(), IsOk());
  auto good = store_->kv().Get("terms", key);
  ASSERT_THAT(good, IsOk());
  const std::vector<std::string> damaged = {
      good->substr(0, 12),     // not whole indexes
      std::string(),           // no index at all
      EncodePosting({5, 4}),   // not ascending
      EncodePosting({5, 5}),   // an index twice
      EncodePosting({5, 300}), // past the key's bound (299)
  };
  for (const std::string& bad : damaged) {
    ASSERT_THAT(store_->kv().Put("terms", key, bad), IsOk());
    EXPECT_THAT(scan(), StatusIs(absl::StatusCode::kDataLoss)) << bad.size();
    EXPECT_THAT(store_->Prune({{3, 1003, {term}}}), StatusIs(absl::StatusCode::kDataLoss));
    EXPECT_EQ(State(3), std::make_pair(false, true));  // nothing pruned
  }
  ASSERT_THAT(store_->kv().Put("terms", key, *good), IsOk());
  ASSERT_THAT(scan(), IsOk());
  // A key of another length under the term's prefix.
  ASSERT_THAT(store_->kv().Put("terms", PostingPrefix(term) + "abc", *good), IsOk());
  auto status = scan();
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(status.message(), ::testing::HasSubstr("--rebuild_index"));
  EXPECT_THAT(status.message(), ::testing::Not(::testing::HasSubstr("users/a")));
  ASSERT_THAT(store_->ClearIndex(), IsOk());
  EXPECT_THAT(scan(), IsOk());
}

TEST_F(PruneTest, ATimeRecordKeyOfTheWrongLengthIsDataLoss) {
  // Second 1's bucket prefix with one byte where an 8-byte sequence belongs.
  const std::string key = storage::EncodeUint64((uint64_t{1} << 63) | 1) + "x";
  ASSERT_THAT(store_->kv().Put("time_buckets", key, TimeKey(1500, 8)), IsOk());
  EXPECT_THAT(store_->ScanTimes(0, 5000, [](int64_t, uint64_t) { return true; }),
              StatusIs(absl::StatusCode::kDataLoss, ::testing::HasSubstr("--rebuild_index")));
  ASSERT_THAT(store_->ClearIndex(), IsOk());
  EXPECT_THAT(store_->ScanTimes(0, 5000, [](int64_t, uint64_t) { return true; }), IsOk());
}

TEST_F(PruneTest, TimePairsFiledUnderTheWrongSecondAreNotReturned) {
  // A damaged index record: second 1's key holding a pair of second 9.
  const std::string key =
      storage::EncodeUint64((uint64_t{1} << 63) | 1) + storage::EncodeUint64(999);
  ASSERT_THAT(store_->kv().Put("time_buckets", key, TimeKey(9999, 7) + TimeKey(1500, 8)), IsOk());
  std::vector<std::pair<int64_t, uint64_t>> seen;
  ASSERT_THAT(store_->ScanTimes(1499, 10'000, [&](int64_t t, uint64_t i) {
    if (i == 7 || i == 8) seen.emplace_back(t, i);
    return true;
  }),
              IsOk());
  EXPECT_EQ(seen, (std::vector<std::pair<int64_t, uint64_t>>{{1500, 8}}));
}

}  // namespace
}  // namespace datalab::audit
