// Per-subject limits at the gateway: a token bucket of calls per second and
// a cap on concurrent queries. Refusals say when to retry.
//
// Thread-safe. Memory is bounded: idle buckets are dropped when the table
// grows past max_subjects.
#ifndef DATALAB_SERVICES_GATEWAY_RATE_LIMITER_H_
#define DATALAB_SERVICES_GATEWAY_RATE_LIMITER_H_

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace datalab::gateway {

struct RateLimitOptions {
  double calls_per_second = 200;   // sustained rate per subject
  double burst = 400;              // bucket size
  int max_concurrent_queries = 4;  // per subject
  size_t max_subjects = 100000;
  std::function<absl::Time()> now = absl::Now;
};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimitOptions options) : options_(std::move(options)) {}

  // Takes one call from the subject's bucket; RESOURCE_EXHAUSTED with the
  // seconds to wait when empty.
  absl::Status Admit(const std::string& subject);

  // Reserves a query slot; release it with EndQuery when the call ends.
  absl::Status BeginQuery(const std::string& subject);
  void EndQuery(const std::string& subject);

 private:
  struct Bucket {
    double tokens = 0;
    absl::Time last;
    int queries = 0;
  };
  RateLimitOptions options_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datalab::gateway

#endif  // DATALAB_SERVICES_GATEWAY_RATE_LIMITER_H_
