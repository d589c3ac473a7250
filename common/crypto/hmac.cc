#include "common/crypto/hmac.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/crypto/openssl_util.h"

namespace datalab::crypto {

absl::StatusOr<HmacSha256> HmacSha256::Create(ByteView key) {
  if (key.empty()) {
    return absl::InvalidArgumentError("HMAC key must not be empty");
  }
  internal::EvpMacPtr mac(EVP_MAC_fetch(nullptr, "HMAC", nullptr));
  if (mac == nullptr) return internal::OpenSslInternal("HMAC algorithm fetch");
  // The context holds its own reference to `mac`.
  internal::EvpMacCtxPtr ctx(EVP_MAC_CTX_new(mac.get()));
  if (ctx == nullptr) return internal::OpenSslInternal("HMAC context creation");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  if (EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1) {
    return internal::OpenSslInternal("HMAC keying");
  }
  return HmacSha256(ctx.release());
}

HmacSha256::HmacSha256(HmacSha256&& other) noexcept : ctx_(other.ctx_) {
  other.ctx_ = nullptr;
}

HmacSha256& HmacSha256::operator=(HmacSha256&& other) noexcept {
  if (this != &other) {
    EVP_MAC_CTX_free(ctx_);
    ctx_ = other.ctx_;
    other.ctx_ = nullptr;
  }
  return *this;
}

HmacSha256::~HmacSha256() { EVP_MAC_CTX_free(ctx_); }

absl::StatusOr<HmacSha256Mac> HmacSha256::Compute(ByteView message) {
  if (ctx_ == nullptr) {
    return absl::FailedPreconditionError("HMAC instance was moved from");
  }
  HmacSha256Mac out;
  size_t len = 0;
  // A NULL key re-initialises the context with the key it already holds.
  if (EVP_MAC_init(ctx_, nullptr, 0, nullptr) != 1 ||
      EVP_MAC_update(ctx_, message.data(), message.size()) != 1 ||
      EVP_MAC_final(ctx_, out.data(), &len, out.size()) != 1 ||
      len != out.size()) {
    return internal::OpenSslInternal("HMAC computation");
  }
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
  if (ctx_ == nullptr) {
    return absl::FailedPreconditionError("HMAC instance was moved from");
  }
  EVP_MAC_CTX* copy = EVP_MAC_CTX_dup(ctx_);
  if (copy == nullptr) return internal::OpenSslInternal("HMAC context copy");
  return HmacSha256(copy);
}

absl::StatusOr<HmacSha256Mac> HmacSha256Once(ByteView key, ByteView message) {
  absl::StatusOr<HmacSha256> h = HmacSha256::Create(key);
  if (!h.ok()) return h.status();
  return h->Compute(message);
}

}  // namespace datalab::crypto
