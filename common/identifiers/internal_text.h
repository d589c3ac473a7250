// Small ASCII helpers shared by the identifier validators. Internal to
// common/identifiers; not part of its public contract.
#ifndef DATALAB_COMMON_IDENTIFIERS_INTERNAL_TEXT_H_
#define DATALAB_COMMON_IDENTIFIERS_INTERNAL_TEXT_H_

#include <string_view>

namespace datalab::identifiers::internal {

inline bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

inline bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
         c == '\v';
}

// Strips leading and trailing ASCII whitespace.
inline std::string_view TrimAscii(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace datalab::identifiers::internal

#endif  // DATALAB_COMMON_IDENTIFIERS_INTERNAL_TEXT_H_
