// Pure validation rules of the catalogue: identifiers, datasets, schemas,
// disclosure settings against the trust floor, dates and accreditation.
// No I/O, no clock: "today" is passed in. Every error is INVALID_ARGUMENT
// and names the field path and the rule, e.g.
//   "schema.columns[3].codes: duplicate code 'K'"
// Several problems are reported together, separated by "; ". Messages carry
// metadata only (column names, codes), never pupil data.
#ifndef DATALAB_SERVICES_CATALOGUE_VALIDATION_H_
#define DATALAB_SERVICES_CATALOGUE_VALIDATION_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "datalab/catalogue/v1/catalogue.pb.h"

namespace datalab::catalogue {

namespace cv1 = ::datalab::catalogue::v1;
namespace commonv1 = ::datalab::common::v1;

// Collects "path: rule" problems and turns them into one status.
class FieldErrors {
 public:
  void Add(std::string_view path, std::string_view rule);
  bool empty() const { return errors_.empty(); }
  absl::Status ToStatus() const;  // OK when empty, else INVALID_ARGUMENT

 private:
  std::vector<std::string> errors_;
};

// lower_snake_case: [a-z][a-z0-9_]*, 1-63 characters.
bool IsLowerSnakeCase(std::string_view id);
// The OIDC subject used as a user id: 1-128 printable ASCII, no '/' or space.
bool IsValidUserId(std::string_view id);

// "YYYY-MM-DD" -> day; INVALID_ARGUMENT naming `field` otherwise.
absl::StatusOr<absl::CivilDay> ParseDate(std::string_view text, std::string_view field);
// The UTC calendar day of a Unix time in milliseconds.
absl::CivilDay DayOf(int64_t unix_ms);

// Dataset metadata (not the schema). `prefix` is the field path, "dataset".
void ValidateDataset(const cv1::Dataset& d, std::string_view prefix, FieldErrors& errors);

// A schema for a dataset of `kind` (subject key rules depend on it).
void ValidateSchema(const cv1::Schema& s, commonv1::SubjectKind kind, std::string_view prefix,
                    FieldErrors& errors);

// The trust floor's defaults: threshold 10, rounding base 5, dominance n=2
// k=90%, p=10%, differential privacy off.
commonv1::DisclosureSettings DefaultFloor();
// Internal consistency of a floor.
void ValidateFloor(const commonv1::DisclosureSettings& s, std::string_view prefix,
                   FieldErrors& errors);
// A project's settings: internally valid and stricter than or equal to the
// floor field by field (threshold, rounding base and p% at least the
// floor's; dominance n at least, k% at most the floor's; a floor epsilon
// budget caps projects that use differential privacy).
void ValidateProjectDisclosure(const commonv1::DisclosureSettings& s,
                               const commonv1::DisclosureSettings& floor,
                               std::string_view prefix, FieldErrors& errors);
// The settings the lab enforces: per field the stricter of project and floor,
// so raising the floor never leaves an older project looser.
commonv1::DisclosureSettings EffectiveSettings(const commonv1::DisclosureSettings& project,
                                               const commonv1::DisclosureSettings& floor);

// An accreditation being recorded: scheme, valid dates, training not after
// expiry, and not already expired on `today`.
void ValidateAccreditation(const cv1::Accreditation& a, absl::CivilDay today,
                           std::string_view prefix, FieldErrors& errors);
// True when the accreditation is present and expires on or after `today`.
bool AccreditationCurrent(const cv1::Accreditation& a, absl::CivilDay today);
bool HasAccreditation(const cv1::Accreditation& a);

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_VALIDATION_H_
