// Abstract syntax tree of the lab's SQL subset (see parser.h for the
// grammar). The parser produces it; the binder resolves names against
// datasets and columns; printer.h turns it back into canonical SQL.
//
// Contract:
//  - Plain value types. A Query owns its whole tree through std::unique_ptr;
//    nodes are movable, not copyable. No shared state: a tree may be read
//    from several threads at once, written from one.
//  - Every node carries the SourcePosition (1-based line and column, columns
//    counted in characters) of the token that defines it, so later stages
//    can report "line 3, column 9: column 'fsm' is not in dataset census".
//  - Trees built by the parser are at most ParseOptions::max_expression_height
//    deep, so recursive walks over them are safe.
#ifndef DATALAB_SERVICES_QUERY_SQL_AST_H_
#define DATALAB_SERVICES_QUERY_SQL_AST_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace datalab::sql {

struct SourcePosition {
  int line = 1;    // 1-based
  int column = 1;  // 1-based, in characters (UTF-8 code points)

  friend bool operator==(const SourcePosition&,
                         const SourcePosition&) = default;
};

// A dataset, alias or column name. Bare names keep their spelling; whether
// they match case-insensitively is the binder's decision, which is why the
// `quoted` flag ("Name") is kept.
struct Identifier {
  std::string name;
  bool quoted = false;
  SourcePosition pos;
};

enum class LiteralKind { kNull, kBoolean, kInteger, kDecimal, kString };

struct Literal {
  LiteralKind kind = LiteralKind::kNull;
  bool bool_value = false;  // kBoolean
  int64_t int_value = 0;    // kInteger (a leading minus sign is folded in)
  // kDecimal: canonical decimal text, e.g. "-0.5", "12.0" (exact; the binder
  //           converts it to the column's type).
  // kString:  the unescaped value.
  std::string text;
};

enum class ExprKind {
  kLiteral,  // literal
  kColumn,   // [qualifier '.'] name
  kCall,     // name '(' [DISTINCT] operands... ')' or COUNT(*) (star)
  kUnary,    // op operands[0]                    (kNot, kNegate)
  kBinary,   // operands[0] op operands[1]
  kIn,       // operands[0] [NOT] IN (operands[1..]), each a kLiteral
  kBetween,  // operands[0] [NOT] BETWEEN operands[1] AND operands[2]
  kIsNull,   // operands[0] IS [NOT] NULL
  kCase,     // CASE WHEN operands[0] THEN operands[1] [WHEN ...]
             //      [ELSE operands.back() when has_else] END
};

enum class Op {
  kNone,
  // unary
  kNot,
  kNegate,
  // binary, loosest first
  kOr,
  kAnd,
  kEq,
  kNe,  // written <> or !=, printed <>
  kLt,
  kLe,
  kGt,
  kGe,
  kAdd,
  kSub,
  kMul,
  kDiv,
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

// One node type with a kind tag rather than a class hierarchy: the subset
// is small, and a single struct keeps walks, printing and comparison plain.
// Fields not listed for a kind are left at their defaults.
struct Expr {
  ExprKind kind = ExprKind::kLiteral;
  // The defining token: the literal, column, function name, CASE keyword,
  // or the operator (for kUnary, kBinary; IN, BETWEEN, IS or the NOT before
  // IN / BETWEEN).
  SourcePosition pos;

  Literal literal;                      // kLiteral
  std::optional<Identifier> qualifier;  // kColumn: alias or dataset
  Identifier name;        // kColumn: column; kCall: function, upper-cased
  Op op = Op::kNone;      // kUnary, kBinary
  bool negated = false;   // kIn, kBetween, kIsNull
  bool distinct = false;  // kCall: COUNT(DISTINCT x)
  bool star = false;      // kCall: COUNT(*)
  bool has_else = false;  // kCase
  std::vector<ExprPtr> operands;

  int height = 1;  // 1 + the tallest operand's height; set by the parser
};

struct SelectItem {
  ExprPtr expr;
  std::optional<Identifier> alias;
};

// dataset [ '.' dataset ] [ '@' version ] [ [AS] alias ]
struct TableRef {
  SourcePosition pos;
  std::optional<Identifier> qualifier;  // set for "namespace.dataset"
  Identifier name;
  std::optional<int64_t> version;  // pinned version (census@3), >= 1
  std::optional<Identifier> alias;
};

// [INNER] JOIN table USING (columns...)
struct Join {
  SourcePosition pos;  // the JOIN (or INNER) keyword
  TableRef table;
  std::vector<Identifier> using_columns;  // never empty
};

struct OrderItem {
  ExprPtr expr;  // a bare integer literal is a 1-based select-list position
  bool descending = false;
};

struct Query {
  SourcePosition pos;              // the SELECT keyword
  std::vector<SelectItem> select;  // never empty
  TableRef from;
  std::vector<Join> joins;
  ExprPtr where;                  // null when absent
  std::vector<ExprPtr> group_by;  // a bare integer literal is a position
  ExprPtr having;                 // null when absent
  std::vector<OrderItem> order_by;
  std::optional<int64_t> limit;
};

// Structural equality that ignores source positions and node heights: two
// trees are equal when they print to the same canonical SQL. Used by the
// round-trip property parse(ToSql(parse(q))) == parse(q).
bool StructurallyEqual(const Expr& a, const Expr& b);
bool StructurallyEqual(const Query& a, const Query& b);

// Names for messages and debugging, e.g. "<=" for Op::kLe, "AND" for kAnd.
const char* OpSymbol(Op op);

}  // namespace datalab::sql

#endif  // DATALAB_SERVICES_QUERY_SQL_AST_H_
