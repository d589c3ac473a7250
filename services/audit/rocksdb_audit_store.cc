#include "services/audit/rocksdb_audit_store.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "services/audit/leaf_chunk.h"
#include "services/audit/postings.h"

namespace datalab::audit {
namespace {

constexpr char kLeaves[] = "leaves";
// The per-leaf layout before leaf chunks; converted at open.
constexpr char kOldEntries[] = "entries";
constexpr char kOldHashes[] = "hashes";
constexpr uint64_t kConvertLeaves = 16 * kLeavesPerChunk;
constexpr char kNodes[] = "nodes";
constexpr char kIds[] = "ids";
constexpr char kTimeBuckets[] = "time_buckets";
// One key per leaf before time buckets; converted at open.
constexpr char kOldTimes[] = "times";
constexpr uint64_t kConvertTimes = 1 << 16;
constexpr char kTerms[] = "terms";
constexpr char kHeads[] = "tree_heads";
constexpr char kMeta[] = "meta";
constexpr char kTreeStateKey[] = "tree_state";
constexpr char kIndexedThroughKey[] = "indexed_through";

std::string NodeKey(const merkle::NodeId& id) {
  std::string k(1, static_cast<char>(id.level));
  AppendBe64(k, id.index);
  return k;
}

std::string_view HashView(const merkle::Hash& h) {
  return {reinterpret_cast<const char*>(h.data()), h.size()};
}

absl::StatusOr<merkle::Hash> ToHash(std::string_view v, std::string_view what) {
  if (v.size() != 32) return absl::DataLossError(absl::StrCat("stored ", std::string(what), " is not 32 bytes"));
  merkle::Hash h;
  std::copy(v.begin(), v.end(), h.begin());
  return h;
}

// The time index: (time, index) pairs in one-second buckets. A record's
// key is bucket || be64(upper), upper >= every index in it (as posting
// lists), so each indexer write adds one record per second it covers
// rather than one key per leaf; its value is the pairs as TimeKey()s,
// ascending.
constexpr int64_t kTimeBucketMs = 1000;

int64_t BucketOf(int64_t time_ms) {
  return time_ms / kTimeBucketMs - (time_ms % kTimeBucketMs < 0 ? 1 : 0);  // floor
}

std::string BucketPrefix(int64_t bucket) {
  return storage::EncodeUint64(static_cast<uint64_t>(bucket) ^ (uint64_t{1} << 63));
}

using TimePair = std::pair<int64_t, uint64_t>;  // (time_ms, index)

// Groups pairs by bucket, each bucket's ascending.
std::map<int64_t, std::vector<TimePair>> ByBucket(std::vector<TimePair> pairs) {
  std::sort(pairs.begin(), pairs.end());
  std::map<int64_t, std::vector<TimePair>> out;
  for (const TimePair& p : pairs) out[BucketOf(p.first)].push_back(p);
  return out;
}

// Puts one record per bucket of `pairs`.
void PutTimeRecords(storage::WriteBatch& wb, std::vector<TimePair> pairs) {
  for (const auto& [bucket, list] : ByBucket(std::move(pairs))) {
    uint64_t upper = 0;
    std::string value;
    value.reserve(list.size() * 16);
    for (const auto& [t, i] : list) {
      upper = std::max(upper, i);
      value.append(TimeKey(t, i));
    }
    wb.Put(kTimeBuckets, TimeKey(bucket, upper), value);  // bucket || be64(upper)
  }
}

// Appends the pairs of one time record under bucket `bucket`. A pair filed
// under the wrong second (a damaged index) is left out: it could be neither
// found in order nor pruned.
absl::Status DecodeTimes(int64_t bucket, std::string_view value, std::vector<TimePair>& out) {
  if (value.size() % 16 != 0) return absl::DataLossError("a stored time index record is malformed");
  for (size_t off = 0; off < value.size(); off += 16) {
    TimePair p = DecodeTimeKey(value.substr(off));
    if (BucketOf(p.first) == bucket) out.push_back(p);
  }
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> RocksDbAuditStore::ColumnFamilies() {
  return {kLeaves, kNodes, kIds, kTimeBuckets, kTerms, kHeads, kMeta};
}

absl::StatusOr<std::unique_ptr<RocksDbAuditStore>> RocksDbAuditStore::Open(
    const std::string& path) {
  storage::KvStoreOptions o;
  o.path = path;
  o.column_families = ColumnFamilies();
  o.sync_writes = true;
  o.ascending_key_families = {kLeaves, kNodes, kTimeBuckets, kIds};
  o.point_lookup_families = {kIds};
  ASSIGN_OR_RETURN(auto kv, storage::KvStore::Open(o));
  auto store = std::unique_ptr<RocksDbAuditStore>(new RocksDbAuditStore(std::move(kv)));
  RETURN_IF_ERROR(store->ConvertPerLeafRecords());
  RETURN_IF_ERROR(store->ConvertPerLeafTimes());
  return store;
}

namespace {

absl::Status OldLayoutDamage(uint64_t leaf, std::string_view what) {
  return absl::DataLossError(absl::StrCat(
      "audit store: leaf ", leaf, " ", std::string(what), " in the old per-leaf layout; the store was not "
      "converted. Verify an export made with the previous release before restoring from backup"));
}

// Walks the old per-leaf records ("entries" and "hashes", one each per
// leaf) in index order, calling `visit` until it returns false. DATA_LOSS,
// naming the leaf, where the two do not pair up.
absl::Status WalkOldLeaves(
    rocksdb::DB* db, rocksdb::ColumnFamilyHandle* entries, rocksdb::ColumnFamilyHandle* hashes,
    const std::function<bool(uint64_t index, std::string_view entry, const merkle::Hash& hash)>&
        visit) {
  std::unique_ptr<rocksdb::Iterator> e(db->NewIterator(rocksdb::ReadOptions(), entries));
  std::unique_ptr<rocksdb::Iterator> h(db->NewIterator(rocksdb::ReadOptions(), hashes));
  for (e->SeekToFirst(), h->SeekToFirst(); e->Valid() || h->Valid(); e->Next(), h->Next()) {
    if ((e->Valid() && e->key().size() != 8) || (h->Valid() && h->key().size() != 8)) {
      return absl::DataLossError(
          "audit store: a record in the old per-leaf layout has a malformed key; the store was "
          "not converted");
    }
    // At least one of the two is valid (the loop's condition).
    const uint64_t ei = e->Valid() ? ReadBe64(e->key().ToStringView()) : 0;
    const uint64_t hi = h->Valid() ? ReadBe64(h->key().ToStringView()) : 0;
    if (!h->Valid() || (e->Valid() && ei < hi)) return OldLayoutDamage(ei, "has an entry but no leaf hash");
    if (!e->Valid() || hi < ei) return OldLayoutDamage(hi, "has a leaf hash but no entry");
    if (ei == UINT64_MAX) return OldLayoutDamage(ei, "is beyond any tree size");
    auto hash = ToHash(h->value().ToStringView(), "leaf hash");
    if (!hash.ok()) return OldLayoutDamage(ei, "has a malformed leaf hash");
    if (!visit(ei, e->value().ToStringView(), *hash)) break;
  }
  if (!e->status().ok()) return storage::ToAbslStatus(e->status(), "reading old entries");
  return storage::ToAbslStatus(h->status(), "reading old leaf hashes");
}

}  // namespace

absl::Status RocksDbAuditStore::ConvertPerLeafRecords() {
  // Stores written before leaf chunks have one record per leaf in "entries"
  // and "hashes" (KvStore opens column families it finds on disk).
  auto eh = kv_->Handle(kOldEntries);
  auto hh = kv_->Handle(kOldHashes);
  if (!eh.ok() || !hh.ok()) return absl::OkStatus();
  rocksdb::DB* db = kv_->raw();
  // Check every old leaf first, so that a damaged store is refused as it
  // was, not half converted.
  uint64_t old_leaves = 0;
  RETURN_IF_ERROR(WalkOldLeaves(db, *eh, *hh, [&](uint64_t, std::string_view, const merkle::Hash&) {
    ++old_leaves;
    return true;
  }));
  if (old_leaves == 0) return absl::OkStatus();
  log::Info("audit store: converting per-leaf records to leaf chunks",
            {{"leaves", std::to_string(old_leaves)}});
  while (true) {
    // One atomic, fsynced batch per round: chunks for up to kConvertLeaves
    // old leaves and the deletion of exactly those leaves' old records, so a
    // crash between rounds leaves each leaf in exactly one layout and the
    // next start carries on.
    storage::WriteBatch wb(kv_.get());
    LeafChunkWriter chunk(kLeavesPerChunk);
    uint64_t chunk_first = 0, next = 0, converted = 0, first = 0;
    auto flush = [&] {
      if (chunk.size() > 0) wb.Put(kLeaves, storage::EncodeUint64(chunk_first), chunk.Finish());
    };
    RETURN_IF_ERROR(WalkOldLeaves(
        db, *eh, *hh, [&](uint64_t index, std::string_view entry, const merkle::Hash& hash) {
          if (converted == 0) first = index;
          if (index != next || chunk.size() == kLeavesPerChunk) flush();
          if (chunk.size() == 0) chunk_first = index;
          chunk.Add(hash, entry);
          next = index + 1;
          return ++converted < kConvertLeaves;
        }));
    if (converted == 0) break;
    flush();
    wb.DeleteRange(kOldEntries, storage::EncodeUint64(first), storage::EncodeUint64(next));
    wb.DeleteRange(kOldHashes, storage::EncodeUint64(first), storage::EncodeUint64(next));
    RETURN_IF_ERROR(wb.status());
    RETURN_IF_ERROR(kv_->WriteSync(wb));
  }
  log::Info("audit store: converted to leaf chunks", {{"leaves", std::to_string(old_leaves)}});
  return absl::OkStatus();
}

absl::Status RocksDbAuditStore::ConvertPerLeafTimes() {
  // Stores written before time buckets have one "times" key per leaf:
  // TimeKey(time, index) -> "". The index is derived data, but converting
  // it is cheaper than rebuilding it from every entry.
  auto th = kv_->Handle(kOldTimes);
  if (!th.ok()) return absl::OkStatus();
  rocksdb::DB* db = kv_->raw();
  uint64_t total = 0;
  while (true) {
    // One atomic round: records for up to kConvertTimes old keys, and the
    // deletion of exactly those keys.
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), *th));
    std::vector<TimePair> pairs;
    std::string first, last;
    for (it->SeekToFirst(); it->Valid() && pairs.size() < kConvertTimes; it->Next()) {
      if (first.empty()) first = it->key().ToString();
      last = it->key().ToString();
      if (it->key().size() != 16) continue;  // not a time key: dropped with the rest
      pairs.push_back(DecodeTimeKey(it->key().ToStringView()));
    }
    if (!it->status().ok()) return storage::ToAbslStatus(it->status(), "reading the old time index");
    if (first.empty()) break;
    if (total == 0) log::Info("audit store: converting per-leaf time keys to time buckets", {});
    total += pairs.size();
    storage::WriteBatch wb(kv_.get());
    PutTimeRecords(wb, std::move(pairs));
    wb.DeleteRange(kOldTimes, first, last + std::string(1, '\0'));
    RETURN_IF_ERROR(wb.status());
    RETURN_IF_ERROR(kv_->WriteSync(wb));
  }
  if (total > 0) {
    log::Info("audit store: converted to time buckets", {{"time_keys", std::to_string(total)}});
  }
  return absl::OkStatus();
}

