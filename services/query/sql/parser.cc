#include "services/query/sql/parser.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/query/sql/absl_view.h"
#include "services/query/sql/functions.h"
#include "services/query/sql/lexer.h"

namespace datalab::sql {
namespace {

// Leading words of statements other than SELECT, for a clear refusal.
constexpr std::array<std::string_view, 37> kOtherStatements = {
    "ALTER",  "ANALYZE", "ATTACH",   "BEGIN",    "CALL",     "COMMIT",
    "COPY",   "CREATE",  "DECLARE",  "DELETE",   "DESCRIBE", "DETACH",
    "DO",     "DROP",    "EXEC",     "EXECUTE",  "EXPLAIN",  "GRANT",
    "IMPORT", "INSERT",  "INSTALL",  "LOAD",     "LOCK",     "MERGE",
    "PRAGMA", "REPLACE", "REVOKE",   "ROLLBACK", "SET",      "SHOW",
    "START",  "TABLE",   "TRUNCATE", "UPDATE",   "UPSERT",   "VACUUM",
    "VALUES",
};

// Words that may follow a dataset reference; an implicit alias is only
// taken when one of these comes next.
constexpr std::array<std::string_view, 20> kAfterTableRef = {
    "JOIN",  "INNER",  "LEFT",  "RIGHT",  "FULL",      "CROSS",  "NATURAL",
    "OUTER", "ON",     "USING", "WHERE",  "GROUP",     "HAVING", "ORDER",
    "LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT", "WINDOW",
};

constexpr std::array<std::string_view, 9> kClauseKeywords = {
    "SELECT", "FROM",   "JOIN",  "INNER", "WHERE",
    "GROUP",  "HAVING", "ORDER", "LIMIT",
};

constexpr std::string_view kRowLevel =
    "row-level output is not available; select aggregates";
constexpr std::string_view kNoSubqueries = "subqueries are not supported";

bool IsKeyword(const Token& t, std::string_view keyword) {
  return t.kind == TokenKind::kIdentifier &&
         absl::EqualsIgnoreCase(t.text, AbslView(keyword));
}

template <size_t N>
bool IsAnyKeyword(const Token& t,
                  const std::array<std::string_view, N>& keywords) {
  for (std::string_view k : keywords) {
    if (IsKeyword(t, k)) return true;
  }
  return false;
}

bool IsSymbol(const Token& t, std::string_view symbol) {
  return t.kind == TokenKind::kSymbol && t.text == symbol;
}

// A token usable as a name: a quoted identifier or a non-reserved word.
bool IsName(const Token& t) {
  return t.kind == TokenKind::kQuotedIdentifier ||
         (t.kind == TokenKind::kIdentifier && !IsReservedWord(t.text));
}

bool IsNumber(const Token& t) {
  return t.kind == TokenKind::kInteger || t.kind == TokenKind::kDecimal;
}

Op ComparisonOp(const Token& t) {
  if (t.kind != TokenKind::kSymbol) return Op::kNone;
  if (t.text == "=") return Op::kEq;
  if (t.text == "<>" || t.text == "!=") return Op::kNe;
  if (t.text == "<") return Op::kLt;
  if (t.text == "<=") return Op::kLe;
  if (t.text == ">") return Op::kGt;
  if (t.text == ">=") return Op::kGe;
  return Op::kNone;
}

std::string PositionText(const SourcePosition& pos) {
  return absl::StrCat("line ", pos.line, ", column ", pos.column);
}

// "0012.500" -> "12.5", ".5" -> "0.5", "3." -> "3.0"; a zero has no sign.
std::string CanonicalDecimal(std::string_view text, bool negative) {
  const size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view fraction =
      dot == std::string_view::npos ? "" : text.substr(dot + 1);
  while (!whole.empty() && whole.front() == '0') whole.remove_prefix(1);
  while (!fraction.empty() && fraction.back() == '0') fraction.remove_suffix(1);
  const bool zero = whole.empty() && fraction.empty();
  return absl::StrCat(negative && !zero ? "-" : "",
                      whole.empty() ? "0" : AbslView(whole), ".",
                      fraction.empty() ? "0" : AbslView(fraction));
}

// Keeps the parser's recursion depth in step with the call stack.
class DepthGuard {
 public:
  explicit DepthGuard(int* depth) : depth_(depth) { ++*depth_; }
  ~DepthGuard() { --*depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int* depth_;
};

class Parser {
 public:
  Parser(const std::vector<Token>& tokens, const ParseOptions& options)
      : tokens_(tokens), options_(options) {}

  absl::StatusOr<Query> Parse();

