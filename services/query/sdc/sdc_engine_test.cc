// Tests of the SDC engine: every rule at its boundaries, secondary
// suppression checked by an independent recovery attack, differencing across
// the release history, rounding, differential privacy, and bad input.
#include "services/query/sdc/sdc.h"

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/sdc/seeded_random_for_test.h"

namespace datalab::sdc {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;

const std::string kKey = "0123456789abcdef0123456789abcdef-lab-secret";

Settings DefaultSettings() {
  auto s = SettingsBuilder(TrustFloor{}).SetRoundingKey(kKey, "key-1").Build();
  EXPECT_THAT(s, IsOk());
  return *s;
}

Cell Count(SubjectSet pop) {
  Cell c;
  c.kind = AggregateKind::kCount;
  c.value = static_cast<double>(pop.Cardinality());
  c.population = std::move(pop);
  return c;
}

Cell Median(SubjectSet pop, double value) {
  Cell c;
  c.kind = AggregateKind::kMedian;
  c.value = value;
  c.population = std::move(pop);
  return c;
}

// A SUM cell over consecutive subject ids starting at `first`, one per
// contribution.
Cell Sum(const std::vector<int64_t>& contributions, uint32_t first = 0) {
  Cell c;
  c.kind = AggregateKind::kSum;
  c.population = SubjectSet::Range(first, first + contributions.size());
  c.magnitudes = Magnitudes::FromContributions(contributions);
  c.value = static_cast<double>(c.magnitudes->total);
  return c;
}

Cell Rate(SubjectSet numerator, SubjectSet denominator) {
  Cell c;
  c.kind = AggregateKind::kProportion;
  c.numerator = std::move(numerator);
  c.population = std::move(denominator);
  c.value = c.population.IsEmpty()
                ? 0
                : static_cast<double>(c.numerator.Cardinality()) /
                      static_cast<double>(c.population.Cardinality());
  return c;
}

Table Column(std::vector<Cell> cells, std::string name = "n") {
  Table t;
  t.group_columns = {"g"};
  t.output_columns = {name};
  for (size_t i = 0; i < cells.size(); ++i) {
    Row r;
    r.key = {"g" + std::to_string(i)};
    r.cells.push_back(std::move(cells[i]));
    t.rows.push_back(std::move(r));
  }
  return t;
}

class SdcEngineTest : public ::testing::Test {
 protected:
  std::unique_ptr<SdcEngine> Engine(Settings s = DefaultSettings(), TrustFloor f = {}) {
    SdcEngine::Options o;
    o.settings = std::move(s);
    o.floor = f;
    o.release_ledger = &ledger_;
    o.epsilon_ledger = &epsilon_;
    o.random = &rng_;
    auto e = SdcEngine::Create(o);
    EXPECT_THAT(e, IsOk());
    return std::move(*e);
  }

  absl::StatusOr<ReleasedTable> Run(SdcEngine& engine, const Table& table,
                                    std::string project = "projects/p1",
                                    std::vector<LinearRelation> relations = {}) {
    ReleaseRequest req;
    req.project = std::move(project);
    req.release_id = "r" + std::to_string(++releases_);
    req.table = &table;
    req.relations = std::move(relations);
    return engine.Release(req);
  }

  // One cell alone in its own project: no relations, no history.
  CellDecision Decide(SdcEngine& engine, Cell cell) {
    Table t = Column({});
    Row r;
    r.key = {"only"};
    r.cells.push_back(std::move(cell));
    t.rows.push_back(std::move(r));
    auto out = Run(engine, t, "projects/solo" + std::to_string(releases_));
    EXPECT_THAT(out, IsOk());
    return out->at(0, 0);
  }

