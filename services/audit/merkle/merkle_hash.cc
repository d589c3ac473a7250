#include "services/audit/merkle/merkle_hash.h"

#include <bit>
#include <cstring>
#include <vector>

#include "common/crypto/encoding.h"

namespace datalab::merkle {

Hash LeafHash(crypto::ByteView entry) {
  // Audit entries are small; hash from the stack when they fit.
  constexpr size_t kStack = 1024;
  if (entry.size() < kStack) {
    uint8_t buf[kStack];
    buf[0] = 0x00;
    if (!entry.empty()) std::memcpy(buf + 1, entry.data(), entry.size());
    return crypto::Sha256(crypto::ByteView(buf, entry.size() + 1));
  }
  std::vector<uint8_t> buf(entry.size() + 1);
  buf[0] = 0x00;
  std::memcpy(buf.data() + 1, entry.data(), entry.size());
  return crypto::Sha256(buf);
}

Hash NodeHash(const Hash& left, const Hash& right) {
  uint8_t buf[1 + 2 * sizeof(Hash)];
  buf[0] = 0x01;
  std::memcpy(buf + 1, left.data(), left.size());
  std::memcpy(buf + 1 + left.size(), right.data(), right.size());
  return crypto::Sha256(crypto::ByteView(buf, sizeof(buf)));
}

Hash EmptyRoot() { return crypto::Sha256(crypto::ByteView()); }

uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

std::vector<NodeId> Decompose(uint64_t size) {
  std::vector<NodeId> out;
  uint64_t begin = 0;
  for (int level = 63; level >= 0; --level) {
    const uint64_t width = uint64_t{1} << level;
    if ((size & width) != 0) {
      out.push_back(NodeId{static_cast<uint32_t>(level), begin >> level});
      begin += width;
    }
  }
  return out;
}

Hash RootFromLeafHashes(absl::Span<const Hash> leaf_hashes) {
  if (leaf_hashes.empty()) return EmptyRoot();
  if (leaf_hashes.size() == 1) return leaf_hashes[0];
  const uint64_t k = SplitPoint(leaf_hashes.size());
  return NodeHash(RootFromLeafHashes(leaf_hashes.subspan(0, k)),
                  RootFromLeafHashes(leaf_hashes.subspan(k)));
}

std::string HashToHex(const Hash& hash) { return crypto::HexEncode(hash); }

}  // namespace datalab::merkle
