#include "services/audit/merkle/merkle_hash.h"

#include <string>
#include <vector>

#include "common/crypto/sha256.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/merkle/rfc6962_test_vectors.h"

namespace datalab::merkle {
namespace {

using ::testing::ElementsAre;

TEST(MerkleHash, EmptyTreeRootIsSha256OfEmptyString) {
  EXPECT_EQ(HashToHex(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(RootFromLeafHashes({}), EmptyRoot());
}

TEST(MerkleHash, LeafAndNodeHashesAreDomainSeparated) {
  // RFC 6962: the leaf hash of the empty entry is SHA-256(0x00).
  EXPECT_EQ(HashToHex(LeafHash("")),
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d");
  Hash a = LeafHash("a"), b = LeafHash("b");
  std::string concat(a.begin(), a.end());
  concat.append(b.begin(), b.end());
  EXPECT_EQ(NodeHash(a, b), crypto::Sha256(std::string("\x01", 1) + concat));
  EXPECT_NE(NodeHash(a, b), LeafHash(concat));
  EXPECT_NE(NodeHash(a, b), NodeHash(b, a));
}

TEST(MerkleHash, LargeEntriesHashLikeSmallOnes) {
  for (size_t len : {1022u, 1023u, 1024u, 5000u}) {
    std::string entry(len, 'e');
    EXPECT_EQ(LeafHash(entry), crypto::Sha256(std::string(1, '\0') + entry)) << len;
  }
}

TEST(MerkleHash, ReferenceRootsMatchKnownAnswers) {
  std::vector<std::string> leaves = testvectors::Leaves();
  std::vector<Hash> roots = testvectors::Roots();
  std::vector<Hash> hashes;
  for (size_t s = 1; s <= leaves.size(); ++s) {
    hashes.push_back(LeafHash(leaves[s - 1]));
    EXPECT_EQ(HashToHex(RootFromLeafHashes(hashes)), HashToHex(roots[s - 1]))
        << "size " << s;
  }
}

TEST(MerkleHash, SplitPointIsLargestPowerOfTwoBelow) {
  EXPECT_EQ(SplitPoint(2), 1u);
  EXPECT_EQ(SplitPoint(3), 2u);
  EXPECT_EQ(SplitPoint(4), 2u);
  EXPECT_EQ(SplitPoint(5), 4u);
  EXPECT_EQ(SplitPoint(8), 4u);
  EXPECT_EQ(SplitPoint(9), 8u);
  EXPECT_EQ(SplitPoint(uint64_t{1} << 40), uint64_t{1} << 39);
}

TEST(MerkleHash, DecomposeGivesPerfectSubtreesLargestFirst) {
  EXPECT_TRUE(Decompose(0).empty());
  EXPECT_THAT(Decompose(1), ElementsAre(NodeId{0, 0}));
  EXPECT_THAT(Decompose(8), ElementsAre(NodeId{3, 0}));
  EXPECT_THAT(Decompose(13),
              ElementsAre(NodeId{3, 0}, NodeId{2, 2}, NodeId{0, 12}));
  NodeId id{2, 3};
  EXPECT_EQ(id.begin(), 12u);
  EXPECT_EQ(id.end(), 16u);
}

}  // namespace
}  // namespace datalab::merkle
