// Every parse error path, with the exact "line L, column C: reason" text.
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

void ExpectError(std::string_view sql, const std::string& message,
                 const ParseOptions& options = {}) {
  EXPECT_THAT(ParseQuery(sql, options),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)))
      << sql;
}

constexpr char kRowLevel[] =
    "row-level output is not available; select aggregates";

TEST(ParseErrorTest, BriefExampleMisspeltFrom) {
  ExpectError("SELECT fsm,\n    COUNT(*) FORM ks4",
              "line 2, column 14: expected FROM after the select list, found "
              "'FORM'");
  // An implicit alias is only taken when ',' or FROM follows it.
  ExpectError("SELECT COUNT(*) n FORM ks4",
              "line 1, column 17: expected FROM after the select list, found "
              "'n'");
  ExpectError("SELECT COUNT(*) AS n FORM ks4",
              "line 1, column 22: expected FROM after the select list, found "
              "'FORM'");
  ExpectError("SELECT COUNT(*)",
              "line 1, column 16: expected FROM after the select list, found "
              "end of query");
}

TEST(ParseErrorTest, EmptyQuery) {
  ExpectError("", "line 1, column 1: the query is empty");
  ExpectError("  -- nothing\n  ", "line 2, column 3: the query is empty");
  ExpectError(";",
              "line 1, column 1: expected SELECT at the start of the "
              "query, found ';'");
}

TEST(ParseErrorTest, SelectStar) {
  ExpectError("SELECT * FROM ks4",
              std::string("line 1, column 8: ") + kRowLevel);
  ExpectError("SELECT COUNT(*), * FROM ks4",
              std::string("line 1, column 18: ") + kRowLevel);
  ExpectError("SELECT k.* FROM ks4 k",
              std::string("line 1, column 10: ") + kRowLevel);
  ExpectError("SELECT COUNT(*) FROM ks4 WHERE k.* = 1",
              std::string("line 1, column 34: ") + kRowLevel);
}

TEST(ParseErrorTest, OtherStatements) {
  for (const char* sql :
       {"INSERT INTO ks4 VALUES (1)", "UPDATE ks4 SET a = 1", "DELETE FROM ks4",
        "DROP TABLE ks4", "drop table ks4", "CREATE TABLE x (a INT)",
        "ALTER TABLE ks4 ADD b", "TRUNCATE ks4", "MERGE INTO ks4",
        "GRANT ALL ON ks4 TO bob", "COPY ks4 TO 'f'", "PRAGMA x",
        "ATTACH 'x' AS y", "EXPLAIN SELECT 1", "SET x = 1", "VALUES (1)",
        "TABLE ks4"}) {
    ExpectError(sql, "line 1, column 1: only SELECT queries are accepted");
  }
  ExpectError("  \n  Delete FROM ks4",
              "line 2, column 3: only SELECT queries are accepted");
  ExpectError("WITH x AS (SELECT 1) SELECT COUNT(*) FROM x",
              "line 1, column 1: WITH (common table expressions) is not "
              "supported");
  ExpectError("SELCT COUNT(*) FROM x",
              "line 1, column 1: expected SELECT at the start of the query, "
              "found 'SELCT'");
  ExpectError("(SELECT COUNT(*) FROM x)",
              "line 1, column 1: subqueries are not supported");
}

TEST(ParseErrorTest, MultipleStatements) {
  ExpectError("SELECT COUNT(*) FROM a; SELECT COUNT(*) FROM b",
              "line 1, column 25: only one statement is accepted; remove what "
              "follows the ';'");
  ExpectError("SELECT COUNT(*) FROM a;\nDROP TABLE a",
              "line 2, column 1: only one statement is accepted; remove what "
              "follows the ';'");
  ExpectError("SELECT COUNT(*) FROM a;;",
              "line 1, column 24: only one statement is accepted; remove what "
              "follows the ';'");
  ExpectError("SELECT COUNT(*) FROM a SELECT COUNT(*) FROM b",
              "line 1, column 24: SELECT is out of place; clauses come in the "
              "order SELECT, FROM, JOIN, WHERE, GROUP BY, HAVING, ORDER BY, "
              "LIMIT");
}

