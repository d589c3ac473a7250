// Tokens, positions and every lexical error.
#include "services/query/sql/lexer.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::sql {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Not;

std::vector<Token> MustTokenize(std::string_view sql) {
  absl::StatusOr<std::vector<Token>> tokens = Tokenize(sql);
  EXPECT_THAT(tokens, IsOk()) << sql;
  return tokens.ok() ? *tokens : std::vector<Token>{};
}

// "kind:text@line:column" per token, for compact expectations.
std::vector<std::string> Describe(const std::vector<Token>& tokens) {
  std::vector<std::string> out;
  for (const Token& t : tokens) {
    const char* kind = "";
    switch (t.kind) {
      case TokenKind::kIdentifier:
        kind = "id";
        break;
      case TokenKind::kQuotedIdentifier:
        kind = "qid";
        break;
      case TokenKind::kString:
        kind = "str";
        break;
      case TokenKind::kInteger:
        kind = "int";
        break;
      case TokenKind::kDecimal:
        kind = "dec";
        break;
      case TokenKind::kSymbol:
        kind = "sym";
        break;
      case TokenKind::kEnd:
        kind = "end";
        break;
    }
    out.push_back(std::string(kind) + ":" + t.text + "@" +
                  std::to_string(t.pos.line) + ":" +
                  std::to_string(t.pos.column));
  }
  return out;
}

void ExpectLexError(std::string_view sql, const std::string& message) {
  EXPECT_THAT(Tokenize(sql),
              StatusIs(absl::StatusCode::kInvalidArgument, Eq(message)))
      << sql;
}

TEST(LexerTest, TokensWithPositions) {
  EXPECT_THAT(
      Describe(MustTokenize("SELECT a.b, 'x''y'\n  FROM \"q\"\"t\" -- c\n;")),
      ::testing::ElementsAre("id:SELECT@1:1", "id:a@1:8", "sym:.@1:9",
                             "id:b@1:10", "sym:,@1:11", "str:x'y@1:13",
                             "id:FROM@2:3", "qid:q\"t@2:8", "sym:;@3:1",
                             "end:@3:2"));
}

TEST(LexerTest, Numbers) {
  EXPECT_THAT(
      Describe(MustTokenize("12 12.5 .5 7. 007")),
      ::testing::ElementsAre("int:12@1:1", "dec:12.5@1:4", "dec:.5@1:9",
                             "dec:7.@1:12", "int:007@1:15", "end:@1:18"));
}

TEST(LexerTest, Symbols) {
  EXPECT_THAT(Describe(MustTokenize("<=>=<>!=<>=(),.;@*/+-")),
              ::testing::ElementsAre("sym:<=@1:1", "sym:>=@1:3", "sym:<>@1:5",
                                     "sym:!=@1:7", "sym:<>@1:9", "sym:=@1:11",
                                     "sym:(@1:12", "sym:)@1:13", "sym:,@1:14",
                                     "sym:.@1:15", "sym:;@1:16", "sym:@@1:17",
                                     "sym:*@1:18", "sym:/@1:19", "sym:+@1:20",
                                     "sym:-@1:21", "end:@1:22"));
}

TEST(LexerTest, CommentsAreSkipped) {
  EXPECT_THAT(
      Describe(MustTokenize("a -- x 'y\n/* multi\nline */ b/**/c--")),
      ::testing::ElementsAre("id:a@1:1", "id:b@3:9", "id:c@3:14", "end:@3:17"));
}

TEST(LexerTest, MinusMinusIsAComment) {
  EXPECT_THAT(Describe(MustTokenize("1--1\n- -1")),
              ::testing::ElementsAre("int:1@1:1", "sym:-@2:1", "sym:-@2:3",
                                     "int:1@2:4", "end:@2:5"));
}

TEST(LexerTest, ColumnsCountCharactersNotBytes) {
  // 'café' is 5 bytes of UTF-8 but 4 characters; € is 3 bytes.
  EXPECT_THAT(Describe(MustTokenize("'café' x /* € */ y \"€\" z")),
              ::testing::ElementsAre("str:café@1:1", "id:x@1:8", "id:y@1:18",
                                     "qid:€@1:20", "id:z@1:24", "end:@1:25"));
}

