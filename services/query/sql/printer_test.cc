// Canonical printing and the round-trip property
// parse(ToSql(parse(q))) == parse(q).
#include "services/query/sql/printer.h"

#include <random>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/sql/parser.h"
#include "services/query/sql/test_corpus.h"

namespace datalab::sql {
namespace {

using ::datalab::testing::IsOk;

// Checks the round-trip property for one query; returns the canonical text.
std::string ExpectRoundTrip(std::string_view sql,
                            const ParseOptions& options = {}) {
  absl::StatusOr<Query> first = ParseQuery(sql, options);
  EXPECT_THAT(first, IsOk()) << sql;
  if (!first.ok()) return "";
  const std::string canonical = ToSql(*first);
  absl::StatusOr<Query> second = ParseQuery(canonical, options);
  EXPECT_THAT(second, IsOk()) << canonical;
  if (!second.ok()) return canonical;
  EXPECT_TRUE(StructurallyEqual(*first, *second))
      << "original:  " << sql << "\ncanonical: " << canonical
      << "\nreprinted: " << ToSql(*second);
  EXPECT_EQ(ToSql(*second), canonical) << "printing is not idempotent";
  return canonical;
}

std::string Canonical(std::string_view sql) {
  ParseOptions options;
  options.check_functions = false;
  return ExpectRoundTrip(sql, options);
}

TEST(PrinterTest, CorpusRoundTrips) {
  for (std::string_view sql : testing::kValidQueries) ExpectRoundTrip(sql);
}

TEST(PrinterTest, BriefExamplesInCanonicalForm) {
  EXPECT_EQ(Canonical("select school_urn, fsm, count(distinct pupil) pupils, "
                      "avg(attainment8) from ks4 inner join census using "
                      "(pupil) where nc_year = 11 and term = 'autumn-2025' "
                      "group by school_urn, fsm order by school_urn asc;"),
            "SELECT school_urn, fsm, COUNT(DISTINCT pupil) AS pupils, "
            "AVG(attainment8) FROM ks4 JOIN census USING (pupil) WHERE "
            "nc_year = 11 AND term = 'autumn-2025' GROUP BY school_urn, fsm "
            "ORDER BY school_urn");
  EXPECT_EQ(Canonical("SELECT CASE WHEN ethnicity IN ('WBRI','WIRI') THEN "
                      "'white' ELSE 'other' END AS grp, MEDIAN(progress8), "
                      "PERCENTILE(progress8, 90) FROM ks4 GROUP BY grp"),
            "SELECT CASE WHEN ethnicity IN ('WBRI', 'WIRI') THEN 'white' ELSE "
            "'other' END AS grp, MEDIAN(progress8), PERCENTILE(progress8, 90) "
            "FROM ks4 GROUP BY grp");
}

TEST(PrinterTest, TableRefs) {
  EXPECT_EQ(Canonical("SELECT COUNT(*) FROM trust.census@3 c JOIN \"ks 4\"@1 "
                      "AS k USING (pupil, \"term\")"),
            "SELECT COUNT(*) FROM trust.census@3 AS c JOIN \"ks 4\"@1 AS k "
            "USING (pupil, \"term\")");
}

TEST(PrinterTest, ParenthesesOnlyWherePrecedenceNeedsThem) {
  EXPECT_EQ(Canonical("SELECT SUM(((a - b)) - c), SUM(a - (b - c)), SUM((a * "
                      "b) + (c / d)), SUM((a + b) * c), SUM(a / (b * c)) FROM "
                      "t"),
            "SELECT SUM(a - b - c), SUM(a - (b - c)), SUM(a * b + c / d), "
            "SUM((a + b) * c), SUM(a / (b * c)) FROM t");
  EXPECT_EQ(Canonical("SELECT COUNT(*) FROM t WHERE (a OR b) AND NOT (c AND "
                      "d) OR (NOT e) AND ((f = 1))"),
            "SELECT COUNT(*) FROM t WHERE (a OR b) AND NOT (c AND d) OR NOT e "
            "AND f = 1");
  EXPECT_EQ(Canonical("SELECT COUNT(*) FROM t WHERE (a = b) = (c IS NULL) "
                      "AND (x IN (1)) IS NOT NULL AND (a + 1) BETWEEN (b - 1) "
                      "AND (c * 2)"),
            "SELECT COUNT(*) FROM t WHERE (a = b) = (c IS NULL) AND (x IN "
            "(1)) IS NOT NULL AND a + 1 BETWEEN b - 1 AND c * 2");
}

TEST(PrinterTest, UnaryMinus) {
  EXPECT_EQ(Canonical("SELECT SUM(-x), SUM(- 1), SUM(-(1)), SUM(- -1), "
                      "SUM(-(x + 1)), SUM(-(-x)), SUM(2 - -3), SUM(-x * y) "
                      "FROM t"),
            "SELECT SUM(-x), SUM(-1), SUM(-(1)), SUM(-(-1)), SUM(-(x + 1)), "
            "SUM(-(-x)), SUM(2 - -3), SUM(-x * y) FROM t");
}

TEST(PrinterTest, Literals) {
  EXPECT_EQ(Canonical("SELECT COUNT(*) FROM t WHERE a IN (007, 1.50, .5, 3., "
                      "'it''s', '', null, true, False) AND b <> 'x' AND c != "
                      "1"),
            "SELECT COUNT(*) FROM t WHERE a IN (7, 1.5, 0.5, 3.0, 'it''s', "
            "'', NULL, TRUE, FALSE) AND b <> 'x' AND c <> 1");
  EXPECT_EQ(Canonical("SELECT COUNT(*) FROM t WHERE a = 'multi\nline'"),
            "SELECT COUNT(*) FROM t WHERE a = 'multi\nline'");
}

TEST(PrinterTest, Identifiers) {
  EXPECT_EQ(ToSql(Identifier{"pupil", false, {}}), "pupil");
  EXPECT_EQ(ToSql(Identifier{"pupil", true, {}}), "\"pupil\"");
  EXPECT_EQ(ToSql(Identifier{"order", false, {}}), "\"order\"");
  EXPECT_EQ(ToSql(Identifier{"a b", false, {}}), "\"a b\"");
  EXPECT_EQ(ToSql(Identifier{"1a", false, {}}), "\"1a\"");
  EXPECT_EQ(ToSql(Identifier{"say \"hi\"", true, {}}), "\"say \"\"hi\"\"\"");
  EXPECT_EQ(Canonical("SELECT \"x\"\"y\" AS \"SELECT\", COUNT(*) AS n FROM "
                      "\"from\" GROUP BY 1"),
            "SELECT \"x\"\"y\" AS \"SELECT\", COUNT(*) AS n FROM \"from\" "
            "GROUP BY 1");
}

TEST(PrinterTest, CaseGroupOrderLimit) {
  EXPECT_EQ(Canonical("select case when a then 1 when b then 2 end, count(*) "
                      "from t group by 1 having count(*) > 10 order by 2 "
                      "desc, 1 limit 5"),
            "SELECT CASE WHEN a THEN 1 WHEN b THEN 2 END, COUNT(*) FROM t "
            "GROUP BY 1 HAVING COUNT(*) > 10 ORDER BY 2 DESC, 1 LIMIT 5");
}

// ---- property test over randomly generated queries ----

// Generates syntactically valid queries from the grammar, with random
// spacing, case, comments and redundant parentheses, so the printer sees
// shapes no hand-written test lists.
class QueryGenerator {
 public:
  explicit QueryGenerator(uint32_t seed) : rng_(seed) {}

