// The function table and CheckFunctions().
#include "services/query/sql/functions.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/sql/parser.h"

namespace datalab::sql {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::Eq;

void ExpectError(std::string_view sql, const std::string& message) {
  EXPECT_THAT(ParseQuery(sql),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)))
      << sql;
}

void ExpectOk(std::string_view sql) {
  EXPECT_THAT(ParseQuery(sql), IsOk()) << sql;
}

TEST(FunctionTableTest, Classification) {
  for (const char* name : {"COUNT", "SUM", "AVG", "STDDEV", "MEDIAN",
                           "PERCENTILE", "PROPORTION", "RATE"}) {
    EXPECT_EQ(ClassifyFunction(name), FunctionClass::kAggregate) << name;
  }
  for (const char* name : {"BAND", "YEAR", "COALESCE", "LOWER", "UPPER"}) {
    EXPECT_EQ(ClassifyFunction(name), FunctionClass::kScalar) << name;
  }
  for (const char* name : {"MIN", "MAX", "ARRAY_AGG", "STRING_AGG", "ANY_VALUE",
                           "FIRST_VALUE", "ROW_NUMBER"}) {
    EXPECT_EQ(ClassifyFunction(name), FunctionClass::kForbidden) << name;
  }
  for (const char* name : {"FOO", "EXISTS", "", "COUNTX", "MINIMUM"}) {
    EXPECT_EQ(ClassifyFunction(name), FunctionClass::kUnknown) << name;
  }
}

TEST(FunctionTableTest, LookupIsCaseInsensitive) {
  const FunctionInfo* info = LookupFunction("percentile");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->name, "PERCENTILE");
  EXPECT_EQ(info->min_args, 2);
  EXPECT_EQ(info->max_args, 2);
  EXPECT_EQ(LookupFunction("Min")->reason,
            "MIN and MAX reveal a single pupil's value and are never "
            "released");
  EXPECT_EQ(LookupFunction("nope"), nullptr);
  EXPECT_TRUE(LookupFunction("count")->allows_distinct);
  EXPECT_TRUE(LookupFunction("count")->allows_star);
  EXPECT_FALSE(LookupFunction("sum")->allows_distinct);
}

TEST(FunctionTableTest, AggregateHelpers) {
  absl::StatusOr<Query> q = ParseQuery(
      "SELECT fsm, BAND(x, 5), 1 + AVG(y), COUNT(*) FROM t GROUP BY fsm, 2");
  ASSERT_THAT(q, IsOk());
  EXPECT_FALSE(ContainsAggregate(*q->select[0].expr));
  EXPECT_FALSE(ContainsAggregate(*q->select[1].expr));
  EXPECT_FALSE(IsAggregateCall(*q->select[2].expr));
  EXPECT_TRUE(ContainsAggregate(*q->select[2].expr));
  EXPECT_TRUE(IsAggregateCall(*q->select[3].expr));
}

TEST(CheckFunctionsTest, MinAndMaxAreNeverReleased) {
  ExpectError("SELECT MIN(attainment8) FROM ks4",
              "line 1, column 8: MIN and MAX reveal a single pupil's value "
              "and are never released");
  ExpectError("SELECT COUNT(*) FROM ks4 HAVING max(x) > 3",
              "line 1, column 33: MIN and MAX reveal a single pupil's value "
              "and are never released");
  ExpectError("SELECT string_agg(name, ',') FROM ks4",
              "line 1, column 8: functions that return individual values are "
              "never released");
  ExpectError("SELECT ROW_NUMBER(), COUNT(*) FROM ks4",
              "line 1, column 8: window functions are not supported");
}

TEST(CheckFunctionsTest, UnknownFunctions) {
  ExpectError("SELECT COUNT(*), FOO(x) FROM t",
              "line 1, column 18: unknown function 'FOO'; the aggregates are "
              "COUNT, SUM, AVG, STDDEV, MEDIAN, PERCENTILE, PROPORTION and "
              "RATE");
  ExpectError("SELECT COUNT(*) FROM t WHERE EXISTS(x)",
              "line 1, column 30: unknown function 'EXISTS'; the aggregates "
              "are COUNT, SUM, AVG, STDDEV, MEDIAN, PERCENTILE, PROPORTION "
              "and RATE");
  ExpectError("SELECT " + std::string(40, 'F') + "(x) FROM t",
              "line 1, column 8: unknown function '" + std::string(32, 'F') +
                  "'; the aggregates are COUNT, SUM, AVG, STDDEV, MEDIAN, "
                  "PERCENTILE, PROPORTION and RATE");
}