absl::Status RocksDbAuditStore::Append(const AppendBatch& batch) {
  // Only the single writer appends, so reading the size here is race-free.
  ASSIGN_OR_RETURN(TreeState state, LoadTreeState());
  if (batch.first_index != state.size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "append at index ", batch.first_index, " but the log has ", state.size, " entries"));
  }
  storage::WriteBatch wb(kv_.get());
  const size_t n = batch.leaves.size();
  for (size_t k = 0; k < n; k += kLeavesPerChunk) {
    const size_t end = std::min(n, k + kLeavesPerChunk);
    LeafChunkWriter chunk(static_cast<uint32_t>(end - k));
    for (size_t j = k; j < end; ++j) chunk.Add(batch.leaves[j].leaf_hash, batch.leaves[j].entry);
    wb.Put(kLeaves, storage::EncodeUint64(batch.first_index + k), chunk.Finish());
  }
  // Event ids in key order: each memtable insert then starts from where the
  // previous one ended (RocksDB keeps that position) rather than searching
  // the whole skiplist for a random key.
  std::vector<uint32_t> by_id(n);
  for (uint32_t j = 0; j < n; ++j) by_id[j] = j;
  std::sort(by_id.begin(), by_id.end(), [&](uint32_t a, uint32_t b) {
    return batch.leaves[a].event_id < batch.leaves[b].event_id;
  });
  for (uint32_t j : by_id) {
    wb.Put(kIds, batch.leaves[j].event_id, storage::EncodeUint64(batch.first_index + j));
  }
  for (const auto& [id, hash] : batch.nodes) wb.Put(kNodes, NodeKey(id), HashView(hash));
  std::string st = storage::EncodeUint64(batch.first_index + n);
  for (const merkle::Hash& h : batch.frontier) st.append(HashView(h));
  wb.Put(kMeta, kTreeStateKey, st);
  RETURN_IF_ERROR(wb.status());
  return kv_->WriteSync(wb);
}

