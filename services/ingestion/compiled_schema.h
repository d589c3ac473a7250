// A catalogue Schema turned into what the row pipeline needs: one
// ValueParser per column, code sets, the header matcher, the identifier
// check for the subject key, and the stored (treated) column layout that is
// sent to the query store.
//
// Stored layout: every column whose treatment is not DROP, in schema order,
// then two system columns the writer adds to every row:
//   _school  the upload's school URN (or "trust-wide")
//   _period  the upload's period (may be empty)
// The query store resolves REPLACE (replace_school + replace_period) against
// these two columns.
//
// Immutable after Create; safe to share across threads.
#ifndef DATALAB_SERVICES_INGESTION_COMPILED_SCHEMA_H_
#define DATALAB_SERVICES_INGESTION_COMPILED_SCHEMA_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/csv/header_matcher.h"
#include "common/csv/value_parser.h"
#include "datalab/catalogue/v1/catalogue.pb.h"
#include "datalab/query/v1/query.pb.h"

namespace datalab::ingestion {

inline constexpr char kSchoolColumn[] = "_school";
inline constexpr char kPeriodColumn[] = "_period";

// How a subject key (or any PSEUDONYMISE column) is checked before it is
// sent for pseudonymisation.
enum class IdentifierCheck { kNone, kUpn, kUln, kUrn };

struct CompiledColumn {
  catalogue::v1::Column column;
  common::v1::ColumnType type = common::v1::STRING;
  common::v1::Treatment treatment = common::v1::KEEP;
  csv::ValueParser parser{csv::ColumnParseOptions{}};
  // CODE columns: code -> its position in code_list (the schema's order,
  // first of any repeats).
  absl::flat_hash_map<std::string, uint32_t> codes;
  std::vector<std::string> code_list;
  IdentifierCheck identifier_check = IdentifierCheck::kNone;
  bool blank_is_error = false;  // required or subject key: blank is a row error
  int stored_index = -1;        // index in stored_columns(), -1 when dropped
  common::v1::ColumnType stored_type = common::v1::STRING;
};

class CompiledSchema {
 public:
  // INVALID_ARGUMENT when the schema cannot be used for ingestion (no
  // columns, ambiguous aliases, a generalisation on an unsuitable type, a
  // PSEUDONYMISE column in a dataset without an identifier domain).
  static absl::StatusOr<std::unique_ptr<CompiledSchema>> Create(
      const catalogue::v1::Dataset& dataset, const catalogue::v1::Schema& schema);

  const catalogue::v1::Dataset& dataset() const { return dataset_; }
  const catalogue::v1::Schema& schema() const { return schema_; }
  const std::vector<CompiledColumn>& columns() const { return columns_; }
  const csv::HeaderMatcher& matcher() const { return *matcher_; }
  // Stored columns including the two system columns at the end.
  const std::vector<query::v1::StoredColumn>& stored_columns() const { return stored_; }
  int subject_column() const { return subject_column_; }  // -1 if none
  const std::vector<int>& period_columns() const { return period_columns_; }
  int summary_column() const { return summary_column_; }  // -1 if none
  bool IsSummaryValue(std::string_view trimmed) const {
    return summary_values_.contains(std::string(trimmed));
  }

 private:
  CompiledSchema() = default;
  catalogue::v1::Dataset dataset_;
  catalogue::v1::Schema schema_;
  std::vector<CompiledColumn> columns_;
  std::unique_ptr<csv::HeaderMatcher> matcher_;
  std::vector<query::v1::StoredColumn> stored_;
  int subject_column_ = -1;
  std::vector<int> period_columns_;
  int summary_column_ = -1;
  absl::flat_hash_set<std::string> summary_values_;
};

// MissingReason for a canonical marker ("" -> BLANK, "x" -> X, "." -> NA).
common::v1::MissingReason MissingReasonForMarker(std::string_view marker);

// "LS6 2AB" -> "LS6"; "ls62ab" -> "LS6"; nullopt-like empty string when the
// text is not a UK postcode shape.
std::string PostcodeDistrict(std::string_view postcode);

}  // namespace datalab::ingestion

#endif  // DATALAB_SERVICES_INGESTION_COMPILED_SCHEMA_H_
