// Hostile input: deep nesting, huge inputs, NUL bytes, broken UTF-8,
// unterminated constructs, and random mutations of valid queries. Every
// outcome must be a clean INVALID_ARGUMENT "line L, column C: ..." or a
// query that round-trips; nothing may crash or hang.
#include <random>
#include <regex>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/sql/functions.h"
#include "services/query/sql/parser.h"
#include "services/query/sql/printer.h"
#include "services/query/sql/test_corpus.h"

namespace datalab::sql {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::Eq;

void ExpectError(std::string_view sql, const std::string& message,
                 const ParseOptions& options = {}) {
  EXPECT_THAT(ParseQuery(sql, options),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)));
}

std::string Repeat(std::string_view s, size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (size_t i = 0; i < n; ++i) out.append(s);
  return out;
}

TEST(HostileTest, TenThousandParentheses) {
  const std::string sql = "SELECT COUNT(*) FROM t WHERE " + Repeat("(", 10000) +
                          "1" + Repeat(")", 10000);
  // With the default options the token limit is reached first ...
  ExpectError(sql,
              "line 1, column 10022: the query has more than 10000 tokens");
  // ... and without it, the nesting limit. The WHERE condition starts at
  // column 30 at level 1, so the '(' at column 94 would open level 65.
  ParseOptions options;
  options.max_tokens = 100000;
  ExpectError(sql,
              "line 1, column 94: expression is nested too deeply (limit: 64 "
              "levels)",
              options);
}

TEST(HostileTest, NestingJustUnderTheLimitParses) {
  // The WHERE expression is level 1, so 63 parentheses reach level 64.
  const std::string sql = "SELECT COUNT(*) FROM t WHERE " + Repeat("(", 63) +
                          "a = 1" + Repeat(")", 63);
  EXPECT_THAT(ParseQuery(sql), IsOk());
  const std::string deeper = "SELECT COUNT(*) FROM t WHERE " + Repeat("(", 64) +
                             "a = 1" + Repeat(")", 64);
  EXPECT_THAT(ParseQuery(deeper), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HostileTest, DeepNotMinusCallsAndCase) {
  ParseOptions options;
  options.max_query_bytes = 1 << 20;
  options.max_tokens = 100000;
  const std::string kDeep =
      "expression is nested too deeply (limit: 64 levels)";
  EXPECT_THAT(
      ParseQuery("SELECT COUNT(*) FROM t WHERE " + Repeat("NOT ", 10000) + "a",
                 options),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::HasSubstr(kDeep)));
  EXPECT_THAT(ParseQuery("SELECT COUNT(*) FROM t WHERE " + Repeat("- ", 10000) +
                             "a = 1",
                         options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr(kDeep)));
  EXPECT_THAT(ParseQuery("SELECT " + Repeat("SUM(", 10000) + "x" +
                             Repeat(")", 10000) + " FROM t",
                         options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::HasSubstr(kDeep)));
  EXPECT_THAT(
      ParseQuery("SELECT " + Repeat("CASE WHEN ", 10000) + "x", options),
      StatusIs(absl::StatusCode::kInvalidArgument,
               ::testing::HasSubstr(kDeep)));
}

