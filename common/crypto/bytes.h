// Byte views, secret byte buffers and the CSPRNG.
//
// ByteView is a non-owning view of bytes that every crypto function in this
// folder accepts, so callers can pass std::string, std::string_view, string
// literals, std::vector<uint8_t>, std::array<uint8_t, N> or SecureBytes
// without conversions. Like std::string_view it must not outlive the bytes.
//
// SecureBytes owns a fixed-size buffer for secret material (keys, seeds,
// decrypted key blobs). Its memory is wiped with OPENSSL_cleanse() when the
// object is destroyed, cleared or assigned over; a move hands the buffer over
// and leaves the source empty, so no copy is ever left behind. It is
// deliberately not copyable (use Clone()) and never grows, because growing a
// buffer would leave an unwiped copy of the old one on the heap.
// Thread safety: like std::string (const methods may run concurrently).
//
// RandomBytes()/RandomFill() draw from OpenSSL's CSPRNG (RAND_bytes), which is
// thread-safe.
#ifndef DATALAB_COMMON_CRYPTO_BYTES_H_
#define DATALAB_COMMON_CRYPTO_BYTES_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace datalab::crypto {

class SecureBytes;

// A non-owning view of a contiguous run of bytes.
class ByteView {
 public:
  constexpr ByteView() noexcept = default;
  constexpr ByteView(const uint8_t* data, size_t size) noexcept
      : data_(data), size_(size) {}
  ByteView(const char* data, size_t size) noexcept
      : data_(reinterpret_cast<const uint8_t*>(data)), size_(size) {}
  ByteView(std::string_view s) noexcept : ByteView(s.data(), s.size()) {}
#if !defined(ABSL_USES_STD_STRING_VIEW)
  // This Abseil build has its own string_view type; accept it too.
  ByteView(absl::string_view s) noexcept : ByteView(s.data(), s.size()) {}
#endif
  ByteView(const std::string& s) noexcept : ByteView(s.data(), s.size()) {}
  // A NUL-terminated string; the terminator is not part of the view.
  ByteView(const char* s) noexcept : ByteView(std::string_view(s)) {}
  ByteView(absl::Span<const uint8_t> s) noexcept
      : data_(s.data()), size_(s.size()) {}
  ByteView(const std::vector<uint8_t>& v) noexcept
      : data_(v.data()), size_(v.size()) {}
  template <size_t N>
  ByteView(const std::array<uint8_t, N>& a) noexcept
      : data_(a.data()), size_(N) {}
  inline ByteView(const SecureBytes& s) noexcept;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  absl::Span<const uint8_t> span() const { return {data_, size_}; }
  std::string_view AsStringView() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }
  std::string ToString() const { return std::string(AsStringView()); }

 private:
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// A fixed-size byte buffer for secrets, wiped on destruction. See banner.
class SecureBytes {
 public:
  SecureBytes() = default;
  // `size` zero bytes.
  explicit SecureBytes(size_t size);
  // A copy of `bytes`.
  explicit SecureBytes(ByteView bytes);
  ~SecureBytes();

  SecureBytes(SecureBytes&& other) noexcept;
  SecureBytes& operator=(SecureBytes&& other) noexcept;
  SecureBytes(const SecureBytes&) = delete;
  SecureBytes& operator=(const SecureBytes&) = delete;

  // An explicit deep copy (also a SecureBytes).
  SecureBytes Clone() const { return SecureBytes(ByteView(data_, size_)); }

  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  ByteView view() const { return ByteView(data_, size_); }
  absl::Span<uint8_t> mutable_span() { return {data_, size_}; }
  std::string_view AsStringView() const {
    return {reinterpret_cast<const char*>(data_), size_};
  }

  // Wipes and releases the buffer; size() becomes 0.
  void Clear();

  // Constant-time in the contents (lengths are not secret).
  friend bool operator==(const SecureBytes& a, const SecureBytes& b);
  friend bool operator!=(const SecureBytes& a, const SecureBytes& b) {
    return !(a == b);
  }

 private:
  uint8_t* data_ = nullptr;  // owned, new[]
  size_t size_ = 0;
};

inline ByteView::ByteView(const SecureBytes& s) noexcept
    : data_(s.data()), size_(s.size()) {}

// `n` bytes from the CSPRNG. INTERNAL if the generator fails (for example it
// could not be seeded); never returns predictable bytes.
absl::StatusOr<SecureBytes> RandomBytes(size_t n);

// Fills `out` from the CSPRNG, for callers that own the buffer (nonces, ids).
absl::Status RandomFill(absl::Span<uint8_t> out);

// Compares two byte strings in time that depends only on their lengths, for
// MACs, tags and tokens. Different lengths compare unequal (lengths are
// treated as public).
bool ConstantTimeEquals(ByteView a, ByteView b);

// Overwrites every byte `s` holds, up to its capacity, in a way the
// compiler may not drop (OPENSSL_cleanse), then empties it. For strings
// that held raw identifiers.
void WipeString(std::string* s);

}  // namespace datalab::crypto

#endif  // DATALAB_COMMON_CRYPTO_BYTES_H_
