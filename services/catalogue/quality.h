// The published quality rating of a dataset version.
//
// Ingestion measures five dimensions (each a share in [0, 1]) per column and
// for the dataset as a whole (the QualityMetric with an empty column). The
// score is 100 x the weighted mean of the dataset-level dimensions
//   completeness 0.30, validity 0.30, uniqueness 0.15, timeliness 0.10,
//   consistency 0.15
// (when no dataset-level metric is supplied, the mean of the per-column
// metrics stands in for it). Letters: A >= 90, B >= 80, C >= 70, D >= 60,
// else E. The rating keeps the full breakdown it was computed from.
#ifndef DATALAB_SERVICES_CATALOGUE_QUALITY_H_
#define DATALAB_SERVICES_CATALOGUE_QUALITY_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "datalab/catalogue/v1/catalogue.pb.h"

namespace datalab::catalogue {

struct QualityWeights {
  double completeness = 0.30;
  double validity = 0.30;
  double uniqueness = 0.15;
  double timeliness = 0.10;
  double consistency = 0.15;
};

// INVALID_ARGUMENT naming `prefix`.breakdown[i].<dimension> when a value is
// outside [0, 1] or a column appears twice.
absl::StatusOr<catalogue::v1::QualityRating> ComputeRating(
    const catalogue::v1::QualityRating& measured, std::string_view prefix,
    const QualityWeights& weights = {});

std::string LetterForScore(double score);

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_QUALITY_H_