TEST(ParseErrorTest, Subqueries) {
  const std::string kMessage = "subqueries are not supported";
  ExpectError("SELECT COUNT(*) FROM (SELECT a FROM b)",
              "line 1, column 22: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a JOIN (SELECT a FROM b) USING (p)",
              "line 1, column 29: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a WHERE x IN (SELECT y FROM b)",
              "line 1, column 36: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a WHERE x = (SELECT MAX(y) FROM b)",
              "line 1, column 35: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a WHERE EXISTS (SELECT 1 FROM b)",
              "line 1, column 38: " + kMessage);
  ExpectError("SELECT (SELECT COUNT(*) FROM b) FROM a",
              "line 1, column 9: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM SELECT", "line 1, column 22: " + kMessage);
}

TEST(ParseErrorTest, SetOperations) {
  ExpectError("SELECT COUNT(*) FROM a UNION SELECT COUNT(*) FROM b",
              "line 1, column 24: UNION, INTERSECT and EXCEPT are not "
              "supported");
  ExpectError("SELECT COUNT(*) FROM a WHERE x = 1 union all SELECT 1",
              "line 1, column 36: UNION, INTERSECT and EXCEPT are not "
              "supported");
  ExpectError("SELECT COUNT(*) FROM a GROUP BY x EXCEPT SELECT 1",
              "line 1, column 35: UNION, INTERSECT and EXCEPT are not "
              "supported");
  ExpectError("SELECT COUNT(*) FROM a INTERSECT SELECT 1",
              "line 1, column 24: UNION, INTERSECT and EXCEPT are not "
              "supported");
}

TEST(ParseErrorTest, WindowFunctionsAndAggregateModifiers) {
  ExpectError("SELECT COUNT(*) OVER (PARTITION BY s) FROM a",
              "line 1, column 17: window functions (OVER) are not supported");
  ExpectError("SELECT AVG(x) over () FROM a",
              "line 1, column 15: window functions (OVER) are not supported");
  ExpectError("SELECT COUNT(*) FILTER (WHERE fsm) FROM a",
              "line 1, column 17: FILTER clauses are not supported; put a "
              "CASE inside the aggregate");
  ExpectError("SELECT PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY x) FROM a",
              "line 1, column 29: WITHIN GROUP is not supported; use "
              "PERCENTILE(column, p) or MEDIAN(column)");
  ExpectError("SELECT DISTINCT school FROM a",
              "line 1, column 8: SELECT DISTINCT is not supported; use GROUP "
              "BY with aggregates");
}

TEST(ParseErrorTest, Limit) {
  const std::string kMessage = "LIMIT must be a whole number from 0 to 100000";
  ExpectError("SELECT COUNT(*) FROM a LIMIT 1.5",
              "line 1, column 30: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a LIMIT x",
              "line 1, column 30: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a LIMIT -1",
              "line 1, column 30: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a LIMIT 100001",
              "line 1, column 30: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a LIMIT 99999999999999999999999",
              "line 1, column 30: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a LIMIT 'ten'",
              "line 1, column 30: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a LIMIT", "line 1, column 29: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM a LIMIT 10 OFFSET 5",
              "line 1, column 33: OFFSET is not supported");
  ExpectError("SELECT COUNT(*) FROM a LIMIT 10 20",
              "line 1, column 33: unexpected a number after LIMIT");
  ParseOptions options;
  options.max_limit = 10;
  ExpectError("SELECT COUNT(*) FROM a LIMIT 11",
              "line 1, column 30: LIMIT must be a whole number from 0 to 10",
              options);
}

TEST(ParseErrorTest, Like) {
  ExpectError("SELECT COUNT(*) FROM a WHERE name LIKE 'A%'",
              "line 1, column 35: LIKE is not supported; compare whole values "
              "with = or IN");
  ExpectError("SELECT COUNT(*) FROM a WHERE name NOT LIKE 'A%'",
              "line 1, column 39: LIKE is not supported; compare whole values "
              "with = or IN");
  ExpectError("SELECT COUNT(*) FROM a WHERE name ilike 'A%'",
              "line 1, column 35: ILIKE is not supported; compare whole values "
              "with = or IN");
}

