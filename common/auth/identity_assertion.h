// The caller's identity as the gateway forwards it to backends: a
// serialized IdentityAssertion signed with the gateway's Ed25519 key,
//   base64url(payload) "." base64url(Ed25519(context || payload))
// where context = "datalab-identity-assertion-v1\0" (domain separation, so
// the signature can never be replayed as another kind of signed object).
// Assertions are short-lived; backends check signature, issuer, audience
// and expiry, and accept them only over mTLS from the gateway.
//
// Thread-safe after construction.
#ifndef DATALAB_COMMON_AUTH_IDENTITY_ASSERTION_H_
#define DATALAB_COMMON_AUTH_IDENTITY_ASSERTION_H_

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/auth/authenticator.h"
#include "common/crypto/ed25519.h"
#include "datalab/common/v1/identity.pb.h"

namespace datalab::auth {

inline constexpr char kAssertionIssuer[] = "datalab-gateway";
inline constexpr char kAssertionAudience[] = "datalab";

using Clock = std::function<absl::Time()>;

// Signs assertions valid for `ttl`. The same principal (subject, roles and
// request id) gets the same assertion again while it has more than half its
// ttl left: backends then find it in their verified cache, so a busy user
// costs one Ed25519 signature and one verification per ttl/2 instead of one
// per call (the cache is bounded).
class AssertionSigner {
 public:
  AssertionSigner(crypto::Ed25519PrivateKey key, absl::Duration ttl = absl::Seconds(60),
                  Clock clock = absl::Now)
      : key_(std::move(key)), ttl_(ttl), clock_(std::move(clock)) {}
  absl::StatusOr<std::string> Sign(const common::v1::Principal& principal) const;

 private:
  struct Signed {
    std::string token;
    absl::Time reuse_until;
  };
  static constexpr size_t kMaxCached = 10000;
  crypto::Ed25519PrivateKey key_;
  absl::Duration ttl_;
  Clock clock_;
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, Signed> cache_ ABSL_GUARDED_BY(mu_);
};

class AssertionVerifier {
 public:
  explicit AssertionVerifier(crypto::Ed25519PublicKey key, Clock clock = absl::Now,
                             absl::Duration skew = absl::Seconds(5))
      : key_(std::move(key)), clock_(std::move(clock)), skew_(skew) {}
  // UNAUTHENTICATED with a short reason on any failure.
  absl::StatusOr<common::v1::Principal> Verify(std::string_view token) const;

 private:
  crypto::Ed25519PublicKey key_;
  Clock clock_;
  absl::Duration skew_;
};

// The authenticator of every backend:
//  - a gateway assertion (only from a peer whose certificate says "gateway")
//    makes a USER principal;
//  - otherwise a lab service certificate makes a SERVICE principal;
//  - anything else is UNAUTHENTICATED. Backends never accept bearer tokens.
// Verified assertions are cached until they expire (bounded).
class ServiceAuthenticator : public Authenticator {
 public:
  explicit ServiceAuthenticator(std::shared_ptr<const AssertionVerifier> verifier,
                                Clock clock = absl::Now)
      : verifier_(std::move(verifier)), clock_(std::move(clock)) {}
  absl::StatusOr<common::v1::Principal> Authenticate(const CallInfo& call) override;

 private:
  struct Cached {
    common::v1::Principal principal;
    absl::Time expires;
  };
  std::shared_ptr<const AssertionVerifier> verifier_;
  Clock clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Cached> cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datalab::auth

#endif  // DATALAB_COMMON_AUTH_IDENTITY_ASSERTION_H_
