// Statistical disclosure control (SDC) engine: decides, cell by cell, what of
// an aggregate result may leave the lab (DESIGN.md section 5, "safe outputs").
//
// INPUT MODEL
//   Table      rows = groups (one key value per GROUP BY column; nullopt is a
//              margin "all values" row, like SQL ROLLUP), columns = aggregate
//              outputs. Every row has one Cell per output column.
//   Cell       kind; the unrounded value; the population = distinct subjects
//              (pupils) that contributed, as a SubjectSet.
//              COUNT           value = rows counted (>= |population|; 0 iff the
//                              population is empty).
//              COUNT_DISTINCT  value = |population|.
//              SUM, AVG        value, plus `magnitudes`: per-contributor totals
//                              (largest few and the grand total, in exact
//                              fixed-point integers) for dominance and p%.
//              STDDEV, MEDIAN  value.
//              PERCENTILE      value and `percentile` in (0, 100).
//              PROPORTION      population = denominator population,
//                              `numerator` ⊆ population; optional integer
//                              numerator/denominator values (e.g. sessions
//                              missed / possible), defaulting to the two
//                              cardinalities. `value` is ignored: the released
//                              rate is derived from the rounded counts.
//              MIN, MAX        never released.
//   LinearRelation  "total = sum(parts)" between cells, for secondary
//              suppression. The total is a cell of the table or, when absent,
//              a number already public (an earlier release, a published roll).
//              The engine adds the relations it can infer itself: ROLLUP margin
//              rows; the column total of an additive column with disjoint
//              populations (Settings::treat_column_totals_as_known); and any
//              union of a group's cells whose population equals a population
//              released earlier (ledger) or another cell of the same column.
//
// RULES (in this order; the first primary rule to fire is reported)
//   min_max_forbidden  MIN/MAX, PERCENTILE at 0 or 100.
//   class_disclosure   a count of 0; a rate of 0% or 100% (numerator empty or
//                      equal to the denominator population); a SUM/AVG whose
//                      contributions are all 0 -- each reveals an attribute
//                      of everyone in the group. Released when
//                      allow_structural_zeros.
//   threshold          |population| < threshold; for rates, the denominator,
//                      a non-empty numerator, and a non-empty complement
//                      (denominator \ numerator: 48 of 50 is a 2-pupil cell).
//   dominance          SUM/AVG: top-n share > k (exactly k is released).
//   p_percent          SUM/AVG: total - x1 - x2 < p% of x1 (equal released).
//   differencing       any population of the cell (population, and numerator
//                      of a rate) whose symmetric difference with a population
//                      released earlier in the project, or accepted earlier
//                      in this release, is 1..threshold-1 subjects. Catches
//                      "cohort minus a few" and padded trackers (A∪P then P).
//   secondary          added until no suppressed cell is determined by the
//                      linear relations and the released cells (rank test
//                      modulo 2^61-1). Each round takes the first determined
//                      cell x and suppresses the smallest-population released
//                      cell whose suppression hides x; failing that the
//                      cheapest pair (the corners of a rectangle); failing
//                      that the smallest cell of the tightest relation
//                      holding x. Greedy: always safe against linear
//                      elimination, not always the minimum pattern.
//
// KNOWN LIMITS (documented, not handled): protection intervals (non-negativity
// can bound a hidden cell narrowly; needs LP, as in tau-ARGUS); a LATER
// release of a margin that reveals a cell suppressed here for a reason other
// than the threshold (the ledger keeps released populations only, so e.g. a
// class-disclosure zero hidden today is exposed by releasing its school total
// tomorrow unless the planner passes that relation); trackers built from
// unions of several earlier cells; SUM/AVG/rates are not DP-noised.
// Then released values: COUNT cells get DP noise if enabled, then keyed
// unbiased random rounding to the base (status ROUNDED); proportions are
// computed from the rounded numerator and denominator (so they are consistent
// with the rounded counts and cannot be used to undo the rounding), clamped
// to [0,1] (ROUNDED); other values are shown to value_decimals (RELEASED).
//
// OUTPUT: a ReleasedTable of CellDecisions. A suppressed CellDecision has no
// value at all (the type cannot carry it), and no Status produced here
// contains a cell value, a subject id or the rounding key.
//
// THREAD SAFETY: SdcEngine is thread-safe; Release() calls are serialised
// internally so two releases of one project cannot both pass the
// differencing check against each other. The ledgers must outlive the engine.
#ifndef DATALAB_SERVICES_QUERY_SDC_SDC_H_
#define DATALAB_SERVICES_QUERY_SDC_SDC_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "services/query/sdc/ledger.h"
#include "services/query/sdc/noise.h"
#include "services/query/sdc/rounding.h"
#include "services/query/sdc/settings.h"
#include "services/query/sdc/subject_set.h"

