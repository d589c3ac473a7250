// datalab-synth: writes a synthetic multi-academy trust as MIS-style CSV
// extracts (or, with --flat, one pupil-level CSV for benchmarks). Flag
// parsing and wiring only; the generator lives in tools/synth/synth.h.
//
//   datalab-synth --out /tmp/trust --schools 50 --seed 7 --bad_rows_fraction 0.02
//   datalab-synth --flat /tmp/pupils.csv --rows 10000000 --schools 50
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log/log.h"
#include "tools/synth/synth.h"

ABSL_FLAG(std::string, out, "", "Output directory for the trust extracts (required unless --flat).");
ABSL_FLAG(int, schools, 10, "Number of schools in the trust.");
ABSL_FLAG(uint64_t, seed, 1, "Random seed; the same seed and flags give byte-identical output.");
ABSL_FLAG(int, pupils_per_school, 0,
          "Pupils per school; 0 means about 250 per primary and 1000 per secondary, varying.");
ABSL_FLAG(double, bad_rows_fraction, 0.0,
          "Share (0..1) of rows in each data file that get exactly one defect.");
ABSL_FLAG(int, terms, 3, "Number of terms (autumn, spring, summer, ...) starting at --year.");
ABSL_FLAG(int, year, 2025, "Academic year start, e.g. 2025 for 2025/26.");
ABSL_FLAG(bool, overwrite, false, "Replace the extracts of a previous run in --out.");
ABSL_FLAG(std::string, flat, "", "Write a single pupil-level CSV to this file instead.");
ABSL_FLAG(int64_t, rows, 1000000, "Rows for --flat.");

namespace {

int ExitCode(const absl::Status& s) {
  return s.code() == absl::StatusCode::kInvalidArgument ||
                 s.code() == absl::StatusCode::kFailedPrecondition
             ? 2
             : 1;
}

int Fail(const absl::Status& s) {
  datalab::log::Error("datalab-synth failed", {{"error", std::string(s.message())}});
  return ExitCode(s);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Generate a synthetic multi-academy trust as MIS-style CSV extracts.\n"
      "  datalab-synth --out DIR [--schools N] [--seed S] [--bad_rows_fraction F]\n"
      "  datalab-synth --flat FILE --rows N [--schools N] [--seed S]");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  datalab::log::SetServiceName("synth");
  if (rest.size() > 1) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("unexpected positional argument: ", rest[1])));
  }
  const absl::Time start = absl::Now();

  if (!absl::GetFlag(FLAGS_flat).empty()) {
    datalab::synth::FlatOptions o;
    o.path = absl::GetFlag(FLAGS_flat);
    o.rows = absl::GetFlag(FLAGS_rows);
    o.schools = absl::GetFlag(FLAGS_schools);
    o.seed = absl::GetFlag(FLAGS_seed);
    o.year = absl::GetFlag(FLAGS_year);
    absl::StatusOr<datalab::synth::FlatReport> report = datalab::synth::GenerateFlat(o);
    if (!report.ok()) return Fail(report.status());
    datalab::log::Info("flat file written",
                       {{"path", o.path},
                        {"rows", std::to_string(report->rows)},
                        {"schools", std::to_string(report->schools.size())},
                        {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
    return 0;
  }

  datalab::synth::TrustOptions o;
  o.out_dir = absl::GetFlag(FLAGS_out);
  o.schools = absl::GetFlag(FLAGS_schools);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.pupils_per_school = absl::GetFlag(FLAGS_pupils_per_school);
  o.bad_rows_fraction = absl::GetFlag(FLAGS_bad_rows_fraction);
  o.terms = absl::GetFlag(FLAGS_terms);
  o.year = absl::GetFlag(FLAGS_year);
  o.overwrite = absl::GetFlag(FLAGS_overwrite);
  absl::StatusOr<datalab::synth::TrustReport> report = datalab::synth::GenerateTrust(o);
  if (!report.ok()) return Fail(report.status());
  datalab::log::Info("trust written",
                     {{"out", o.out_dir},
                      {"schools", std::to_string(report->schools.size())},
                      {"files", std::to_string(report->files.size())},
                      {"rows", std::to_string(report->total_rows)},
                      {"bad_rows", std::to_string(report->total_bad_rows)},
                      {"seconds", absl::StrCat(absl::ToDoubleSeconds(absl::Now() - start))}});
  return 0;
}
