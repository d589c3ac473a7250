// Private helpers for the OpenSSL wrappers in common/crypto: owning pointers
// for OpenSSL objects and a status helper that drops OpenSSL's error queue.
// Not part of the public API; include only from common/crypto/*.cc.
#ifndef DATALAB_COMMON_CRYPTO_OPENSSL_UTIL_H_
#define DATALAB_COMMON_CRYPTO_OPENSSL_UTIL_H_

#include <memory>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace datalab::crypto::internal {

struct EvpMdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct EvpCipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct EvpPkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free_all(p); }
};

using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, EvpMdCtxDeleter>;
using EvpCipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, EvpCipherCtxDeleter>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, EvpPkeyCtxDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// Abseil here is built without std::string_view aliasing, so absl::string_view
// is its own type; this converts without copying.
inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

// An error for a failed OpenSSL call. OpenSSL's own error strings are
// discarded on purpose: they can name file positions or parameters and are
// of no use to callers; `what` says which operation failed.
inline absl::Status OpenSslError(absl::StatusCode code, std::string_view what) {
  ERR_clear_error();
  return absl::Status(code, ToAbsl(what));
}

inline absl::Status OpenSslInternal(std::string_view what) {
  return OpenSslError(absl::StatusCode::kInternal,
                      absl::StrCat(ToAbsl(what), " failed in OpenSSL"));
}

}  // namespace datalab::crypto::internal

#endif  // DATALAB_COMMON_CRYPTO_OPENSSL_UTIL_H_