TEST(LexerTest, StringsMayHoldNewlinesAndTabs) {
  std::vector<Token> tokens = MustTokenize("'a\n\tb' c");
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[0].text, "a\n\tb");
  EXPECT_EQ(tokens[1].pos, (SourcePosition{2, 5}));
}

TEST(LexerTest, WindowsLineEndings) {
  std::vector<Token> tokens = MustTokenize("a\r\nb");
  ASSERT_EQ(tokens.size(), 3u);
  EXPECT_EQ(tokens[1].pos, (SourcePosition{2, 1}));
}

TEST(LexerTest, EmptyInputIsJustEnd) {
  EXPECT_THAT(Describe(MustTokenize("")), ::testing::ElementsAre("end:@1:1"));
  EXPECT_THAT(Describe(MustTokenize("  \n -- x")),
              ::testing::ElementsAre("end:@2:6"));
}

TEST(LexerTest, UnterminatedStringIsReportedWhereItStarts) {
  ExpectLexError("a = 'abc", "line 1, column 5: unterminated string literal");
  ExpectLexError("a = 'it''", "line 1, column 5: unterminated string literal");
  ExpectLexError("x\n  'abc\ndef",
                 "line 2, column 3: unterminated string literal");
}

TEST(LexerTest, UnterminatedQuotedIdentifier) {
  ExpectLexError("SELECT \"abc",
                 "line 1, column 8: unterminated quoted identifier");
}

TEST(LexerTest, UnterminatedBlockComment) {
  ExpectLexError("a /* b\n c", "line 1, column 3: unterminated /* comment");
  ExpectLexError("/*/", "line 1, column 1: unterminated /* comment");
}

TEST(LexerTest, EmptyQuotedIdentifier) {
  ExpectLexError("a \"\" b", "line 1, column 3: empty quoted identifier");
}

TEST(LexerTest, ControlCharactersInQuotedIdentifiers) {
  ExpectLexError("\"a\tb\"",
                 "line 1, column 3: control characters are not allowed in a "
                 "quoted identifier");
}

TEST(LexerTest, NulBytes) {
  ExpectLexError(std::string_view("ab\0c", 4),
                 "line 1, column 3: NUL bytes are not allowed");
  ExpectLexError(std::string_view("'a\0'", 4),
                 "line 1, column 3: NUL bytes are not allowed");
  ExpectLexError(std::string_view("-- \0\n", 5),
                 "line 1, column 4: NUL bytes are not allowed");
  ExpectLexError(std::string_view("/* \0 */", 7),
                 "line 1, column 4: NUL bytes are not allowed");
  ExpectLexError(std::string_view("\"\0\"", 3),
                 "line 1, column 2: NUL bytes are not allowed");
}

TEST(LexerTest, InvalidUtf8) {
  const std::string kBad[] = {
      "\x80",              // lone continuation byte
      "\xC3",              // truncated at end of input
      "\xC3(",             // bad continuation
      "\xC0\x80",          // overlong NUL
      "\xE0\x80\x80",      // overlong
      "\xED\xA0\x80",      // UTF-16 surrogate
      "\xF4\x90\x80\x80",  // above U+10FFFF
      "\xFE",
      "\xFF",
  };
  for (const std::string& bad : kBad) {
    ExpectLexError("x " + bad, "line 1, column 3: invalid UTF-8 byte sequence");
    ExpectLexError("'é" + bad + "'",
                   "line 1, column 3: invalid UTF-8 byte sequence");
    ExpectLexError("-- " + bad,
                   "line 1, column 4: invalid UTF-8 byte sequence");
    ExpectLexError("\"" + bad + "\"",
                   "line 1, column 2: invalid UTF-8 byte sequence");
  }
}

TEST(LexerTest, NonAsciiOutsideStrings) {
  ExpectLexError("SELECT café",
                 "line 1, column 11: unexpected character U+00E9; non-ASCII "
                 "characters are only allowed in strings, quoted identifiers "
                 "and comments");
  ExpectLexError(
      "a\xC2\xA0"
      "b",  // no-break space
      "line 1, column 2: unexpected character U+00A0; non-ASCII "
      "characters are only allowed in strings, quoted identifiers "
      "and comments");
}