absl::Status RocksDbAuditStore::VisitChunks(
    uint64_t begin, uint64_t end,
    const std::function<bool(uint64_t first, uint64_t limit, std::string_view record)>& visit)
    const {
  if (begin >= end) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto* handle, kv_->Handle(kLeaves));
  rocksdb::DB* db = const_cast<storage::KvStore&>(*kv_).raw();
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handle));
  // The chunk holding `begin` is the one with the greatest key <= begin.
  it->SeekForPrev(storage::EncodeUint64(begin));
  while (it->Valid() && it->key().size() != 8) it->Prev();
  if (!it->Valid()) it->Seek(storage::EncodeUint64(begin));
  while (true) {
    // Keys that are not be64 indexes are not the store's: skip them.
    while (it->Valid() && it->key().size() != 8) it->Next();
    if (!it->Valid()) break;
    const uint64_t first = ReadBe64(it->key().ToStringView());
    if (first >= end) break;
    const std::string_view value = it->value().ToStringView();
    const uint64_t lo = std::max(first, begin);
    const uint64_t hi = std::min<uint64_t>(end, first + LeafChunkReader(value).size());
    if (hi <= lo + 1) {
      // At most one leaf wanted (a point read): no later chunk can start at
      // or before it, so the record is visited in place, without a copy.
      if (!visit(first, UINT64_MAX, value)) break;
      it->Next();
      continue;
    }
    // The next chunk's key bounds this one; reading it moves the iterator,
    // which invalidates `value`.
    std::string record(value);
    it->Next();
    while (it->Valid() && it->key().size() != 8) it->Next();
    const uint64_t limit = it->Valid() ? ReadBe64(it->key().ToStringView()) : UINT64_MAX;
    if (!visit(first, limit, record)) break;
  }
  return storage::ToAbslStatus(it->status(), "scan leaf chunks");
}
absl::StatusOr<TreeState> RocksDbAuditStore::LoadTreeState() const {
  auto v = kv_->Get(kMeta, kTreeStateKey);
  if (absl::IsNotFound(v.status())) return TreeState{};
  if (!v.ok()) return v.status();
  if (v->size() < 8 || (v->size() - 8) % 32 != 0) {
    return absl::DataLossError("stored tree state is malformed");
  }
  TreeState s;
  s.size = ReadBe64(*v);
  for (size_t off = 8; off < v->size(); off += 32) {
    ASSIGN_OR_RETURN(merkle::Hash h, ToHash(std::string_view(*v).substr(off, 32), "frontier hash"));
    s.frontier.push_back(h);
  }
  return s;
}

