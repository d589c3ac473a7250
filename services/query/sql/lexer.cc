#include "services/query/sql/lexer.h"

#include <array>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "services/query/sql/absl_view.h"

namespace datalab::sql {
namespace {

// Upper-case, sorted for readability only (lookup is linear and tiny).
constexpr std::array<std::string_view, 44> kReservedWords = {
    "ALL",       "AND",   "AS",       "ASC",    "BETWEEN", "BY",     "CASE",
    "CROSS",     "DESC",  "DISTINCT", "ELSE",   "END",     "EXCEPT", "FALSE",
    "FROM",      "FULL",  "GROUP",    "HAVING", "ILIKE",   "IN",     "INNER",
    "INTERSECT", "IS",    "JOIN",     "LEFT",   "LIKE",    "LIMIT",  "NATURAL",
    "NOT",       "NULL",  "OFFSET",   "ON",     "OR",      "ORDER",  "OUTER",
    "OVER",      "RIGHT", "SELECT",   "THEN",   "TRUE",    "UNION",  "USING",
    "WHEN",      "WHERE",
};

constexpr size_t kMaxEchoedNameBytes = 32;

bool IsIdentStart(unsigned char c) {
  return absl::ascii_isalpha(c) || c == '_';
}
bool IsIdentChar(unsigned char c) { return absl::ascii_isalnum(c) || c == '_'; }
bool IsDigit(unsigned char c) { return c >= '0' && c <= '9'; }

// Decodes the UTF-8 sequence starting at s[i]. Returns its length in bytes,
// or 0 when it is not well-formed (overlong forms, surrogates, code points
// above U+10FFFF and truncated sequences are all rejected).
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* code_point) {
  const auto byte = [&](size_t k) -> unsigned char {
    return static_cast<unsigned char>(s[k]);
  };
  const unsigned char b0 = byte(i);
  size_t len;
  uint32_t cp;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 < 0x80) {
    *code_point = b0;
    return 1;
  } else if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // UTF-16 surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (s.size() - i < len) return 0;
  for (size_t k = 1; k < len; ++k) {
    const unsigned char b = byte(i + k);
    const unsigned char min = k == 1 ? lo : 0x80;
    const unsigned char max = k == 1 ? hi : 0xBF;
    if (b < min || b > max) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  *code_point = cp;
  return len;
}

// Truncates to at most kMaxEchoedNameBytes without splitting a character.
std::string Truncated(std::string_view name) {
  if (name.size() <= kMaxEchoedNameBytes) return std::string(name);
  size_t cut = kMaxEchoedNameBytes;
  while (cut > 0 && (static_cast<unsigned char>(name[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  return absl::StrCat(AbslView(name.substr(0, cut)), "...");
}

class Lexer {
 public:
  Lexer(std::string_view sql, const LexerOptions& options)
      : sql_(sql), options_(options) {}

  absl::StatusOr<std::vector<Token>> Run() {
    std::vector<Token> tokens;
    while (true) {
      absl::Status skipped = SkipSpaceAndComments();
      if (!skipped.ok()) return skipped;
      if (AtEnd()) {
        tokens.push_back(Token{TokenKind::kEnd, "", Pos()});
        return tokens;
      }
      if (tokens.size() >= options_.max_tokens) {
        return ErrorAt(Pos(), absl::StrCat("the query has more than ",
                                           options_.max_tokens, " tokens"));
      }
      absl::StatusOr<Token> token = NextToken();
      if (!token.ok()) return token.status();
      tokens.push_back(*std::move(token));
    }
  }

 private:
  bool AtEnd() const { return i_ >= sql_.size(); }
  unsigned char Peek(size_t ahead = 0) const {
    return i_ + ahead < sql_.size()
               ? static_cast<unsigned char>(sql_[i_ + ahead])
               : 0;
  }
  bool HasAhead(size_t ahead) const { return i_ + ahead < sql_.size(); }
  SourcePosition Pos() const { return SourcePosition{line_, column_}; }

  // Consumes one ASCII character that is known to be there.
  void AdvanceAscii() {
    if (sql_[i_] == '\n') {
      ++line_;
      column_ = 1;
    } else {
      ++column_;
    }
    ++i_;
  }

  // Consumes one character of any kind (inside strings, quoted identifiers
  // and comments), rejecting NUL bytes and malformed UTF-8.
  absl::Status Step(std::string* out = nullptr) {
    const unsigned char c = Peek();
    if (c == 0) return ErrorAt(Pos(), "NUL bytes are not allowed");
    uint32_t cp;
    const size_t len = DecodeUtf8(sql_, i_, &cp);
    if (len == 0) return ErrorAt(Pos(), "invalid UTF-8 byte sequence");
    if (out != nullptr) out->append(sql_.substr(i_, len));
    if (len == 1) {
      AdvanceAscii();
    } else {
      i_ += len;
      ++column_;
    }
    return absl::OkStatus();
  }

  absl::Status SkipSpaceAndComments() {
    while (!AtEnd()) {
      const unsigned char c = Peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
          c == '\v') {
        AdvanceAscii();
      } else if (c == '-' && Peek(1) == '-') {
        while (!AtEnd() && Peek() != '\n') {
          absl::Status s = Step();
          if (!s.ok()) return s;
        }
      } else if (c == '/' && Peek(1) == '*') {
        const SourcePosition start = Pos();
        AdvanceAscii();
        AdvanceAscii();
        while (true) {
          if (AtEnd()) return ErrorAt(start, "unterminated /* comment");
          if (Peek() == '*' && Peek(1) == '/') {
            AdvanceAscii();
            AdvanceAscii();
            break;
          }
          absl::Status s = Step();
          if (!s.ok()) return s;
        }
      } else {
        break;
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Token> NextToken() {
    const SourcePosition start = Pos();
    const unsigned char c = Peek();
    if (IsIdentStart(c)) return LexIdentifier(start);
    if (IsDigit(c) || (c == '.' && IsDigit(Peek(1)))) return LexNumber(start);
    if (c == '\'') return LexString(start);
    if (c == '"') return LexQuotedIdentifier(start);
    if (Token symbol; LexSymbol(start, &symbol)) return symbol;
    if (c == 0) return ErrorAt(start, "NUL bytes are not allowed");
    if (c >= 0x80) {
      uint32_t cp;
      if (DecodeUtf8(sql_, i_, &cp) == 0) {
        return ErrorAt(start, "invalid UTF-8 byte sequence");
      }
      return ErrorAt(start,
                     absl::StrFormat("unexpected character U+%04X; non-ASCII "
                                     "characters are only allowed in strings, "
                                     "quoted identifiers and comments",
                                     cp));
    }
    if (c < 0x20 || c == 0x7F) {
      return ErrorAt(start,
                     absl::StrFormat("unexpected control character U+%04X", c));
    }
    if (c == '`') {
      return ErrorAt(start,
                     "backquoted identifiers are not supported; use \"double "
                     "quotes\"");
    }
    return ErrorAt(start,
                   absl::StrCat("unexpected character '",
                                std::string(1, static_cast<char>(c)), "'"));
  }

  absl::StatusOr<Token> LexIdentifier(const SourcePosition& start) {
    const size_t begin = i_;
    while (!AtEnd() && IsIdentChar(Peek())) AdvanceAscii();
    if (i_ - begin > options_.max_identifier_length) {
      return ErrorAt(
          start, absl::StrCat("identifier is longer than ",
                              options_.max_identifier_length, " characters"));
    }
    return Token{TokenKind::kIdentifier,
                 std::string(sql_.substr(begin, i_ - begin)), start};
  }

  absl::StatusOr<Token> LexNumber(const SourcePosition& start) {
    const size_t begin = i_;
    bool decimal = false;
    while (!AtEnd() && IsDigit(Peek())) AdvanceAscii();
    if (Peek() == '.') {
      decimal = true;
      AdvanceAscii();
      while (!AtEnd() && IsDigit(Peek())) AdvanceAscii();
    }
    if (!AtEnd() && (IsIdentChar(Peek()) || Peek() == '.')) {
      return ErrorAt(start,
                     "malformed number; numbers are digits with an optional "
                     "decimal fraction, like 12 or 0.5");
    }
    return Token{decimal ? TokenKind::kDecimal : TokenKind::kInteger,
                 std::string(sql_.substr(begin, i_ - begin)), start};
  }

  // Reads a literal delimited by `quote` where a doubled quote stands for
  // one. The opening quote is at the cursor.
  absl::Status LexQuoted(char quote, const SourcePosition& start,
                         std::string_view what, bool allow_control,
                         std::string* value) {
    AdvanceAscii();
    while (true) {
      if (AtEnd())
        return ErrorAt(start, absl::StrCat("unterminated ", AbslView(what)));
      const unsigned char c = Peek();
      if (c == static_cast<unsigned char>(quote)) {
        if (Peek(1) == static_cast<unsigned char>(quote) && HasAhead(1)) {
          value->push_back(quote);
          AdvanceAscii();
          AdvanceAscii();
          continue;
        }
        AdvanceAscii();
        return absl::OkStatus();
      }
      if (!allow_control && c != 0 && (c < 0x20 || c == 0x7F)) {
        return ErrorAt(Pos(), absl::StrCat("control characters are not allowed "
                                           "in a ",
                                           AbslView(what)));
      }
      absl::Status s = Step(value);
      if (!s.ok()) return s;
    }
  }

  absl::StatusOr<Token> LexString(const SourcePosition& start) {
    Token token{TokenKind::kString, "", start};
    absl::Status s = LexQuoted('\'', start, "string literal",
                               /*allow_control=*/true, &token.text);
    if (!s.ok()) return s;
    return token;
  }

  absl::StatusOr<Token> LexQuotedIdentifier(const SourcePosition& start) {
    Token token{TokenKind::kQuotedIdentifier, "", start};
    absl::Status s = LexQuoted('"', start, "quoted identifier",
                               /*allow_control=*/false, &token.text);
    if (!s.ok()) return s;
    if (token.text.empty()) {
      return ErrorAt(start, "empty quoted identifier");
    }
    if (token.text.size() > options_.max_identifier_length) {
      return ErrorAt(
          start, absl::StrCat("identifier is longer than ",
                              options_.max_identifier_length, " characters"));
    }
    return token;
  }

  // False (consuming nothing) when the cursor is not at a symbol.
  bool LexSymbol(const SourcePosition& start, Token* token) {
    static constexpr std::array<std::string_view, 4> kTwoChar = {
        "<=", ">=", "<>", "!="};
    for (std::string_view sym : kTwoChar) {
      if (Peek() == static_cast<unsigned char>(sym[0]) &&
          Peek(1) == static_cast<unsigned char>(sym[1])) {
        AdvanceAscii();
        AdvanceAscii();
        *token = Token{TokenKind::kSymbol, std::string(sym), start};
        return true;
      }
    }
    static constexpr std::string_view kOneChar = "(),.;@*/+-=<>";
    const unsigned char c = Peek();
    if (c != 0 &&
        kOneChar.find(static_cast<char>(c)) != std::string_view::npos) {
      AdvanceAscii();
      *token = Token{TokenKind::kSymbol, std::string(1, static_cast<char>(c)),
                     start};
      return true;
    }
    return false;
  }

  std::string_view sql_;
  const LexerOptions& options_;
  size_t i_ = 0;
  int line_ = 1;
  int column_ = 1;
};

}  // namespace

absl::StatusOr<std::vector<Token>> Tokenize(std::string_view sql,
                                            const LexerOptions& options) {
  return Lexer(sql, options).Run();
}

bool IsReservedWord(std::string_view word) {
  for (std::string_view reserved : kReservedWords) {
    if (absl::EqualsIgnoreCase(AbslView(word), AbslView(reserved))) return true;
  }
  return false;
}

std::string DescribeToken(const Token& token) {
  switch (token.kind) {
    case TokenKind::kIdentifier:
      return absl::StrCat("'", Truncated(token.text), "'");
    case TokenKind::kQuotedIdentifier:
      return absl::StrCat("'\"", Truncated(token.text), "\"'");
    case TokenKind::kString:
      return "a string literal";
    case TokenKind::kInteger:
    case TokenKind::kDecimal:
      return "a number";
    case TokenKind::kSymbol:
      return absl::StrCat("'", token.text, "'");
    case TokenKind::kEnd:
      return "end of query";
  }
  return "a token";
}

absl::Status ErrorAt(const SourcePosition& pos, std::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat(
      "line ", pos.line, ", column ", pos.column, ": ", AbslView(reason)));
}

}  // namespace datalab::sql
