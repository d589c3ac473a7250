// HMAC-SHA256 (RFC 2104) over OpenSSL 3's SHA-256.
//
// HmacSha256 is keyed once and then computes many MACs. Keying absorbs the
// padded key into two SHA-256 states (key XOR ipad, key XOR opad); each MAC
// then starts from copies of those states, so it costs two SHA-256
// compressions for an identifier and nothing else: ~175 ns for a 13-byte
// identifier on this hardware, against ~420 ns for a keyed EVP_MAC_CTX
// re-initialised per message and ~1.1 us for one-shot HMAC() that re-keys
// every call (PEERS.md; docs/BENCHMARKS.md, "What moved in stop 19"). This is
// the pseudonymisation hot path.
//
// The states live in OpenSSL's SHA256_CTX (the block function with its
// SHA-NI and AVX2 code); only the RFC 2104 construction around it is ours,
// checked against RFC 4231 and against OpenSSL's own HMAC for keys and
// messages of every length up to past two blocks (hmac_test.cc). Those
// low-level calls do not go through OpenSSL's providers: a lab that must
// run OpenSSL in FIPS mode would need the EVP_MAC path back.
//
// Thread safety: an instance may be used by one thread at a time. Build one
// with Create() and give each worker its own Clone() (a copy of the keyed
// states, no re-keying).
//
// The keyed states are key material: they are wiped when the instance is
// destroyed, and each MAC's working state is wiped before Compute returns.
// The caller's copy of the key is the caller's to wipe (keep it in
// SecureBytes). Errors never include key or message bytes.
#ifndef DATALAB_COMMON_CRYPTO_HMAC_H_
#define DATALAB_COMMON_CRYPTO_HMAC_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

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
  // OpenSSL fails to hash a key longer than a block.
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
  struct State;  // the keyed inner and outer SHA-256 states
  explicit HmacSha256(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;  // null once moved from
};

// One-shot HMAC-SHA256, which re-keys on every call: use HmacSha256 for
// more than a handful of messages under one key.
absl::StatusOr<HmacSha256Mac> HmacSha256Once(ByteView key, ByteView message);

}  // namespace datalab::crypto

#endif  // DATALAB_COMMON_CRYPTO_HMAC_H_