TEST(CheckFunctionsTest, StarAndDistinct) {
  ExpectOk("SELECT COUNT(*), COUNT(DISTINCT pupil), COUNT(x) FROM t");
  ExpectError("SELECT SUM(*) FROM t",
              "line 1, column 8: '*' is only allowed in COUNT(*)");
  ExpectError("SELECT SUM(DISTINCT x) FROM t",
              "line 1, column 8: DISTINCT is only allowed in COUNT(DISTINCT "
              "column)");
  ExpectError("SELECT COUNT(*), BAND(DISTINCT x, 5) FROM t GROUP BY 2",
              "line 1, column 18: DISTINCT is only allowed in COUNT(DISTINCT "
              "column)");
}

TEST(CheckFunctionsTest, ArgumentCounts) {
  ExpectError("SELECT COUNT() FROM t",
              "line 1, column 8: wrong number of arguments to COUNT; expected "
              "COUNT(*), COUNT(expression) or COUNT(DISTINCT column)");
  ExpectError("SELECT COUNT(DISTINCT a, b) FROM t",
              "line 1, column 8: wrong number of arguments to COUNT; expected "
              "COUNT(*), COUNT(expression) or COUNT(DISTINCT column)");
  ExpectError("SELECT AVG(a, b) FROM t",
              "line 1, column 8: wrong number of arguments to AVG; expected "
              "AVG(expression)");
  ExpectError("SELECT PERCENTILE(a) FROM t",
              "line 1, column 8: wrong number of arguments to PERCENTILE; "
              "expected PERCENTILE(expression, p)");
  ExpectError("SELECT RATE(a) FROM t",
              "line 1, column 8: wrong number of arguments to RATE; expected "
              "RATE(numerator, denominator)");
  ExpectError("SELECT PROPORTION(a, b) FROM t",
              "line 1, column 8: wrong number of arguments to PROPORTION; "
              "expected PROPORTION(condition)");
  ExpectError("SELECT COUNT(*), YEAR() FROM t GROUP BY 2",
              "line 1, column 18: wrong number of arguments to YEAR; expected "
              "YEAR(date)");
  ExpectError("SELECT COUNT(*), COALESCE(a) FROM t GROUP BY 2",
              "line 1, column 18: wrong number of arguments to COALESCE; "
              "expected COALESCE(a, b, ...)");
  ExpectError("SELECT COUNT(*), BAND(a) FROM t GROUP BY 2",
              "line 1, column 18: wrong number of arguments to BAND; expected "
              "BAND(column, width) or BAND(column, low, high, width)");
  ExpectError("SELECT COUNT(*), BAND(a, 1, 2) FROM t GROUP BY 2",
              "line 1, column 18: wrong number of arguments to BAND; expected "
              "BAND(column, width) or BAND(column, low, high, width)");
  ExpectError("SELECT COUNT(*), BAND(a, 1, 2, 3, 4) FROM t GROUP BY 2",
              "line 1, column 18: wrong number of arguments to BAND; expected "
              "BAND(column, width) or BAND(column, low, high, width)");
}

TEST(CheckFunctionsTest, PercentileMustBeStrictlyBetweenZeroAndHundred) {
  ExpectOk(
      "SELECT PERCENTILE(x, 50), PERCENTILE(x, 0.5), PERCENTILE(x, 99.9) "
      "FROM t");
  const std::string kMessage =
      "PERCENTILE's second argument must be a number greater than 0 and less "
      "than 100 (0 and 100 would be MIN and MAX)";
  ExpectError("SELECT PERCENTILE(x, 0) FROM t",
              "line 1, column 22: " + kMessage);
  ExpectError("SELECT PERCENTILE(x, 100) FROM t",
              "line 1, column 22: " + kMessage);
  ExpectError("SELECT PERCENTILE(x, -5) FROM t",
              "line 1, column 22: " + kMessage);
  ExpectError("SELECT PERCENTILE(x, 100.0) FROM t",
              "line 1, column 22: " + kMessage);
  ExpectError("SELECT PERCENTILE(x, y) FROM t",
              "line 1, column 22: " + kMessage);
  ExpectError("SELECT PERCENTILE(x, '50') FROM t",
              "line 1, column 22: " + kMessage);
  ExpectError("SELECT PERCENTILE(x, 25 + 25) FROM t",
              "line 1, column 25: " + kMessage);
}

