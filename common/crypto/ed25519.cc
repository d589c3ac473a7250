#include "common/crypto/ed25519.h"

#include <climits>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "common/crypto/openssl_util.h"

namespace datalab::crypto {
namespace {

using internal::BioPtr;
using internal::EvpMdCtxPtr;
using internal::EvpPkeyCtxPtr;

// Refuses to prompt for (or accept) a passphrase: encrypted PEM fails.
int NoPassphrase(char*, int, int, void*) { return 0; }

absl::StatusOr<BioPtr> PemInput(std::string_view pem, std::string_view what) {
  if (pem.empty() || pem.size() > 64 * 1024) {
    return absl::InvalidArgumentError(
        std::string(what) + " PEM is empty or larger than 64 KiB");
  }
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (bio == nullptr) return internal::OpenSslInternal("PEM buffer");
  return bio;
}

// Reads everything written to a memory BIO.
std::string_view BioContents(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  if (len <= 0 || data == nullptr) return {};
  return std::string_view(data, static_cast<size_t>(len));
}

absl::Status NullKey() {
  return absl::FailedPreconditionError("Ed25519 key object was moved from");
}

}  // namespace

// ---------------------------------------------------------------- public key

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::Adopt(EVP_PKEY* pkey) {
  if (EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    return absl::InvalidArgumentError("public key is not an Ed25519 key");
  }
  Ed25519RawPublicKey raw;
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len) != 1 ||
      len != raw.size()) {
    EVP_PKEY_free(pkey);
    return internal::OpenSslInternal("Ed25519 public key export");
  }
  return Ed25519PublicKey(pkey, raw);
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromRaw(ByteView raw32) {
  if (raw32.size() != kEd25519PublicKeySize) {
    return absl::InvalidArgumentError("Ed25519 public key must be 32 bytes");
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr,
                                               raw32.data(), raw32.size());
  if (pkey == nullptr) {
    return internal::OpenSslError(absl::StatusCode::kInvalidArgument,
                                  "invalid Ed25519 public key");
  }
  return Adopt(pkey);
}

absl::StatusOr<Ed25519PublicKey> Ed25519PublicKey::FromPem(std::string_view pem) {
  absl::StatusOr<BioPtr> bio = PemInput(pem, "public key");
  if (!bio.ok()) return bio.status();
  EVP_PKEY* pkey =
      PEM_read_bio_PUBKEY(bio->get(), nullptr, NoPassphrase, nullptr);
  if (pkey == nullptr) {
    return internal::OpenSslError(
        absl::StatusCode::kInvalidArgument,
        "public key is not a valid SubjectPublicKeyInfo PEM");
  }
  return Adopt(pkey);
}

Ed25519PublicKey::Ed25519PublicKey(const Ed25519PublicKey& other)
    : pkey_(other.pkey_), raw_(other.raw_) {
  if (pkey_ != nullptr) EVP_PKEY_up_ref(pkey_);
}

Ed25519PublicKey& Ed25519PublicKey::operator=(const Ed25519PublicKey& other) {
  if (this != &other) {
    if (other.pkey_ != nullptr) EVP_PKEY_up_ref(other.pkey_);
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
    raw_ = other.raw_;
  }
  return *this;
}

Ed25519PublicKey::Ed25519PublicKey(Ed25519PublicKey&& other) noexcept
    : pkey_(other.pkey_), raw_(other.raw_) {
  other.pkey_ = nullptr;
}

Ed25519PublicKey& Ed25519PublicKey::operator=(Ed25519PublicKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
    raw_ = other.raw_;
    other.pkey_ = nullptr;
  }
  return *this;
}

Ed25519PublicKey::~Ed25519PublicKey() { EVP_PKEY_free(pkey_); }

absl::StatusOr<std::string> Ed25519PublicKey::ToPem() const {
  if (pkey_ == nullptr) return NullKey();
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr || PEM_write_bio_PUBKEY(bio.get(), pkey_) != 1) {
    return internal::OpenSslInternal("Ed25519 public key PEM export");
  }
  return std::string(BioContents(bio.get()));
}

absl::Status Ed25519PublicKey::Verify(ByteView message,
                                      ByteView signature) const {
  if (pkey_ == nullptr) return NullKey();
  if (signature.size() != kEd25519SignatureSize) {
    return absl::InvalidArgumentError("Ed25519 signature must be 64 bytes");
  }
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey_) != 1) {
    return internal::OpenSslInternal("Ed25519 verification setup");
  }
  if (EVP_DigestVerify(ctx.get(), signature.data(), signature.size(),
                       message.data(), message.size()) != 1) {
    return internal::OpenSslError(absl::StatusCode::kUnauthenticated,
                                  "signature verification failed");
  }
  return absl::OkStatus();
}

absl::Status Ed25519Verify(const Ed25519PublicKey& public_key,
                           ByteView message, ByteView signature) {
  return public_key.Verify(message, signature);
}