absl::StatusOr<std::vector<std::optional<uint64_t>>> RocksDbAuditStore::FindEventIds(
    absl::Span<const std::string_view> event_ids) const {
  const size_t n = event_ids.size();
  std::vector<std::optional<uint64_t>> out(n);
  if (n == 0) return out;
  ASSIGN_OR_RETURN(auto* handle, kv_->Handle(kIds));
  std::vector<rocksdb::Slice> keys;
  keys.reserve(n);
  for (std::string_view id : event_ids) keys.emplace_back(id.data(), id.size());
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  // One MultiGet: the memtables and each table file's filter are consulted
  // once for the whole batch rather than once per id.
  const_cast<storage::KvStore&>(*kv_).raw()->MultiGet(rocksdb::ReadOptions(), handle, n, keys.data(),
                                                      values.data(), statuses.data());
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].IsNotFound()) continue;
    if (!statuses[i].ok()) return storage::ToAbslStatus(statuses[i], "looking up event ids");
    if (values[i].size() != 8) return absl::DataLossError("stored event id record is malformed");
    out[i] = ReadBe64(values[i].ToStringView());
  }
  return out;
}

absl::StatusOr<merkle::Hash> RocksDbAuditStore::GetLeafHash(uint64_t index) const {
  std::optional<merkle::Hash> found;
  RETURN_IF_ERROR(VisitChunks(index, index + 1, [&](uint64_t first, uint64_t, std::string_view record) {
    LeafChunkReader chunk(record);
    if (first <= index && index - first < chunk.size()) {
      found = chunk.LeafHash(static_cast<uint32_t>(index - first));
    }
    return false;
  }));
  if (!found.has_value()) return absl::NotFoundError(absl::StrCat("no leaf hash at index ", index));
  return *found;
}

