// CompactRange: the right frontier of an append-only Merkle tree, enough to
// append leaves and compute the current root in O(log n) memory (the same
// idea as Trillian's / transparency-dev's compact.Range, for ranges that
// start at leaf 0).
//
// For a tree of `size` leaves the frontier is the hashes of the perfect
// subtrees given by Decompose(size): one per set bit of size, largest
// (leftmost) first. Appending a leaf pushes its hash and merges equal-sized
// neighbours, completing exactly the perfect subtrees that end at the new
// leaf; a visitor sees each of them so the caller can persist them (see
// SubtreeHashStore in tree_store.h).
//
// To resume after a restart, persist size() and frontier() with each
// committed batch (or read the frontier nodes back from the node store,
// FrontierIds() says which) and rebuild with FromFrontier().
//
// Thread safety: a value type; not synchronised. The audit sequencer is the
// single writer.
#ifndef DATALAB_SERVICES_AUDIT_MERKLE_COMPACT_RANGE_H_
#define DATALAB_SERVICES_AUDIT_MERKLE_COMPACT_RANGE_H_

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/audit/merkle/merkle_hash.h"

namespace datalab::merkle {

class CompactRange {
 public:
  // Called for the new leaf (level 0) and then for every perfect subtree the
  // append completes, bottom-up. A non-OK return aborts the append.
  using NodeVisitor =
      absl::FunctionRef<absl::Status(const NodeId& id, const Hash& hash)>;

  // The empty tree.
  CompactRange() = default;

  // Rebuilds a range from a persisted frontier. INVALID_ARGUMENT unless
  // frontier.size() == popcount(size).
  static absl::StatusOr<CompactRange> FromFrontier(uint64_t size,
                                                   std::vector<Hash> frontier);

  uint64_t size() const { return size_; }
  const std::vector<Hash>& frontier() const { return frontier_; }
  // The node ids of frontier(), same order (= Decompose(size())).
  std::vector<NodeId> FrontierIds() const { return Decompose(size_); }

  void Append(const Hash& leaf_hash);

  // Appends and reports the completed nodes to `visitor`. If the visitor
  // fails, the range is left as it was (nodes already visited are harmless
  // to keep: a perfect subtree's hash never changes) and its status is
  // returned.
  absl::Status Append(const Hash& leaf_hash, NodeVisitor visitor);

  // MTH of the leaves appended so far; EmptyRoot() when empty.
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  std::vector<Hash> frontier_;
};

}  // namespace datalab::merkle

#endif  // DATALAB_SERVICES_AUDIT_MERKLE_COMPACT_RANGE_H_
