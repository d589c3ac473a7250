// A JSON Web Key Set (RFC 7517) of public signature-verification keys, loaded
// from the contents of a JWKS file. Only RSA (>= 2048 bits) and EC P-256 keys
// are accepted; anything else is an error naming the key index and field, so
// a misconfigured key file fails at start-up rather than at the first login.
//
// Immutable after Parse. Copies are cheap (the keys are shared) and may be
// used from many threads at once.
#ifndef DATALAB_COMMON_JWT_JWKS_H_
#define DATALAB_COMMON_JWT_JWKS_H_

#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/jwt/algorithm.h"

namespace datalab::jwt {

// One verification key.
struct Jwk {
  std::string kid;                // empty when the JWK has no "kid"
  std::optional<Algorithm> alg;   // set when the JWK declares "alg"
  Algorithm key_algorithm;        // what the key type allows: RSA->RS256, P-256->ES256
  int bits = 0;                   // modulus size (RSA) or 256 (P-256)
  std::shared_ptr<EVP_PKEY> key;  // public key, never null
};

class Jwks {
 public:
  // Limits on untrusted input; documents beyond them are rejected.
  static constexpr size_t kMaxDocumentBytes = 1 << 20;
  static constexpr size_t kMaxKeys = 100;
  static constexpr int kMinRsaBits = 2048;
  static constexpr int kMaxRsaBits = 8192;
  static constexpr size_t kMaxKidLength = 256;

  // Parses a JWKS document {"keys":[...]}. Errors are INVALID_ARGUMENT with
  // the key index and field, e.g. "jwks: key 1: field \"n\": not valid
  // base64url"; they never contain key material. Rules per key:
  //   kty "RSA" (n, e) or "EC" (crv "P-256", x, y: 32 bytes each, on curve);
  //   use, if present, "sig"; alg, if present, "RS256"/"ES256" and fitting
  //   kty; kid, if present, a non-empty string without '/', "..", '\' or
  //   control characters, unique in the set; no private members ("d", ...).
  static absl::StatusOr<Jwks> Parse(std::string_view json);

  const std::vector<Jwk>& keys() const { return keys_; }

  // Exact, case-sensitive match of a non-empty kid; nullptr when absent.
  const Jwk* FindByKid(std::string_view kid) const;

 private:
  static absl::StatusOr<Jwks> ParseImpl(std::string_view json);

  std::vector<Jwk> keys_;
};

namespace internal {
// True when `kid` could never name a key: empty, too long, or containing path
// or control characters. Such a kid is looked up nowhere (RFC 8725 3.10).
bool IsSuspiciousKid(std::string_view kid);
}  // namespace internal

}  // namespace datalab::jwt

#endif  // DATALAB_COMMON_JWT_JWKS_H_
