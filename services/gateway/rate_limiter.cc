#include "services/gateway/rate_limiter.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace datalab::gateway {

absl::Status RateLimiter::Admit(const std::string& subject) {
  absl::Time now = options_.now();
  absl::MutexLock l(&mu_);
  if (buckets_.size() >= options_.max_subjects && !buckets_.contains(subject)) {
    // Drop idle subjects (full buckets, no queries): they lose nothing.
    absl::erase_if(buckets_, [&](const auto& kv) {
      const Bucket& b = kv.second;
      double refill = absl::ToDoubleSeconds(now - b.last) * options_.calls_per_second;
      return b.queries == 0 && b.tokens + refill >= options_.burst;
    });
  }
  auto [it, inserted] = buckets_.try_emplace(subject);
  Bucket& b = it->second;
  if (inserted) {
    b.tokens = options_.burst;
    b.last = now;
  }
  double elapsed = std::max(0.0, absl::ToDoubleSeconds(now - b.last));
  b.tokens = std::min(options_.burst, b.tokens + elapsed * options_.calls_per_second);
  b.last = now;
  if (b.tokens < 1.0) {
    double wait = (1.0 - b.tokens) / options_.calls_per_second;
    return absl::ResourceExhaustedError(absl::StrCat(
        "rate limit reached: retry in ", std::max(1.0, std::ceil(wait)), " s"));
  }
  b.tokens -= 1.0;
  return absl::OkStatus();
}

absl::Status RateLimiter::BeginQuery(const std::string& subject) {
  absl::MutexLock l(&mu_);
  Bucket& b = buckets_[subject];
  if (b.last == absl::Time()) {
    b.tokens = options_.burst;
    b.last = options_.now();
  }
  if (b.queries >= options_.max_concurrent_queries) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "too many queries running (limit ", options_.max_concurrent_queries,
        "): retry when one finishes"));
  }
  ++b.queries;
  return absl::OkStatus();
}

void RateLimiter::EndQuery(const std::string& subject) {
  absl::MutexLock l(&mu_);
  auto it = buckets_.find(subject);
  if (it != buckets_.end() && it->second.queries > 0) --it->second.queries;
}

}  // namespace datalab::gateway