absl::StatusOr<std::optional<merkle::Hash>> RocksDbAuditStore::GetNode(
    const merkle::NodeId& id) const {
  auto v = kv_->Get(kNodes, NodeKey(id));
  if (absl::IsNotFound(v.status())) return std::optional<merkle::Hash>();
  if (!v.ok()) return v.status();
  ASSIGN_OR_RETURN(merkle::Hash h, ToHash(*v, "subtree hash"));
  return std::optional<merkle::Hash>(h);
}

absl::Status RocksDbAuditStore::ScanEntries(
    uint64_t begin, uint64_t end, const std::function<bool(const StoredEntry&)>& visit) const {
  return VisitChunks(begin, end, [&](uint64_t first, uint64_t limit, std::string_view record) {
    LeafChunkReader chunk(record);
    // A chunk's leaves end where the next chunk begins (a record inserted
    // over them hides them; the verifier then reports them missing).
    const uint64_t stop = std::min({end, limit, first + chunk.size()});
    LeafChunkReader::Entry e;
    bool readable = true;
    for (uint64_t i = first; i < std::min(begin, stop) && readable; ++i) readable = chunk.Next(&e);
    for (uint64_t i = std::max(first, begin); i < stop; ++i) {
      StoredEntry s;
      s.index = i;
      s.leaf_hash = chunk.LeafHash(static_cast<uint32_t>(i - first));
      if (readable && (readable = chunk.Next(&e))) {
        s.entry = std::string(e.bytes);
        s.pruned = e.pruned;
      }
      if (!visit(s)) return false;
    }
    return true;
  });
}

absl::Status RocksDbAuditStore::ScanTerm(std::string_view term, uint64_t from_index,
                                         const std::function<bool(uint64_t)>& visit) const {
  const std::string prefix = PostingPrefix(term);
  absl::Status damaged;
  RETURN_IF_ERROR(kv_->Scan(
      kTerms, prefix,
      [&](std::string_view key, std::string_view value) {
        auto list = DecodePosting(prefix, key, value);
        if (!list.ok()) {
          damaged = list.status();
          return false;
        }
        for (uint64_t i : *list) {
          if (i >= from_index && !visit(i)) return false;
        }
        return true;
      },
      PostingKey(term, from_index)));
  return damaged;
}

absl::Status RocksDbAuditStore::ScanTimes(
    int64_t begin_ms, int64_t end_ms, const std::function<bool(int64_t, uint64_t)>& visit) const {
  if (begin_ms >= end_ms) return absl::OkStatus();
  // Gather one bucket's records, then visit its pairs in order.
  std::optional<std::string> bucket;
  std::vector<TimePair> pairs;
  absl::Status status;
  bool stopped = false;
  auto emit = [&] {
    std::sort(pairs.begin(), pairs.end());
    for (const auto& [t, i] : pairs) {
      if (t < begin_ms || t >= end_ms) continue;
      if (!visit(t, i)) {
        stopped = true;
        break;
      }
    }
    pairs.clear();
  };
  RETURN_IF_ERROR(kv_->ScanRange(
      kTimeBuckets, BucketPrefix(BucketOf(begin_ms)), BucketPrefix(BucketOf(end_ms - 1) + 1),
      [&](std::string_view key, std::string_view value) {
        if (key.size() != 16) {
          status = absl::DataLossError(
              "a time index record is damaged (its key has the wrong length); repair the index "
              "with datalab-audit --rebuild_index");
          return false;
        }
        if (bucket.has_value() && key.substr(0, 8) != *bucket) {
          emit();
          if (stopped) return false;
        }
        bucket = std::string(key.substr(0, 8));
        status = DecodeTimes(DecodeTimeKey(key).first, value, pairs);
        return status.ok();
      }));
  RETURN_IF_ERROR(status);
  if (!stopped) emit();
  return absl::OkStatus();
}