  std::string Query() {
    std::string q = Kw("SELECT") + Sp();
    const int items = Pick(1, 4);
    for (int i = 0; i < items; ++i) {
      if (i > 0) q += "," + Sp();
      q += Expr(2);
      if (Chance(3)) q += Sp() + (Chance(2) ? Kw("AS") + Sp() : "") + Name();
    }
    q += Sp() + Kw("FROM") + Sp() + TableRef();
    for (int j = Pick(0, 2); j > 0; --j) {
      q += Sp() + (Chance(2) ? Kw("INNER") + Sp() : "") + Kw("JOIN") + Sp() +
           TableRef() + Sp() + Kw("USING") + Sp() + "(" + Name();
      for (int c = Pick(0, 2); c > 0; --c) q += "," + Sp() + Name();
      q += ")";
    }
    if (Chance(2)) q += Sp() + Kw("WHERE") + Sp() + Expr(3);
    if (Chance(2)) {
      q += Sp() + Kw("GROUP") + Sp() + Kw("BY") + Sp();
      for (int g = Pick(1, 3); g > 0; --g) {
        // Never a bare integer other than a valid position.
        q += Chance(3) ? std::to_string(Pick(1, items))
                       : (Chance(2) ? Name() : "(" + Expr(2) + ") + " + Name());
        if (g > 1) q += "," + Sp();
      }
    }
    if (Chance(3)) q += Sp() + Kw("HAVING") + Sp() + Expr(2);
    if (Chance(3)) {
      q += Sp() + Kw("ORDER") + Sp() + Kw("BY") + Sp() + Name() + " * " +
           Expr(2);
      if (Chance(2)) q += Sp() + Kw(Chance(2) ? "ASC" : "DESC");
    }
    if (Chance(4))
      q += Sp() + Kw("LIMIT") + Sp() + std::to_string(Pick(0, 100000));
    if (Chance(4)) q += Sp() + ";";
    return q;
  }

