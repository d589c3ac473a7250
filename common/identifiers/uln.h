// Unique Learner Number (ULN): validation and generation.
//
// The ULN is the 10-digit learner identifier issued by the Learning Records
// Service. Rules (HESA "Unique Learner Number" field definition; DfE school
// census validation 1575):
//   - exactly 10 digits, the first non-zero;
//   - check digit (position 10) = 10 - (S mod 11), where S is the sum of
//     digits 1..9 weighted 10, 9, ..., 2. When S mod 11 == 0 the check would
//     be 10, so no valid ULN starts with those nine digits. Equivalently the
//     sum of all ten digits weighted 10..1 is 10 mod 11.
//
// Errors are absl::InvalidArgumentError naming the rule and the 1-based
// position, never containing the identifier or its characters.
// All functions are pure and thread-safe.
#ifndef DATALAB_COMMON_IDENTIFIERS_ULN_H_
#define DATALAB_COMMON_IDENTIFIERS_ULN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace datalab::identifiers {

// Trims surrounding ASCII whitespace, checks every rule above and returns
// the normalised 10-digit ULN.
absl::StatusOr<std::string> ValidateUln(std::string_view raw);

bool IsValidUln(std::string_view raw);

// Check digit ('0'..'9') for the first nine digits. Fails when `first9` is
// not nine digits, starts with 0, or has no valid check digit.
absl::StatusOr<char> ComputeUlnCheckDigit(std::string_view first9);

// first9 followed by its check digit; same failures as ComputeUlnCheckDigit.
absl::StatusOr<std::string> MakeUln(std::string_view first9);

}  // namespace datalab::identifiers

#endif  // DATALAB_COMMON_IDENTIFIERS_ULN_H_
