#include "services/query/sdc/settings.h"

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace datalab::sdc {
namespace {

absl::Status Bad(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("disclosure settings: ", field, " ", why));
}

absl::Status Looser(absl::string_view field, int64_t value,
                    absl::string_view floor_field, int64_t floor_value,
                    absl::string_view direction) {
  return absl::InvalidArgumentError(absl::StrCat(
      "disclosure settings: ", field, " ", value, " is looser than the trust floor (",
      floor_field, " ", floor_value, "; must be ", direction, ")"));
}

}  // namespace

absl::Status ValidateTrustFloor(const TrustFloor& f) {
  if (f.min_threshold < 1) return Bad("trust floor min_threshold", "must be >= 1");
  if (f.min_rounding_base < 1) {
    return Bad("trust floor min_rounding_base", "must be >= 1");
  }
  if (f.min_dominance_n < 1 || f.min_dominance_n > kMaxDominanceN) {
    return Bad("trust floor min_dominance_n", "must be in [1, 5]");
  }
  if (f.max_dominance_k_basis_points < 1 ||
      f.max_dominance_k_basis_points > 10000) {
    return Bad("trust floor max_dominance_k_basis_points",
               "must be in [1, 10000]");
  }
  if (f.min_p_percent_basis_points < 0 || f.min_p_percent_basis_points > 10000) {
    return Bad("trust floor min_p_percent_basis_points",
               "must be in [0, 10000]");
  }
  if (f.max_dp_epsilon_per_release_micros < 0) {
    return Bad("trust floor max_dp_epsilon_per_release_micros", "must be >= 0");
  }
  return absl::OkStatus();
}

absl::Status ValidateSettings(const Settings& s, const TrustFloor& f) {
  RETURN_IF_ERROR(ValidateTrustFloor(f));
  // Sanity bounds first, so a nonsense value is reported as such.
  if (s.threshold < 1 || s.threshold > 1'000'000) {
    return Bad("threshold", "must be in [1, 1000000]");
  }
  if (s.rounding_base < 1 || s.rounding_base > 1'000'000) {
    return Bad("rounding_base", "must be in [1, 1000000]");
  }
  if (s.dominance_n < 1 || s.dominance_n > kMaxDominanceN) {
    return Bad("dominance_n", "must be in [1, 5]");
  }
  if (s.dominance_k_basis_points < 1 || s.dominance_k_basis_points > 10000) {
    return Bad("dominance_k_basis_points", "must be in [1, 10000]");
  }
  if (s.p_percent_basis_points < 0 || s.p_percent_basis_points > 10000) {
    return Bad("p_percent_basis_points", "must be in [0, 10000]");
  }
  if (s.value_decimals < 0 || s.value_decimals > 6) {
    return Bad("value_decimals", "must be in [0, 6]");
  }
  if (s.proportion_decimals < 0 || s.proportion_decimals > 6) {
    return Bad("proportion_decimals", "must be in [0, 6]");
  }
  if (s.rounding_key.size() < 32) {
    return Bad("rounding_key", "must be at least 32 bytes");
  }
  if (s.dp_enabled && (s.dp_epsilon_per_release_micros < 1 ||
                       s.dp_epsilon_per_release_micros > 100 * kMicrosPerEpsilon)) {
    return Bad("dp_epsilon_per_release_micros", "must be in [1, 100000000]");
  }
  // Then the floor.
  if (s.threshold < f.min_threshold) {
    return Looser("threshold", s.threshold, "min_threshold", f.min_threshold,
                  "at least the floor");
  }
  if (s.rounding_base < f.min_rounding_base) {
    return Looser("rounding_base", s.rounding_base, "min_rounding_base",
                  f.min_rounding_base, "at least the floor");
  }
  if (s.dominance_n < f.min_dominance_n) {
    return Looser("dominance_n", s.dominance_n, "min_dominance_n",
                  f.min_dominance_n, "at least the floor");
  }
  if (s.dominance_k_basis_points > f.max_dominance_k_basis_points) {
    return Looser("dominance_k_basis_points", s.dominance_k_basis_points,
                  "max_dominance_k_basis_points", f.max_dominance_k_basis_points,
                  "at most the floor");
  }
  if (s.p_percent_basis_points < f.min_p_percent_basis_points) {
    return Looser("p_percent_basis_points", s.p_percent_basis_points,
                  "min_p_percent_basis_points", f.min_p_percent_basis_points,
                  "at least the floor");
  }
  if (s.allow_structural_zeros && !f.structural_zeros_permitted) {
    return Bad("allow_structural_zeros",
               "is looser than the trust floor (structural_zeros_permitted "
               "is false)");
  }
  if (!s.treat_column_totals_as_known && f.column_totals_known_required) {
    return Bad("treat_column_totals_as_known",
               "is looser than the trust floor (column_totals_known_required "
               "is true)");
  }
  if (!s.dp_enabled && f.dp_required) {
    return Bad("dp_enabled", "is looser than the trust floor (dp_required is true)");
  }
  if (s.dp_enabled && f.max_dp_epsilon_per_release_micros > 0 &&
      s.dp_epsilon_per_release_micros > f.max_dp_epsilon_per_release_micros) {
    return Looser("dp_epsilon_per_release_micros",
                  s.dp_epsilon_per_release_micros,
                  "max_dp_epsilon_per_release_micros",
                  f.max_dp_epsilon_per_release_micros, "at most the floor");
  }
  return absl::OkStatus();
}

absl::StatusOr<Settings> SettingsBuilder::Build() const {
  RETURN_IF_ERROR(ValidateSettings(s_, floor_));
  return s_;
}

std::vector<std::pair<std::string, std::string>> Settings::Describe() const {
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  std::vector<std::pair<std::string, std::string>> out = {
      {"threshold", absl::StrCat(threshold)},
      {"rounding_base", absl::StrCat(rounding_base)},
      {"rounding", "unbiased random rounding keyed by HMAC-SHA256(population)"},
      {"rounding_key_id", rounding_key_id},
      {"dominance_n", absl::StrCat(dominance_n)},
      {"dominance_k_basis_points", absl::StrCat(dominance_k_basis_points)},
      {"p_percent_basis_points", absl::StrCat(p_percent_basis_points)},
      {"allow_structural_zeros", b(allow_structural_zeros)},
      {"treat_column_totals_as_known", b(treat_column_totals_as_known)},
      {"differencing_window", absl::StrCat("1..", threshold - 1)},
      {"value_decimals", absl::StrCat(value_decimals)},
      {"proportion_decimals", absl::StrCat(proportion_decimals)},
      {"dp_enabled", b(dp_enabled)},
  };
  if (dp_enabled) {
    out.emplace_back("dp_mechanism", "discrete Laplace (CKS 2020 exact sampler)");
    out.emplace_back("dp_epsilon_per_release_micros",
                     absl::StrCat(dp_epsilon_per_release_micros));
  }
  return out;
}

}  // namespace datalab::sdc