TEST(LexerTest, UnexpectedCharacters) {
  ExpectLexError("a % b", "line 1, column 3: unexpected character '%'");
  ExpectLexError("a ! b", "line 1, column 3: unexpected character '!'");
  ExpectLexError("a::int", "line 1, column 2: unexpected character ':'");
  ExpectLexError("x ? y", "line 1, column 3: unexpected character '?'");
  ExpectLexError("a\x01",
                 "line 1, column 2: unexpected control character "
                 "U+0001");
  ExpectLexError("a\x7F",
                 "line 1, column 2: unexpected control character "
                 "U+007F");
  ExpectLexError("`col`",
                 "line 1, column 1: backquoted identifiers are not supported; "
                 "use \"double quotes\"");
}

TEST(LexerTest, MalformedNumbers) {
  const std::string kMessage =
      "malformed number; numbers are digits with an optional decimal "
      "fraction, like 12 or 0.5";
  ExpectLexError("x = 1e5", "line 1, column 5: " + kMessage);
  ExpectLexError("x = 1.2.3", "line 1, column 5: " + kMessage);
  ExpectLexError("x = 12abc", "line 1, column 5: " + kMessage);
  ExpectLexError("x = .5x", "line 1, column 5: " + kMessage);
  ExpectLexError("x = 0x1F", "line 1, column 5: " + kMessage);
}

TEST(LexerTest, IdentifierLength) {
  LexerOptions options;
  options.max_identifier_length = 8;
  EXPECT_THAT(Tokenize("abcdefgh \"abcdefgh\"", options), IsOk());
  EXPECT_THAT(Tokenize("x abcdefghi", options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("line 1, column 3: identifier is longer than 8 "
                          "characters")));
  EXPECT_THAT(Tokenize("x \"abcdefghi\"", options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("line 1, column 3: identifier is longer than 8 "
                          "characters")));
}

TEST(LexerTest, TokenLimit) {
  LexerOptions options;
  options.max_tokens = 3;
  EXPECT_THAT(Tokenize("a b c", options), IsOk());
  EXPECT_THAT(Tokenize("a b c  d", options),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("line 1, column 8: the query has more than 3 "
                          "tokens")));
}

TEST(LexerTest, ReservedWords) {
  EXPECT_TRUE(IsReservedWord("SELECT"));
  EXPECT_TRUE(IsReservedWord("select"));
  EXPECT_TRUE(IsReservedWord("Null"));
  EXPECT_TRUE(IsReservedWord("over"));
  EXPECT_FALSE(IsReservedWord("count"));
  EXPECT_FALSE(IsReservedWord("year"));
  EXPECT_FALSE(IsReservedWord("pupil"));
  EXPECT_FALSE(IsReservedWord(""));
}

TEST(LexerTest, DescribeTokenNeverEchoesLiterals) {
  EXPECT_EQ(DescribeToken(Token{TokenKind::kString, "A123456789012", {}}),
            "a string literal");
  EXPECT_EQ(DescribeToken(Token{TokenKind::kInteger, "1234567", {}}),
            "a number");
  EXPECT_EQ(DescribeToken(Token{TokenKind::kDecimal, "1.5", {}}), "a number");
  EXPECT_EQ(DescribeToken(Token{TokenKind::kIdentifier, "FORM", {}}), "'FORM'");
  EXPECT_EQ(DescribeToken(Token{TokenKind::kQuotedIdentifier, "a b", {}}),
            "'\"a b\"'");
  EXPECT_EQ(DescribeToken(Token{TokenKind::kSymbol, "(", {}}), "'('");
  EXPECT_EQ(DescribeToken(Token{TokenKind::kEnd, "", {}}), "end of query");
  const std::string long_name(100, 'x');
  EXPECT_EQ(DescribeToken(Token{TokenKind::kIdentifier, long_name, {}}),
            "'" + std::string(32, 'x') + "...'");
  // Truncation never splits a UTF-8 character.
  std::string euros;
  for (int i = 0; i < 20; ++i) euros += "€";
  const std::string described =
      DescribeToken(Token{TokenKind::kQuotedIdentifier, euros, {}});
  EXPECT_THAT(described, HasSubstr("€..."));
  EXPECT_THAT(described, Not(HasSubstr("\xE2\x82...")));
}

TEST(LexerTest, ErrorAtFormat) {
  EXPECT_THAT(ErrorAt(SourcePosition{3, 9}, "column 'fsm' is not known"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       Eq("line 3, column 9: column 'fsm' is not known")));
}

}  // namespace
}  // namespace datalab::sql
