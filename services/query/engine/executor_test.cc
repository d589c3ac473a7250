#include "services/query/engine/executor.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::engine {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;

// ------------------------------------------------------------ test tables

// Row-wise copy of a table, for the reference implementation.
struct RefColumn {
  std::string name;
  ColumnType type;
  std::vector<std::string> dict;
  std::vector<double> num;     // INT64 / DOUBLE
  std::vector<uint32_t> code;  // CODE / SUBJECT
  std::vector<uint8_t> miss;
};

struct TestTable {
  std::shared_ptr<const Table> table;
  std::vector<RefColumn> cols;
  size_t rows = 0;
  const RefColumn& Col(const std::string& n) const {
    for (const auto& c : cols) {
      if (c.name == n) return c;
    }
    ADD_FAILURE() << "no column " << n;
    return cols[0];
  }
};

// Columns: subj (SUBJECT), k1 (CODE a..e), k2 (INT64 0..3), x (DOUBLE),
// y (INT64), term (CODE). All may be missing.
TestTable MakeTable(std::mt19937& rng, size_t rows, uint32_t subjects, double miss_rate,
                    const std::vector<std::string>& terms) {
  TestTable t;
  t.rows = rows;
  auto missing = [&] { return std::uniform_real_distribution<double>(0, 1)(rng) < miss_rate; };
  auto reason = [&] { return static_cast<uint8_t>(1 + rng() % kMaxMissingReason); };
  std::vector<ColumnBuilder> b;
  b.emplace_back("subj", ColumnType::kSubject);
  b.emplace_back("k1", ColumnType::kCode);
  b.emplace_back("k2", ColumnType::kInt64);
  b.emplace_back("x", ColumnType::kDouble);
  b.emplace_back("y", ColumnType::kInt64);
  b.emplace_back("term", ColumnType::kCode);
  const std::vector<std::string> k1dict = {"e", "b", "a", "d", "c"};  // deliberately unsorted
  b[1].SetDictionary(k1dict);
  b[5].SetDictionary(terms);
  t.cols = {{"subj", ColumnType::kSubject, {}, {}, {}, {}}, {"k1", ColumnType::kCode, k1dict, {}, {}, {}},
            {"k2", ColumnType::kInt64, {}, {}, {}, {}},     {"x", ColumnType::kDouble, {}, {}, {}, {}},
            {"y", ColumnType::kInt64, {}, {}, {}, {}},      {"term", ColumnType::kCode, terms, {}, {}, {}}};
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < b.size(); ++c) {
      RefColumn& rc = t.cols[c];
      bool m = missing() && !(c == 0 && miss_rate < 0.5 && rng() % 4 != 0);
      if (m) {
        b[c].AppendMissing(reason());
        rc.miss.push_back(1);
        rc.num.push_back(0);
        rc.code.push_back(0);
        continue;
      }
      rc.miss.push_back(0);
      switch (c) {
        case 0: {
          uint32_t s = rng() % subjects;
          b[c].AppendSubject(s);
          rc.code.push_back(s);
          rc.num.push_back(0);
          break;
        }
        case 1:
        case 5: {
          uint32_t code = rng() % (c == 1 ? k1dict.size() : terms.size());
          b[c].AppendCode(code);
          rc.code.push_back(code);
          rc.num.push_back(0);
          break;
        }
        case 2: {
          int64_t v = rng() % 4;
          b[c].AppendInt64(v);
          rc.num.push_back(static_cast<double>(v));
          rc.code.push_back(0);
          break;
        }
        case 3: {
          // Some exact zeros to exercise division by zero.
          double v = rng() % 10 == 0 ? 0.0 : std::round(std::uniform_real_distribution<double>(-20, 100)(rng) * 4) / 4;
          b[c].AppendDouble(v);
          rc.num.push_back(v);
          rc.code.push_back(0);
          break;
        }
        case 4: {
          int64_t v = static_cast<int64_t>(rng() % 21) - 3;
          b[c].AppendInt64(v);
          rc.num.push_back(static_cast<double>(v));
          rc.code.push_back(0);
          break;
        }
      }
    }
  }
  std::vector<std::shared_ptr<const Column>> cols;
  for (auto& cb : b) {
    auto c = cb.Finish();
    EXPECT_THAT(c, IsOk());
    cols.push_back(*c);
  }
  auto tab = Table::Create("t", std::move(cols));
  EXPECT_THAT(tab, IsOk());
  t.table = *tab;
  return t;
}

// ------------------------------------------------------------ reference

// A value in the row-at-a-time interpreter.
struct RV {
  enum K { kMissing, kNum, kStr, kBool } k = kMissing;
  double num = 0;
  std::string str;
  int b = 2;  // 0 false, 1 true, 2 unknown
};

RV Bool3(int b) {
  RV v;
  v.k = RV::kBool;
  v.b = b;
  return v;
}

class Reference {
 public:
  Reference(const Plan& plan, const std::vector<const TestTable*>& tables)
      : plan_(plan), tables_(tables) {}

