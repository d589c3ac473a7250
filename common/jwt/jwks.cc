#include "common/jwt/jwks.h"

#include <openssl/core_names.h>

#include <string>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/jwt/internal/base64url.h"
#include "common/jwt/internal/openssl_util.h"
#include "common/jwt/internal/strict_json.h"
#include "common/status/status_macros.h"
#include "nlohmann/json.hpp"

namespace datalab::jwt {
namespace {

using json = nlohmann::json;
using internal::BignumPtr;
using internal::EvpPkeyCtxPtr;
using internal::EvpPkeyPtr;
using internal::ParamBldPtr;
using internal::ParamPtr;

constexpr int kMaxJwksDepth = 8;
constexpr size_t kP256CoordinateBytes = 32;

absl::Status KeyError(size_t index, absl::string_view field, absl::string_view what) {
  if (field.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("jwks: key ", index, ": ", what));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("jwks: key ", index, ": field \"", field, "\": ", what));
}

// Optional string member: absent -> nullopt; present but not a string -> error.
absl::StatusOr<std::optional<std::string>> OptionalString(const json& obj, size_t index,
                                                          const char* field) {
  auto it = obj.find(field);
  if (it == obj.end()) return std::optional<std::string>();
  if (!it->is_string()) return KeyError(index, field, "must be a string");
  return std::optional<std::string>(it->get_ref<const std::string&>());
}

absl::StatusOr<std::string> RequiredBase64(const json& obj, size_t index, const char* field) {
  ASSIGN_OR_RETURN(std::optional<std::string> text, OptionalString(obj, index, field));
  if (!text.has_value()) return KeyError(index, field, "missing");
  std::optional<std::string> bytes = internal::Base64UrlDecode(*text);
  if (!bytes.has_value()) return KeyError(index, field, "not valid base64url");
  if (bytes->empty()) return KeyError(index, field, "empty");
  return *std::move(bytes);
}

// Checks the public key is well formed (EC: point on the curve, not infinity;
// RSA: sane n and e).
bool PublicCheck(EVP_PKEY* key) {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, key, nullptr));
  bool ok = ctx && EVP_PKEY_public_check(ctx.get()) == 1;
  if (!ok) internal::ClearOpensslErrors();
  return ok;
}

absl::StatusOr<EvpPkeyPtr> FromData(const char* type, ParamBldPtr& bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    internal::ClearOpensslErrors();
    return absl::InvalidArgumentError("rejected by OpenSSL");
  }
  return EvpPkeyPtr(raw);
}

absl::StatusOr<Jwk> ParseRsa(const json& obj, size_t index) {
  ASSIGN_OR_RETURN(std::string n, RequiredBase64(obj, index, "n"));
  ASSIGN_OR_RETURN(std::string e, RequiredBase64(obj, index, "e"));
  auto bn = [](const std::string& b) {
    return BignumPtr(BN_bin2bn(reinterpret_cast<const unsigned char*>(b.data()),
                               static_cast<int>(b.size()), nullptr));
  };
  BignumPtr bn_n = bn(n);
  BignumPtr bn_e = bn(e);
  if (!bn_n || !bn_e) return absl::InternalError("jwks: out of memory");
  int bits = BN_num_bits(bn_n.get());
  if (bits < Jwks::kMinRsaBits) {
    return KeyError(index, "n", "RSA modulus shorter than 2048 bits");
  }
  if (bits > Jwks::kMaxRsaBits) {
    return KeyError(index, "n", "RSA modulus longer than 8192 bits");
  }
  if (!BN_is_odd(bn_n.get())) return KeyError(index, "n", "RSA modulus must be odd");
  // e: odd, at least 3 and at most 64 bits (keeps verification cheap).
  if (!BN_is_odd(bn_e.get()) || BN_num_bits(bn_e.get()) < 2 ||
      BN_num_bits(bn_e.get()) > 64) {
    return KeyError(index, "e", "unsupported RSA public exponent");
  }
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    internal::ClearOpensslErrors();
    return absl::InternalError("jwks: out of memory");
  }
  absl::StatusOr<EvpPkeyPtr> key = FromData("RSA", bld);
  if (!key.ok() || !PublicCheck(key->get())) {
    return KeyError(index, "n", "not a valid RSA public key");
  }
  Jwk jwk;
  jwk.key_algorithm = Algorithm::kRs256;
  jwk.bits = bits;
  jwk.key = internal::ShareKey(*std::move(key));
  return jwk;
}

absl::StatusOr<Jwk> ParseEc(const json& obj, size_t index) {
  ASSIGN_OR_RETURN(std::optional<std::string> crv, OptionalString(obj, index, "crv"));
  if (!crv.has_value()) return KeyError(index, "crv", "missing");
  if (*crv != "P-256") return KeyError(index, "crv", "only P-256 is supported");
  ASSIGN_OR_RETURN(std::string x, RequiredBase64(obj, index, "x"));
  ASSIGN_OR_RETURN(std::string y, RequiredBase64(obj, index, "y"));
  // RFC 7518 6.2.1.2: coordinates are the full 32 bytes, not trimmed.
  if (x.size() != kP256CoordinateBytes) return KeyError(index, "x", "must be 32 bytes");
  if (y.size() != kP256CoordinateBytes) return KeyError(index, "y", "must be 32 bytes");
  std::string point = absl::StrCat("\x04", x, y);  // uncompressed SEC1 point
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME,
                                      "prime256v1", 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    internal::ClearOpensslErrors();
    return absl::InternalError("jwks: out of memory");
  }
  absl::StatusOr<EvpPkeyPtr> key = FromData("EC", bld);
  if (!key.ok() || !PublicCheck(key->get())) {
    return KeyError(index, "x", "not a point on P-256");
  }
  Jwk jwk;
  jwk.key_algorithm = Algorithm::kEs256;
  jwk.bits = 256;
  jwk.key = internal::ShareKey(*std::move(key));
  return jwk;
}

