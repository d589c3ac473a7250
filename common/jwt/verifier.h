// Verification of OIDC access/ID tokens (compact JWS, RFC 7515/7519) against a
// JWKS, following the JWT best current practices of RFC 8725:
//   - algorithm allow-list (RS256/ES256 only; "none" and HMAC cannot be
//     configured), and the algorithm must fit the key's type and declared alg;
//   - keys come only from the loaded JWKS: "kid" is an opaque lookup key, never
//     a URL or path, and jku/x5u/jwk/x5c headers are ignored;
//   - "crit" headers are rejected (we understand no extensions);
//   - strict base64url and strict JSON (objects only, no duplicate members,
//     bounded nesting), bounded token size;
//   - exp required; nbf and iat checked with a bounded clock skew; iss and aud
//     required and matched exactly.
//
// Every failure is UNAUTHENTICATED with a short reason that is safe to show to
// the caller ("token expired", "signature invalid", ...). Reasons never echo
// the token, a claim value, or a key id.
//
// Thread safety: a Verifier is immutable after Create; Verify may be called
// concurrently from any number of threads.
#ifndef DATALAB_COMMON_JWT_VERIFIER_H_
#define DATALAB_COMMON_JWT_VERIFIER_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/jwt/algorithm.h"
#include "common/jwt/jwks.h"

namespace datalab::jwt {

// What the gateway learns from a token that passed every check.
struct VerifiedToken {
  std::string subject;             // "sub", non-empty
  std::vector<std::string> roles;  // from the roles claim; empty when absent
  std::string issuer;              // "iss", equal to Options::issuer
  absl::Time expiry;               // "exp"
  std::string token_id;            // "jti", empty when absent
  std::string claims_json;         // the payload exactly as signed (a JSON object)
};

struct VerifierOptions {
  // Required. Compared byte for byte with "iss".
  std::string issuer;
  // Required. Must equal "aud" (a string) or one element of it (an array).
  std::string audience;
  // Subset of {"RS256", "ES256"}, non-empty. Anything else (including "none"
  // and "HS256") makes Create fail.
  std::vector<std::string> allowed_algorithms = {"RS256", "ES256"};
  // Tolerance for exp/nbf/iat; 0 to 300 seconds.
  absl::Duration clock_skew = absl::Seconds(60);
  // Tokens longer than this are rejected before any parsing. 1 B to 64 KiB.
  size_t max_token_bytes = 8 * 1024;
  // Accepted "typ" header values, compared case-insensitively with an optional
  // "application/" prefix (RFC 7515 4.1.9, RFC 9068). Empty list: any typ.
  std::vector<std::string> accepted_types = {"JWT", "at+jwt"};
  // Whether a token without a "typ" header is accepted.
  bool allow_missing_type = true;
  // Where the roles are: a top-level claim name, or a dotted path into nested
  // objects ("realm_access.roles"). A top-level member whose name is the whole
  // string wins, so namespaced claims like "https://x.example/roles" work.
  // The value must be an array of strings or a single string.
  std::string roles_claim = "roles";
  // Source of the current time; absl::Now when empty. Tests inject a fake.
  std::function<absl::Time()> now;
};

class Verifier {
 public:
  using Options = VerifierOptions;

  // INVALID_ARGUMENT when the options are unsafe or incomplete.
  static absl::StatusOr<std::unique_ptr<Verifier>> Create(const Options& options,
                                                          Jwks jwks);

  // OK only when every check above passes; otherwise UNAUTHENTICATED.
  absl::StatusOr<VerifiedToken> Verify(std::string_view token) const;

  const Options& options() const { return options_; }

 private:
  Verifier(Options options, Jwks jwks, std::vector<Algorithm> allowed,
           std::vector<std::string> roles_path);

  absl::StatusOr<VerifiedToken> VerifyImpl(std::string_view token) const;

  const Options options_;
  const Jwks jwks_;
  const std::vector<Algorithm> allowed_;
  const std::vector<std::string> roles_path_;  // roles_claim split on '.'
};

}  // namespace datalab::jwt

#endif  // DATALAB_COMMON_JWT_VERIFIER_H_
