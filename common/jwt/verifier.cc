#include "common/jwt/verifier.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/jwt/internal/base64url.h"
#include "common/jwt/internal/jws_crypto.h"
#include "common/jwt/internal/strict_json.h"
#include "nlohmann/json.hpp"

namespace datalab::jwt {
namespace {

using json = nlohmann::json;

// Real headers are flat; real claims nest a few levels (Keycloak's
// resource_access.<client>.roles is 3). Anything deeper is hostile.
constexpr int kMaxHeaderDepth = 4;
constexpr int kMaxClaimsDepth = 16;
constexpr size_t kMaxTokenBytesLimit = 64 * 1024;
constexpr size_t kMaxRoles = 256;
// 9999-12-31T23:59:59Z: the last instant a NumericDate may sensibly name.
constexpr int64_t kMaxNumericDate = 253402300799;

absl::Status Deny(absl::string_view reason) {
  return absl::UnauthenticatedError(reason);
}

// NumericDate (RFC 7519 section 2): seconds since the epoch, possibly
// fractional. nullopt when not a number or out of range.
std::optional<absl::Time> NumericDate(const json& v) {
  if (v.is_number_unsigned()) {
    uint64_t s = v.get<uint64_t>();
    if (s > static_cast<uint64_t>(kMaxNumericDate)) return std::nullopt;
    return absl::FromUnixSeconds(static_cast<int64_t>(s));
  }
  if (v.is_number_integer()) {
    int64_t s = v.get<int64_t>();
    if (s < 0 || s > kMaxNumericDate) return std::nullopt;
    return absl::FromUnixSeconds(s);
  }
  if (v.is_number_float()) {
    double s = v.get<double>();
    if (!std::isfinite(s) || s < 0 || s > static_cast<double>(kMaxNumericDate)) {
      return std::nullopt;
    }
    return absl::UnixEpoch() + absl::Seconds(s);
  }
  return std::nullopt;
}

// Media types compare case-insensitively and "application/" may be omitted.
std::string NormaliseType(const std::string& typ) {
  std::string t = absl::AsciiStrToLower(typ);
  constexpr absl::string_view kPrefix = "application/";
  if (absl::StartsWith(t, kPrefix)) t.erase(0, kPrefix.size());
  return t;
}

const json* FindClaim(const json& claims, const std::string& full_name,
                      const std::vector<std::string>& path) {
  auto it = claims.find(full_name);
  if (it != claims.end()) return &*it;
  if (path.size() < 2) return nullptr;
  const json* cur = &claims;
  for (const std::string& segment : path) {
    if (!cur->is_object()) return nullptr;
    auto next = cur->find(segment);
    if (next == cur->end()) return nullptr;
    cur = &*next;
  }
  return cur;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Verifier>> Verifier::Create(const Options& options,
                                                           Jwks jwks) {
  if (options.issuer.empty()) {
    return absl::InvalidArgumentError("jwt verifier: issuer is required");
  }
  if (options.audience.empty()) {
    return absl::InvalidArgumentError("jwt verifier: audience is required");
  }
  if (options.allowed_algorithms.empty()) {
    return absl::InvalidArgumentError("jwt verifier: allowed_algorithms is empty");
  }
  std::vector<Algorithm> allowed;
  for (const std::string& name : options.allowed_algorithms) {
    std::optional<Algorithm> alg = ParseAlgorithm(name);
    if (!alg.has_value()) {
      return absl::InvalidArgumentError(
          "jwt verifier: allowed_algorithms may only contain RS256 and ES256");
    }
    if (std::find(allowed.begin(), allowed.end(), *alg) == allowed.end()) {
      allowed.push_back(*alg);
    }
  }
  if (options.clock_skew < absl::ZeroDuration() || options.clock_skew > absl::Seconds(300)) {
    return absl::InvalidArgumentError("jwt verifier: clock_skew must be 0 to 300 seconds");
  }
  if (options.max_token_bytes == 0 || options.max_token_bytes > kMaxTokenBytesLimit) {
    return absl::InvalidArgumentError(
        "jwt verifier: max_token_bytes must be 1 to 65536");
  }
  for (const std::string& t : options.accepted_types) {
    if (t.empty()) {
      return absl::InvalidArgumentError("jwt verifier: accepted_types has an empty entry");
    }
  }
  if (options.roles_claim.empty()) {
    return absl::InvalidArgumentError("jwt verifier: roles_claim is required");
  }
  std::vector<std::string> path = absl::StrSplit(options.roles_claim, '.');
  for (const std::string& segment : path) {
    if (segment.empty()) {
      return absl::InvalidArgumentError(
          "jwt verifier: roles_claim has an empty path segment");
    }
  }
  if (jwks.keys().empty()) {
    return absl::InvalidArgumentError("jwt verifier: the key set is empty");
  }
  Options copy = options;
  for (std::string& t : copy.accepted_types) t = NormaliseType(t);
  if (!copy.now) copy.now = [] { return absl::Now(); };
  return std::unique_ptr<Verifier>(
      new Verifier(std::move(copy), std::move(jwks), std::move(allowed), std::move(path)));
}

Verifier::Verifier(Options options, Jwks jwks, std::vector<Algorithm> allowed,
                   std::vector<std::string> roles_path)
    : options_(std::move(options)),
      jwks_(std::move(jwks)),
      allowed_(std::move(allowed)),
      roles_path_(std::move(roles_path)) {}

absl::StatusOr<VerifiedToken> Verifier::Verify(std::string_view token) const {
  try {
    return VerifyImpl(token);
  } catch (...) {
    // Every json access below is type-checked first, so only allocation
    // failure can land here. Fail closed.
    return Deny("token could not be verified");
  }
}

absl::StatusOr<VerifiedToken> Verifier::VerifyImpl(std::string_view token) const {
  // --- Shape: size, exactly three strict base64url segments. ---
  if (token.size() > options_.max_token_bytes) return Deny("token too large");
  const size_t dot1 = token.find('.');
  if (dot1 == std::string_view::npos) return Deny("malformed token");
  const size_t dot2 = token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos) {
    return Deny("malformed token");
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);
  if (header_b64.empty() || payload_b64.empty() ||
      !internal::IsBase64UrlAlphabet(signature_b64) ||
      !internal::IsBase64UrlAlphabet(payload_b64)) {
    return Deny("malformed token");
  }

  // --- Header. ---
  std::optional<std::string> header_text = internal::Base64UrlDecode(header_b64);
  if (!header_text.has_value()) return Deny("malformed token");
  std::optional<json> header = internal::ParseStrictJson(*header_text, kMaxHeaderDepth);
  if (!header.has_value() || !header->is_object()) return Deny("malformed token header");

  auto alg_it = header->find("alg");
  if (alg_it == header->end() || !alg_it->is_string()) return Deny("algorithm not allowed");
  std::optional<Algorithm> alg = ParseAlgorithm(alg_it->get_ref<const std::string&>());
  if (!alg.has_value() ||
      std::find(allowed_.begin(), allowed_.end(), *alg) == allowed_.end()) {
    return Deny("algorithm not allowed");
  }
  // RFC 7515 4.1.11: we implement no extensions, so any "crit" must fail.
  if (header->contains("crit")) return Deny("unsupported critical header");

  auto typ_it = header->find("typ");
  if (typ_it == header->end()) {
    if (!options_.allow_missing_type) return Deny("token type not accepted");
  } else {
    if (!typ_it->is_string()) return Deny("token type not accepted");
    if (!options_.accepted_types.empty()) {
      std::string typ = NormaliseType(typ_it->get_ref<const std::string&>());
      if (std::find(options_.accepted_types.begin(), options_.accepted_types.end(), typ) ==
          options_.accepted_types.end()) {
        return Deny("token type not accepted");
      }
    }
  }

  // --- Key: only ever from the loaded JWKS. ---
  const Jwk* jwk = nullptr;
  auto kid_it = header->find("kid");
  if (kid_it != header->end()) {
    if (!kid_it->is_string()) return Deny("unknown key id");
    const std::string& kid = kid_it->get_ref<const std::string&>();
    if (internal::IsSuspiciousKid(kid)) return Deny("unknown key id");
    jwk = jwks_.FindByKid(kid);
    if (jwk == nullptr) return Deny("unknown key id");
  } else {
    int matches = 0;
    for (const Jwk& candidate : jwks_.keys()) {
      if (candidate.key_algorithm == *alg &&
          (!candidate.alg.has_value() || *candidate.alg == *alg)) {
        jwk = &candidate;
        ++matches;
      }
    }
    if (matches != 1) return Deny("unknown key id");
  }
  if (jwk->key_algorithm != *alg || (jwk->alg.has_value() && *jwk->alg != *alg)) {
    return Deny("algorithm does not match key");
  }

  // --- Signature over the exact bytes received. ---
  std::optional<std::string> signature = internal::Base64UrlDecode(signature_b64);
  if (!signature.has_value()) return Deny("malformed token");
  if (signature->empty()) return Deny("signature invalid");
  if (*alg == Algorithm::kEs256 && signature->size() != internal::kEs256SignatureSize) {
    return Deny("signature invalid");
  }
  if (!internal::VerifySignature(*alg, jwk->key.get(), token.substr(0, dot2), *signature)) {
    return Deny("signature invalid");
  }

  // --- Claims. ---
  std::optional<std::string> payload_text = internal::Base64UrlDecode(payload_b64);
  if (!payload_text.has_value()) return Deny("malformed token");
  std::optional<json> claims = internal::ParseStrictJson(*payload_text, kMaxClaimsDepth);
  if (!claims.has_value() || !claims->is_object()) return Deny("malformed token claims");

  const absl::Time now = options_.now();
  const absl::Duration skew = options_.clock_skew;
  VerifiedToken out;

  auto exp_it = claims->find("exp");
  if (exp_it == claims->end()) return Deny("missing expiry");
  std::optional<absl::Time> exp = NumericDate(*exp_it);
  if (!exp.has_value()) return Deny("malformed expiry");
  if (now >= *exp + skew) return Deny("token expired");
  out.expiry = *exp;

  auto nbf_it = claims->find("nbf");
  if (nbf_it != claims->end()) {
    std::optional<absl::Time> nbf = NumericDate(*nbf_it);
    if (!nbf.has_value()) return Deny("malformed not-before");
    if (now + skew < *nbf) return Deny("token not yet valid");
  }
  auto iat_it = claims->find("iat");
  if (iat_it != claims->end()) {
    std::optional<absl::Time> iat = NumericDate(*iat_it);
    if (!iat.has_value()) return Deny("malformed issued-at");
    if (*iat > now + skew) return Deny("token issued in the future");
  }

  auto iss_it = claims->find("iss");
  if (iss_it == claims->end()) return Deny("missing issuer");
  if (!iss_it->is_string() || iss_it->get_ref<const std::string&>() != options_.issuer) {
    return Deny("issuer mismatch");
  }
  out.issuer = options_.issuer;

  auto aud_it = claims->find("aud");
  if (aud_it == claims->end()) return Deny("missing audience");
  bool aud_ok = false;
  if (aud_it->is_string()) {
    aud_ok = aud_it->get_ref<const std::string&>() == options_.audience;
  } else if (aud_it->is_array()) {
    for (const json& a : *aud_it) {
      if (!a.is_string()) return Deny("malformed audience");
      if (a.get_ref<const std::string&>() == options_.audience) aud_ok = true;
    }
  } else {
    return Deny("malformed audience");
  }
  if (!aud_ok) return Deny("audience mismatch");

  auto sub_it = claims->find("sub");
  if (sub_it == claims->end() || !sub_it->is_string() ||
      sub_it->get_ref<const std::string&>().empty()) {
    return Deny("missing subject");
  }
  out.subject = sub_it->get_ref<const std::string&>();

  auto jti_it = claims->find("jti");
  if (jti_it != claims->end()) {
    if (!jti_it->is_string()) return Deny("malformed token id");
    out.token_id = jti_it->get_ref<const std::string&>();
  }

  if (const json* roles = FindClaim(*claims, options_.roles_claim, roles_path_)) {
    if (roles->is_string()) {
      out.roles.push_back(roles->get_ref<const std::string&>());
    } else if (roles->is_array()) {
      if (roles->size() > kMaxRoles) return Deny("malformed roles claim");
      for (const json& r : *roles) {
        if (!r.is_string()) return Deny("malformed roles claim");
        out.roles.push_back(r.get_ref<const std::string&>());
      }
    } else {
      return Deny("malformed roles claim");
    }
  }

  out.claims_json = *std::move(payload_text);
  return out;
}

}  // namespace datalab::jwt
