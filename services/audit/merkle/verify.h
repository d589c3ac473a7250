// Verifiers for Merkle inclusion and consistency proofs, implementing the
// algorithms of RFC 9162 sections 2.1.3.2 and 2.1.4.2 step by step. Used by
// the offline `datalab audit verify` tool and by clients checking the audit
// service; they need nothing but the proof and the signed tree heads.
//
// Status codes:
//   OK                - the proof holds.
//   INVALID_ARGUMENT  - the inputs cannot form a valid proof: index not
//                       below size, size1 > size2, a proof of the wrong
//                       length (the message says the expected length).
//   DATA_LOSS         - a well-formed proof that does not reproduce the
//                       given root(s): the log, the proof or the tree head
//                       has been altered (or belongs to another log).
// Messages name sizes and indexes only, never hashes or entries.
//
// Pure functions; thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_MERKLE_VERIFY_H_
#define DATALAB_SERVICES_AUDIT_MERKLE_VERIFY_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "services/audit/merkle/merkle_hash.h"

namespace datalab::merkle {

// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves
// whose root is `root`, given the inclusion path `proof` (bottom-up).
absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t index,
                             uint64_t size, absl::Span<const Hash> proof,
                             const Hash& root);

// The root that `proof` implies for leaf `index` of a tree of `size`; the
// first half of VerifyInclusion, for callers that look the root up after.
absl::StatusOr<Hash> RootFromInclusionProof(const Hash& leaf_hash,
                                            uint64_t index, uint64_t size,
                                            absl::Span<const Hash> proof);

// Verifies that the tree of size2 with root2 extends the tree of size1 with
// root1. Beyond RFC 9162 (which covers 0 < size1 < size2): size1 == size2
// needs an empty proof and equal roots; size1 == 0 needs an empty proof and
// root1 equal to EmptyRoot().
absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               const Hash& root1, const Hash& root2,
                               absl::Span<const Hash> proof);

// Expected proof lengths, for callers that validate input early.
size_t InclusionProofSize(uint64_t index, uint64_t size);
size_t ConsistencyProofSize(uint64_t size1, uint64_t size2);

}  // namespace datalab::merkle

#endif  // DATALAB_SERVICES_AUDIT_MERKLE_VERIFY_H_
