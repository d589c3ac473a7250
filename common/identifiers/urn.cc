#include "common/identifiers/urn.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/identifiers/internal_text.h"

namespace datalab::identifiers {
namespace {

// Parses exactly `width` ASCII digits; `what` names the field in errors.
absl::StatusOr<int> ParseFixedDigits(std::string_view s, size_t width,
                                     const char* what) {
  if (s.empty()) return absl::InvalidArgumentError(absl::StrCat(what, " is empty"));
  if (s.size() != width) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " must be ", width, " digits, found ", s.size(), " characters"));
  }
  int value = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!internal::IsAsciiDigit(s[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " character at position ", i + 1, " must be a digit"));
    }
    value = value * 10 + (s[i] - '0');
  }
  return value;
}

}  // namespace

bool IsValidUrn(int urn) { return urn >= kMinUrn && urn <= kMaxUrn; }

absl::StatusOr<int> ParseUrn(std::string_view raw) {
  absl::StatusOr<int> urn = ParseFixedDigits(internal::TrimAscii(raw), 6, "URN");
  if (!urn.ok()) return urn.status();
  if (!IsValidUrn(*urn)) {
    return absl::InvalidArgumentError("URN must be in 100000..999999");
  }
  return urn;
}

bool IsValidLaCode(int la_code) { return la_code >= 1 && la_code <= 999; }

absl::StatusOr<int> ParseLaCode(std::string_view raw) {
  absl::StatusOr<int> la =
      ParseFixedDigits(internal::TrimAscii(raw), 3, "LA code");
  if (!la.ok()) return la.status();
  if (!IsValidLaCode(*la)) {
    return absl::InvalidArgumentError("LA code must be in 001..999");
  }
  return la;
}

absl::StatusOr<std::string> FormatLaCode(int la_code) {
  if (!IsValidLaCode(la_code)) {
    return absl::InvalidArgumentError(
        absl::StrCat("LA code must be in 1..999, got ", la_code));
  }
  std::string out = std::to_string(la_code);
  return std::string(3 - out.size(), '0') + out;
}

absl::StatusOr<int> ParseEstablishmentNumber(std::string_view raw) {
  return ParseFixedDigits(internal::TrimAscii(raw), 4, "establishment number");
}

absl::StatusOr<LaEstab> ParseLaEstab(std::string_view raw) {
  const std::string_view s = internal::TrimAscii(raw);
  std::string_view la_part, estab_part;
  if (s.size() == 8 && s[3] == '/') {
    la_part = s.substr(0, 3);
    estab_part = s.substr(4);
  } else if (s.size() == 7) {
    la_part = s.substr(0, 3);
    estab_part = s.substr(3);
  } else if (s.empty()) {
    return absl::InvalidArgumentError("LAESTAB is empty");
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "LAESTAB must be 7 digits or LLL/EEEE, found ", s.size(),
        " characters"));
  }
  LaEstab out;
  absl::StatusOr<int> la = ParseLaCode(la_part);
  if (!la.ok()) return la.status();
  absl::StatusOr<int> estab = ParseEstablishmentNumber(estab_part);
  if (!estab.ok()) return estab.status();
  out.la_code = *la;
  out.establishment = *estab;
  return out;
}

}  // namespace datalab::identifiers
