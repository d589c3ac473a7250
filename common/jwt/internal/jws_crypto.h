// The OpenSSL EVP operations behind JWS RS256/ES256 and the token digest.
// Private to common/jwt. Thread-safe: keys are only read.
#ifndef DATALAB_COMMON_JWT_INTERNAL_JWS_CRYPTO_H_
#define DATALAB_COMMON_JWT_INTERNAL_JWS_CRYPTO_H_

#include <openssl/evp.h>

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/jwt/algorithm.h"

namespace datalab::jwt::internal {

// Size in bytes of an ES256 signature: r and s, 32 bytes each, big-endian.
inline constexpr size_t kEs256SignatureSize = 64;

// The algorithm a key can be used with: RS256 for RSA, ES256 for EC on P-256;
// nullopt for anything else.
std::optional<Algorithm> AlgorithmForKey(const EVP_PKEY* key);

// True only when `signature` is a valid `alg` signature of `signing_input`
// under `key`. The caller has already checked that `alg` fits the key type.
bool VerifySignature(Algorithm alg, EVP_PKEY* key, std::string_view signing_input,
                     std::string_view signature);

// Signs `signing_input`; ES256 output is the raw 64-byte r||s form.
absl::StatusOr<std::string> CreateSignature(Algorithm alg, EVP_PKEY* key,
                                            std::string_view signing_input);

}  // namespace datalab::jwt::internal

#endif  // DATALAB_COMMON_JWT_INTERNAL_JWS_CRYPTO_H_