  RV Eval(const Expr& e, const std::vector<size_t>& rows) const {
    switch (e.kind) {
      case Expr::Kind::kColumn: {
        const RefColumn& c = tables_[e.column.input]->Col(e.column.column);
        size_t r = rows[e.column.input];
        RV v;
        if (c.miss[r]) return v;
        if (c.type == ColumnType::kCode) {
          v.k = RV::kStr;
          v.str = c.dict[c.code[r]];
        } else if (c.type == ColumnType::kSubject) {
          v.k = RV::kNum;
          v.num = c.code[r];
        } else {
          v.k = RV::kNum;
          v.num = c.num[r];
        }
        return v;
      }
      case Expr::Kind::kLiteral: {
        RV v;
        if (auto* s = std::get_if<std::string>(&e.literal)) {
          v.k = RV::kStr;
          v.str = *s;
        } else {
          v.k = RV::kNum;
          v.num = std::holds_alternative<int64_t>(e.literal) ? std::get<int64_t>(e.literal)
                                                             : std::get<double>(e.literal);
        }
        return v;
      }
      case Expr::Kind::kCompare: {
        RV a = Eval(*e.children[0], rows), b = Eval(*e.children[1], rows);
        if (a.k == RV::kMissing || b.k == RV::kMissing) return Bool3(2);
        int c = a.k == RV::kStr ? a.str.compare(b.str) : (a.num < b.num ? -1 : a.num > b.num ? 1 : 0);
        switch (e.compare) {
          case CompareOp::kEq: return Bool3(c == 0);
          case CompareOp::kNe: return Bool3(c != 0);
          case CompareOp::kLt: return Bool3(c < 0);
          case CompareOp::kLe: return Bool3(c <= 0);
          case CompareOp::kGt: return Bool3(c > 0);
          case CompareOp::kGe: return Bool3(c >= 0);
        }
        return Bool3(2);
      }
      case Expr::Kind::kIn: {
        RV a = Eval(*e.children[0], rows);
        if (a.k == RV::kMissing) return Bool3(2);
        for (const Literal& l : e.in_set) {
          if (a.k == RV::kStr && std::get<std::string>(l) == a.str) return Bool3(1);
          if (a.k == RV::kNum) {
            double d = std::holds_alternative<int64_t>(l) ? std::get<int64_t>(l) : std::get<double>(l);
            if (d == a.num) return Bool3(1);
          }
        }
        return Bool3(0);
      }
      case Expr::Kind::kBetween: {
        auto ge = Cmp(CompareOp::kGe, e.children[0], e.children[1]);
        auto le = Cmp(CompareOp::kLe, e.children[0], e.children[2]);
        return Eval(*And({ge, le}), rows);
      }
      case Expr::Kind::kIsNull:
        return Bool3(Eval(*e.children[0], rows).k == RV::kMissing);
      case Expr::Kind::kIsNotNull:
        return Bool3(Eval(*e.children[0], rows).k != RV::kMissing);
      case Expr::Kind::kAnd: {
        int r = 1;
        for (const auto& c : e.children) {
          int b = Eval(*c, rows).b;
          if (b == 0) r = 0;
          else if (b == 2 && r != 0) r = 2;
        }
        return Bool3(r);
      }
      case Expr::Kind::kOr: {
        int r = 0;
        for (const auto& c : e.children) {
          int b = Eval(*c, rows).b;
          if (b == 1) r = 1;
          else if (b == 2 && r != 1) r = 2;
        }
        return Bool3(r);
      }
      case Expr::Kind::kNot: {
        int b = Eval(*e.children[0], rows).b;
        return Bool3(b == 2 ? 2 : 1 - b);
      }
      case Expr::Kind::kArith: {
        RV a = Eval(*e.children[0], rows), b = Eval(*e.children[1], rows);
        RV v;
        if (a.k == RV::kMissing || b.k == RV::kMissing) return v;
        double r = 0;
        switch (e.arith) {
          case ArithOp::kAdd: r = a.num + b.num; break;
          case ArithOp::kSub: r = a.num - b.num; break;
          case ArithOp::kMul: r = a.num * b.num; break;
          case ArithOp::kDiv:
            if (b.num == 0) return v;
            r = a.num / b.num;
            break;
        }
        if (std::isnan(r)) return v;
        v.k = RV::kNum;
        v.num = r;
        return v;
      }
    }
    return RV();
  }

  // Joined row tuples by nested loops.
  std::vector<std::vector<size_t>> Rows() const {
    std::vector<std::vector<size_t>> out;
    for (size_t r = 0; r < tables_[0]->rows; ++r) out.push_back({r});
    for (size_t i = 1; i < tables_.size(); ++i) {
      std::vector<std::vector<size_t>> next;
      const RefColumn& ls = tables_[0]->Col(plan_.inputs[0].subject_column);
      const RefColumn& rs = tables_[i]->Col(plan_.inputs[i].subject_column);
      for (const auto& tup : out) {
        for (size_t r = 0; r < tables_[i]->rows; ++r) {
          if (ls.miss[tup[0]] || rs.miss[r] || ls.code[tup[0]] != rs.code[r]) continue;
          std::vector<size_t> t2 = tup;
          t2.push_back(r);
          bool ok = true;
          for (const JoinKey& k : plan_.inputs[i].extra_keys) {
            RV a = Eval(*Col(k.left.input, k.left.column), t2);
            RV b = Eval(*Col(static_cast<int>(i), k.right_column), t2);
            ok = ok && a.k != RV::kMissing && b.k != RV::kMissing && a.k == b.k &&
                 (a.k == RV::kStr ? a.str == b.str : a.num == b.num);
          }
          if (ok) next.push_back(t2);
        }
      }
      out = std::move(next);
    }
    return out;
  }

