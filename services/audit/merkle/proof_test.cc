#include "services/audit/merkle/proof_builder.h"

#include <atomic>
#include <bit>
#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/merkle/rfc6962_test_vectors.h"
#include "services/audit/merkle/tree_store.h"
#include "services/audit/merkle/verify.h"

namespace datalab::merkle {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::Not;

Hash Leaf(uint64_t i) { return LeafHash(absl::StrCat("audit event ", i)); }

// --- Reference: RFC 6962 section 2.1.1 / 2.1.2 written literally over a
// list of leaf hashes, independent of ProofBuilder's node arithmetic.
using Leaves = absl::Span<const Hash>;

std::vector<Hash> RefPath(uint64_t m, Leaves d) {
  if (d.size() <= 1) return {};
  const uint64_t k = SplitPoint(d.size());
  std::vector<Hash> out;
  if (m < k) {
    out = RefPath(m, d.subspan(0, k));
    out.push_back(RootFromLeafHashes(d.subspan(k)));
  } else {
    out = RefPath(m - k, d.subspan(k));
    out.push_back(RootFromLeafHashes(d.subspan(0, k)));
  }
  return out;
}

std::vector<Hash> RefSubProof(uint64_t m, Leaves d, bool b) {
  if (m == d.size()) {
    if (b) return {};
    return {RootFromLeafHashes(d)};
  }
  const uint64_t k = SplitPoint(d.size());
  std::vector<Hash> out;
  if (m <= k) {
    out = RefSubProof(m, d.subspan(0, k), b);
    out.push_back(RootFromLeafHashes(d.subspan(k)));
  } else {
    out = RefSubProof(m - k, d.subspan(k), false);
    out.push_back(RootFromLeafHashes(d.subspan(0, k)));
  }
  return out;
}

// A tree of `n` leaves in three storage configurations that must all give
// the same answers: full node store, sparse store (levels >= 3), no store.
struct Fixture {
  explicit Fixture(uint64_t n) : sparse(3) {
    for (uint64_t i = 0; i < n; ++i) {
      leaves.push_back(Leaf(i));
      full.AppendLeafHash(leaves.back());
      sparse.AppendLeafHash(leaves.back());
    }
  }
  std::vector<Hash> leaves;
  InMemoryMerkleTree full;
  InMemoryMerkleTree sparse;
  std::vector<ProofBuilder> Builders() const {
    return {ProofBuilder(&full, &full.store()),
            ProofBuilder(&sparse, &sparse.store()),
            ProofBuilder(&full, nullptr)};
  }
};

TEST(ProofBuilder, KnownAnswerRootsAndProofs) {
  InMemoryMerkleTree tree;
  for (const std::string& entry : testvectors::Leaves()) tree.AppendEntry(entry);
  ProofBuilder builder(&tree, &tree.store());
  std::vector<Hash> roots = testvectors::Roots();
  for (uint64_t s = 1; s <= 8; ++s) {
    EXPECT_THAT(builder.RootAt(s), IsOkAndHolds(roots[s - 1])) << "size " << s;
  }
  EXPECT_THAT(builder.RootAt(0), IsOkAndHolds(EmptyRoot()));
  for (const auto& v : testvectors::InclusionVectors()) {
    EXPECT_THAT(builder.InclusionProof(v.index, v.size), IsOkAndHolds(v.proof))
        << "index " << v.index << " size " << v.size;
  }
  for (const auto& v : testvectors::ConsistencyVectors()) {
    EXPECT_THAT(builder.ConsistencyProof(v.size1, v.size2), IsOkAndHolds(v.proof))
        << "sizes " << v.size1 << " " << v.size2;
  }
}

TEST(ProofBuilder, ExhaustiveSmallTreesMatchReferenceAndVerify) {
  constexpr uint64_t kMax = 64;
  Fixture f(kMax);
  std::vector<Hash> roots(kMax + 1);
  for (uint64_t s = 0; s <= kMax; ++s) {
    roots[s] = RootFromLeafHashes(Leaves(f.leaves).subspan(0, s));
  }
  for (const ProofBuilder& builder : f.Builders()) {
    for (uint64_t s = 0; s <= kMax; ++s) {
      ASSERT_THAT(builder.RootAt(s), IsOkAndHolds(roots[s])) << "size " << s;
      Leaves d = Leaves(f.leaves).subspan(0, s);
      for (uint64_t i = 0; i < s; ++i) {
        absl::StatusOr<std::vector<Hash>> p = builder.InclusionProof(i, s);
        ASSERT_THAT(p, IsOkAndHolds(RefPath(i, d))) << "index " << i << " size " << s;
        ASSERT_EQ(p->size(), InclusionProofSize(i, s));
        ASSERT_THAT(VerifyInclusion(f.leaves[i], i, s, *p, roots[s]), IsOk())
            << "index " << i << " size " << s;
      }
      for (uint64_t s1 = 0; s1 <= s; ++s1) {
        absl::StatusOr<std::vector<Hash>> p = builder.ConsistencyProof(s1, s);
        std::vector<Hash> want =
            (s1 == 0 || s1 == s) ? std::vector<Hash>{} : RefSubProof(s1, d, true);
        ASSERT_THAT(p, IsOkAndHolds(want)) << "sizes " << s1 << " " << s;
        ASSERT_EQ(p->size(), ConsistencyProofSize(s1, s));
        ASSERT_THAT(VerifyConsistency(s1, s, roots[s1], roots[s], *p), IsOk())
            << "sizes " << s1 << " " << s;
      }
    }
  }
}

// Content mutations: a flipped bit anywhere, a dropped, added or duplicated
// element, a wrong leaf or root, a wrong index. All must fail.
TEST(ProofBuilder, MutatedInclusionProofsAreRejected) {
  constexpr uint64_t kMax = 64;
  Fixture f(kMax);
  ProofBuilder builder(&f.full, &f.full.store());
  const Hash other = LeafHash("not in the log");
  for (uint64_t s = 1; s <= kMax; ++s) {
    const Hash root = *builder.RootAt(s);
    for (uint64_t i = 0; i < s; ++i) {
      const std::vector<Hash> proof = *builder.InclusionProof(i, s);
      const Hash& leaf = f.leaves[i];
      auto rejected = [&](const Hash& l, uint64_t idx, uint64_t size,
                          const std::vector<Hash>& p, const Hash& r) {
        return !VerifyInclusion(l, idx, size, p, r).ok();
      };
      SCOPED_TRACE(absl::StrCat("index ", i, " size ", s));
      for (size_t k = 0; k < proof.size(); ++k) {
        for (int bit : {0, 3, 7}) {
          std::vector<Hash> bad = proof;
          bad[k][k % 32] ^= static_cast<uint8_t>(1 << bit);
          EXPECT_TRUE(rejected(leaf, i, s, bad, root)) << "flip in element " << k;
        }
      }
      if (!proof.empty()) {
        EXPECT_TRUE(rejected(leaf, i, s, {proof.begin(), proof.end() - 1}, root));
        EXPECT_TRUE(rejected(leaf, i, s, {proof.begin() + 1, proof.end()}, root));
      }
      std::vector<Hash> longer = proof;
      longer.push_back(other);
      EXPECT_TRUE(rejected(leaf, i, s, longer, root));
      longer = proof;
      longer.push_back(root);
      EXPECT_TRUE(rejected(leaf, i, s, longer, root));
      longer = proof;
      longer.insert(longer.begin(), leaf);
      EXPECT_TRUE(rejected(leaf, i, s, longer, root));
      EXPECT_TRUE(rejected(other, i, s, proof, root));
      EXPECT_TRUE(rejected(leaf, i, s, proof, other));
      EXPECT_TRUE(rejected(leaf, i, s, proof, EmptyRoot()));
      for (uint64_t j = 0; j < s + 2; ++j) {
        if (j != i) {
          EXPECT_TRUE(rejected(leaf, j, s, proof, root)) << "index " << j;
        }
      }
      // The RFC algorithm takes the tree size only as the proof's shape; a
      // size whose shape needs a different number of hashes always fails.
      for (uint64_t s2 : {s - 1, s + 1, s * 2, s / 2, s + 7}) {
        if (s2 != s && InclusionProofSize(i, s2) != proof.size()) {
          EXPECT_TRUE(rejected(leaf, i, s2, proof, root)) << "size " << s2;
        }
      }
    }
  }
}

// Wrong index or size against the TRUE root of that claimed tree: accepted
// exactly when the proof happens to be the true proof for the claim.
TEST(ProofBuilder, InclusionProofsProveOnlyWhatTheyProve) {
  constexpr uint64_t kMax = 20;
  Fixture f(kMax);
  ProofBuilder builder(&f.full, &f.full.store());
  for (uint64_t s = 1; s <= kMax; ++s) {
    for (uint64_t i = 0; i < s; ++i) {
      const std::vector<Hash> proof = *builder.InclusionProof(i, s);
      for (uint64_t s2 = 1; s2 <= kMax; ++s2) {
        for (uint64_t i2 = 0; i2 < s2; ++i2) {
          const bool ok = VerifyInclusion(f.leaves[i2], i2, s2, proof,
                                          *builder.RootAt(s2)).ok();
          const bool same = (i2 == i && s2 == s) ||
                            (i2 == i && *builder.InclusionProof(i2, s2) == proof);
          ASSERT_EQ(ok, same) << "proof (" << i << "," << s << ") claim (" << i2
                              << "," << s2 << ")";
        }
      }
    }
  }
}

TEST(ProofBuilder, MutatedConsistencyProofsAreRejected) {
  constexpr uint64_t kMax = 64;
  Fixture f(kMax);
  ProofBuilder builder(&f.full, &f.full.store());
  std::vector<Hash> roots(kMax + 1);
  for (uint64_t s = 0; s <= kMax; ++s) roots[s] = *builder.RootAt(s);
  for (uint64_t s2 = 2; s2 <= kMax; ++s2) {
    for (uint64_t s1 = 1; s1 < s2; ++s1) {
      SCOPED_TRACE(absl::StrCat("sizes ", s1, " ", s2));
      const std::vector<Hash> proof = *builder.ConsistencyProof(s1, s2);
      const Hash& r1 = roots[s1];
      const Hash& r2 = roots[s2];
      auto rejected = [&](uint64_t a, uint64_t b, const Hash& ra, const Hash& rb,
                          const std::vector<Hash>& p) {
        return !VerifyConsistency(a, b, ra, rb, p).ok();
      };
      ASSERT_FALSE(proof.empty());
      for (size_t k = 0; k < proof.size(); ++k) {
        std::vector<Hash> bad = proof;
        bad[k][31 - k % 32] ^= 0x10;
        EXPECT_TRUE(rejected(s1, s2, r1, r2, bad)) << "flip in element " << k;
      }
      EXPECT_TRUE(rejected(s1, s2, r1, r2, {}));
      EXPECT_TRUE(rejected(s1, s2, r1, r2, {proof.begin(), proof.end() - 1}));
      EXPECT_TRUE(rejected(s1, s2, r1, r2, {proof.begin() + 1, proof.end()}));
      for (const Hash& extra : {r1, r2, proof[0], EmptyRoot()}) {
        std::vector<Hash> longer = proof;
        longer.push_back(extra);
        EXPECT_TRUE(rejected(s1, s2, r1, r2, longer));
        longer = proof;
        longer.insert(longer.begin(), extra);
        EXPECT_TRUE(rejected(s1, s2, r1, r2, longer));
      }
      EXPECT_TRUE(rejected(s1, s2, r2, r1, proof));  // swapped roots
      EXPECT_TRUE(rejected(s1, s2, EmptyRoot(), r2, proof));
      EXPECT_TRUE(rejected(s1, s2, r1, EmptyRoot(), proof));
      EXPECT_TRUE(rejected(s2, s1, r2, r1, proof));  // time travel
      // Wrong sizes with the original roots: rejected whenever the claimed
      // shape needs a different number of hashes (see the next test for
      // claims checked against their true roots).
      for (auto [a, b] : std::vector<std::pair<uint64_t, uint64_t>>{
               {s1 - 1, s2}, {s1 + 1, s2}, {s1 ^ 2, s2}, {s1, s2 * 2},
               {s1, s2 / 2}, {s1, s2 + 1}}) {
        if ((a != s1 || b != s2) && ConsistencyProofSize(a, b) != proof.size()) {
          EXPECT_TRUE(rejected(a, b, r1, r2, proof)) << "claim " << a << "," << b;
        }
      }
    }
  }
}

// Every proof checked against every other size pair with the TRUE roots of
// that pair: accepted exactly when it is the true proof for that pair.
TEST(ProofBuilder, ConsistencyProofsProveOnlyWhatTheyProve) {
  constexpr uint64_t kMax = 24;
  Fixture f(kMax);
  ProofBuilder builder(&f.full, &f.full.store());
  std::vector<Hash> roots(kMax + 1);
  std::vector<std::vector<std::vector<Hash>>> proofs(kMax + 1);
  for (uint64_t b = 0; b <= kMax; ++b) {
    roots[b] = *builder.RootAt(b);
    proofs[b].resize(b + 1);
    for (uint64_t a = 0; a <= b; ++a) proofs[b][a] = *builder.ConsistencyProof(a, b);
  }
  for (uint64_t s2 = 2; s2 <= kMax; ++s2) {
    for (uint64_t s1 = 1; s1 < s2; ++s1) {
      const std::vector<Hash>& proof = proofs[s2][s1];
      for (uint64_t b = 0; b <= kMax; ++b) {
        for (uint64_t a = 0; a <= b; ++a) {
          const bool ok = VerifyConsistency(a, b, roots[a], roots[b], proof).ok();
          ASSERT_EQ(ok, proofs[b][a] == proof)
              << "proof (" << s1 << "," << s2 << ") claim (" << a << "," << b << ")";
        }
      }
    }
  }
}

TEST(ProofBuilder, RejectsBadRequests) {
  Fixture f(10);
  ProofBuilder builder(&f.full, &f.full.store());
  const auto kInvalid = StatusIs(absl::StatusCode::kInvalidArgument);
  const auto kOutOfRange = StatusIs(absl::StatusCode::kOutOfRange);
  EXPECT_THAT(builder.RootAt(11), kOutOfRange);
  EXPECT_THAT(builder.InclusionProof(0, 0), kInvalid);
  EXPECT_THAT(builder.InclusionProof(5, 5), kInvalid);
  EXPECT_THAT(builder.InclusionProof(3, 11), kOutOfRange);
  EXPECT_THAT(builder.ConsistencyProof(6, 5), kInvalid);
  EXPECT_THAT(builder.ConsistencyProof(5, 11), kOutOfRange);
  EXPECT_THAT(builder.ConsistencyProof(0, 11), kOutOfRange);
  EXPECT_THAT(builder.ConsistencyProof(0, 10), IsOkAndHolds(std::vector<Hash>{}));
  EXPECT_THAT(builder.ConsistencyProof(10, 10), IsOkAndHolds(std::vector<Hash>{}));
}

// Counts reads so efficiency is asserted without timing anything.
class CountingLeaves : public LeafHashSource {
 public:
  explicit CountingLeaves(const LeafHashSource* inner) : inner_(inner) {}
  absl::StatusOr<Hash> LeafHash(uint64_t index) const override {
    ++reads;
    return inner_->LeafHash(index);
  }
  uint64_t Size() const override { return inner_->Size(); }
  mutable std::atomic<uint64_t> reads{0};

