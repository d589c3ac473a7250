#include "services/audit/tree_head.h"

#include <algorithm>

#include "common/crypto/encoding.h"
#include "common/crypto/sha256.h"

namespace datalab::audit {

void AppendBe64(std::string& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t ReadBe64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

std::string CanonicalTreeHeadBytes(uint64_t tree_size, int64_t timestamp_unix_ms,
                                   const merkle::Hash& root) {
  std::string out(kTreeHeadDomain);
  out.push_back('\0');
  AppendBe64(out, tree_size);
  AppendBe64(out, static_cast<uint64_t>(timestamp_unix_ms));
  out.append(reinterpret_cast<const char*>(root.data()), root.size());
  return out;
}

std::string KeyIdOf(const crypto::Ed25519PublicKey& key) {
  crypto::Sha256Digest d = crypto::Sha256(crypto::ByteView(key.Raw()));
  return crypto::HexEncode(crypto::ByteView(d.data(), 8));
}

absl::Status SignTreeHead(const crypto::Ed25519PrivateKey& key, TreeHead& head) {
  auto pub = key.PublicKey();
  if (!pub.ok()) return pub.status();
  auto sig = key.Sign(CanonicalTreeHeadBytes(head.tree_size, head.timestamp_unix_ms,
                                             head.root_hash));
  if (!sig.ok()) return sig.status();
  head.signature.assign(reinterpret_cast<const char*>(sig->data()), sig->size());
  head.key_id = KeyIdOf(*pub);
  return absl::OkStatus();
}

absl::Status VerifyTreeHeadSignature(const crypto::Ed25519PublicKey& key,
                                     const TreeHead& head) {
  if (head.signature.size() != crypto::kEd25519SignatureSize) {
    return absl::InvalidArgumentError("tree head signature is not 64 bytes");
  }
  return key.Verify(CanonicalTreeHeadBytes(head.tree_size, head.timestamp_unix_ms,
                                           head.root_hash),
                    head.signature);
}

std::string EncodeTreeHead(const TreeHead& head) {
  std::string out;
  AppendBe64(out, head.tree_size);
  AppendBe64(out, static_cast<uint64_t>(head.timestamp_unix_ms));
  out.append(reinterpret_cast<const char*>(head.root_hash.data()), head.root_hash.size());
  out.push_back(static_cast<char>(std::min<size_t>(head.signature.size(), 255)));
  out.append(head.signature.substr(0, 255));
  out.append(head.key_id);
  return out;
}

absl::StatusOr<TreeHead> DecodeTreeHead(std::string_view bytes) {
  if (bytes.size() < 8 + 8 + 32 + 1) return absl::DataLossError("stored tree head is truncated");
  TreeHead h;
  h.tree_size = ReadBe64(bytes);
  h.timestamp_unix_ms = static_cast<int64_t>(ReadBe64(bytes.substr(8)));
  std::copy(bytes.begin() + 16, bytes.begin() + 48, h.root_hash.begin());
  size_t sig_len = static_cast<uint8_t>(bytes[48]);
  if (bytes.size() < 49 + sig_len) return absl::DataLossError("stored tree head is truncated");
  h.signature = std::string(bytes.substr(49, sig_len));
  h.key_id = std::string(bytes.substr(49 + sig_len));
  return h;
}

}  // namespace datalab::audit
