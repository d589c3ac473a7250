#include "common/jwt/token_cache.h"

#include <utility>

#include "common/crypto/sha256.h"

namespace datalab::jwt {
VerifiedTokenCache::VerifiedTokenCache(Options options)
    : max_entries_(options.max_entries == 0 ? 1 : options.max_entries),
      now_(options.now ? std::move(options.now) : [] { return absl::Now(); }) {}

std::optional<VerifiedToken> VerifiedTokenCache::Lookup(std::string_view token) {
  // Tokens are cached under their SHA-256, never as themselves.
  const crypto::Sha256Digest key = crypto::Sha256(token);
  const absl::Time now = now_();
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (now >= it->second->token.expiry) {
    lru_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->token;
}

void VerifiedTokenCache::Insert(std::string_view token, const VerifiedToken& verified) {
  const crypto::Sha256Digest key = crypto::Sha256(token);
  if (now_() >= verified.expiry) return;
  absl::MutexLock lock(&mu_);
  auto it = index_.find(key);
  if (it != index_.end()) {
    it->second->token = verified;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.push_front(Entry{key, verified});
  index_.emplace(key, lru_.begin());
  while (lru_.size() > max_entries_) {
    index_.erase(lru_.back().key);
    lru_.pop_back();
  }
}

absl::StatusOr<VerifiedToken> VerifiedTokenCache::Verify(const Verifier& verifier,
                                                         std::string_view token) {
  // Oversized input is refused before hashing, as the verifier would.
  if (token.size() > verifier.options().max_token_bytes) return verifier.Verify(token);
  if (std::optional<VerifiedToken> hit = Lookup(token)) return *std::move(hit);
  absl::StatusOr<VerifiedToken> verified = verifier.Verify(token);
  if (verified.ok()) Insert(token, *verified);
  return verified;
}

void VerifiedTokenCache::Clear() {
  absl::MutexLock lock(&mu_);
  lru_.clear();
  index_.clear();
}

size_t VerifiedTokenCache::size() const {
  absl::MutexLock lock(&mu_);
  return lru_.size();
}

}  // namespace datalab::jwt