TEST(CheckFunctionsTest, BandBounds) {
  ExpectOk(
      "SELECT BAND(x, 5), BAND(x, -10, 10, 2.5), COUNT(*) FROM t GROUP "
      "BY 1, 2");
  ExpectError("SELECT BAND(x, 0), COUNT(*) FROM t GROUP BY 1",
              "line 1, column 16: BAND's width must be a number greater than "
              "0");
  ExpectError("SELECT BAND(x, -1), COUNT(*) FROM t GROUP BY 1",
              "line 1, column 16: BAND's width must be a number greater than "
              "0");
  ExpectError("SELECT BAND(x, w), COUNT(*) FROM t GROUP BY 1",
              "line 1, column 16: BAND's width must be a number greater than "
              "0");
  ExpectError("SELECT BAND(x, 10, 10, 1), COUNT(*) FROM t GROUP BY 1",
              "line 1, column 16: BAND's low and high bounds must be numbers "
              "with low below high");
  ExpectError("SELECT BAND(x, 20, 10, 1), COUNT(*) FROM t GROUP BY 1",
              "line 1, column 16: BAND's low and high bounds must be numbers "
              "with low below high");
  ExpectError("SELECT BAND(x, lo, 10, 1), COUNT(*) FROM t GROUP BY 1",
              "line 1, column 16: BAND's low and high bounds must be numbers "
              "with low below high");
}

TEST(CheckFunctionsTest, WhereAggregatesMayAppear) {
  ExpectOk(
      "SELECT fsm, COUNT(*) FROM t GROUP BY fsm HAVING AVG(x) > 1 ORDER "
      "BY SUM(x) DESC");
  ExpectError("SELECT COUNT(*) FROM t WHERE AVG(x) > 1",
              "line 1, column 30: aggregate functions are not allowed in "
              "WHERE; use HAVING");
  ExpectError("SELECT COUNT(*) FROM t GROUP BY COUNT(x)",
              "line 1, column 33: aggregate functions are not allowed in "
              "GROUP BY");
  ExpectError("SELECT SUM(COUNT(*)) FROM t",
              "line 1, column 12: aggregate functions cannot be nested");
  ExpectError("SELECT AVG(1 + CASE WHEN a THEN SUM(b) END) FROM t",
              "line 1, column 33: aggregate functions cannot be nested");
  ExpectError("SELECT PROPORTION(AVG(x) > 3) FROM t",
              "line 1, column 19: aggregate functions cannot be nested");
}

TEST(CheckFunctionsTest, ScalarFunctionsWorkAnywhere) {
  ExpectOk(
      "SELECT YEAR(d), LOWER(g), COUNT(*) FROM t WHERE UPPER(g) = 'F' "
      "AND COALESCE(x, 0) > 1 GROUP BY YEAR(d), LOWER(g)");
  ExpectOk("SELECT AVG(COALESCE(x, 0)), SUM(BAND(y, 5)) FROM t");
}

TEST(CheckFunctionsTest, SelectListNeedsAnAggregate) {
  ExpectError("SELECT school_urn FROM ks4",
              "line 1, column 1: the select list has no aggregate function; "
              "row-level output is not available, select aggregates such as "
              "COUNT(*)");
  ExpectError("\n  SELECT school_urn, BAND(x, 5) FROM ks4 GROUP BY 1, 2",
              "line 2, column 3: the select list has no aggregate function; "
              "row-level output is not available, select aggregates such as "
              "COUNT(*)");
  ExpectOk("SELECT school_urn, 100 * PROPORTION(fsm) FROM ks4 GROUP BY 1");
}

TEST(CheckFunctionsTest, ChecksCanBeSwitchedOff) {
  ParseOptions options;
  options.check_functions = false;
  EXPECT_THAT(ParseQuery("SELECT MIN(x), FOO(*) FROM t", options), IsOk());
  absl::StatusOr<Query> q = ParseQuery("SELECT MIN(x) FROM t", options);
  ASSERT_THAT(q, IsOk());
  EXPECT_THAT(CheckFunctions(*q),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("line 1, column 8: MIN and MAX reveal a single "
                          "pupil's value and are never released")));
}

}  // namespace
}  // namespace datalab::sql
