// Ed25519 signatures (RFC 8032) over OpenSSL: signed tree heads of the audit
// log and the gateway's identity assertions.
//
// Ed25519PrivateKey and Ed25519PublicKey own a reference-counted EVP_PKEY.
// Copies share the key (cheap, immutable). All const methods are safe to call
// from several threads at once: each Sign()/Verify() uses its own context.
//
// Formats: private keys as PKCS#8 PEM ("BEGIN PRIVATE KEY", unencrypted;
// encrypted PEM is rejected, never prompted for) or the raw 32-byte seed;
// public keys as SubjectPublicKeyInfo PEM ("BEGIN PUBLIC KEY") or raw 32
// bytes. Exported private material comes back in SecureBytes.
//
// Errors: INVALID_ARGUMENT for malformed input (wrong length, not PEM, not an
// Ed25519 key), UNAUTHENTICATED "signature verification failed" when a
// well-formed signature does not verify, INTERNAL when OpenSSL fails. Error
// text never contains key, seed or PEM bytes.
#ifndef DATALAB_COMMON_CRYPTO_ED25519_H_
#define DATALAB_COMMON_CRYPTO_ED25519_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <openssl/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/bytes.h"

namespace datalab::crypto {

inline constexpr size_t kEd25519PublicKeySize = 32;
inline constexpr size_t kEd25519SeedSize = 32;
inline constexpr size_t kEd25519SignatureSize = 64;
using Ed25519Signature = std::array<uint8_t, kEd25519SignatureSize>;
using Ed25519RawPublicKey = std::array<uint8_t, kEd25519PublicKeySize>;

class Ed25519PublicKey {
 public:
  static absl::StatusOr<Ed25519PublicKey> FromRaw(ByteView raw32);
  static absl::StatusOr<Ed25519PublicKey> FromPem(std::string_view pem);

  Ed25519PublicKey(const Ed25519PublicKey& other);
  Ed25519PublicKey& operator=(const Ed25519PublicKey& other);
  Ed25519PublicKey(Ed25519PublicKey&& other) noexcept;
  Ed25519PublicKey& operator=(Ed25519PublicKey&& other) noexcept;
  ~Ed25519PublicKey();

  // The 32-byte encoding of RFC 8032 section 5.1.2.
  const Ed25519RawPublicKey& Raw() const { return raw_; }
  absl::StatusOr<std::string> ToPem() const;

  // OK if `signature` is a valid signature of `message` under this key.
  absl::Status Verify(ByteView message, ByteView signature) const;

 private:
  Ed25519PublicKey(EVP_PKEY* pkey, const Ed25519RawPublicKey& raw)
      : pkey_(pkey), raw_(raw) {}
  static absl::StatusOr<Ed25519PublicKey> Adopt(EVP_PKEY* pkey);
  EVP_PKEY* pkey_ = nullptr;  // owned reference
  Ed25519RawPublicKey raw_{};
};

class Ed25519PrivateKey {
 public:
  // A fresh key from the CSPRNG.
  static absl::StatusOr<Ed25519PrivateKey> Generate();
  // From the 32-byte secret seed ("private key" in RFC 8032 section 5.1.5).
  static absl::StatusOr<Ed25519PrivateKey> FromSeed(ByteView seed32);
  // From unencrypted PKCS#8 PEM.
  static absl::StatusOr<Ed25519PrivateKey> FromPem(std::string_view pem);

  Ed25519PrivateKey(const Ed25519PrivateKey& other);
  Ed25519PrivateKey& operator=(const Ed25519PrivateKey& other);
  Ed25519PrivateKey(Ed25519PrivateKey&& other) noexcept;
  Ed25519PrivateKey& operator=(Ed25519PrivateKey&& other) noexcept;
  ~Ed25519PrivateKey();

  absl::StatusOr<SecureBytes> Seed() const;
  // Unencrypted PKCS#8 PEM text.
  absl::StatusOr<SecureBytes> ToPem() const;
  absl::StatusOr<Ed25519PublicKey> PublicKey() const;

  // The 64-byte signature of `message` (pure Ed25519, no prehash/context).
  absl::StatusOr<Ed25519Signature> Sign(ByteView message) const;

 private:
  explicit Ed25519PrivateKey(EVP_PKEY* pkey) : pkey_(pkey) {}
  static absl::StatusOr<Ed25519PrivateKey> Adopt(EVP_PKEY* pkey);
  EVP_PKEY* pkey_ = nullptr;  // owned reference
};

// Same as public_key.Verify(message, signature).
absl::Status Ed25519Verify(const Ed25519PublicKey& public_key,
                           ByteView message, ByteView signature);

}  // namespace datalab::crypto

#endif  // DATALAB_COMMON_CRYPTO_ED25519_H_
