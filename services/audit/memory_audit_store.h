// In-memory AuditStore for tests and tools. Same contract as the RocksDB
// store (checked by the shared conformance suite), nothing is durable.
// Thread-safe (one mutex).
#ifndef DATALAB_SERVICES_AUDIT_MEMORY_AUDIT_STORE_H_
#define DATALAB_SERVICES_AUDIT_MEMORY_AUDIT_STORE_H_

#include <map>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "services/audit/audit_store.h"

namespace datalab::audit {

class MemoryAuditStore : public AuditStore {
 public:
  absl::Status Append(const AppendBatch& batch) override;
  absl::StatusOr<TreeState> LoadTreeState() const override;
  absl::StatusOr<std::vector<std::optional<uint64_t>>> FindEventIds(
      absl::Span<const std::string_view> event_ids) const override;
  absl::StatusOr<merkle::Hash> GetLeafHash(uint64_t index) const override;
  absl::StatusOr<std::optional<merkle::Hash>> GetNode(const merkle::NodeId& id) const override;
  absl::Status ScanEntries(uint64_t begin, uint64_t end,
                           const std::function<bool(const StoredEntry&)>& visit) const override;
  absl::Status ScanTerm(std::string_view term, uint64_t from_index,
                        const std::function<bool(uint64_t)>& visit) const override;
  absl::Status ScanTimes(int64_t begin_ms, int64_t end_ms,
                         const std::function<bool(int64_t, uint64_t)>& visit) const override;
  absl::Status Prune(const std::vector<IndexRecord>& items) override;
  absl::Status WriteIndex(const std::vector<IndexRecord>& records,
                          uint64_t indexed_through) override;
  absl::StatusOr<uint64_t> IndexedThrough() const override;
  absl::Status ClearIndex() override;
  absl::Status PutTreeHead(const TreeHead& head) override;
  absl::StatusOr<std::optional<TreeHead>> LatestTreeHead() const override;
  absl::StatusOr<std::optional<TreeHead>> GetTreeHead(uint64_t tree_size) const override;
  absl::Status ScanTreeHeads(uint64_t max_size,
                             const std::function<bool(const TreeHead&)>& visit) const override;

  // Test hook: replaces entry bytes without touching anything else.
  void TamperEntryForTest(uint64_t index, std::string bytes);

 private:
  mutable absl::Mutex mu_;
  std::map<uint64_t, std::string> entries_ ABSL_GUARDED_BY(mu_);  // "" = pruned
  std::map<uint64_t, merkle::Hash> hashes_ ABSL_GUARDED_BY(mu_);
  std::map<std::pair<uint32_t, uint64_t>, merkle::Hash> nodes_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t, std::less<>> ids_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> postings_ ABSL_GUARDED_BY(mu_);
  std::set<std::string, std::less<>> time_keys_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, TreeHead> heads_ ABSL_GUARDED_BY(mu_);
  TreeState state_ ABSL_GUARDED_BY(mu_);
  uint64_t indexed_through_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_MEMORY_AUDIT_STORE_H_