 private:
  // Token access. The token list always ends with kEnd, and reading past
  // it keeps returning kEnd.
  const Token& Peek(size_t ahead = 0) const {
    return tokens_[std::min(next_ + ahead, tokens_.size() - 1)];
  }
  const Token& Advance() {
    const Token& t = Peek();
    if (next_ < tokens_.size() - 1) ++next_;
    return t;
  }
  bool AtKeyword(std::string_view keyword) const {
    return IsKeyword(Peek(), keyword);
  }
  bool AtSymbol(std::string_view symbol) const {
    return IsSymbol(Peek(), symbol);
  }
  bool ConsumeKeyword(std::string_view keyword) {
    if (!AtKeyword(keyword)) return false;
    Advance();
    return true;
  }
  bool ConsumeSymbol(std::string_view symbol) {
    if (!AtSymbol(symbol)) return false;
    Advance();
    return true;
  }

  // "expected <what>, found <current token>".
  absl::Status Expected(std::string_view what) const {
    const Token& t = Peek();
    return ErrorAt(t.pos, absl::StrCat("expected ", AbslView(what), ", found ",
                                       DescribeToken(t)));
  }
  absl::Status ExpectSymbol(std::string_view symbol, std::string_view what) {
    if (!ConsumeSymbol(symbol)) return Expected(what);
    return absl::OkStatus();
  }

  // Called before each nested construct; the caller then holds a
  // DepthGuard for the construct's extent.
  absl::Status CheckDepth() const {
    if (depth_ >= options_.max_depth) {
      return ErrorAt(Peek().pos,
                     absl::StrCat("expression is nested too deeply (limit: ",
                                  options_.max_depth, " levels)"));
    }
    return absl::OkStatus();
  }

  // Sets the node's height from its operands and enforces the bound.
  absl::StatusOr<ExprPtr> Finish(ExprPtr e) const {
    int height = 0;
    for (const ExprPtr& operand : e->operands) {
      height = std::max(height, operand->height);
    }
    e->height = height + 1;
    if (e->height > options_.max_expression_height) {
      return ErrorAt(e->pos,
                     absl::StrCat("expression is too long or too deeply "
                                  "nested (limit: ",
                                  options_.max_expression_height, " levels)"));
    }
    return e;
  }

  absl::StatusOr<ExprPtr> MakeUnary(Op op, const SourcePosition& pos,
                                    ExprPtr operand) const {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kUnary;
    e->op = op;
    e->pos = pos;
    e->operands.push_back(std::move(operand));
    return Finish(std::move(e));
  }
  absl::StatusOr<ExprPtr> MakeBinary(Op op, const SourcePosition& pos,
                                     ExprPtr lhs, ExprPtr rhs) const {
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kBinary;
    e->op = op;
    e->pos = pos;
    e->operands.push_back(std::move(lhs));
    e->operands.push_back(std::move(rhs));
    return Finish(std::move(e));
  }

  absl::Status ParseSelectList(Query& query);
  absl::StatusOr<SelectItem> ParseSelectItem();
  absl::StatusOr<Identifier> ParseName(std::string_view what);
  absl::Status ParseTableRef(std::string_view what, TableRef& ref);
  absl::Status ParseJoins(Query& query);
  absl::Status ParseGroupBy(Query& query);
  absl::Status ParseOrderBy(Query& query);
  absl::Status ParseLimit(Query& query);
  absl::Status CheckPosition(const Expr& item, std::string_view clause,
                             size_t select_items) const;
  absl::Status TrailingTokenError() const;

  absl::StatusOr<ExprPtr> ParseExpr();
  absl::StatusOr<ExprPtr> ParseOr();
  absl::StatusOr<ExprPtr> ParseAnd();
  absl::StatusOr<ExprPtr> ParseNot();
  absl::StatusOr<ExprPtr> ParsePredicate();
  absl::StatusOr<ExprPtr> ParseInList(ExprPtr lhs, const SourcePosition& pos,
                                      bool negated);
  absl::StatusOr<ExprPtr> ParseAdditive();
  absl::StatusOr<ExprPtr> ParseMultiplicative();
  absl::StatusOr<ExprPtr> ParseUnary();
  absl::StatusOr<ExprPtr> ParsePrimary();
  absl::StatusOr<ExprPtr> ParseColumn();
  absl::StatusOr<ExprPtr> ParseCall();
  absl::StatusOr<ExprPtr> ParseCase();
  absl::StatusOr<ExprPtr> ParseLiteral(bool negative,
                                       const SourcePosition& pos);
  bool AtPredicateOperator() const;

