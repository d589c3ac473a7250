// RAII owners for the OpenSSL objects common/jwt uses. Private to common/jwt.
#ifndef DATALAB_COMMON_JWT_INTERNAL_OPENSSL_UTIL_H_
#define DATALAB_COMMON_JWT_INTERNAL_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

#include <memory>

namespace datalab::jwt::internal {

template <auto Fn>
struct OsslDeleter {
  template <typename T>
  void operator()(T* p) const {
    Fn(p);
  }
};

using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter<EVP_PKEY_free>>;
using EvpPkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OsslDeleter<EVP_PKEY_CTX_free>>;
using EvpMdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslDeleter<EVP_MD_CTX_free>>;
using BignumPtr = std::unique_ptr<BIGNUM, OsslDeleter<BN_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OsslDeleter<OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OsslDeleter<OSSL_PARAM_free>>;
using BioPtr = std::unique_ptr<BIO, OsslDeleter<BIO_free_all>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OsslDeleter<ECDSA_SIG_free>>;

// Shared ownership of an immutable public key (keys are only read after
// construction, which OpenSSL 3 allows from many threads at once).
inline std::shared_ptr<EVP_PKEY> ShareKey(EvpPkeyPtr key) {
  return std::shared_ptr<EVP_PKEY>(key.release(), EVP_PKEY_free);
}

// OpenSSL keeps a per-thread error queue; drop it after an expected failure so
// stale entries never leak into unrelated later calls.
inline void ClearOpensslErrors() { ERR_clear_error(); }

}  // namespace datalab::jwt::internal

#endif  // DATALAB_COMMON_JWT_INTERNAL_OPENSSL_UTIL_H_
