// libFuzzer entry point for common/identifiers: UPN, ULN, URN, LA code,
// establishment number and LAESTAB parsers.
//
// None may crash, and none may accept what its rule forbids. Every accepted
// value is re-checked here against an independent restatement of the rule
// (not by calling the library's own check-digit helpers), so a validator
// that accepts an identifier with a wrong check character traps:
//   UPN  13 characters; positions 2..12 digits; 13 a digit or a letter of
//        ABCDEFGHJKLMNPQRTUVWXYZ; check letter = alphabet[sum(value x pos) % 23]
//   ULN  10 digits, first non-zero, sum(digit x (11 - pos)) % 11 == 10
//   URN  6 digits in 100000..999999; LA 3 digits 001..999; ESTAB 4 digits
// Build and run: scripts/checks/fuzz.sh (see tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/identifiers/uln.h"
#include "common/identifiers/upn.h"
#include "common/identifiers/urn.h"

namespace {

namespace id = datalab::identifiers;

constexpr std::string_view kAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

bool Digit(char c) { return c >= '0' && c <= '9'; }

bool Space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && Space(s.front())) s.remove_prefix(1);
  while (!s.empty() && Space(s.back())) s.remove_suffix(1);
  return s;
}

// The check letter the UPN rule demands for `upn` (13 upper-case
// characters), or '\0' when its body has a character the rule forbids.
char ExpectedUpnCheckLetter(std::string_view upn) {
  int sum = 0;
  for (int pos = 2; pos <= 13; ++pos) {
    const char c = upn[pos - 1];
    int value;
    if (Digit(c)) {
      value = c - '0';
    } else if (pos == 13 && kAlphabet.find(c) != std::string_view::npos) {
      value = static_cast<int>(kAlphabet.find(c));
    } else {
      return '\0';
    }
    sum += value * pos;
  }
  return kAlphabet[sum % 23];
}

void CheckUpn(std::string_view raw) {
  auto upn = id::ValidateUpn(raw);
  if (id::IsValidUpn(raw) != upn.ok()) __builtin_trap();
  if (!upn.ok()) {
    if (upn.status().message().empty()) __builtin_trap();
    return;
  }
  const std::string& n = upn->normalised;
  if (n.size() != 13) __builtin_trap();
  // The normalised form is the trimmed input, upper-cased.
  const std::string_view trimmed = Trim(raw);
  if (trimmed.size() != 13) __builtin_trap();
  for (size_t i = 0; i < 13; ++i) {
    char c = trimmed[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (n[i] != c) __builtin_trap();
  }
  // The property the brief insists on: a wrong check letter is never accepted.
  const char expected = ExpectedUpnCheckLetter(n);
  if (expected == '\0' || n[0] != expected) __builtin_trap();
  const bool temporary = !Digit(n[12]);
  if ((upn->kind == id::UpnKind::kTemporary) != temporary) __builtin_trap();
}

void CheckUln(std::string_view raw) {
  auto uln = id::ValidateUln(raw);
  if (id::IsValidUln(raw) != uln.ok()) __builtin_trap();
  if (!uln.ok()) return;
  const std::string& n = *uln;
  if (n.size() != 10 || n != Trim(raw) || n[0] == '0') __builtin_trap();
  int sum = 0;
  for (int pos = 1; pos <= 10; ++pos) {
    if (!Digit(n[pos - 1])) __builtin_trap();
    sum += (n[pos - 1] - '0') * (11 - pos);
  }
  if (sum % 11 != 10) __builtin_trap();
}

// `value` parsed from `raw` must be exactly `width` digits after trimming,
// spelling `value`.
void CheckFixedDigits(std::string_view raw, int value, size_t width) {
  const std::string_view t = Trim(raw);
  if (t.size() != width) __builtin_trap();
  int v = 0;
  for (char c : t) {
    if (!Digit(c)) __builtin_trap();
    v = v * 10 + (c - '0');
  }
  if (v != value) __builtin_trap();
}

void CheckSchoolCodes(std::string_view raw) {
  if (auto urn = id::ParseUrn(raw); urn.ok()) {
    if (*urn < 100000 || *urn > 999999 || !id::IsValidUrn(*urn)) __builtin_trap();
    CheckFixedDigits(raw, *urn, 6);
  }
  if (auto la = id::ParseLaCode(raw); la.ok()) {
    if (*la < 1 || *la > 999) __builtin_trap();
    CheckFixedDigits(raw, *la, 3);
    auto formatted = id::FormatLaCode(*la);
    if (!formatted.ok() || *formatted != Trim(raw)) __builtin_trap();
  }
  if (auto estab = id::ParseEstablishmentNumber(raw); estab.ok()) {
    CheckFixedDigits(raw, *estab, 4);
  }
  if (auto le = id::ParseLaEstab(raw); le.ok()) {
    const std::string_view t = Trim(raw);
    if (t.size() == 8) {
      if (t[3] != '/') __builtin_trap();
      CheckFixedDigits(t.substr(0, 3), le->la_code, 3);
      CheckFixedDigits(t.substr(4), le->establishment, 4);
    } else {
      CheckFixedDigits(t.substr(0, 3), le->la_code, 3);
      CheckFixedDigits(t.substr(3), le->establishment, 4);
    }
    if (le->la_code < 1 || le->la_code > 999) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  CheckUpn(input);
  CheckUln(input);
  CheckSchoolCodes(input);
  // The generators and check-letter helpers take the same bytes as a body.
  if (auto letter = id::ComputeUpnCheckLetter(input); letter.ok()) {
    std::string upn = std::string(1, *letter) + std::string(input);
    if (!id::IsValidUpn(upn)) __builtin_trap();
  }
  if (auto uln = id::MakeUln(input); uln.ok()) {
    if (!id::IsValidUln(*uln)) __builtin_trap();
  }
  return 0;
}
