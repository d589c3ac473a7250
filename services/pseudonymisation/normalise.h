// Normalisation and validation of identifiers before they are hashed.
//
// Each identifier kind has one canonical text form, so that " a123..." and
// "A123..." give the same pseudonym, and anything that is not a valid
// identifier of the kind is refused with a reason rather than silently
// hashed (a mistyped UPN hashed anyway would create a phantom pupil):
//
//   UPN           13 characters, check letter verified (common/identifiers);
//                 trimmed, upper-cased; temporary UPNs are accepted and flagged.
//   ULN           10 digits with its check digit; trimmed.
//   URN           6 digits 100000..999999; trimmed.
//   STAFF_NUMBER  1..32 of A-Z 0-9 '-' '/'; trimmed, upper-cased.
//   FREE_TEXT     1..256 bytes after trimming, inner whitespace runs collapsed
//                 to one space, ASCII lower-cased; control characters refused.
//
// Errors are INVALID_ARGUMENT whose message names the rule (and the 1-based
// character position where useful) and NEVER contains the identifier.
// Pure functions, thread-safe.
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_NORMALISE_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_NORMALISE_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.pb.h"

namespace datalab::pseudonymisation {

inline constexpr size_t kMaxStaffNumberLength = 32;
inline constexpr size_t kMaxFreeTextLength = 256;

struct NormalisedIdentifier {
  std::string value;       // the canonical form that is hashed
  bool temporary = false;  // a temporary UPN
};

// Validates `raw` as an identifier of `kind` and writes its canonical form
// into `out` (whose string capacity is reused across calls: the hot path
// calls this once per identifier).
absl::Status NormaliseIdentifier(v1::IdentifierKind kind, std::string_view raw,
                                 NormalisedIdentifier* out);

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_NORMALISE_H_
