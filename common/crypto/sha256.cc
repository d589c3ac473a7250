#include "common/crypto/sha256.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/crypto/openssl_util.h"

namespace datalab::crypto {

Sha256Digest Sha256(ByteView data) {
  // SHA256() is OpenSSL's non-deprecated one-shot that cannot fail; it avoids
  // the EVP context allocation, which matters for Merkle tree hashing.
  Sha256Digest out;
  SHA256(data.data(), data.size(), out.data());
  return out;
}

struct Sha256Hasher::Impl {
  internal::EvpMdCtxPtr ctx;
  bool failed = false;
};

Sha256Hasher::Sha256Hasher(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
Sha256Hasher::Sha256Hasher(Sha256Hasher&&) noexcept = default;
Sha256Hasher& Sha256Hasher::operator=(Sha256Hasher&&) noexcept = default;
Sha256Hasher::~Sha256Hasher() = default;

absl::StatusOr<Sha256Hasher> Sha256Hasher::Create() {
  auto impl = std::make_unique<Impl>();
  impl->ctx.reset(EVP_MD_CTX_new());
  if (impl->ctx == nullptr ||
      EVP_DigestInit_ex(impl->ctx.get(), EVP_sha256(), nullptr) != 1) {
    return internal::OpenSslInternal("SHA-256 initialisation");
  }
  return Sha256Hasher(std::move(impl));
}

void Sha256Hasher::Update(ByteView data) {
  if (impl_ == nullptr || impl_->failed || data.empty()) return;
  if (EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) {
    impl_->failed = true;
  }
}

absl::StatusOr<Sha256Digest> Sha256Hasher::Finish() {
  if (impl_ == nullptr) {
    return absl::FailedPreconditionError("SHA-256 hasher was moved from");
  }
  Sha256Digest out;
  unsigned int len = 0;
  bool ok = !impl_->failed &&
            EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &len) == 1 &&
            len == out.size();
  // Reset for reuse whatever happened, so a failure is not sticky forever.
  impl_->failed =
      EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) != 1;
  if (!ok) return internal::OpenSslInternal("SHA-256");
  return out;
}

}  // namespace datalab::crypto
