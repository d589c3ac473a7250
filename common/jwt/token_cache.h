// A bounded cache of verified tokens, so the gateway does not repeat the
// signature check for every RPC carrying the same bearer token.
//
// Entries are keyed by SHA-256 of the token (the token itself is never
// stored) and live until the token's "exp" - without clock skew, so a cached
// answer never outlives what a fresh verification would conclude at exp. At
// most `max_entries` are kept; the least recently used one is evicted first.
// Only successful verifications are cached.
//
// The cache must be cleared (or replaced) whenever the verifier's keys or
// options change. Thread-safe.
#ifndef DATALAB_COMMON_JWT_TOKEN_CACHE_H_
#define DATALAB_COMMON_JWT_TOKEN_CACHE_H_

#include <functional>
#include <list>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "common/crypto/sha256.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/jwt/verifier.h"

namespace datalab::jwt {

struct VerifiedTokenCacheOptions {
  size_t max_entries = 10000;
  // Source of the current time; absl::Now when empty.
  std::function<absl::Time()> now;
};

class VerifiedTokenCache {
 public:
  using Options = VerifiedTokenCacheOptions;

  explicit VerifiedTokenCache(Options options = {});

  VerifiedTokenCache(const VerifiedTokenCache&) = delete;
  VerifiedTokenCache& operator=(const VerifiedTokenCache&) = delete;

  // The cached result for `token` if present and not yet expired.
  std::optional<VerifiedToken> Lookup(std::string_view token);

  // Remembers a verified token until its expiry. Already expired tokens are
  // not stored.
  void Insert(std::string_view token, const VerifiedToken& verified);

  // Lookup, else verifier.Verify and Insert on success.
  absl::StatusOr<VerifiedToken> Verify(const Verifier& verifier, std::string_view token);

  void Clear();
  size_t size() const;

 private:
  struct Entry {
    crypto::Sha256Digest key;  // the token's SHA-256, never the token
    VerifiedToken token;
  };
  using List = std::list<Entry>;

  const size_t max_entries_;
  const std::function<absl::Time()> now_;

  mutable absl::Mutex mu_;
  List lru_ ABSL_GUARDED_BY(mu_);  // most recently used first
  absl::flat_hash_map<crypto::Sha256Digest, List::iterator> index_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datalab::jwt

#endif  // DATALAB_COMMON_JWT_TOKEN_CACHE_H_
