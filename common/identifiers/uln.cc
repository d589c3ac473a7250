#include "common/identifiers/uln.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/identifiers/internal_text.h"

namespace datalab::identifiers {
namespace {

using internal::IsAsciiDigit;

// Checks the character class of `digits` (positions 1..n) and that the
// first is non-zero.
absl::Status CheckDigits(std::string_view digits) {
  for (size_t i = 0; i < digits.size(); ++i) {
    if (!IsAsciiDigit(digits[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("ULN character at position ", i + 1, " must be a digit"));
    }
  }
  if (!digits.empty() && digits[0] == '0') {
    return absl::InvalidArgumentError(
        "ULN character at position 1 must not be 0");
  }
  return absl::OkStatus();
}

// Assumes CheckDigits passed and first9.size() == 9.
absl::StatusOr<char> CheckDigitOf(std::string_view first9) {
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (first9[i] - '0') * (10 - i);
  const int remainder = sum % 11;
  if (remainder == 0) {
    return absl::InvalidArgumentError(
        "ULN positions 1-9 admit no check digit (weighted sum is 0 mod 11)");
  }
  return static_cast<char>('0' + (10 - remainder));
}

}  // namespace

absl::StatusOr<char> ComputeUlnCheckDigit(std::string_view first9) {
  if (first9.size() != 9) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ULN check digit needs 9 leading digits, found ", first9.size()));
  }
  if (absl::Status s = CheckDigits(first9); !s.ok()) return s;
  return CheckDigitOf(first9);
}

absl::StatusOr<std::string> MakeUln(std::string_view first9) {
  absl::StatusOr<char> check = ComputeUlnCheckDigit(first9);
  if (!check.ok()) return check.status();
  std::string out(first9);
  out += *check;
  return out;
}

absl::StatusOr<std::string> ValidateUln(std::string_view raw) {
  const std::string_view s = internal::TrimAscii(raw);
  if (s.empty()) return absl::InvalidArgumentError("ULN is empty");
  if (s.size() != 10) {
    return absl::InvalidArgumentError(
        absl::StrCat("ULN must be 10 digits, found ", s.size(), " characters"));
  }
  if (absl::Status st = CheckDigits(s); !st.ok()) return st;
  absl::StatusOr<char> check = CheckDigitOf(s.substr(0, 9));
  if (!check.ok()) return check.status();
  if (*check != s[9]) {
    return absl::InvalidArgumentError(
        "ULN check digit at position 10 does not match positions 1-9");
  }
  return std::string(s);
}

bool IsValidUln(std::string_view raw) { return ValidateUln(raw).ok(); }

}  // namespace datalab::identifiers
