// The gateway's Authenticator: an OIDC bearer token verified against the
// trust's JWKS (common/jwt), cached by token hash until it expires, mapped to
// a USER principal users/<sub> with the lab roles found in the roles claim.
// Unknown role names in the claim are ignored (they grant nothing).
//
// Thread-safe.
#ifndef DATALAB_SERVICES_GATEWAY_JWT_AUTHENTICATOR_H_
#define DATALAB_SERVICES_GATEWAY_JWT_AUTHENTICATOR_H_

#include <memory>

#include "common/auth/authenticator.h"
#include "common/jwt/token_cache.h"
#include "common/jwt/verifier.h"

namespace datalab::gateway {

class JwtAuthenticator : public auth::Authenticator {
 public:
  JwtAuthenticator(std::unique_ptr<jwt::Verifier> verifier,
                   jwt::VerifiedTokenCache::Options cache_options = {});

  absl::StatusOr<common::v1::Principal> Authenticate(const auth::CallInfo& call) override;

  // The verified token behind a call (for WhoAmI's expiry).
  absl::StatusOr<jwt::VerifiedToken> VerifiedTokenOf(const auth::CallInfo& call);

 private:
  std::unique_ptr<jwt::Verifier> verifier_;
  jwt::VerifiedTokenCache cache_;
};

}  // namespace datalab::gateway

#endif  // DATALAB_SERVICES_GATEWAY_JWT_AUTHENTICATOR_H_