  std::optional<std::string> Label(const GroupKey& k, const std::vector<size_t>& rows) const {
    switch (k.kind) {
      case GroupKey::Kind::kColumn: {
        RV v = Eval(*Col(k.column.input, k.column.column), rows);
        if (v.k == RV::kMissing) return std::nullopt;
        return v.k == RV::kStr ? v.str : absl::StrCat(static_cast<int64_t>(v.num));
      }
      case GroupKey::Kind::kBand: {
        RV v = Eval(*k.value, rows);
        if (v.k == RV::kMissing) return std::nullopt;
        if (v.num < k.lo) return absl::StrCat("<", k.lo);
        if (v.num >= k.hi) return absl::StrCat(">=", k.hi);
        double b = std::floor((v.num - k.lo) / k.width);
        double a = k.lo + b * k.width;
        return absl::StrCat(a, "-", std::min(a + k.width, k.hi));
      }
      case GroupKey::Kind::kCase:
        for (const auto& [cond, label] : k.when) {
          if (Eval(*cond, rows).b == 1) return label;
        }
        if (k.has_else) return k.else_label;
        return std::nullopt;
    }
    return std::nullopt;
  }

  uint32_t Subject(const std::vector<size_t>& rows) const {
    const RefColumn& s = tables_[0]->Col(plan_.inputs[0].subject_column);
    return s.miss[rows[0]] ? UINT32_MAX : s.code[rows[0]];
  }

  using Key = std::vector<std::optional<std::string>>;
  std::map<Key, std::vector<std::vector<size_t>>> Groups() const {
    std::map<Key, std::vector<std::vector<size_t>>> g;
    for (const auto& tup : Rows()) {
      if (plan_.filter && Eval(*plan_.filter, tup).b != 1) continue;
      Key key;
      for (const GroupKey& k : plan_.group_keys) key.push_back(Label(k, tup));
      g[key].push_back(tup);
    }
    if (plan_.group_keys.empty() && g.empty()) g[Key()] = {};
    return g;
  }

 private:
  const Plan& plan_;
  std::vector<const TestTable*> tables_;
};

std::set<uint32_t> ToSet(const std::shared_ptr<const SubjectSet>& s) {
  std::set<uint32_t> out;
  if (s) out.insert(s->ids().begin(), s->ids().end());
  return out;
}

void ExpectNear(double want, double got, const std::string& what) {
  EXPECT_NEAR(want, got, 1e-7 * std::max(1.0, std::fabs(want))) << what;
}

Contributions RefContrib(const std::vector<std::pair<uint32_t, double>>& sv) {
  std::map<uint32_t, double> per;
  for (auto [s, v] : sv) per[s] += v;
  std::vector<double> mags;
  Contributions c;
  for (auto [s, v] : per) {
    mags.push_back(std::fabs(v));
    c.total += std::fabs(v);
  }
  std::sort(mags.rbegin(), mags.rend());
  c.contributors = mags.size();
  c.top1 = mags.size() > 0 ? mags[0] : 0;
  c.top2 = mags.size() > 1 ? mags[1] : 0;
  return c;
}

