// Deterministic random source for the synthetic data generator.
//
// std::mt19937_64's output sequence is fixed by the C++ standard, but the
// standard distributions (uniform_int_distribution, normal_distribution...)
// are not: libstdc++ and libc++ produce different values from the same
// engine. Every distribution the generator uses is therefore written here,
// so the same seed gives byte-identical files on any conforming toolchain
// (up to last-ulp differences in libm's log/cos, which can only matter for
// values that round on a boundary).
//
// Not thread-safe: give each thread (or each school) its own Rng, seeded
// with MixSeed(seed, stream) so streams are independent of one another and
// of the order in which they are consumed.
#ifndef DATALAB_TOOLS_SYNTH_RNG_H_
#define DATALAB_TOOLS_SYNTH_RNG_H_

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace datalab::synth {

// splitmix64 finaliser over (seed, stream): a well-mixed 64-bit seed for an
// independent stream.
inline uint64_t MixSeed(uint64_t seed, uint64_t stream) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (stream + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}

  uint64_t Next() { return engine_(); }

  // Uniform in [0, n); n > 0. Unbiased (rejection of the short last block).
  uint64_t Below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do {
      x = engine_();
    } while (x >= limit);
    return x % n;
  }

  // Uniform integer in [lo, hi]; requires lo <= hi.
  int Int(int lo, int hi) {
    return lo + static_cast<int>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

  // Uniform in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

  bool Bernoulli(double p) { return Uniform() < p; }

  // Standard normal by Box-Muller; consumes two draws per call (no cached
  // second value, so the stream position depends only on the call count).
  double Normal() {
    double u1 = Uniform();
    const double u2 = Uniform();
    if (u1 < 1e-300) u1 = 1e-300;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  double Normal(double mean, double sd) { return mean + sd * Normal(); }

  // Poisson by inversion; fine for the small means used here (< 30).
  int Poisson(double mean) {
    const double l = std::exp(-mean);
    int k = 0;
    double p = Uniform();
    while (p > l && k < 1000) {
      p *= Uniform();
      ++k;
    }
    return k;
  }

  // Index drawn from a cumulative weight table (last element = total).
  size_t Pick(const std::vector<double>& cumulative) {
    const double x = Uniform() * cumulative.back();
    size_t lo = 0, hi = cumulative.size() - 1;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (cumulative[mid] > x) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

 private:
  std::mt19937_64 engine_;
};

// Running sums of `weights`, for Rng::Pick.
inline std::vector<double> Cumulative(const std::vector<double>& weights) {
  std::vector<double> out(weights.size());
  double sum = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    sum += weights[i];
    out[i] = sum;
  }
  return out;
}

}  // namespace datalab::synth

#endif  // DATALAB_TOOLS_SYNTH_RNG_H_
