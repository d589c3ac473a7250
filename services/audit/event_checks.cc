#include "services/audit/event_checks.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace datalab::audit {
namespace {

absl::Status Refuse(std::string_view field) {
  return absl::InvalidArgumentError(
      absl::StrCat("event contains an identifier-shaped value in field ", std::string(field)));
}

bool IsHex(std::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace

bool ContainsUpnShapedToken(std::string_view text) {
  // A UPN-shaped token is 13 ASCII alphanumerics with none either side: a
  // letter, 11 digits, then a letter or digit. So only a run of 11 digits can
  // start one: count digits, and look around a run when it reaches 11.
  const size_t n = text.size();
  auto alnum = [&](size_t i) { return absl::ascii_isalnum(static_cast<unsigned char>(text[i])); };
  size_t run = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(text[i]))) {
      run = 0;
      continue;
    }
    if (++run != 11 || i < 11) continue;
    const size_t first = i - 11;  // not a digit, as the run began after it
    if (absl::ascii_isalpha(static_cast<unsigned char>(text[first])) &&
        (first == 0 || !alnum(first - 1)) && i + 1 < n && alnum(i + 1) &&
        (i + 2 == n || !alnum(i + 2))) {
      return true;
    }
  }
  return false;
}

absl::Status CheckEvent(const common::v1::AuditEvent& e) {
  if (e.event_id().empty()) return absl::InvalidArgumentError("event_id is required");
  if (e.event_id().size() > kMaxEventIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("event_id is longer than ", kMaxEventIdBytes, " bytes"));
  }
  if (e.ByteSizeLong() > kMaxEventBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("event is larger than ", kMaxEventBytes, " bytes"));
  }
  const std::pair<std::string_view, const std::string*> scalars[] = {
      {"event_id", &e.event_id()},        {"service", &e.service()},
      {"actor.subject", &e.actor().subject()}, {"actor.request_id", &e.actor().request_id()},
      {"action", &e.action()},            {"project", &e.project()},
      {"purpose", &e.purpose()},          {"reason", &e.reason()},
      {"release.release", &e.release().release()},
      {"release.query_text", &e.release().query_text()},
      {"release.rules", &e.release().rules()},
      {"release.engine_version", &e.release().engine_version()},
      {"release.signing_key_id", &e.release().signing_key_id()},
  };
  for (const auto& [name, value] : scalars) {
    if (ContainsUpnShapedToken(*value)) return Refuse(name);
  }
  for (int i = 0; i < e.resources_size(); ++i) {
    if (ContainsUpnShapedToken(e.resources(i))) return Refuse(absl::StrCat("resources[", i, "]"));
  }
  for (int i = 0; i < e.release().dataset_versions_size(); ++i) {
    if (ContainsUpnShapedToken(e.release().dataset_versions(i))) {
      return Refuse(absl::StrCat("release.dataset_versions[", i, "]"));
    }
  }
  for (const auto& [k, v] : e.details()) {
    if (ContainsUpnShapedToken(k)) return Refuse("details (a key)");
    if (ContainsUpnShapedToken(v)) return Refuse(absl::StrCat("details[", k, "]"));
  }
  const std::pair<std::string_view, const std::string*> hashes[] = {
      {"request_sha256", &e.request_sha256()},
      {"result_sha256", &e.result_sha256()},
      {"release.output_sha256", &e.release().output_sha256()},
  };
  for (const auto& [name, value] : hashes) {
    if (!IsHex(*value)) {
      return absl::InvalidArgumentError(absl::StrCat("field ", std::string(name), " is not hex"));
    }
  }
  for (int i = 0; i < e.release().dataset_version_hashes_size(); ++i) {
    if (!IsHex(e.release().dataset_version_hashes(i))) {
      return absl::InvalidArgumentError(
          absl::StrCat("field release.dataset_version_hashes[", i, "] is not hex"));
    }
  }
  return absl::OkStatus();
}

}  // namespace datalab::audit