// Runs the plan with the engine and compares every output with the
// reference interpreter.
void CheckAgainstReference(const Plan& plan, const std::vector<const TestTable*>& tables,
                           int threads, const std::string& ctx) {
  std::vector<const Table*> ts;
  for (const auto* t : tables) ts.push_back(t->table.get());
  Options opt;
  opt.threads = threads;
  auto res = Execute(plan, ts, opt);
  ASSERT_THAT(res, IsOk()) << ctx;
  Reference ref(plan, tables);
  auto groups = ref.Groups();
  ASSERT_EQ(res->rows.size(), groups.size()) << ctx;
  std::map<Reference::Key, const ResultRow*> by_key;
  for (const ResultRow& row : res->rows) {
    Reference::Key k;
    for (const KeyValue& kv : row.keys) {
      k.push_back(kv.missing ? std::nullopt : std::optional<std::string>(kv.label));
    }
    by_key[k] = &row;
  }
  for (const auto& [key, rows] : groups) {
    std::string gctx = ctx + " group";
    for (const auto& k : key) gctx += " " + (k ? *k : std::string("<missing>"));
    ASSERT_TRUE(by_key.count(key)) << gctx;
    const ResultRow& row = *by_key[key];
    EXPECT_EQ(row.rows, rows.size()) << gctx;
    std::set<uint32_t> all;
    for (const auto& tup : rows) {
      if (ref.Subject(tup) != UINT32_MAX) all.insert(ref.Subject(tup));
    }
    EXPECT_EQ(ToSet(row.population), all) << gctx;
    for (size_t a = 0; a < plan.aggregates.size(); ++a) {
      const Aggregate& ag = plan.aggregates[a];
      const AggregateValue& got = row.aggregates[a];
      const std::string actx = gctx + " aggregate " + std::to_string(a);
      std::vector<double> xs;
      std::vector<std::pair<uint32_t, double>> contrib;
      std::set<uint32_t> pop, pop2;
      size_t num = 0, den = 0;
      double sn = 0, sd = 0;
      for (const auto& tup : rows) {
        uint32_t s = ref.Subject(tup);
        auto add = [&](std::set<uint32_t>& p) {
          if (s != UINT32_MAX) p.insert(s);
        };
        switch (ag.kind) {
          case Aggregate::Kind::kCountStar:
          case Aggregate::Kind::kCountDistinctSubject:
            add(pop);
            break;
          case Aggregate::Kind::kCount:
            if (ref.Eval(*ag.arg, tup).k != RV::kMissing) {
              ++num;
              add(pop);
            }
            break;
          case Aggregate::Kind::kProportion: {
            int b = ref.Eval(*ag.arg, tup).b;
            if (b != 2) {
              ++den;
              add(pop2);
            }
            if (b == 1) {
              ++num;
              add(pop);
            }
            break;
          }
          case Aggregate::Kind::kRate: {
            RV x = ref.Eval(*ag.arg, tup), y = ref.Eval(*ag.arg2, tup);
            if (x.k == RV::kMissing || y.k == RV::kMissing) break;
            sn += x.num;
            sd += y.num;
            ++den;
            add(pop2);
            if (x.num != 0) add(pop);
            contrib.push_back({s, x.num});
            break;
          }
          default: {
            RV x = ref.Eval(*ag.arg, tup);
            if (x.k == RV::kMissing) break;
            xs.push_back(x.num);
            add(pop);
            contrib.push_back({s, x.num});
          }
        }
      }
      std::optional<double> want;
      bool want_contrib = false;
      switch (ag.kind) {
        case Aggregate::Kind::kCountStar: want = rows.size(); break;
        case Aggregate::Kind::kCountDistinctSubject: want = pop.size(); break;
        case Aggregate::Kind::kCount: want = num; break;
        case Aggregate::Kind::kSum:
        case Aggregate::Kind::kAvg:
        case Aggregate::Kind::kStddev: {
          want_contrib = true;
          double sum = 0;
          for (double x : xs) sum += x;
          double mean = xs.empty() ? 0 : sum / xs.size();
          double ss = 0;
          for (double x : xs) ss += (x - mean) * (x - mean);
          if (ag.kind == Aggregate::Kind::kSum && !xs.empty()) want = sum;
          if (ag.kind == Aggregate::Kind::kAvg && !xs.empty()) want = mean;
          if (ag.kind == Aggregate::Kind::kStddev && xs.size() > 1) want = std::sqrt(ss / (xs.size() - 1));
          break;
        }
        case Aggregate::Kind::kMedian:
        case Aggregate::Kind::kPercentile: {
          double p = ag.kind == Aggregate::Kind::kMedian ? 0.5 : ag.p;
          std::sort(xs.begin(), xs.end());
          if (!xs.empty()) {
            double pos = p * (xs.size() - 1);
            size_t lo = static_cast<size_t>(std::floor(pos));
            size_t hi = std::min(lo + 1, xs.size() - 1);
            want = xs[lo] + (pos - lo) * (xs[hi] - xs[lo]);
          }
          break;
        }
        case Aggregate::Kind::kProportion: {
          double n = ag.by_subject ? pop.size() : num;
          double d = ag.by_subject ? pop2.size() : den;
          if (d > 0) want = n / d;
          EXPECT_EQ(ToSet(got.denominator_population), pop2) << actx;
          break;
        }
        case Aggregate::Kind::kRate:
          want_contrib = true;
          if (den > 0 && sd != 0) want = sn / sd;
          EXPECT_EQ(ToSet(got.denominator_population), pop2) << actx;
          break;
      }
      EXPECT_EQ(ToSet(got.population), pop) << actx;
      ASSERT_EQ(got.missing, !want.has_value()) << actx;
      if (want) ExpectNear(*want, got.value, actx);
      EXPECT_EQ(got.has_contributions, want_contrib) << actx;
      if (want_contrib) {
        Contributions c = RefContrib(contrib);
        EXPECT_EQ(got.contributions.contributors, c.contributors) << actx;
        ExpectNear(c.top1, got.contributions.top1, actx + " top1");
        ExpectNear(c.top2, got.contributions.top2, actx + " top2");
        ExpectNear(c.total, got.contributions.total, actx + " total");
      }
    }
  }
}

// ------------------------------------------------------------ random plans

ExprPtr RandomNum(std::mt19937& rng, int input, int depth) {
  switch (rng() % (depth > 1 ? 3 : 5)) {
    case 0: return Col(input, "x");
    case 1: return Col(input, "y");
    case 2: return Col(input, "k2");
    case 3: {
      ArithOp ops[] = {ArithOp::kAdd, ArithOp::kSub, ArithOp::kMul, ArithOp::kDiv};
      return Arith(ops[rng() % 4], RandomNum(rng, input, depth + 1), RandomNum(rng, input, depth + 1));
    }
    default: return Lit(static_cast<int64_t>(rng() % 7));
  }
}

ExprPtr RandomCond(std::mt19937& rng, int inputs, int depth) {
  int in = rng() % inputs;
  CompareOp ops[] = {CompareOp::kEq, CompareOp::kNe, CompareOp::kLt,
                     CompareOp::kLe, CompareOp::kGt, CompareOp::kGe};
  switch (rng() % (depth > 1 ? 6 : 9)) {
    case 0: return Cmp(ops[rng() % 6], RandomNum(rng, in, depth + 1), Lit(std::uniform_real_distribution<double>(-5, 60)(rng)));
    case 1: return Cmp(ops[rng() % 6], Col(in, "k1"), Lit(std::string(1, static_cast<char>('a' + rng() % 6))));
    case 2: return In(Col(in, "k1"), {std::string("a"), std::string("c"), std::string("zz")});
    case 3: return In(Col(in, "y"), {int64_t{1}, int64_t{2}, 7.0});
    case 4: return Between(RandomNum(rng, in, depth + 1), Lit(int64_t{0}), Lit(40.5));
    case 5: {
      const char* cols[] = {"x", "k1", "subj", "y"};
      ExprPtr c = Col(in, cols[rng() % 4]);
      return rng() % 2 ? IsNull(c) : IsNotNull(c);
    }
    case 6: return And({RandomCond(rng, inputs, depth + 1), RandomCond(rng, inputs, depth + 1)});
    case 7: return Or({RandomCond(rng, inputs, depth + 1), RandomCond(rng, inputs, depth + 1)});
    default: return Not(RandomCond(rng, inputs, depth + 1));
  }
}

