// Internal helpers for the csv library (not part of its API).
//
// The Debian build of Abseil 20220623 has its own absl::string_view (not an
// alias of std::string_view), so std::string_view cannot be handed to
// absl::StrCat or the absl::Strip* functions directly. These small helpers
// keep the public API on std::string_view without copies.
#ifndef DATALAB_COMMON_CSV_STRING_UTIL_H_
#define DATALAB_COMMON_CSV_STRING_UTIL_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace datalab::csv::internal {

inline absl::string_view ToAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

inline std::string_view StripTrailingWs(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

inline std::string_view StripWs(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  return StripTrailingWs(s);
}

inline char AsciiLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

inline bool EqualsIgnoreCaseAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

}  // namespace datalab::csv::internal

#endif  // DATALAB_COMMON_CSV_STRING_UTIL_H_
