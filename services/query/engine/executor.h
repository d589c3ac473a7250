// Execute(): runs a bound Plan over in-memory Tables with vectorised,
// chunk-parallel evaluation and returns per-group aggregates together with
// what disclosure control needs: contributor populations (distinct subject
// ids, each available as a roaring bitmap) and per-subject contribution
// totals.
//
// Errors: INVALID_ARGUMENT for a plan that does not fit the tables (the
// message names the plan part); RESOURCE_EXHAUSTED "too many groups" when
// the distinct group count exceeds Options::max_groups.
//
// Aggregate definitions (see also plan.h):
//  - SUM/AVG/STDDEV/MEDIAN/PERCENTILE/COUNT(col) use rows whose argument is
//    present; the value is missing when there are none (STDDEV: < 2).
//  - RATE(num, den) = SUM(num) / SUM(den) over rows where both are present;
//    missing when there are none or SUM(den) == 0. Denominator population:
//    those rows' subjects; numerator population: those with num != 0.
//  - PROPORTION: see Aggregate::by_subject.
//  - Rows whose subject is missing count as rows but are in no population,
//    and form one contributor together in Contributions.
// Numbers are summed as doubles.
//
// Execution: joins build a direct-address (CSR) table on the smaller side
// when subject ids are dense, else a sorted array; rows are then scanned in
// batches by Options::threads threads over contiguous row ranges, each with
// its own group table (direct-indexed by packed key codes when the key space
// is small, else hashed) whose groups collect (subject, values) rows in
// arena blocks; groups are merged and finalized in parallel.
//
// Thread safety: Execute is reentrant; it reads the tables concurrently from
// Options::threads threads and keeps all mutable state local to the call.
#ifndef DATALAB_SERVICES_QUERY_ENGINE_EXECUTOR_H_
#define DATALAB_SERVICES_QUERY_ENGINE_EXECUTOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "services/query/engine/column.h"
#include "services/query/engine/plan.h"
#include "services/query/engine/subject_bitmap.h"

namespace datalab::engine {

struct Options {
  int threads = 2;             // worker threads, 1..64
  size_t max_groups = 100000;  // more distinct groups: RESOURCE_EXHAUSTED
};

struct KeyValue {
  bool missing = false;
  std::string label;  // CODE: the string; INT64: decimal; BAND/CASE: label
};

// Per-subject contribution totals of one aggregate in one group: each
// subject's values are summed first (a pupil with several rows is one
// contributor), then magnitudes are compared, since a dominance rule cares
// about size whatever the sign.
struct Contributions {
  uint64_t contributors = 0;  // subjects with at least one present value
  double top1 = 0;            // largest |per-subject total|
  double top2 = 0;            // second largest (0 with one contributor)
  double total = 0;           // sum of |per-subject totals|
};

struct AggregateValue {
  bool missing = true;  // no present input (or STDDEV with < 2 values)
  double value = 0;
  // Distinct subjects whose rows contributed (PROPORTION/RATE: numerator:
  // subjects with a TRUE condition / a non-zero numerator).
  std::shared_ptr<const SubjectSet> population;
  // PROPORTION/RATE only: the denominator's subjects.
  std::shared_ptr<const SubjectSet> denominator_population;
  // SUM, AVG, STDDEV (of the argument) and RATE (of the numerator) only.
  bool has_contributions = false;
  Contributions contributions;
};

struct ResultRow {
  std::vector<KeyValue> keys;
  uint64_t rows = 0;  // rows of the group after filter and joins
  std::shared_ptr<const SubjectSet> population;  // all subjects of the group
  std::vector<AggregateValue> aggregates;
};

// Where the time went, for metrics (datalab_query_..._seconds) and benches.
struct ExecStats {
  double join_seconds = 0;
  double scan_seconds = 0;      // filter, keys, per-group row collection
  double finalize_seconds = 0;  // aggregates, populations, contributions
  uint64_t rows_scanned = 0;    // rows after joins, before the filter
};

struct Result {
  std::vector<std::string> key_names;
  std::vector<std::string> aggregate_names;
  // Ordered by key: missing first, then CODE by string, INT64 by value,
  // BAND from low to high, CASE in WHEN order then ELSE.
  std::vector<ResultRow> rows;
  ExecStats stats;
};

// tables[i] is plan.inputs[i]. Tables must outlive the call only.
absl::StatusOr<Result> Execute(const Plan& plan, absl::Span<const Table* const> tables,
                               const Options& options = Options());

}  // namespace datalab::engine

#endif  // DATALAB_SERVICES_QUERY_ENGINE_EXECUTOR_H_