TEST(ParseErrorTest, SelectList) {
  ExpectError("SELECT a, FROM t",
              "line 1, column 11: expected another select item after ',', "
              "found 'FROM'");
  ExpectError("SELECT FROM t",
              "line 1, column 8: expected an expression, found 'FROM'");
  ExpectError("SELECT",
              "line 1, column 7: expected an expression, found end "
              "of query");
  ExpectError("SELECT COUNT(*) AS FROM t",
              "line 1, column 20: expected an alias after AS, found 'FROM', a "
              "reserved word (\"double quote\" it to use it as a name)");
  ExpectError("SELECT COUNT(*) AS 'n' FROM t",
              "line 1, column 20: expected an alias after AS, found a string "
              "literal");
}

TEST(ParseErrorTest, FromAndJoins) {
  ExpectError("SELECT COUNT(*) FROM where",
              "line 1, column 22: expected a dataset name after FROM, found "
              "'where', a reserved word (\"double quote\" it to use it as a "
              "name)");
  ExpectError("SELECT COUNT(*) FROM",
              "line 1, column 21: expected a dataset name after FROM, found "
              "end of query");
  ExpectError("SELECT COUNT(*) FROM 'ks4'",
              "line 1, column 22: expected a dataset name after FROM, found a "
              "string literal");
  ExpectError("SELECT COUNT(*) FROM trust.",
              "line 1, column 28: expected a dataset name after '.', found "
              "end of query");
  ExpectError("SELECT COUNT(*) FROM a, b",
              "line 1, column 23: comma joins are not supported; use JOIN "
              "<dataset> USING (columns)");
  ExpectError("SELECT COUNT(*) FROM a LEFT JOIN b USING (p)",
              "line 1, column 24: LEFT joins are not supported; use [INNER] "
              "JOIN ... USING (columns)");
  ExpectError("SELECT COUNT(*) FROM a full outer JOIN b USING (p)",
              "line 1, column 24: FULL joins are not supported; use [INNER] "
              "JOIN ... USING (columns)");
  ExpectError("SELECT COUNT(*) FROM a CROSS JOIN b",
              "line 1, column 24: CROSS joins are not supported; use [INNER] "
              "JOIN ... USING (columns)");
  ExpectError("SELECT COUNT(*) FROM a NATURAL JOIN b",
              "line 1, column 24: NATURAL joins are not supported; use [INNER] "
              "JOIN ... USING (columns)");
  ExpectError("SELECT COUNT(*) FROM a JOIN b ON a.p = b.p",
              "line 1, column 31: JOIN ... ON is not supported; use JOIN ... "
              "USING (columns)");
  ExpectError("SELECT COUNT(*) FROM a JOIN b c ON a.p = c.p",
              "line 1, column 33: JOIN ... ON is not supported; use JOIN ... "
              "USING (columns)");
  ExpectError("SELECT COUNT(*) FROM a JOIN b WHERE x = 1",
              "line 1, column 31: expected USING (columns) after the joined "
              "dataset, found 'WHERE'");
  ExpectError("SELECT COUNT(*) FROM a JOIN b USING p",
              "line 1, column 37: expected '(' after USING, found 'p'");
  ExpectError("SELECT COUNT(*) FROM a JOIN b USING ()",
              "line 1, column 38: expected a column name in the USING list, "
              "found ')'");
  ExpectError("SELECT COUNT(*) FROM a JOIN b USING (p q)",
              "line 1, column 40: expected ',' or ')' in the USING list, found "
              "'q'");
  ExpectError("SELECT COUNT(*) FROM a JOIN b USING (p,",
              "line 1, column 40: expected a column name in the USING list, "
              "found end of query");
  ExpectError("SELECT COUNT(*) FROM a INNER b",
              "line 1, column 30: expected JOIN after INNER, found 'b'");
  ExpectError("SELECT COUNT(*) FROM a JOIN",
              "line 1, column 28: expected a dataset name after JOIN, found "
              "end of query");
}

TEST(ParseErrorTest, DatasetVersions) {
  const std::string kMessage =
      "a dataset version must be a whole number of at least 1";
  ExpectError("SELECT COUNT(*) FROM census@0",
              "line 1, column 29: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM census@1.5",
              "line 1, column 29: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM census@99999999999999999999",
              "line 1, column 29: " + kMessage);
  ExpectError("SELECT COUNT(*) FROM census@latest",
              "line 1, column 29: expected a dataset version number after "
              "'@', found 'latest'");
  ExpectError("SELECT COUNT(*) FROM census@-1",
              "line 1, column 29: expected a dataset version number after "
              "'@', found '-'");
}

