// Merkle tree hashing of RFC 6962 section 2.1 (RFC 9162 section 2.1) with
// SHA-256, the tree behind the audit log's signed tree heads.
//
//   LeafHash(d)    = SHA-256(0x00 || d)
//   NodeHash(l, r) = SHA-256(0x01 || l || r)
//   MTH({})        = SHA-256("")
//   MTH(D[n])      = NodeHash(MTH(D[0:k]), MTH(D[k:n])), k the largest power
//                    of two smaller than n.
//
// Tree coordinates used throughout this folder: a *perfect subtree* is a
// complete binary subtree of 2^level leaves starting at a multiple of
// 2^level; NodeId{level, index} covers leaves [index << level,
// (index + 1) << level). Level 0 nodes are leaf hashes. Only perfect
// subtrees have a hash that never changes as the log grows, so only they are
// ever stored.
//
// Pure functions; thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_MERKLE_MERKLE_HASH_H_
#define DATALAB_SERVICES_AUDIT_MERKLE_MERKLE_HASH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "common/crypto/bytes.h"
#include "common/crypto/sha256.h"

namespace datalab::merkle {

using Hash = crypto::Sha256Digest;

// Hash of a leaf entry (the serialised audit event).
Hash LeafHash(crypto::ByteView entry);
// Hash of an interior node from its children.
Hash NodeHash(const Hash& left, const Hash& right);
// MTH of the empty tree, SHA-256 of the empty string.
Hash EmptyRoot();

// A perfect subtree, see the banner.
struct NodeId {
  uint32_t level = 0;
  uint64_t index = 0;

  uint64_t begin() const { return index << level; }
  uint64_t end() const { return (index + 1) << level; }
  friend bool operator==(const NodeId& a, const NodeId& b) {
    return a.level == b.level && a.index == b.index;
  }
  friend bool operator!=(const NodeId& a, const NodeId& b) { return !(a == b); }
};

// The largest power of two strictly smaller than n (n >= 2): the split point
// k of RFC 6962 section 2.1.
uint64_t SplitPoint(uint64_t n);

// The perfect subtrees whose concatenation is leaves [0, size), largest
// first (one per set bit of size). Their hashes folded right to left give
// MTH(D[size]).
std::vector<NodeId> Decompose(uint64_t size);

// MTH computed directly from all leaf hashes by the RFC's recursive
// definition. O(n); the reference the faster code is tested against, and
// handy for small trees.
Hash RootFromLeafHashes(absl::Span<const Hash> leaf_hashes);

// Lowercase hex of a hash, for logs and tool output.
std::string HashToHex(const Hash& hash);

}  // namespace datalab::merkle

#endif  // DATALAB_SERVICES_AUDIT_MERKLE_MERKLE_HASH_H_
