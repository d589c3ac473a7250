// Test-only deterministic SecureRandom: SHA-256(seed || counter) stream.
// Reproducible across runs and platforms; NOT for production use (anyone
// with the seed predicts every byte). Only *_test.cc files include this.
#ifndef DATALAB_SERVICES_QUERY_SDC_SEEDED_RANDOM_FOR_TEST_H_
#define DATALAB_SERVICES_QUERY_SDC_SEEDED_RANDOM_FOR_TEST_H_

#include <openssl/sha.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "services/query/sdc/noise.h"

namespace datalab::sdc {

class SeededRandomForTest : public SecureRandom {
 public:
  explicit SeededRandomForTest(uint64_t seed) : seed_(seed) {}
  absl::Status Fill(absl::Span<uint8_t> out) override {
    for (uint8_t& b : out) {
      if (pos_ == sizeof(block_)) Refill();
      b = block_[pos_++];
    }
    return absl::OkStatus();
  }

 private:
  void Refill() {
    unsigned char in[16];
    std::memcpy(in, &seed_, 8);
    std::memcpy(in + 8, &counter_, 8);
    ++counter_;
    SHA256(in, sizeof(in), block_);
    pos_ = 0;
  }
  uint64_t seed_;
  uint64_t counter_ = 0;
  unsigned char block_[32];
  size_t pos_ = sizeof(block_);
};

// Always fails: for the error paths.
class FailingRandomForTest : public SecureRandom {
 public:
  absl::Status Fill(absl::Span<uint8_t>) override {
    return absl::UnavailableError("random source unavailable");
  }
};

}  // namespace datalab::sdc

#endif  // DATALAB_SERVICES_QUERY_SDC_SEEDED_RANDOM_FOR_TEST_H_
