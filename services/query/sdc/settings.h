// Disclosure-control settings and the trust floor they may never go below.
//
// A project's Settings are chosen by its approvers; the TrustFloor is set by
// the trust's admin. SettingsBuilder::Build() refuses any value that is
// nonsensical (INVALID_ARGUMENT) or looser than the floor (INVALID_ARGUMENT;
// the message names the field and the floor, never the rounding key).
//
// Percentages are held in basis points (1/100 of a percent) so the rules can
// be evaluated in exact integer arithmetic: 90% == 9000.
//
// Value types, no shared state: thread-compatible.
#ifndef DATALAB_SERVICES_QUERY_SDC_SETTINGS_H_
#define DATALAB_SERVICES_QUERY_SDC_SETTINGS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datalab::sdc {

inline constexpr int kMaxDominanceN = 5;
inline constexpr int64_t kMicrosPerEpsilon = 1'000'000;

struct Settings {
  // Rule 1: minimum distinct subjects behind a released cell (and behind both
  // numerator and denominator, and the complement, of a rate).
  int threshold = 10;
  // Rule 8: counts are randomly (unbiasedly) rounded to a multiple of this.
  int rounding_base = 5;
  // Rule 3: the largest `dominance_n` contributors may hold at most
  // `dominance_k_basis_points` of a SUM (9000 == 90.00%; equal is allowed).
  int dominance_n = 2;
  int dominance_k_basis_points = 9000;
  // Rule 4: p% rule; remainder after the two largest must be at least
  // p% of the largest (equal is allowed). 1000 == 10.00%.
  int p_percent_basis_points = 1000;
  // Rule 2: release 0% / 100% / zero-count cells (project approved for
  // structural zeros).
  bool allow_structural_zeros = false;
  // Rule 6: treat the total of every additive column whose cells have
  // disjoint populations as public (a school roll is published), so a single
  // suppressed cell always gets a partner.
  bool treat_column_totals_as_known = true;
  // Released precision of means, medians, percentiles, stddevs and sums.
  int value_decimals = 1;
  // Released precision of proportions (fractions in [0,1]); 3 == 0.1 points.
  int proportion_decimals = 3;
  // Per-lab secret keying the deterministic rounding (>= 32 bytes). Never
  // logged, never in a Status. `rounding_key_id` names it in release records.
  std::string rounding_key;
  std::string rounding_key_id;
  // Rule 9: optional differential privacy for COUNT cells; ε charged per
  // release, in millionths.
  bool dp_enabled = false;
  int64_t dp_epsilon_per_release_micros = 0;

  // Name/value pairs for the release record (never the key itself).
  std::vector<std::pair<std::string, std::string>> Describe() const;
};

// The loosest settings the trust allows. Defaults are the design defaults.
struct TrustFloor {
  int min_threshold = 10;
  int min_rounding_base = 5;
  int min_dominance_n = 2;
  int max_dominance_k_basis_points = 9000;
  int min_p_percent_basis_points = 1000;
  bool structural_zeros_permitted = true;
  bool column_totals_known_required = true;
  bool dp_required = false;
  // Largest ε per release a project may choose when DP is on (0 = no cap).
  int64_t max_dp_epsilon_per_release_micros = 0;
};

// Checks a floor for internal sanity (e.g. a threshold floor of 0).
absl::Status ValidateTrustFloor(const TrustFloor& floor);

// Checks settings against sanity bounds and the floor.
absl::Status ValidateSettings(const Settings& settings,
                              const TrustFloor& floor);

// Builder in the style of Google's differential-privacy library: start from
// the defaults, override, Build() validates against the floor.
class SettingsBuilder {
 public:
  explicit SettingsBuilder(TrustFloor floor) : floor_(std::move(floor)) {}

  SettingsBuilder& SetThreshold(int v) { s_.threshold = v; return *this; }
  SettingsBuilder& SetRoundingBase(int v) { s_.rounding_base = v; return *this; }
  SettingsBuilder& SetDominance(int n, int k_basis_points) {
    s_.dominance_n = n;
    s_.dominance_k_basis_points = k_basis_points;
    return *this;
  }
  SettingsBuilder& SetPPercentBasisPoints(int v) {
    s_.p_percent_basis_points = v;
    return *this;
  }
  SettingsBuilder& SetAllowStructuralZeros(bool v) {
    s_.allow_structural_zeros = v;
    return *this;
  }
  SettingsBuilder& SetTreatColumnTotalsAsKnown(bool v) {
    s_.treat_column_totals_as_known = v;
    return *this;
  }
  SettingsBuilder& SetValueDecimals(int v) { s_.value_decimals = v; return *this; }
  SettingsBuilder& SetProportionDecimals(int v) {
    s_.proportion_decimals = v;
    return *this;
  }
  SettingsBuilder& SetRoundingKey(std::string key, std::string key_id) {
    s_.rounding_key = std::move(key);
    s_.rounding_key_id = std::move(key_id);
    return *this;
  }
  SettingsBuilder& SetDifferentialPrivacy(int64_t epsilon_per_release_micros) {
    s_.dp_enabled = true;
    s_.dp_epsilon_per_release_micros = epsilon_per_release_micros;
    return *this;
  }

  absl::StatusOr<Settings> Build() const;

 private:
  TrustFloor floor_;
  Settings s_;
};

}  // namespace datalab::sdc

#endif  // DATALAB_SERVICES_QUERY_SDC_SETTINGS_H_
