// Valid queries and the shape of the AST the parser builds for them.
#include "services/query/sql/parser.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/sql/printer.h"
#include "services/query/sql/test_corpus.h"

namespace datalab::sql {
namespace {

using ::datalab::testing::IsOk;
using ::testing::ElementsAre;

Query MustParse(std::string_view sql, const ParseOptions& options = {}) {
  absl::StatusOr<Query> q = ParseQuery(sql, options);
  EXPECT_THAT(q, IsOk()) << sql;
  if (!q.ok()) return Query{};
  return *std::move(q);
}

TEST(ParserTest, AcceptsEveryCorpusQuery) {
  for (std::string_view sql : testing::kValidQueries) {
    EXPECT_THAT(ParseQuery(sql), IsOk()) << sql;
  }
}

TEST(ParserTest, BriefExampleSchoolBreakdown) {
  Query q = MustParse(
      "SELECT school_urn, fsm, COUNT(DISTINCT pupil) AS pupils, "
      "AVG(attainment8) FROM ks4 JOIN census USING (pupil) WHERE nc_year = 11 "
      "AND term = 'autumn-2025' GROUP BY school_urn, fsm ORDER BY "
      "school_urn");
  ASSERT_EQ(q.select.size(), 4u);
  EXPECT_EQ(q.select[0].expr->kind, ExprKind::kColumn);
  EXPECT_EQ(q.select[0].expr->name.name, "school_urn");
  EXPECT_FALSE(q.select[0].alias.has_value());

  const Expr& count = *q.select[2].expr;
  EXPECT_EQ(count.kind, ExprKind::kCall);
  EXPECT_EQ(count.name.name, "COUNT");
  EXPECT_TRUE(count.distinct);
  EXPECT_FALSE(count.star);
  ASSERT_EQ(count.operands.size(), 1u);
  EXPECT_EQ(count.operands[0]->name.name, "pupil");
  ASSERT_TRUE(q.select[2].alias.has_value());
  EXPECT_EQ(q.select[2].alias->name, "pupils");

  EXPECT_EQ(q.from.name.name, "ks4");
  ASSERT_EQ(q.joins.size(), 1u);
  EXPECT_EQ(q.joins[0].table.name.name, "census");
  ASSERT_EQ(q.joins[0].using_columns.size(), 1u);
  EXPECT_EQ(q.joins[0].using_columns[0].name, "pupil");

  ASSERT_NE(q.where, nullptr);
  EXPECT_EQ(q.where->op, Op::kAnd);
  EXPECT_EQ(q.where->operands[1]->op, Op::kEq);
  EXPECT_EQ(q.where->operands[1]->operands[1]->literal.kind,
            LiteralKind::kString);
  EXPECT_EQ(q.where->operands[1]->operands[1]->literal.text, "autumn-2025");
  ASSERT_EQ(q.group_by.size(), 2u);
  ASSERT_EQ(q.order_by.size(), 1u);
  EXPECT_FALSE(q.order_by[0].descending);
  EXPECT_FALSE(q.limit.has_value());
  EXPECT_EQ(q.having, nullptr);
}

TEST(ParserTest, BriefExampleProportion) {
  Query q = MustParse(
      "SELECT sen_provision, PROPORTION(absence_pct >= 10) FROM attendance "
      "JOIN census USING (pupil, term) GROUP BY sen_provision");
  const Expr& p = *q.select[1].expr;
  EXPECT_EQ(p.name.name, "PROPORTION");
  ASSERT_EQ(p.operands.size(), 1u);
  EXPECT_EQ(p.operands[0]->op, Op::kGe);
  ASSERT_EQ(q.joins[0].using_columns.size(), 2u);
  EXPECT_EQ(q.joins[0].using_columns[1].name, "term");
}

TEST(ParserTest, BriefExampleBandAndOrdinal) {
  Query q = MustParse(
      "SELECT BAND(reading_scaled_score, 80, 120, 5) AS band, COUNT(*) FROM "
      "ks2 GROUP BY 1");
  const Expr& band = *q.select[0].expr;
  EXPECT_EQ(band.name.name, "BAND");
  ASSERT_EQ(band.operands.size(), 4u);
  EXPECT_EQ(band.operands[1]->literal.int_value, 80);
  EXPECT_TRUE(q.select[1].expr->star);
  ASSERT_EQ(q.group_by.size(), 1u);
  EXPECT_EQ(q.group_by[0]->literal.kind, LiteralKind::kInteger);
  EXPECT_EQ(q.group_by[0]->literal.int_value, 1);
}

TEST(ParserTest, BriefExampleCase) {
  Query q = MustParse(
      "SELECT CASE WHEN ethnicity IN ('WBRI','WIRI') THEN 'white' ELSE "
      "'other' END AS grp, MEDIAN(progress8), PERCENTILE(progress8, 90) FROM "
      "ks4 GROUP BY grp");
  const Expr& c = *q.select[0].expr;
  EXPECT_EQ(c.kind, ExprKind::kCase);
  EXPECT_TRUE(c.has_else);
  ASSERT_EQ(c.operands.size(), 3u);
  const Expr& in = *c.operands[0];
  EXPECT_EQ(in.kind, ExprKind::kIn);
  EXPECT_FALSE(in.negated);
  ASSERT_EQ(in.operands.size(), 3u);
  EXPECT_EQ(in.operands[1]->literal.text, "WBRI");
  EXPECT_EQ(in.operands[2]->literal.text, "WIRI");
  EXPECT_EQ(c.operands[2]->literal.text, "other");
  EXPECT_EQ(q.group_by[0]->kind, ExprKind::kColumn);
}

TEST(ParserTest, KeywordsAreCaseInsensitiveAndNamesKeepTheirSpelling) {
  Query q = MustParse("sElEcT Count(*) fRoM KS4 wHeRe Fsm = TrUe");
  EXPECT_EQ(q.select[0].expr->name.name, "COUNT");
  EXPECT_EQ(q.from.name.name, "KS4");
  EXPECT_FALSE(q.from.name.quoted);
  EXPECT_EQ(q.where->operands[0]->name.name, "Fsm");
  EXPECT_EQ(q.where->operands[1]->literal.kind, LiteralKind::kBoolean);
  EXPECT_TRUE(q.where->operands[1]->literal.bool_value);
}

TEST(ParserTest, TableRefsWithNamespaceVersionAndAliases) {
  Query q = MustParse(
      "SELECT COUNT(*) FROM trust.census@12 AS c JOIN ks4@3 k USING (pupil) "
      "JOIN \"school list\" USING (school_urn)");
  ASSERT_TRUE(q.from.qualifier.has_value());
  EXPECT_EQ(q.from.qualifier->name, "trust");
  EXPECT_EQ(q.from.name.name, "census");
  EXPECT_EQ(q.from.version, 12);
  EXPECT_EQ(q.from.alias->name, "c");
  EXPECT_EQ(q.joins[0].table.name.name, "ks4");
  EXPECT_EQ(q.joins[0].table.version, 3);
  EXPECT_EQ(q.joins[0].table.alias->name, "k");
  EXPECT_EQ(q.joins[1].table.name.name, "school list");
  EXPECT_TRUE(q.joins[1].table.name.quoted);
  EXPECT_FALSE(q.joins[1].table.alias.has_value());
  EXPECT_FALSE(q.joins[1].table.version.has_value());
}

TEST(ParserTest, ImplicitAliases) {
  Query q = MustParse("SELECT COUNT(*) n, AVG(x) \"mean x\" FROM ks4 k");
  EXPECT_EQ(q.select[0].alias->name, "n");
  EXPECT_EQ(q.select[1].alias->name, "mean x");
  EXPECT_TRUE(q.select[1].alias->quoted);
  EXPECT_EQ(q.from.alias->name, "k");
}

TEST(ParserTest, QualifiedColumns) {
  Query q = MustParse("SELECT k.fsm, COUNT(*) FROM ks4 k GROUP BY k.fsm");
  const Expr& col = *q.select[0].expr;
  EXPECT_EQ(col.kind, ExprKind::kColumn);
  ASSERT_TRUE(col.qualifier.has_value());
  EXPECT_EQ(col.qualifier->name, "k");
  EXPECT_EQ(col.name.name, "fsm");
  EXPECT_EQ(col.qualifier->pos, (SourcePosition{1, 8}));
  EXPECT_EQ(col.name.pos, (SourcePosition{1, 10}));
}

TEST(ParserTest, PositionsAreLineAndCharacterColumn) {
  Query q = MustParse(
      "SELECT COUNT(*)\n"
      "FROM census\n"
      "WHERE name = 'café' AND fsm = 1");
  EXPECT_EQ(q.pos, (SourcePosition{1, 1}));
  EXPECT_EQ(q.select[0].expr->pos, (SourcePosition{1, 8}));
  EXPECT_EQ(q.from.pos, (SourcePosition{2, 6}));
  EXPECT_EQ(q.from.name.pos, (SourcePosition{2, 6}));
  const Expr& where = *q.where;
  EXPECT_EQ(where.pos, (SourcePosition{3, 21}));  // AND, after 4-char café
  EXPECT_EQ(where.operands[0]->pos, (SourcePosition{3, 12}));  // '='
  EXPECT_EQ(where.operands[1]->operands[0]->pos, (SourcePosition{3, 25}));
}

TEST(ParserTest, OperatorPrecedence) {
  Query q =
      MustParse("SELECT COUNT(*) FROM t WHERE a = 1 OR b = 2 AND NOT c = 3");
  const Expr& w = *q.where;
  EXPECT_EQ(w.op, Op::kOr);
  EXPECT_EQ(w.operands[1]->op, Op::kAnd);
  const Expr& not_expr = *w.operands[1]->operands[1];
  EXPECT_EQ(not_expr.kind, ExprKind::kUnary);
  EXPECT_EQ(not_expr.op, Op::kNot);
  EXPECT_EQ(not_expr.operands[0]->op, Op::kEq);

  Query arith = MustParse("SELECT SUM(1 + 2 * 3 - 4 / 5) FROM t");
  const Expr& sum = *arith.select[0].expr->operands[0];
  EXPECT_EQ(sum.op, Op::kSub);  // (1 + (2*3)) - (4/5)
  EXPECT_EQ(sum.operands[0]->op, Op::kAdd);
  EXPECT_EQ(sum.operands[0]->operands[1]->op, Op::kMul);
  EXPECT_EQ(sum.operands[1]->op, Op::kDiv);
}

TEST(ParserTest, SubtractionIsLeftAssociative) {
  Query q = MustParse("SELECT SUM(a - b - c) FROM t");
  const Expr& e = *q.select[0].expr->operands[0];
  EXPECT_EQ(e.op, Op::kSub);
  EXPECT_EQ(e.operands[0]->op, Op::kSub);
  EXPECT_EQ(e.operands[1]->kind, ExprKind::kColumn);
}

TEST(ParserTest, MinusBeforeANumberIsPartOfTheLiteral) {
  Query q = MustParse(
      "SELECT BAND(x, -10, 10, 0.5), COUNT(*) FROM t WHERE y IN (-1, -2.50) "
      "AND z = -9223372036854775808 AND w = -x GROUP BY 1");
  const Expr& band = *q.select[0].expr;
  EXPECT_EQ(band.operands[1]->literal.int_value, -10);
  EXPECT_EQ(band.operands[1]->pos, (SourcePosition{1, 16}));
  EXPECT_EQ(band.operands[3]->literal.kind, LiteralKind::kDecimal);
  EXPECT_EQ(band.operands[3]->literal.text, "0.5");
  const Expr& in = *q.where->operands[0]->operands[0];
  EXPECT_EQ(in.operands[1]->literal.int_value, -1);
  EXPECT_EQ(in.operands[2]->literal.text, "-2.5");
  const Expr& min = *q.where->operands[0]->operands[1]->operands[1];
  EXPECT_EQ(min.literal.int_value, INT64_MIN);
  const Expr& neg = *q.where->operands[1]->operands[1];
  EXPECT_EQ(neg.kind, ExprKind::kUnary);
  EXPECT_EQ(neg.op, Op::kNegate);
}

TEST(ParserTest, DecimalsAreCanonical) {
  Query q = MustParse(
      "SELECT COUNT(*) FROM t WHERE a IN (0012.500, .5, 3., -0.0, 10.01)");
  const Expr& in = *q.where;
  EXPECT_EQ(in.operands[1]->literal.text, "12.5");
  EXPECT_EQ(in.operands[2]->literal.text, "0.5");
  EXPECT_EQ(in.operands[3]->literal.text, "3.0");
  EXPECT_EQ(in.operands[4]->literal.text, "0.0");
  EXPECT_EQ(in.operands[5]->literal.text, "10.01");
}

TEST(ParserTest, PredicatesWithNot) {
  Query q = MustParse(
      "SELECT COUNT(*) FROM t WHERE a NOT IN (1) AND b NOT BETWEEN 1 AND 2 "
      "AND c IS NOT NULL AND d IS NULL AND e BETWEEN -1 AND x + 1");
  // ((((a NOT IN) AND b NOT BETWEEN) AND c IS NOT NULL) AND d IS NULL) AND e
  const Expr* w = q.where.get();
  const Expr& between = *w->operands[1];
  EXPECT_EQ(between.kind, ExprKind::kBetween);
  EXPECT_FALSE(between.negated);
  EXPECT_EQ(between.operands[2]->op, Op::kAdd);
  w = w->operands[0].get();
  EXPECT_EQ(w->operands[1]->kind, ExprKind::kIsNull);
  EXPECT_FALSE(w->operands[1]->negated);
  w = w->operands[0].get();
  EXPECT_EQ(w->operands[1]->kind, ExprKind::kIsNull);
  EXPECT_TRUE(w->operands[1]->negated);
  w = w->operands[0].get();
  EXPECT_EQ(w->operands[1]->kind, ExprKind::kBetween);
  EXPECT_TRUE(w->operands[1]->negated);
  EXPECT_EQ(w->operands[0]->kind, ExprKind::kIn);
  EXPECT_TRUE(w->operands[0]->negated);
}

TEST(ParserTest, CaseWithSeveralBranchesAndNoElse) {
  Query q = MustParse(
      "SELECT CASE WHEN a < 1 THEN 'x' WHEN a < 2 THEN 'y' END, COUNT(*) "
      "FROM t GROUP BY 1");
  const Expr& c = *q.select[0].expr;
  EXPECT_FALSE(c.has_else);
  ASSERT_EQ(c.operands.size(), 4u);
  EXPECT_EQ(c.operands[3]->literal.text, "y");
}

TEST(ParserTest, OrderByDirectionsLimitAndSemicolon) {
  Query q = MustParse(
      "SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY 2 DESC, a ASC, a LIMIT "
      "25 ;  -- done");
  ASSERT_EQ(q.order_by.size(), 3u);
  EXPECT_TRUE(q.order_by[0].descending);
  EXPECT_EQ(q.order_by[0].expr->literal.int_value, 2);
  EXPECT_FALSE(q.order_by[1].descending);
  EXPECT_FALSE(q.order_by[2].descending);
  EXPECT_EQ(q.limit, 25);
}

TEST(ParserTest, LimitBounds) {
  EXPECT_EQ(MustParse("SELECT COUNT(*) FROM t LIMIT 0").limit, 0);
  EXPECT_EQ(MustParse("SELECT COUNT(*) FROM t LIMIT 100000").limit, 100000);
  ParseOptions options;
  options.max_limit = 5;
  EXPECT_EQ(MustParse("SELECT COUNT(*) FROM t LIMIT 5", options).limit, 5);
}

TEST(ParserTest, QuotedIdentifiersMayBeReservedWordsAndHoldQuotes) {
  Query q = MustParse(
      "SELECT \"select\", COUNT(*) AS \"a \"\"b\"\"\" FROM \"from\" GROUP BY "
      "\"select\"");
  EXPECT_EQ(q.select[0].expr->name.name, "select");
  EXPECT_TRUE(q.select[0].expr->name.quoted);
  EXPECT_EQ(q.select[1].alias->name, "a \"b\"");
  EXPECT_EQ(q.from.name.name, "from");
}

TEST(ParserTest, StringEscapes) {
  Query q = MustParse("SELECT COUNT(*) FROM t WHERE a = 'it''s' OR a = ''");
  EXPECT_EQ(q.where->operands[0]->operands[1]->literal.text, "it's");
  EXPECT_EQ(q.where->operands[1]->operands[1]->literal.text, "");
}

TEST(ParserTest, CommentsAnywhere) {
  Query q = MustParse(
      "/* header */ SELECT -- the count\n COUNT(/* all */*) FROM/**/t--x");
  EXPECT_TRUE(q.select[0].expr->star);
  EXPECT_EQ(q.from.name.name, "t");
  EXPECT_EQ(q.select[0].expr->pos, (SourcePosition{2, 2}));
}

TEST(ParserTest, NodeHeightsAreRecorded) {
  Query q = MustParse("SELECT SUM(a + b * c) FROM t");
  EXPECT_EQ(q.select[0].expr->height, 4);  // SUM -> + -> * -> c
}

TEST(ParserTest, FunctionsAreSyntacticWhenChecksAreOff) {
  ParseOptions options;
  options.check_functions = false;
  Query q = MustParse("SELECT MIN(x), FOO(), BAR(DISTINCT a, b), X(*) FROM t",
                      options);
  EXPECT_EQ(q.select[0].expr->name.name, "MIN");
  EXPECT_TRUE(q.select[1].expr->operands.empty());
  EXPECT_TRUE(q.select[2].expr->distinct);
  EXPECT_EQ(q.select[2].expr->operands.size(), 2u);
  EXPECT_TRUE(q.select[3].expr->star);
}

TEST(ParserTest, NonReservedWordsAreUsableAsNames) {
  Query q = MustParse(
      "SELECT year, count, COUNT(*) FROM filter GROUP BY year, count");
  EXPECT_EQ(q.select[0].expr->kind, ExprKind::kColumn);
  EXPECT_EQ(q.select[1].expr->name.name, "count");
  EXPECT_EQ(q.from.name.name, "filter");
}

TEST(ParserTest, UsingListOrder) {
  Query q = MustParse("SELECT COUNT(*) FROM a JOIN b USING (x, \"y\", z)");
  std::vector<std::string> names;
  for (const Identifier& id : q.joins[0].using_columns)
    names.push_back(id.name);
  EXPECT_THAT(names, ElementsAre("x", "y", "z"));
}

}  // namespace
}  // namespace datalab::sql
