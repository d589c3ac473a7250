#include "services/audit/merkle/compact_range.h"

#include <bit>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/merkle/rfc6962_test_vectors.h"

namespace datalab::merkle {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;

Hash Leaf(uint64_t i) { return LeafHash(absl::StrCat("entry-", i)); }

TEST(CompactRange, EmptyRangeHasEmptyRoot) {
  CompactRange r;
  EXPECT_EQ(r.size(), 0u);
  EXPECT_EQ(r.Root(), EmptyRoot());
  EXPECT_TRUE(r.frontier().empty());
}

TEST(CompactRange, KnownAnswerRoots) {
  CompactRange r;
  std::vector<Hash> roots = testvectors::Roots();
  std::vector<std::string> leaves = testvectors::Leaves();
  for (size_t i = 0; i < leaves.size(); ++i) {
    r.Append(LeafHash(leaves[i]));
    EXPECT_EQ(HashToHex(r.Root()), HashToHex(roots[i])) << "size " << i + 1;
  }
}

TEST(CompactRange, RootMatchesReferenceAndFrontierStaysLogarithmic) {
  CompactRange r;
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < 300; ++i) {
    leaves.push_back(Leaf(i));
    r.Append(leaves.back());
    ASSERT_EQ(r.size(), i + 1);
    ASSERT_EQ(r.Root(), RootFromLeafHashes(leaves)) << "size " << i + 1;
    ASSERT_EQ(r.frontier().size(), static_cast<size_t>(std::popcount(i + 1)));
    std::vector<NodeId> ids = r.FrontierIds();
    for (size_t k = 0; k < ids.size(); ++k) {
      // Each frontier hash is the MTH of exactly the leaves its id covers.
      std::vector<Hash> covered(leaves.begin() + ids[k].begin(),
                                leaves.begin() + ids[k].end());
      ASSERT_EQ(r.frontier()[k], RootFromLeafHashes(covered));
    }
  }
}

TEST(CompactRange, VisitorSeesLeafAndEveryCompletedPerfectSubtree) {
  CompactRange r;
  std::vector<Hash> leaves;
  for (uint64_t i = 0; i < 64; ++i) {
    leaves.push_back(Leaf(i));
    std::vector<std::pair<NodeId, Hash>> seen;
    ASSERT_THAT(r.Append(leaves.back(),
                         [&](const NodeId& id, const Hash& h) {
                           seen.emplace_back(id, h);
                           return absl::OkStatus();
                         }),
                IsOk());
    // Leaf i completes one subtree per trailing 1 bit of i, plus the leaf.
    ASSERT_EQ(seen.size(), static_cast<size_t>(std::countr_one(i)) + 1) << i;
    for (size_t k = 0; k < seen.size(); ++k) {
      const auto& [id, h] = seen[k];
      EXPECT_EQ(id.level, k);
      EXPECT_EQ(id.end(), i + 1);
      std::vector<Hash> covered(leaves.begin() + id.begin(),
                                leaves.begin() + id.end());
      EXPECT_EQ(h, RootFromLeafHashes(covered));
    }
  }
}

TEST(CompactRange, FailedVisitorLeavesRangeUnchanged) {
  CompactRange r;
  for (uint64_t i = 0; i < 7; ++i) r.Append(Leaf(i));
  const Hash root = r.Root();
  const std::vector<Hash> frontier = r.frontier();
  int calls = 0;
  absl::Status s = r.Append(Leaf(7), [&](const NodeId& id, const Hash&) {
    ++calls;
    if (id.level == 2) return absl::UnavailableError("disk full");
    return absl::OkStatus();
  });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(r.size(), 7u);
  EXPECT_EQ(r.Root(), root);
  EXPECT_EQ(r.frontier(), frontier);
  // And the append can be retried.
  ASSERT_THAT(r.Append(Leaf(7), [](const NodeId&, const Hash&) {
    return absl::OkStatus();
  }), IsOk());
  EXPECT_EQ(r.size(), 8u);
  EXPECT_EQ(r.frontier().size(), 1u);
}

TEST(CompactRange, RestoresFromFrontier) {
  CompactRange r;
  for (uint64_t i = 0; i < 45; ++i) r.Append(Leaf(i));
  absl::StatusOr<CompactRange> restored =
      CompactRange::FromFrontier(r.size(), r.frontier());
  ASSERT_THAT(restored, IsOk());
  EXPECT_EQ(restored->Root(), r.Root());
  for (uint64_t i = 45; i < 100; ++i) {
    r.Append(Leaf(i));
    restored->Append(Leaf(i));
  }
  EXPECT_EQ(restored->Root(), r.Root());

  EXPECT_THAT(CompactRange::FromFrontier(45, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CompactRange::FromFrontier(0, {Leaf(0)}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(CompactRange::FromFrontier(0, {}), IsOk());
}

}  // namespace
}  // namespace datalab::merkle
