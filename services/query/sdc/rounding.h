// Deterministic unbiased random rounding of counts (rule 8).
//
// A count v = q*b + r (0 <= r < b) is released as (q+1)*b with probability
// r/b and q*b otherwise, so E[released] = v (unbiased). The "coin" is not
// fresh randomness: it is HMAC-SHA256(lab key, value || portable
// serialisation of the population), reduced to [0, b). Hence
//   * the same population with the same count always rounds the same way, so
//     re-running a query (or querying the same cohort through a different
//     route) returns the same number and averaging repeats does not converge
//     to the true value;
//   * without the lab key nobody can predict the direction, so the rounding
//     cannot be inverted.
// The reduction of 64 hash bits modulo b has bias < b / 2^64, negligible.
//
// Thread-safe (the keyed MAC context is used under a lock).
#ifndef DATALAB_SERVICES_QUERY_SDC_ROUNDING_H_
#define DATALAB_SERVICES_QUERY_SDC_ROUNDING_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "common/crypto/hmac.h"
#include "services/query/sdc/subject_set.h"

namespace datalab::sdc {

class KeyedRounder {
 public:
  // key: the per-lab secret (>= 32 bytes); base >= 1 (1 = no rounding).
  static absl::StatusOr<std::unique_ptr<KeyedRounder>> Create(std::string key,
                                                              int base);

  // Rounds a non-negative count; `population` keys the direction.
  int64_t Round(int64_t value, const SubjectSet& population) const;
  // Round(values[i], *populations[i]) for every i, on up to `threads`
  // threads (each with its own copy of the keyed MAC context).
  std::vector<int64_t> RoundAll(absl::Span<const int64_t> values,
                                absl::Span<const SubjectSet* const> populations,
                                int threads) const;

  int base() const { return base_; }

 private:
  KeyedRounder(crypto::HmacSha256 mac, int base) : mac_(std::move(mac)), base_(base) {}
  uint64_t Coin(int64_t value, const SubjectSet& population) const;
  int64_t RoundWith(int64_t value, const SubjectSet& population, crypto::HmacSha256* mac) const;

  // Keyed once (the key schedule is kept), so a coin costs one MAC, not a
  // re-keying per cell.
  mutable absl::Mutex mu_;
  mutable crypto::HmacSha256 mac_ ABSL_GUARDED_BY(mu_);
  int base_;
};

}  // namespace datalab::sdc

#endif  // DATALAB_SERVICES_QUERY_SDC_ROUNDING_H_