TEST(ParseErrorTest, GroupOrderAndPositions) {
  ExpectError("SELECT COUNT(*) FROM a GROUP x",
              "line 1, column 30: expected BY after GROUP, found 'x'");
  ExpectError("SELECT COUNT(*) FROM a ORDER x",
              "line 1, column 30: expected BY after ORDER, found 'x'");
  ExpectError("SELECT a, COUNT(*) FROM t GROUP BY 3",
              "line 1, column 36: GROUP BY position must be between 1 and 2, "
              "the number of select items");
  ExpectError("SELECT a, COUNT(*) FROM t GROUP BY 0",
              "line 1, column 36: GROUP BY position must be between 1 and 2, "
              "the number of select items");
  ExpectError("SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY -1",
              "line 1, column 47: ORDER BY position must be between 1 and 2, "
              "the number of select items");
  ExpectError("SELECT a, COUNT(*) FROM t GROUP BY a ORDER BY 1, 5 DESC",
              "line 1, column 50: ORDER BY position must be between 1 and 2, "
              "the number of select items");
  ExpectError("SELECT COUNT(*) FROM a GROUP BY",
              "line 1, column 32: expected an expression, found end of "
              "query");
  ExpectError("SELECT COUNT(*) FROM a ORDER BY x NULLS FIRST",
              "line 1, column 35: unexpected 'NULLS' after the ORDER BY "
              "list");
}

TEST(ParseErrorTest, ClausesOutOfOrder) {
  const std::string kOrder =
      " is out of place; clauses come in the order SELECT, FROM, JOIN, "
      "WHERE, GROUP BY, HAVING, ORDER BY, LIMIT";
  ExpectError("SELECT COUNT(*) FROM a GROUP BY x WHERE y = 1",
              "line 1, column 35: WHERE" + kOrder);
  ExpectError("SELECT COUNT(*) FROM a WHERE y = 1 JOIN b USING (p)",
              "line 1, column 36: JOIN" + kOrder);
  ExpectError("SELECT COUNT(*) FROM a LIMIT 5 ORDER BY x",
              "line 1, column 32: ORDER" + kOrder);
  ExpectError("SELECT COUNT(*) FROM a HAVING COUNT(*) > 1 GROUP BY x",
              "line 1, column 44: GROUP" + kOrder);
  ExpectError("SELECT COUNT(*) FROM a WHERE x = 1 from b",
              "line 1, column 36: FROM" + kOrder);
}

TEST(ParseErrorTest, TrailingTokens) {
  ExpectError("SELECT COUNT(*) FROM a WHERE x = 1 y",
              "line 1, column 36: unexpected 'y' after the WHERE condition");
  // 'k' is not taken as an alias because nothing valid could follow it.
  ExpectError("SELECT COUNT(*) FROM a k x",
              "line 1, column 24: unexpected 'k' after the FROM clause");
  ExpectError("SELECT COUNT(*) FROM a AS k x",
              "line 1, column 29: unexpected 'x' after the FROM clause");
  ExpectError("SELECT COUNT(*) FROM a JOIN b USING (p) )",
              "line 1, column 41: unexpected ')' after the JOIN clause");
  ExpectError("SELECT a, COUNT(*) FROM t GROUP BY a 'x'",
              "line 1, column 38: unexpected a string literal after the GROUP "
              "BY list");
  ExpectError("SELECT a, COUNT(*) FROM t GROUP BY a HAVING COUNT(*) > 1 (",
              "line 1, column 58: unexpected '(' after the HAVING condition");
  ExpectError("SELECT COUNT(*) FROM a.b.c",
              "line 1, column 25: unexpected '.' after the FROM clause");
}