namespace datalab::sdc {

inline constexpr char kSdcEngineVersion[] = "datalab-sdc/1";

enum class AggregateKind {
  kCount,
  kCountDistinct,
  kSum,
  kAvg,
  kStddev,
  kMedian,
  kPercentile,
  kProportion,
  kMin,
  kMax,
};
std::string_view AggregateKindName(AggregateKind kind);

// Per-contributor magnitudes of a SUM/AVG cell in exact fixed point: each
// contributor's (absolute) total times 10^scale, where the caller chooses one
// scale per cell (e.g. 1 for Attainment 8 points in tenths). Exact integers
// make the 90% / 10% boundaries exact.
struct Magnitudes {
  std::vector<int64_t> largest;  // descending, >= min(n, contributors) entries
  int64_t total = 0;             // sum over all contributors, >= sum(largest)

  // Keeps the kMaxDominanceN largest absolute values and the total.
  static Magnitudes FromContributions(absl::Span<const int64_t> per_contributor);
  // Converts decimals to fixed point at 10^decimals (rounded half away from
  // zero), then as above. INVALID_ARGUMENT for non-finite input or overflow.
  static absl::StatusOr<Magnitudes> FromDoubles(absl::Span<const double> values,
                                                int decimals);
};

struct Cell {
  AggregateKind kind = AggregateKind::kCount;
  double value = 0;
  SubjectSet population;
  // PROPORTION only.
  SubjectSet numerator;
  std::optional<int64_t> numerator_value;
  std::optional<int64_t> denominator_value;
  // SUM / AVG only (required).
  std::optional<Magnitudes> magnitudes;
  // PERCENTILE only.
  double percentile = 50;
};

struct Row {
  std::vector<std::optional<std::string>> key;  // nullopt = margin ("all")
  std::vector<Cell> cells;
};

struct Table {
  std::vector<std::string> group_columns;
  std::vector<std::string> output_columns;
  std::vector<Row> rows;
};

struct CellRef {
  int row = 0;
  int column = 0;
  friend bool operator==(const CellRef& a, const CellRef& b) {
    return a.row == b.row && a.column == b.column;
  }
  friend bool operator<(const CellRef& a, const CellRef& b) {
    return a.row != b.row ? a.row < b.row : a.column < b.column;
  }
};

struct LinearRelation {
  std::optional<CellRef> total;  // nullopt: the total is already public
  std::vector<CellRef> parts;
};

enum class CellStatus { kReleased, kRounded, kSuppressed };
std::string_view CellStatusName(CellStatus status);

enum class Rule {
  kNone,
  kMinMaxForbidden,
  kClassDisclosure,
  kThreshold,
  kDominance,
  kPPercent,
  kDifferencing,
  kSecondary,
};
std::string_view RuleName(Rule rule);  // "threshold", "p_percent", ...

// What leaves the lab for one cell. Built only by the engine; a suppressed
// decision holds no value.
class CellDecision {
 public:
  CellStatus status() const { return status_; }
  Rule rule() const { return rule_; }
  bool suppressed() const { return status_ == CellStatus::kSuppressed; }
  // nullopt iff suppressed.
  std::optional<double> value() const { return value_; }
  // Digits after the decimal point the value is shown with.
  int decimals() const { return decimals_; }
  // The value as text ("12.5", "15"), or "[c]" when suppressed.
  std::string Text() const;