absl::Status RocksDbAuditStore::Prune(const std::vector<IndexRecord>& items) {
  if (items.empty()) return absl::OkStatus();
  storage::WriteBatch wb(kv_.get());
  std::vector<uint64_t> pruned;
  std::vector<TimePair> times;
  for (const IndexRecord& p : items) {
    pruned.push_back(p.index);
    times.emplace_back(p.time_unix_ms, p.index);
  }
  // Rewrite every time record holding a pruned leaf without it.
  for (const auto& [bucket, gone] : ByBucket(std::move(times))) {
    absl::Status bad;
    RETURN_IF_ERROR(kv_->Scan(kTimeBuckets, BucketPrefix(bucket),
                              [&](std::string_view key, std::string_view value) {
                                std::vector<TimePair> list;
                                bad = DecodeTimes(bucket, value, list);
                                if (!bad.ok()) return false;
                                std::string kept;
                                for (const TimePair& p : list) {
                                  if (!std::binary_search(gone.begin(), gone.end(), p)) {
                                    kept.append(TimeKey(p.first, p.second));
                                  }
                                }
                                if (kept.size() == value.size()) return true;
                                if (kept.empty()) {
                                  wb.Delete(kTimeBuckets, key);
                                } else {
                                  wb.Put(kTimeBuckets, key, kept);
                                }
                                return true;
                              }));
    RETURN_IF_ERROR(bad);
  }
  std::sort(pruned.begin(), pruned.end());
  pruned.erase(std::unique(pruned.begin(), pruned.end()), pruned.end());
  // The chunk holding each pruned leaf, found with a point read per leaf
  // (pruned leaves come in time order, which need not be index order, so a
  // scan from the lowest to the highest could cross the whole log).
  std::map<uint64_t, std::vector<uint64_t>> by_chunk;
  for (uint64_t i : pruned) {
    bool found = false;
    RETURN_IF_ERROR(VisitChunks(i, i + 1, [&](uint64_t first, uint64_t, std::string_view record) {
      LeafChunkReader chunk(record);
      if (first <= i && i - first < chunk.size()) {
        by_chunk[first].push_back(i);
        found = true;
      }
      return false;
    }));
    if (!found) {
      return absl::DataLossError(
          absl::StrCat("leaf ", i, " is missing from the store; nothing was pruned"));
    }
  }
  // Rewrite each of those chunks: same hashes, the pruned entries emptied.
  for (const auto& [first, gone] : by_chunk) {
    absl::Status damaged;
    RETURN_IF_ERROR(VisitChunks(first, first + 1, [&](uint64_t, uint64_t, std::string_view record) {
      LeafChunkReader chunk(record);
      LeafChunkWriter out(chunk.size());
      LeafChunkReader::Entry e;
      for (uint32_t k = 0; k < chunk.size(); ++k) {
        if (!chunk.Next(&e)) {
          damaged = absl::DataLossError(absl::StrCat(
              "stored leaf chunk at ", first, " is damaged; nothing was pruned"));
          return false;
        }
        const bool prune = std::binary_search(gone.begin(), gone.end(), first + k);
        out.Add(chunk.LeafHash(k), prune ? std::string_view() : e.bytes);
      }
      wb.Put(kLeaves, storage::EncodeUint64(first), out.Finish());
      return false;
    }));
    RETURN_IF_ERROR(damaged);
  }
  for (const auto& [term, gone] : GroupByTerm(items)) {
    std::vector<uint64_t> drop = gone;
    std::sort(drop.begin(), drop.end());
    const std::string prefix = PostingPrefix(term);
    absl::Status damaged_posting;
    RETURN_IF_ERROR(kv_->Scan(
        kTerms, prefix,
        [&](std::string_view key, std::string_view value) {
          auto decoded = DecodePosting(prefix, key, value);
          if (!decoded.ok()) {
            damaged_posting = decoded.status();
            return false;
          }
          const std::vector<uint64_t>& list = *decoded;
          if (list.front() > drop.back()) return false;
          std::vector<uint64_t> kept;
          for (uint64_t i : list) {
            if (!std::binary_search(drop.begin(), drop.end(), i)) kept.push_back(i);
          }
          if (kept.size() == list.size()) return true;
          if (kept.empty()) {
            wb.Delete(kTerms, key);
          } else {
            wb.Put(kTerms, key, EncodePosting(kept));
          }
          return true;
        },
        PostingKey(term, drop.front())));
    RETURN_IF_ERROR(damaged_posting);  // nothing written yet
  }
  RETURN_IF_ERROR(wb.status());
  return kv_->WriteSync(wb);
}

