// Key custody: the key-encryption key (KEK) and the wrapping of domain keys.
//
// Domain keys (32 random bytes from OpenSSL's CSPRNG) are only ever stored
// wrapped with AES-256-GCM under the KEK. The associated data binds a wrapped
// blob to its domain and key version, so a blob copied onto another domain or
// version fails to unwrap instead of silently changing pseudonyms:
//     aad = "datalab.pseudonymisation.key|" + domain name + "|" + version
// (version 0 is the domain's stable linkage key).
//
// The KEK comes from a file holding base64 text of 32 bytes (a mounted
// Kubernetes Secret). Its id, recorded beside every wrapped key, is the hex of
// the first 8 bytes of SHA-256(KEK): it identifies the KEK without revealing
// it. Key bytes live in SecureBytes; errors name files and ids, never bytes.
// All functions are thread-safe; a Kek is immutable.
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_KEY_CUSTODY_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_KEY_CUSTODY_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/crypto/bytes.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.pb.h"

namespace datalab::pseudonymisation {

inline constexpr size_t kKeySize = 32;

class Kek {
 public:
  // INVALID_ARGUMENT unless `key` is 32 bytes.
  static absl::StatusOr<Kek> FromBytes(crypto::SecureBytes key);
  // Base64 text of 32 bytes, surrounding whitespace ignored.
  static absl::StatusOr<Kek> FromBase64Text(std::string_view text);
  // Reads the file; errors name the path, never the content.
  static absl::StatusOr<Kek> FromFile(const std::string& path);

  const std::string& id() const { return id_; }
  crypto::ByteView key() const { return key_.view(); }
  Kek Clone() const { return Kek(key_.Clone(), id_); }

  Kek(Kek&&) = default;
  Kek& operator=(Kek&&) = default;

 private:
  Kek(crypto::SecureBytes key, std::string id) : key_(std::move(key)), id_(std::move(id)) {}
  crypto::SecureBytes key_;
  std::string id_;
};

// Hex of the first 8 bytes of SHA-256(kek).
std::string KekId(crypto::ByteView kek);

// The associated data for a domain key (see banner).
std::string KeyAad(std::string_view domain_name, int version);

// 32 fresh bytes from the CSPRNG.
absl::StatusOr<crypto::SecureBytes> NewDomainKey();

absl::StatusOr<v1::WrappedKey> WrapKey(const Kek& kek, crypto::ByteView key,
                                       std::string_view domain_name, int version,
                                       int64_t create_time_unix_ms);

// FAILED_PRECONDITION when the blob names another KEK; DATA_LOSS when it does
// not authenticate (wrong KEK, other domain/version, modified bytes).
absl::StatusOr<crypto::SecureBytes> UnwrapKey(const Kek& kek, const v1::WrappedKey& wrapped,
                                              std::string_view domain_name);

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_KEY_CUSTODY_H_
