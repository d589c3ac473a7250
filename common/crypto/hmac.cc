// OpenSSL 3 marks the SHA256_Init/Update/Final family deprecated in favour
// of EVP_MD, whose contexts cannot be copied without a heap allocation per
// copy. Keyed-state copies are the whole point here (see hmac.h), so this
// file opts back in; it must come before any OpenSSL header.
#define OPENSSL_SUPPRESS_DEPRECATED

#include "common/crypto/hmac.h"

#include <algorithm>
#include <utility>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "common/crypto/openssl_util.h"

namespace datalab::crypto {
namespace {

constexpr size_t kBlockSize = SHA256_CBLOCK;  // 64

// Absorbs one 64-byte block of the key XOR `pad` into a fresh state.
bool PadState(const uint8_t (&key_block)[kBlockSize], uint8_t pad, SHA256_CTX* ctx) {
  uint8_t block[kBlockSize];
  for (size_t i = 0; i < kBlockSize; ++i) block[i] = key_block[i] ^ pad;
  const bool ok = SHA256_Init(ctx) == 1 && SHA256_Update(ctx, block, kBlockSize) == 1;
  OPENSSL_cleanse(block, sizeof(block));
  return ok;
}

}  // namespace

struct HmacSha256::State {
  SHA256_CTX inner;  // after key XOR ipad
  SHA256_CTX outer;  // after key XOR opad
  ~State() { OPENSSL_cleanse(this, sizeof(*this)); }
};

HmacSha256::HmacSha256(std::unique_ptr<State> state) : state_(std::move(state)) {}
HmacSha256::HmacSha256(HmacSha256&& other) noexcept = default;
HmacSha256& HmacSha256::operator=(HmacSha256&& other) noexcept = default;
HmacSha256::~HmacSha256() = default;

absl::StatusOr<HmacSha256> HmacSha256::Create(ByteView key) {
  if (key.empty()) {
    return absl::InvalidArgumentError("HMAC key must not be empty");
  }
  // RFC 2104: a key longer than a block is replaced by its hash; the key is
  // then padded with zeros to a block.
  uint8_t key_block[kBlockSize] = {};
  if (key.size() > kBlockSize) {
    // Never fall through to an all-zero (known) key if hashing fails.
    if (SHA256(key.data(), key.size(), key_block) == nullptr) {
      OPENSSL_cleanse(key_block, sizeof(key_block));
      return internal::OpenSslInternal("HMAC keying");
    }
  } else {
    std::copy(key.data(), key.data() + key.size(), key_block);
  }
  auto state = std::make_unique<State>();
  const bool ok = PadState(key_block, 0x36, &state->inner) &&
                  PadState(key_block, 0x5c, &state->outer);
  OPENSSL_cleanse(key_block, sizeof(key_block));
  if (!ok) return internal::OpenSslInternal("HMAC keying");
  return HmacSha256(std::move(state));
}

absl::StatusOr<HmacSha256Mac> HmacSha256::Compute(ByteView message) {
  if (state_ == nullptr) {
    return absl::FailedPreconditionError("HMAC instance was moved from");
  }
  HmacSha256Mac out;
  uint8_t inner_hash[SHA256_DIGEST_LENGTH];
  SHA256_CTX ctx = state_->inner;
  bool ok = SHA256_Update(&ctx, message.data(), message.size()) == 1 &&
            SHA256_Final(inner_hash, &ctx) == 1;
  ctx = state_->outer;
  ok = ok && SHA256_Update(&ctx, inner_hash, sizeof(inner_hash)) == 1 &&
       SHA256_Final(out.data(), &ctx) == 1;
  // The working state held the message's last block and the inner hash.
  OPENSSL_cleanse(&ctx, sizeof(ctx));
  OPENSSL_cleanse(inner_hash, sizeof(inner_hash));
  if (!ok) return internal::OpenSslInternal("HMAC computation");
  return out;
}

absl::Status HmacSha256::Verify(ByteView message, ByteView mac) {
  if (mac.size() < 16 || mac.size() > kHmacSha256Size) {
    return absl::InvalidArgumentError(
        "HMAC-SHA256 tag must be between 16 and 32 bytes");
  }
  absl::StatusOr<HmacSha256Mac> expected = Compute(message);
  if (!expected.ok()) return expected.status();
  if (!ConstantTimeEquals(ByteView(expected->data(), mac.size()), mac)) {
    return absl::DataLossError("authentication failed");
  }
  return absl::OkStatus();
}

absl::StatusOr<HmacSha256> HmacSha256::Clone() const {
  if (state_ == nullptr) {
    return absl::FailedPreconditionError("HMAC instance was moved from");
  }
  return HmacSha256(std::make_unique<State>(*state_));
}

absl::StatusOr<HmacSha256Mac> HmacSha256Once(ByteView key, ByteView message) {
  absl::StatusOr<HmacSha256> h = HmacSha256::Create(key);
  if (!h.ok()) return h.status();
  return h->Compute(message);
}

}  // namespace datalab::crypto
