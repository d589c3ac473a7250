// AuditStore on RocksDB (common/storage KvStore), every write fsynced.
//
// Column families and keys (README.md "Storage layout"):
//   leaves     be64(first index)          -> a chunk of up to 256 consecutive
//                                            leaves: hashes and entries
//                                            (leaf_chunk.h; "" entry = pruned)
//   nodes      u8(level) be64(index)      -> 32-byte perfect-subtree hash
//   ids        event_id                   -> be64(index); ids made by
//                                            NewEventId() sort by time
//   time_buckets be64(second ^ 2^63) be64(upper)
//                                         -> TimeKey(time, i)... ascending, for
//                                            the leaves of one index write
//                                            in that second; upper >= each i
//   terms      term 0x00 be64(upper)      -> be64 indexes (postings.h)
//   tree_heads be64(tree_size)            -> EncodeTreeHead()
//   meta       "tree_state"               -> be64(size) || frontier hashes
//              "indexed_through"          -> be64(n): time_buckets/terms complete below n
// The leaf at index i is in the chunk with the greatest key <= i, if that
// chunk is long enough. Stores written before chunks and time buckets (one
// "entries", one "hashes" and one "times" record per leaf) are converted when
// opened; one whose old leaf records do not pair up is refused, unchanged.
// An append is one WriteBatch (leaf chunks, nodes, ids, tree_state)
// written with sync=true, so "acknowledged" means in the fsynced WAL. The
// time_buckets/terms index is written afterwards without sync (WriteIndex).
//
// Thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_ROCKSDB_AUDIT_STORE_H_
#define DATALAB_SERVICES_AUDIT_ROCKSDB_AUDIT_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "common/storage/kv_store.h"
#include "services/audit/audit_store.h"

namespace datalab::audit {

class RocksDbAuditStore : public AuditStore {
 public:
  // The column families this store uses, for tools that open the KvStore
  // directly (tamper tests, backups).
  static std::vector<std::string> ColumnFamilies();

  // Opens (creating if missing) the store in directory `path`.
  static absl::StatusOr<std::unique_ptr<RocksDbAuditStore>> Open(const std::string& path);

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

  storage::KvStore& kv() { return *kv_; }

 private:
  explicit RocksDbAuditStore(std::unique_ptr<storage::KvStore> kv) : kv_(std::move(kv)) {}
  // Rewrite a store's per-leaf records as leaf chunks and its per-leaf time
  // keys as time buckets, in atomic rounds (see Open).
  absl::Status ConvertPerLeafRecords();
  absl::Status ConvertPerLeafTimes();
  // Visits, in key order, each chunk that may hold leaves in [begin, end):
  // its first index, the next chunk's first index (UINT64_MAX if none; the
  // chunk's leaves stop there) and its record. The visitor returns false to
  // stop.
  absl::Status VisitChunks(
      uint64_t begin, uint64_t end,
      const std::function<bool(uint64_t first, uint64_t limit, std::string_view record)>& visit)
      const;
  std::unique_ptr<storage::KvStore> kv_;
};

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_ROCKSDB_AUDIT_STORE_H_