absl::StatusOr<Jwk> ParseKey(const json& obj, size_t index) {
  if (!obj.is_object()) return KeyError(index, "", "must be a JSON object");
  // A published key set must never carry private key material.
  for (const char* priv : {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}) {
    if (obj.contains(priv)) {
      return KeyError(index, priv, "private or symmetric key material is not allowed");
    }
  }
  ASSIGN_OR_RETURN(std::optional<std::string> kty, OptionalString(obj, index, "kty"));
  if (!kty.has_value()) return KeyError(index, "kty", "missing");
  ASSIGN_OR_RETURN(std::optional<std::string> use, OptionalString(obj, index, "use"));
  if (use.has_value() && *use != "sig") return KeyError(index, "use", "must be \"sig\"");
  if (obj.contains("key_ops")) {
    const json& ops = obj["key_ops"];
    bool has_verify = false;
    if (!ops.is_array()) return KeyError(index, "key_ops", "must be an array");
    for (const json& op : ops) {
      if (op.is_string() && op.get_ref<const std::string&>() == "verify") has_verify = true;
    }
    if (!has_verify) return KeyError(index, "key_ops", "must include \"verify\"");
  }
  ASSIGN_OR_RETURN(std::optional<std::string> alg_name, OptionalString(obj, index, "alg"));
  ASSIGN_OR_RETURN(std::optional<std::string> kid, OptionalString(obj, index, "kid"));

  Jwk jwk;
  if (*kty == "RSA") {
    ASSIGN_OR_RETURN(jwk, ParseRsa(obj, index));
  } else if (*kty == "EC") {
    ASSIGN_OR_RETURN(jwk, ParseEc(obj, index));
  } else {
    return KeyError(index, "kty", "unsupported key type (only RSA and EC)");
  }
  if (alg_name.has_value()) {
    std::optional<Algorithm> alg = ParseAlgorithm(*alg_name);
    if (!alg.has_value()) return KeyError(index, "alg", "unsupported algorithm");
    if (*alg != jwk.key_algorithm) {
      return KeyError(index, "alg", "does not match the key type");
    }
    jwk.alg = alg;
  }
  if (kid.has_value()) {
    if (internal::IsSuspiciousKid(*kid)) {
      return KeyError(index, "kid", "empty, too long or contains disallowed characters");
    }
    jwk.kid = *std::move(kid);
  }
  return jwk;
}

}  // namespace

namespace internal {

bool IsSuspiciousKid(std::string_view kid) {
  if (kid.empty() || kid.size() > Jwks::kMaxKidLength) return true;
  if (kid.find("..") != std::string_view::npos) return true;
  for (char c : kid) {
    auto u = static_cast<unsigned char>(c);
    if (c == '/' || c == '\\' || u < 0x20 || u == 0x7f) return true;
  }
  return false;
}

}  // namespace internal

absl::StatusOr<Jwks> Jwks::Parse(std::string_view text) {
  try {
    return ParseImpl(text);
  } catch (...) {
    // Only allocation failure can get here; never let it cross the boundary.
    return absl::InvalidArgumentError("jwks: could not be loaded");
  }
}

absl::StatusOr<Jwks> Jwks::ParseImpl(std::string_view text) {
  if (text.size() > kMaxDocumentBytes) {
    return absl::InvalidArgumentError("jwks: document larger than 1 MiB");
  }
  std::optional<json> doc = internal::ParseStrictJson(text, kMaxJwksDepth);
  if (!doc.has_value()) {
    return absl::InvalidArgumentError(
        "jwks: not valid JSON (or duplicate member names, or nested too deeply)");
  }
  if (!doc->is_object()) return absl::InvalidArgumentError("jwks: must be a JSON object");
  auto it = doc->find("keys");
  if (it == doc->end()) return absl::InvalidArgumentError("jwks: field \"keys\": missing");
  if (!it->is_array()) {
    return absl::InvalidArgumentError("jwks: field \"keys\": must be an array");
  }
  if (it->empty()) return absl::InvalidArgumentError("jwks: field \"keys\": is empty");
  if (it->size() > kMaxKeys) {
    return absl::InvalidArgumentError("jwks: field \"keys\": more than 100 keys");
  }
  Jwks jwks;
  absl::flat_hash_set<std::string> kids;
  for (size_t i = 0; i < it->size(); ++i) {
    ASSIGN_OR_RETURN(Jwk jwk, ParseKey((*it)[i], i));
    if (!jwk.kid.empty() && !kids.insert(jwk.kid).second) {
      return KeyError(i, "kid", "duplicates an earlier key");
    }
    jwks.keys_.push_back(std::move(jwk));
  }
  return jwks;
}

const Jwk* Jwks::FindByKid(std::string_view kid) const {
  if (kid.empty()) return nullptr;
  for (const Jwk& jwk : keys_) {
    if (jwk.kid == kid) return &jwk;
  }
  return nullptr;
}

}  // namespace datalab::jwt