Plan RandomPlan(std::mt19937& rng, int inputs) {
  Plan p;
  for (int i = 0; i < inputs; ++i) {
    InputSpec in{"subj", {}};
    if (i > 0 && rng() % 2) in.extra_keys.push_back({ColumnRef{0, "term"}, "term"});
    p.inputs.push_back(in);
  }
  if (rng() % 4 != 0) p.filter = RandomCond(rng, inputs, 0);
  int nk = rng() % 3;
  for (int k = 0; k < nk; ++k) {
    int in = rng() % inputs;
    switch (rng() % 4) {
      case 0: p.group_keys.push_back(KeyColumn("k1", in, "k1")); break;
      case 1: p.group_keys.push_back(KeyColumn("k2", in, "k2")); break;
      case 2: p.group_keys.push_back(KeyBand("band", Col(in, "x"), 0, 50, 12.5)); break;
      default: {
        GroupKey c = KeyCase("case", {{Gt(Col(in, "x"), Lit(int64_t{50})), "high"},
                                      {Eq(Col(in, "k1"), Lit("a")), "A"},
                                      {Lt(Col(in, "y"), Lit(int64_t{0})), "high"}},
                             "other");
        if (rng() % 2) c.has_else = false;
        p.group_keys.push_back(c);
      }
    }
  }
  int in = rng() % inputs;
  using K = Aggregate::Kind;
  p.aggregates = {
      {K::kCountStar, "n", nullptr, nullptr, 0.5, false},
      {K::kCountDistinctSubject, "pupils", nullptr, nullptr, 0.5, false},
      {K::kCount, "nx", Col(in, "x"), nullptr, 0.5, false},
      {K::kCount, "nk1", Col(in, "k1"), nullptr, 0.5, false},
      {K::kSum, "sum", RandomNum(rng, in, 1), nullptr, 0.5, false},
      {K::kAvg, "avg", Col(in, "x"), nullptr, 0.5, false},
      {K::kStddev, "sd", Col(in, "y"), nullptr, 0.5, false},
      {K::kMedian, "med", Col(in, "x"), nullptr, 0.5, false},
      {K::kPercentile, "p90", Col(in, "y"), nullptr, 0.9, false},
      {K::kPercentile, "p0", Col(in, "x"), nullptr, 0.0, false},
      {K::kProportion, "prop_rows", RandomCond(rng, inputs, 1), nullptr, 0.5, false},
      {K::kProportion, "prop_subj", Gt(Col(in, "x"), Lit(int64_t{30})), nullptr, 0.5, true},
      {K::kRate, "rate", Col(in, "y"), Col(in, "x"), 0.5, false},
  };
  return p;
}

class EngineRandomTest : public ::testing::TestWithParam<int> {};

TEST_P(EngineRandomTest, SingleTableMatchesReference) {
  std::mt19937 rng(GetParam());
  TestTable t = MakeTable(rng, 50 + rng() % 400, 5 + rng() % 60, 0.1 + 0.05 * (rng() % 4),
                          {"aut", "spr", "sum"});
  for (int i = 0; i < 4; ++i) {
    Plan p = RandomPlan(rng, 1);
    CheckAgainstReference(p, {&t}, 1 + i % 3, absl::StrCat("seed ", GetParam(), " plan ", i));
  }
}

TEST_P(EngineRandomTest, JoinsMatchReference) {
  std::mt19937 rng(1000 + GetParam());
  // Few subjects and several rows each: many-to-many joins.
  TestTable a = MakeTable(rng, 30 + rng() % 120, 4 + rng() % 40, 0.1, {"aut", "spr", "sum"});
  TestTable b = MakeTable(rng, 30 + rng() % 120, 4 + rng() % 40, 0.1, {"sum", "aut", "x"});
  TestTable c = MakeTable(rng, 10 + rng() % 30, 4 + rng() % 40, 0.1, {"spr"});
  for (int i = 0; i < 3; ++i) {
    Plan p2 = RandomPlan(rng, 2);
    CheckAgainstReference(p2, {&a, &b}, 1 + i % 2, absl::StrCat("join seed ", GetParam(), " plan ", i));
  }
  Plan p3 = RandomPlan(rng, 3);
  CheckAgainstReference(p3, {&a, &b, &c}, 2, absl::StrCat("3-way seed ", GetParam()));
  // The smaller side as the probe side.
  Plan p4 = RandomPlan(rng, 2);
  CheckAgainstReference(p4, {&c, &a}, 2, absl::StrCat("small-left seed ", GetParam()));
}

INSTANTIATE_TEST_SUITE_P(Seeds, EngineRandomTest, ::testing::Range(1, 31));

