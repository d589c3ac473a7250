// Synthetic multi-academy trust generator.
//
// GenerateTrust writes the CSV extracts a trust's schools would export from
// their MIS, one file per dataset per school, plus a school list and a
// manifest:
//
//   DIR/schools.csv                 urn,name,phase,la_code,establishment_number
//   DIR/census/<urn>.csv            one row per pupil per term on roll
//   DIR/attendance/<urn>.csv        one row per pupil per term on roll
//   DIR/ks2/<urn>.csv               primary schools: year 6 test outcomes
//   DIR/ks4/<urn>.csv               secondary schools: year 11 GCSEs, A8, P8
//   DIR/suspensions/<urn>.csv       one row per suspension
//   DIR/manifest.json               every file with row and bad-row counts
//
// Every UPN is valid (correct check letter), unique across the trust and
// built from the school's LA code and establishment number. Attributes are
// correlated the way published statistics say they are (FSM with SEN,
// absence and suspensions; disadvantage with attainment and progress), and
// small groups (ethnicities with 1-5 pupils in a school) occur naturally.
//
// Determinism: output depends only on the options. The same options give
// byte-identical files. Each school draws from its own stream
// (MixSeed(seed, school)), and defects are chosen from separate streams, so
// a run with bad_rows_fraction > 0 is the clean run with some rows altered.
//
// Bad rows: in each data file exactly round(F x rows) rows carry one defect
// each, of a kind that applies to the file (bad UPN check letter; impossible
// date such as 2023-02-30; unknown code such as ethnicity ZZZZ or gender Q;
// blank UPN), cycling through the kinds so each appears.
//
// GenerateFlat writes one pupil-level CSV for benchmarks:
//   pupil_id,school_urn,nc_year,gender,fsm,sen,ethnicity,attendance_pct,
//   grade_maths,grade_english
// where pupil_id is a valid, unique UPN.
//
// Both functions are single-threaded, stream rows through large buffers and
// hold at most one school's pupils in memory. Not reentrant on the same
// output path.
#ifndef DATALAB_TOOLS_SYNTH_SYNTH_H_
#define DATALAB_TOOLS_SYNTH_SYNTH_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datalab::synth {

struct TrustOptions {
  std::string out_dir;              // required
  int schools = 10;                 // 1..1000
  uint64_t seed = 1;
  int pupils_per_school = 0;        // 0: ~250 primary, ~1000 secondary, varying
  double bad_rows_fraction = 0.0;   // 0..1
  int terms = 3;                    // 1..9, autumn/spring/summer from `year`
  int year = 2025;                  // academic year start, 2000..2090
  bool overwrite = false;           // allow a non-empty out_dir
};

enum class Defect { kBadCheckLetter = 0, kImpossibleDate, kUnknownCode, kMissingRequired };
inline constexpr int kDefectKinds = 4;
// "bad_check_letter", "impossible_date", "unknown_code", "missing_required".
std::string_view DefectName(Defect d);

enum class Phase { kPrimary, kSecondary };
std::string_view PhaseName(Phase p);  // "primary" / "secondary"

struct SchoolInfo {
  int urn = 0;
  std::string name;
  Phase phase = Phase::kPrimary;
  int la_code = 0;
  int establishment = 0;
};

struct FileReport {
  std::string path;     // relative to out_dir, '/'-separated
  std::string dataset;  // "schools", "census", "attendance", "ks2", "ks4", "suspensions"
  int urn = 0;          // 0 for trust-level files
  int64_t rows = 0;     // data rows, header excluded
  int64_t bad_rows = 0;
  std::array<int64_t, kDefectKinds> defects{};  // indexed by Defect
};

struct TrustReport {
  std::vector<SchoolInfo> schools;
  std::vector<FileReport> files;  // in manifest order
  int64_t total_rows = 0;
  int64_t total_bad_rows = 0;
};

absl::Status ValidateTrustOptions(const TrustOptions& options);
absl::StatusOr<TrustReport> GenerateTrust(const TrustOptions& options);

struct FlatOptions {
  std::string path;     // required: the CSV file to write
  int64_t rows = 1000000;
  int schools = 10;     // 1..1000
  uint64_t seed = 1;
  int year = 2025;
};

struct FlatReport {
  int64_t rows = 0;
  std::vector<SchoolInfo> schools;
};

absl::Status ValidateFlatOptions(const FlatOptions& options);
absl::StatusOr<FlatReport> GenerateFlat(const FlatOptions& options);

// Expected Attainment 8 for a KS2 prior-attainment average scaled score
// (the generator's stand-in for the DfE's national estimates). Progress 8
// is (Attainment 8 - this) / 10.
double ExpectedAttainment8(double ks2_average);

}  // namespace datalab::synth

#endif  // DATALAB_TOOLS_SYNTH_SYNTH_H_
