#include "common/crypto/bytes.h"

#include <climits>
#include <cstring>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/crypto/openssl_util.h"

namespace datalab::crypto {

SecureBytes::SecureBytes(size_t size) {
  if (size == 0) return;
  data_ = new uint8_t[size]();
  size_ = size;
}

SecureBytes::SecureBytes(ByteView bytes) {
  if (bytes.empty()) return;
  data_ = new uint8_t[bytes.size()];
  size_ = bytes.size();
  std::memcpy(data_, bytes.data(), size_);
}

SecureBytes::~SecureBytes() { Clear(); }

SecureBytes::SecureBytes(SecureBytes&& other) noexcept
    : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

SecureBytes& SecureBytes::operator=(SecureBytes&& other) noexcept {
  if (this != &other) {
    Clear();
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

void SecureBytes::Clear() {
  if (data_ != nullptr) {
    OPENSSL_cleanse(data_, size_);
    delete[] data_;
  }
  data_ = nullptr;
  size_ = 0;
}

void WipeString(std::string* s) {
  s->resize(s->capacity());
  if (!s->empty()) OPENSSL_cleanse(s->data(), s->size());
  s->clear();
}

bool operator==(const SecureBytes& a, const SecureBytes& b) {
  return ConstantTimeEquals(a.view(), b.view());
}

absl::Status RandomFill(absl::Span<uint8_t> out) {
  // RAND_bytes takes an int length; fill large buffers in pieces.
  size_t done = 0;
  while (done < out.size()) {
    size_t chunk = out.size() - done;
    if (chunk > static_cast<size_t>(INT_MAX)) chunk = INT_MAX;
    if (RAND_bytes(out.data() + done, static_cast<int>(chunk)) != 1) {
      OPENSSL_cleanse(out.data(), out.size());
      return internal::OpenSslInternal("random generation (RAND_bytes)");
    }
    done += chunk;
  }
  return absl::OkStatus();
}

absl::StatusOr<SecureBytes> RandomBytes(size_t n) {
  SecureBytes out(n);
  absl::Status s = RandomFill(out.mutable_span());
  if (!s.ok()) return s;
  return out;
}

bool ConstantTimeEquals(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace datalab::crypto