  InMemoryReleaseLedger ledger_;
  InMemoryEpsilonLedger epsilon_;
  SeededRandomForTest rng_{42};
  int releases_ = 0;
};

// ------------------------------------------------------------------ rule 1

TEST_F(SdcEngineTest, ThresholdBoundaryNineTenEleven) {
  auto engine = Engine();
  CellDecision nine = Decide(*engine, Count(SubjectSet::Range(0, 9)));
  CellDecision ten = Decide(*engine, Count(SubjectSet::Range(0, 10)));
  CellDecision eleven = Decide(*engine, Count(SubjectSet::Range(0, 11)));
  EXPECT_EQ(nine.status(), CellStatus::kSuppressed);
  EXPECT_EQ(nine.rule(), Rule::kThreshold);
  EXPECT_EQ(ten.status(), CellStatus::kRounded);
  EXPECT_EQ(ten.value(), 10.0);
  EXPECT_EQ(eleven.status(), CellStatus::kRounded);
  EXPECT_TRUE(*eleven.value() == 10.0 || *eleven.value() == 15.0);
}

TEST_F(SdcEngineTest, ThresholdAppliesToMediansMeansAndPercentiles) {
  auto engine = Engine();
  EXPECT_EQ(Decide(*engine, Median(SubjectSet::Range(0, 9), 4.5)).rule(), Rule::kThreshold);
  CellDecision median = Decide(*engine, Median(SubjectSet::Range(0, 10), 4.56));
  EXPECT_EQ(median.status(), CellStatus::kReleased);
  EXPECT_EQ(median.Text(), "4.6");

  Cell avg = Sum(std::vector<int64_t>(9, 10));
  avg.kind = AggregateKind::kAvg;
  avg.value = 10;
  EXPECT_EQ(Decide(*engine, avg).rule(), Rule::kThreshold);

  Cell pct = Median(SubjectSet::Range(0, 9), 3);
  pct.kind = AggregateKind::kPercentile;
  pct.percentile = 25;
  EXPECT_EQ(Decide(*engine, pct).rule(), Rule::kThreshold);
  pct.population = SubjectSet::Range(0, 10);
  EXPECT_EQ(Decide(*engine, pct).status(), CellStatus::kReleased);
}

// ------------------------------------------------------------------ rule 1 (rates)

TEST_F(SdcEngineTest, RatesNeedNumeratorDenominatorAndComplementOverThreshold) {
  auto engine = Engine();
  const SubjectSet fifty = SubjectSet::Range(0, 50);
  // Numerator 9 of 50: under threshold.
  CellDecision nine = Decide(*engine, Rate(SubjectSet::Range(0, 9), fifty));
  EXPECT_EQ(nine.rule(), Rule::kThreshold);
  // Numerator 10 of 50: released, computed from the rounded counts.
  CellDecision ten = Decide(*engine, Rate(SubjectSet::Range(0, 10), fifty));
  EXPECT_EQ(ten.status(), CellStatus::kRounded);
  EXPECT_EQ(ten.value(), 0.2);
  EXPECT_EQ(ten.Text(), "0.200");
  // Denominator 9: under threshold whatever the numerator.
  EXPECT_EQ(Decide(*engine, Rate(SubjectSet::Range(0, 5), SubjectSet::Range(0, 9))).rule(),
            Rule::kThreshold);
  // 41 of 50: the 9 without the attribute are a small cell.
  EXPECT_EQ(Decide(*engine, Rate(SubjectSet::Range(0, 41), fifty)).rule(), Rule::kThreshold);
  // 40 of 50: complement 10, released.
  CellDecision forty = Decide(*engine, Rate(SubjectSet::Range(0, 40), fifty));
  EXPECT_EQ(forty.status(), CellStatus::kRounded);
  EXPECT_EQ(forty.value(), 0.8);
}

TEST_F(SdcEngineTest, RateValuesAreComputedFromRoundedCounts) {
  auto engine = Engine();
  // 13 of 37 sessions-style rate: the released value is round(13)/round(37).
  CellDecision d = Decide(*engine, Rate(SubjectSet::Range(0, 13), SubjectSet::Range(0, 37)));
  ASSERT_EQ(d.status(), CellStatus::kRounded);
  std::vector<double> possible;
  for (double n : {10.0, 15.0}) {
    for (double m : {35.0, 40.0}) possible.push_back(std::round(n / m * 1000) / 1000);
  }
  EXPECT_THAT(possible, Contains(*d.value()));
}

// ------------------------------------------------------------------ rule 2

TEST_F(SdcEngineTest, ClassDisclosureZeroAndHundredPercent) {
  auto engine = Engine();
  const SubjectSet fifty = SubjectSet::Range(0, 50);
  EXPECT_EQ(Decide(*engine, Rate(SubjectSet{}, fifty)).rule(), Rule::kClassDisclosure);
  EXPECT_EQ(Decide(*engine, Rate(fifty, fifty)).rule(), Rule::kClassDisclosure);
  EXPECT_EQ(Decide(*engine, Count(SubjectSet{})).rule(), Rule::kClassDisclosure);
}

TEST_F(SdcEngineTest, StructuralZerosReleasedWhenAllowed) {
  auto s = SettingsBuilder(TrustFloor{})
               .SetRoundingKey(kKey, "key-1")
               .SetAllowStructuralZeros(true)
               .Build();
  ASSERT_THAT(s, IsOk());
  auto engine = Engine(*s);
  const SubjectSet fifty = SubjectSet::Range(0, 50);
  CellDecision zero = Decide(*engine, Rate(SubjectSet{}, fifty));
  EXPECT_EQ(zero.status(), CellStatus::kRounded);
  EXPECT_EQ(zero.value(), 0.0);
  CellDecision all = Decide(*engine, Rate(fifty, fifty));
  EXPECT_EQ(all.status(), CellStatus::kRounded);
  EXPECT_EQ(all.value(), 1.0);
  CellDecision count = Decide(*engine, Count(SubjectSet{}));
  EXPECT_EQ(count.status(), CellStatus::kRounded);
  EXPECT_EQ(count.value(), 0.0);
  // The threshold still protects small denominators.
  EXPECT_EQ(Decide(*engine, Rate(SubjectSet{}, SubjectSet::Range(0, 9))).rule(),
            Rule::kThreshold);
}

TEST_F(SdcEngineTest, AllZeroSumIsClassDisclosure) {
  auto engine = Engine();
  EXPECT_EQ(Decide(*engine, Sum(std::vector<int64_t>(12, 0))).rule(),
            Rule::kClassDisclosure);
}

// ------------------------------------------------------------------ rule 3

// 12 contributors, total 1000, the two largest hold `top_two` of it.
Cell SumWithTopTwo(int64_t top_two) {
  std::vector<int64_t> v = {500, top_two - 500};
  int64_t rest = 1000 - top_two;
  for (int i = 0; i < 10; ++i) v.push_back(rest / 10 + (i < rest % 10 ? 1 : 0));
  return Sum(v);
}

TEST_F(SdcEngineTest, DominanceBoundary899_900_901) {
  auto engine = Engine();
  EXPECT_EQ(Decide(*engine, SumWithTopTwo(899)).status(), CellStatus::kReleased);
  EXPECT_EQ(Decide(*engine, SumWithTopTwo(900)).status(), CellStatus::kReleased);
  CellDecision over = Decide(*engine, SumWithTopTwo(901));
  EXPECT_EQ(over.status(), CellStatus::kSuppressed);
  EXPECT_EQ(over.rule(), Rule::kDominance);
  EXPECT_FALSE(over.value().has_value());
}

TEST_F(SdcEngineTest, DominanceIsExactForDecimalContributions) {
  auto engine = Engine();
  // 50.0 + 40.0 of 100.0 is exactly 90%: released. In binary floating point
  // 0.9 * 100 is not exactly 90; fixed point makes the boundary exact.
  std::vector<double> values = {50.0, 40.0};
  for (int i = 0; i < 10; ++i) values.push_back(1.0);
  auto m = Magnitudes::FromDoubles(values, 1);
  ASSERT_THAT(m, IsOk());
  Cell c;
  c.kind = AggregateKind::kAvg;
  c.population = SubjectSet::Range(0, 12);
  c.magnitudes = *m;
  c.value = 100.0 / 12;
  EXPECT_EQ(Decide(*engine, c).status(), CellStatus::kReleased);
  values[1] = 40.1;  // 90.1 / 100.1 = 90.01%
  m = Magnitudes::FromDoubles(values, 1);
  ASSERT_THAT(m, IsOk());
  c.magnitudes = *m;
  EXPECT_EQ(Decide(*engine, c).rule(), Rule::kDominance);
}

// ------------------------------------------------------------------ rule 4

// Largest 1000, second 500, remainder `rest` spread over 10 more: the p% rule
// compares rest with 10% of 1000.
Cell SumWithRemainder(int64_t rest) {
  std::vector<int64_t> v = {1000, 500};
  for (int i = 0; i < 10; ++i) v.push_back(rest / 10 + (i < rest % 10 ? 1 : 0));
  return Sum(v);
}

TEST_F(SdcEngineTest, PPercentBoundary99_100_101) {
  // With n=2, k=90% the dominance rule already implies p=10%, so isolate the
  // p% rule under a floor that allows k=100%.
  TrustFloor floor;
  floor.max_dominance_k_basis_points = 10000;
  auto s = SettingsBuilder(floor).SetRoundingKey(kKey, "key-1").SetDominance(2, 10000).Build();
  ASSERT_THAT(s, IsOk());
  auto engine = Engine(*s, floor);
  CellDecision under = Decide(*engine, SumWithRemainder(99));  // 9.9%
  EXPECT_EQ(under.rule(), Rule::kPPercent);
  EXPECT_EQ(Decide(*engine, SumWithRemainder(100)).status(), CellStatus::kReleased);  // 10%
  EXPECT_EQ(Decide(*engine, SumWithRemainder(101)).status(), CellStatus::kReleased);  // 10.1%
}

TEST_F(SdcEngineTest, DefaultRulesSuppressTheSameSumsAsDominance) {
  auto engine = Engine();
  EXPECT_EQ(Decide(*engine, SumWithRemainder(99)).rule(), Rule::kDominance);
}

// ------------------------------------------------------------------ rule 5

TEST_F(SdcEngineTest, MinMaxAndExtremePercentilesNeverReleased) {
  auto engine = Engine();
  Cell c = Median(SubjectSet::Range(0, 100), 7);
  c.kind = AggregateKind::kMax;
  EXPECT_EQ(Decide(*engine, c).rule(), Rule::kMinMaxForbidden);
  c.kind = AggregateKind::kMin;
  EXPECT_EQ(Decide(*engine, c).rule(), Rule::kMinMaxForbidden);
  c.kind = AggregateKind::kPercentile;
  c.percentile = 100;
  EXPECT_EQ(Decide(*engine, c).rule(), Rule::kMinMaxForbidden);
  c.percentile = 0;
  EXPECT_EQ(Decide(*engine, c).rule(), Rule::kMinMaxForbidden);
  c.percentile = 90;
  EXPECT_EQ(Decide(*engine, c).status(), CellStatus::kReleased);
}

// ------------------------------------------------------------------ rule 6

// GROUP BY school, fsm WITH ROLLUP. Detail populations are disjoint ranges;
// margins are their unions.
struct TwoWay {
  Table table;
  std::map<std::pair<std::string, std::string>, int> row_of;  // "" = all
};

TwoWay SchoolByFsm(const std::map<std::pair<std::string, std::string>, int>& sizes,
                   bool with_margins) {
  TwoWay w;
  w.table.group_columns = {"school", "fsm"};
  w.table.output_columns = {"pupils"};
  std::map<std::pair<std::string, std::string>, SubjectSet> pops;
  uint32_t next = 0;
  for (const auto& [key, n] : sizes) {
    SubjectSet s = SubjectSet::Range(next, next + n);
    next += 1000;
    pops[key] = s;
    if (with_margins) {
      pops[{key.first, ""}].UnionWith(s);
      pops[{"", key.second}].UnionWith(s);
      pops[{"", ""}].UnionWith(s);
    }
  }
  // Detail rows first, then margins.
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& [key, pop] : pops) {
      bool margin = key.first.empty() || key.second.empty();
      if (margin != (pass == 1)) continue;
      Row r;
      r.key = {key.first.empty() ? std::nullopt : std::optional<std::string>(key.first),
               key.second.empty() ? std::nullopt : std::optional<std::string>(key.second)};
      r.cells.push_back(Count(pop));
      w.row_of[key] = w.table.rows.size();
      w.table.rows.push_back(std::move(r));
    }
  }
  return w;
}

