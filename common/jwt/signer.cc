#include "common/jwt/signer.h"

#include <openssl/core_names.h>
#include <openssl/pem.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/jwt/internal/base64url.h"
#include "common/jwt/internal/jws_crypto.h"
#include "common/jwt/internal/openssl_util.h"
#include "common/jwt/jwks.h"
#include "common/status/status_macros.h"

namespace datalab::jwt {
namespace {

using json = nlohmann::json;
using internal::BignumPtr;
using internal::BioPtr;
using internal::EvpPkeyPtr;

absl::StatusOr<EvpPkeyPtr> ReadPrivateKey(std::string_view pem) {
  if (pem.empty() || pem.size() > (1 << 20)) {
    return absl::InvalidArgumentError("jwt signer: private key PEM is empty or too large");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return absl::InternalError("jwt signer: out of memory");
  // An empty passphrase callback: encrypted keys fail instead of prompting.
  EVP_PKEY* key = PEM_read_bio_PrivateKey(
      bio.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr);
  if (key == nullptr) {
    internal::ClearOpensslErrors();
    return absl::InvalidArgumentError(
        "jwt signer: private key PEM could not be read (unencrypted PEM required)");
  }
  return EvpPkeyPtr(key);
}

absl::StatusOr<std::string> BnParam(const EVP_PKEY* key, const char* name, int pad_to) {
  BIGNUM* raw = nullptr;
  if (EVP_PKEY_get_bn_param(key, name, &raw) != 1) {
    internal::ClearOpensslErrors();
    return absl::InternalError("jwt signer: cannot read public key parameter");
  }
  BignumPtr bn(raw);
  int len = pad_to > 0 ? pad_to : BN_num_bytes(bn.get());
  std::string out(static_cast<size_t>(len), '\0');
  if (BN_bn2binpad(bn.get(), reinterpret_cast<unsigned char*>(out.data()), len) != len) {
    return absl::InternalError("jwt signer: public key parameter too large");
  }
  return out;
}

absl::StatusOr<json> PublicJwk(const EVP_PKEY* key, Algorithm alg, const std::string& kid) {
  json jwk = json::object();
  if (alg == Algorithm::kRs256) {
    ASSIGN_OR_RETURN(std::string n, BnParam(key, OSSL_PKEY_PARAM_RSA_N, 0));
    ASSIGN_OR_RETURN(std::string e, BnParam(key, OSSL_PKEY_PARAM_RSA_E, 0));
    jwk["kty"] = "RSA";
    jwk["n"] = internal::Base64UrlEncode(n);
    jwk["e"] = internal::Base64UrlEncode(e);
  } else {
    ASSIGN_OR_RETURN(std::string x, BnParam(key, OSSL_PKEY_PARAM_EC_PUB_X, 32));
    ASSIGN_OR_RETURN(std::string y, BnParam(key, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
    jwk["kty"] = "EC";
    jwk["crv"] = "P-256";
    jwk["x"] = internal::Base64UrlEncode(x);
    jwk["y"] = internal::Base64UrlEncode(y);
  }
  jwk["use"] = "sig";
  jwk["alg"] = std::string(AlgorithmName(alg));
  jwk["kid"] = kid;
  return jwk;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Signer>> Signer::Create(const Options& options) {
  if (internal::IsSuspiciousKid(options.kid)) {
    return absl::InvalidArgumentError(
        "jwt signer: kid is empty, too long or contains disallowed characters");
  }
  ASSIGN_OR_RETURN(EvpPkeyPtr key, ReadPrivateKey(options.private_key_pem));
  std::optional<Algorithm> key_alg = internal::AlgorithmForKey(key.get());
  if (!key_alg.has_value()) {
    return absl::InvalidArgumentError(
        "jwt signer: private key must be RSA or EC on P-256");
  }
  if (*key_alg == Algorithm::kRs256 && EVP_PKEY_get_bits(key.get()) < Jwks::kMinRsaBits) {
    return absl::InvalidArgumentError("jwt signer: RSA key shorter than 2048 bits");
  }
  if (options.alg.has_value() && *options.alg != *key_alg) {
    return absl::InvalidArgumentError("jwt signer: alg does not fit the key type");
  }
  try {
    ASSIGN_OR_RETURN(json jwk, PublicJwk(key.get(), *key_alg, options.kid));
    return std::unique_ptr<Signer>(new Signer(options, *key_alg,
                                              internal::ShareKey(std::move(key)),
                                              std::move(jwk)));
  } catch (...) {
    return absl::InternalError("jwt signer: could not build the public key");
  }
}

Signer::Signer(Options options, Algorithm alg, std::shared_ptr<EVP_PKEY> key,
               json public_jwk)
    : options_(std::move(options)),
      alg_(alg),
      key_(std::move(key)),
      public_jwk_(std::move(public_jwk)) {}

absl::StatusOr<std::string> Signer::Sign(const json& claims) const {
  if (!claims.is_object()) {
    return absl::InvalidArgumentError("jwt signer: claims must be a JSON object");
  }
  try {
    json header = json::object();
    header["alg"] = std::string(AlgorithmName(alg_));
    header["kid"] = options_.kid;
    if (!options_.typ.empty()) header["typ"] = options_.typ;
    // dump() throws on invalid UTF-8 in a string; that is caught below.
    return SignRaw(header.dump(-1, ' ', false, json::error_handler_t::strict),
                   claims.dump(-1, ' ', false, json::error_handler_t::strict));
  } catch (...) {
    return absl::InvalidArgumentError("jwt signer: claims are not valid UTF-8 JSON");
  }
}

absl::StatusOr<std::string> Signer::SignRaw(std::string_view header_json,
                                            std::string_view payload_json) const {
  std::string input = absl::StrCat(internal::Base64UrlEncode(header_json), ".",
                                   internal::Base64UrlEncode(payload_json));
  ASSIGN_OR_RETURN(std::string sig, internal::CreateSignature(alg_, key_.get(), input));
  return absl::StrCat(input, ".", internal::Base64UrlEncode(sig));
}

std::string Signer::PublicJwksJson() const {
  json doc = json::object();
  doc["keys"] = json::array({public_jwk_});
  return doc.dump();
}

absl::StatusOr<std::string> PublicJwksFromPrivateKeyPem(std::string_view private_key_pem,
                                                        std::string_view kid) {
  SignerOptions options;
  options.private_key_pem = std::string(private_key_pem);
  options.kid = std::string(kid);
  ASSIGN_OR_RETURN(std::unique_ptr<Signer> signer, Signer::Create(options));
  return signer->PublicJwksJson();
}

absl::StatusOr<std::string> GeneratePrivateKeyPem(Algorithm alg) {
  EVP_PKEY* raw = alg == Algorithm::kRs256
                      ? EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048))
                      : EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (raw == nullptr) {
    internal::ClearOpensslErrors();
    return absl::InternalError("jwt: key generation failed");
  }
  EvpPkeyPtr key(raw);
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    internal::ClearOpensslErrors();
    return absl::InternalError("jwt: writing the private key PEM failed");
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace datalab::jwt