TEST(HostileTest, LongOperatorChainsAreBoundedByTreeHeight) {
  // 300 additions recurse only once but would build a 300-deep tree.
  const std::string sql = "SELECT SUM(" + Repeat("x + ", 300) + "x) FROM t";
  // The 256th '+' makes the tree 257 levels tall (SUM adds one more).
  // "SELECT SUM(" is 11 characters and each "x + " is 4.
  ExpectError(sql,
              "line 1, column " + std::to_string(11 + 4 * 255 + 3) +
                  ": expression is too long or too deeply nested (limit: 256 "
                  "levels)");
  EXPECT_THAT(ParseQuery("SELECT SUM(" + Repeat("x + ", 200) + "x) FROM t"),
              IsOk());
  EXPECT_THAT(ParseQuery("SELECT COUNT(*) FROM t WHERE " +
                         Repeat("a = 1 OR ", 400) + "a = 1"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HostileTest, OneMegabyteOfTokens) {
  const std::string sql = "SELECT " + Repeat("x, ", 350000) + "COUNT(*) FROM t";
  ASSERT_GT(sql.size(), 1000000u);
  ExpectError(sql, "line 1, column 1: the query is " +
                       std::to_string(sql.size()) +
                       " bytes long; the limit is 65536");
  ParseOptions options;
  options.max_query_bytes = 2 << 20;
  // Token 10001 is the ',' after the 5000th x: SELECT, 4999 "x," pairs, x.
  ExpectError(sql,
              "line 1, column " + std::to_string(8 + 3 * 4999 + 1) +
                  ": the query has more than 10000 tokens",
              options);
  options.max_tokens = 2000000;
  ExpectError(sql, "line 1, column 776: too many select items (limit: 256)",
              options);
}

TEST(HostileTest, HugeSingleTokens) {
  ParseOptions options;
  options.max_query_bytes = 2 << 20;
  ExpectError("SELECT COUNT(*) FROM t WHERE x = " + std::string(1000000, '9'),
              "line 1, column 34: integer literal is out of range", options);
  EXPECT_THAT(ParseQuery("SELECT COUNT(*) FROM t WHERE x = '" +
                             std::string(1000000, 'a') + "'",
                         options),
              IsOk());
  ExpectError("SELECT COUNT(*) FROM " + std::string(1000000, 'a'),
              "line 1, column 22: identifier is longer than 128 characters",
              options);
  ExpectError("SELECT COUNT(*) FROM t /*" + std::string(1000000, '*'),
              "line 1, column 24: unterminated /* comment", options);
}

TEST(HostileTest, NulBytes) {
  using std::string_literals::operator""s;
  ExpectError("\0"s, "line 1, column 1: NUL bytes are not allowed");
  ExpectError("SELECT COUNT(*)\0 FROM t"s,
              "line 1, column 16: NUL bytes are not allowed");
  ExpectError("SELECT COUNT(*) FROM t WHERE a = 'x\0y'"s,
              "line 1, column 36: NUL bytes are not allowed");
  ExpectError("SELECT COUNT(*) FROM t -- \0\n"s,
              "line 1, column 27: NUL bytes are not allowed");
  ExpectError("SELECT COUNT(*) FROM t;\0"s,
              "line 1, column 24: NUL bytes are not allowed");
}

TEST(HostileTest, UnterminatedConstructs) {
  ExpectError("SELECT COUNT(*) FROM t WHERE a = 'x",
              "line 1, column 34: unterminated string literal");
  ExpectError("SELECT COUNT(*) FROM t WHERE a = 'x''",
              "line 1, column 34: unterminated string literal");
  ExpectError("SELECT COUNT(*) FROM \"t",
              "line 1, column 22: unterminated quoted identifier");
  ExpectError("SELECT COUNT(*) /* FROM t",
              "line 1, column 17: unterminated /* comment");
  ExpectError("SELECT COUNT(*) FROM t WHERE a = '",
              "line 1, column 34: unterminated string literal");
  ExpectError("'", "line 1, column 1: unterminated string literal");
}

TEST(HostileTest, InvalidUtf8) {
  ExpectError("SELECT COUNT(*) FROM t WHERE a = '\xFF'",
              "line 1, column 35: invalid UTF-8 byte sequence");
  ExpectError("SELECT COUNT(*) FROM t WHERE a = 'é\xC3'",
              "line 1, column 36: invalid UTF-8 byte sequence");
  ExpectError("SELECT COUNT(*) FROM t \xED\xA0\x80",
              "line 1, column 24: invalid UTF-8 byte sequence");
  ExpectError("SELECT COUNT(*) FROM t /* \xC0\xAF */",
              "line 1, column 27: invalid UTF-8 byte sequence");
  ExpectError("\xEF\xBB\xBFSELECT COUNT(*) FROM t",  // byte order mark
              "line 1, column 1: unexpected character U+FEFF; non-ASCII "
              "characters are only allowed in strings, quoted identifiers and "
              "comments");
}

// Every error must have the documented shape and a sane position.
void ExpectCleanOutcome(const std::string& sql, const ParseOptions& options) {
  absl::StatusOr<Query> q = ParseQuery(sql, options);
  if (!q.ok()) {
    static const std::regex kShape("^line [1-9][0-9]*, column [1-9][0-9]*: .+");
    ASSERT_EQ(q.status().code(), absl::StatusCode::kInvalidArgument) << sql;
    ASSERT_TRUE(std::regex_match(std::string(q.status().message()), kShape))
        << q.status();
    return;
  }
  const std::string canonical = ToSql(*q);
  absl::StatusOr<Query> again = ParseQuery(canonical, options);
  ASSERT_THAT(again, IsOk()) << "input: " << sql << "\nprinted: " << canonical;
  ASSERT_TRUE(StructurallyEqual(*q, *again))
      << "input: " << sql << "\nprinted: " << canonical;
}

TEST(HostileTest, MutatedQueriesFailCleanlyOrRoundTrip) {
  static const char* kFragments[] = {
      "(",      ")",    "'",    "\"",  "--",   "/*",  "*/",   ",",
      ";",      "-",    "*",    ".",   "@",    "NOT", "IN",   "AND",
      "SELECT", "FROM", "CASE", "END", "NULL", "\0",  "\xC3", "\xFF",
      "é",      " ",    "\n",   "1",   ".5",   "x",   "OVER", "BETWEEN"};
  std::mt19937 rng(7);
  auto pick = [&](size_t n) {
    return std::uniform_int_distribution<size_t>(0, n - 1)(rng);
  };
  for (bool check_functions : {true, false}) {
    ParseOptions options;
    options.check_functions = check_functions;
    for (int i = 0; i < 6000; ++i) {
      std::string sql(
          testing::kValidQueries[pick(testing::kValidQueries.size())]);
      for (int m = static_cast<int>(pick(4)) + 1; m > 0; --m) {
        const size_t at = pick(sql.size() + 1);
        switch (pick(4)) {
          case 0:  // insert a fragment
            if (const size_t f = pick(std::size(kFragments));
                kFragments[f][0] == '\0') {
              sql.insert(at, 1, '\0');
            } else {
              sql.insert(at, kFragments[f]);
            }
            break;
          case 1:  // delete a span
            sql.erase(at, pick(8));
            break;
          case 2:  // replace a byte
            if (at < sql.size()) sql[at] = static_cast<char>(pick(256));
            break;
          default:  // truncate
            sql.resize(at);
            break;
        }
      }
      ExpectCleanOutcome(sql, options);
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

TEST(HostileTest, RandomBytes) {
  std::mt19937 rng(11);
  ParseOptions options;
  for (int i = 0; i < 3000; ++i) {
    std::string sql(std::uniform_int_distribution<size_t>(0, 200)(rng), ' ');
    for (char& c : sql) {
      c = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
    }
    ExpectCleanOutcome(sql, options);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace datalab::sql