TEST(ParseErrorTest, ExpressionsAndPredicates) {
  ExpectError("SELECT COUNT(*) FROM a WHERE",
              "line 1, column 29: expected an expression, found end of query");
  ExpectError("SELECT COUNT(*) FROM a WHERE a = b = c",
              "line 1, column 36: comparisons cannot be chained; combine them "
              "with AND or OR, or use parentheses");
  ExpectError("SELECT COUNT(*) FROM a WHERE 1 < a < 5",
              "line 1, column 36: comparisons cannot be chained; combine them "
              "with AND or OR, or use parentheses");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IS NULL IS NULL",
              "line 1, column 40: comparisons cannot be chained; combine them "
              "with AND or OR, or use parentheses");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IN (1) NOT IN (2)",
              "line 1, column 39: comparisons cannot be chained; combine them "
              "with AND or OR, or use parentheses");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IS 5",
              "line 1, column 35: expected NULL after IS, found a number");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IS NOT TRUE",
              "line 1, column 39: expected NULL after IS NOT, found 'TRUE'");
  ExpectError("SELECT COUNT(*) FROM a WHERE a BETWEEN 1 OR 2",
              "line 1, column 42: expected AND in BETWEEN ... AND, found "
              "'OR'");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IN 1",
              "line 1, column 35: expected '(' after IN, found a number");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IN ()",
              "line 1, column 36: the IN list is empty");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IN (b)",
              "line 1, column 36: IN lists may only contain literal values, "
              "found 'b'");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IN (1 + 2)",
              "line 1, column 38: expected ',' or ')' in the IN list, found "
              "'+'");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IN (1 2)",
              "line 1, column 38: expected ',' or ')' in the IN list, found a "
              "number");
  ExpectError("SELECT COUNT(*) FROM a WHERE a IN (1,",
              "line 1, column 38: IN lists may only contain literal values, "
              "found end of query");
  ExpectError("SELECT COUNT(*) FROM a WHERE NOT",
              "line 1, column 33: expected an expression, found end of query");
  ExpectError("SELECT COUNT(*) FROM a WHERE a = ",
              "line 1, column 34: expected an expression, found end of query");
  ExpectError("SELECT COUNT(*) FROM a WHERE a + * 2",
              "line 1, column 34: expected an expression, found '*'");
  ExpectError("SELECT COUNT(*) FROM a WHERE +a = 1",
              "line 1, column 30: expected an expression, found '+'");
  ExpectError("SELECT COUNT(*) FROM a WHERE x = 99999999999999999999",
              "line 1, column 34: integer literal is out of range");
  ExpectError("SELECT COUNT(*) FROM a WHERE x = -9223372036854775809",
              "line 1, column 34: integer literal is out of range");
  ExpectError("SELECT COUNT(*) FROM a WHERE a.b.c = 1",
              "line 1, column 33: a column reference has at most two parts "
              "(dataset_or_alias.column)");
  ExpectError("SELECT COUNT(*) FROM a WHERE a. = 1",
              "line 1, column 33: expected a column name after '.', found "
              "'='");
}

TEST(ParseErrorTest, Parentheses) {
  ExpectError("SELECT COUNT(*) FROM a WHERE (x = 1",
              "line 1, column 36: expected ')' to close the '(' at line 1, "
              "column 30, found end of query");
  ExpectError("SELECT COUNT(*) FROM a\nWHERE ((x = 1) AND y",
              "line 2, column 21: expected ')' to close the '(' at line 2, "
              "column 7, found end of query");
  ExpectError("SELECT COUNT(*) FROM a WHERE ()",
              "line 1, column 31: expected an expression, found ')'");
}

TEST(ParseErrorTest, FunctionCallSyntax) {
  ExpectError("SELECT COUNT(x FROM a",
              "line 1, column 16: expected ',' or ')' in the arguments of "
              "COUNT, found 'FROM'");
  ExpectError("SELECT COUNT(* FROM a",
              "line 1, column 16: expected ')' after '*', found 'FROM'");
  ExpectError("SELECT COUNT(DISTINCT *) FROM a",
              "line 1, column 23: expected an expression, found '*'");
  ExpectError("SELECT \"count\"(x) FROM a",
              "line 1, column 8: function names cannot be quoted");
  ExpectError("SELECT SUM(a,) FROM t",
              "line 1, column 14: expected an expression, found ')'");
}

