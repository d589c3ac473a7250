#include "services/query/sdc/sdc.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/parallel/parallel_for.h"
#include "common/status/status_macros.h"
#include "services/query/sdc/population_index.h"

namespace datalab::sdc {

std::string_view AggregateKindName(AggregateKind kind) {
  switch (kind) {
    case AggregateKind::kCount: return "COUNT";
    case AggregateKind::kCountDistinct: return "COUNT_DISTINCT";
    case AggregateKind::kSum: return "SUM";
    case AggregateKind::kAvg: return "AVG";
    case AggregateKind::kStddev: return "STDDEV";
    case AggregateKind::kMedian: return "MEDIAN";
    case AggregateKind::kPercentile: return "PERCENTILE";
    case AggregateKind::kProportion: return "PROPORTION";
    case AggregateKind::kMin: return "MIN";
    case AggregateKind::kMax: return "MAX";
  }
  return "UNKNOWN";
}

std::string_view CellStatusName(CellStatus status) {
  switch (status) {
    case CellStatus::kReleased: return "RELEASED";
    case CellStatus::kRounded: return "ROUNDED";
    case CellStatus::kSuppressed: return "SUPPRESSED";
  }
  return "UNKNOWN";
}

std::string_view RuleName(Rule rule) {
  switch (rule) {
    case Rule::kNone: return "none";
    case Rule::kMinMaxForbidden: return "min_max_forbidden";
    case Rule::kClassDisclosure: return "class_disclosure";
    case Rule::kThreshold: return "threshold";
    case Rule::kDominance: return "dominance";
    case Rule::kPPercent: return "p_percent";
    case Rule::kDifferencing: return "differencing";
    case Rule::kSecondary: return "secondary";
  }
  return "unknown";
}

std::string CellDecision::Text() const {
  if (!value_.has_value()) return "[c]";
  return absl::StrFormat("%.*f", decimals_, *value_);
}

// ---------------------------------------------------------------------------
// Magnitudes

Magnitudes Magnitudes::FromContributions(absl::Span<const int64_t> per_contributor) {
  Magnitudes m;
  __int128 total = 0;
  std::vector<int64_t> abs_values;
  abs_values.reserve(per_contributor.size());
  for (int64_t v : per_contributor) {
    // |INT64_MIN| is not representable; saturate (it is a magnitude).
    int64_t a = v == std::numeric_limits<int64_t>::min()
                    ? std::numeric_limits<int64_t>::max()
                    : (v < 0 ? -v : v);
    abs_values.push_back(a);
    total += a;
  }
  size_t keep = std::min<size_t>(abs_values.size(), kMaxDominanceN);
  std::partial_sort(abs_values.begin(), abs_values.begin() + keep,
                    abs_values.end(), std::greater<int64_t>());
  m.largest.assign(abs_values.begin(), abs_values.begin() + keep);
  m.total = total > std::numeric_limits<int64_t>::max()
                ? std::numeric_limits<int64_t>::max()
                : static_cast<int64_t>(total);
  return m;
}

absl::StatusOr<Magnitudes> Magnitudes::FromDoubles(absl::Span<const double> values,
                                                   int decimals) {
  if (decimals < 0 || decimals > 9) {
    return absl::InvalidArgumentError("magnitudes: decimals must be in [0, 9]");
  }
  const double scale = std::pow(10.0, decimals);
  std::vector<int64_t> fixed;
  fixed.reserve(values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    double x = values[i] * scale;
    if (!std::isfinite(x) || std::fabs(x) >= 9.0e18) {
      return absl::InvalidArgumentError(absl::StrCat(
          "magnitudes: contribution ", i, " is not finite or too large"));
    }
    fixed.push_back(static_cast<int64_t>(std::llround(x)));
  }
  return FromContributions(fixed);
}

// ---------------------------------------------------------------------------
// Linear systems

namespace {

// Arithmetic modulo the Mersenne prime 2^61 - 1. Rank over GF(p) equals rank
// over the rationals unless p divides a minor of the ±1 relation matrix,
// which for 61-bit p has probability ~2^-61 per minor; a wrong answer in one
// direction only over-suppresses.
constexpr uint64_t kP = (uint64_t{1} << 61) - 1;

uint64_t MulMod(uint64_t a, uint64_t b) {
  unsigned __int128 r = static_cast<unsigned __int128>(a) * b;
  uint64_t lo = static_cast<uint64_t>(r & kP);
  uint64_t hi = static_cast<uint64_t>(r >> 61);
  uint64_t s = lo + hi;
  return s >= kP ? s - kP : s;
}
uint64_t SubMod(uint64_t a, uint64_t b) { return a >= b ? a - b : a + kP - b; }
uint64_t PowMod(uint64_t a, uint64_t e) {
  uint64_t r = 1;
  while (e > 0) {
    if (e & 1) r = MulMod(r, a);
    a = MulMod(a, a);
    e >>= 1;
  }
  return r;
}
uint64_t InvMod(uint64_t a) { return PowMod(a, kP - 2); }

// Builds, for every relation, its coefficients over the unknown cells (cells
// with unknown[idx] true): +1 for the total, -1 for each part. Known cells and
// public totals only shift the constant term, irrelevant to determinability.
template <typename T>
std::vector<std::vector<T>> UnknownMatrix(
    const std::vector<LinearRelation>& relations, int columns,
    const absl::flat_hash_map<int, int>& unknown_index, T plus, T minus) {
  std::vector<std::vector<T>> rows;
  for (const LinearRelation& r : relations) {
    std::vector<T> row(unknown_index.size(), T{0});
    bool any = false;
    auto add = [&](const CellRef& c, T coef) {
      auto it = unknown_index.find(c.row * columns + c.column);
      if (it != unknown_index.end()) {
        row[it->second] = coef;
        any = true;
      }
    };
    if (r.total.has_value()) add(*r.total, plus);
    for (const CellRef& p : r.parts) add(p, minus);
    if (any) rows.push_back(std::move(row));
  }
  return rows;
}

// Unknowns (indices into the unknown list) determined by the system, by
// reduced row echelon form modulo kP: x_i is determined iff e_i is in the row
// space iff some RREF row is exactly e_i.
std::vector<int> DeterminedModular(std::vector<std::vector<uint64_t>> m,
                                   int unknowns) {
  int rank = 0;
  for (int col = 0; col < unknowns && rank < static_cast<int>(m.size()); ++col) {
    int pivot = -1;
    for (int r = rank; r < static_cast<int>(m.size()); ++r) {
      if (m[r][col] != 0) {
        pivot = r;
        break;
      }
    }
    if (pivot < 0) continue;
    std::swap(m[rank], m[pivot]);
    uint64_t inv = InvMod(m[rank][col]);
    for (uint64_t& v : m[rank]) v = MulMod(v, inv);
    for (int r = 0; r < static_cast<int>(m.size()); ++r) {
      if (r == rank || m[r][col] == 0) continue;
      uint64_t f = m[r][col];
      for (int c = 0; c < unknowns; ++c) {
        if (m[rank][c] != 0) m[r][c] = SubMod(m[r][c], MulMod(f, m[rank][c]));
      }
    }
    ++rank;
  }
  std::vector<int> out;
  for (int r = 0; r < rank; ++r) {
    int nonzero = 0, at = -1;
    for (int c = 0; c < unknowns; ++c) {
      if (m[r][c] != 0) {
        ++nonzero;
        at = c;
      }
    }
    if (nonzero == 1) out.push_back(at);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The same question in floating point with partial pivoting (the attacker's
// tool; deliberately a different implementation from the engine's).
std::vector<int> DeterminedFloat(std::vector<std::vector<double>> m, int unknowns) {
  constexpr double kEps = 1e-9;
  int rank = 0;
  for (int col = 0; col < unknowns && rank < static_cast<int>(m.size()); ++col) {
    int pivot = -1;
    double best = kEps;
    for (int r = rank; r < static_cast<int>(m.size()); ++r) {
      if (std::fabs(m[r][col]) > best) {
        best = std::fabs(m[r][col]);
        pivot = r;
      }
    }
    if (pivot < 0) continue;
    std::swap(m[rank], m[pivot]);
    double inv = 1.0 / m[rank][col];
    for (double& v : m[rank]) v *= inv;
    for (int r = 0; r < static_cast<int>(m.size()); ++r) {
      if (r == rank || std::fabs(m[r][col]) <= kEps) continue;
      double f = m[r][col];
      for (int c = 0; c < unknowns; ++c) m[r][c] -= f * m[rank][c];
      m[r][col] = 0;
    }
    ++rank;
  }
  std::vector<int> out;
  for (int r = 0; r < rank; ++r) {
    int nonzero = 0, at = -1;
    for (int c = 0; c < unknowns; ++c) {
      if (std::fabs(m[r][c]) > kEps) {
        ++nonzero;
        at = c;
      }
    }
    if (nonzero == 1) out.push_back(at);
  }
  std::sort(out.begin(), out.end());
  return out;
}

bool IsAdditive(AggregateKind k) {
  return k == AggregateKind::kCount || k == AggregateKind::kCountDistinct ||
         k == AggregateKind::kSum;
}
bool IsCount(AggregateKind k) {
  return k == AggregateKind::kCount || k == AggregateKind::kCountDistinct;
}
bool IsDetailRow(const Row& r) {
  return std::all_of(r.key.begin(), r.key.end(),
                     [](const auto& k) { return k.has_value(); });
}

}  // namespace

std::vector<CellRef> AttemptRecovery(const std::vector<std::vector<bool>>& released,
                                     const std::vector<LinearRelation>& relations) {
  int columns = 0;
  for (const auto& row : released) columns = std::max<int>(columns, row.size());
  auto is_released = [&](const CellRef& c) {
    return c.row >= 0 && c.row < static_cast<int>(released.size()) &&
           c.column >= 0 && c.column < static_cast<int>(released[c.row].size()) &&
           released[c.row][c.column];
  };
  absl::flat_hash_map<int, int> unknown_index;
  std::vector<CellRef> unknowns;
  auto note = [&](const CellRef& c) {
    if (is_released(c) || c.column < 0 || c.column >= columns) return;
    if (unknown_index.emplace(c.row * columns + c.column, unknowns.size()).second) {
      unknowns.push_back(c);
    }
  };
  for (const LinearRelation& r : relations) {
    if (r.total.has_value()) note(*r.total);
    for (const CellRef& p : r.parts) note(p);
  }
  if (unknowns.empty()) return {};
  auto m = UnknownMatrix<double>(relations, columns, unknown_index, 1.0, -1.0);
  std::vector<CellRef> out;
  for (int i : DeterminedFloat(std::move(m), unknowns.size())) {
    out.push_back(unknowns[i]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<CellRef> AttemptRecovery(const ReleasedTable& table,
                                     const std::vector<LinearRelation>& relations) {
  std::vector<std::vector<bool>> released(table.cells.size());
  for (size_t r = 0; r < table.cells.size(); ++r) {
    for (const CellDecision& d : table.cells[r]) released[r].push_back(!d.suppressed());
  }
  return AttemptRecovery(released, relations);
}

std::vector<LinearRelation> RollupRelations(const Table& table) {
  std::vector<LinearRelation> out;
  const int rows = table.rows.size();
  const int cols = table.output_columns.size();
  for (int r = 0; r < rows; ++r) {
    const Row& margin = table.rows[r];
    for (size_t j = 0; j < margin.key.size(); ++j) {
      if (margin.key[j].has_value()) continue;
      // Parts: rows equal to the margin everywhere except at j, where they
      // have a value.
      std::vector<int> parts;
      for (int s = 0; s < rows; ++s) {
        const Row& row = table.rows[s];
        if (row.key.size() != margin.key.size() || !row.key[j].has_value()) continue;
        bool match = true;
        for (size_t i = 0; i < row.key.size() && match; ++i) {
          if (i != j) match = row.key[i] == margin.key[i];
        }
        if (match) parts.push_back(s);
      }
      if (parts.empty()) continue;
      for (int c = 0; c < cols; ++c) {
        if (c >= static_cast<int>(margin.cells.size()) ||
            !IsAdditive(margin.cells[c].kind)) {
          continue;
        }
        LinearRelation rel;
        rel.total = CellRef{r, c};
        for (int s : parts) rel.parts.push_back(CellRef{s, c});
        out.push_back(std::move(rel));
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Engine

SdcEngine::SdcEngine(const Options& options, std::unique_ptr<KeyedRounder> rounder)
    : settings_(options.settings),
      release_ledger_(options.release_ledger),
      epsilon_ledger_(options.epsilon_ledger),
      random_(options.random),
      rounder_(std::move(rounder)),
      threads_(std::clamp(options.threads, 1, 16)) {}

absl::StatusOr<std::unique_ptr<SdcEngine>> SdcEngine::Create(const Options& options) {
  RETURN_IF_ERROR(ValidateSettings(options.settings, options.floor));
  if (options.release_ledger == nullptr) {
    return absl::InvalidArgumentError("sdc engine: release_ledger is required");
  }
  if (options.settings.dp_enabled &&
      (options.epsilon_ledger == nullptr || options.random == nullptr)) {
    return absl::InvalidArgumentError(
        "sdc engine: dp_enabled needs epsilon_ledger and random");
  }
  ASSIGN_OR_RETURN(auto rounder, KeyedRounder::Create(options.settings.rounding_key,
                                                      options.settings.rounding_base));
  return std::unique_ptr<SdcEngine>(new SdcEngine(options, std::move(rounder)));
}

namespace {

std::string Where(const Table& t, int row, int col) {
  return absl::StrCat("row ", row, ", column '",
                      col < static_cast<int>(t.output_columns.size())
                          ? t.output_columns[col]
                          : std::string("?"),
                      "'");
}

absl::Status Invalid(const Table& t, int row, int col, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(Where(t, row, col), ": ", what));
}

bool IsNonNegativeInteger(double v) {
  return std::isfinite(v) && v >= 0 && v <= 9007199254740992.0 && std::floor(v) == v;
}

absl::Status ValidateCell(const Table& t, int r, int c, const Cell& cell,
                          const Settings& s) {
  if (!std::isfinite(cell.value)) return Invalid(t, r, c, "value is not finite");
  const uint64_t n = cell.population.Cardinality();
  switch (cell.kind) {
    case AggregateKind::kCount:
      if (!IsNonNegativeInteger(cell.value)) {
        return Invalid(t, r, c, "COUNT value must be a non-negative integer");
      }
      if (cell.value < static_cast<double>(n) || ((cell.value == 0) != (n == 0))) {
        return Invalid(t, r, c, "COUNT value is inconsistent with its population");
      }
      break;
    case AggregateKind::kCountDistinct:
      if (!IsNonNegativeInteger(cell.value) || cell.value != static_cast<double>(n)) {
        return Invalid(t, r, c,
                       "COUNT_DISTINCT value must equal the population size");
      }
      break;
    case AggregateKind::kSum:
    case AggregateKind::kAvg: {
      if (!cell.magnitudes.has_value()) {
        return Invalid(t, r, c, "SUM/AVG cell needs contributor magnitudes");
      }
      const Magnitudes& m = *cell.magnitudes;
      const size_t need = std::min<uint64_t>(std::max(s.dominance_n, 2), n);
      if (m.largest.size() < need) {
        return Invalid(t, r, c, "magnitudes must list the largest max(n, 2) contributions");
      }
      __int128 sum = 0;
      for (size_t i = 0; i < m.largest.size(); ++i) {
        if (m.largest[i] < 0 || (i > 0 && m.largest[i] > m.largest[i - 1])) {
          return Invalid(t, r, c,
                         "magnitudes must be non-negative and in descending order");
        }
        sum += m.largest[i];
      }
      if (m.total < 0 || sum > m.total) {
        return Invalid(t, r, c, "magnitudes total is less than its largest values");
      }
      break;
    }
    case AggregateKind::kPercentile:
      if (!std::isfinite(cell.percentile)) {
        return Invalid(t, r, c, "percentile is not finite");
      }
      break;
    case AggregateKind::kProportion: {
      if (!cell.numerator.IsSubsetOf(cell.population)) {
        return Invalid(t, r, c,
                       "numerator population is not within the denominator "
                       "population");
      }
      const int64_t num = cell.numerator_value.value_or(cell.numerator.Cardinality());
      const int64_t den = cell.denominator_value.value_or(n);
      if (num < 0 || den < 0 || num > den) {
        return Invalid(t, r, c,
                       "proportion needs 0 <= numerator <= denominator values");
      }
      if ((den == 0) != (n == 0) || ((num == 0) != cell.numerator.IsEmpty())) {
        return Invalid(t, r, c,
                       "proportion values are inconsistent with their "
                       "populations");
      }
      break;
    }
    default:
      break;
  }
  return absl::OkStatus();
}

absl::Status ValidateRequest(const ReleaseRequest& req, const Settings& s) {
  if (req.table == nullptr) return absl::InvalidArgumentError("release: table is null");
  if (req.project.empty()) return absl::InvalidArgumentError("release: project is empty");
  if (req.release_id.empty()) {
    return absl::InvalidArgumentError("release: release_id is empty");
  }
  const Table& t = *req.table;
  const int rows = t.rows.size();
  const int cols = t.output_columns.size();
  for (int r = 0; r < rows; ++r) {
    if (t.rows[r].key.size() != t.group_columns.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "row ", r, ": key has ", t.rows[r].key.size(), " values for ",
          t.group_columns.size(), " group columns"));
    }
    if (static_cast<int>(t.rows[r].cells.size()) != cols) {
      return absl::InvalidArgumentError(absl::StrCat(
          "row ", r, ": has ", t.rows[r].cells.size(), " cells for ", cols,
          " output columns"));
    }
    for (int c = 0; c < cols; ++c) {
      RETURN_IF_ERROR(ValidateCell(t, r, c, t.rows[r].cells[c], s));
    }
  }
  for (size_t i = 0; i < req.relations.size(); ++i) {
    const LinearRelation& rel = req.relations[i];
    auto bad = [&](absl::string_view what) {
      return absl::InvalidArgumentError(absl::StrCat("relation ", i, ": ", what));
    };
    if (rel.parts.empty()) return bad("has no parts");
    absl::flat_hash_set<int> seen;
    auto check = [&](const CellRef& c) -> absl::Status {
      if (c.row < 0 || c.row >= rows || c.column < 0 || c.column >= cols) {
        return bad(absl::StrCat("refers to row ", c.row, ", column ", c.column,
                                " outside the table"));
      }
      if (!seen.insert(c.row * cols + c.column).second) {
        return bad(absl::StrCat("uses row ", c.row, ", column ", c.column, " twice"));
      }
      return absl::OkStatus();
    };
    if (rel.total.has_value()) RETURN_IF_ERROR(check(*rel.total));
    for (const CellRef& p : rel.parts) RETURN_IF_ERROR(check(p));
  }
  return absl::OkStatus();
}

Rule PrimaryRule(const Cell& cell, const Settings& s) {
  const uint64_t t = s.threshold;
  const bool allow = s.allow_structural_zeros;
  const uint64_t n = cell.population.Cardinality();
  switch (cell.kind) {
    case AggregateKind::kMin:
    case AggregateKind::kMax:
      return Rule::kMinMaxForbidden;
    case AggregateKind::kCount:
    case AggregateKind::kCountDistinct:
      if (n == 0) return allow ? Rule::kNone : Rule::kClassDisclosure;
      return n < t ? Rule::kThreshold : Rule::kNone;
    case AggregateKind::kProportion: {
      if (n == 0) return Rule::kThreshold;
      const uint64_t num = cell.numerator.Cardinality();
      const uint64_t complement = n - num;
      if ((num == 0 || complement == 0) && !allow) return Rule::kClassDisclosure;
      if (n < t) return Rule::kThreshold;
      if (num > 0 && num < t) return Rule::kThreshold;
      if (complement > 0 && complement < t) return Rule::kThreshold;
      return Rule::kNone;
    }
    case AggregateKind::kPercentile:
      if (!(cell.percentile > 0 && cell.percentile < 100)) {
        return Rule::kMinMaxForbidden;
      }
      [[fallthrough]];
    case AggregateKind::kStddev:
    case AggregateKind::kMedian:
      return n < t ? Rule::kThreshold : Rule::kNone;
    case AggregateKind::kSum:
    case AggregateKind::kAvg: {
      const Magnitudes& m = *cell.magnitudes;  // validated present
      if (m.total == 0 && n > 0) {
        if (!allow) return Rule::kClassDisclosure;
      }
      if (n < t) return Rule::kThreshold;
      if (m.total == 0) return Rule::kNone;  // allowed structural zero
      // Dominance: sum(top n) / total > k / 10000, exactly.
      __int128 top = 0;
      for (int i = 0; i < s.dominance_n && i < static_cast<int>(m.largest.size()); ++i) {
        top += m.largest[i];
      }
      if (top * 10000 > static_cast<__int128>(s.dominance_k_basis_points) * m.total) {
        return Rule::kDominance;
      }
      // p%: the second largest estimates the largest to within p% when the
      // remainder is less than p% of the largest.
      const __int128 x1 = m.largest.empty() ? 0 : m.largest[0];
      const __int128 x2 = m.largest.size() < 2 ? 0 : m.largest[1];
      const __int128 rest = static_cast<__int128>(m.total) - x1 - x2;
      if (rest * 10000 < static_cast<__int128>(s.p_percent_basis_points) * x1) {
        return Rule::kPPercent;
      }
      return Rule::kNone;
    }
  }
  return Rule::kMinMaxForbidden;  // unknown kinds fail closed
}

// Whether no id is in two of `sets` (so |union| = sum of sizes), without
// building the union: a dense bit set over the ids (lab-internal subject ids
// are dense), or the union when the ids are too spread for one.
bool PairwiseDisjoint(const std::vector<const SubjectSet*>& sets) {
  uint32_t max_id = 0;
  uint64_t sum = 0;
  for (const SubjectSet* s : sets) {
    max_id = std::max(max_id, s->Maximum());
    sum += s->Cardinality();
  }
  if (max_id >= (uint32_t{1} << 28)) return SubjectSet::UnionOf(sets).Cardinality() == sum;
  std::vector<uint64_t> seen(max_id / 64 + 1, 0);
  bool disjoint = true;
  for (const SubjectSet* s : sets) {
    s->ForEachBlock([&](const uint32_t* ids, size_t n) {
      for (size_t i = 0; i < n; ++i) {
        uint64_t& word = seen[ids[i] >> 6];
        const uint64_t bit = uint64_t{1} << (ids[i] & 63);
        disjoint = disjoint && (word & bit) == 0;
        word |= bit;
      }
    });
    if (!disjoint) return false;
  }
  return true;
}

// The populations a cell exposes to differencing.
std::vector<const SubjectSet*> ExposedPopulations(const Cell& cell) {
  std::vector<const SubjectSet*> out;
  if (!cell.population.IsEmpty()) out.push_back(&cell.population);
  if (cell.kind == AggregateKind::kProportion && !cell.numerator.IsEmpty()) {
    out.push_back(&cell.numerator);
  }
  return out;
}

double RoundToDecimals(double v, int decimals) {
  const double scale = std::pow(10.0, decimals);
  double r = std::round(v * scale) / scale;
  return r == 0 ? 0.0 : r;  // no "-0.0"
}

// Maximum number of the given populations any one subject belongs to.
int64_t MaxMultiplicity(const std::vector<const SubjectSet*>& pops) {
  if (pops.empty()) return 0;
  uint64_t sum = 0;
  SubjectSet all;
  for (const SubjectSet* p : pops) {
    sum += p->Cardinality();
    all.UnionWith(*p);
  }
  if (sum == all.Cardinality()) return 1;  // disjoint
  absl::flat_hash_map<uint32_t, int64_t> counts;
  int64_t best = 0;
  for (const SubjectSet* p : pops) {
    for (uint32_t id : p->ToVector()) best = std::max(best, ++counts[id]);
  }
  return best;
}

}  // namespace

absl::StatusOr<ReleasedTable> SdcEngine::Release(const ReleaseRequest& request) {
  RETURN_IF_ERROR(ValidateRequest(request, settings_));
  absl::MutexLock lock(&mu_);
  const Table& t = *request.table;
  const Settings& s = settings_;
  const int rows = t.rows.size();
  const int cols = t.output_columns.size();
  auto idx = [cols](const CellRef& c) { return c.row * cols + c.column; };
  auto cell_at = [&](const CellRef& c) -> const Cell& {
    return t.rows[c.row].cells[c.column];
  };

  // 1-5. Primary rules.
  std::vector<Rule> rule(rows * cols, Rule::kNone);
  std::vector<bool> suppressed(rows * cols, false);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      Rule p = PrimaryRule(t.rows[r].cells[c], s);
      if (p != Rule::kNone) {
        rule[r * cols + c] = p;
        suppressed[r * cols + c] = true;
      }
    }
  }

  // 7. Differencing against the ledger and against populations already
  // accepted in this release. |A Δ B| >= ||A| - |B||, so only populations
  // whose size is within threshold-1 need the (cardinality-only) test.
  // Each pair is first compared by sketch (a lower bound on |A Δ B|, see
  // PopulationSketch), which rules out unrelated populations without
  // intersecting them; identical populations are not "close" (they are the
  // same number again) and are held once.
  const uint64_t window = static_cast<uint64_t>(s.threshold) - 1;
  PopulationIndex accepted(window + 1);
  // The sketch of every distinct exposed population, computed up front on
  // threads_ threads (it does not depend on the order of the check).
  absl::flat_hash_map<const void*, PopulationSketch> sketch_of;
  absl::flat_hash_set<const void*> in_ledger;  // populations the ledger holds already
  struct LedgerVerdict {
    bool close = false;  // within the window of an earlier release
    bool held = false;   // equal to an earlier release
  };
  absl::flat_hash_map<const void*, LedgerVerdict> ledger_verdict;
  if (window > 0) {
    std::vector<const SubjectSet*> distinct;
    for (int i = 0; i < rows * cols; ++i) {
      if (suppressed[i]) continue;
      for (const SubjectSet* pop : ExposedPopulations(t.rows[i / cols].cells[i % cols])) {
        if (sketch_of.emplace(pop->raw(), PopulationSketch()).second) distinct.push_back(pop);
      }
    }
    std::vector<PopulationSketch> sketches(distinct.size());
    std::vector<LedgerVerdict> verdicts(distinct.size());
    std::vector<absl::Status> failures(distinct.size());
    // The ledger does not change during a release, so each population's
    // verdict against it does not depend on the order either.
    parallel::ParallelFor(threads_, distinct.size(), [&](size_t, size_t i) {
      const SubjectSet& pop = *distinct[i];
      const PopulationSketch& sketch = sketches[i] = PopulationSketch::Of(pop);
      const uint64_t n = pop.Cardinality();
      LedgerVerdict& v = verdicts[i];
      failures[i] = release_ledger_->ForEachNear(
          request.project, pop, window,
          [&](const SubjectSet& earlier, const PopulationSketch& earlier_sketch) {
            if (sketch.ProvesDifferenceAbove(earlier_sketch, window)) return true;
            const uint64_t sym = n + earlier.Cardinality() - 2 * pop.AndCardinality(earlier);
            v.held = v.held || sym == 0;  // released before: no second copy needed
            v.close = sym >= 1 && sym <= window;
            return !v.close;
          });
    });
    for (const absl::Status& f : failures) RETURN_IF_ERROR(f);
    for (size_t i = 0; i < distinct.size(); ++i) {
      sketch_of[distinct[i]->raw()] = sketches[i];
      ledger_verdict[distinct[i]->raw()] = verdicts[i];
      if (verdicts[i].held) in_ledger.insert(distinct[i]->raw());
    }
  }
  if (window > 0) {
    for (int r = 0; r < rows; ++r) {
      // The cells of a row usually share one population (COUNT, AVG and
      // MEDIAN of the same group): its verdict is computed once per row.
      std::vector<std::pair<const SubjectSet*, bool>> row_verdicts;
      for (int c = 0; c < cols; ++c) {
        if (suppressed[r * cols + c]) continue;
        const Cell& cell = t.rows[r].cells[c];
        const std::vector<const SubjectSet*> exposed = ExposedPopulations(cell);
        bool close = false;
        bool decided = false;
        if (exposed.size() == 1) {
          for (const auto& [seen, verdict] : row_verdicts) {
            if (seen->Cardinality() == exposed[0]->Cardinality() && *seen == *exposed[0]) {
              close = verdict;
              decided = true;
              break;
            }
          }
        }
        if (!decided) {
          // One sketch per exposed population, used for the check and, when
          // the cell is released, kept with the population in `accepted`.
          std::vector<PopulationSketch> sketches;
          sketches.reserve(exposed.size());
          for (const SubjectSet* pop : exposed) {
            const uint64_t n = pop->Cardinality();
            const PopulationSketch& sketch = sketches.emplace_back(sketch_of.at(pop->raw()));
            // |A Δ B|, or nullopt when the sketches prove it above the window.
            auto difference = [&](const SubjectSet& other,
                                  const PopulationSketch& other_sketch) -> std::optional<uint64_t> {
              if (sketch.ProvesDifferenceAbove(other_sketch, window)) return std::nullopt;
              const uint64_t m = other.Cardinality();
              return n + m - 2 * pop->AndCardinality(other);
            };
            auto too_close = [&](std::optional<uint64_t> sym) {
              return sym.has_value() && *sym >= 1 && *sym <= window;
            };
            close = ledger_verdict.at(pop->raw()).close;
            if (!close) {
              accepted.ForEachNear(*pop, window, [&](const SubjectSet& other,
                                                     const PopulationSketch& other_sketch) {
                close = too_close(difference(other, other_sketch));
                return !close;
              });
            }
            if (close) break;
          }
          if (exposed.size() == 1) row_verdicts.emplace_back(exposed[0], close);
          // Released: its populations join those later cells are checked
          // against (a population already there, from another row, once).
          for (size_t i = 0; !close && i < exposed.size(); ++i) {
            accepted.Add(exposed[i], sketches[i]);
          }
        }
        // A reused verdict's population is already in `accepted` (or the
        // cell is suppressed like its twin).
        if (close) {
          rule[r * cols + c] = Rule::kDifferencing;
          suppressed[r * cols + c] = true;
        }
      }
    }
  }

  // 6. Relations: given, ROLLUP margins, public or previously released
  // totals, and in-table cells equal to a union of parts.
  std::vector<LinearRelation> relations = request.relations;
  for (LinearRelation& rel : RollupRelations(t)) relations.push_back(std::move(rel));
  {
    std::vector<int> detail;
    for (int r = 0; r < rows; ++r) {
      if (IsDetailRow(t.rows[r])) detail.push_back(r);
    }
    // Candidate groups of detail rows: the whole column, and each value of
    // each group column when there are several.
    std::vector<std::pair<bool, std::vector<int>>> groups;  // (whole column?, rows)
    groups.push_back({true, detail});
    if (t.group_columns.size() >= 2) {
      for (size_t j = 0; j < t.group_columns.size(); ++j) {
        std::map<std::string, std::vector<int>> by_value;
        for (int r : detail) by_value[*t.rows[r].key[j]].push_back(r);
        for (auto& [v, members] : by_value) groups.push_back({false, members});
      }
    }
    // What the relations need of a group's union (its size, its smallest
    // id, whether the parts are disjoint) is the same for every column whose
    // cells have the same populations (COUNT and SUM of one group, say):
    // computed once. The union itself is never built when the parts are
    // disjoint: a set B equals it exactly when |B| is its size and B holds
    // every part.
    struct GroupUnion {
      bool partition = false;
      uint64_t cardinality = 0;           // of the union
      uint32_t smallest = 0;              // smallest id of the union
      std::optional<bool> released_before;  // the ledger holds exactly the union
    };
    auto union_of = [&](int c, const std::vector<int>& members) {
      std::vector<const SubjectSet*> parts;
      parts.reserve(members.size());
      for (int r : members) parts.push_back(&t.rows[r].cells[c].population);
      return SubjectSet::UnionOf(parts);
    };
    // Whether `b`, of the union's size, is the union of the members' cells.
    auto equals_union = [&](const SubjectSet& b, const GroupUnion& u, int c,
                            const std::vector<int>& members) {
      if (b.Cardinality() != u.cardinality || b.Minimum() != u.smallest) return false;
      for (int r : members) {
        if (!t.rows[r].cells[c].population.IsSubsetOf(b)) return false;
      }
      return true;
    };
    std::vector<std::vector<GroupUnion>> unions(cols);
    std::vector<int> union_source(cols, -1);
    for (int c = 0; c < cols; ++c) {
      // Only additive cells form partitions: a column without any has no
      // relation to find.
      bool any_additive = false;
      for (int r : detail) any_additive = any_additive || IsAdditive(t.rows[r].cells[c].kind);
      if (!any_additive) continue;
      for (int c2 = 0; c2 < c && union_source[c] < 0; ++c2) {
        if (union_source[c2] != c2) continue;
        bool same = true;
        for (int r : detail) {
          same = same && t.rows[r].cells[c].population == t.rows[r].cells[c2].population;
          if (!same) break;
        }
        if (same) union_source[c] = c2;
      }
      if (union_source[c] < 0) {
        union_source[c] = c;
        unions[c].resize(groups.size());
        // Disjoint detail cells (each pupil in one group, the usual case)
        // make every group a partition: one check over the whole column.
        std::vector<const SubjectSet*> column;
        for (int r : detail) column.push_back(&t.rows[r].cells[c].population);
        const bool disjoint = PairwiseDisjoint(column);
        for (size_t g = 0; g < groups.size(); ++g) {
          const std::vector<int>& members = groups[g].second;
          if (members.size() < 2) continue;
          GroupUnion& u = unions[c][g];
          uint64_t sum = 0;
          bool any = false;
          for (int r : members) {
            const SubjectSet& p = t.rows[r].cells[c].population;
            sum += p.Cardinality();
            if (p.IsEmpty()) continue;
            u.smallest = any ? std::min(u.smallest, p.Minimum()) : p.Minimum();
            any = true;
          }
          if (disjoint) {
            u.partition = true;
            u.cardinality = sum;
          } else {
            u.cardinality = union_of(c, members).Cardinality();
            u.partition = sum == u.cardinality;
          }
        }
      }
      std::vector<GroupUnion>& column_unions = unions[union_source[c]];
      // The rows of this column by population size, to find a cell over
      // exactly a group's population without comparing against every row.
      std::multimap<uint64_t, int> rows_by_size;
      for (int r = 0; r < rows; ++r) {
        rows_by_size.emplace(t.rows[r].cells[c].population.Cardinality(), r);
      }
      for (size_t g = 0; g < groups.size(); ++g) {
        const auto& [whole, members] = groups[g];
        if (members.size() < 2) continue;
        bool additive = true, counts = true;
        for (int r : members) {
          const Cell& cell = t.rows[r].cells[c];
          additive = additive && IsAdditive(cell.kind);
          counts = counts && IsCount(cell.kind);
        }
        GroupUnion& u = column_unions[g];
        if (!additive || !u.partition) continue;  // not a partition
        LinearRelation rel;
        for (int r : members) rel.parts.push_back(CellRef{r, c});
        bool known = whole && s.treat_column_totals_as_known;
        // An in-table cell of the same column over exactly this population
        // (the first such row, as before: candidates come in row order).
        {
          auto [lo, hi] = rows_by_size.equal_range(u.cardinality);
          for (auto it = lo; it != hi && !rel.total.has_value(); ++it) {
            const int r = it->second;
            if (std::find(members.begin(), members.end(), r) != members.end()) continue;
            const Cell& cell = t.rows[r].cells[c];
            if (IsAdditive(cell.kind) && cell.kind == t.rows[members[0]].cells[c].kind &&
                equals_union(cell.population, u, c, members)) {
              rel.total = CellRef{r, c};
            }
          }
        }
        // Public already (an earlier release of the same population)? Kept
        // even when the table has its own total cell, because that cell may
        // end up suppressed while the earlier number stays public.
        if (!known && counts && u.cardinality > 0) {
          if (!u.released_before.has_value()) {
            bool found = false;
            RETURN_IF_ERROR(release_ledger_->ForEachWithSmallest(
                request.project, u.smallest, u.cardinality,
                [&](const SubjectSet& earlier, const PopulationSketch&) {
                  found = equals_union(earlier, u, c, members);
                  return !found;
                }));
            u.released_before = found;
          }
          known = *u.released_before;
        }
        if (known) relations.push_back(LinearRelation{std::nullopt, rel.parts});
        if (rel.total.has_value()) relations.push_back(std::move(rel));
      }
    }
  }

  // 6. Secondary suppression to a fixpoint. While the relations determine a
  // suppressed cell x, suppress one more released cell from the relations
  // that contain x: the smallest-population candidate whose suppression
  // makes x undetermined (tried in order, at most kMaxTrials); failing that
  // the cheapest pair that does (the missing corners of a suppression
  // rectangle); failing that the smallest released cell of the tightest
  // relation holding x. Greedy: safe (it stops only when nothing is
  // determined) but not always the minimum pattern.
  auto determined_cells = [&](const std::vector<bool>& supp) {
    absl::flat_hash_map<int, int> unknown_index;
    std::vector<CellRef> unknowns;
    auto note = [&](const CellRef& c) {
      if (supp[idx(c)] && unknown_index.emplace(idx(c), unknowns.size()).second) {
        unknowns.push_back(c);
      }
    };
    for (const LinearRelation& rel : relations) {
      if (rel.total.has_value()) note(*rel.total);
      for (const CellRef& p : rel.parts) note(p);
    }
    std::vector<CellRef> out;
    if (unknowns.empty()) return out;
    auto m = UnknownMatrix<uint64_t>(relations, cols, unknown_index, 1, kP - 1);
    for (int i : DeterminedModular(std::move(m), unknowns.size())) {
      out.push_back(unknowns[i]);
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  auto size_of = [&](const CellRef& c) { return cell_at(c).population.Cardinality(); };
  auto smaller = [&](const CellRef& a, const CellRef& b) {
    const uint64_t sa = size_of(a), sb = size_of(b);
    return sa != sb ? sa < sb : a < b;
  };
  constexpr int kMaxTrials = 32;
  constexpr int kMaxPairPool = 12;
  absl::flat_hash_set<int> unprotectable;  // implied by public totals alone
  for (;;) {
    std::vector<CellRef> determined;
    for (const CellRef& x : determined_cells(suppressed)) {
      if (!unprotectable.contains(idx(x))) determined.push_back(x);
    }
    if (determined.empty()) break;
    const CellRef x = determined.front();
    std::vector<CellRef> candidates;
    std::optional<CellRef> fallback;
    int fallback_unknowns = std::numeric_limits<int>::max();
    for (const LinearRelation& rel : relations) {
      bool contains = rel.total.has_value() && *rel.total == x;
      for (const CellRef& p : rel.parts) contains = contains || p == x;
      if (!contains) continue;
      int n_unknown = 0;
      std::optional<CellRef> smallest_part;
      for (const CellRef& p : rel.parts) {
        if (suppressed[idx(p)]) {
          ++n_unknown;
          continue;
        }
        candidates.push_back(p);
        if (!smallest_part.has_value() || smaller(p, *smallest_part)) smallest_part = p;
      }
      if (rel.total.has_value()) {
        if (suppressed[idx(*rel.total)]) {
          ++n_unknown;
        } else {
          candidates.push_back(*rel.total);
          if (!smallest_part.has_value()) smallest_part = *rel.total;
        }
      }
      if (smallest_part.has_value() && n_unknown < fallback_unknowns) {
        fallback = smallest_part;
        fallback_unknowns = n_unknown;
      }
    }
    if (!fallback.has_value()) {
      // Every cell of every relation holding x is suppressed already: x is
      // implied by public totals and nothing here can hide it.
      unprotectable.insert(idx(x));
      continue;
    }
    // Rectangle corners live in relations that hold other suppressed
    // cells, not only x's: widen the pool to every released cell sharing a
    // relation with any suppressed cell.
    for (const LinearRelation& rel : relations) {
      bool has_unknown = rel.total.has_value() && suppressed[idx(*rel.total)];
      for (const CellRef& p : rel.parts) has_unknown = has_unknown || suppressed[idx(p)];
      if (!has_unknown) continue;
      if (rel.total.has_value() && !suppressed[idx(*rel.total)]) {
        candidates.push_back(*rel.total);
      }
      for (const CellRef& p : rel.parts) {
        if (!suppressed[idx(p)]) candidates.push_back(p);
      }
    }
    std::sort(candidates.begin(), candidates.end(), smaller);
    candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
    auto hides_x = [&](std::initializer_list<CellRef> extra) {
      std::vector<bool> trial = suppressed;
      for (const CellRef& c : extra) trial[idx(c)] = true;
      std::vector<CellRef> after = determined_cells(trial);
      return !std::binary_search(after.begin(), after.end(), x);
    };
    std::vector<CellRef> choice;
    // One more cell, smallest first.
    for (int i = 0; i < static_cast<int>(candidates.size()) && i < kMaxTrials; ++i) {
      if (hides_x({candidates[i]})) {
        choice = {candidates[i]};
        break;
      }
    }
    // Otherwise two (the other corners of a rectangle), smallest total first.
    if (choice.empty()) {
      const int k = std::min<int>(candidates.size(), kMaxPairPool);
      std::vector<std::pair<uint64_t, std::pair<int, int>>> pairs;
      for (int i = 0; i < k; ++i) {
        for (int j = i + 1; j < k; ++j) {
          pairs.push_back({size_of(candidates[i]) + size_of(candidates[j]), {i, j}});
        }
      }
      std::sort(pairs.begin(), pairs.end());
      for (const auto& [total, ij] : pairs) {
        if (hides_x({candidates[ij.first], candidates[ij.second]})) {
          choice = {candidates[ij.first], candidates[ij.second]};
          break;
        }
      }
    }
    if (choice.empty()) choice = {*fallback};
    for (const CellRef& c : choice) {
      rule[idx(c)] = Rule::kSecondary;
      suppressed[idx(c)] = true;
    }
  }

  // 9. Differential privacy: debit before any value is computed.
  std::vector<int64_t> noise(rows * cols, 0);
  int64_t dp_sensitivity = 0;
  if (s.dp_enabled) {
    std::vector<const SubjectSet*> count_pops;
    std::vector<int> count_cells;
    bool row_counts = false;
    for (int i = 0; i < rows * cols; ++i) {
      const Cell& cell = t.rows[i / cols].cells[i % cols];
      if (suppressed[i] || !IsCount(cell.kind)) continue;
      count_pops.push_back(&cell.population);
      count_cells.push_back(i);
      row_counts = row_counts || cell.value > static_cast<double>(cell.population.Cardinality());
    }
    if (!count_cells.empty()) {
      if (row_counts && !request.dp_count_sensitivity.has_value()) {
        return absl::FailedPreconditionError(
            "release: a COUNT counts rows rather than pupils; the query plan "
            "must give dp_count_sensitivity");
      }
      if (request.dp_count_sensitivity.has_value() && *request.dp_count_sensitivity < 1) {
        return absl::InvalidArgumentError("release: dp_count_sensitivity must be >= 1");
      }
      dp_sensitivity = std::max<int64_t>(
          {int64_t{1}, MaxMultiplicity(count_pops), request.dp_count_sensitivity.value_or(1)});
      RETURN_IF_ERROR(epsilon_ledger_->Debit(request.project,
                                             s.dp_epsilon_per_release_micros));
      for (int i : count_cells) {
        // Scale Δ/ε = (Δ * 1e6) / ε_micros.
        ASSIGN_OR_RETURN(
            noise[i],
            SampleDiscreteLaplace(
                *random_, static_cast<uint64_t>(s.dp_epsilon_per_release_micros),
                static_cast<uint64_t>(dp_sensitivity) * kMicrosPerEpsilon));
      }
    }
  }

  // 8. Values of the released cells. Every rounding (a keyed MAC over the
  // population) is computed first, on threads_ threads.
  std::vector<int64_t> round_values;
  std::vector<const SubjectSet*> round_populations;
  std::vector<int> round_at(static_cast<size_t>(rows) * cols * 2, -1);  // cell, slot -> input
  auto to_round = [&](int i, int slot, int64_t v, const SubjectSet& pop) {
    round_at[2 * i + slot] = static_cast<int>(round_values.size());
    round_values.push_back(v);
    round_populations.push_back(&pop);
  };
  for (int i = 0; i < rows * cols; ++i) {
    if (suppressed[i]) continue;
    const Cell& cell = t.rows[i / cols].cells[i % cols];
    if (IsCount(cell.kind)) {
      to_round(i, 0, std::max<int64_t>(0, static_cast<int64_t>(cell.value) + noise[i]),
               cell.population);
    } else if (cell.kind == AggregateKind::kProportion) {
      to_round(i, 0, cell.numerator_value.value_or(cell.numerator.Cardinality()), cell.numerator);
      to_round(i, 1, cell.denominator_value.value_or(cell.population.Cardinality()),
               cell.population);
    }
  }
  const std::vector<int64_t> rounded =
      rounder_->RoundAll(round_values, round_populations, threads_);
  ReleasedTable out;
  out.group_columns = t.group_columns;
  out.output_columns = t.output_columns;
  out.cells.resize(rows);
  std::vector<SubjectSet> to_record;
  absl::flat_hash_set<const void*> recorded;
  for (int r = 0; r < rows; ++r) {
    out.keys.push_back(t.rows[r].key);
    out.cells[r].reserve(cols);
    for (int c = 0; c < cols; ++c) {
      const int i = r * cols + c;
      const Cell& cell = t.rows[r].cells[c];
      if (suppressed[i]) {
        out.cells[r].push_back(CellDecision::Suppressed(rule[i]));
        continue;
      }
      switch (cell.kind) {
        case AggregateKind::kCount:
        case AggregateKind::kCountDistinct: {
          out.cells[r].push_back(CellDecision::Released(
              CellStatus::kRounded, static_cast<double>(rounded[round_at[2 * i]]), 0));
          break;
        }
        case AggregateKind::kProportion: {
          const int64_t rn = rounded[round_at[2 * i]];
          const int64_t rd = rounded[round_at[2 * i + 1]];
          if (rd <= 0) {
            // Denominator below the rounding base: no meaningful rate.
            rule[i] = Rule::kThreshold;
            suppressed[i] = true;
            out.cells[r].push_back(CellDecision::Suppressed(Rule::kThreshold));
            continue;
          }
          double rate = std::min(1.0, static_cast<double>(rn) / static_cast<double>(rd));
          out.cells[r].push_back(CellDecision::Released(
              CellStatus::kRounded, RoundToDecimals(rate, s.proportion_decimals),
              s.proportion_decimals));
          break;
        }
        default:
          out.cells[r].push_back(CellDecision::Released(
              CellStatus::kReleased, RoundToDecimals(cell.value, s.value_decimals),
              s.value_decimals));
          break;
      }
      // Each population once (the cells of a row usually share one).
      for (const SubjectSet* pop : ExposedPopulations(cell)) {
        if (recorded.insert(pop->raw()).second && !in_ledger.contains(pop->raw())) {
          to_record.push_back(*pop);
        }
      }
    }
  }

  // 7. Remember what left, durably, before returning it.
  RETURN_IF_ERROR(release_ledger_->Record(request.project, request.release_id, to_record));

  for (int r = 0; r < rows; ++r) {
    for (const CellDecision& d : out.cells[r]) {
      switch (d.status()) {
        case CellStatus::kReleased: ++out.summary.released; break;
        case CellStatus::kRounded: ++out.summary.rounded; break;
        case CellStatus::kSuppressed:
          ++out.summary.suppressed;
          ++out.summary.suppressed_by_rule[std::string(RuleName(d.rule()))];
          break;
      }
    }
  }
  out.parameters = s.Describe();
  out.parameters.emplace_back("engine_version", kSdcEngineVersion);
  out.parameters.emplace_back("relations", absl::StrCat(relations.size()));
  if (s.dp_enabled) {
    out.parameters.emplace_back("dp_count_sensitivity", absl::StrCat(dp_sensitivity));
  }
  out.relations = std::move(relations);
  return out;
}

}  // namespace datalab::sdc