TEST_F(SdcEngineTest, SecondarySuppressionOnTwoWayTableWithMargins) {
  auto engine = Engine();
  TwoWay w = SchoolByFsm({{{"A", "Y"}, 5}, {{"A", "N"}, 40},
                          {{"B", "Y"}, 30}, {{"B", "N"}, 35},
                          {{"C", "Y"}, 25}, {{"C", "N"}, 50}},
                         /*with_margins=*/true);
  auto out = Run(*engine, w.table);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->at(w.row_of[{"A", "Y"}], 0).rule(), Rule::kThreshold);
  EXPECT_GE(out->summary.suppressed_by_rule["secondary"], 1);
  // A rectangle: (A,Y), one partner in the Y column, and the two school
  // margins (A's margin is also A,N plus 5 pupils: differencing).
  EXPECT_EQ(out->summary.suppressed, 4);

  // The attacker, with every relation the engine knew and those a
  // researcher can read off the ROLLUP rows, recovers nothing.
  EXPECT_THAT(AttemptRecovery(*out, out->relations), IsEmpty());
  EXPECT_THAT(AttemptRecovery(*out, RollupRelations(w.table)), IsEmpty());

  // The checker itself works: with only the primary suppression it finds
  // the small cell.
  std::vector<std::vector<bool>> primary_only(w.table.rows.size(), {true});
  primary_only[w.row_of[{"A", "Y"}]][0] = false;
  EXPECT_THAT(AttemptRecovery(primary_only, RollupRelations(w.table)),
              Contains(CellRef{w.row_of[{"A", "Y"}], 0}));
}

