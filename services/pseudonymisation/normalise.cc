#include "services/pseudonymisation/normalise.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "common/identifiers/uln.h"
#include "common/identifiers/upn.h"
#include "common/identifiers/urn.h"

namespace datalab::pseudonymisation {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

absl::Status NormaliseStaffNumber(std::string_view raw, std::string* out) {
  std::string_view s = Trim(raw);
  if (s.empty()) return absl::InvalidArgumentError("staff number is empty");
  if (s.size() > kMaxStaffNumberLength) {
    return absl::InvalidArgumentError(absl::StrCat(
        "staff number must be at most ", kMaxStaffNumberLength, " characters, found ", s.size()));
  }
  out->assign(s.data(), s.size());
  for (size_t i = 0; i < out->size(); ++i) {
    char& c = (*out)[i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '/';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "staff number character at position ", i + 1,
          " must be a letter, a digit, '-' or '/'"));
    }
  }
  return absl::OkStatus();
}

absl::Status NormaliseFreeText(std::string_view raw, std::string* out) {
  std::string_view s = Trim(raw);
  if (s.empty()) return absl::InvalidArgumentError("free-text identifier is empty");
  out->clear();
  bool in_space = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (IsSpace(static_cast<char>(c))) {
      in_space = true;
      continue;
    }
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(
          "free-text identifier has a control character at byte ", i + 1));
    }
    if (in_space) out->push_back(' ');
    in_space = false;
    out->push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c));
  }
  if (out->size() > kMaxFreeTextLength) {
    return absl::InvalidArgumentError(absl::StrCat("free-text identifier must be at most ",
                                                   kMaxFreeTextLength, " bytes, found ",
                                                   out->size()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status NormaliseIdentifier(v1::IdentifierKind kind, std::string_view raw,
                                 NormalisedIdentifier* out) {
  out->temporary = false;
  switch (kind) {
    case v1::UPN: {
      absl::StatusOr<identifiers::Upn> upn = identifiers::ValidateUpn(raw);
      if (!upn.ok()) return upn.status();
      out->value.assign(upn->normalised);
      out->temporary = upn->kind == identifiers::UpnKind::kTemporary;
      return absl::OkStatus();
    }
    case v1::ULN: {
      absl::StatusOr<std::string> uln = identifiers::ValidateUln(raw);
      if (!uln.ok()) return uln.status();
      out->value.assign(*uln);
      return absl::OkStatus();
    }
    case v1::URN: {
      absl::StatusOr<int> urn = identifiers::ParseUrn(raw);
      if (!urn.ok()) return urn.status();
      out->value = std::to_string(*urn);
      return absl::OkStatus();
    }
    case v1::STAFF_NUMBER:
      return NormaliseStaffNumber(raw, &out->value);
    case v1::FREE_TEXT:
      return NormaliseFreeText(raw, &out->value);
    default:
      return absl::InvalidArgumentError("domain has no identifier kind");
  }
}

}  // namespace datalab::pseudonymisation
