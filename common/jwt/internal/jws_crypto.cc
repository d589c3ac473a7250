#include "common/jwt/internal/jws_crypto.h"

#include <openssl/core_names.h>
#include <openssl/ecdsa.h>

#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "common/jwt/internal/openssl_util.h"

namespace datalab::jwt::internal {
namespace {

constexpr size_t kCoordinateSize = 32;

bool IsP256(const EVP_PKEY* key) {
  char group[64] = {0};
  size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                     sizeof(group), &len) != 1) {
    ClearOpensslErrors();
    return false;
  }
  return std::strcmp(group, "prime256v1") == 0 || std::strcmp(group, "P-256") == 0;
}

// JWS carries ECDSA signatures as fixed-width r||s (RFC 7518 section 3.4);
// OpenSSL wants DER. An empty result means the input could not be converted.
std::string RawToDer(std::string_view raw) {
  if (raw.size() != kEs256SignatureSize) return "";
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  BignumPtr r(BN_bin2bn(bytes, kCoordinateSize, nullptr));
  BignumPtr s(BN_bin2bn(bytes + kCoordinateSize, kCoordinateSize, nullptr));
  EcdsaSigPtr sig(ECDSA_SIG_new());
  if (!r || !s || !sig) return "";
  if (ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return "";
  r.release();  // now owned by sig
  s.release();
  int len = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (len <= 0) return "";
  std::string der(static_cast<size_t>(len), '\0');
  auto* out = reinterpret_cast<unsigned char*>(der.data());
  if (i2d_ECDSA_SIG(sig.get(), &out) != len) return "";
  return der;
}

std::string DerToRaw(std::string_view der) {
  const auto* in = reinterpret_cast<const unsigned char*>(der.data());
  EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der.size())));
  if (!sig) return "";
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  std::string raw(kEs256SignatureSize, '\0');
  auto* out = reinterpret_cast<unsigned char*>(raw.data());
  if (BN_bn2binpad(r, out, kCoordinateSize) != static_cast<int>(kCoordinateSize) ||
      BN_bn2binpad(s, out + kCoordinateSize, kCoordinateSize) !=
          static_cast<int>(kCoordinateSize)) {
    return "";
  }
  return raw;
}

}  // namespace

std::optional<Algorithm> AlgorithmForKey(const EVP_PKEY* key) {
  if (key == nullptr) return std::nullopt;
  if (EVP_PKEY_is_a(key, "RSA")) return Algorithm::kRs256;
  if (EVP_PKEY_is_a(key, "EC") && IsP256(key)) return Algorithm::kEs256;
  return std::nullopt;
}

bool VerifySignature(Algorithm alg, EVP_PKEY* key, std::string_view signing_input,
                     std::string_view signature) {
  std::string der;
  std::string_view sig = signature;
  if (alg == Algorithm::kEs256) {
    der = RawToDer(signature);
    if (der.empty()) {
      ClearOpensslErrors();
      return false;
    }
    sig = der;
  } else if (signature.size() != static_cast<size_t>(EVP_PKEY_get_size(key))) {
    // RSASSA-PKCS1-v1_5 signatures are exactly the modulus length.
    return false;
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  bool ok = ctx &&
            EVP_DigestVerifyInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr,
                                    key, nullptr) == 1 &&
            EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(sig.data()),
                             sig.size(),
                             reinterpret_cast<const unsigned char*>(signing_input.data()),
                             signing_input.size()) == 1;
  if (!ok) ClearOpensslErrors();
  return ok;
}

absl::StatusOr<std::string> CreateSignature(Algorithm alg, EVP_PKEY* key,
                                            std::string_view signing_input) {
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  size_t len = 0;
  const auto* in = reinterpret_cast<const unsigned char*>(signing_input.data());
  if (!ctx ||
      EVP_DigestSignInit_ex(ctx.get(), nullptr, "SHA256", nullptr, nullptr, key,
                            nullptr) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, in, signing_input.size()) != 1) {
    ClearOpensslErrors();
    return absl::InternalError("jwt: signing failed to initialise");
  }
  std::string sig(len, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                     in, signing_input.size()) != 1) {
    ClearOpensslErrors();
    return absl::InternalError("jwt: signing failed");
  }
  sig.resize(len);
  if (alg == Algorithm::kEs256) {
    std::string raw = DerToRaw(sig);
    if (raw.empty()) {
      ClearOpensslErrors();
      return absl::InternalError("jwt: ECDSA signature conversion failed");
    }
    return raw;
  }
  return sig;
}

}  // namespace datalab::jwt::internal
