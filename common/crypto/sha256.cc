#include "common/crypto/sha256.h"

#include <cstdlib>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/crypto/openssl_util.h"

namespace datalab::crypto {

namespace {

// The SHA-256 implementation, fetched once. OpenSSL 3's one-shot SHA256()
// fetches it again on every call, which costs more than hashing a Merkle
// node (~870 ns against ~250 ns for 65 bytes here).
// If that fetch failed, EVP_sha256() (fetched on each use) stands in.
const EVP_MD* FetchedSha256() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

}  // namespace

Sha256Digest Sha256(ByteView data) {
  Sha256Digest out;
  // One reusable context per thread: no allocation and no fetch per hash,
  // which matters for Merkle tree hashing and export verification.
  thread_local internal::EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  const EVP_MD* md = FetchedSha256();
  unsigned int len = 0;
  if (ctx != nullptr &&
      EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1 &&
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) == 1 &&
      EVP_DigestFinal_ex(ctx.get(), out.data(), &len) == 1 && len == out.size()) {
    return out;
  }
  // Only an allocation failure gets here. Try OpenSSL's one-shot, which
  // allocates its own context; a wrong hash would be worse than stopping.
  ERR_clear_error();
  if (SHA256(data.data(), data.size(), out.data()) == nullptr) std::abort();
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
      EVP_DigestInit_ex2(impl->ctx.get(), FetchedSha256(), nullptr) != 1) {
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
      EVP_DigestInit_ex2(impl_->ctx.get(), FetchedSha256(), nullptr) != 1;
  if (!ok) return internal::OpenSslInternal("SHA-256");
  return out;
}

}  // namespace datalab::crypto