TEST_F(SdcEngineTest, SecondarySuppressionWithGivenRelationsAndKnownTotals) {
  auto engine = Engine();
  // 2x2 detail table; the planner says each school's total is public.
  TwoWay w = SchoolByFsm({{{"A", "Y"}, 5}, {{"A", "N"}, 40},
                          {{"B", "Y"}, 30}, {{"B", "N"}, 35}},
                         /*with_margins=*/false);
  std::vector<LinearRelation> rel = {
      {std::nullopt, {CellRef{w.row_of[{"A", "Y"}], 0}, CellRef{w.row_of[{"A", "N"}], 0}}},
      {std::nullopt, {CellRef{w.row_of[{"B", "Y"}], 0}, CellRef{w.row_of[{"B", "N"}], 0}}},
  };
  auto out = Run(*engine, w.table, "projects/p1", rel);
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->at(w.row_of[{"A", "Y"}], 0).rule(), Rule::kThreshold);
  EXPECT_EQ(out->at(w.row_of[{"A", "N"}], 0).rule(), Rule::kSecondary);
  EXPECT_THAT(AttemptRecovery(*out, out->relations), IsEmpty());
  EXPECT_THAT(AttemptRecovery(*out, rel), IsEmpty());
}

TEST_F(SdcEngineTest, MarginsReleasedEarlierAreImplicitRelations) {
  auto engine = Engine();
  // Release 1: pupils per school.
  TwoWay detail = SchoolByFsm({{{"A", "Y"}, 0}, {{"A", "N"}, 40},
                               {{"B", "Y"}, 30}, {{"B", "N"}, 35}},
                              /*with_margins=*/false);
  auto pop = [&](const std::string& school, const std::string& fsm) {
    return detail.table.rows[detail.row_of[{school, fsm}]].cells[0].population;
  };
  Table by_school = Column({Count(pop("A", "Y").Union(pop("A", "N"))),
                            Count(pop("B", "Y").Union(pop("B", "N")))});
  ASSERT_THAT(Run(*engine, by_school, "projects/history"), IsOk());

  // Release 2: school x FSM. (A, Y) is a zero: class disclosure, and school
  // A's earlier total minus (A, N) would give it away, so (A, N) goes too.
  auto out = Run(*engine, detail.table, "projects/history");
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->at(detail.row_of[{"A", "Y"}], 0).rule(), Rule::kClassDisclosure);
  EXPECT_EQ(out->at(detail.row_of[{"A", "N"}], 0).rule(), Rule::kSecondary);
  EXPECT_THAT(AttemptRecovery(*out, out->relations), IsEmpty());

  // Without that history, (A, N) is not needed for A's sake; only the
  // (public) column total forces one partner, the smallest cell.
  auto fresh = Run(*engine, detail.table, "projects/fresh");
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(fresh->at(detail.row_of[{"A", "Y"}], 0).rule(), Rule::kClassDisclosure);
  EXPECT_EQ(fresh->at(detail.row_of[{"B", "Y"}], 0).rule(), Rule::kSecondary);
  EXPECT_FALSE(fresh->at(detail.row_of[{"A", "N"}], 0).suppressed());
  EXPECT_EQ(fresh->summary.suppressed, 2);
}

TEST_F(SdcEngineTest, RandomTwoWayTablesNeverLeaveARecoverableCell) {
  auto engine = Engine();
  std::mt19937 gen(20261123);  // fixed seed: reproducible
  for (int trial = 0; trial < 60; ++trial) {
    std::map<std::pair<std::string, std::string>, int> sizes;
    const int schools = 2 + gen() % 4, groups = 2 + gen() % 3;
    for (int a = 0; a < schools; ++a) {
      for (int b = 0; b < groups; ++b) {
        // Mostly large cells, some under the threshold, some zeros.
        int n = gen() % 5 == 0 ? gen() % 10 : 10 + gen() % 60;
        sizes[{std::string(1, 'A' + a), std::string(1, 'p' + b)}] = n;
      }
    }
    TwoWay w = SchoolByFsm(sizes, /*with_margins=*/gen() % 2 == 0);
    auto out = Run(*engine, w.table, "projects/random" + std::to_string(trial));
    ASSERT_THAT(out, IsOk());
    EXPECT_THAT(AttemptRecovery(*out, out->relations), IsEmpty()) << "trial " << trial;
    for (const auto& [key, n] : sizes) {
      if (n < 10) {
        EXPECT_TRUE(out->at(w.row_of[key], 0).suppressed()) << "trial " << trial;
      }
    }
  }
}

