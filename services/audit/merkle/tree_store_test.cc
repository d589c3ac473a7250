#include "services/audit/merkle/tree_store.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/merkle/proof_builder.h"
#include "services/audit/merkle/verify.h"

namespace datalab::merkle {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::Eq;
using ::testing::Optional;

Hash Leaf(uint64_t i) { return LeafHash(absl::StrCat("event-", i)); }

TEST(InMemoryLeafHashSource, AppendsAndRejectsOutOfRange) {
  InMemoryLeafHashSource leaves;
  EXPECT_EQ(leaves.Size(), 0u);
  EXPECT_THAT(leaves.LeafHash(0), StatusIs(absl::StatusCode::kOutOfRange));
  leaves.Append(Leaf(0));
  leaves.Append(Leaf(1));
  EXPECT_EQ(leaves.Size(), 2u);
  EXPECT_THAT(leaves.LeafHash(1), IsOkAndHolds(Leaf(1)));
  EXPECT_THAT(leaves.LeafHash(2), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST(InMemorySubtreeStore, GetPutAndBadIds) {
  InMemorySubtreeStore store;
  EXPECT_THAT(store.Get(NodeId{1, 0}), IsOkAndHolds(std::nullopt));
  ASSERT_THAT(store.Put(NodeId{1, 0}, Leaf(10)), IsOk());
  ASSERT_THAT(store.Put(NodeId{3, 5}, Leaf(35)), IsOk());  // sparse is fine
  EXPECT_THAT(store.Get(NodeId{1, 0}), IsOkAndHolds(Optional(Eq(Leaf(10)))));
  EXPECT_THAT(store.Get(NodeId{3, 5}), IsOkAndHolds(Optional(Eq(Leaf(35)))));
  EXPECT_THAT(store.Get(NodeId{3, 4}), IsOkAndHolds(std::nullopt));
  EXPECT_THAT(store.Get(NodeId{1, 1}), IsOkAndHolds(std::nullopt));
  EXPECT_THAT(store.Get(NodeId{40, 0}), IsOkAndHolds(std::nullopt));
  EXPECT_EQ(store.NodeCount(), 2u);
  ASSERT_THAT(store.Put(NodeId{1, 0}, Leaf(11)), IsOk());  // overwrite
  EXPECT_EQ(store.NodeCount(), 2u);

  const auto kInvalid = StatusIs(absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(store.Put(NodeId{0, 0}, Leaf(0)), kInvalid);
  EXPECT_THAT(store.Put(NodeId{64, 0}, Leaf(0)), kInvalid);
  EXPECT_THAT(store.Put(NodeId{2, uint64_t{1} << 40}, Leaf(0)), kInvalid);
}

class FailingStore : public SubtreeHashStore {
 public:
  absl::StatusOr<std::optional<Hash>> Get(const NodeId&) const override {
    return absl::UnavailableError("store offline");
  }
  absl::Status Put(const NodeId&, const Hash&) override {
    return absl::UnavailableError("store offline");
  }
};

TEST(AppendAndStore, StoresCompletedNodesFromMinLevel) {
  for (uint32_t min_level : {0u, 1u, 3u}) {
    CompactRange range;
    InMemorySubtreeStore store;
    for (uint64_t i = 0; i < 32; ++i) {
      ASSERT_THAT(AppendAndStore(range, Leaf(i), store, min_level), IsOk());
    }
    // 32 leaves complete 16 + 8 + 4 + 2 + 1 nodes at levels 1..5.
    const uint64_t expected = min_level <= 1 ? 31 : (min_level == 3 ? 7 : 0);
    EXPECT_EQ(store.NodeCount(), expected) << "min_level " << min_level;
    EXPECT_THAT(store.Get(NodeId{5, 0}), IsOkAndHolds(Optional(Eq(range.Root()))));
  }
}

TEST(AppendAndStore, StoreFailureLeavesRangeUnchanged) {
  CompactRange range;
  FailingStore store;
  // Leaf 0 completes no node at level >= 1, so it needs no Put.
  ASSERT_THAT(AppendAndStore(range, Leaf(0), store), IsOk());
  EXPECT_THAT(AppendAndStore(range, Leaf(1), store),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(range.size(), 1u);
}

TEST(ProofBuilder, PropagatesStoreErrors) {
  InMemoryLeafHashSource leaves;
  for (uint64_t i = 0; i < 8; ++i) leaves.Append(Leaf(i));
  FailingStore store;
  ProofBuilder builder(&leaves, &store);
  EXPECT_THAT(builder.RootAt(8), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(builder.InclusionProof(0, 8), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(builder.ConsistencyProof(3, 8), StatusIs(absl::StatusCode::kUnavailable));
  // Level-0 only work needs no store.
  EXPECT_THAT(builder.RootAt(1), IsOkAndHolds(Leaf(0)));
}

TEST(InMemoryMerkleTree, ReadersSeeConsistentTreesWhileWriterAppends) {
  InMemoryMerkleTree tree;
  constexpr uint64_t kLeaves = 3000;
  std::atomic<bool> done{false};
  std::atomic<int> failures{0};
  std::atomic<int> checks{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < kLeaves; ++i) {
      EXPECT_EQ(tree.AppendEntry(absl::StrCat("event-", i)), i);
    }
    done = true;
  });
  std::thread reader([&] {
    ProofBuilder builder(&tree, &tree.store());
    uint64_t last = 0;
    while (!done || last < kLeaves) {
      const uint64_t size = tree.Size();
      if (size == 0 || size == last) continue;
      absl::StatusOr<Hash> root = builder.RootAt(size);
      absl::StatusOr<std::vector<Hash>> proof = builder.InclusionProof(size / 2, size);
      absl::StatusOr<std::vector<Hash>> cons = builder.ConsistencyProof(last, size);
      absl::StatusOr<Hash> old_root = builder.RootAt(last);
      if (!root.ok() || !proof.ok() || !cons.ok() || !old_root.ok() ||
          !VerifyInclusion(Leaf(size / 2), size / 2, size, *proof, *root).ok() ||
          !VerifyConsistency(last, size, *old_root, *root, *cons).ok()) {
        ++failures;
      }
      ++checks;
      last = size;
    }
  });
  writer.join();
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GT(checks.load(), 0);
  EXPECT_EQ(tree.Size(), kLeaves);
  ProofBuilder builder(&tree, &tree.store());
  EXPECT_THAT(builder.RootAt(kLeaves), IsOkAndHolds(tree.Root()));
}

}  // namespace
}  // namespace datalab::merkle
