// The JWS algorithms datalab accepts. Only asymmetric algorithms exist here on
// purpose: "none" and the HMAC family (HS256...) cannot be represented, so an
// allow-list built from this enum can never admit them (RFC 8725 section 3.1).
#ifndef DATALAB_COMMON_JWT_ALGORITHM_H_
#define DATALAB_COMMON_JWT_ALGORITHM_H_

#include <optional>
#include <string_view>

namespace datalab::jwt {

enum class Algorithm {
  kRs256,  // RSASSA-PKCS1-v1_5 with SHA-256, RSA key >= 2048 bits
  kEs256,  // ECDSA P-256 with SHA-256, raw r||s signature (64 bytes)
};

// "RS256" / "ES256" (case-sensitive, as RFC 7518 requires); nullopt otherwise.
std::optional<Algorithm> ParseAlgorithm(std::string_view name);
std::string_view AlgorithmName(Algorithm alg);

}  // namespace datalab::jwt

#endif  // DATALAB_COMMON_JWT_ALGORITHM_H_