TEST_F(SdcEngineTest, LargeRollupTableStaysSafe) {
  auto engine = Engine();
  std::mt19937 gen(7);
  std::map<std::pair<std::string, std::string>, int> sizes;
  for (int a = 0; a < 40; ++a) {
    for (int b = 0; b < 5; ++b) {
      sizes[{"s" + std::to_string(100 + a), std::string(1, 'p' + b)}] =
          gen() % 8 == 0 ? gen() % 10 : 10 + gen() % 90;
    }
  }
  TwoWay w = SchoolByFsm(sizes, /*with_margins=*/true);
  auto out = Run(*engine, w.table, "projects/large");
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(AttemptRecovery(*out, out->relations), IsEmpty());
  EXPECT_LT(out->summary.suppressed, static_cast<int>(w.table.rows.size()) / 2);
}

TEST_F(SdcEngineTest, TableTotalFromTheLedgerIsKnownEvenWhenNotAssumed) {
  TrustFloor floor;
  floor.column_totals_known_required = false;
  auto s = SettingsBuilder(floor)
               .SetRoundingKey(kKey, "key-1")
               .SetTreatColumnTotalsAsKnown(false)
               .Build();
  ASSERT_THAT(s, IsOk());
  auto engine = Engine(*s, floor);
  std::vector<Cell> cells = {Count(SubjectSet::Range(0, 5)), Count(SubjectSet::Range(100, 140)),
                             Count(SubjectSet::Range(200, 250))};
  SubjectSet all = SubjectSet::Range(0, 5);
  all.UnionWith(SubjectSet::Range(100, 140));
  all.UnionWith(SubjectSet::Range(200, 250));

  // No history, totals not assumed public: nothing forces a partner.
  auto fresh = Run(*engine, Column(cells), "projects/nt1");
  ASSERT_THAT(fresh, IsOk());
  EXPECT_EQ(fresh->summary.suppressed, 1);

  // The project released the overall total before: a partner is needed.
  ASSERT_THAT(Run(*engine, Column({Count(all)}), "projects/nt2"), IsOk());
  auto later = Run(*engine, Column(cells), "projects/nt2");
  ASSERT_THAT(later, IsOk());
  EXPECT_EQ(later->at(0, 0).rule(), Rule::kThreshold);
  EXPECT_EQ(later->at(1, 0).rule(), Rule::kSecondary);  // the smaller partner
  EXPECT_FALSE(later->at(2, 0).suppressed());
  EXPECT_THAT(AttemptRecovery(*later, later->relations), IsEmpty());
}

TEST_F(SdcEngineTest, OnlyDisjointCellsFormAMargin) {
  // The column total is a sum of its cells only when no pupil is counted
  // in two of them (one row per pupil per group). With disjoint cells the
  // known total forces a partner for the small cell; when two cells share
  // pupils (several rows per pupil) the total is no sum of them and nothing
  // more is suppressed.
  auto engine = Engine();
  auto disjoint = Run(*engine,
                      Column({Count(SubjectSet::Range(0, 5)), Count(SubjectSet::Range(100, 140)),
                              Count(SubjectSet::Range(200, 250))}),
                      "projects/disjoint");
  ASSERT_THAT(disjoint, IsOk());
  EXPECT_EQ(disjoint->at(0, 0).rule(), Rule::kThreshold);
  EXPECT_EQ(disjoint->at(1, 0).rule(), Rule::kSecondary);
  EXPECT_THAT(AttemptRecovery(*disjoint, disjoint->relations), IsEmpty());

  auto overlapping = Run(*engine,
                         Column({Count(SubjectSet::Range(0, 5)), Count(SubjectSet::Range(100, 140)),
                                 Count(SubjectSet::Range(120, 170))}),
                         "projects/overlapping");
  ASSERT_THAT(overlapping, IsOk());
  EXPECT_EQ(overlapping->at(0, 0).rule(), Rule::kThreshold);
  EXPECT_FALSE(overlapping->at(1, 0).suppressed());
  EXPECT_FALSE(overlapping->at(2, 0).suppressed());
}

TEST_F(SdcEngineTest, AnInTableCellEqualToAGroupsUnionIsItsTotal) {
  // Row (s2, z) sums exactly the pupils of (s1, x) and (s1, y): it is their
  // total, so with (s1, x) dominated one more cell of that relation must
  // go, or (s2, z) - (s1, y) gives (s1, x) away. (Populations differ by
  // more than the differencing window, so only the relation can catch it.)
  auto engine = Engine();
  std::vector<int64_t> x(20, 1);
  x[0] = 1000;
  const std::vector<int64_t> y(30, 10);
  std::vector<int64_t> z = x;
  z.insert(z.end(), y.begin(), y.end());
  Cell total;
  total.kind = AggregateKind::kSum;
  total.population = SubjectSet::Range(0, 20).Union(SubjectSet::Range(100, 130));
  total.magnitudes = Magnitudes::FromContributions(z);
  total.value = static_cast<double>(total.magnitudes->total);
  Table t;
  t.group_columns = {"school", "group"};
  t.output_columns = {"total"};
  auto add = [&](std::string a, std::string b, Cell cell) {
    Row r;
    r.key = {std::move(a), std::move(b)};
    r.cells.push_back(std::move(cell));
    t.rows.push_back(std::move(r));
  };
  add("s1", "x", Sum(x, 0));
  add("s1", "y", Sum(y, 100));
  add("s2", "z", total);
  auto out = Run(*engine, t, "projects/intable");
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->at(0, 0).rule(), Rule::kDominance);
  EXPECT_TRUE(out->at(1, 0).suppressed() || out->at(2, 0).suppressed());
  EXPECT_THAT(AttemptRecovery(*out, out->relations), IsEmpty());
}

