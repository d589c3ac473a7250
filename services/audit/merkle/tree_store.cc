#include "services/audit/merkle/tree_store.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace datalab::merkle {

absl::Status AppendAndStore(CompactRange& range, const Hash& leaf_hash,
                            SubtreeHashStore& store, uint32_t min_level) {
  const uint32_t lowest = std::max<uint32_t>(min_level, 1);
  return range.Append(leaf_hash, [&](const NodeId& id, const Hash& hash) {
    if (id.level < lowest) return absl::OkStatus();
    return store.Put(id, hash);
  });
}

// ------------------------------------------------------ InMemoryLeafHashSource

void InMemoryLeafHashSource::Append(const Hash& leaf_hash) {
  absl::MutexLock lock(&mu_);
  leaves_.push_back(leaf_hash);
}

absl::StatusOr<Hash> InMemoryLeafHashSource::LeafHash(uint64_t index) const {
  absl::ReaderMutexLock lock(&mu_);
  if (index >= leaves_.size()) {
    return absl::OutOfRangeError(absl::StrCat(
        "leaf index ", index, " is beyond the log size ", leaves_.size()));
  }
  return leaves_[index];
}

uint64_t InMemoryLeafHashSource::Size() const {
  absl::ReaderMutexLock lock(&mu_);
  return leaves_.size();
}

// -------------------------------------------------------- InMemorySubtreeStore

absl::StatusOr<std::optional<Hash>> InMemorySubtreeStore::Get(
    const NodeId& id) const {
  absl::ReaderMutexLock lock(&mu_);
  if (id.level == 0 || id.level >= levels_.size()) return std::nullopt;
  const Level& level = levels_[id.level];
  if (id.index >= level.hashes.size() || !level.present[id.index]) {
    return std::nullopt;
  }
  return level.hashes[id.index];
}

absl::Status InMemorySubtreeStore::Put(const NodeId& id, const Hash& hash) {
  if (id.level == 0 || id.level >= 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("subtree store holds levels 1..63, not ", id.level));
  }
  absl::MutexLock lock(&mu_);
  if (levels_.size() <= id.level) levels_.resize(id.level + 1);
  Level& level = levels_[id.level];
  if (id.index >= level.hashes.size()) {
    if (id.index - level.hashes.size() > (uint64_t{1} << 20)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "subtree index ", id.index, " at level ", id.level,
          " is too far past the end of the store"));
    }
    level.hashes.resize(id.index + 1);
    level.present.resize(id.index + 1, false);
  }
  if (!level.present[id.index]) ++count_;
  level.hashes[id.index] = hash;
  level.present[id.index] = true;
  return absl::OkStatus();
}

uint64_t InMemorySubtreeStore::NodeCount() const {
  absl::ReaderMutexLock lock(&mu_);
  return count_;
}

// -------------------------------------------------------- InMemoryMerkleTree

uint64_t InMemoryMerkleTree::AppendEntry(crypto::ByteView entry) {
  return AppendLeafHash(merkle::LeafHash(entry));
}

uint64_t InMemoryMerkleTree::AppendLeafHash(const Hash& leaf_hash) {
  absl::MutexLock lock(&append_mu_);
  const uint64_t index = range_.size();
  // Nodes first, then the leaf: a reader that sees the new size can find
  // every node of it. The in-memory store cannot fail.
  absl::Status s = AppendAndStore(range_, leaf_hash, store_, min_stored_level_);
  (void)s;
  leaves_.Append(leaf_hash);
  return index;
}

Hash InMemoryMerkleTree::Root() const {
  absl::MutexLock lock(&append_mu_);
  return range_.Root();
}

}  // namespace datalab::merkle
