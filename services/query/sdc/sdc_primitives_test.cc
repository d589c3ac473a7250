// Tests of the SDC building blocks: subject sets, settings and the trust
// floor, keyed rounding, the exact discrete Laplace sampler, the ledgers.
#include <algorithm>
#include <cmath>
#include <deque>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/sdc/ledger.h"
#include "services/query/sdc/noise.h"
#include "services/query/sdc/population_index.h"
#include "services/query/sdc/rounding.h"
#include "services/query/sdc/seeded_random_for_test.h"
#include "services/query/sdc/settings.h"
#include "services/query/sdc/subject_set.h"

namespace datalab::sdc {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kKey(32, 'k');

// ---------------------------------------------------------------- SubjectSet

TEST(SubjectSetTest, CardinalityOnlyAlgebra) {
  SubjectSet a = SubjectSet::Range(0, 100);
  SubjectSet b = SubjectSet::Range(95, 110);
  EXPECT_EQ(a.Cardinality(), 100u);
  EXPECT_EQ(a.AndCardinality(b), 5u);
  EXPECT_EQ(a.AndNotCardinality(b), 95u);
  EXPECT_EQ(b.AndNotCardinality(a), 10u);
  EXPECT_EQ(a.XorCardinality(b), 105u);
  EXPECT_FALSE(b.IsSubsetOf(a));
  EXPECT_TRUE(SubjectSet::Range(10, 20).IsSubsetOf(a));
  EXPECT_EQ(a.Union(b).Cardinality(), 110u);
  EXPECT_EQ(a.Difference(b).Cardinality(), 95u);
}

TEST(SubjectSetTest, CopyIsDeepAndMoveLeavesEmpty) {
  SubjectSet a{1, 2, 3};
  SubjectSet copy = a;
  copy.Add(4);
  EXPECT_EQ(a.Cardinality(), 3u);
  EXPECT_EQ(copy.Cardinality(), 4u);
  SubjectSet moved = std::move(copy);
  EXPECT_EQ(moved.Cardinality(), 4u);
  EXPECT_TRUE(copy.IsEmpty());  // NOLINT(bugprone-use-after-move): defined
  copy.Add(7);                  // usable again after a move
  EXPECT_TRUE(copy.Contains(7));
  EXPECT_THAT(moved.ToVector(), ElementsAre(1, 2, 3, 4));
}

TEST(SubjectSetTest, SerializeRoundTripsAndRejectsGarbage) {
  SubjectSet a = SubjectSet::Range(1000, 5000);
  a.Add(1u << 31);
  auto back = SubjectSet::Deserialize(a.Serialize());
  ASSERT_THAT(back, IsOk());
  EXPECT_TRUE(*back == a);
  EXPECT_THAT(SubjectSet::Deserialize(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SubjectSet::Deserialize("not a bitmap at all"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::string truncated = a.Serialize();
  truncated.resize(truncated.size() / 2);
  EXPECT_THAT(SubjectSet::Deserialize(truncated),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// ---------------------------------------------------------------- Settings

SettingsBuilder Defaults(TrustFloor floor = {}) {
  SettingsBuilder b(floor);
  b.SetRoundingKey(kKey, "lab-key-1");
  return b;
}

TEST(SubjectSetTest, CopiesShareUntilChanged) {
  // Copies share one bitmap (copy on write): changing any copy, by every
  // mutator, must leave the others as they were.
  const SubjectSet original = SubjectSet::Range(0, 50);
  SubjectSet a = original, b = original, c = original, d = original;
  a.Add(1000);
  b.Remove(7);
  c.AddRange(200, 210);
  d.UnionWith(SubjectSet{500});
  EXPECT_EQ(original, SubjectSet::Range(0, 50));
  EXPECT_EQ(a.Cardinality(), 51u);
  EXPECT_EQ(b.Cardinality(), 49u);
  EXPECT_EQ(c.Cardinality(), 60u);
  EXPECT_EQ(d.Cardinality(), 51u);
  // An empty set takes the other's bitmap on union, then copies on change.
  SubjectSet e;
  e.UnionWith(original);
  e.Add(999);
  EXPECT_EQ(original.Cardinality(), 50u);
  EXPECT_EQ(e.Cardinality(), 51u);
  SubjectSet moved = std::move(e);
  EXPECT_EQ(moved.Cardinality(), 51u);
  EXPECT_TRUE(e.IsEmpty());  // NOLINT(bugprone-use-after-move): documented
  e.Add(3);
  EXPECT_EQ(e.Cardinality(), 1u);
}

TEST(PopulationSketchTest, NeverExceedsTheSymmetricDifference) {
  // The differencing check trusts the sketch to rule pairs out, so the
  // bound must hold for every pair: random sets, near-identical sets,
  // disjoint sets, empty sets.
  std::mt19937 rng(7);
  for (int trial = 0; trial < 500; ++trial) {
    std::uniform_int_distribution<uint32_t> id(0, trial % 2 ? 1000 : 5'000'000);
    std::vector<uint32_t> a, b;
    const int n = static_cast<int>(rng() % 600);
    for (int i = 0; i < n; ++i) a.push_back(id(rng));
    b = a;
    const int changes = static_cast<int>(rng() % 20);
    for (int i = 0; i < changes && !b.empty(); ++i) {
      if (rng() % 2) b.push_back(id(rng)); else b.erase(b.begin() + rng() % b.size());
    }
    if (trial % 7 == 0) b.clear();
    SubjectSet sa(a), sb(b);
    const uint64_t bound =
        PopulationSketch::Of(sa).SymmetricDifferenceLowerBound(PopulationSketch::Of(sb));
    ASSERT_LE(bound, sa.XorCardinality(sb)) << "trial " << trial;
  }
  // Identical sets: 0. Disjoint sets of a few hundred: far above a
  // threshold's window, which is what makes the check cheap.
  SubjectSet x = SubjectSet::Range(0, 400), y = SubjectSet::Range(10'000, 10'400);
  EXPECT_EQ(PopulationSketch::Of(x).SymmetricDifferenceLowerBound(PopulationSketch::Of(x)), 0u);
  EXPECT_GT(PopulationSketch::Of(x).SymmetricDifferenceLowerBound(PopulationSketch::Of(y)), 9u);
}

// ----------------------------------------------------------- PopulationIndex

// Every held set within `w` of `a`, by brute force.
std::vector<const SubjectSet*> NearByBruteForce(const std::deque<SubjectSet>& held,
                                                const SubjectSet& a, uint64_t w) {
  std::vector<const SubjectSet*> out;
  for (const SubjectSet& b : held) {
    if (a.XorCardinality(b) <= w) out.push_back(&b);
  }
  return out;
}

TEST(PopulationIndexTest, FindsEveryNearSetAgainstBruteForce) {
  // The index decides which earlier populations the differencing check
  // looks at, so missing one would let a differencing attack through:
  // compare with a brute-force scan over random near and far sets, small
  // sets (including ones sharing nothing), and windows inside and beyond
  // the anchors (the fallback by size).
  std::mt19937 rng(11);
  for (int round = 0; round < 20; ++round) {
    std::deque<SubjectSet> held;
    // Half the rounds with the fewest anchors a check with window 9 uses.
    PopulationIndex index(round % 2 ? PopulationIndex::kAnchors : 10);
    std::vector<SubjectSet> bases;
    for (int k = 0; k < 15; ++k) {
      std::vector<uint32_t> v;
      const uint32_t span = round % 2 ? 200 : 2'000'000;
      const int n = static_cast<int>(rng() % (k % 3 == 0 ? 12 : 400));
      for (int i = 0; i < n; ++i) v.push_back(static_cast<uint32_t>(rng() % span));
      bases.emplace_back(v);
    }
    auto variant = [&](const SubjectSet& base) {
      std::vector<uint32_t> v = base.ToVector();
      const int changes = static_cast<int>(rng() % 12);
      for (int i = 0; i < changes; ++i) {
        if (rng() % 2 || v.empty()) {
          v.push_back(static_cast<uint32_t>(rng() % 2'000'000));
        } else {
          v.erase(v.begin() + static_cast<long>(rng() % v.size()));
        }
      }
      return SubjectSet(v);
    };
    for (int k = 0; k < 60; ++k) {
      SubjectSet s = variant(bases[rng() % bases.size()]);
      const PopulationSketch sketch = PopulationSketch::Of(s);
      const bool held_already = index.Contains(s, sketch);
      bool equal_held = false;
      for (const SubjectSet& h : held) equal_held = equal_held || h == s;
      ASSERT_EQ(held_already, equal_held);
      if (s.IsEmpty() || held_already) continue;
      held.push_back(std::move(s));
      ASSERT_TRUE(index.Add(&held.back(), sketch));
      ASSERT_FALSE(index.Add(&held.back(), sketch)) << "an equal set is held once";
    }
    for (int q = 0; q < 80; ++q) {
      const SubjectSet a = variant(bases[rng() % bases.size()]);
      for (uint64_t w : {uint64_t{0}, uint64_t{1}, uint64_t{9}, uint64_t{10}, uint64_t{31},
                         uint64_t{40}}) {
        std::vector<const SubjectSet*> seen;
        index.ForEachNear(a, w, [&](const SubjectSet& b, const PopulationSketch&) {
          seen.push_back(&b);
          return true;
        });
        std::vector<const SubjectSet*> sorted = seen;
        std::sort(sorted.begin(), sorted.end());
        ASSERT_TRUE(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end())
            << "a set was visited twice";
        for (const SubjectSet* want : NearByBruteForce(held, a, w)) {
          ASSERT_TRUE(std::binary_search(sorted.begin(), sorted.end(), want))
              << "round " << round << " query " << q << " window " << w
              << ": a set within the window was not visited";
        }
      }
    }
  }
}

TEST(PopulationIndexTest, UnrelatedPopulationsAreNotCandidates) {
  // The point of the index: the groups of one GROUP BY share no member, so
  // checking a group looks at its own earlier copy only.
  std::deque<SubjectSet> held;
  PopulationIndex index;
  for (uint32_t g = 0; g < 1000; ++g) {
    held.push_back(SubjectSet::Range(g * 400, g * 400 + 300));
    index.Add(&held.back(), PopulationSketch::Of(held.back()));
  }
  int visited = 0;
  index.ForEachNear(SubjectSet::Range(4000, 4301), 9, [&](const SubjectSet&, const PopulationSketch&) {
    ++visited;
    return true;
  });
  EXPECT_EQ(visited, 1);
  EXPECT_EQ(SmallestIds(SubjectSet{9, 3, 7}, 2), (std::vector<uint32_t>{3, 7}));
  // By size and smallest id: the group starting at 4000 of 300 ids, only.
  std::vector<const SubjectSet*> found;
  auto collect = [&](const SubjectSet& s, const PopulationSketch&) {
    found.push_back(&s);
    return true;
  };
  index.ForEachWithSmallest(4000, 300, collect);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(*found[0], SubjectSet::Range(4000, 4300));
  found.clear();
  index.ForEachWithSmallest(4000, 301, collect);
  index.ForEachWithSmallest(4350, 300, collect);  // in no set
  EXPECT_TRUE(found.empty());
  EXPECT_TRUE(SmallestIds(SubjectSet(), 5).empty());
}

TEST(SettingsTest, DefaultsMatchTheDesign) {
  auto s = Defaults().Build();
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->threshold, 10);
  EXPECT_EQ(s->rounding_base, 5);
  EXPECT_EQ(s->dominance_n, 2);
  EXPECT_EQ(s->dominance_k_basis_points, 9000);
  EXPECT_EQ(s->p_percent_basis_points, 1000);
  EXPECT_FALSE(s->allow_structural_zeros);
  EXPECT_FALSE(s->dp_enabled);
}

TEST(SettingsTest, StricterThanFloorIsAccepted) {
  EXPECT_THAT(Defaults()
                  .SetThreshold(20)
                  .SetRoundingBase(10)
                  .SetDominance(3, 8000)
                  .SetPPercentBasisPoints(1500)
                  .Build(),
              IsOk());
}

TEST(SettingsTest, LooserThanFloorIsRefusedNamingTheField) {
  struct Case {
    std::string field;
    std::function<void(SettingsBuilder&)> loosen;
  };
  std::vector<Case> cases = {
      {"threshold", [](SettingsBuilder& b) { b.SetThreshold(9); }},
      {"rounding_base", [](SettingsBuilder& b) { b.SetRoundingBase(4); }},
      {"dominance_n", [](SettingsBuilder& b) { b.SetDominance(1, 9000); }},
      {"dominance_k_basis_points", [](SettingsBuilder& b) { b.SetDominance(2, 9001); }},
      {"p_percent_basis_points", [](SettingsBuilder& b) { b.SetPPercentBasisPoints(999); }},
      {"treat_column_totals_as_known",
       [](SettingsBuilder& b) { b.SetTreatColumnTotalsAsKnown(false); }},
  };
  for (const Case& c : cases) {
    SettingsBuilder b = Defaults();
    c.loosen(b);
    EXPECT_THAT(b.Build(), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr(c.field), HasSubstr("trust floor"))))
        << c.field;
  }
}

TEST(SettingsTest, FloorSwitchesAreEnforced) {
  TrustFloor no_zeros;
  no_zeros.structural_zeros_permitted = false;
  EXPECT_THAT(Defaults(no_zeros).SetAllowStructuralZeros(true).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("allow_structural_zeros")));
  EXPECT_THAT(Defaults().SetAllowStructuralZeros(true).Build(), IsOk());

  TrustFloor dp;
  dp.dp_required = true;
  dp.max_dp_epsilon_per_release_micros = 500'000;
  EXPECT_THAT(Defaults(dp).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dp_enabled")));
  EXPECT_THAT(Defaults(dp).SetDifferentialPrivacy(600'000).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dp_epsilon_per_release_micros")));
  EXPECT_THAT(Defaults(dp).SetDifferentialPrivacy(500'000).Build(), IsOk());
}

TEST(SettingsTest, NonsenseValuesAreRefused) {
  EXPECT_THAT(Defaults().SetThreshold(0).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("threshold")));
  EXPECT_THAT(Defaults().SetDominance(6, 9000).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dominance_n")));
  EXPECT_THAT(Defaults().SetDominance(2, 0).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dominance_k_basis_points")));
  EXPECT_THAT(Defaults().SetValueDecimals(7).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("value_decimals")));
  EXPECT_THAT(Defaults().SetProportionDecimals(-1).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("proportion_decimals")));
  EXPECT_THAT(Defaults().SetDifferentialPrivacy(0).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dp_epsilon_per_release_micros")));
}

TEST(SettingsTest, ShortKeyIsRefusedWithoutEchoingIt) {
  const std::string short_key = "secret-but-too-short";
  auto s = SettingsBuilder(TrustFloor{}).SetRoundingKey(short_key, "k").Build();
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("rounding_key"), Not(HasSubstr(short_key)))));
}

TEST(SettingsTest, BadFloorIsRefused) {
  TrustFloor f;
  f.min_threshold = 0;
  EXPECT_THAT(Defaults(f).Build(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_threshold")));
}

TEST(SettingsTest, DescribeNamesEveryRuleButNeverTheKey) {
  auto s = Defaults().Build();
  ASSERT_THAT(s, IsOk());
  std::map<std::string, std::string> d;
  for (auto& [k, v] : s->Describe()) {
    d[k] = v;
    EXPECT_THAT(v, Not(HasSubstr(kKey)));
  }
  EXPECT_EQ(d["threshold"], "10");
  EXPECT_EQ(d["rounding_base"], "5");
  EXPECT_EQ(d["dominance_k_basis_points"], "9000");
  EXPECT_EQ(d["p_percent_basis_points"], "1000");
  EXPECT_EQ(d["rounding_key_id"], "lab-key-1");
  EXPECT_EQ(d["differencing_window"], "1..9");
}

// ---------------------------------------------------------------- Rounding

TEST(KeyedRounderTest, RoundsToTheBaseWithinOneStep) {
  auto r = KeyedRounder::Create(kKey, 5);
  ASSERT_THAT(r, IsOk());
  for (int64_t v = 0; v < 200; ++v) {
    SubjectSet pop = SubjectSet::Range(0, v);
    int64_t out = (*r)->Round(v, pop);
    EXPECT_EQ(out % 5, 0) << v;
    EXPECT_LT(std::abs(out - v), 5) << v;
    if (v % 5 == 0) {
      EXPECT_EQ(out, v);
    }
  }
}

TEST(KeyedRounderTest, RoundAllOnThreadsMatchesRoundOneByOne) {
  auto r = KeyedRounder::Create(kKey, 5);
  ASSERT_THAT(r, IsOk());
  std::vector<SubjectSet> pops;
  std::vector<int64_t> values;
  for (uint32_t i = 0; i < 200; ++i) {
    pops.push_back(SubjectSet::Range(i * 50, i * 50 + 11 + i % 40));
    values.push_back(static_cast<int64_t>(i % 97));
  }
  std::vector<const SubjectSet*> ptrs;
  for (const SubjectSet& p : pops) ptrs.push_back(&p);
  for (int threads : {1, 2, 3}) {
    const std::vector<int64_t> all = (*r)->RoundAll(values, ptrs, threads);
    ASSERT_EQ(all.size(), values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      ASSERT_EQ(all[i], (*r)->Round(values[i], pops[i])) << "threads " << threads << " item " << i;
    }
  }
  EXPECT_TRUE((*r)->RoundAll({}, {}, 2).empty());
}

TEST(KeyedRounderTest, SameCellAlwaysRoundsTheSameWay) {
  auto r1 = KeyedRounder::Create(kKey, 5);
  auto r2 = KeyedRounder::Create(kKey, 5);
  ASSERT_THAT(r1, IsOk());
  ASSERT_THAT(r2, IsOk());
  for (uint32_t start = 0; start < 50; ++start) {
    SubjectSet pop = SubjectSet::Range(start * 100, start * 100 + 13);
    SubjectSet same = SubjectSet::Range(start * 100, start * 100 + 13);
    int64_t a = (*r1)->Round(13, pop);
    EXPECT_EQ(a, (*r1)->Round(13, pop));
    EXPECT_EQ(a, (*r2)->Round(13, same));
  }
}

TEST(KeyedRounderTest, UnbiasedAcrossPopulationsAndKeyDependent) {
  auto r = KeyedRounder::Create(kKey, 5);
  auto other = KeyedRounder::Create(std::string(32, 'z'), 5);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(other, IsOk());
  // 12 rounds up to 15 with probability 2/5, so the mean over many
  // populations is ~12 (expected 12, sd of the mean ~0.03 for 4000 draws).
  double sum = 0;
  int differ = 0;
  const int kN = 4000;
  for (int i = 0; i < kN; ++i) {
    SubjectSet pop = SubjectSet::Range(i * 20, i * 20 + 12);
    int64_t v = (*r)->Round(12, pop);
    sum += v;
    differ += v != (*other)->Round(12, pop);
  }
  EXPECT_NEAR(sum / kN, 12.0, 0.2);
  EXPECT_GT(differ, kN / 5);  // a different key rounds differently
}

TEST(KeyedRounderTest, CreateValidates) {
  EXPECT_THAT(KeyedRounder::Create("short", 5),
              StatusIs(absl::StatusCode::kInvalidArgument, Not(HasSubstr("short"))));
  EXPECT_THAT(KeyedRounder::Create(kKey, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  auto one = KeyedRounder::Create(kKey, 1);
  ASSERT_THAT(one, IsOk());
  EXPECT_EQ((*one)->Round(13, SubjectSet::Range(0, 13)), 13);
}

// ---------------------------------------------------------------- Noise

TEST(NoiseTest, UniformBelowIsUniform) {
  SeededRandomForTest rng(1);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) {
    auto v = UniformBelow(rng, 6);
    ASSERT_THAT(v, IsOk());
    ASSERT_LT(*v, 6u);
    ++counts[*v];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
  EXPECT_THAT(UniformBelow(rng, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(UniformBelow(rng, 1), IsOkAndHolds(0u));
}

TEST(NoiseTest, BernoulliExpMatchesExp) {
  SeededRandomForTest rng(2);
  for (auto [num, den] : std::vector<std::pair<uint64_t, uint64_t>>{
           {0, 1}, {1, 2}, {1, 1}, {5, 2}}) {
    int hits = 0;
    const int kN = 20000;
    for (int i = 0; i < kN; ++i) {
      auto b = BernoulliExp(rng, num, den);
      ASSERT_THAT(b, IsOk());
      hits += *b;
    }
    EXPECT_NEAR(static_cast<double>(hits) / kN,
                std::exp(-static_cast<double>(num) / den), 0.015)
        << num << "/" << den;
  }
}

struct Moments {
  double mean, variance, p_zero, p_positive;
};
// Scale t/s, as in CKS.
Moments Sample(SecureRandom& rng, uint64_t s, uint64_t t, int n) {
  double sum = 0, sq = 0;
  int zeros = 0, positive = 0;
  for (int i = 0; i < n; ++i) {
    auto y = SampleDiscreteLaplace(rng, s, t);
    EXPECT_THAT(y, IsOk());
    double v = static_cast<double>(*y);
    sum += v;
    sq += v * v;
    zeros += *y == 0;
    positive += *y > 0;
  }
  double mean = sum / n;
  return {mean, sq / n - mean * mean, static_cast<double>(zeros) / n,
          static_cast<double>(positive) / n};
}

TEST(NoiseTest, DiscreteLaplaceHasTheRightDistribution) {
  // Scale b = t/s = 1 (ε = 1, sensitivity 1): q = e^-1,
  // Var = 2q/(1-q)^2 ≈ 1.841, P(0) = (1-q)/(1+q) ≈ 0.462.
  SeededRandomForTest rng(3);
  const double q = std::exp(-1.0);
  Moments m = Sample(rng, kMicrosPerEpsilon, kMicrosPerEpsilon, 20000);
  EXPECT_NEAR(m.mean, 0.0, 0.06);
  EXPECT_NEAR(m.variance, 2 * q / ((1 - q) * (1 - q)), 0.15);
  EXPECT_NEAR(m.p_zero, (1 - q) / (1 + q), 0.02);
  EXPECT_NEAR(m.p_positive, (1 - m.p_zero) / 2, 0.02);  // symmetric

  // b = 10 (ε = 0.1): Var ≈ 199.8.
  const double q10 = std::exp(-0.1);
  Moments m10 = Sample(rng, 100'000, kMicrosPerEpsilon, 20000);
  EXPECT_NEAR(m10.mean, 0.0, 0.6);
  EXPECT_NEAR(m10.variance, 2 * q10 / ((1 - q10) * (1 - q10)), 20.0);
}

TEST(NoiseTest, OpenSslRandomDrivesTheSamplerWithinLooseBounds) {
  OpenSslSecureRandom rng;
  const double q = std::exp(-0.5);  // b = 2
  Moments m = Sample(rng, kMicrosPerEpsilon, 2 * kMicrosPerEpsilon, 5000);
  EXPECT_NEAR(m.mean, 0.0, 0.35);  // sd of the mean ~0.04
  EXPECT_NEAR(m.variance, 2 * q / ((1 - q) * (1 - q)), 0.3 * 7.5);
}

TEST(NoiseTest, BadParametersAndFailingSourceAreErrors) {
  SeededRandomForTest rng(4);
  EXPECT_THAT(SampleDiscreteLaplace(rng, 0, 1), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(SampleDiscreteLaplace(rng, 1, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Bernoulli(rng, 3, 2), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(BernoulliExp(rng, 1, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  FailingRandomForTest failing;
  EXPECT_THAT(SampleDiscreteLaplace(failing, 1, 1),
              StatusIs(absl::StatusCode::kUnavailable));
}

// ---------------------------------------------------------------- Ledgers

TEST(InMemoryReleaseLedgerTest, IndexesByCardinalityAndIsolatesProjects) {
  InMemoryReleaseLedger ledger;
  ASSERT_THAT(ledger.Record("p1", "r1",
                            {SubjectSet::Range(0, 10), SubjectSet::Range(0, 20),
                             SubjectSet::Range(0, 20), SubjectSet{}}),
              IsOk());
  EXPECT_EQ(ledger.Size("p1"), 2u);  // duplicate and empty set dropped
  EXPECT_EQ(ledger.Size("p2"), 0u);
  std::vector<uint64_t> seen;
  ASSERT_THAT(ledger.ForEachInCardinalityRange("p1", 15, 25,
                                               [&](const SubjectSet& s) {
                                                 seen.push_back(s.Cardinality());
                                                 return true;
                                               }),
              IsOk());
  EXPECT_THAT(seen, ElementsAre(20u));
  seen.clear();
  ASSERT_THAT(ledger.ForEachInCardinalityRange("p2", 0, 100,
                                               [&](const SubjectSet& s) {
                                                 seen.push_back(s.Cardinality());
                                                 return true;
                                               }),
              IsOk());
  EXPECT_TRUE(seen.empty());
  EXPECT_THAT(ledger.Record("", "r", {}), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(InMemoryEpsilonLedgerTest, DebitsUpToTheBudgetExactly) {
  InMemoryEpsilonLedger ledger;
  EXPECT_THAT(ledger.Debit("p", 1), StatusIs(absl::StatusCode::kFailedPrecondition));
  ledger.SetBudget("p", 1'000'000);
  EXPECT_THAT(ledger.Debit("p", 600'000), IsOk());
  EXPECT_THAT(ledger.Debit("p", 400'001), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(ledger.Debit("p", 400'000), IsOk());  // exactly the budget
  EXPECT_THAT(ledger.Debit("p", 1), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(ledger.Debit("p", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  auto b = ledger.Get("p");
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(b->spent_micros, 1'000'000);
  EXPECT_THAT(ledger.Get("q"), StatusIs(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace datalab::sdc
