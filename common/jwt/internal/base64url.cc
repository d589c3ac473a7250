#include "common/jwt/internal/base64url.h"

#include <array>
#include <cstdint>

namespace datalab::jwt::internal {
namespace {

constexpr char kAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

constexpr std::array<int8_t, 256> MakeDecodeTable() {
  std::array<int8_t, 256> t{};
  for (auto& v : t) v = -1;
  for (int i = 0; i < 64; ++i) t[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return t;
}
constexpr std::array<int8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) |
                 (static_cast<uint8_t>(data[i + 1]) << 8) |
                 static_cast<uint8_t>(data[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    uint32_t v = static_cast<uint8_t>(data[i]) << 16;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    uint32_t v = (static_cast<uint8_t>(data[i]) << 16) |
                 (static_cast<uint8_t>(data[i + 1]) << 8);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
  }
  return out;
}

bool IsBase64UrlAlphabet(std::string_view text) {
  for (char c : text) {
    if (kDecode[static_cast<uint8_t>(c)] < 0) return false;
  }
  return true;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  if (!IsBase64UrlAlphabet(text)) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  auto val = [&](size_t k) {
    return static_cast<uint32_t>(kDecode[static_cast<uint8_t>(text[k])]);
  };
  size_t i = 0;
  for (; i + 4 <= text.size(); i += 4) {
    uint32_t v = (val(i) << 18) | (val(i + 1) << 12) | (val(i + 2) << 6) | val(i + 3);
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    out.push_back(static_cast<char>((v >> 8) & 0xff));
    out.push_back(static_cast<char>(v & 0xff));
  }
  size_t rest = text.size() - i;
  if (rest == 2) {
    if ((val(i + 1) & 0x0f) != 0) return std::nullopt;  // non-canonical
    uint32_t v = (val(i) << 18) | (val(i + 1) << 12);
    out.push_back(static_cast<char>((v >> 16) & 0xff));
  } else if (rest == 3) {
    if ((val(i + 2) & 0x03) != 0) return std::nullopt;  // non-canonical
    uint32_t v = (val(i) << 18) | (val(i + 1) << 12) | (val(i + 2) << 6);
    out.push_back(static_cast<char>((v >> 16) & 0xff));
    out.push_back(static_cast<char>((v >> 8) & 0xff));
  }
  return out;
}

}  // namespace datalab::jwt::internal
