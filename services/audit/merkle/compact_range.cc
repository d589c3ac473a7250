#include "services/audit/merkle/compact_range.h"

#include <bit>
#include <utility>

#include "absl/strings/str_cat.h"

namespace datalab::merkle {

absl::StatusOr<CompactRange> CompactRange::FromFrontier(
    uint64_t size, std::vector<Hash> frontier) {
  if (frontier.size() != static_cast<size_t>(std::popcount(size))) {
    return absl::InvalidArgumentError(absl::StrCat(
        "compact range frontier has ", frontier.size(),
        " hashes, expected ", std::popcount(size), " for tree size ", size));
  }
  CompactRange r;
  r.size_ = size;
  r.frontier_ = std::move(frontier);
  return r;
}

void CompactRange::Append(const Hash& leaf_hash) {
  // The visitor cannot fail, so neither can the append.
  (void)Append(leaf_hash, [](const NodeId&, const Hash&) {
    return absl::OkStatus();
  });
}

absl::Status CompactRange::Append(const Hash& leaf_hash, NodeVisitor visitor) {
  NodeId id{0, size_};
  Hash hash = leaf_hash;
  if (absl::Status s = visitor(id, hash); !s.ok()) return s;
  // Each trailing 1 bit of size_ is a frontier subtree of the same size as
  // the one being carried; merge with it. Nothing is modified until all
  // visits succeed.
  size_t keep = frontier_.size();
  for (uint64_t n = size_; (n & 1) != 0; n >>= 1) {
    --keep;
    hash = NodeHash(frontier_[keep], hash);
    id = NodeId{id.level + 1, id.index >> 1};
    if (absl::Status s = visitor(id, hash); !s.ok()) return s;
  }
  frontier_.resize(keep);
  frontier_.push_back(hash);
  ++size_;
  return absl::OkStatus();
}

Hash CompactRange::Root() const {
  if (frontier_.empty()) return EmptyRoot();
  Hash root = frontier_.back();
  for (size_t i = frontier_.size() - 1; i-- > 0;) {
    root = NodeHash(frontier_[i], root);
  }
  return root;
}

}  // namespace datalab::merkle
