#include "services/catalogue/quality.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "services/catalogue/validation.h"

namespace datalab::catalogue {

std::string LetterForScore(double score) {
  if (score >= 90) return "A";
  if (score >= 80) return "B";
  if (score >= 70) return "C";
  if (score >= 60) return "D";
  return "E";
}

absl::StatusOr<cv1::QualityRating> ComputeRating(const cv1::QualityRating& measured,
                                                 std::string_view prefix,
                                                 const QualityWeights& w) {
  FieldErrors errors;
  std::set<std::string> columns;
  const cv1::QualityMetric* dataset_level = nullptr;
  cv1::QualityMetric mean;
  int column_metrics = 0;
  for (int i = 0; i < measured.breakdown_size(); ++i) {
    const cv1::QualityMetric& m = measured.breakdown(i);
    const std::string at = absl::StrCat(std::string(prefix), ".breakdown[", i, "]");
    auto check = [&](const char* field, double v) {
      if (!(std::isfinite(v) && v >= 0 && v <= 1)) {
        errors.Add(absl::StrCat(at, ".", field), "must be a share in [0, 1]");
      }
    };
    check("completeness", m.completeness());
    check("validity", m.validity());
    check("uniqueness", m.uniqueness());
    check("timeliness", m.timeliness());
    check("consistency", m.consistency());
    if (!columns.insert(m.column()).second) {
      errors.Add(absl::StrCat(at, ".column"),
                 m.column().empty() ? std::string("more than one dataset-level metric")
                                    : absl::StrCat("duplicate column '", m.column(), "'"));
    }
    if (m.column().empty()) {
      dataset_level = &m;
    } else {
      ++column_metrics;
      mean.set_completeness(mean.completeness() + m.completeness());
      mean.set_validity(mean.validity() + m.validity());
      mean.set_uniqueness(mean.uniqueness() + m.uniqueness());
      mean.set_timeliness(mean.timeliness() + m.timeliness());
      mean.set_consistency(mean.consistency() + m.consistency());
    }
  }
  if (measured.breakdown_size() == 0) {
    errors.Add(absl::StrCat(std::string(prefix), ".breakdown"), "at least one metric is required");
  }
  if (!errors.empty()) return errors.ToStatus();
  const cv1::QualityMetric* basis = dataset_level;
  if (basis == nullptr) {
    const double n = column_metrics;
    mean.set_completeness(mean.completeness() / n);
    mean.set_validity(mean.validity() / n);
    mean.set_uniqueness(mean.uniqueness() / n);
    mean.set_timeliness(mean.timeliness() / n);
    mean.set_consistency(mean.consistency() / n);
    basis = &mean;
  }
  const double total = w.completeness + w.validity + w.uniqueness + w.timeliness + w.consistency;
  const double score =
      100.0 *
      (w.completeness * basis->completeness() + w.validity * basis->validity() +
       w.uniqueness * basis->uniqueness() + w.timeliness * basis->timeliness() +
       w.consistency * basis->consistency()) /
      total;
  cv1::QualityRating out;
  // Two decimals, so the published score is stable across platforms.
  out.set_score(std::round(score * 100.0) / 100.0);
  out.set_rating(LetterForScore(out.score()));
  *out.mutable_breakdown() = measured.breakdown();
  return out;
}

}  // namespace datalab::catalogue