 private:
  const LeafHashSource* inner_;
};

class CountingStore : public SubtreeHashStore {
 public:
  explicit CountingStore(const SubtreeHashStore* inner) : inner_(inner) {}
  absl::StatusOr<std::optional<Hash>> Get(const NodeId& id) const override {
    ++reads;
    return inner_->Get(id);
  }
  absl::Status Put(const NodeId&, const Hash&) override {
    return absl::UnimplementedError("read-only");
  }
  mutable std::atomic<uint64_t> reads{0};

 private:
  const SubtreeHashStore* inner_;
};

TEST(ProofBuilder, MillionLeafTreeProofsNeedLogarithmicReads) {
  constexpr uint64_t kSize = 1'000'003;
  InMemoryMerkleTree tree;
  for (uint64_t i = 0; i < kSize; ++i) tree.AppendLeafHash(Leaf(i));
  CountingLeaves leaves(&tree);
  CountingStore store(&tree.store());
  ProofBuilder builder(&leaves, &store);
  // One right border (popcount(size) <= 20 reads) plus at most one read per
  // level (20 levels) per proof.
  const uint64_t kBound = 2 * std::bit_width(kSize) + 4;

  auto reads = [&] { return leaves.reads.load() + store.reads.load(); };
  ASSERT_THAT(builder.RootAt(kSize), IsOkAndHolds(tree.Root()));
  EXPECT_LE(reads(), kBound);

  const auto start = std::chrono::steady_clock::now();
  int proofs = 0;
  for (uint64_t index : {uint64_t{0}, uint64_t{1}, uint64_t{524287},
                         uint64_t{524288}, uint64_t{999'999}, kSize - 1}) {
    const uint64_t before = reads();
    absl::StatusOr<std::vector<Hash>> p = builder.InclusionProof(index, kSize);
    ASSERT_THAT(p, IsOk());
    EXPECT_LE(reads() - before, kBound) << "index " << index;
    EXPECT_THAT(VerifyInclusion(Leaf(index), index, kSize, *p, tree.Root()), IsOk());
    ++proofs;
  }
  for (uint64_t size1 : {uint64_t{1}, uint64_t{1000}, uint64_t{524288},
                         uint64_t{777'777}, kSize - 1}) {
    const uint64_t before = reads();
    absl::StatusOr<std::vector<Hash>> p = builder.ConsistencyProof(size1, kSize);
    ASSERT_THAT(p, IsOk());
    EXPECT_LE(reads() - before, kBound) << "size1 " << size1;
    absl::StatusOr<Hash> old_root = builder.RootAt(size1);
    ASSERT_THAT(old_root, IsOk());
    EXPECT_THAT(VerifyConsistency(size1, kSize, *old_root, tree.Root(), *p), IsOk());
    ++proofs;
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Informational only (no timed assertion): typical per-proof cost.
  std::cout << "[ INFO     ] " << proofs << " proofs (+ verification, + old roots) on "
            << kSize << " leaves: "
            << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() /
                   proofs
            << " us each\n";
  EXPECT_EQ(leaves.reads.load() < 64, true);  // leaves only at the edges
}

}  // namespace
}  // namespace datalab::merkle