TEST(EngineTest, ManyChunksAndSparseSubjectsMatchReference) {
  std::mt19937 rng(77);
  // Crosses chunk and batch boundaries; subject ids spread and repeated.
  TestTable t = MakeTable(rng, 2 * kChunkRows + 1234, 50000, 0.05, {"aut", "spr"});
  Plan p = RandomPlan(rng, 1);
  p.filter = Gt(Col(0, "y"), Lit(int64_t{2}));
  p.group_keys = {KeyColumn("k1", 0, "k1"), KeyColumn("k2", 0, "k2")};
  CheckAgainstReference(p, {&t}, 2, "large");
  CheckAgainstReference(p, {&t}, 3, "large 3 threads");
}

TEST(EngineTest, LargeJoinOnSparseSubjectIdsMatchesReference) {
  std::mt19937 rng(78);
  // Ids far above the row count force the sorted (non direct-address) join.
  TestTable a = MakeTable(rng, 300, 3000000000u, 0.0, {"aut"});
  TestTable b = MakeTable(rng, 200, 3000000000u, 0.0, {"aut"});
  // Make some subjects shared: copy a's subject column into b's first rows
  // by joining a with itself as well.
  Plan p = RandomPlan(rng, 2);
  CheckAgainstReference(p, {&a, &a}, 2, "self join sparse");
  CheckAgainstReference(p, {&a, &b}, 2, "sparse");
}

TEST(EngineTest, OneRowPerSubjectJoinMatchesReference) {
  std::mt19937 rng(79);
  // Unique subjects on both sides (the one-to-one direct path), in
  // different orders, then a duplicate on the build side (the CSR path).
  auto make = [&](std::vector<uint32_t> ids) {
    std::shuffle(ids.begin(), ids.end(), rng);
    TestTable t = MakeTable(rng, ids.size(), 1, 0.05, {"aut", "spr"});
    ColumnBuilder b("subj", ColumnType::kSubject);
    for (size_t r = 0; r < ids.size(); ++r) {
      b.AppendSubject(ids[r]);
      t.cols[0].miss[r] = 0;
      t.cols[0].code[r] = ids[r];
    }
    std::vector<std::shared_ptr<const Column>> cols = {*b.Finish()};
    for (size_t c = 1; c < t.table->columns().size(); ++c) cols.push_back(t.table->columns()[c]);
    t.table = *Table::Create("t", std::move(cols));
    return t;
  };
  std::vector<uint32_t> left_ids(400), right_ids(300);
  for (uint32_t i = 0; i < 400; ++i) left_ids[i] = i * 3;
  for (uint32_t i = 0; i < 300; ++i) right_ids[i] = i * 2;
  TestTable a = make(left_ids), b = make(right_ids);
  right_ids.push_back(6);  // subject 6 twice on the build side
  TestTable c = make(right_ids);
  for (int i = 0; i < 3; ++i) {
    Plan p = RandomPlan(rng, 2);
    CheckAgainstReference(p, {&a, &b}, 2, absl::StrCat("one-to-one ", i));
    CheckAgainstReference(p, {&a, &c}, 2, absl::StrCat("one dup ", i));
  }
}

// ------------------------------------------------------------ targeted tests

struct Small {
  std::shared_ptr<const Table> table;
};

// subj: 1..n; v: values with std::nullopt as missing (reason NE).
std::shared_ptr<const Table> SmallTable(const std::vector<uint32_t>& subj,
                                        const std::vector<std::optional<double>>& v,
                                        const std::vector<std::string>& g) {
  ColumnBuilder s("subj", ColumnType::kSubject), x("v", ColumnType::kDouble), k("g", ColumnType::kCode);
  for (size_t i = 0; i < subj.size(); ++i) {
    s.AppendSubject(subj[i]);
    if (v[i]) {
      x.AppendDouble(*v[i]);
    } else {
      x.AppendMissing(kNE);
    }
    k.AppendString(g[i]);
  }
  auto t = Table::Create("small", {*s.Finish(), *x.Finish(), *k.Finish()});
  EXPECT_THAT(t, IsOk());
  return *t;
}

Aggregate Agg(Aggregate::Kind k, ExprPtr arg = nullptr) {
  Aggregate a;
  a.kind = k;
  a.arg = std::move(arg);
  return a;
}

TEST(EngineTest, ThreeValuedLogicForMissingValues) {
  auto t = SmallTable({1, 2, 3, 4}, {1.0, std::nullopt, 10.0, std::nullopt}, {"a", "a", "b", "b"});
  const Table* ts[] = {t.get()};
  auto count = [&](ExprPtr filter) {
    Plan p;
    p.inputs = {{"subj", {}}};
    p.filter = std::move(filter);
    p.aggregates = {Agg(Aggregate::Kind::kCountStar)};
    auto r = Execute(p, ts);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->rows[0].aggregates[0].value : -1;
  };
  EXPECT_EQ(count(Gt(Col(0, "v"), Lit(int64_t{5}))), 1);
  EXPECT_EQ(count(Not(Gt(Col(0, "v"), Lit(int64_t{5})))), 1);  // missing stays unknown
  EXPECT_EQ(count(Ne(Col(0, "v"), Lit(int64_t{1}))), 1);
  EXPECT_EQ(count(IsNull(Col(0, "v"))), 2);
  EXPECT_EQ(count(IsNotNull(Col(0, "v"))), 2);
  // UNKNOWN OR TRUE = TRUE; NOT(UNKNOWN AND FALSE) = TRUE; NOT(UNKNOWN AND
  // TRUE) = UNKNOWN (row 4 is dropped).
  EXPECT_EQ(count(Or({Gt(Col(0, "v"), Lit(int64_t{5})), Eq(Col(0, "g"), Lit("b"))})), 2);
  EXPECT_EQ(count(Not(And({Gt(Col(0, "v"), Lit(int64_t{5})), Eq(Col(0, "g"), Lit("z"))}))), 4);
  EXPECT_EQ(count(Not(And({Gt(Col(0, "v"), Lit(int64_t{5})), Eq(Col(0, "g"), Lit("b"))}))), 2);
  EXPECT_EQ(count(Eq(Arith(ArithOp::kDiv, Col(0, "v"), Lit(int64_t{0})), Lit(int64_t{0}))), 0);
  EXPECT_EQ(count(IsNull(Arith(ArithOp::kDiv, Col(0, "v"), Lit(int64_t{0})))), 4);
  EXPECT_EQ(count(In(Col(0, "v"), {int64_t{1}, 10.0})), 2);
  EXPECT_EQ(count(Not(In(Col(0, "v"), {int64_t{1}}))), 1);
}

