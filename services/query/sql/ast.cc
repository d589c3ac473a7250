#include "services/query/sql/ast.h"

namespace datalab::sql {
namespace {

bool SameIdentifier(const Identifier& a, const Identifier& b) {
  return a.name == b.name && a.quoted == b.quoted;
}

bool SameOptionalIdentifier(const std::optional<Identifier>& a,
                            const std::optional<Identifier>& b) {
  if (a.has_value() != b.has_value()) return false;
  return !a.has_value() || SameIdentifier(*a, *b);
}

bool SameLiteral(const Literal& a, const Literal& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case LiteralKind::kNull:
      return true;
    case LiteralKind::kBoolean:
      return a.bool_value == b.bool_value;
    case LiteralKind::kInteger:
      return a.int_value == b.int_value;
    case LiteralKind::kDecimal:
    case LiteralKind::kString:
      return a.text == b.text;
  }
  return false;
}

// Null-tolerant comparison for optional clauses (WHERE, HAVING).
bool SameExprPtr(const ExprPtr& a, const ExprPtr& b) {
  if ((a == nullptr) != (b == nullptr)) return false;
  return a == nullptr || StructurallyEqual(*a, *b);
}

bool SameTableRef(const TableRef& a, const TableRef& b) {
  return SameOptionalIdentifier(a.qualifier, b.qualifier) &&
         SameIdentifier(a.name, b.name) && a.version == b.version &&
         SameOptionalIdentifier(a.alias, b.alias);
}

}  // namespace

bool StructurallyEqual(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.op != b.op || a.negated != b.negated ||
      a.distinct != b.distinct || a.star != b.star ||
      a.has_else != b.has_else || a.operands.size() != b.operands.size()) {
    return false;
  }
  switch (a.kind) {
    case ExprKind::kLiteral:
      if (!SameLiteral(a.literal, b.literal)) return false;
      break;
    case ExprKind::kColumn:
      if (!SameOptionalIdentifier(a.qualifier, b.qualifier) ||
          !SameIdentifier(a.name, b.name)) {
        return false;
      }
      break;
    case ExprKind::kCall:
      if (a.name.name != b.name.name) return false;
      break;
    default:
      break;
  }
  for (size_t i = 0; i < a.operands.size(); ++i) {
    if (!SameExprPtr(a.operands[i], b.operands[i])) return false;
  }
  return true;
}

bool StructurallyEqual(const Query& a, const Query& b) {
  if (a.select.size() != b.select.size() || a.joins.size() != b.joins.size() ||
      a.group_by.size() != b.group_by.size() ||
      a.order_by.size() != b.order_by.size() || a.limit != b.limit) {
    return false;
  }
  for (size_t i = 0; i < a.select.size(); ++i) {
    if (!SameExprPtr(a.select[i].expr, b.select[i].expr) ||
        !SameOptionalIdentifier(a.select[i].alias, b.select[i].alias)) {
      return false;
    }
  }
  if (!SameTableRef(a.from, b.from)) return false;
  for (size_t i = 0; i < a.joins.size(); ++i) {
    const Join& ja = a.joins[i];
    const Join& jb = b.joins[i];
    if (!SameTableRef(ja.table, jb.table) ||
        ja.using_columns.size() != jb.using_columns.size()) {
      return false;
    }
    for (size_t c = 0; c < ja.using_columns.size(); ++c) {
      if (!SameIdentifier(ja.using_columns[c], jb.using_columns[c])) {
        return false;
      }
    }
  }
  if (!SameExprPtr(a.where, b.where)) return false;
  for (size_t i = 0; i < a.group_by.size(); ++i) {
    if (!SameExprPtr(a.group_by[i], b.group_by[i])) return false;
  }
  if (!SameExprPtr(a.having, b.having)) return false;
  for (size_t i = 0; i < a.order_by.size(); ++i) {
    if (!SameExprPtr(a.order_by[i].expr, b.order_by[i].expr) ||
        a.order_by[i].descending != b.order_by[i].descending) {
      return false;
    }
  }
  return true;
}

const char* OpSymbol(Op op) {
  switch (op) {
    case Op::kNone:
      return "";
    case Op::kNot:
      return "NOT";
    case Op::kNegate:
      return "-";
    case Op::kOr:
      return "OR";
    case Op::kAnd:
      return "AND";
    case Op::kEq:
      return "=";
    case Op::kNe:
      return "<>";
    case Op::kLt:
      return "<";
    case Op::kLe:
      return "<=";
    case Op::kGt:
      return ">";
    case Op::kGe:
      return ">=";
    case Op::kAdd:
      return "+";
    case Op::kSub:
      return "-";
    case Op::kMul:
      return "*";
    case Op::kDiv:
      return "/";
  }
  return "";
}

}  // namespace datalab::sql
