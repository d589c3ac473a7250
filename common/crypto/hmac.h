// HMAC-SHA256 (RFC 2104) over OpenSSL 3's EVP_MAC.
//
// HmacSha256 is keyed once and then computes many MACs. It holds an
// EVP_MAC_CTX that already contains the key schedule (the inner and outer
// padded key states), and for each message only re-initialises it with
// EVP_MAC_init(ctx, NULL, 0, NULL): on this hardware that costs ~250 ns for a
// 13-byte identifier against ~1.1 us for one-shot HMAC() that re-keys every
// call (see /work/shared/PEERS.md). This is the pseudonymisation hot path.
//
// Thread safety: an instance is NOT thread-safe; Compute() mutates the
// context. Keep one instance per thread: build one with Create() and give
// each worker its own Clone() (a copy of the keyed context, no re-keying).
//
// The key is copied into OpenSSL's context, which wipes it when freed; the
// caller's copy is the caller's to wipe (keep it in SecureBytes). Errors
// never include key or message bytes.
#ifndef DATALAB_COMMON_CRYPTO_HMAC_H_
#define DATALAB_COMMON_CRYPTO_HMAC_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include <openssl/types.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/bytes.h"

namespace datalab::crypto {

inline constexpr size_t kHmacSha256Size = 32;
using HmacSha256Mac = std::array<uint8_t, kHmacSha256Size>;

class HmacSha256 {
 public:
  // INVALID_ARGUMENT if `key` is empty (an empty HMAC key is legal in
  // RFC 2104 but is always a configuration mistake here); INTERNAL if
  // OpenSSL cannot build the context.
  static absl::StatusOr<HmacSha256> Create(ByteView key);

  HmacSha256(HmacSha256&& other) noexcept;
  HmacSha256& operator=(HmacSha256&& other) noexcept;
  HmacSha256(const HmacSha256&) = delete;
  HmacSha256& operator=(const HmacSha256&) = delete;
  ~HmacSha256();

  // The MAC of `message` under the key given at construction.
  absl::StatusOr<HmacSha256Mac> Compute(ByteView message);

  // OK if `mac` is the MAC of `message` (constant-time comparison; a
  // truncated `mac` of at least 16 bytes is compared as a prefix).
  // DATA_LOSS "authentication failed" otherwise; INVALID_ARGUMENT if `mac`
  // is shorter than 16 or longer than 32 bytes.
  absl::Status Verify(ByteView message, ByteView mac);

  // An independent instance with the same key, for another thread.
  absl::StatusOr<HmacSha256> Clone() const;

 private:
  explicit HmacSha256(EVP_MAC_CTX* ctx) : ctx_(ctx) {}
  EVP_MAC_CTX* ctx_ = nullptr;  // owned; keyed
};

// One-shot HMAC-SHA256, which re-keys on every call: use HmacSha256 for
// more than a handful of messages under one key.
absl::StatusOr<HmacSha256Mac> HmacSha256Once(ByteView key, ByteView message);

}  // namespace datalab::crypto

#endif  // DATALAB_COMMON_CRYPTO_HMAC_H_
