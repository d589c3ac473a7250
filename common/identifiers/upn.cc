#include "common/identifiers/upn.h"

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/identifiers/internal_text.h"

namespace datalab::identifiers {
namespace {

using internal::IsAsciiDigit;

constexpr size_t kUpnLength = 13;

// Checks the character class of positions 2..13 (given as the 12-character
// body) and returns their weighted sum mod 23.
absl::StatusOr<int> BodyChecksum(std::string_view body12) {
  int sum = 0;
  for (size_t i = 0; i < body12.size(); ++i) {
    const int position = static_cast<int>(i) + 2;
    const char c = body12[i];
    int value;
    if (IsAsciiDigit(c)) {
      value = c - '0';
    } else if (position == 13 && UpnLetterValue(c) >= 0) {
      value = UpnLetterValue(c);
    } else if (position == 13) {
      return absl::InvalidArgumentError(
          "UPN character at position 13 must be a digit or a letter other "
          "than I, O or S");
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("UPN character at position ", position,
                       " must be a digit"));
    }
    sum += value * position;
  }
  return sum % 23;
}

absl::Status CheckRange(const char* what, int value, int lo, int hi) {
  if (value < lo || value > hi) {
    return absl::InvalidArgumentError(absl::StrCat(
        "UPN ", what, " must be in ", lo, "..", hi, ", got ", value));
  }
  return absl::OkStatus();
}

void AppendPadded(std::string& out, int value, int width) {
  std::string digits = std::to_string(value);
  if (static_cast<int>(digits.size()) < width) {
    out.append(width - digits.size(), '0');
  }
  out += digits;
}

}  // namespace

int UpnLetterValue(char c) {
  const size_t pos = kUpnAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

std::string NormaliseUpn(std::string_view raw) {
  std::string out(internal::TrimAscii(raw));
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

absl::StatusOr<char> ComputeUpnCheckLetter(std::string_view body12) {
  if (body12.size() != kUpnLength - 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("UPN body must be 12 characters (positions 2-13), found ",
                     body12.size()));
  }
  absl::StatusOr<int> checksum = BodyChecksum(body12);
  if (!checksum.ok()) return checksum.status();
  return kUpnAlphabet[*checksum];
}

absl::StatusOr<Upn> ValidateUpn(std::string_view raw) {
  Upn upn;
  upn.normalised = NormaliseUpn(raw);
  const std::string& s = upn.normalised;
  if (s.empty()) return absl::InvalidArgumentError("UPN is empty");
  if (s.size() != kUpnLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "UPN must be 13 characters, found ", s.size()));
  }
  if (UpnLetterValue(s[0]) < 0) {
    return absl::InvalidArgumentError(
        "UPN character at position 1 must be a check letter (A-Z except I, "
        "O, S)");
  }
  absl::StatusOr<int> checksum = BodyChecksum(std::string_view(s).substr(1));
  if (!checksum.ok()) return checksum.status();
  if (kUpnAlphabet[*checksum] != s[0]) {
    return absl::InvalidArgumentError(
        "UPN check letter at position 1 does not match positions 2-13");
  }
  upn.kind = IsAsciiDigit(s[12]) ? UpnKind::kPermanent : UpnKind::kTemporary;
  return upn;
}

bool IsValidUpn(std::string_view raw) { return ValidateUpn(raw).ok(); }

absl::StatusOr<std::string> MakeUpn(int la_code, int establishment,
                                    int year_of_allocation, int serial) {
  if (absl::Status s = CheckRange("LA code", la_code, 0, 999); !s.ok()) return s;
  if (absl::Status s = CheckRange("establishment number", establishment, 0, 9999);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("year of allocation", year_of_allocation, 0, 99);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("serial", serial, 0, 999); !s.ok()) return s;
  std::string out;
  out.reserve(kUpnLength);
  out += '?';
  AppendPadded(out, la_code, 3);
  AppendPadded(out, establishment, 4);
  AppendPadded(out, year_of_allocation, 2);
  AppendPadded(out, serial, 3);
  absl::StatusOr<char> check = ComputeUpnCheckLetter(std::string_view(out).substr(1));
  if (!check.ok()) return check.status();
  out[0] = *check;
  return out;
}

absl::StatusOr<std::string> MakeTemporaryUpn(int la_code, int establishment,
                                             int year_of_allocation,
                                             int serial, char letter) {
  if (absl::Status s = CheckRange("LA code", la_code, 0, 999); !s.ok()) return s;
  if (absl::Status s = CheckRange("establishment number", establishment, 0, 9999);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("year of allocation", year_of_allocation, 0, 99);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckRange("temporary serial", serial, 0, 99); !s.ok()) {
    return s;
  }
  if (UpnLetterValue(letter) < 0) {
    return absl::InvalidArgumentError(
        "temporary UPN letter must be A-Z except I, O, S (upper case)");
  }
  std::string out;
  out.reserve(kUpnLength);
  out += '?';
  AppendPadded(out, la_code, 3);
  AppendPadded(out, establishment, 4);
  AppendPadded(out, year_of_allocation, 2);
  AppendPadded(out, serial, 2);
  out += letter;
  absl::StatusOr<char> check = ComputeUpnCheckLetter(std::string_view(out).substr(1));
  if (!check.ok()) return check.status();
  out[0] = *check;
  return out;
}

}  // namespace datalab::identifiers
