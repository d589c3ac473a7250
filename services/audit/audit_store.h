// AuditStore: the small storage interface behind the audit log, in the
// Trillian mould. One writer (the sequencer) appends batches; any number of
// readers read concurrently. Two implementations: RocksDbAuditStore
// (production, every append fsynced) and MemoryAuditStore (tests, tools),
// both checked by one conformance suite (audit_store_conformance_test.cc).
//
// What is stored, per leaf i (see README.md "Storage layout"):
//   entry bytes (the serialized AuditEvent, the Merkle leaf; "" once pruned),
//   leaf hash, event_id -> i (idempotency)           -- Append(), durable
//   time -> i (retention, reports), search terms -> i -- WriteIndex(), derived
// plus perfect-subtree hashes, the tree state (size + compact-range
// frontier) and the signed tree heads. The secondary index is derived data:
// it is written after the leaves, without fsync, and rebuilt from the
// entries after a crash (IndexedThrough() says how far it got), which keeps
// the fsynced critical path to four keys per event.
//
// Contract:
//  - Append() is atomic (all of a batch or nothing) and durable when it
//    returns OK. It refuses a batch whose first_index is not the current
//    size (FAILED_PRECONDITION), so a confused writer can never overwrite.
//  - Readers see a prefix of committed batches; they never see half a batch.
//  - Errors: NOT_FOUND for a missing key where documented, DATA_LOSS for a
//    corrupt record, UNAVAILABLE for I/O errors.
//  - Thread-safe; Append() and Prune() calls are serialised by the caller.
#ifndef DATALAB_SERVICES_AUDIT_AUDIT_STORE_H_
#define DATALAB_SERVICES_AUDIT_AUDIT_STORE_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "services/audit/merkle/merkle_hash.h"
#include "services/audit/tree_head.h"

namespace datalab::audit {

struct LeafRecord {
  std::string event_id;
  std::string entry;  // serialized AuditEvent: the Merkle leaf data
  merkle::Hash leaf_hash{};
  // For the secondary index (WriteIndex), not written by Append.
  int64_t time_unix_ms = 0;
  std::vector<std::string> terms;  // no NUL bytes
};

// Perfect subtrees below this level are not stored: a level-L node costs
// n / 2^L records, and one missing below level 4 is recomputed from at most
// 8 leaf hashes (one leaf chunk read each). Storing every level cost about
// one record per leaf, as many as the leaves themselves.
inline constexpr uint32_t kMinStoredNodeLevel = 4;

struct AppendBatch {
  uint64_t first_index = 0;
  std::vector<LeafRecord> leaves;
  // Perfect subtrees (level >= kMinStoredNodeLevel) completed by these leaves.
  std::vector<std::pair<merkle::NodeId, merkle::Hash>> nodes;
  // Compact-range frontier after the batch (size first_index + leaves).
  std::vector<merkle::Hash> frontier;
};

struct TreeState {
  uint64_t size = 0;
  std::vector<merkle::Hash> frontier;
};

// One stored leaf as read back. Tampering shows up as missing parts, so
// nothing here is assumed to be present.
struct StoredEntry {
  uint64_t index = 0;
  std::optional<std::string> entry;          // nullopt: no entry record at all
  bool pruned = false;                       // entry record is the pruned marker
  std::optional<merkle::Hash> leaf_hash;     // nullopt: no stored leaf hash
};

// The secondary-index records of one leaf.
struct IndexRecord {
  uint64_t index = 0;
  int64_t time_unix_ms = 0;
  std::vector<std::string> terms;
};

class AuditStore {
 public:
  virtual ~AuditStore() = default;

  virtual absl::Status Append(const AppendBatch& batch) = 0;
  virtual absl::StatusOr<TreeState> LoadTreeState() const = 0;

  // For each event id, the index of the leaf holding it, nullopt if none.
  // One call per request: RocksDB looks a batch up together.
  virtual absl::StatusOr<std::vector<std::optional<uint64_t>>> FindEventIds(
      absl::Span<const std::string_view> event_ids) const = 0;
  // NOT_FOUND when no hash is stored for `index`.
  virtual absl::StatusOr<merkle::Hash> GetLeafHash(uint64_t index) const = 0;
  virtual absl::StatusOr<std::optional<merkle::Hash>> GetNode(
      const merkle::NodeId& id) const = 0;

  // Every index in [begin, end) that has an entry record or a leaf hash, in
  // index order. The visitor returns false to stop.
  virtual absl::Status ScanEntries(
      uint64_t begin, uint64_t end,
      const std::function<bool(const StoredEntry&)>& visit) const = 0;
  // Indexes >= from_index carrying `term`, ascending.
  virtual absl::Status ScanTerm(
      std::string_view term, uint64_t from_index,
      const std::function<bool(uint64_t index)>& visit) const = 0;
  // (time, index) pairs with begin_ms <= time < end_ms, by time then index.
  virtual absl::Status ScanTimes(
      int64_t begin_ms, int64_t end_ms,
      const std::function<bool(int64_t time_ms, uint64_t index)>& visit) const = 0;

  // Replaces the entries' bytes with the pruned marker and drops their time
  // and term index records, atomically and durably. Leaf hashes stay.
  virtual absl::Status Prune(const std::vector<IndexRecord>& items) = 0;

  // Writes the time and term records of leaves and records that the index
  // is complete below `indexed_through`, atomically (not necessarily
  // durably: a crash loses a suffix, which is rebuilt from the entries).
  // `records` ascend by index and follow every earlier call's records.
  virtual absl::Status WriteIndex(const std::vector<IndexRecord>& records,
                                  uint64_t indexed_through) = 0;
  virtual absl::StatusOr<uint64_t> IndexedThrough() const = 0;
  // Drops every time and term record and records that nothing is indexed,
  // atomically and durably. The index is derived data: the next
  // Sequencer::Create rebuilds it from the entries, which repairs an index
  // whose records searches report as damaged (DATA_LOSS). Entries, hashes,
  // ids and tree heads are untouched.
  virtual absl::Status ClearIndex() = 0;

  // Durable. Heads are keyed by tree size.
  virtual absl::Status PutTreeHead(const TreeHead& head) = 0;
  virtual absl::StatusOr<std::optional<TreeHead>> LatestTreeHead() const = 0;
  virtual absl::StatusOr<std::optional<TreeHead>> GetTreeHead(uint64_t tree_size) const = 0;
  // Heads with tree_size <= max_size, ascending.
  virtual absl::Status ScanTreeHeads(
      uint64_t max_size, const std::function<bool(const TreeHead&)>& visit) const = 0;
};

// Key of a (time, index) pair: times are biased so negative ones sort first.
std::string TimeKey(int64_t time_ms, uint64_t index);
// The (time, index) pair of a TimeKey; requires key.size() >= 16.
std::pair<int64_t, uint64_t> DecodeTimeKey(std::string_view key);

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_AUDIT_STORE_H_