TEST(ParseErrorTest, CaseSyntax) {
  ExpectError("SELECT CASE x WHEN 1 THEN 'a' END, COUNT(*) FROM t",
              "line 1, column 13: expected WHEN after CASE; write CASE WHEN x "
              "= value THEN ... (the CASE x WHEN value form is not "
              "supported)");
  ExpectError("SELECT CASE END, COUNT(*) FROM t",
              "line 1, column 13: expected WHEN after CASE, found 'END'");
  ExpectError("SELECT CASE WHEN a 'x' END FROM t",
              "line 1, column 20: expected THEN after the WHEN condition, "
              "found a string literal");
  ExpectError("SELECT CASE WHEN a THEN 'x' FROM t",
              "line 1, column 29: expected WHEN, ELSE or END in the CASE at "
              "line 1, column 8, found 'FROM'");
  ExpectError("SELECT CASE WHEN a THEN 'x' ELSE 'y' FROM t",
              "line 1, column 38: expected END to close the CASE at line 1, "
              "column 8, found 'FROM'");
  ExpectError(
      "SELECT CASE WHEN a THEN 'x' ELSE 'y' WHEN b THEN 'z' END FROM "
      "t",
      "line 1, column 38: expected END to close the CASE at line 1, "
      "column 8, found 'WHEN'");
}

TEST(ParseErrorTest, LexicalErrorsCarryTheirPosition) {
  ExpectError("SELECT COUNT(*)\nFROM a\nWHERE x = 'abc",
              "line 3, column 11: unterminated string literal");
  ExpectError("SELECT COUNT(*) FROM a /* never closed",
              "line 1, column 24: unterminated /* comment");
  ExpectError("SELECT COUNT(*) FROM a WHERE x = 'é' AND y % 2",
              "line 1, column 44: unexpected character '%'");
}

TEST(ParseErrorTest, Limits) {
  ParseOptions options;
  options.max_select_items = 2;
  options.max_joins = 1;
  options.max_group_by_items = 1;
  options.max_order_by_items = 1;
  options.max_in_list_items = 2;
  options.max_function_args = 2;
  options.max_case_branches = 1;
  options.check_functions = false;
  EXPECT_THAT(ParseQuery("SELECT a, COUNT(*) FROM t JOIN u USING (p) WHERE x "
                         "IN (1, 2) GROUP BY a ORDER BY a",
                         options),
              IsOk());
  ExpectError("SELECT a, b, c FROM t",
              "line 1, column 14: too many select items (limit: 2)", options);
  ExpectError("SELECT a FROM t JOIN u USING (p) JOIN v USING (p)",
              "line 1, column 34: too many joins (limit: 1)", options);
  ExpectError("SELECT a FROM t GROUP BY a, b",
              "line 1, column 29: too many GROUP BY items (limit: 1)", options);
  ExpectError("SELECT a FROM t ORDER BY a, b",
              "line 1, column 29: too many ORDER BY items (limit: 1)", options);
  ExpectError("SELECT a FROM t WHERE x IN (1, 2, 3)",
              "line 1, column 35: the IN list has too many items (limit: 2)",
              options);
  ExpectError("SELECT F(1, 2, 3) FROM t",
              "line 1, column 16: too many arguments to F (limit: 2)", options);
  ExpectError("SELECT CASE WHEN a THEN 1 WHEN b THEN 2 END FROM t",
              "line 1, column 32: CASE has too many WHEN branches (limit: 1)",
              options);
  options.max_query_bytes = 10;
  ExpectError("SELECT COUNT(*) FROM t",
              "line 1, column 1: the query is 22 bytes long; the limit is 10",
              options);
  options.max_query_bytes = 1000;
  options.max_tokens = 4;
  ExpectError("SELECT COUNT(*) FROM t",
              "line 1, column 15: the query has more than 4 tokens", options);
  options.max_tokens = 1000;
  options.max_identifier_length = 6;
  ExpectError("SELECT COUNT(*) FROM census2",
              "line 1, column 22: identifier is longer than 6 characters",
              options);
}

TEST(ParseErrorTest, MessagesNeverEchoStringLiterals) {
  absl::StatusOr<Query> q =
      ParseQuery("SELECT COUNT(*) FROM a WHERE upn = 'A123456789012' 'X99'");
  ASSERT_FALSE(q.ok());
  EXPECT_EQ(q.status().message(),
            "line 1, column 52: unexpected a string literal after the WHERE "
            "condition");
}

}  // namespace
}  // namespace datalab::sql
