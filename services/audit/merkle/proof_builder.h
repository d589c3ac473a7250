// ProofBuilder: tree roots, inclusion proofs and consistency proofs for any
// past size of an append-only log, per RFC 6962 sections 2.1.1 and 2.1.2
// (RFC 9162 sections 2.1.3.1 and 2.1.4.1).
//
// Proof hashes are ordered as the RFCs define them: an inclusion proof
// (PATH) from the leaf's sibling up to the root's child; a consistency proof
// (PROOF) likewise bottom-up. The verifiers in verify.h consume exactly this
// order.
//
// Every hash comes from a perfect subtree (read from the SubtreeHashStore,
// or recomputed from children when the store lacks it) or, on the tree's
// right edge, from folding the Decompose(size) subtrees, which is done once
// per call. With a fully populated store a proof costs O(log n) store reads
// and hashes (about 40 reads for 1M leaves; microseconds in memory). With no
// store every call costs O(size) leaf reads and hashes.
//
// Thread safety: const methods; safe to call concurrently if the sources
// are (see tree_store.h). The sources must outlive the builder.
#ifndef DATALAB_SERVICES_AUDIT_MERKLE_PROOF_BUILDER_H_
#define DATALAB_SERVICES_AUDIT_MERKLE_PROOF_BUILDER_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "services/audit/merkle/merkle_hash.h"
#include "services/audit/merkle/tree_store.h"

namespace datalab::merkle {

class ProofBuilder {
 public:
  // `leaves` is required; `store` may be null (everything recomputed).
  ProofBuilder(const LeafHashSource* leaves, const SubtreeHashStore* store)
      : leaves_(leaves), store_(store) {}

  // MTH of the first `size` leaves. OUT_OF_RANGE if size > leaves->Size().
  absl::StatusOr<Hash> RootAt(uint64_t size) const;

  // PATH(index, D[size]). INVALID_ARGUMENT unless index < size;
  // OUT_OF_RANGE if size > leaves->Size().
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index,
                                                   uint64_t size) const;

  // PROOF(size1, D[size2]). Empty when size1 == 0 or size1 == size2 (nothing
  // to prove). INVALID_ARGUMENT if size1 > size2; OUT_OF_RANGE if size2 >
  // leaves->Size().
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t size1,
                                                     uint64_t size2) const;

 private:
  absl::Status CheckSize(uint64_t size) const;

  const LeafHashSource* leaves_;
  const SubtreeHashStore* store_;
};

}  // namespace datalab::merkle

#endif  // DATALAB_SERVICES_AUDIT_MERKLE_PROOF_BUILDER_H_
