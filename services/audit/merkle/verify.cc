#include "services/audit/merkle/verify.h"

#include <bit>
#include <vector>

#include "absl/strings/str_cat.h"

namespace datalab::merkle {
namespace {

bool Lsb(uint64_t x) { return (x & 1) != 0; }

absl::Status WrongInclusionLength(size_t got, uint64_t index, uint64_t size) {
  return absl::InvalidArgumentError(absl::StrCat(
      "inclusion proof has ", got, " hashes, expected ",
      InclusionProofSize(index, size), " for leaf index ", index,
      " in tree size ", size));
}

absl::Status WrongConsistencyLength(size_t got, uint64_t size1,
                                    uint64_t size2) {
  return absl::InvalidArgumentError(absl::StrCat(
      "consistency proof has ", got, " hashes, expected ",
      ConsistencyProofSize(size1, size2), " between tree sizes ", size1,
      " and ", size2));
}

}  // namespace

size_t InclusionProofSize(uint64_t index, uint64_t size) {
  if (index >= size) return 0;
  // Levels below the point where the paths to `index` and `size - 1`
  // diverge each contribute a sibling; above it, one per left subtree on
  // the right border.
  const int inner = std::bit_width(index ^ (size - 1));
  return inner + std::popcount(index >> inner);
}

size_t ConsistencyProofSize(uint64_t size1, uint64_t size2) {
  if (size1 == 0 || size1 >= size2) return 0;
  const uint64_t index = size1 - 1;
  const int inner_full = std::bit_width(index ^ (size2 - 1));
  const int border = std::popcount(index >> inner_full);
  const int shift = std::countr_zero(size1);
  const int inner = inner_full - shift;
  // The old tree's root is omitted when it is itself a perfect subtree.
  const int start = std::has_single_bit(size1) ? 0 : 1;
  return start + inner + border;
}

absl::StatusOr<Hash> RootFromInclusionProof(const Hash& leaf_hash,
                                            uint64_t index, uint64_t size,
                                            absl::Span<const Hash> proof) {
  // RFC 9162 section 2.1.3.2, steps numbered as there.
  // 1.
  if (index >= size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "leaf index ", index, " is not below tree size ", size));
  }
  // 2. and 3.
  uint64_t fn = index;
  uint64_t sn = size - 1;
  Hash r = leaf_hash;
  // 4.
  for (const Hash& p : proof) {
    if (sn == 0) return WrongInclusionLength(proof.size(), index, size);
    if (Lsb(fn) || fn == sn) {
      r = NodeHash(p, r);
      if (!Lsb(fn)) {
        while (!Lsb(fn) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = NodeHash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // 5. (first half; the root comparison is the caller's)
  if (sn != 0) return WrongInclusionLength(proof.size(), index, size);
  return r;
}

absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t index,
                             uint64_t size, absl::Span<const Hash> proof,
                             const Hash& root) {
  absl::StatusOr<Hash> r = RootFromInclusionProof(leaf_hash, index, size, proof);
  if (!r.ok()) return r.status();
  if (*r != root) {
    return absl::DataLossError(absl::StrCat(
        "inclusion proof for leaf index ", index, " in tree size ", size,
        " does not lead to the expected root"));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t size1, uint64_t size2,
                               const Hash& root1, const Hash& root2,
                               absl::Span<const Hash> proof) {
  if (size1 > size2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "first tree size ", size1, " is larger than second tree size ", size2));
  }
  if (size1 == size2) {
    if (!proof.empty()) return WrongConsistencyLength(proof.size(), size1, size2);
    if (root1 != root2) {
      return absl::DataLossError(absl::StrCat(
          "two tree heads of size ", size1, " have different roots"));
    }
    return absl::OkStatus();
  }
  if (size1 == 0) {
    if (!proof.empty()) return WrongConsistencyLength(proof.size(), size1, size2);
    if (root1 != EmptyRoot()) {
      return absl::DataLossError(
          "root of the tree of size 0 is not the empty-tree hash");
    }
    return absl::OkStatus();
  }

  // RFC 9162 section 2.1.4.2 for 0 < size1 < size2, steps numbered as there.
  // 1.
  if (proof.empty()) return WrongConsistencyLength(0, size1, size2);
  // 2.
  std::vector<Hash> path;
  path.reserve(proof.size() + 1);
  if (std::has_single_bit(size1)) path.push_back(root1);
  path.insert(path.end(), proof.begin(), proof.end());
  // 3.
  uint64_t fn = size1 - 1;
  uint64_t sn = size2 - 1;
  // 4.
  if (Lsb(fn)) {
    while (Lsb(fn)) {
      fn >>= 1;
      sn >>= 1;
    }
  }
  // 5.
  Hash fr = path[0];
  Hash sr = path[0];
  // 6.
  for (size_t i = 1; i < path.size(); ++i) {
    const Hash& c = path[i];
    if (sn == 0) return WrongConsistencyLength(proof.size(), size1, size2);
    if (Lsb(fn) || fn == sn) {
      fr = NodeHash(c, fr);
      sr = NodeHash(c, sr);
      if (!Lsb(fn)) {
        while (!Lsb(fn) && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      sr = NodeHash(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  // 7.
  if (sn != 0) return WrongConsistencyLength(proof.size(), size1, size2);
  if (fr != root1) {
    return absl::DataLossError(absl::StrCat(
        "consistency proof does not lead to the root of tree size ", size1));
  }
  if (sr != root2) {
    return absl::DataLossError(absl::StrCat(
        "consistency proof does not lead to the root of tree size ", size2));
  }
  return absl::OkStatus();
}

}  // namespace datalab::merkle