 private:
  int Pick(int lo, int hi) {
    return std::uniform_int_distribution<int>(lo, hi)(rng_);
  }
  bool Chance(int one_in) { return Pick(1, one_in) == 1; }

  std::string Kw(const std::string& keyword) {
    std::string out = keyword;
    for (char& c : out) {
      if (Chance(3)) c = static_cast<char>(std::tolower(c));
    }
    return out;
  }

  std::string Sp() {
    switch (Pick(0, 9)) {
      case 0:
        return "\n  ";
      case 1:
        return " /* c */ ";
      case 2:
        return " -- note\n";
      case 3:
        return "\t";
      default:
        return " ";
    }
  }

  std::string Name() {
    static const char* kNames[] = {
        "pupil", "fsm",     "term",      "school_urn", "x", "Score",
        "y2",    "\"a b\"", "\"order\"", "\"q\"\"t\"", "_u"};
    return kNames[Pick(0, 10)];
  }

  std::string TableRef() {
    std::string t = Chance(4) ? Name() + "." + Name() : Name();
    if (Chance(3)) t += "@" + std::to_string(Pick(1, 99));
    if (Chance(2)) t += Sp() + (Chance(2) ? Kw("AS") + Sp() : "") + Name();
    return t;
  }

  std::string Literal() {
    switch (Pick(0, 6)) {
      case 0:
        return std::to_string(Pick(0, 1000));
      case 1:
        return "-" + std::to_string(Pick(0, 1000));
      case 2:
        return std::to_string(Pick(0, 99)) + "." + std::to_string(Pick(0, 99));
      case 3:
        return "'s" + std::to_string(Pick(0, 9)) + (Chance(3) ? "''q" : "") +
               "'";
      case 4:
        return Kw("NULL");
      case 5:
        return Kw(Chance(2) ? "TRUE" : "FALSE");
      default:
        return "." + std::to_string(Pick(1, 9));
    }
  }

