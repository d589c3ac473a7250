#include "common/crypto/aead.h"

#include <algorithm>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/crypto/openssl_util.h"

namespace datalab::crypto {
namespace {

absl::Status CheckKey(ByteView key) {
  if (key.size() != Aead::kKeySize) {
    return absl::InvalidArgumentError("AES-256-GCM key must be 32 bytes");
  }
  return absl::OkStatus();
}

// Writes nonce||ciphertext||tag into `out`, whose first kNonceSize bytes
// already hold the nonce.
absl::Status SealInto(ByteView key, ByteView plaintext, ByteView aad,
                      std::string& out) {
  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return internal::OpenSslInternal("AES-GCM context creation");
  auto* nonce = reinterpret_cast<const uint8_t*>(out.data());
  auto* ct = reinterpret_cast<uint8_t*>(out.data()) + Aead::kNonceSize;
  int len = 0;
  if (EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(),
                         nonce) != 1) {
    return internal::OpenSslInternal("AES-GCM initialisation");
  }
  if (!aad.empty() && EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                        static_cast<int>(aad.size())) != 1) {
    return internal::OpenSslInternal("AES-GCM associated data");
  }
  int written = 0;
  if (!plaintext.empty()) {
    if (EVP_EncryptUpdate(ctx.get(), ct, &len, plaintext.data(),
                          static_cast<int>(plaintext.size())) != 1) {
      return internal::OpenSslInternal("AES-GCM encryption");
    }
    written = len;
  }
  if (EVP_EncryptFinal_ex(ctx.get(), ct + written, &len) != 1) {
    return internal::OpenSslInternal("AES-GCM finalisation");
  }
  written += len;
  if (static_cast<size_t>(written) != plaintext.size() ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG,
                          static_cast<int>(Aead::kTagSize),
                          ct + plaintext.size()) != 1) {
    return internal::OpenSslInternal("AES-GCM tag");
  }
  return absl::OkStatus();
}

absl::Status CheckSizes(ByteView plaintext, ByteView aad) {
  if (plaintext.size() > Aead::kMaxPlaintextSize ||
      aad.size() > Aead::kMaxPlaintextSize) {
    return absl::InvalidArgumentError(
        "AES-GCM plaintext or associated data larger than 1 GiB");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> Aead::Seal(ByteView key, ByteView plaintext,
                                       ByteView aad) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (absl::Status s = CheckSizes(plaintext, aad); !s.ok()) return s;
  std::string out(kOverhead + plaintext.size(), '\0');
  if (absl::Status s = RandomFill(absl::Span<uint8_t>(
          reinterpret_cast<uint8_t*>(out.data()), kNonceSize));
      !s.ok()) {
    return s;
  }
  if (absl::Status s = SealInto(key, plaintext, aad, out); !s.ok()) {
    OPENSSL_cleanse(out.data(), out.size());
    return s;
  }
  return out;
}

absl::StatusOr<SecureBytes> Aead::Open(ByteView key, ByteView sealed,
                                       ByteView aad) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (sealed.size() < kOverhead) {
    return absl::InvalidArgumentError(
        "sealed data is shorter than nonce and tag (28 bytes)");
  }
  const size_t ct_size = sealed.size() - kOverhead;
  if (absl::Status s = CheckSizes(ByteView(sealed.data(), ct_size), aad);
      !s.ok()) {
    return s;
  }
  const uint8_t* nonce = sealed.data();
  const uint8_t* ct = sealed.data() + kNonceSize;
  const uint8_t* tag = ct + ct_size;

  internal::EvpCipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (ctx == nullptr) return internal::OpenSslInternal("AES-GCM context creation");
  if (EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, key.data(),
                         nonce) != 1) {
    return internal::OpenSslInternal("AES-GCM initialisation");
  }
  int len = 0;
  if (!aad.empty() && EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(),
                                        static_cast<int>(aad.size())) != 1) {
    return internal::OpenSslInternal("AES-GCM associated data");
  }
  // One spare byte so the output pointer is valid for empty plaintexts.
  SecureBytes buffer(ct_size + 1);
  int written = 0;
  if (ct_size > 0) {
    if (EVP_DecryptUpdate(ctx.get(), buffer.data(), &len, ct,
                          static_cast<int>(ct_size)) != 1) {
      return internal::OpenSslInternal("AES-GCM decryption");
    }
    written = len;
  }
  // OpenSSL takes a non-const pointer for SET_TAG but only reads it.
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG,
                          static_cast<int>(kTagSize),
                          const_cast<uint8_t*>(tag)) != 1) {
    return internal::OpenSslInternal("AES-GCM tag");
  }
  if (EVP_DecryptFinal_ex(ctx.get(), buffer.data() + written, &len) != 1) {
    // `buffer` holds unauthenticated plaintext; it is wiped on return.
    return internal::OpenSslError(absl::StatusCode::kDataLoss,
                                  "authentication failed");
  }
  return SecureBytes(ByteView(buffer.data(), ct_size));
}

namespace internal {

absl::StatusOr<std::string> AeadSealWithNonceForTesting(ByteView key,
                                                        ByteView nonce,
                                                        ByteView plaintext,
                                                        ByteView aad) {
  if (absl::Status s = CheckKey(key); !s.ok()) return s;
  if (absl::Status s = CheckSizes(plaintext, aad); !s.ok()) return s;
  if (nonce.size() != Aead::kNonceSize) {
    return absl::InvalidArgumentError("AES-GCM nonce must be 12 bytes");
  }
  std::string out(Aead::kOverhead + plaintext.size(), '\0');
  std::copy(nonce.data(), nonce.data() + nonce.size(), out.begin());
  if (absl::Status s = SealInto(key, plaintext, aad, out); !s.ok()) return s;
  return out;
}

}  // namespace internal
}  // namespace datalab::crypto
