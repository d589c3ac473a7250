// Unique Pupil Number (UPN): validation, normalisation and generation.
//
// The UPN is the DfE's 13-character pupil identifier (UK Government Data
// Standards Catalogue, "Unique Pupil Number" v2.0):
//
//   position  1      check letter
//   positions 2-4    LA code of the allocating school (3 digits)
//   positions 5-8    DfE establishment number of that school (4 digits)
//   positions 9-10   last two digits of the academic year of allocation
//   positions 11-13  serial: 3 digits (permanent UPN), or 2 digits and a
//                    letter (temporary UPN, "AnnnnnnnnnnnA")
//
// Check letter: sum over positions 2..13 of (character value x position),
// modulo 23, mapped through the 23-letter alphabet ABCDEFGHJKLMNPQRTUVWXYZ
// (I, O and S are never used). A digit's value is itself; the final letter
// of a temporary UPN has the value of its index in that same alphabet.
//
// Errors are absl::InvalidArgumentError whose message names the rule that
// failed and the 1-based character position, and never contains the
// identifier or any of its characters (an error message may be logged or
// shown to a user who must not see pupil identifiers).
//
// LA-code membership is deliberately not checked here: the list of valid
// codes changes with local government reorganisation and includes
// pseudo-LA codes, and an out-of-date list would silently drop real pupils.
//
// All functions are pure and thread-safe.
#ifndef DATALAB_COMMON_IDENTIFIERS_UPN_H_
#define DATALAB_COMMON_IDENTIFIERS_UPN_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace datalab::identifiers {

// The 23 letters used for UPN check letters and temporary-UPN final
// letters, in value order (A=0 ... Z=22).
inline constexpr std::string_view kUpnAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";

enum class UpnKind {
  kPermanent,  // 13th character is a digit
  kTemporary,  // 13th character is a letter from kUpnAlphabet
};

struct Upn {
  std::string normalised;  // 13 characters, upper case, no whitespace
  UpnKind kind = UpnKind::kPermanent;
};

// Value (0..22) of `c` in kUpnAlphabet, or -1 if it is not one of them.
// Upper case only.
int UpnLetterValue(char c);

// Trims surrounding ASCII whitespace and upper-cases ASCII letters. Does not
// validate.
std::string NormaliseUpn(std::string_view raw);

// Normalises `raw` and checks length, the character class at every position
// and the check letter. Returns the normalised UPN and its kind.
absl::StatusOr<Upn> ValidateUpn(std::string_view raw);

// Convenience: ValidateUpn(raw).ok().
bool IsValidUpn(std::string_view raw);

// Check letter for the 12 characters that follow it (UPN positions 2..13):
// 11 digits then a digit (permanent) or an alphabet letter (temporary).
// Upper case only; no normalisation is applied.
absl::StatusOr<char> ComputeUpnCheckLetter(std::string_view body12);

// Builds a permanent UPN from its parts. Ranges: la_code 0..999,
// establishment 0..9999, year_of_allocation 0..99 (last two digits of the
// academic year), serial 0..999.
absl::StatusOr<std::string> MakeUpn(int la_code, int establishment,
                                    int year_of_allocation, int serial);

// Builds a temporary UPN: as MakeUpn, but a 2-digit serial (0..99) and a
// final letter from kUpnAlphabet.
absl::StatusOr<std::string> MakeTemporaryUpn(int la_code, int establishment,
                                             int year_of_allocation,
                                             int serial, char letter);

}  // namespace datalab::identifiers

#endif  // DATALAB_COMMON_IDENTIFIERS_UPN_H_
