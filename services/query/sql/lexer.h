// Tokenizer for the lab's SQL subset.
//
// Contract: Tokenize() never crashes on any byte sequence; it returns
// INVALID_ARGUMENT "line L, column C: <reason>" (1-based, columns counted in
// UTF-8 characters) for NUL bytes, invalid UTF-8, characters outside the
// language, unterminated strings, quoted identifiers and block comments,
// malformed numbers, over-long identifiers and too many tokens. Messages
// never echo the contents of string literals. Stateless and thread-safe.
//
// Lexical rules: keywords are case-insensitive bare words; identifiers are
// [A-Za-z_][A-Za-z0-9_]* or "double quoted" ("" escapes a quote); strings
// are 'single quoted' ('' escapes a quote); numbers are digits with an
// optional fraction (12, 12.5, .5, 12.); comments run from -- to the end of
// the line or between /* and */ (not nested). Non-ASCII characters may only
// appear inside strings, quoted identifiers and comments.
#ifndef DATALAB_SERVICES_QUERY_SQL_LEXER_H_
#define DATALAB_SERVICES_QUERY_SQL_LEXER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/query/sql/ast.h"

namespace datalab::sql {

enum class TokenKind {
  kIdentifier,        // bare word, keyword or not; text as written
  kQuotedIdentifier,  // text is the unescaped name
  kString,            // text is the unescaped value
  kInteger,           // text is the digits as written
  kDecimal,           // text is the number as written
  kSymbol,            // ( ) , . ; @ * / + - = <> != < <= > >=
  kEnd,               // end of input; always the last token
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::string text;
  SourcePosition pos;
};

struct LexerOptions {
  size_t max_tokens = 10000;           // not counting the final kEnd
  size_t max_identifier_length = 128;  // in bytes
};

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view sql,
                                            const LexerOptions& options = {});

// True for words that cannot be used as bare identifiers or aliases (SELECT,
// FROM, AND, NULL, ...). Case-insensitive. Quote them to use them as names.
bool IsReservedWord(std::string_view word);

// How a token is named in an error message: 'FORM', '(' , "a string
// literal", "a number", "end of query". Identifiers are truncated; literal
// values are never echoed because they may hold pupil data.
std::string DescribeToken(const Token& token);

// "line L, column C: <reason>" as INVALID_ARGUMENT.
absl::Status ErrorAt(const SourcePosition& pos, std::string_view reason);

}  // namespace datalab::sql

#endif  // DATALAB_SERVICES_QUERY_SQL_LEXER_H_