// ------------------------------------------------------------------ rule 7

TEST_F(SdcEngineTest, DifferencingCohortMinusOneToNineSuppressedMinusTenReleased) {
  auto engine = Engine();
  const SubjectSet cohort = SubjectSet::Range(0, 100);
  auto first = Run(*engine, Column({Count(cohort)}), "projects/d");
  ASSERT_THAT(first, IsOk());
  EXPECT_FALSE(first->at(0, 0).suppressed());
  EXPECT_EQ(ledger_.Size("projects/d"), 1u);
  for (uint32_t k = 1; k <= 9; ++k) {
    auto out = Run(*engine, Column({Count(SubjectSet::Range(k, 100))}), "projects/d");
    ASSERT_THAT(out, IsOk());
    EXPECT_EQ(out->at(0, 0).rule(), Rule::kDifferencing) << "minus " << k;
    EXPECT_EQ(ledger_.Size("projects/d"), 1u) << "suppressed cells are not recorded";
  }
  auto ten = Run(*engine, Column({Count(SubjectSet::Range(10, 100))}), "projects/d");
  ASSERT_THAT(ten, IsOk());
  EXPECT_FALSE(ten->at(0, 0).suppressed());
  EXPECT_EQ(ledger_.Size("projects/d"), 2u);

  // Another project's history does not leak across.
  auto other = Run(*engine, Column({Count(SubjectSet::Range(1, 100))}), "projects/other");
  ASSERT_THAT(other, IsOk());
  EXPECT_FALSE(other->at(0, 0).suppressed());
}

TEST_F(SdcEngineTest, DifferencingAppliesToEveryKindAndToRateNumerators) {
  auto engine = Engine();
  ASSERT_THAT(Run(*engine, Column({Count(SubjectSet::Range(0, 100))}), "projects/k"), IsOk());
  auto median = Run(*engine, Column({Median(SubjectSet::Range(0, 97), 5)}), "projects/k");
  ASSERT_THAT(median, IsOk());
  EXPECT_EQ(median->at(0, 0).rule(), Rule::kDifferencing);
  // A rate whose numerator is the cohort minus 2.
  auto rate = Run(*engine, Column({Rate(SubjectSet::Range(2, 100), SubjectSet::Range(0, 200))}),
                  "projects/k");
  ASSERT_THAT(rate, IsOk());
  EXPECT_EQ(rate->at(0, 0).rule(), Rule::kDifferencing);
}

TEST_F(SdcEngineTest, PaddedTrackerIsCaughtInBothOrders) {
  auto engine = Engine();
  const SubjectSet target = SubjectSet::Range(5000, 5003);  // 3 pupils
  const SubjectSet padding = SubjectSet::Range(0, 50);
  const SubjectSet padded = target.Union(padding);

  ASSERT_THAT(Run(*engine, Column({Count(padded)}), "projects/t1"), IsOk());
  auto then_padding = Run(*engine, Column({Count(padding)}), "projects/t1");
  ASSERT_THAT(then_padding, IsOk());
  EXPECT_EQ(then_padding->at(0, 0).rule(), Rule::kDifferencing);

  ASSERT_THAT(Run(*engine, Column({Count(padding)}), "projects/t2"), IsOk());
  auto then_padded = Run(*engine, Column({Count(padded)}), "projects/t2");
  ASSERT_THAT(then_padded, IsOk());
  EXPECT_EQ(then_padded->at(0, 0).rule(), Rule::kDifferencing);

  // Swapping the small set (neither contains the other): |A Δ B| = 6.
  ASSERT_THAT(Run(*engine, Column({Count(padded)}), "projects/t3"), IsOk());
  auto swapped = Run(*engine, Column({Count(padding.Union(SubjectSet::Range(6000, 6003)))}),
                     "projects/t3");
  ASSERT_THAT(swapped, IsOk());
  EXPECT_EQ(swapped->at(0, 0).rule(), Rule::kDifferencing);
}

TEST_F(SdcEngineTest, DifferencingWithinOneRelease) {
  auto engine = Engine();
  auto out = Run(*engine,
                 Column({Count(SubjectSet::Range(0, 100)), Count(SubjectSet::Range(0, 97))}),
                 "projects/w");
  ASSERT_THAT(out, IsOk());
  EXPECT_FALSE(out->at(0, 0).suppressed());
  EXPECT_EQ(out->at(1, 0).rule(), Rule::kDifferencing);
}

