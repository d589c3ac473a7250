#include "common/auth/identity_assertion.h"

#include "absl/strings/str_cat.h"
#include "common/auth/policy.h"
#include "common/crypto/encoding.h"

namespace datalab::auth {
namespace {

constexpr char kContext[] = "datalab-identity-assertion-v1";
constexpr size_t kMaxAssertionBytes = 4096;
constexpr size_t kMaxCacheEntries = 10000;

std::string SigningInput(std::string_view payload) {
  std::string in(kContext, sizeof(kContext));  // includes the NUL separator
  in.append(payload);
  return in;
}

}  // namespace

absl::StatusOr<std::string> AssertionSigner::Sign(const common::v1::Principal& principal) const {
  std::string key;
  principal.SerializeToString(&key);  // deterministic enough for a cache key
  absl::Time now = clock_();
  {
    absl::MutexLock l(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && now < it->second.reuse_until) return it->second.token;
  }
  common::v1::IdentityAssertion a;
  *a.mutable_principal() = principal;
  a.set_issuer(kAssertionIssuer);
  a.set_audience(kAssertionAudience);
  a.set_issued_at_unix_ms(absl::ToUnixMillis(now));
  a.set_expires_at_unix_ms(absl::ToUnixMillis(now + ttl_));
  std::string payload = a.SerializeAsString();
  auto sig = key_.Sign(SigningInput(payload));
  if (!sig.ok()) return sig.status();
  std::string token = absl::StrCat(crypto::Base64UrlEncode(payload), ".",
                                   crypto::Base64UrlEncode(crypto::ByteView(*sig)));
  absl::MutexLock l(&mu_);
  if (cache_.size() >= kMaxCached) cache_.clear();
  cache_[key] = Signed{token, now + ttl_ / 2};
  return token;
}

absl::StatusOr<common::v1::Principal> AssertionVerifier::Verify(std::string_view token) const {
  if (token.empty() || token.size() > kMaxAssertionBytes) {
    return absl::UnauthenticatedError("identity assertion missing or too large");
  }
  size_t dot = token.find('.');
  if (dot == std::string_view::npos || token.find('.', dot + 1) != std::string_view::npos) {
    return absl::UnauthenticatedError("identity assertion is malformed");
  }
  auto payload = crypto::Base64UrlDecode(token.substr(0, dot));
  auto sig = crypto::Base64UrlDecode(token.substr(dot + 1));
  if (!payload.ok() || !sig.ok()) {
    return absl::UnauthenticatedError("identity assertion is malformed");
  }
  if (!key_.Verify(SigningInput(*payload), *sig).ok()) {
    return absl::UnauthenticatedError("identity assertion signature is invalid");
  }
  common::v1::IdentityAssertion a;
  if (!a.ParseFromString(*payload)) {
    return absl::UnauthenticatedError("identity assertion is malformed");
  }
  if (a.issuer() != kAssertionIssuer || a.audience() != kAssertionAudience) {
    return absl::UnauthenticatedError("identity assertion issuer or audience is wrong");
  }
  absl::Time now = clock_();
  if (absl::FromUnixMillis(a.expires_at_unix_ms()) + skew_ < now) {
    return absl::UnauthenticatedError("identity assertion expired");
  }
  if (absl::FromUnixMillis(a.issued_at_unix_ms()) - skew_ > now) {
    return absl::UnauthenticatedError("identity assertion issued in the future");
  }
  if (a.principal().kind() != common::v1::Principal::USER || a.principal().subject().empty()) {
    return absl::UnauthenticatedError("identity assertion names no user");
  }
  return a.principal();
}

absl::StatusOr<common::v1::Principal> ServiceAuthenticator::Authenticate(const CallInfo& call) {
  auto it = call.headers.find(kAssertionHeader);
  if (it != call.headers.end()) {
    if (call.peer_common_name != "gateway") {
      return absl::UnauthenticatedError("identity assertions are accepted only from the gateway");
    }
    std::string token(it->second);
    absl::Time now = clock_();
    {
      absl::MutexLock l(&mu_);
      auto c = cache_.find(token);
      if (c != cache_.end() && c->second.expires > now) return c->second.principal;
    }
    auto principal = verifier_->Verify(token);
    if (!principal.ok()) return principal.status();
    // The payload was verified above; read its expiry for the cache.
    common::v1::IdentityAssertion a;
    auto payload = crypto::Base64UrlDecode(std::string_view(token).substr(0, token.find('.')));
    if (payload.ok() && a.ParseFromString(*payload)) {
      absl::MutexLock l(&mu_);
      if (cache_.size() >= kMaxCacheEntries) cache_.clear();
      cache_[token] = Cached{*principal, absl::FromUnixMillis(a.expires_at_unix_ms())};
    }
    return principal;
  }
  if (!call.peer_common_name.empty() && IsKnownService(call.peer_common_name) &&
      call.peer_common_name != "gateway") {
    common::v1::Principal p;
    p.set_kind(common::v1::Principal::SERVICE);
    p.set_subject(call.peer_common_name);
    return p;
  }
  if (call.peer_common_name == "gateway") {
    return absl::UnauthenticatedError("the gateway must forward the caller's identity assertion");
  }
  return absl::UnauthenticatedError("no lab service certificate or identity assertion");
}

}  // namespace datalab::auth