TEST(EngineTest, PerSubjectContributionsAndPopulations) {
  // Subject 7 has three rows (one missing): one contributor with total 9.
  auto t = SmallTable({7, 7, 7, 8, 9}, {4.0, 5.0, std::nullopt, -12.0, 1.0}, {"a", "a", "a", "a", "a"});
  const Table* ts[] = {t.get()};
  Plan p;
  p.inputs = {{"subj", {}}};
  p.group_keys = {KeyColumn("g", 0, "g")};
  p.aggregates = {Agg(Aggregate::Kind::kSum, Col(0, "v")), Agg(Aggregate::Kind::kCountDistinctSubject),
                  Agg(Aggregate::Kind::kCount, Col(0, "v"))};
  auto r = Execute(p, ts);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->rows.size(), 1u);
  const AggregateValue& sum = r->rows[0].aggregates[0];
  EXPECT_EQ(sum.value, -2.0);
  ASSERT_TRUE(sum.has_contributions);
  EXPECT_EQ(sum.contributions.contributors, 3u);
  EXPECT_EQ(sum.contributions.top1, 12.0);
  EXPECT_EQ(sum.contributions.top2, 9.0);
  EXPECT_EQ(sum.contributions.total, 22.0);
  EXPECT_EQ(r->rows[0].aggregates[1].value, 3.0);
  EXPECT_EQ(r->rows[0].aggregates[2].value, 4.0);
  EXPECT_EQ(r->rows[0].rows, 5u);
  const SubjectBitmap& bm = sum.population->Bitmap();
  EXPECT_EQ(bm.Cardinality(), 3u);
  EXPECT_TRUE(bm.Contains(7));
  EXPECT_TRUE(bm.Contains(9));
  EXPECT_FALSE(bm.Contains(1));
  EXPECT_EQ(bm.ToVector(), (std::vector<uint32_t>{7, 8, 9}));
}

TEST(EngineTest, ManyToManyJoin) {
  // Subject 1: 2 rows left x 3 rows right = 6; subject 2: 1 x 0; subject 3: 1 x 1.
  auto l = SmallTable({1, 1, 2, 3}, {1.0, 2.0, 3.0, 4.0}, {"a", "b", "a", "a"});
  auto r = SmallTable({1, 3, 1, 1, 4}, {10.0, 20.0, 30.0, 40.0, 50.0}, {"a", "a", "b", "a", "a"});
  const Table* ts[] = {l.get(), r.get()};
  Plan p;
  p.inputs = {{"subj", {}}, {"subj", {}}};
  p.aggregates = {Agg(Aggregate::Kind::kCountStar), Agg(Aggregate::Kind::kSum, Col(1, "v")),
                  Agg(Aggregate::Kind::kCountDistinctSubject)};
  auto res = Execute(p, ts);
  ASSERT_THAT(res, IsOk());
  EXPECT_EQ(res->rows[0].aggregates[0].value, 7.0);
  EXPECT_EQ(res->rows[0].aggregates[1].value, 2 * (10.0 + 30.0 + 40.0) + 20.0);
  EXPECT_EQ(res->rows[0].aggregates[2].value, 2.0);
  // With an extra key on g: subject 1 pairs (a,a)x2... l rows (1,a),(1,b); r rows (1,a),(1,b),(1,a).
  p.inputs[1].extra_keys = {{ColumnRef{0, "g"}, "g"}};
  res = Execute(p, ts);
  ASSERT_THAT(res, IsOk());
  EXPECT_EQ(res->rows[0].aggregates[0].value, 2.0 + 1.0 + 1.0);
}

TEST(EngineTest, GlobalAggregateOverNoRows) {
  auto t = SmallTable({1}, {1.0}, {"a"});
  const Table* ts[] = {t.get()};
  Plan p;
  p.inputs = {{"subj", {}}};
  p.filter = Eq(Col(0, "g"), Lit("zzz"));
  p.aggregates = {Agg(Aggregate::Kind::kCountStar), Agg(Aggregate::Kind::kAvg, Col(0, "v"))};
  auto r = Execute(p, ts);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0].aggregates[0].value, 0.0);
  EXPECT_TRUE(r->rows[0].aggregates[1].missing);
  EXPECT_EQ(r->rows[0].population->Cardinality(), 0u);
  // Grouped: no rows, no groups.
  p.group_keys = {KeyColumn("g", 0, "g")};
  r = Execute(p, ts);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->rows.empty());
}