TEST_F(SdcEngineTest, DifferencingScalesToAManyCellHistory) {
  auto engine = Engine();
  // 2000 earlier cells of many sizes; only those within 9 of the new size are
  // examined by the cardinality prefilter.
  std::vector<SubjectSet> history;
  for (uint32_t i = 0; i < 2000; ++i) history.push_back(SubjectSet::Range(i * 7, i * 7 + 10 + i));
  ASSERT_THAT(ledger_.Record("projects/big", "seed", history), IsOk());
  int visited = 0;
  ASSERT_THAT(ledger_.ForEachInCardinalityRange("projects/big", 1000 - 9, 1000 + 9,
                                                [&](const SubjectSet&) {
                                                  ++visited;
                                                  return true;
                                                }),
              IsOk());
  EXPECT_EQ(visited, 19);
  // New cell equal to an earlier one minus 4 pupils.
  auto out = Run(*engine, Column({Count(SubjectSet::Range(990 * 7 + 4, 990 * 7 + 1000))}),
                 "projects/big");
  ASSERT_THAT(out, IsOk());
  EXPECT_EQ(out->at(0, 0).rule(), Rule::kDifferencing);
}

// ------------------------------------------------------------------ rule 8

TEST_F(SdcEngineTest, RoundingIsToTheBaseAndDeterministicPerPopulation) {
  auto engine = Engine();
  auto engine2 = Engine();
  std::vector<Cell> cells;
  for (uint32_t i = 0; i < 20; ++i) cells.push_back(Count(SubjectSet::Range(i * 1000, i * 1000 + 11 + i)));
  Table t = Column(cells);
  auto a = Run(*engine, t, "projects/r1");
  auto b = Run(*engine2, t, "projects/r2");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  for (int r = 0; r < 20; ++r) {
    ASSERT_EQ(a->at(r, 0).status(), CellStatus::kRounded);
    double v = *a->at(r, 0).value();
    EXPECT_EQ(std::fmod(v, 5.0), 0.0);
    EXPECT_LT(std::abs(v - (11 + r)), 5);
    EXPECT_EQ(v, *b->at(r, 0).value()) << "same cell, same rounding";
  }
  // Re-querying the same population in the same project gives the same value.
  auto again = Run(*engine, t, "projects/r1");
  ASSERT_THAT(again, IsOk());
  for (int r = 0; r < 20; ++r) EXPECT_EQ(*again->at(r, 0).value(), *a->at(r, 0).value());
}

TEST_F(SdcEngineTest, NonCountsShownToFixedPrecision) {
  auto engine = Engine();
  CellDecision d = Decide(*engine, Median(SubjectSet::Range(0, 20), 47.25));
  EXPECT_EQ(d.status(), CellStatus::kReleased);
  EXPECT_EQ(d.decimals(), 1);
  EXPECT_EQ(d.Text(), "47.3");  // half away from zero
}

// ------------------------------------------------------------------ rule 9

Settings DpSettings(int64_t epsilon_micros) {
  auto s = SettingsBuilder(TrustFloor{})
               .SetRoundingKey(kKey, "key-1")
               .SetDifferentialPrivacy(epsilon_micros)
               .Build();
  EXPECT_THAT(s, IsOk());
  return *s;
}