 private:
  friend class SdcEngine;
  static CellDecision Suppressed(Rule rule) {
    CellDecision d;
    d.status_ = CellStatus::kSuppressed;
    d.rule_ = rule;
    return d;
  }
  static CellDecision Released(CellStatus status, double value, int decimals) {
    CellDecision d;
    d.status_ = status;
    d.value_ = value;
    d.decimals_ = decimals;
    return d;
  }
  CellStatus status_ = CellStatus::kSuppressed;
  Rule rule_ = Rule::kNone;
  std::optional<double> value_;
  int decimals_ = 0;
};

struct ReleaseSummary {
  int released = 0;
  int rounded = 0;
  int suppressed = 0;
  std::map<std::string, int> suppressed_by_rule;  // RuleName -> count
};

struct ReleasedTable {
  std::vector<std::string> group_columns;
  std::vector<std::string> output_columns;
  std::vector<std::vector<std::optional<std::string>>> keys;  // per row
  std::vector<std::vector<CellDecision>> cells;               // [row][column]
  ReleaseSummary summary;
  // Rules and parameters applied, for the signed release record.
  std::vector<std::pair<std::string, std::string>> parameters;
  // Every linear relation the secondary suppression honoured (given and
  // inferred), so a checker can re-run AttemptRecovery on the same system.
  std::vector<LinearRelation> relations;

  const CellDecision& at(int row, int column) const { return cells[row][column]; }
};

struct ReleaseRequest {
  std::string project;     // ledger partition; required
  std::string release_id;  // recorded with the populations; required
  const Table* table = nullptr;
  std::vector<LinearRelation> relations;  // known from the query plan
  // DP only: L1 sensitivity of the released COUNT vector. The engine
  // computes the per-pupil multiplicity itself and uses the larger; it must
  // be given when a COUNT counts rows rather than pupils.
  std::optional<int64_t> dp_count_sensitivity;
};

class SdcEngine {
 public:
  struct Options {
    Settings settings;       // already validated by SettingsBuilder
    TrustFloor floor;        // re-checked in Create (defence in depth)
    ReleaseLedger* release_ledger = nullptr;  // required, not owned
    EpsilonLedger* epsilon_ledger = nullptr;  // required iff dp_enabled
    SecureRandom* random = nullptr;           // required iff dp_enabled
    int threads = 1;  // for the per-population work that does not depend on order
  };
  static absl::StatusOr<std::unique_ptr<SdcEngine>> Create(const Options& options);

  // Decides every cell, then -- before returning -- debits ε (DP only;
  // RESOURCE_EXHAUSTED and nothing released when over budget) and durably
  // records the released populations in the release ledger. If a later step
  // of the caller fails (e.g. the audit write), the ledger entries and ε stay
  // spent: the error is always on the side of more protection.
  // INVALID_ARGUMENT for a malformed table or relation (naming row and
  // column, never a value).
  absl::StatusOr<ReleasedTable> Release(const ReleaseRequest& request)
      ABSL_LOCKS_EXCLUDED(mu_);

  const Settings& settings() const { return settings_; }

 private:
  SdcEngine(const Options& options, std::unique_ptr<KeyedRounder> rounder);

  Settings settings_;
  ReleaseLedger* release_ledger_;
  EpsilonLedger* epsilon_ledger_;
  SecureRandom* random_;
  std::unique_ptr<KeyedRounder> rounder_;
  int threads_ = 1;
  absl::Mutex mu_;
};

// Attacker's view, used by tests and by the engine's self-check: given which
// cells were released (true) and the relations, returns every suppressed cell
// whose value is determined by linear elimination (Gaussian elimination in
// floating point on the ±1 relation matrix, independent of the engine's
// modular-arithmetic check). Relations whose total is nullopt count as known.
std::vector<CellRef> AttemptRecovery(
    const std::vector<std::vector<bool>>& released,
    const std::vector<LinearRelation>& relations);
std::vector<CellRef> AttemptRecovery(const ReleasedTable& table,
                                     const std::vector<LinearRelation>& relations);

// The margin relations implied by ROLLUP rows (nullopt keys) for additive
// columns (COUNT, COUNT_DISTINCT, SUM). Exposed for tests and for callers that
// want to run AttemptRecovery on exactly what the engine used.
std::vector<LinearRelation> RollupRelations(const Table& table);

}  // namespace datalab::sdc

#endif  // DATALAB_SERVICES_QUERY_SDC_SDC_H_