absl::Status RocksDbAuditStore::WriteIndex(const std::vector<IndexRecord>& records,
                                           uint64_t indexed_through) {
  storage::WriteBatch wb(kv_.get());
  std::vector<TimePair> times;
  times.reserve(records.size());
  for (const IndexRecord& r : records) times.emplace_back(r.time_unix_ms, r.index);
  PutTimeRecords(wb, std::move(times));
  for (const auto& [term, indexes] : GroupByTerm(records)) {
    wb.Put(kTerms, PostingKey(term, indexes.back()), EncodePosting(indexes));
  }
  wb.Put(kMeta, kIndexedThroughKey, storage::EncodeUint64(indexed_through));
  RETURN_IF_ERROR(wb.status());
  return kv_->Write(wb);  // derived data: no fsync (see header)
}

absl::StatusOr<uint64_t> RocksDbAuditStore::IndexedThrough() const {
  auto v = kv_->Get(kMeta, kIndexedThroughKey);
  if (absl::IsNotFound(v.status())) return uint64_t{0};
  if (!v.ok()) return v.status();
  if (v->size() != 8) return absl::DataLossError("stored index position is malformed");
  return ReadBe64(*v);
}

absl::Status RocksDbAuditStore::ClearIndex() {
  storage::WriteBatch wb(kv_.get());
  // One range tombstone per family covers every key the store writes; a key
  // sorting after it (only a forged one could) is deleted on its own, so
  // the batch leaves both families empty.
  const std::string past_all(64, '\xff');
  for (const char* cf : {kTimeBuckets, kTerms}) {
    wb.DeleteRange(cf, "", past_all);
    RETURN_IF_ERROR(kv_->Scan(cf, "", [&](std::string_view key, std::string_view) {
      wb.Delete(cf, key);
      return true;
    }, past_all));
  }
  wb.Put(kMeta, kIndexedThroughKey, storage::EncodeUint64(0));
  RETURN_IF_ERROR(wb.status());
  return kv_->WriteSync(wb);
}

absl::Status RocksDbAuditStore::PutTreeHead(const TreeHead& head) {
  storage::WriteBatch wb(kv_.get());
  wb.Put(kHeads, storage::EncodeUint64(head.tree_size), EncodeTreeHead(head));
  RETURN_IF_ERROR(wb.status());
  return kv_->WriteSync(wb);
}

absl::StatusOr<std::optional<TreeHead>> RocksDbAuditStore::LatestTreeHead() const {
  auto k = kv_->LastKeyWithPrefix(kHeads, "");
  if (absl::IsNotFound(k.status())) return std::optional<TreeHead>();
  if (!k.ok()) return k.status();
  auto v = kv_->Get(kHeads, *k);
  if (!v.ok()) return v.status();
  ASSIGN_OR_RETURN(TreeHead h, DecodeTreeHead(*v));
  return std::optional<TreeHead>(h);
}

absl::StatusOr<std::optional<TreeHead>> RocksDbAuditStore::GetTreeHead(uint64_t size) const {
  auto v = kv_->Get(kHeads, storage::EncodeUint64(size));
  if (absl::IsNotFound(v.status())) return std::optional<TreeHead>();
  if (!v.ok()) return v.status();
  ASSIGN_OR_RETURN(TreeHead h, DecodeTreeHead(*v));
  return std::optional<TreeHead>(h);
}

absl::Status RocksDbAuditStore::ScanTreeHeads(
    uint64_t max_size, const std::function<bool(const TreeHead&)>& visit) const {
  absl::Status inner;
  std::string end = max_size == UINT64_MAX ? std::string() : storage::EncodeUint64(max_size + 1);
  auto fn = [&](std::string_view, std::string_view value) {
    auto h = DecodeTreeHead(value);
    if (!h.ok()) {
      inner = h.status();
      return false;
    }
    return visit(*h);
  };
  absl::Status s = end.empty() ? kv_->Scan(kHeads, "", fn) : kv_->ScanRange(kHeads, "", end, fn);
  RETURN_IF_ERROR(s);
  return inner;
}

}  // namespace datalab::audit
