// Minting of compact JWS tokens for the dev identity provider and for tests,
// and export of the matching public JWKS, so `lab.sh up` can create a dev
// signing key and the JWKS the gateway loads.
//
// Production identity comes from the trust's OIDC provider; this signer exists
// so development and tests exercise the same verification path. The private
// key never leaves the Signer (no accessor), and error messages never include
// key material.
//
// Thread safety: a Signer is immutable after Create; Sign may be called
// concurrently.
#ifndef DATALAB_COMMON_JWT_SIGNER_H_
#define DATALAB_COMMON_JWT_SIGNER_H_

#include <openssl/evp.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "common/jwt/algorithm.h"
#include "nlohmann/json.hpp"

namespace datalab::jwt {

struct SignerOptions {
  // PEM private key (PKCS#8 "PRIVATE KEY", or traditional RSA/EC PEM): RSA of
  // at least 2048 bits, or EC on P-256. Unencrypted.
  std::string private_key_pem;
  // Put in the header and in the exported JWK. Same character rules as the
  // verifier (no '/', "..", '\', control characters). Required.
  std::string kid;
  // Must fit the key (RSA->RS256, P-256->ES256); derived from the key if unset.
  std::optional<Algorithm> alg;
  // The "typ" header value; empty omits it.
  std::string typ = "JWT";
};

class Signer {
 public:
  using Options = SignerOptions;

  // INVALID_ARGUMENT when the key cannot be read, is too weak, is of an
  // unsupported type, or does not fit `alg`.
  static absl::StatusOr<std::unique_ptr<Signer>> Create(const Options& options);

  // Compact JWS of `claims` (which must be a JSON object) with the header
  // {"alg","kid","typ"}.
  absl::StatusOr<std::string> Sign(const nlohmann::json& claims) const;

  // Signs the given header and payload bytes verbatim (they are base64url
  // encoded, not re-serialised), so tests can build tokens with unusual
  // headers. The caller is responsible for the header naming this key's alg.
  absl::StatusOr<std::string> SignRaw(std::string_view header_json,
                                      std::string_view payload_json) const;

  // {"keys":[<public JWK with kty, use "sig", alg, kid, n/e or crv/x/y>]}.
  std::string PublicJwksJson() const;
  // The single public JWK, for merging several keys into one set.
  const nlohmann::json& public_jwk() const { return public_jwk_; }

  Algorithm alg() const { return alg_; }
  const std::string& kid() const { return options_.kid; }

 private:
  Signer(Options options, Algorithm alg, std::shared_ptr<EVP_PKEY> key,
         nlohmann::json public_jwk);

  const Options options_;
  const Algorithm alg_;
  const std::shared_ptr<EVP_PKEY> key_;
  const nlohmann::json public_jwk_;
};

// Public JWKS JSON for a PEM private key (see Signer::PublicJwksJson).
absl::StatusOr<std::string> PublicJwksFromPrivateKeyPem(std::string_view private_key_pem,
                                                        std::string_view kid);

// A fresh unencrypted PKCS#8 PEM private key: RSA-2048 for RS256, P-256 for
// ES256. For dev key creation and tests.
absl::StatusOr<std::string> GeneratePrivateKeyPem(Algorithm alg);

}  // namespace datalab::jwt

#endif  // DATALAB_COMMON_JWT_SIGNER_H_
