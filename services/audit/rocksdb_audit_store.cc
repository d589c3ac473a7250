#include "services/audit/rocksdb_audit_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/audit/postings.h"

namespace datalab::audit {
namespace {

constexpr char kEntries[] = "entries";
constexpr char kHashes[] = "hashes";
constexpr char kNodes[] = "nodes";
constexpr char kIds[] = "ids";
constexpr char kTimes[] = "times";
constexpr char kTerms[] = "terms";
constexpr char kHeads[] = "tree_heads";
constexpr char kMeta[] = "meta";
constexpr char kTreeStateKey[] = "tree_state";
constexpr char kIndexedThroughKey[] = "indexed_through";

std::string Be64(uint64_t v) {
  std::string s;
  AppendBe64(s, v);
  return s;
}

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

}  // namespace

std::vector<std::string> RocksDbAuditStore::ColumnFamilies() {
  return {kEntries, kHashes, kNodes, kIds, kTimes, kTerms, kHeads, kMeta};
}

absl::StatusOr<std::unique_ptr<RocksDbAuditStore>> RocksDbAuditStore::Open(
    const std::string& path) {
  storage::KvStoreOptions o;
  o.path = path;
  o.column_families = ColumnFamilies();
  o.sync_writes = true;
  o.ascending_key_families = {kEntries, kHashes, kNodes, kTimes};
  o.point_lookup_families = {kIds};
  ASSIGN_OR_RETURN(auto kv, storage::KvStore::Open(o));
  return std::unique_ptr<RocksDbAuditStore>(new RocksDbAuditStore(std::move(kv)));
}

absl::Status RocksDbAuditStore::Append(const AppendBatch& batch) {
  // Only the single writer appends, so reading the size here is race-free.
  ASSIGN_OR_RETURN(TreeState state, LoadTreeState());
  if (batch.first_index != state.size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "append at index ", batch.first_index, " but the log has ", state.size, " entries"));
  }
  storage::WriteBatch wb(kv_.get());
  uint64_t i = batch.first_index;
  for (const LeafRecord& leaf : batch.leaves) {
    std::string key = Be64(i);
    wb.Put(kEntries, key, leaf.entry);
    wb.Put(kHashes, key, HashView(leaf.leaf_hash));
    wb.Put(kIds, leaf.event_id, key);
    ++i;
  }
  for (const auto& [id, hash] : batch.nodes) wb.Put(kNodes, NodeKey(id), HashView(hash));
  std::string st = Be64(i);
  for (const merkle::Hash& h : batch.frontier) st.append(HashView(h));
  wb.Put(kMeta, kTreeStateKey, st);
  RETURN_IF_ERROR(wb.status());
  return kv_->WriteSync(wb);
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

absl::StatusOr<std::optional<uint64_t>> RocksDbAuditStore::FindEventId(
    std::string_view event_id) const {
  auto v = kv_->Get(kIds, event_id);
  if (absl::IsNotFound(v.status())) return std::optional<uint64_t>();
  if (!v.ok()) return v.status();
  if (v->size() != 8) return absl::DataLossError("stored event id record is malformed");
  return std::optional<uint64_t>(ReadBe64(*v));
}

absl::StatusOr<merkle::Hash> RocksDbAuditStore::GetLeafHash(uint64_t index) const {
  auto v = kv_->Get(kHashes, Be64(index));
  if (absl::IsNotFound(v.status())) {
    return absl::NotFoundError(absl::StrCat("no leaf hash at index ", index));
  }
  if (!v.ok()) return v.status();
  return ToHash(*v, "leaf hash");
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
  if (begin >= end) return absl::OkStatus();
  ASSIGN_OR_RETURN(auto* eh, kv_->Handle(kEntries));
  ASSIGN_OR_RETURN(auto* hh, kv_->Handle(kHashes));
  rocksdb::DB* db = const_cast<storage::KvStore&>(*kv_).raw();
  // One snapshot for both iterators so a concurrent append is seen whole or
  // not at all.
  const rocksdb::Snapshot* snap = db->GetSnapshot();
  rocksdb::ReadOptions ro;
  ro.snapshot = snap;
  std::string upper = Be64(end);
  rocksdb::Slice upper_slice(upper);
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> e(db->NewIterator(ro, eh));
  std::unique_ptr<rocksdb::Iterator> h(db->NewIterator(ro, hh));
  std::string start = Be64(begin);
  e->Seek(start);
  h->Seek(start);
  absl::Status status;
  while (true) {
    uint64_t ei = (e->Valid() && e->key().size() == 8) ? ReadBe64(e->key().ToStringView()) : UINT64_MAX;
    uint64_t hi = (h->Valid() && h->key().size() == 8) ? ReadBe64(h->key().ToStringView()) : UINT64_MAX;
    if (e->Valid() && e->key().size() != 8) { e->Next(); continue; }
    if (h->Valid() && h->key().size() != 8) { h->Next(); continue; }
    uint64_t i = std::min(ei, hi);
    if (i == UINT64_MAX) break;
    StoredEntry s;
    s.index = i;
    if (ei == i) {
      s.entry = e->value().ToString();
      s.pruned = s.entry->empty();
      e->Next();
    }
    if (hi == i) {
      auto hash = ToHash(h->value().ToStringView(), "leaf hash");
      if (hash.ok()) s.leaf_hash = *hash;  // a malformed hash reads as missing
      h->Next();
    }
    if (!visit(s)) break;
  }
  if (!e->status().ok()) status = storage::ToAbslStatus(e->status(), "scan entries");
  if (status.ok() && !h->status().ok()) status = storage::ToAbslStatus(h->status(), "scan hashes");
  e.reset();
  h.reset();
  db->ReleaseSnapshot(snap);
  return status;
}

