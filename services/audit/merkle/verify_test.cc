#include "services/audit/merkle/verify.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/merkle/rfc6962_test_vectors.h"

namespace datalab::merkle {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
using testvectors::H;

const Hash kSomeHash =
    H("abacaba000000000000000000000000000000000000000000060061e00123456");

TEST(VerifyInclusion, KnownAnswerProofs) {
  std::vector<std::string> leaves = testvectors::Leaves();
  std::vector<Hash> roots = testvectors::Roots();
  for (const auto& v : testvectors::InclusionVectors()) {
    const Hash leaf = LeafHash(leaves[v.index]);
    EXPECT_THAT(VerifyInclusion(leaf, v.index, v.size, v.proof, roots[v.size - 1]),
                IsOk())
        << "index " << v.index << " size " << v.size;
    EXPECT_THAT(RootFromInclusionProof(leaf, v.index, v.size, v.proof),
                IsOkAndHolds(roots[v.size - 1]));
    EXPECT_EQ(InclusionProofSize(v.index, v.size), v.proof.size());
  }
}

TEST(VerifyInclusion, SingleLeafTree) {
  const Hash leaf = LeafHash("data");
  EXPECT_THAT(VerifyInclusion(leaf, 0, 1, {}, leaf), IsOk());
  EXPECT_THAT(VerifyInclusion(leaf, 0, 1, {}, kSomeHash),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("expected root")));
  EXPECT_THAT(VerifyInclusion(kSomeHash, 0, 1, {}, leaf),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(VerifyInclusion, RejectsImpossibleIndexesAndLengths) {
  const auto kInvalid = StatusIs(absl::StatusCode::kInvalidArgument);
  for (auto [index, size] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 0}, {1, 0}, {2, 1}, {1, 1}}) {
    EXPECT_THAT(VerifyInclusion(kSomeHash, index, size, {}, EmptyRoot()),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         HasSubstr("is not below tree size")));
  }
  const auto vectors = testvectors::InclusionVectors();
  const auto& v = vectors[1];  // index 0, size 8
  const Hash leaf = LeafHash(testvectors::Leaves()[0]);
  const Hash root = testvectors::Roots()[7];
  std::vector<Hash> longer = v.proof;
  longer.push_back(kSomeHash);
  EXPECT_THAT(VerifyInclusion(leaf, 0, 8, longer, root),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("inclusion proof has 4 hashes, expected 3")));
  EXPECT_THAT(VerifyInclusion(leaf, 0, 8, {v.proof[0], v.proof[1]}, root),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has 2 hashes, expected 3")));
  EXPECT_THAT(VerifyInclusion(leaf, 0, 8, {}, root), kInvalid);
}

TEST(VerifyConsistency, KnownAnswerProofs) {
  std::vector<Hash> roots = testvectors::Roots();
  for (const auto& v : testvectors::ConsistencyVectors()) {
    EXPECT_THAT(VerifyConsistency(v.size1, v.size2, roots[v.size1 - 1],
                                  roots[v.size2 - 1], v.proof),
                IsOk())
        << "sizes " << v.size1 << " " << v.size2;
    EXPECT_EQ(ConsistencyProofSize(v.size1, v.size2), v.proof.size());
  }
}

TEST(VerifyConsistency, TrivialSizes) {
  const Hash r1 = LeafHash("r1"), r2 = LeafHash("r2");
  // Equal sizes: equal roots, empty proof.
  EXPECT_THAT(VerifyConsistency(1, 1, r2, r2, {}), IsOk());
  EXPECT_THAT(VerifyConsistency(1, 1, r1, r2, {}),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("different roots")));
  EXPECT_THAT(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}), IsOk());
  EXPECT_THAT(VerifyConsistency(1, 1, r1, r1, {EmptyRoot()}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // From the empty tree: any second tree, but root1 must be the empty root.
  EXPECT_THAT(VerifyConsistency(0, 5, EmptyRoot(), r2, {}), IsOk());
  EXPECT_THAT(VerifyConsistency(0, 5, r1, r2, {}),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(VerifyConsistency(0, 1, EmptyRoot(), r2, {EmptyRoot()}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  // Time travel.
  EXPECT_THAT(VerifyConsistency(2, 1, r1, r2, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("larger than second tree size")));
  // Growth needs a proof.
  EXPECT_THAT(VerifyConsistency(1, 2, r1, r2, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has 0 hashes, expected 1")));
}

TEST(VerifyConsistency, ReportsWhichRootFailed) {
  std::vector<Hash> roots = testvectors::Roots();
  const auto vectors = testvectors::ConsistencyVectors();
  const auto& v = vectors[2];  // 6 -> 8
  EXPECT_THAT(VerifyConsistency(6, 8, kSomeHash, roots[7], v.proof),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tree size 6")));
  EXPECT_THAT(VerifyConsistency(6, 8, roots[5], kSomeHash, v.proof),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("tree size 8")));
  std::vector<Hash> longer = v.proof;
  longer.push_back(kSomeHash);
  EXPECT_THAT(VerifyConsistency(6, 8, roots[5], roots[7], longer),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("has 4 hashes, expected 3")));
}

TEST(ProofSizes, EdgeCases) {
  EXPECT_EQ(InclusionProofSize(0, 1), 0u);
  EXPECT_EQ(InclusionProofSize(5, 5), 0u);
  EXPECT_EQ(InclusionProofSize(0, uint64_t{1} << 20), 20u);
  EXPECT_EQ(ConsistencyProofSize(0, 5), 0u);
  EXPECT_EQ(ConsistencyProofSize(5, 5), 0u);
  EXPECT_EQ(ConsistencyProofSize(1, 2), 1u);
  EXPECT_EQ(ConsistencyProofSize(4, 8), 1u);
  EXPECT_EQ(ConsistencyProofSize(3, 4), 3u);  // [l2, l3, MTH(l0, l1)]
}

}  // namespace
}  // namespace datalab::merkle
