// SHA-256 (FIPS 180-4) over OpenSSL.
//
// Sha256() is a pure function and thread-safe. Sha256Hasher hashes input
// given in pieces; one instance is not thread-safe (one per thread or per
// stream). Errors inside OpenSSL (only possible on allocation failure) make
// Sha256Hasher::Finish() return INTERNAL; they are sticky so Update() needs
// no status check.
#ifndef DATALAB_COMMON_CRYPTO_SHA256_H_
#define DATALAB_COMMON_CRYPTO_SHA256_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/bytes.h"

namespace datalab::crypto {

inline constexpr size_t kSha256Size = 32;
using Sha256Digest = std::array<uint8_t, kSha256Size>;

// SHA-256 of `data`.
Sha256Digest Sha256(ByteView data);

// Incremental SHA-256. Usage:
//   ASSIGN_OR_RETURN(Sha256Hasher h, Sha256Hasher::Create());
//   h.Update(part1); h.Update(part2);
//   ASSIGN_OR_RETURN(Sha256Digest d, h.Finish());
// After Finish() the hasher is reset and can hash a new message.
class Sha256Hasher {
 public:
  static absl::StatusOr<Sha256Hasher> Create();

  Sha256Hasher(Sha256Hasher&&) noexcept;
  Sha256Hasher& operator=(Sha256Hasher&&) noexcept;
  ~Sha256Hasher();

  void Update(ByteView data);
  absl::StatusOr<Sha256Digest> Finish();

 private:
  struct Impl;
  explicit Sha256Hasher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace datalab::crypto

#endif  // DATALAB_COMMON_CRYPTO_SHA256_H_
