#include "services/query/engine/plan.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace datalab::engine {
namespace {

std::string LiteralString(const Literal& l) {
  if (const auto* i = std::get_if<int64_t>(&l)) return absl::StrCat(*i);
  if (const auto* d = std::get_if<double>(&l)) return absl::StrCat(*d, "d");
  return absl::StrCat("'", std::get<std::string>(l), "'");
}

ExprPtr Make(Expr e) { return std::make_shared<const Expr>(std::move(e)); }

const char* CompareName(CompareOp op) {
  switch (op) {
    case CompareOp::kEq: return "=";
    case CompareOp::kNe: return "<>";
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
  }
  return "?";
}

const char* ArithName(ArithOp op) {
  switch (op) {
    case ArithOp::kAdd: return "+";
    case ArithOp::kSub: return "-";
    case ArithOp::kMul: return "*";
    case ArithOp::kDiv: return "/";
  }
  return "?";
}

}  // namespace

std::string Expr::ToString() const {
  auto child = [&](size_t i) {
    return i < children.size() && children[i] ? children[i]->ToString() : std::string("?");
  };
  switch (kind) {
    case Kind::kColumn:
      return absl::StrCat("$", column.input, ".", column.column);
    case Kind::kLiteral:
      return LiteralString(literal);
    case Kind::kCompare:
      return absl::StrCat("(", child(0), " ", CompareName(compare), " ", child(1), ")");
    case Kind::kIn: {
      std::vector<std::string> items;
      for (const Literal& l : in_set) items.push_back(LiteralString(l));
      return absl::StrCat("(", child(0), " IN (", absl::StrJoin(items, ","), "))");
    }
    case Kind::kBetween:
      return absl::StrCat("(", child(0), " BETWEEN ", child(1), " AND ", child(2), ")");
    case Kind::kIsNull:
      return absl::StrCat("(", child(0), " IS NULL)");
    case Kind::kIsNotNull:
      return absl::StrCat("(", child(0), " IS NOT NULL)");
    case Kind::kAnd:
    case Kind::kOr: {
      std::vector<std::string> items;
      for (size_t i = 0; i < children.size(); ++i) items.push_back(child(i));
      return absl::StrCat("(", absl::StrJoin(items, kind == Kind::kAnd ? " AND " : " OR "), ")");
    }
    case Kind::kNot:
      return absl::StrCat("(NOT ", child(0), ")");
    case Kind::kArith:
      return absl::StrCat("(", child(0), " ", ArithName(arith), " ", child(1), ")");
  }
  return "?";
}

ExprPtr Col(int input, std::string column) {
  Expr e;
  e.kind = Expr::Kind::kColumn;
  e.column = ColumnRef{input, std::move(column)};
  return Make(std::move(e));
}
ExprPtr Lit(int64_t v) {
  Expr e;
  e.literal = v;
  return Make(std::move(e));
}
ExprPtr Lit(double v) {
  Expr e;
  e.literal = v;
  return Make(std::move(e));
}
ExprPtr Lit(std::string v) {
  Expr e;
  e.literal = std::move(v);
  return Make(std::move(e));
}
ExprPtr Cmp(CompareOp op, ExprPtr a, ExprPtr b) {
  Expr e;
  e.kind = Expr::Kind::kCompare;
  e.compare = op;
  e.children = {std::move(a), std::move(b)};
  return Make(std::move(e));
}
ExprPtr In(ExprPtr a, std::vector<Literal> set) {
  Expr e;
  e.kind = Expr::Kind::kIn;
  e.in_set = std::move(set);
  e.children = {std::move(a)};
  return Make(std::move(e));
}
ExprPtr Between(ExprPtr a, ExprPtr lo, ExprPtr hi) {
  Expr e;
  e.kind = Expr::Kind::kBetween;
  e.children = {std::move(a), std::move(lo), std::move(hi)};
  return Make(std::move(e));
}
ExprPtr IsNull(ExprPtr a) {
  Expr e;
  e.kind = Expr::Kind::kIsNull;
  e.children = {std::move(a)};
  return Make(std::move(e));
}
ExprPtr IsNotNull(ExprPtr a) {
  Expr e;
  e.kind = Expr::Kind::kIsNotNull;
  e.children = {std::move(a)};
  return Make(std::move(e));
}
ExprPtr And(std::vector<ExprPtr> terms) {
  Expr e;
  e.kind = Expr::Kind::kAnd;
  e.children = std::move(terms);
  return Make(std::move(e));
}
ExprPtr Or(std::vector<ExprPtr> terms) {
  Expr e;
  e.kind = Expr::Kind::kOr;
  e.children = std::move(terms);
  return Make(std::move(e));
}
ExprPtr Not(ExprPtr a) {
  Expr e;
  e.kind = Expr::Kind::kNot;
  e.children = {std::move(a)};
  return Make(std::move(e));
}
ExprPtr Arith(ArithOp op, ExprPtr a, ExprPtr b) {
  Expr e;
  e.kind = Expr::Kind::kArith;
  e.arith = op;
  e.children = {std::move(a), std::move(b)};
  return Make(std::move(e));
}

GroupKey KeyColumn(std::string name, int input, std::string column) {
  GroupKey k;
  k.kind = GroupKey::Kind::kColumn;
  k.name = std::move(name);
  k.column = ColumnRef{input, std::move(column)};
  return k;
}
GroupKey KeyBand(std::string name, ExprPtr value, double lo, double hi, double width) {
  GroupKey k;
  k.kind = GroupKey::Kind::kBand;
  k.name = std::move(name);
  k.value = std::move(value);
  k.lo = lo;
  k.hi = hi;
  k.width = width;
  return k;
}
GroupKey KeyCase(std::string name, std::vector<std::pair<ExprPtr, std::string>> when,
                 std::string else_label) {
  GroupKey k;
  k.kind = GroupKey::Kind::kCase;
  k.name = std::move(name);
  k.when = std::move(when);
  k.has_else = true;
  k.else_label = std::move(else_label);
  return k;
}

}  // namespace datalab::engine
