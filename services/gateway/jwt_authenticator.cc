#include "services/gateway/jwt_authenticator.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "common/auth/policy.h"

namespace datalab::gateway {

JwtAuthenticator::JwtAuthenticator(std::unique_ptr<jwt::Verifier> verifier,
                                   jwt::VerifiedTokenCache::Options cache_options)
    : verifier_(std::move(verifier)), cache_(cache_options) {}

absl::StatusOr<jwt::VerifiedToken> JwtAuthenticator::VerifiedTokenOf(const auth::CallInfo& call) {
  auto it = call.headers.find(auth::kAuthorizationHeader);
  if (it == call.headers.end()) {
    return absl::UnauthenticatedError("no bearer token: log in first");
  }
  std::string_view value = it->second;
  constexpr std::string_view kBearer = "bearer ";
  if (value.size() <= kBearer.size() ||
      absl::AsciiStrToLower(std::string(value.substr(0, kBearer.size()))) != kBearer) {
    return absl::UnauthenticatedError("authorization must be a bearer token");
  }
  return cache_.Verify(*verifier_, value.substr(kBearer.size()));
}

absl::StatusOr<common::v1::Principal> JwtAuthenticator::Authenticate(const auth::CallInfo& call) {
  // A client may not smuggle its own identity assertion through the gateway.
  if (call.headers.contains(auth::kAssertionHeader)) {
    return absl::UnauthenticatedError("identity assertions are not accepted from clients");
  }
  auto token = VerifiedTokenOf(call);
  if (!token.ok()) return token.status();
  common::v1::Principal p;
  p.set_kind(common::v1::Principal::USER);
  p.set_subject("users/" + token->subject);
  for (const auto& claim : token->roles) {
    auto role = auth::RoleFromClaim(claim);
    if (role.ok()) p.add_roles(*role);
  }
  auto rid = call.headers.find(auth::kRequestIdHeader);
  if (rid != call.headers.end() && rid->second.size() <= 64) {
    p.set_request_id(std::string(rid->second));
  }
  return p;
}

}  // namespace datalab::gateway