// --------------------------------------------------------------- private key

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Adopt(EVP_PKEY* pkey) {
  if (EVP_PKEY_id(pkey) != EVP_PKEY_ED25519) {
    EVP_PKEY_free(pkey);
    return absl::InvalidArgumentError("private key is not an Ed25519 key");
  }
  return Ed25519PrivateKey(pkey);
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::Generate() {
  EvpPkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (ctx == nullptr || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
      EVP_PKEY_keygen(ctx.get(), &pkey) != 1) {
    return internal::OpenSslInternal("Ed25519 key generation");
  }
  return Adopt(pkey);
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromSeed(ByteView seed32) {
  if (seed32.size() != kEd25519SeedSize) {
    return absl::InvalidArgumentError("Ed25519 private key seed must be 32 bytes");
  }
  EVP_PKEY* pkey = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                                seed32.data(), seed32.size());
  if (pkey == nullptr) return internal::OpenSslInternal("Ed25519 key import");
  return Adopt(pkey);
}

absl::StatusOr<Ed25519PrivateKey> Ed25519PrivateKey::FromPem(std::string_view pem) {
  absl::StatusOr<BioPtr> bio = PemInput(pem, "private key");
  if (!bio.ok()) return bio.status();
  EVP_PKEY* pkey =
      PEM_read_bio_PrivateKey(bio->get(), nullptr, NoPassphrase, nullptr);
  if (pkey == nullptr) {
    return internal::OpenSslError(
        absl::StatusCode::kInvalidArgument,
        "private key is not a valid unencrypted PKCS#8 PEM");
  }
  return Adopt(pkey);
}

Ed25519PrivateKey::Ed25519PrivateKey(const Ed25519PrivateKey& other)
    : pkey_(other.pkey_) {
  if (pkey_ != nullptr) EVP_PKEY_up_ref(pkey_);
}

Ed25519PrivateKey& Ed25519PrivateKey::operator=(const Ed25519PrivateKey& other) {
  if (this != &other) {
    if (other.pkey_ != nullptr) EVP_PKEY_up_ref(other.pkey_);
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
  }
  return *this;
}

Ed25519PrivateKey::Ed25519PrivateKey(Ed25519PrivateKey&& other) noexcept
    : pkey_(other.pkey_) {
  other.pkey_ = nullptr;
}

Ed25519PrivateKey& Ed25519PrivateKey::operator=(Ed25519PrivateKey&& other) noexcept {
  if (this != &other) {
    EVP_PKEY_free(pkey_);
    pkey_ = other.pkey_;
    other.pkey_ = nullptr;
  }
  return *this;
}

Ed25519PrivateKey::~Ed25519PrivateKey() { EVP_PKEY_free(pkey_); }

absl::StatusOr<SecureBytes> Ed25519PrivateKey::Seed() const {
  if (pkey_ == nullptr) return NullKey();
  SecureBytes seed(kEd25519SeedSize);
  size_t len = seed.size();
  if (EVP_PKEY_get_raw_private_key(pkey_, seed.data(), &len) != 1 ||
      len != seed.size()) {
    return internal::OpenSslInternal("Ed25519 private key export");
  }
  return seed;
}

absl::StatusOr<SecureBytes> Ed25519PrivateKey::ToPem() const {
  if (pkey_ == nullptr) return NullKey();
  // A secure-heap memory BIO (plain heap if no secure heap is configured);
  // either way OpenSSL wipes the buffer when the BIO is freed.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (bio == nullptr ||
      PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_, nullptr, nullptr, 0,
                                    nullptr, nullptr) != 1) {
    return internal::OpenSslInternal("Ed25519 private key PEM export");
  }
  return SecureBytes(ByteView(BioContents(bio.get())));
}

absl::StatusOr<Ed25519PublicKey> Ed25519PrivateKey::PublicKey() const {
  if (pkey_ == nullptr) return NullKey();
  Ed25519RawPublicKey raw;
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey_, raw.data(), &len) != 1 ||
      len != raw.size()) {
    return internal::OpenSslInternal("Ed25519 public key derivation");
  }
  return Ed25519PublicKey::FromRaw(raw);
}

absl::StatusOr<Ed25519Signature> Ed25519PrivateKey::Sign(ByteView message) const {
  if (pkey_ == nullptr) return NullKey();
  EvpMdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr ||
      EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, pkey_) != 1) {
    return internal::OpenSslInternal("Ed25519 signing setup");
  }
  Ed25519Signature sig;
  size_t len = sig.size();
  if (EVP_DigestSign(ctx.get(), sig.data(), &len, message.data(),
                     message.size()) != 1 ||
      len != sig.size()) {
    return internal::OpenSslInternal("Ed25519 signing");
  }
  return sig;
}

}  // namespace datalab::crypto