TEST(EngineTest, ResultOrderAndLabels) {
  auto t = SmallTable({1, 2, 3, 4}, {55.0, std::nullopt, 5.0, 100.0}, {"b", "a", "c", "a"});
  const Table* ts[] = {t.get()};
  Plan p;
  p.inputs = {{"subj", {}}};
  p.group_keys = {KeyColumn("g", 0, "g"), KeyBand("band", Col(0, "v"), 0, 60, 25)};
  p.aggregates = {Agg(Aggregate::Kind::kCountStar)};
  auto r = Execute(p, ts);
  ASSERT_THAT(r, IsOk());
  std::vector<std::string> got;
  for (const auto& row : r->rows) {
    got.push_back(row.keys[0].label + "|" + (row.keys[1].missing ? "NULL" : row.keys[1].label));
  }
  EXPECT_EQ(got, (std::vector<std::string>{"a|NULL", "a|>=60", "b|50-60", "c|0-25"}));
  EXPECT_EQ(r->key_names, (std::vector<std::string>{"g", "band"}));
}

TEST(EngineTest, TooManyGroups) {
  std::mt19937 rng(5);
  TestTable t = MakeTable(rng, 500, 100, 0.0, {"aut"});
  const Table* ts[] = {t.table.get()};
  Plan p;
  p.inputs = {{"subj", {}}};
  p.group_keys = {KeyColumn("k1", 0, "k1"), KeyColumn("y", 0, "y")};
  p.aggregates = {Agg(Aggregate::Kind::kCountStar)};
  Options opt;
  opt.max_groups = 10;
  EXPECT_THAT(Execute(p, ts, opt),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("too many groups")));
  opt.threads = 1;
  EXPECT_THAT(Execute(p, ts, opt), StatusIs(absl::StatusCode::kResourceExhausted));
  opt.max_groups = 1000;
  EXPECT_THAT(Execute(p, ts, opt), IsOk());
  // A wide key space (hash table path) hits the same limit.
  p.group_keys = {KeyColumn("k1", 0, "k1"), KeyColumn("y", 0, "y"), KeyColumn("k2", 0, "k2"),
                  KeyBand("b", Col(0, "x"), -1000, 1000, 0.25)};
  opt.max_groups = 10;
  EXPECT_THAT(Execute(p, ts, opt), StatusIs(absl::StatusCode::kResourceExhausted));
  opt.max_groups = 100000;
  CheckAgainstReference(p, {&t}, 2, "wide key space");
}

TEST(EngineTest, InvalidPlansAreRejected) {
  auto t = SmallTable({1}, {1.0}, {"a"});
  const Table* ts[] = {t.get()};
  auto expect_invalid = [&](Plan p, const std::string& msg) {
    EXPECT_THAT(Execute(p, ts), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(msg)));
  };
  Plan base;
  base.inputs = {{"subj", {}}};
  base.aggregates = {Agg(Aggregate::Kind::kCountStar)};
  Plan p = base;
  p.filter = Eq(Col(0, "nope"), Lit(int64_t{1}));
  expect_invalid(p, "filter: no column 'nope'");
  p.filter = Eq(Col(0, "g"), Lit(int64_t{1}));
  expect_invalid(p, "cannot compare");
  p.filter = Col(0, "v");
  expect_invalid(p, "condition");
  p.filter = Eq(Col(3, "v"), Lit(int64_t{1}));
  expect_invalid(p, "input 3");
  p.filter = Gt(Col(0, "subj"), Lit(int64_t{1}));
  expect_invalid(p, "cannot compare");
  p = base;
  p.group_keys = {KeyColumn("v", 0, "v")};
  expect_invalid(p, "BAND");
  p.group_keys = {KeyBand("b", Col(0, "v"), 5, 1, 1)};
  expect_invalid(p, "group key 0");
  p.group_keys = {KeyBand("b", Col(0, "v"), 0, 1e9, 1)};
  expect_invalid(p, "10000");
  p = base;
  p.aggregates = {Agg(Aggregate::Kind::kSum, Col(0, "g"))};
  expect_invalid(p, "aggregate 0");
  p.aggregates = {Agg(Aggregate::Kind::kAvg)};
  expect_invalid(p, "aggregate 0");
  Aggregate pct = Agg(Aggregate::Kind::kPercentile, Col(0, "v"));
  pct.p = 1.5;
  p.aggregates = {pct};
  expect_invalid(p, "PERCENTILE");
  p = base;
  p.inputs = {{"v", {}}};
  expect_invalid(p, "not SUBJECT");
  p = base;
  p.inputs = {{"subj", {}}, {"subj", {}}};
  expect_invalid(p, "2 inputs");
  Options bad;
  bad.threads = 0;
  EXPECT_THAT(Execute(base, ts, bad), StatusIs(absl::StatusCode::kInvalidArgument));
  const Table* two[] = {t.get(), t.get()};
  p = base;
  p.inputs = {{"subj", {}}, {"subj", {{ColumnRef{0, "g"}, "v"}}}};
  EXPECT_THAT(Execute(p, two), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("join key")));
  p.inputs = {{"subj", {}}, {"subj", {{ColumnRef{1, "g"}, "g"}}}};
  EXPECT_THAT(Execute(p, two), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("earlier")));
}

}  // namespace
}  // namespace datalab::engine
