#include "services/query/sdc/noise.h"

#include <openssl/rand.h>

#include <cstring>
#include <limits>

#include "common/status/status_macros.h"

namespace datalab::sdc {

absl::Status OpenSslSecureRandom::Fill(absl::Span<uint8_t> out) {
  size_t done = 0;
  while (done < out.size()) {
    // RAND_bytes takes an int length; feed it in bounded chunks.
    size_t chunk = std::min<size_t>(out.size() - done, 1 << 20);
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      return absl::InternalError("secure random: RAND_bytes failed");
    }
    done += chunk;
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> UniformBelow(SecureRandom& rng, uint64_t n) {
  if (n == 0) return absl::InvalidArgumentError("UniformBelow: n must be > 0");
  if (n == 1) return uint64_t{0};
  // Accept x < limit, where limit is the largest multiple of n in 2^64.
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() -
      (std::numeric_limits<uint64_t>::max() % n + 1) % n;
  for (;;) {
    uint8_t buf[8];
    RETURN_IF_ERROR(rng.Fill(absl::MakeSpan(buf)));
    uint64_t x;
    std::memcpy(&x, buf, sizeof(x));
    if (x <= limit) return x % n;
  }
}

absl::StatusOr<bool> Bernoulli(SecureRandom& rng, uint64_t num, uint64_t den) {
  if (den == 0 || num > den) {
    return absl::InvalidArgumentError("Bernoulli: need 0 <= num <= den, den > 0");
  }
  ASSIGN_OR_RETURN(uint64_t u, UniformBelow(rng, den));
  return u < num;
}

absl::StatusOr<bool> BernoulliExp(SecureRandom& rng, uint64_t num,
                                  uint64_t den) {
  if (den == 0) return absl::InvalidArgumentError("BernoulliExp: den is 0");
  if (num <= den) {
    // gamma in [0, 1]: count K until Bernoulli(gamma / K) fails; K odd w.p.
    // exp(-gamma).
    uint64_t k = 1;
    for (;;) {
      if (den > std::numeric_limits<uint64_t>::max() / (k + 1)) {
        // P(reaching here) <= 1/k!, astronomically small; fail rather than
        // overflow.
        return absl::InternalError("BernoulliExp: iteration overflow");
      }
      ASSIGN_OR_RETURN(bool a, Bernoulli(rng, num, den * k));
      if (!a) break;
      ++k;
    }
    return (k % 2) == 1;
  }
  for (uint64_t i = 0; i < num / den; ++i) {
    ASSIGN_OR_RETURN(bool b, BernoulliExp(rng, 1, 1));
    if (!b) return false;
  }
  return BernoulliExp(rng, num % den, den);
}

absl::StatusOr<int64_t> SampleDiscreteLaplace(SecureRandom& rng, uint64_t s,
                                              uint64_t t) {
  if (s == 0 || t == 0) {
    return absl::InvalidArgumentError("discrete Laplace: s and t must be > 0");
  }
  for (;;) {
    ASSIGN_OR_RETURN(uint64_t u, UniformBelow(rng, t));
    ASSIGN_OR_RETURN(bool d, BernoulliExp(rng, u, t));
    if (!d) continue;
    uint64_t v = 0;
    for (;;) {
      ASSIGN_OR_RETURN(bool a, BernoulliExp(rng, 1, 1));
      if (!a) break;
      ++v;
    }
    // x = u + t*v is geometric: P(x) ∝ exp(-x/t); y = floor(x/s) then has
    // P(y) ∝ exp(-y s/t).
    unsigned __int128 x = static_cast<unsigned __int128>(t) * v + u;
    unsigned __int128 y = x / s;
    if (y > static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max())) {
      continue;  // probability ~0; keeps the cast below defined
    }
    ASSIGN_OR_RETURN(bool negative, Bernoulli(rng, 1, 2));
    if (negative && y == 0) continue;
    return negative ? -static_cast<int64_t>(y) : static_cast<int64_t>(y);
  }
}

}  // namespace datalab::sdc
