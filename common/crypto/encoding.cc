#include "common/crypto/encoding.h"

#include <array>
#include <cstdint>

#include <openssl/crypto.h>

#include "absl/strings/str_cat.h"
#include "common/crypto/openssl_util.h"

namespace datalab::crypto {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kBase64Url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
constexpr char kBase32Lower[] = "abcdefghijklmnopqrstuvwxyz234567";

// Reverse lookup table: 0xff marks characters outside the alphabet.
using Table = std::array<uint8_t, 256>;

constexpr Table MakeTable(const char* alphabet, int size, bool fold_case) {
  Table t{};
  for (auto& v : t) v = 0xff;
  for (int i = 0; i < size; ++i) {
    auto c = static_cast<unsigned char>(alphabet[i]);
    t[c] = static_cast<uint8_t>(i);
    if (fold_case && c >= 'a' && c <= 'z') t[c - 'a' + 'A'] = static_cast<uint8_t>(i);
  }
  return t;
}

constexpr Table kBase64StdTable = MakeTable(kBase64Std, 64, false);
constexpr Table kBase64UrlTable = MakeTable(kBase64Url, 64, false);
constexpr Table kBase32Table = MakeTable(kBase32Lower, 32, true);

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Encodes with `bits` (5 or 6) bits per output character, most significant
// bits first, as RFC 4648 does. No padding.
std::string RadixEncode(ByteView data, const char* alphabet, int bits) {
  std::string out;
  out.reserve((data.size() * 8 + bits - 1) / bits + 2);
  uint32_t acc = 0;
  int acc_bits = 0;
  const uint32_t mask = (1u << bits) - 1;
  for (uint8_t byte : data.span()) {
    acc = (acc << 8) | byte;
    acc_bits += 8;
    while (acc_bits >= bits) {
      acc_bits -= bits;
      out.push_back(alphabet[(acc >> acc_bits) & mask]);
    }
  }
  if (acc_bits > 0) out.push_back(alphabet[(acc << (bits - acc_bits)) & mask]);
  return out;
}

// Length check for unpadded text: which remainders are possible.
bool ValidUnpaddedLength(size_t len, int bits) {
  if (bits == 6) return len % 4 != 1;
  size_t r = len % 8;  // base32: 0,2,4,5,7 characters in a final group
  return r == 0 || r == 2 || r == 4 || r == 5 || r == 7;
}

// Decodes unpadded `text` into out[0..len*bits/8). `out` must have room.
absl::Status RadixDecodeInto(std::string_view text, const Table& table,
                             int bits, std::string_view name, uint8_t* out) {
  uint32_t acc = 0;
  int acc_bits = 0;
  size_t n = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    uint8_t v = table[static_cast<unsigned char>(text[i])];
    if (v == 0xff) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid ", internal::ToAbsl(name), " character at position ", i));
    }
    acc = ((acc << bits) | v) & 0xffff;
    acc_bits += bits;
    if (acc_bits >= 8) {
      acc_bits -= 8;
      out[n++] = static_cast<uint8_t>(acc >> acc_bits);
    }
  }
  if ((acc & ((1u << acc_bits) - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("non-canonical ", internal::ToAbsl(name), " input: unused trailing bits are not zero"));
  }
  return absl::OkStatus();
}

// A decoding plan: validated body (padding removed) and the decoded size.
struct Plan {
  std::string_view body;
  size_t size = 0;
};

absl::StatusOr<Plan> PlanUnpadded(std::string_view text, int bits,
                                  std::string_view name) {
  if (!ValidUnpaddedLength(text.size(), bits)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid ", internal::ToAbsl(name), " length ", text.size()));
  }
  return Plan{text, text.size() * bits / 8};
}

absl::StatusOr<Plan> PlanBase64Padded(std::string_view text) {
  if (text.size() % 4 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid base64 length ", text.size(),
                     " (must be a multiple of 4 with padding)"));
  }
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') {
    ++pad;
  }
  std::string_view body = text.substr(0, text.size() - pad);
  return Plan{body, body.size() * 6 / 8};
}

