// School and local-authority identifiers used by DfE data:
//
//   URN    unique reference number of an establishment (Get Information
//          About Schools): 6 digits, 100000..999999.
//   LA     local authority code: 3 digits ("201" City of London .. "938"
//          West Sussex, plus pseudo-LA codes), zero-padded, never "000".
//   ESTAB  DfE establishment number within an LA: 4 digits, zero-padded.
//   LAESTAB  the 7-digit "DfE number", LA then ESTAB, written "3832001" or
//          "383/2001".
//
// Parsers trim surrounding ASCII whitespace and are strict about width
// (a leading-zero-stripped "1" is not accepted as LA "001": a spreadsheet
// mangled it and the caller should know). Errors are
// absl::InvalidArgumentError naming the rule, never echoing the input.
// All functions are pure and thread-safe.
#ifndef DATALAB_COMMON_IDENTIFIERS_URN_H_
#define DATALAB_COMMON_IDENTIFIERS_URN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace datalab::identifiers {

inline constexpr int kMinUrn = 100000;
inline constexpr int kMaxUrn = 999999;

bool IsValidUrn(int urn);
absl::StatusOr<int> ParseUrn(std::string_view raw);

bool IsValidLaCode(int la_code);  // 1..999
absl::StatusOr<int> ParseLaCode(std::string_view raw);
// Zero-padded 3-digit form; fails outside 1..999.
absl::StatusOr<std::string> FormatLaCode(int la_code);

absl::StatusOr<int> ParseEstablishmentNumber(std::string_view raw);  // 0..9999

struct LaEstab {
  int la_code = 0;
  int establishment = 0;
};
absl::StatusOr<LaEstab> ParseLaEstab(std::string_view raw);

}  // namespace datalab::identifiers

#endif  // DATALAB_COMMON_IDENTIFIERS_URN_H_
