#include "services/audit/memory_audit_store.h"

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/audit/postings.h"

namespace datalab::audit {
std::string TimeKey(int64_t time_ms, uint64_t index) {
  std::string k;
  AppendBe64(k, static_cast<uint64_t>(time_ms) ^ (uint64_t{1} << 63));
  AppendBe64(k, index);
  return k;
}

std::pair<int64_t, uint64_t> DecodeTimeKey(std::string_view key) {
  return {static_cast<int64_t>(ReadBe64(key) ^ (uint64_t{1} << 63)), ReadBe64(key.substr(8))};
}

absl::Status MemoryAuditStore::Append(const AppendBatch& batch) {
  absl::MutexLock l(&mu_);
  if (batch.first_index != state_.size) {
    return absl::FailedPreconditionError(absl::StrCat(
        "append at index ", batch.first_index, " but the log has ", state_.size, " entries"));
  }
  uint64_t i = batch.first_index;
  for (const LeafRecord& leaf : batch.leaves) {
    entries_[i] = leaf.entry;
    hashes_[i] = leaf.leaf_hash;
    ids_[leaf.event_id] = i;
    ++i;
  }
  for (const auto& [id, hash] : batch.nodes) nodes_[{id.level, id.index}] = hash;
  state_.size = i;
  state_.frontier = batch.frontier;
  return absl::OkStatus();
}

absl::StatusOr<TreeState> MemoryAuditStore::LoadTreeState() const {
  absl::MutexLock l(&mu_);
  return state_;
}

absl::StatusOr<std::vector<std::optional<uint64_t>>> MemoryAuditStore::FindEventIds(
    absl::Span<const std::string_view> event_ids) const {
  absl::MutexLock l(&mu_);
  std::vector<std::optional<uint64_t>> out(event_ids.size());
  for (size_t i = 0; i < event_ids.size(); ++i) {
    auto it = ids_.find(event_ids[i]);
    if (it != ids_.end()) out[i] = it->second;
  }
  return out;
}

absl::StatusOr<merkle::Hash> MemoryAuditStore::GetLeafHash(uint64_t index) const {
  absl::MutexLock l(&mu_);
  auto it = hashes_.find(index);
  if (it == hashes_.end()) return absl::NotFoundError(absl::StrCat("no leaf hash at index ", index));
  return it->second;
}

absl::StatusOr<std::optional<merkle::Hash>> MemoryAuditStore::GetNode(
    const merkle::NodeId& id) const {
  absl::MutexLock l(&mu_);
  auto it = nodes_.find({id.level, id.index});
  if (it == nodes_.end()) return std::optional<merkle::Hash>();
  return std::optional<merkle::Hash>(it->second);
}

absl::Status MemoryAuditStore::ScanEntries(
    uint64_t begin, uint64_t end, const std::function<bool(const StoredEntry&)>& visit) const {
  // Copy the range out so the visitor runs without the lock.
  std::vector<StoredEntry> out;
  {
    absl::MutexLock l(&mu_);
    auto e = entries_.lower_bound(begin);
    auto h = hashes_.lower_bound(begin);
    while (true) {
      uint64_t ei = (e != entries_.end() && e->first < end) ? e->first : UINT64_MAX;
      uint64_t hi = (h != hashes_.end() && h->first < end) ? h->first : UINT64_MAX;
      uint64_t i = std::min(ei, hi);
      if (i == UINT64_MAX) break;
      StoredEntry s;
      s.index = i;
      if (ei == i) {
        s.entry = e->second;
        s.pruned = e->second.empty();
        ++e;
      }
      if (hi == i) {
        s.leaf_hash = h->second;
        ++h;
      }
      out.push_back(std::move(s));
    }
  }
  for (const StoredEntry& s : out) {
    if (!visit(s)) break;
  }
  return absl::OkStatus();
}

absl::Status MemoryAuditStore::ScanTerm(std::string_view term, uint64_t from_index,
                                        const std::function<bool(uint64_t)>& visit) const {
  std::vector<uint64_t> found;
  {
    absl::MutexLock l(&mu_);
    const std::string prefix = PostingPrefix(term);
    for (auto it = postings_.lower_bound(PostingKey(term, from_index));
         it != postings_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      ASSIGN_OR_RETURN(std::vector<uint64_t> list, DecodePosting(prefix, it->first, it->second));
      for (uint64_t i : list) {
        if (i >= from_index) found.push_back(i);
      }
    }
  }
  for (uint64_t i : found) {
    if (!visit(i)) break;
  }
  return absl::OkStatus();
}

absl::Status MemoryAuditStore::ScanTimes(
    int64_t begin_ms, int64_t end_ms,
    const std::function<bool(int64_t, uint64_t)>& visit) const {
  std::vector<std::pair<int64_t, uint64_t>> found;
  {
    absl::MutexLock l(&mu_);
    std::string stop = TimeKey(end_ms, 0);
    for (auto it = time_keys_.lower_bound(TimeKey(begin_ms, 0));
         it != time_keys_.end() && *it < stop; ++it) {
      found.push_back(DecodeTimeKey(*it));
    }
  }
  for (auto [t, i] : found) {
    if (!visit(t, i)) break;
  }
  return absl::OkStatus();
}

absl::Status MemoryAuditStore::Prune(const std::vector<IndexRecord>& items) {
  absl::MutexLock l(&mu_);
  // The rewritten posting records first (nullopt: the record goes), so a
  // damaged one stops the prune before anything changes.
  std::vector<std::pair<std::string, std::optional<std::string>>> rewrites;
  for (const auto& [term, gone] : GroupByTerm(items)) {
    std::vector<uint64_t> drop = gone;
    std::sort(drop.begin(), drop.end());
    const std::string prefix = PostingPrefix(term);
    for (auto it = postings_.lower_bound(PostingKey(term, drop.front()));
         it != postings_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
      ASSIGN_OR_RETURN(std::vector<uint64_t> list, DecodePosting(prefix, it->first, it->second));
      if (list.front() > drop.back()) break;
      std::vector<uint64_t> kept;
      for (uint64_t i : list) {
        if (!std::binary_search(drop.begin(), drop.end(), i)) kept.push_back(i);
      }
      if (kept.size() == list.size()) continue;
      rewrites.emplace_back(it->first, kept.empty() ? std::nullopt
                                                    : std::optional<std::string>(EncodePosting(kept)));
    }
  }
  for (const IndexRecord& p : items) {
    auto it = entries_.find(p.index);
    if (it != entries_.end()) it->second.clear();
    time_keys_.erase(TimeKey(p.time_unix_ms, p.index));
  }
  for (auto& [key, value] : rewrites) {
    if (value.has_value()) {
      postings_[key] = std::move(*value);
    } else {
      postings_.erase(key);
    }
  }
  return absl::OkStatus();
}

absl::Status MemoryAuditStore::WriteIndex(const std::vector<IndexRecord>& records,
                                          uint64_t indexed_through) {
  absl::MutexLock l(&mu_);
  for (const IndexRecord& r : records) time_keys_.insert(TimeKey(r.time_unix_ms, r.index));
  for (const auto& [term, indexes] : GroupByTerm(records)) {
    postings_[PostingKey(term, indexes.back())] = EncodePosting(indexes);
  }
  indexed_through_ = std::max(indexed_through_, indexed_through);
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> MemoryAuditStore::IndexedThrough() const {
  absl::MutexLock l(&mu_);
  return indexed_through_;
}

absl::Status MemoryAuditStore::ClearIndex() {
  absl::MutexLock l(&mu_);
  time_keys_.clear();
  postings_.clear();
  indexed_through_ = 0;
  return absl::OkStatus();
}

absl::Status MemoryAuditStore::PutTreeHead(const TreeHead& head) {
  absl::MutexLock l(&mu_);
  heads_[head.tree_size] = head;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<TreeHead>> MemoryAuditStore::LatestTreeHead() const {
  absl::MutexLock l(&mu_);
  if (heads_.empty()) return std::optional<TreeHead>();
  return std::optional<TreeHead>(heads_.rbegin()->second);
}

absl::StatusOr<std::optional<TreeHead>> MemoryAuditStore::GetTreeHead(uint64_t size) const {
  absl::MutexLock l(&mu_);
  auto it = heads_.find(size);
  if (it == heads_.end()) return std::optional<TreeHead>();
  return std::optional<TreeHead>(it->second);
}

absl::Status MemoryAuditStore::ScanTreeHeads(
    uint64_t max_size, const std::function<bool(const TreeHead&)>& visit) const {
  std::vector<TreeHead> found;
  {
    absl::MutexLock l(&mu_);
    for (auto it = heads_.begin(); it != heads_.end() && it->first <= max_size; ++it) {
      found.push_back(it->second);
    }
  }
  for (const TreeHead& h : found) {
    if (!visit(h)) break;
  }
  return absl::OkStatus();
}

void MemoryAuditStore::TamperEntryForTest(uint64_t index, std::string bytes) {
  absl::MutexLock l(&mu_);
  entries_[index] = std::move(bytes);
}

}  // namespace datalab::audit
