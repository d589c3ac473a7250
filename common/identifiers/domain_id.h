// Identifier-domain ids: the {id} of `domains/{id}`, the pseudonymisation
// domains that datasets name in `identifier_domain`. Pseudonymisation owns
// the resource and the catalogue checks references to it, so both use this
// one rule: 1 to 63 characters, lower-case letters, digits and '-', starting
// with a letter (RFC 1034 labels, as resource ids usually are).
//
// Errors are absl::InvalidArgumentError saying which rule failed, never
// echoing the id. Pure and thread-safe.
#ifndef DATALAB_COMMON_IDENTIFIERS_DOMAIN_ID_H_
#define DATALAB_COMMON_IDENTIFIERS_DOMAIN_ID_H_

#include <string_view>

#include "absl/status/status.h"

namespace datalab::identifiers {

absl::Status ValidateDomainId(std::string_view id);

}  // namespace datalab::identifiers

#endif  // DATALAB_COMMON_IDENTIFIERS_DOMAIN_ID_H_
