// Randomness for differential privacy: a CSPRNG interface, its OpenSSL
// implementation, and an exact discrete Laplace sampler.
//
// The sampler follows Canonne, Kamath & Steinke, "The Discrete Gaussian for
// Differential Privacy" (NeurIPS 2020), Algorithms 1 and 2: only uniform
// integers and comparisons, no floating point, so the output distribution is
// exactly P(Y = y) ∝ exp(-|y| * s / t) and has no floating-point artefacts
// (Mironov 2012) that leak the true value.
//
// Thread safety: OpenSslSecureRandom is thread-safe (RAND_bytes is). The
// free functions are as thread-safe as the SecureRandom they are given.
#ifndef DATALAB_SERVICES_QUERY_SDC_NOISE_H_
#define DATALAB_SERVICES_QUERY_SDC_NOISE_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace datalab::sdc {

class SecureRandom {
 public:
  virtual ~SecureRandom() = default;
  // Fills `out` with uniformly random bytes, or fails (INTERNAL/UNAVAILABLE).
  virtual absl::Status Fill(absl::Span<uint8_t> out) = 0;
};

// Production CSPRNG: OpenSSL RAND_bytes (the default DRBG, seeded by the OS).
class OpenSslSecureRandom : public SecureRandom {
 public:
  absl::Status Fill(absl::Span<uint8_t> out) override;
};

// Uniform integer in [0, n), n > 0, by rejection (no modulo bias).
absl::StatusOr<uint64_t> UniformBelow(SecureRandom& rng, uint64_t n);

// Bernoulli(num/den), 0 <= num <= den, den > 0.
absl::StatusOr<bool> Bernoulli(SecureRandom& rng, uint64_t num, uint64_t den);

// Bernoulli(exp(-num/den)), num >= 0, den > 0 (CKS Algorithm 1).
absl::StatusOr<bool> BernoulliExp(SecureRandom& rng, uint64_t num,
                                  uint64_t den);

// Discrete Laplace with scale t/s (s, t > 0): P(Y = y) ∝ exp(-|y| s / t)
// (CKS Algorithm 2, same parameter names). For a count with L1 sensitivity Δ
// and privacy ε = e/1e6 the scale is Δ/ε: s = e, t = Δ * 1e6.
absl::StatusOr<int64_t> SampleDiscreteLaplace(SecureRandom& rng, uint64_t s,
                                              uint64_t t);

}  // namespace datalab::sdc

#endif  // DATALAB_SERVICES_QUERY_SDC_NOISE_H_