  std::string Primary(int depth) {
    switch (depth <= 0 ? Pick(0, 1) : Pick(0, 7)) {
      case 0:
        return Literal();
      case 1:
        return Chance(3) ? Name() + "." + Name() : Name();
      case 2:
        return "(" + Expr(depth - 1) + ")";
      case 3:
        return Kw("COUNT") + "(*)";
      case 4: {
        static const char* kFns[] = {"SUM", "AVG", "band", "f", "Rate"};
        std::string call = std::string(kFns[Pick(0, 4)]) + "(";
        if (Chance(4)) call += Kw("DISTINCT") + Sp();
        for (int a = Pick(1, 3); a > 0; --a) {
          call += Expr(depth - 1) + (a > 1 ? "," + Sp() : "");
        }
        return call + ")";
      }
      case 5: {
        std::string c = Kw("CASE");
        for (int w = Pick(1, 2); w > 0; --w) {
          c += Sp() + Kw("WHEN") + Sp() + Expr(depth - 1) + Sp() + Kw("THEN") +
               Sp() + Expr(depth - 1);
        }
        if (Chance(2)) c += Sp() + Kw("ELSE") + Sp() + Expr(depth - 1);
        return c + Sp() + Kw("END");
      }
      case 6: {
        const std::string operand = Primary(depth - 1);
        // "--" would start a comment.
        const bool space = operand[0] == '-' || Chance(2);
        return (space ? "- " : "-") + operand;
      }
      default:
        return "(" + Kw("NOT") + Sp() + Primary(depth - 1) + ")";
    }
  }

  std::string Sum(int depth) {
    static const char* kOps[] = {"+", "-", "*", "/"};
    std::string s = Primary(depth);
    for (int i = Pick(0, 2); i > 0; --i) {
      s += Sp() + kOps[Pick(0, 3)] + Sp() + Primary(depth);
    }
    return s;
  }

  std::string Predicate(int depth) {
    static const char* kCmp[] = {"=", "<>", "!=", "<", "<=", ">", ">="};
    std::string lhs = Sum(depth);
    switch (Pick(0, 6)) {
      case 0:
      case 1:
        return lhs + Sp() + kCmp[Pick(0, 6)] + Sp() + Sum(depth);
      case 2: {
        std::string in = lhs + Sp() + (Chance(2) ? Kw("NOT") + Sp() : "") +
                         Kw("IN") + Sp() + "(" + Literal();
        for (int i = Pick(0, 3); i > 0; --i) in += "," + Sp() + Literal();
        return in + ")";
      }
      case 3:
        return lhs + Sp() + (Chance(2) ? Kw("NOT") + Sp() : "") +
               Kw("BETWEEN") + Sp() + Sum(depth) + Sp() + Kw("AND") + Sp() +
               Sum(depth);
      case 4:
        return lhs + Sp() + Kw("IS") + Sp() +
               (Chance(2) ? Kw("NOT") + Sp() : "") + Kw("NULL");
      default:
        return lhs;
    }
  }

  std::string Expr(int depth) {
    std::string e = Predicate(depth);
    for (int i = Pick(0, 2); i > 0; --i) {
      e += Sp() + Kw(Chance(2) ? "AND" : "OR") + Sp() +
           (Chance(4) ? Kw("NOT") + Sp() : "") + Predicate(depth);
    }
    return e;
  }

  std::mt19937 rng_;
};

TEST(PrinterTest, RandomQueriesRoundTrip) {
  ParseOptions options;
  options.check_functions = false;  // the generator ignores arity rules
  options.max_query_bytes = 1 << 20;
  options.max_tokens = 100000;
  QueryGenerator generator(20251123);
  int parsed = 0;
  for (int i = 0; i < 3000; ++i) {
    const std::string sql = generator.Query();
    absl::StatusOr<Query> q = ParseQuery(sql, options);
    ASSERT_THAT(q, IsOk()) << sql;
    ++parsed;
    ExpectRoundTrip(sql, options);
    if (::testing::Test::HasFailure()) break;
  }
  EXPECT_EQ(parsed, 3000);
}

}  // namespace
}  // namespace datalab::sql
