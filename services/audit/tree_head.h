// Signed tree heads (STH) of the audit log: the canonical byte encoding that
// is signed, signing and verification with Ed25519, and a compact storage
// encoding. Shared by the service and the offline verifier; no gRPC.
//
// Canonical encoding signed (documented in services/audit/README.md):
//
//   "datalab-audit-sth-v1" 0x00 || be64(tree_size) || be64(timestamp_unix_ms)
//   || root_hash (32 bytes)
//
// 20 + 1 + 8 + 8 + 32 = 69 bytes. The key id is not signed; it only names
// the key (hex of the first 8 bytes of SHA-256 of the raw public key).
//
// Pure functions and value types; thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_TREE_HEAD_H_
#define DATALAB_SERVICES_AUDIT_TREE_HEAD_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/ed25519.h"
#include "services/audit/merkle/merkle_hash.h"

namespace datalab::audit {

inline constexpr std::string_view kTreeHeadDomain = "datalab-audit-sth-v1";

struct TreeHead {
  uint64_t tree_size = 0;
  int64_t timestamp_unix_ms = 0;
  merkle::Hash root_hash{};
  std::string signature;  // 64 bytes Ed25519
  std::string key_id;

  friend bool operator==(const TreeHead& a, const TreeHead& b) {
    return a.tree_size == b.tree_size &&
           a.timestamp_unix_ms == b.timestamp_unix_ms &&
           a.root_hash == b.root_hash && a.signature == b.signature &&
           a.key_id == b.key_id;
  }
};

// The bytes that are signed (see banner).
std::string CanonicalTreeHeadBytes(uint64_t tree_size, int64_t timestamp_unix_ms,
                                   const merkle::Hash& root);

// Key id of a public key: hex of SHA-256(raw)[0:8].
std::string KeyIdOf(const crypto::Ed25519PublicKey& key);

// Fills head.signature and head.key_id.
absl::Status SignTreeHead(const crypto::Ed25519PrivateKey& key, TreeHead& head);

// UNAUTHENTICATED when the signature does not verify; INVALID_ARGUMENT when
// it is malformed.
absl::Status VerifyTreeHeadSignature(const crypto::Ed25519PublicKey& key,
                                     const TreeHead& head);

// Storage encoding: be64 size || be64 ts || root(32) || sig_len(1) || sig ||
// key_id. DATA_LOSS when DecodeTreeHead meets a malformed record.
std::string EncodeTreeHead(const TreeHead& head);
absl::StatusOr<TreeHead> DecodeTreeHead(std::string_view bytes);

// Big-endian helpers shared by this folder's encodings.
void AppendBe64(std::string& out, uint64_t v);
uint64_t ReadBe64(std::string_view s);  // requires s.size() >= 8

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_TREE_HEAD_H_
