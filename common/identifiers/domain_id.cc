#include "common/identifiers/domain_id.h"

namespace datalab::identifiers {

absl::Status ValidateDomainId(std::string_view id) {
  if (id.empty() || id.size() > 63) {
    return absl::InvalidArgumentError("domain_id must be 1 to 63 characters");
  }
  if (!(id[0] >= 'a' && id[0] <= 'z')) {
    return absl::InvalidArgumentError("domain_id must start with a lower-case letter");
  }
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return absl::InvalidArgumentError(
          "domain_id may contain only lower-case letters, digits and '-'");
    }
  }
  return absl::OkStatus();
}

}  // namespace datalab::identifiers