  const std::vector<Token>& tokens_;
  const ParseOptions& options_;
  size_t next_ = 0;
  int depth_ = 0;
  // Names the clause just parsed, for "unexpected 'x' after ..." errors.
  std::string_view last_clause_ = "the select list";
};

absl::StatusOr<Query> Parser::Parse() {
  const Token& first = Peek();
  if (first.kind == TokenKind::kEnd) {
    return ErrorAt(first.pos, "the query is empty");
  }
  if (!IsKeyword(first, "SELECT")) {
    if (IsKeyword(first, "WITH")) {
      return ErrorAt(first.pos,
                     "WITH (common table expressions) is not supported");
    }
    if (IsAnyKeyword(first, kOtherStatements)) {
      return ErrorAt(first.pos, "only SELECT queries are accepted");
    }
    if (IsSymbol(first, "(")) {
      return ErrorAt(first.pos, kNoSubqueries);
    }
    return Expected("SELECT at the start of the query");
  }
  Query query;
  query.pos = Advance().pos;
  if (AtKeyword("DISTINCT")) {
    return ErrorAt(Peek().pos,
                   "SELECT DISTINCT is not supported; use GROUP BY with "
                   "aggregates");
  }
  RETURN_IF_ERROR(ParseSelectList(query));

  if (!ConsumeKeyword("FROM")) return Expected("FROM after the select list");
  RETURN_IF_ERROR(ParseTableRef("a dataset name after FROM", query.from));
  last_clause_ = "the FROM clause";
  if (AtSymbol(",")) {
    return ErrorAt(Peek().pos,
                   "comma joins are not supported; use JOIN <dataset> USING "
                   "(columns)");
  }
  RETURN_IF_ERROR(ParseJoins(query));

  if (ConsumeKeyword("WHERE")) {
    ASSIGN_OR_RETURN(query.where, ParseExpr());
    last_clause_ = "the WHERE condition";
  }
  if (AtKeyword("GROUP")) RETURN_IF_ERROR(ParseGroupBy(query));
  if (ConsumeKeyword("HAVING")) {
    ASSIGN_OR_RETURN(query.having, ParseExpr());
    last_clause_ = "the HAVING condition";
  }
  if (AtKeyword("ORDER")) RETURN_IF_ERROR(ParseOrderBy(query));
  if (AtKeyword("LIMIT")) RETURN_IF_ERROR(ParseLimit(query));
  if (AtKeyword("OFFSET")) {
    return ErrorAt(Peek().pos, "OFFSET is not supported");
  }
  if (ConsumeSymbol(";")) {
    if (Peek().kind != TokenKind::kEnd) {
      return ErrorAt(Peek().pos,
                     "only one statement is accepted; remove what follows "
                     "the ';'");
    }
  }
  if (Peek().kind != TokenKind::kEnd) return TrailingTokenError();
  return query;
}

absl::Status Parser::TrailingTokenError() const {
  const Token& t = Peek();
  if (IsKeyword(t, "UNION") || IsKeyword(t, "INTERSECT") ||
      IsKeyword(t, "EXCEPT")) {
    return ErrorAt(t.pos, "UNION, INTERSECT and EXCEPT are not supported");
  }
  if (IsAnyKeyword(t, kClauseKeywords)) {
    return ErrorAt(t.pos,
                   absl::StrCat(absl::AsciiStrToUpper(t.text),
                                " is out of place; clauses come in the order "
                                "SELECT, FROM, JOIN, WHERE, GROUP BY, HAVING, "
                                "ORDER BY, LIMIT"));
  }
  return ErrorAt(t.pos, absl::StrCat("unexpected ", DescribeToken(t), " after ",
                                     AbslView(last_clause_)));
}

absl::Status Parser::ParseSelectList(Query& query) {
  while (true) {
    if (query.select.size() >= options_.max_select_items) {
      return ErrorAt(Peek().pos, absl::StrCat("too many select items (limit: ",
                                              options_.max_select_items, ")"));
    }
    ASSIGN_OR_RETURN(SelectItem item, ParseSelectItem());
    query.select.push_back(std::move(item));
    if (!ConsumeSymbol(",")) return absl::OkStatus();
    if (AtKeyword("FROM")) return Expected("another select item after ','");
  }
}

absl::StatusOr<SelectItem> Parser::ParseSelectItem() {
  if (AtSymbol("*")) return ErrorAt(Peek().pos, kRowLevel);
  SelectItem item;
  ASSIGN_OR_RETURN(item.expr, ParseExpr());
  if (ConsumeKeyword("AS")) {
    ASSIGN_OR_RETURN(item.alias, ParseName("an alias after AS"));
  } else if (IsName(Peek()) &&
             (IsSymbol(Peek(1), ",") || IsKeyword(Peek(1), "FROM"))) {
    ASSIGN_OR_RETURN(item.alias, ParseName("an alias"));
  }
  return item;
}

absl::StatusOr<Identifier> Parser::ParseName(std::string_view what) {
  const Token& t = Peek();
  if (t.kind == TokenKind::kIdentifier && IsReservedWord(t.text)) {
    return ErrorAt(t.pos, absl::StrCat("expected ", AbslView(what), ", found ",
                                       DescribeToken(t),
                                       ", a reserved word (\"double quote\" "
                                       "it to use it as a name)"));
  }
  if (!IsName(t)) return Expected(what);
  Advance();
  return Identifier{t.text, t.kind == TokenKind::kQuotedIdentifier, t.pos};
}

absl::Status Parser::ParseTableRef(std::string_view what, TableRef& ref) {
  if (AtKeyword("SELECT") || (AtSymbol("(") && IsKeyword(Peek(1), "SELECT"))) {
    return ErrorAt(Peek().pos, kNoSubqueries);
  }
  ref.pos = Peek().pos;
  ASSIGN_OR_RETURN(ref.name, ParseName(what));
  if (ConsumeSymbol(".")) {
    ref.qualifier = std::move(ref.name);
    ASSIGN_OR_RETURN(ref.name, ParseName("a dataset name after '.'"));
  }
  if (ConsumeSymbol("@")) {
    const Token& v = Peek();
    if (!IsNumber(v)) return Expected("a dataset version number after '@'");
    int64_t version = 0;
    if (v.kind != TokenKind::kInteger || !absl::SimpleAtoi(v.text, &version) ||
        version < 1) {
      return ErrorAt(v.pos,
                     "a dataset version must be a whole number of at least 1");
    }
    Advance();
    ref.version = version;
  }
  if (ConsumeKeyword("AS")) {
    ASSIGN_OR_RETURN(ref.alias, ParseName("an alias after AS"));
  } else if (IsName(Peek())) {
    const Token& after = Peek(1);
    if (after.kind == TokenKind::kEnd || IsSymbol(after, ";") ||
        IsSymbol(after, ",") || IsAnyKeyword(after, kAfterTableRef)) {
      ASSIGN_OR_RETURN(ref.alias, ParseName("an alias"));
    }
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseJoins(Query& query) {
  while (true) {
    const Token& t = Peek();
    if (IsKeyword(t, "INNER")) {
      Advance();
      if (!AtKeyword("JOIN")) return Expected("JOIN after INNER");
      Advance();
    } else if (IsKeyword(t, "JOIN")) {
      Advance();
    } else if (IsKeyword(t, "LEFT") || IsKeyword(t, "RIGHT") ||
               IsKeyword(t, "FULL") || IsKeyword(t, "CROSS") ||
               IsKeyword(t, "NATURAL") || IsKeyword(t, "OUTER")) {
      return ErrorAt(t.pos, absl::StrCat(absl::AsciiStrToUpper(t.text),
                                         " joins are not supported; use "
                                         "[INNER] JOIN ... USING (columns)"));
    } else {
      return absl::OkStatus();
    }
    if (query.joins.size() >= options_.max_joins) {
      return ErrorAt(
          t.pos,
          absl::StrCat("too many joins (limit: ", options_.max_joins, ")"));
    }
    Join join;
    join.pos = t.pos;
    RETURN_IF_ERROR(ParseTableRef("a dataset name after JOIN", join.table));
    if (AtKeyword("ON")) {
      return ErrorAt(Peek().pos,
                     "JOIN ... ON is not supported; use JOIN ... USING "
                     "(columns)");
    }
    if (!ConsumeKeyword("USING")) {
      return Expected("USING (columns) after the joined dataset");
    }
    RETURN_IF_ERROR(ExpectSymbol("(", "'(' after USING"));
    while (true) {
      ASSIGN_OR_RETURN(Identifier column,
                       ParseName("a column name in the USING list"));
      join.using_columns.push_back(std::move(column));
      if (ConsumeSymbol(",")) continue;
      RETURN_IF_ERROR(ExpectSymbol(")", "',' or ')' in the USING list"));
      break;
    }
    query.joins.push_back(std::move(join));
    last_clause_ = "the JOIN clause";
  }
}

absl::Status Parser::CheckPosition(const Expr& item, std::string_view clause,
                                   size_t select_items) const {
  if (item.kind != ExprKind::kLiteral ||
      item.literal.kind != LiteralKind::kInteger) {
    return absl::OkStatus();
  }
  const int64_t position = item.literal.int_value;
  if (position < 1 || static_cast<uint64_t>(position) > select_items) {
    return ErrorAt(
        item.pos,
        absl::StrCat(AbslView(clause), " position must be between 1 and ",
                     select_items, ", the number of select items"));
  }
  return absl::OkStatus();
}

absl::Status Parser::ParseGroupBy(Query& query) {
  Advance();  // GROUP
  if (!ConsumeKeyword("BY")) return Expected("BY after GROUP");
  while (true) {
    if (query.group_by.size() >= options_.max_group_by_items) {
      return ErrorAt(Peek().pos,
                     absl::StrCat("too many GROUP BY items (limit: ",
                                  options_.max_group_by_items, ")"));
    }
    ASSIGN_OR_RETURN(ExprPtr item, ParseExpr());
    RETURN_IF_ERROR(CheckPosition(*item, "GROUP BY", query.select.size()));
    query.group_by.push_back(std::move(item));
    if (!ConsumeSymbol(",")) break;
  }
  last_clause_ = "the GROUP BY list";
  return absl::OkStatus();
}

absl::Status Parser::ParseOrderBy(Query& query) {
  Advance();  // ORDER
  if (!ConsumeKeyword("BY")) return Expected("BY after ORDER");
  while (true) {
    if (query.order_by.size() >= options_.max_order_by_items) {
      return ErrorAt(Peek().pos,
                     absl::StrCat("too many ORDER BY items (limit: ",
                                  options_.max_order_by_items, ")"));
    }
    OrderItem item;
    ASSIGN_OR_RETURN(item.expr, ParseExpr());
    RETURN_IF_ERROR(CheckPosition(*item.expr, "ORDER BY", query.select.size()));
    if (ConsumeKeyword("DESC")) {
      item.descending = true;
    } else {
      ConsumeKeyword("ASC");
    }
    query.order_by.push_back(std::move(item));
    if (!ConsumeSymbol(",")) break;
  }
  last_clause_ = "the ORDER BY list";
  return absl::OkStatus();
}

absl::Status Parser::ParseLimit(Query& query) {
  Advance();  // LIMIT
  const Token& t = Peek();
  int64_t limit = -1;
  if (t.kind != TokenKind::kInteger || !absl::SimpleAtoi(t.text, &limit) ||
      limit > options_.max_limit) {
    return ErrorAt(t.pos, absl::StrCat("LIMIT must be a whole number from 0 "
                                       "to ",
                                       options_.max_limit));
  }
  Advance();
  query.limit = limit;
  last_clause_ = "LIMIT";
  return absl::OkStatus();
}

// ---- expressions, loosest binding first ----

absl::StatusOr<ExprPtr> Parser::ParseExpr() {
  RETURN_IF_ERROR(CheckDepth());
  DepthGuard guard(&depth_);
  return ParseOr();
}

absl::StatusOr<ExprPtr> Parser::ParseOr() {
  ASSIGN_OR_RETURN(ExprPtr lhs, ParseAnd());
  while (AtKeyword("OR")) {
    const SourcePosition pos = Advance().pos;
    ASSIGN_OR_RETURN(ExprPtr rhs, ParseAnd());
    ASSIGN_OR_RETURN(lhs,
                     MakeBinary(Op::kOr, pos, std::move(lhs), std::move(rhs)));
  }
  return lhs;
}

absl::StatusOr<ExprPtr> Parser::ParseAnd() {
  ASSIGN_OR_RETURN(ExprPtr lhs, ParseNot());
  while (AtKeyword("AND")) {
    const SourcePosition pos = Advance().pos;
    ASSIGN_OR_RETURN(ExprPtr rhs, ParseNot());
    ASSIGN_OR_RETURN(lhs,
                     MakeBinary(Op::kAnd, pos, std::move(lhs), std::move(rhs)));
  }
  return lhs;
}

absl::StatusOr<ExprPtr> Parser::ParseNot() {
  if (!AtKeyword("NOT")) return ParsePredicate();
  RETURN_IF_ERROR(CheckDepth());
  DepthGuard guard(&depth_);
  const SourcePosition pos = Advance().pos;
  ASSIGN_OR_RETURN(ExprPtr operand, ParseNot());
  return MakeUnary(Op::kNot, pos, std::move(operand));
}

bool Parser::AtPredicateOperator() const {
  const Token& t = Peek();
  if (ComparisonOp(t) != Op::kNone) return true;
  if (IsKeyword(t, "IS") || IsKeyword(t, "IN") || IsKeyword(t, "BETWEEN") ||
      IsKeyword(t, "LIKE") || IsKeyword(t, "ILIKE")) {
    return true;
  }
  const Token& next = Peek(1);
  return IsKeyword(t, "NOT") &&
         (IsKeyword(next, "IN") || IsKeyword(next, "BETWEEN") ||
          IsKeyword(next, "LIKE") || IsKeyword(next, "ILIKE"));
}

absl::StatusOr<ExprPtr> Parser::ParsePredicate() {
  ASSIGN_OR_RETURN(ExprPtr lhs, ParseAdditive());
  if (!AtPredicateOperator()) return lhs;

  const Token& t = Peek();
  const SourcePosition pos = t.pos;
  ExprPtr result;
  if (const Op op = ComparisonOp(t); op != Op::kNone) {
    Advance();
    ASSIGN_OR_RETURN(ExprPtr rhs, ParseAdditive());
    ASSIGN_OR_RETURN(result,
                     MakeBinary(op, pos, std::move(lhs), std::move(rhs)));
  } else if (IsKeyword(t, "IS")) {
    Advance();
    auto e = std::make_unique<Expr>();
    e->kind = ExprKind::kIsNull;
    e->pos = pos;
    e->negated = ConsumeKeyword("NOT");
    if (!ConsumeKeyword("NULL")) {
      return Expected(e->negated ? "NULL after IS NOT" : "NULL after IS");
    }
    e->operands.push_back(std::move(lhs));
    ASSIGN_OR_RETURN(result, Finish(std::move(e)));
  } else {
    const bool negated = ConsumeKeyword("NOT");
    const Token& op = Peek();
    if (IsKeyword(op, "LIKE") || IsKeyword(op, "ILIKE")) {
      return ErrorAt(op.pos,
                     absl::StrCat(absl::AsciiStrToUpper(op.text),
                                  " is not supported; compare whole values "
                                  "with = or IN"));
    }
    if (IsKeyword(op, "IN")) {
      ASSIGN_OR_RETURN(result, ParseInList(std::move(lhs), pos, negated));
    } else {  // BETWEEN
      Advance();
      ASSIGN_OR_RETURN(ExprPtr low, ParseAdditive());
      if (!ConsumeKeyword("AND")) return Expected("AND in BETWEEN ... AND");
      ASSIGN_OR_RETURN(ExprPtr high, ParseAdditive());
      auto e = std::make_unique<Expr>();
      e->kind = ExprKind::kBetween;
      e->pos = pos;
      e->negated = negated;
      e->operands.push_back(std::move(lhs));
      e->operands.push_back(std::move(low));
      e->operands.push_back(std::move(high));
      ASSIGN_OR_RETURN(result, Finish(std::move(e)));
    }
  }
  if (AtPredicateOperator()) {
    return ErrorAt(Peek().pos,
                   "comparisons cannot be chained; combine them with AND or "
                   "OR, or use parentheses");
  }
  return result;
}

absl::StatusOr<ExprPtr> Parser::ParseInList(ExprPtr lhs,
                                            const SourcePosition& pos,
                                            bool negated) {
  Advance();  // IN
  RETURN_IF_ERROR(ExpectSymbol("(", "'(' after IN"));
  if (AtKeyword("SELECT")) return ErrorAt(Peek().pos, kNoSubqueries);
  if (AtSymbol(")")) return ErrorAt(Peek().pos, "the IN list is empty");
  auto e = std::make_unique<Expr>();
  e->kind = ExprKind::kIn;
  e->pos = pos;
  e->negated = negated;
  e->operands.push_back(std::move(lhs));
  while (true) {
    if (e->operands.size() > options_.max_in_list_items) {
      return ErrorAt(Peek().pos,
                     absl::StrCat("the IN list has too many items (limit: ",
                                  options_.max_in_list_items, ")"));
    }
    const Token& t = Peek();
    ExprPtr item;
    if (IsSymbol(t, "-") && IsNumber(Peek(1))) {
      Advance();
      ASSIGN_OR_RETURN(item, ParseLiteral(/*negative=*/true, t.pos));
    } else if (IsNumber(t) || t.kind == TokenKind::kString ||
               IsKeyword(t, "NULL") || IsKeyword(t, "TRUE") ||
               IsKeyword(t, "FALSE")) {
      ASSIGN_OR_RETURN(item, ParseLiteral(/*negative=*/false, t.pos));
    } else {
      return ErrorAt(t.pos, absl::StrCat("IN lists may only contain literal "
                                         "values, found ",
                                         DescribeToken(t)));
    }
    e->operands.push_back(std::move(item));
    if (ConsumeSymbol(",")) continue;
    RETURN_IF_ERROR(ExpectSymbol(")", "',' or ')' in the IN list"));
    break;
  }
  return Finish(std::move(e));
}

absl::StatusOr<ExprPtr> Parser::ParseAdditive() {
  ASSIGN_OR_RETURN(ExprPtr lhs, ParseMultiplicative());
  while (AtSymbol("+") || AtSymbol("-")) {
    const Token& t = Advance();
    const Op op = t.text == "+" ? Op::kAdd : Op::kSub;
    ASSIGN_OR_RETURN(ExprPtr rhs, ParseMultiplicative());
    ASSIGN_OR_RETURN(lhs,
                     MakeBinary(op, t.pos, std::move(lhs), std::move(rhs)));
  }
  return lhs;
}

absl::StatusOr<ExprPtr> Parser::ParseMultiplicative() {
  ASSIGN_OR_RETURN(ExprPtr lhs, ParseUnary());
  while (AtSymbol("*") || AtSymbol("/")) {
    const Token& t = Advance();
    const Op op = t.text == "*" ? Op::kMul : Op::kDiv;
    ASSIGN_OR_RETURN(ExprPtr rhs, ParseUnary());
    ASSIGN_OR_RETURN(lhs,
                     MakeBinary(op, t.pos, std::move(lhs), std::move(rhs)));
  }
  return lhs;
}

absl::StatusOr<ExprPtr> Parser::ParseUnary() {
  if (!AtSymbol("-")) return ParsePrimary();
  const SourcePosition pos = Advance().pos;
  // A minus directly before a number is part of the literal, so -1 is a
  // constant (BAND(x, -10, 10, 5), IN (-1, 0)) rather than an expression.
  if (IsNumber(Peek())) return ParseLiteral(/*negative=*/true, pos);
  RETURN_IF_ERROR(CheckDepth());
  DepthGuard guard(&depth_);
  ASSIGN_OR_RETURN(ExprPtr operand, ParseUnary());
  return MakeUnary(Op::kNegate, pos, std::move(operand));
}

absl::StatusOr<ExprPtr> Parser::ParseLiteral(bool negative,
                                             const SourcePosition& pos) {
  const Token& t = Advance();
  auto e = std::make_unique<Expr>();
  e->kind = ExprKind::kLiteral;
  e->pos = pos;
  Literal& lit = e->literal;
  if (t.kind == TokenKind::kInteger) {
    lit.kind = LiteralKind::kInteger;
    if (!absl::SimpleAtoi(absl::StrCat(negative ? "-" : "", t.text),
                          &lit.int_value)) {
      return ErrorAt(pos, "integer literal is out of range");
    }
  } else if (t.kind == TokenKind::kDecimal) {
    lit.kind = LiteralKind::kDecimal;
    lit.text = CanonicalDecimal(t.text, negative);
  } else if (t.kind == TokenKind::kString) {
    lit.kind = LiteralKind::kString;
    lit.text = t.text;
  } else if (IsKeyword(t, "NULL")) {
    lit.kind = LiteralKind::kNull;
  } else {  // TRUE or FALSE
    lit.kind = LiteralKind::kBoolean;
    lit.bool_value = IsKeyword(t, "TRUE");
  }
  return Finish(std::move(e));
}

absl::StatusOr<ExprPtr> Parser::ParsePrimary() {
  const Token& t = Peek();
  if (IsNumber(t) || t.kind == TokenKind::kString || IsKeyword(t, "NULL") ||
      IsKeyword(t, "TRUE") || IsKeyword(t, "FALSE")) {
    return ParseLiteral(/*negative=*/false, t.pos);
  }
  if (IsKeyword(t, "CASE")) return ParseCase();
  if (IsKeyword(t, "SELECT")) return ErrorAt(t.pos, kNoSubqueries);
  if (IsSymbol(t, "(")) {
    if (IsKeyword(Peek(1), "SELECT"))
      return ErrorAt(Peek(1).pos, kNoSubqueries);
    Advance();
    ASSIGN_OR_RETURN(ExprPtr inner, ParseExpr());
    RETURN_IF_ERROR(ExpectSymbol(
        ")", absl::StrCat("')' to close the '(' at ", PositionText(t.pos))));
    return inner;
  }
  if (t.kind == TokenKind::kIdentifier && !IsReservedWord(t.text) &&
      IsSymbol(Peek(1), "(")) {
    return ParseCall();
  }
  if (t.kind == TokenKind::kQuotedIdentifier && IsSymbol(Peek(1), "(")) {
    return ErrorAt(t.pos, "function names cannot be quoted");
  }
  if (IsName(t)) return ParseColumn();
  return Expected("an expression");
}

absl::StatusOr<ExprPtr> Parser::ParseColumn() {
  auto e = std::make_unique<Expr>();
  e->kind = ExprKind::kColumn;
  e->pos = Peek().pos;
  ASSIGN_OR_RETURN(e->name, ParseName("a column name"));
  if (ConsumeSymbol(".")) {
    if (AtSymbol("*")) return ErrorAt(Peek().pos, kRowLevel);
    e->qualifier = std::move(e->name);
    ASSIGN_OR_RETURN(e->name, ParseName("a column name after '.'"));
    if (AtSymbol(".")) {
      return ErrorAt(Peek().pos,
                     "a column reference has at most two parts "
                     "(dataset_or_alias.column)");
    }
  }
  return Finish(std::move(e));
}

absl::StatusOr<ExprPtr> Parser::ParseCall() {
  RETURN_IF_ERROR(CheckDepth());
  DepthGuard guard(&depth_);
  const Token& name = Advance();
  Advance();  // '('
  auto e = std::make_unique<Expr>();
  e->kind = ExprKind::kCall;
  e->pos = name.pos;
  e->name = Identifier{absl::AsciiStrToUpper(name.text), false, name.pos};
  if (AtSymbol("*")) {
    Advance();
    e->star = true;
    RETURN_IF_ERROR(ExpectSymbol(")", "')' after '*'"));
  } else if (!ConsumeSymbol(")")) {
    e->distinct = ConsumeKeyword("DISTINCT");
    while (true) {
      if (e->operands.size() >= options_.max_function_args) {
        return ErrorAt(
            Peek().pos,
            absl::StrCat("too many arguments to ", e->name.name,
                         " (limit: ", options_.max_function_args, ")"));
      }
      ASSIGN_OR_RETURN(ExprPtr arg, ParseExpr());
      e->operands.push_back(std::move(arg));
      if (ConsumeSymbol(",")) continue;
      RETURN_IF_ERROR(ExpectSymbol(
          ")", absl::StrCat("',' or ')' in the arguments of ", e->name.name)));
      break;
    }
  }
  if (AtKeyword("OVER")) {
    return ErrorAt(Peek().pos, "window functions (OVER) are not supported");
  }
  if (AtKeyword("FILTER") && IsSymbol(Peek(1), "(")) {
    return ErrorAt(Peek().pos,
                   "FILTER clauses are not supported; put a CASE inside the "
                   "aggregate");
  }
  if (AtKeyword("WITHIN")) {
    return ErrorAt(Peek().pos,
                   "WITHIN GROUP is not supported; use PERCENTILE(column, p) "
                   "or MEDIAN(column)");
  }
  return Finish(std::move(e));
}

absl::StatusOr<ExprPtr> Parser::ParseCase() {
  RETURN_IF_ERROR(CheckDepth());
  DepthGuard guard(&depth_);
  const SourcePosition pos = Advance().pos;
  auto e = std::make_unique<Expr>();
  e->kind = ExprKind::kCase;
  e->pos = pos;
  if (!AtKeyword("WHEN")) {
    const Token& t = Peek();
    if (t.kind == TokenKind::kEnd ||
        (t.kind == TokenKind::kIdentifier && IsReservedWord(t.text))) {
      return Expected("WHEN after CASE");
    }
    return ErrorAt(t.pos,
                   "expected WHEN after CASE; write CASE WHEN x = value THEN "
                   "... (the CASE x WHEN value form is not supported)");
  }
  size_t branches = 0;
  while (ConsumeKeyword("WHEN")) {
    if (++branches > options_.max_case_branches) {
      return ErrorAt(Peek().pos,
                     absl::StrCat("CASE has too many WHEN branches (limit: ",
                                  options_.max_case_branches, ")"));
    }
    ASSIGN_OR_RETURN(ExprPtr condition, ParseExpr());
    if (!ConsumeKeyword("THEN"))
      return Expected("THEN after the WHEN condition");
    ASSIGN_OR_RETURN(ExprPtr result, ParseExpr());
    e->operands.push_back(std::move(condition));
    e->operands.push_back(std::move(result));
  }
  if (ConsumeKeyword("ELSE")) {
    ASSIGN_OR_RETURN(ExprPtr otherwise, ParseExpr());
    e->operands.push_back(std::move(otherwise));
    e->has_else = true;
    if (!ConsumeKeyword("END")) {
      return Expected(
          absl::StrCat("END to close the CASE at ", PositionText(pos)));
    }
  } else if (!ConsumeKeyword("END")) {
    return Expected(
        absl::StrCat("WHEN, ELSE or END in the CASE at ", PositionText(pos)));
  }
  return Finish(std::move(e));
}

}  // namespace

absl::StatusOr<Query> ParseQuery(std::string_view sql,
                                 const ParseOptions& options) {
  if (sql.size() > options.max_query_bytes) {
    return ErrorAt(
        SourcePosition{1, 1},
        absl::StrCat("the query is ", sql.size(), " bytes long; the limit is ",
                     options.max_query_bytes));
  }
  LexerOptions lexer_options;
  lexer_options.max_tokens = options.max_tokens;
  lexer_options.max_identifier_length = options.max_identifier_length;
  ASSIGN_OR_RETURN(std::vector<Token> tokens, Tokenize(sql, lexer_options));
  ASSIGN_OR_RETURN(Query query, Parser(tokens, options).Parse());
  if (options.check_functions) RETURN_IF_ERROR(CheckFunctions(query));
  return query;
}

}  // namespace datalab::sql
