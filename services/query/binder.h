// Binder: turns a parsed query (sql::Query) into an engine::Plan against the
// manifests of stored dataset versions, and records what disclosure control
// and authorisation need.
//
//  - Datasets resolve to "datasets/<name>" (latest version, or name@n);
//    columns resolve case-insensitively (quoted names exactly).
//  - JOIN ... USING (pupil[, other keys]): "pupil" means the subject key;
//    every join must include it (joining on other keys alone would pair
//    different pupils).
//  - The subject column can appear only in COUNT(DISTINCT pupil) and in
//    USING: selecting, grouping, comparing or testing it is refused here,
//    so row-level output is impossible by construction.
//  - Non-aggregated select items must be GROUP BY items; HAVING and ORDER BY
//    an aggregate are refused (both would reveal suppressed values).
//  - Errors: INVALID_ARGUMENT "line L, column C: <reason>" at the AST node.
//
// Pure functions over plain values; thread-safe.
#ifndef DATALAB_SERVICES_QUERY_BINDER_H_
#define DATALAB_SERVICES_QUERY_BINDER_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/query/engine/column.h"
#include "services/query/engine/plan.h"
#include "services/query/query_store.h"
#include "services/query/sdc/sdc.h"
#include "services/query/sql/ast.h"

namespace datalab::query {

struct BoundInput {
  std::string dataset;  // "datasets/census"
  Manifest manifest;
  std::string subject_column;  // stored name; empty when none
};

struct BoundOutput {
  std::string name;       // column header
  bool is_group = false;  // group label or aggregate
  int index = 0;          // into plan.group_keys or plan.aggregates
  std::string aggregate;  // canonical SQL of the aggregate, e.g. "AVG(ks2)"
};

struct BoundAggregate {
  sdc::AggregateKind kind = sdc::AggregateKind::kCount;
  double percentile = 50;  // PERCENTILE only, in (0, 100)
  bool is_rate = false;    // RATE: numerator/denominator sums below
  int rate_numerator_sum = -1;
  int rate_denominator_sum = -1;
};

struct BandFixup {
  int key = 0;  // plan.group_keys index whose lo/hi come from the data
  int input = 0;
  std::string column;
  double width = 1;
};

struct BoundQuery {
  std::vector<BoundInput> inputs;
  engine::Plan plan;
  std::vector<BoundOutput> outputs;
  // Per plan aggregate; hidden helpers (RATE sums) come after the visible ones.
  std::vector<BoundAggregate> aggregates;
  int visible_aggregates = 0;
  // dataset -> columns touched (stored names), for the access decision. The
  // subject column is not listed (it is never released); nor are the lab's
  // own "_" system columns (school and period of the upload).
  std::map<std::string, std::set<std::string>> columns_touched;
  std::vector<std::pair<int, bool>> order_by;  // group key index, descending
  std::optional<int64_t> limit;
  std::vector<BandFixup> band_fixups;
  std::string canonical_sql;
};

using ManifestResolver = std::function<absl::StatusOr<Manifest>(
    const std::string& dataset, std::optional<int64_t> version)>;

absl::StatusOr<BoundQuery> Bind(const sql::Query& query, const ManifestResolver& resolve);

// Fills the bounds of BAND(column, width) keys from the loaded tables
// (tables[i] is inputs[i]).
absl::Status FixBands(BoundQuery& bound, const std::vector<const engine::Table*>& tables);

}  // namespace datalab::query

#endif  // DATALAB_SERVICES_QUERY_BINDER_H_