TEST_F(SdcEngineTest, DpLedgerRefusesOverBudgetBeforeRelease) {
  auto engine = Engine(DpSettings(400'000));
  epsilon_.SetBudget("projects/dp", 1'000'000);
  Table t = Column({Count(SubjectSet::Range(0, 100)), Count(SubjectSet::Range(1000, 1050))});
  ASSERT_THAT(Run(*engine, t, "projects/dp"), IsOk());
  ASSERT_THAT(Run(*engine, t, "projects/dp"), IsOk());
  const size_t recorded = ledger_.Size("projects/dp");
  auto third = Run(*engine, t, "projects/dp");
  EXPECT_THAT(third, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_EQ(ledger_.Size("projects/dp"), recorded);
  auto budget = epsilon_.Get("projects/dp");
  ASSERT_THAT(budget, IsOk());
  EXPECT_EQ(budget->spent_micros, 800'000);

  // A project without a DP budget cannot release at all.
  EXPECT_THAT(Run(*engine, t, "projects/no-budget"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(SdcEngineTest, DpNoiseIsAddedBeforeRoundingAndAveragesOut) {
  auto engine = Engine(DpSettings(500'000));  // scale 2
  epsilon_.SetBudget("projects/noise", 1'000'000'000);
  const SubjectSet pop = SubjectSet::Range(0, 100);
  std::map<double, int> seen;
  double sum = 0;
  const int kN = 300;
  for (int i = 0; i < kN; ++i) {
    auto out = Run(*engine, Column({Count(pop)}), "projects/noise");
    ASSERT_THAT(out, IsOk());
    double v = *out->at(0, 0).value();
    EXPECT_EQ(std::fmod(v, 5.0), 0.0);
    ++seen[v];
    sum += v;
  }
  EXPECT_GE(seen.size(), 2u);  // noise moved some releases off 100
  // Loose: the keyed rounding of each noisy value is fixed, not random.
  EXPECT_NEAR(sum / kN, 100.0, 3.0);
}

TEST_F(SdcEngineTest, DpSensitivityFromOverlappingCellsAndRowCounts) {
  auto engine = Engine(DpSettings(100'000));
  epsilon_.SetBudget("projects/s", 10'000'000);
  // The same pupils in two cells: sensitivity 2.
  Table overlap = Column({Count(SubjectSet::Range(0, 100)), Count(SubjectSet::Range(50, 150))});
  auto out = Run(*engine, overlap, "projects/s");
  ASSERT_THAT(out, IsOk());
  EXPECT_THAT(out->parameters, Contains(Pair("dp_count_sensitivity", "2")));

  // COUNT(*) of rows (more rows than pupils) needs the plan's sensitivity.
  Cell rows = Count(SubjectSet::Range(0, 100));
  rows.value = 250;
  Table t = Column({rows});
  EXPECT_THAT(Run(*engine, t, "projects/s"),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       HasSubstr("dp_count_sensitivity")));
  ReleaseRequest req;
  req.project = "projects/s";
  req.release_id = "rows";
  req.table = &t;
  req.dp_count_sensitivity = 3;
  auto ok = engine->Release(req);
  ASSERT_THAT(ok, IsOk());
  EXPECT_THAT(ok->parameters, Contains(Pair("dp_count_sensitivity", "3")));
}

// ------------------------------------------------------------------ output

TEST_F(SdcEngineTest, SummaryParametersAndSuppressedCellsCarryNoValue) {
  auto engine = Engine();
  auto out = Run(*engine, Column({Count(SubjectSet::Range(0, 7)), Count(SubjectSet::Range(100, 150)),
                                  Count(SubjectSet::Range(200, 260))}),
                 "projects/sum");
  ASSERT_THAT(out, IsOk());
  const CellDecision& small = out->at(0, 0);
  EXPECT_TRUE(small.suppressed());
  EXPECT_FALSE(small.value().has_value());
  EXPECT_EQ(small.Text(), "[c]");
  EXPECT_EQ(out->summary.suppressed, 2);  // threshold + its secondary partner
  EXPECT_EQ(out->summary.rounded, 1);
  EXPECT_THAT(out->summary.suppressed_by_rule,
              ElementsAre(Pair("secondary", 1), Pair("threshold", 1)));
  EXPECT_THAT(out->parameters, Contains(Pair("engine_version", kSdcEngineVersion)));
  EXPECT_THAT(out->parameters, Contains(Pair("threshold", "10")));
  for (const auto& [k, v] : out->parameters) EXPECT_THAT(v, Not(HasSubstr(kKey)));
  EXPECT_EQ(RuleName(Rule::kPPercent), "p_percent");
  EXPECT_EQ(CellStatusName(CellStatus::kRounded), "ROUNDED");
}

// ------------------------------------------------------------------ bad input

TEST_F(SdcEngineTest, MalformedInputIsRejectedWithoutValues) {
  auto engine = Engine();
  // COUNT value inconsistent with its population; the value is not echoed.
  Cell c = Count(SubjectSet::Range(0, 3));
  c.value = 1;
  Table t = Column({c}, "pupils");
  auto s = Run(*engine, t);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("row 0"), HasSubstr("'pupils'"))));

  Cell frac = Count(SubjectSet::Range(0, 30));
  frac.value = 30.5;
  EXPECT_THAT(Run(*engine, Column({frac})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("non-negative integer"), Not(HasSubstr("30.5")))));

  Cell sum;
  sum.kind = AggregateKind::kSum;
  sum.population = SubjectSet::Range(0, 20);
  sum.value = 123456;
  EXPECT_THAT(Run(*engine, Column({sum})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("magnitudes"), Not(HasSubstr("123456")))));

  Cell unsorted = Sum(std::vector<int64_t>(12, 5));
  unsorted.magnitudes->largest = {1, 9};
  EXPECT_THAT(Run(*engine, Column({unsorted})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("descending")));

  EXPECT_THAT(Run(*engine, Column({Rate(SubjectSet::Range(0, 20), SubjectSet::Range(10, 60))})),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("numerator")));

  Table ragged = Column({Count(SubjectSet::Range(0, 20))});
  ragged.rows[0].cells.push_back(Count(SubjectSet::Range(0, 20)));
  EXPECT_THAT(Run(*engine, ragged),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 0")));

  Table ok = Column({Count(SubjectSet::Range(0, 20))});
  EXPECT_THAT(Run(*engine, ok, "projects/p1", {{std::nullopt, {CellRef{3, 0}}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("relation 0")));
  EXPECT_THAT(Run(*engine, ok, "projects/p1", {{CellRef{0, 0}, {CellRef{0, 0}}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("twice")));
  EXPECT_THAT(Run(*engine, ok, "projects/p1", {{std::nullopt, {}}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no parts")));
  EXPECT_THAT(Run(*engine, ok, ""), StatusIs(absl::StatusCode::kInvalidArgument));

  ReleaseRequest no_table;
  no_table.project = "p";
  no_table.release_id = "r";
  EXPECT_THAT(engine->Release(no_table), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(SdcEngineTest, CreateRefusesMissingCollaboratorsAndLooseSettings) {
  SdcEngine::Options o;
  o.settings = DefaultSettings();
  EXPECT_THAT(SdcEngine::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("release_ledger")));
  o.release_ledger = &ledger_;
  o.settings = DpSettings(100'000);
  EXPECT_THAT(SdcEngine::Create(o), StatusIs(absl::StatusCode::kInvalidArgument,
                                             HasSubstr("dp_enabled")));
  o.settings = DefaultSettings();
  o.settings.threshold = 5;  // bypassing the builder is still caught
  EXPECT_THAT(SdcEngine::Create(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threshold")));
}

TEST_F(SdcEngineTest, RandomFailureAfterDebitReleasesNothing) {
  FailingRandomForTest failing;
  SdcEngine::Options o;
  o.settings = DpSettings(100'000);
  o.release_ledger = &ledger_;
  o.epsilon_ledger = &epsilon_;
  o.random = &failing;
  auto engine = SdcEngine::Create(o);
  ASSERT_THAT(engine, IsOk());
  epsilon_.SetBudget("projects/f", 1'000'000);
  EXPECT_THAT(Run(**engine, Column({Count(SubjectSet::Range(0, 50))}), "projects/f"),
              StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(ledger_.Size("projects/f"), 0u);
}

}  // namespace
}  // namespace datalab::sdc