absl::StatusOr<Plan> PlanHex(std::string_view text) {
  if (text.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid hex length ", text.size(), " (must be even)"));
  }
  return Plan{text, text.size() / 2};
}

absl::Status HexDecodeInto(std::string_view text, uint8_t* out) {
  for (size_t i = 0; i < text.size(); i += 2) {
    int hi = HexValue(text[i]);
    int lo = HexValue(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid hex character at position ", hi < 0 ? i : i + 1));
    }
    out[i / 2] = static_cast<uint8_t>((hi << 4) | lo);
  }
  return absl::OkStatus();
}

template <typename Decode>
absl::StatusOr<std::string> DecodeToString(const absl::StatusOr<Plan>& plan,
                                           Decode decode) {
  if (!plan.ok()) return plan.status();
  std::string out(plan->size, '\0');
  absl::Status s = decode(plan->body, reinterpret_cast<uint8_t*>(out.data()));
  if (!s.ok()) {
    OPENSSL_cleanse(out.data(), out.size());
    return s;
  }
  return out;
}

template <typename Decode>
absl::StatusOr<SecureBytes> DecodeToSecure(const absl::StatusOr<Plan>& plan,
                                           Decode decode) {
  if (!plan.ok()) return plan.status();
  SecureBytes out(plan->size);
  // SecureBytes of size 0 has no buffer; decode into a dummy byte then.
  uint8_t dummy = 0;
  absl::Status s = decode(plan->body, out.empty() ? &dummy : out.data());
  if (!s.ok()) return s;
  return out;
}

auto Base64StdDecoder() {
  return [](std::string_view body, uint8_t* out) {
    return RadixDecodeInto(body, kBase64StdTable, 6, "base64", out);
  };
}

}  // namespace

std::string HexEncode(ByteView data) {
  std::string out;
  out.resize(data.size() * 2);
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kHexDigits[data.data()[i] >> 4];
    out[2 * i + 1] = kHexDigits[data.data()[i] & 0xf];
  }
  return out;
}

absl::StatusOr<std::string> HexDecode(std::string_view text) {
  return DecodeToString(PlanHex(text), HexDecodeInto);
}

absl::StatusOr<SecureBytes> HexDecodeSecret(std::string_view text) {
  return DecodeToSecure(PlanHex(text), HexDecodeInto);
}

std::string Base64Encode(ByteView data) {
  std::string out = RadixEncode(data, kBase64Std, 6);
  while (out.size() % 4 != 0) out.push_back('=');
  return out;
}

absl::StatusOr<std::string> Base64Decode(std::string_view text) {
  return DecodeToString(PlanBase64Padded(text), Base64StdDecoder());
}

absl::StatusOr<SecureBytes> Base64DecodeSecret(std::string_view text) {
  return DecodeToSecure(PlanBase64Padded(text), Base64StdDecoder());
}

std::string Base64UrlEncode(ByteView data) {
  return RadixEncode(data, kBase64Url, 6);
}

absl::StatusOr<std::string> Base64UrlDecode(std::string_view text) {
  return DecodeToString(
      PlanUnpadded(text, 6, "base64url"),
      [](std::string_view body, uint8_t* out) {
        return RadixDecodeInto(body, kBase64UrlTable, 6, "base64url", out);
      });
}

std::string Base32Encode(ByteView data) {
  return RadixEncode(data, kBase32Lower, 5);
}

absl::StatusOr<std::string> Base32Decode(std::string_view text) {
  return DecodeToString(
      PlanUnpadded(text, 5, "base32"), [](std::string_view body, uint8_t* out) {
        return RadixDecodeInto(body, kBase32Table, 5, "base32", out);
      });
}

}  // namespace datalab::crypto
