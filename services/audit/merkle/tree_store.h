// Storage interfaces the Merkle proof code reads from, and in-memory
// implementations of them.
//
// LeafHashSource gives the hash of leaf i of the log (the audit service keeps
// it next to each event). SubtreeHashStore caches hashes of perfect subtrees
// (NodeId, see merkle_hash.h) so that roots and proofs cost O(log n) reads
// instead of O(n) hashing: a proof for a 1M-leaf tree needs about 40 reads.
//
// Contract for implementations (the audit service backs both with RocksDB):
//  - Read methods are const and must be safe to call from many threads at
//    once, concurrently with the single writer appending.
//  - SubtreeHashStore::Get returns std::nullopt for a node it does not hold;
//    the reader then recomputes it from its children (eventually from
//    leaves). A missing node is therefore only a slowdown, but a WRONG node
//    means wrong proofs: write a node only when all its leaves are written,
//    ideally in the same atomic batch (AppendAndStore() and
//    CompactRange::Append's visitor hand you exactly those nodes).
//  - Errors are for I/O failures only (UNAVAILABLE, DATA_LOSS, ...); they are
//    passed to the caller unchanged.
//  - Suggested RocksDB layout: key "n" + level (1 byte) + big-endian index
//    (8 bytes), value the 32-byte hash; leaves under "l" + big-endian index.
//    Big-endian keeps each level contiguous and appends sequential, which
//    RocksDB ingests ~5x faster than random keys (see PEERS.md).
//  - To cut storage, store only levels >= min_level (AppendAndStore's
//    parameter): level L costs n / 2^L entries and a miss below it costs at
//    most 2^L leaf reads.
#ifndef DATALAB_SERVICES_AUDIT_MERKLE_TREE_STORE_H_
#define DATALAB_SERVICES_AUDIT_MERKLE_TREE_STORE_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/audit/merkle/compact_range.h"
#include "services/audit/merkle/merkle_hash.h"

namespace datalab::merkle {

// Read access to the log's leaf hashes.
class LeafHashSource {
 public:
  virtual ~LeafHashSource() = default;
  // Hash of leaf `index`; OUT_OF_RANGE if index >= Size().
  virtual absl::StatusOr<Hash> LeafHash(uint64_t index) const = 0;
  // Number of leaves currently readable.
  virtual uint64_t Size() const = 0;
};

// Cache of perfect-subtree hashes, level >= 1 (level 0 is the leaves).
class SubtreeHashStore {
 public:
  virtual ~SubtreeHashStore() = default;
  virtual absl::StatusOr<std::optional<Hash>> Get(const NodeId& id) const = 0;
  virtual absl::Status Put(const NodeId& id, const Hash& hash) = 0;
};

// Appends `leaf_hash` to `range` and Puts every perfect subtree this
// completes at level >= max(min_level, 1) into `store`. On a Put failure the
// range is unchanged and the status is returned. The caller stores the leaf
// hash itself in its LeafHashSource.
absl::Status AppendAndStore(CompactRange& range, const Hash& leaf_hash,
                            SubtreeHashStore& store, uint32_t min_level = 1);

// ---------------------------------------------------------------------------
// In-memory implementations (tests, tools, small deployments). Thread-safe.

class InMemoryLeafHashSource : public LeafHashSource {
 public:
  void Append(const Hash& leaf_hash) ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<Hash> LeafHash(uint64_t index) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t Size() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<Hash> leaves_ ABSL_GUARDED_BY(mu_);
};

// Nodes kept densely per level (32 bytes each, about n entries in all),
// since nodes arrive in index order.
class InMemorySubtreeStore : public SubtreeHashStore {
 public:
  absl::StatusOr<std::optional<Hash>> Get(const NodeId& id) const override
      ABSL_LOCKS_EXCLUDED(mu_);
  // INVALID_ARGUMENT for level 0 or an index more than 2^20 past the end of
  // its level (a guard against a runaway caller allocating memory).
  absl::Status Put(const NodeId& id, const Hash& hash) override
      ABSL_LOCKS_EXCLUDED(mu_);
  // Number of nodes held, for tests.
  uint64_t NodeCount() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Level {
    std::vector<Hash> hashes;
    std::vector<bool> present;
  };
  mutable absl::Mutex mu_;
  std::vector<Level> levels_ ABSL_GUARDED_BY(mu_);  // levels_[0] unused
  uint64_t count_ ABSL_GUARDED_BY(mu_) = 0;
};

// A whole in-memory log tree wired as the audit service wires its RocksDB
// one: leaf hashes, node store and compact range. Thread-safe; appends are
// serialised.
class InMemoryMerkleTree : public LeafHashSource {
 public:
  explicit InMemoryMerkleTree(uint32_t min_stored_level = 1)
      : min_stored_level_(min_stored_level) {}

  // Appends LeafHash(entry) / a precomputed leaf hash; returns the leaf's
  // index.
  uint64_t AppendEntry(crypto::ByteView entry) ABSL_LOCKS_EXCLUDED(append_mu_);
  uint64_t AppendLeafHash(const Hash& leaf_hash)
      ABSL_LOCKS_EXCLUDED(append_mu_);

  // Current root, O(log n) from the compact range.
  Hash Root() const ABSL_LOCKS_EXCLUDED(append_mu_);

  absl::StatusOr<Hash> LeafHash(uint64_t index) const override {
    return leaves_.LeafHash(index);
  }
  uint64_t Size() const override { return leaves_.Size(); }
  const SubtreeHashStore& store() const { return store_; }
  const InMemorySubtreeStore& in_memory_store() const { return store_; }

 private:
  const uint32_t min_stored_level_;
  mutable absl::Mutex append_mu_;
  CompactRange range_ ABSL_GUARDED_BY(append_mu_);
  InMemoryLeafHashSource leaves_;
  InMemorySubtreeStore store_;
};

}  // namespace datalab::merkle

#endif  // DATALAB_SERVICES_AUDIT_MERKLE_TREE_STORE_H_