absl::Status RocksDbAuditStore::ScanTerm(std::string_view term, uint64_t from_index,
                                         const std::function<bool(uint64_t)>& visit) const {
  const std::string prefix = PostingPrefix(term);
  return kv_->Scan(
      kTerms, prefix,
      [&](std::string_view key, std::string_view value) {
        if (key.size() != prefix.size() + 8) return true;
        for (uint64_t i : DecodePosting(value)) {
          if (i >= from_index && !visit(i)) return false;
        }
        return true;
      },
      PostingKey(term, from_index));
}

absl::Status RocksDbAuditStore::ScanTimes(
    int64_t begin_ms, int64_t end_ms, const std::function<bool(int64_t, uint64_t)>& visit) const {
  if (begin_ms >= end_ms) return absl::OkStatus();
  return kv_->ScanRange(kTimes, TimeKey(begin_ms, 0), TimeKey(end_ms, 0),
                        [&](std::string_view key, std::string_view) {
                          if (key.size() != 16) return true;
                          return visit(static_cast<int64_t>(ReadBe64(key) ^ (uint64_t{1} << 63)),
                                       ReadBe64(key.substr(8)));
                        });
}

absl::Status RocksDbAuditStore::Prune(const std::vector<IndexRecord>& items) {
  if (items.empty()) return absl::OkStatus();
  storage::WriteBatch wb(kv_.get());
  for (const IndexRecord& p : items) {
    wb.Put(kEntries, Be64(p.index), "");
    wb.Delete(kTimes, TimeKey(p.time_unix_ms, p.index));
  }
  for (const auto& [term, gone] : GroupByTerm(items)) {
    std::vector<uint64_t> drop = gone;
    std::sort(drop.begin(), drop.end());
    RETURN_IF_ERROR(kv_->Scan(
        kTerms, PostingPrefix(term),
        [&](std::string_view key, std::string_view value) {
          std::vector<uint64_t> list = DecodePosting(value);
          if (list.empty() || list.front() > drop.back()) return false;
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
  }
  RETURN_IF_ERROR(wb.status());
  return kv_->WriteSync(wb);
}

absl::Status RocksDbAuditStore::WriteIndex(const std::vector<IndexRecord>& records,
                                           uint64_t indexed_through) {
  storage::WriteBatch wb(kv_.get());
  for (const IndexRecord& r : records) wb.Put(kTimes, TimeKey(r.time_unix_ms, r.index), "");
  for (const auto& [term, indexes] : GroupByTerm(records)) {
    wb.Put(kTerms, PostingKey(term, indexes.back()), EncodePosting(indexes));
  }
  wb.Put(kMeta, kIndexedThroughKey, Be64(indexed_through));
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

absl::Status RocksDbAuditStore::PutTreeHead(const TreeHead& head) {
  storage::WriteBatch wb(kv_.get());
  wb.Put(kHeads, Be64(head.tree_size), EncodeTreeHead(head));
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
  auto v = kv_->Get(kHeads, Be64(size));
  if (absl::IsNotFound(v.status())) return std::optional<TreeHead>();
  if (!v.ok()) return v.status();
  ASSIGN_OR_RETURN(TreeHead h, DecodeTreeHead(*v));
  return std::optional<TreeHead>(h);
}

absl::Status RocksDbAuditStore::ScanTreeHeads(
    uint64_t max_size, const std::function<bool(const TreeHead&)>& visit) const {
  absl::Status inner;
  std::string end = max_size == UINT64_MAX ? std::string() : Be64(max_size + 1);
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
