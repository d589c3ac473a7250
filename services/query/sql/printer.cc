#include "services/query/sql/printer.h"

#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "services/query/sql/absl_view.h"
#include "services/query/sql/lexer.h"

namespace datalab::sql {
namespace {

// Binding strength, loosest first; mirrors the parser's grammar levels.
enum Precedence : int {
  kOrLevel = 1,
  kAndLevel = 2,
  kNotLevel = 3,
  kPredicateLevel = 4,  // comparisons, IN, BETWEEN, IS NULL
  kAdditiveLevel = 5,
  kMultiplicativeLevel = 6,
  kUnaryLevel = 7,
  kPrimaryLevel = 8,
};

int PrecedenceOf(const Expr& e) {
  switch (e.kind) {
    case ExprKind::kUnary:
      return e.op == Op::kNot ? kNotLevel : kUnaryLevel;
    case ExprKind::kBinary:
      switch (e.op) {
        case Op::kOr:
          return kOrLevel;
        case Op::kAnd:
          return kAndLevel;
        case Op::kAdd:
        case Op::kSub:
          return kAdditiveLevel;
        case Op::kMul:
        case Op::kDiv:
          return kMultiplicativeLevel;
        default:
          return kPredicateLevel;
      }
    case ExprKind::kIn:
    case ExprKind::kBetween:
    case ExprKind::kIsNull:
      return kPredicateLevel;
    default:
      return kPrimaryLevel;
  }
}

bool IsPlainName(std::string_view name) {
  if (name.empty()) return false;
  const auto start = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
  };
  if (!start(name[0])) return false;
  for (char c : name) {
    if (!start(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string QuoteString(std::string_view value) {
  return absl::StrCat("'", absl::StrReplaceAll(AbslView(value), {{"'", "''"}}),
                      "'");
}

std::string LiteralSql(const Literal& lit) {
  switch (lit.kind) {
    case LiteralKind::kNull:
      return "NULL";
    case LiteralKind::kBoolean:
      return lit.bool_value ? "TRUE" : "FALSE";
    case LiteralKind::kInteger:
      return absl::StrCat(lit.int_value);
    case LiteralKind::kDecimal:
      return lit.text;
    case LiteralKind::kString:
      return QuoteString(lit.text);
  }
  return "NULL";
}

void AppendExpr(const Expr& e, std::string* out);

// Appends `e`, parenthesised when it binds more loosely than `min_level`.
void AppendOperand(const Expr& e, int min_level, std::string* out) {
  if (PrecedenceOf(e) < min_level) {
    out->push_back('(');
    AppendExpr(e, out);
    out->push_back(')');
  } else {
    AppendExpr(e, out);
  }
}

void AppendList(const std::vector<ExprPtr>& items, size_t from,
                std::string* out) {
  for (size_t i = from; i < items.size(); ++i) {
    if (i > from) out->append(", ");
    AppendExpr(*items[i], out);
  }
}

void AppendExpr(const Expr& e, std::string* out) {
  switch (e.kind) {
    case ExprKind::kLiteral:
      out->append(LiteralSql(e.literal));
      return;
    case ExprKind::kColumn:
      if (e.qualifier) absl::StrAppend(out, ToSql(*e.qualifier), ".");
      out->append(ToSql(e.name));
      return;
    case ExprKind::kCall:
      absl::StrAppend(out, e.name.name, "(");
      if (e.star) {
        out->push_back('*');
      } else {
        if (e.distinct) out->append("DISTINCT ");
        AppendList(e.operands, 0, out);
      }
      out->push_back(')');
      return;
    case ExprKind::kUnary: {
      const Expr& operand = *e.operands[0];
      if (e.op == Op::kNot) {
        out->append("NOT ");
        AppendOperand(operand, kNotLevel, out);
        return;
      }
      out->push_back('-');
      // A literal or another minus right after '-' would re-parse as a
      // negative literal or start a "--" comment, so bracket it.
      if (operand.kind == ExprKind::kLiteral ||
          operand.kind == ExprKind::kUnary) {
        out->push_back('(');
        AppendExpr(operand, out);
        out->push_back(')');
      } else {
        AppendOperand(operand, kUnaryLevel, out);
      }
      return;
    }
    case ExprKind::kBinary: {
      const int level = PrecedenceOf(e);
      // Left-associative: the right operand needs a tighter binding.
      // Comparisons do not chain, so both sides must be sums or tighter.
      const int lhs_level = level == kPredicateLevel ? kAdditiveLevel : level;
      const int rhs_level =
          level == kPredicateLevel ? kAdditiveLevel : level + 1;
      AppendOperand(*e.operands[0], lhs_level, out);
      absl::StrAppend(out, " ", OpSymbol(e.op), " ");
      AppendOperand(*e.operands[1], rhs_level, out);
      return;
    }
    case ExprKind::kIn:
      AppendOperand(*e.operands[0], kAdditiveLevel, out);
      out->append(e.negated ? " NOT IN (" : " IN (");
      AppendList(e.operands, 1, out);
      out->push_back(')');
      return;
    case ExprKind::kBetween:
      AppendOperand(*e.operands[0], kAdditiveLevel, out);
      out->append(e.negated ? " NOT BETWEEN " : " BETWEEN ");
      AppendOperand(*e.operands[1], kAdditiveLevel, out);
      out->append(" AND ");
      AppendOperand(*e.operands[2], kAdditiveLevel, out);
      return;
    case ExprKind::kIsNull:
      AppendOperand(*e.operands[0], kAdditiveLevel, out);
      out->append(e.negated ? " IS NOT NULL" : " IS NULL");
      return;
    case ExprKind::kCase: {
      out->append("CASE");
      const size_t pairs = (e.operands.size() - (e.has_else ? 1 : 0)) / 2;
      for (size_t i = 0; i < pairs; ++i) {
        out->append(" WHEN ");
        AppendExpr(*e.operands[2 * i], out);
        out->append(" THEN ");
        AppendExpr(*e.operands[2 * i + 1], out);
      }
      if (e.has_else) {
        out->append(" ELSE ");
        AppendExpr(*e.operands.back(), out);
      }
      out->append(" END");
      return;
    }
  }
}

std::string TableRefSql(const TableRef& ref) {
  std::string out;
  if (ref.qualifier) absl::StrAppend(&out, ToSql(*ref.qualifier), ".");
  out.append(ToSql(ref.name));
  if (ref.version) absl::StrAppend(&out, "@", *ref.version);
  if (ref.alias) absl::StrAppend(&out, " AS ", ToSql(*ref.alias));
  return out;
}

}  // namespace

std::string ToSql(const Identifier& identifier) {
  if (!identifier.quoted && IsPlainName(identifier.name) &&
      !IsReservedWord(identifier.name)) {
    return identifier.name;
  }
  return absl::StrCat(
      "\"", absl::StrReplaceAll(identifier.name, {{"\"", "\"\""}}), "\"");
}

std::string ToSql(const Expr& expr) {
  std::string out;
  AppendExpr(expr, &out);
  return out;
}

std::string ToSql(const Query& query) {
  std::string out = "SELECT ";
  for (size_t i = 0; i < query.select.size(); ++i) {
    if (i > 0) out.append(", ");
    AppendExpr(*query.select[i].expr, &out);
    if (query.select[i].alias) {
      absl::StrAppend(&out, " AS ", ToSql(*query.select[i].alias));
    }
  }
  absl::StrAppend(&out, " FROM ", TableRefSql(query.from));
  for (const Join& join : query.joins) {
    absl::StrAppend(&out, " JOIN ", TableRefSql(join.table), " USING (");
    for (size_t i = 0; i < join.using_columns.size(); ++i) {
      if (i > 0) out.append(", ");
      out.append(ToSql(join.using_columns[i]));
    }
    out.push_back(')');
  }
  if (query.where) {
    out.append(" WHERE ");
    AppendExpr(*query.where, &out);
  }
  if (!query.group_by.empty()) {
    out.append(" GROUP BY ");
    AppendList(query.group_by, 0, &out);
  }
  if (query.having) {
    out.append(" HAVING ");
    AppendExpr(*query.having, &out);
  }
  if (!query.order_by.empty()) {
    out.append(" ORDER BY ");
    for (size_t i = 0; i < query.order_by.size(); ++i) {
      if (i > 0) out.append(", ");
      AppendExpr(*query.order_by[i].expr, &out);
      if (query.order_by[i].descending) out.append(" DESC");
    }
  }
  if (query.limit) absl::StrAppend(&out, " LIMIT ", *query.limit);
  return out;
}

}  // namespace datalab::sql
