#include "services/query/sql/functions.h"

#include <array>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/query/sql/absl_view.h"
#include "services/query/sql/lexer.h"

namespace datalab::sql {
namespace {

constexpr std::string_view kMinMaxReason =
    "MIN and MAX reveal a single pupil's value and are never released";
constexpr std::string_view kIndividualValuesReason =
    "functions that return individual values are never released";
constexpr std::string_view kWindowReason = "window functions are not supported";

constexpr FunctionClass kAgg = FunctionClass::kAggregate;
constexpr FunctionClass kScalar = FunctionClass::kScalar;
constexpr FunctionClass kNo = FunctionClass::kForbidden;

// name, class, signature, min args, max args, DISTINCT, '*', reason
constexpr std::array<FunctionInfo, 33> kFunctions = {{
    {"COUNT", kAgg, "COUNT(*), COUNT(expression) or COUNT(DISTINCT column)", 1,
     1, true, true, ""},
    {"SUM", kAgg, "SUM(expression)", 1, 1, false, false, ""},
    {"AVG", kAgg, "AVG(expression)", 1, 1, false, false, ""},
    {"STDDEV", kAgg, "STDDEV(expression)", 1, 1, false, false, ""},
    {"MEDIAN", kAgg, "MEDIAN(expression)", 1, 1, false, false, ""},
    {"PERCENTILE", kAgg, "PERCENTILE(expression, p)", 2, 2, false, false, ""},
    {"PROPORTION", kAgg, "PROPORTION(condition)", 1, 1, false, false, ""},
    {"RATE", kAgg, "RATE(numerator, denominator)", 2, 2, false, false, ""},

    {"BAND", kScalar, "BAND(column, width) or BAND(column, low, high, width)",
     2, 4, false, false, ""},
    {"YEAR", kScalar, "YEAR(date)", 1, 1, false, false, ""},
    {"COALESCE", kScalar, "COALESCE(a, b, ...)", 2, 16, false, false, ""},
    {"LOWER", kScalar, "LOWER(text)", 1, 1, false, false, ""},
    {"UPPER", kScalar, "UPPER(text)", 1, 1, false, false, ""},

    {"MIN", kNo, "", 0, 0, false, false, kMinMaxReason},
    {"MAX", kNo, "", 0, 0, false, false, kMinMaxReason},
    {"ANY_VALUE", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"ARG_MAX", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"ARG_MIN", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"ARRAY_AGG", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"FIRST", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"FIRST_VALUE", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"GROUP_CONCAT", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"LAST", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"LAST_VALUE", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"LISTAGG", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"STRING_AGG", kNo, "", 0, 0, false, false, kIndividualValuesReason},
    {"DENSE_RANK", kNo, "", 0, 0, false, false, kWindowReason},
    {"LAG", kNo, "", 0, 0, false, false, kWindowReason},
    {"LEAD", kNo, "", 0, 0, false, false, kWindowReason},
    {"NTILE", kNo, "", 0, 0, false, false, kWindowReason},
    {"RANK", kNo, "", 0, 0, false, false, kWindowReason},
    {"ROW_NUMBER", kNo, "", 0, 0, false, false, kWindowReason},
    {"PERCENT_RANK", kNo, "", 0, 0, false, false, kWindowReason},
}};

// Where an expression sits, for "not allowed in WHERE" messages.
struct Clause {
  std::string_view name;
  bool aggregates_allowed;
  std::string_view hint;
};

constexpr Clause kSelectClause = {"the select list", true, ""};
constexpr Clause kWhereClause = {"WHERE", false, "; use HAVING"};
constexpr Clause kGroupByClause = {"GROUP BY", false, ""};
constexpr Clause kHavingClause = {"HAVING", true, ""};
constexpr Clause kOrderByClause = {"ORDER BY", true, ""};

// The value of a numeric literal; false for anything else.
bool NumericLiteral(const Expr& e, double* value) {
  if (e.kind != ExprKind::kLiteral) return false;
  if (e.literal.kind == LiteralKind::kInteger) {
    *value = static_cast<double>(e.literal.int_value);
    return true;
  }
  if (e.literal.kind == LiteralKind::kDecimal) {
    return absl::SimpleAtod(e.literal.text, value);
  }
  return false;
}

absl::Status CheckPercentile(const Expr& call) {
  double p;
  if (!NumericLiteral(*call.operands[1], &p) || !(p > 0 && p < 100)) {
    return ErrorAt(call.operands[1]->pos,
                   "PERCENTILE's second argument must be a number greater "
                   "than 0 and less than 100 (0 and 100 would be MIN and "
                   "MAX)");
  }
  return absl::OkStatus();
}

absl::Status CheckBand(const Expr& call) {
  const size_t n = call.operands.size();
  if (n == 3) {
    return ErrorAt(call.pos,
                   "wrong number of arguments to BAND; expected BAND(column, "
                   "width) or BAND(column, low, high, width)");
  }
  double width;
  if (!NumericLiteral(*call.operands[n - 1], &width) || !(width > 0)) {
    return ErrorAt(call.operands[n - 1]->pos,
                   "BAND's width must be a number greater than 0");
  }
  if (n == 4) {
    double low, high;
    if (!NumericLiteral(*call.operands[1], &low) ||
        !NumericLiteral(*call.operands[2], &high) || !(low < high)) {
      return ErrorAt(call.operands[1]->pos,
                     "BAND's low and high bounds must be numbers with low "
                     "below high");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCall(const Expr& call, const Clause& clause,
                       bool inside_aggregate) {
  const FunctionInfo* info = LookupFunction(call.name.name);
  if (info == nullptr) {
    std::string_view name = call.name.name;
    return ErrorAt(
        call.pos,
        absl::StrCat("unknown function '",
                     AbslView(name.size() > 32 ? name.substr(0, 32) : name),
                     "'; the aggregates are COUNT, SUM, AVG, "
                     "STDDEV, MEDIAN, PERCENTILE, PROPORTION and "
                     "RATE"));
  }
  if (info->function_class == FunctionClass::kForbidden) {
    return ErrorAt(call.pos, info->reason);
  }
  if (call.star && !info->allows_star) {
    return ErrorAt(call.pos, "'*' is only allowed in COUNT(*)");
  }
  if (call.distinct && !info->allows_distinct) {
    return ErrorAt(call.pos,
                   "DISTINCT is only allowed in COUNT(DISTINCT column)");
  }
  const int args = call.star ? 1 : static_cast<int>(call.operands.size());
  if (args < info->min_args || args > info->max_args) {
    return ErrorAt(call.pos, absl::StrCat("wrong number of arguments to ",
                                          AbslView(info->name), "; expected ",
                                          AbslView(info->signature)));
  }
  if (info->function_class == FunctionClass::kAggregate) {
    if (inside_aggregate) {
      return ErrorAt(call.pos, "aggregate functions cannot be nested");
    }
    if (!clause.aggregates_allowed) {
      return ErrorAt(
          call.pos, absl::StrCat("aggregate functions are not allowed in ",
                                 AbslView(clause.name), AbslView(clause.hint)));
    }
  }
  if (info->name == "PERCENTILE") return CheckPercentile(call);
  if (info->name == "BAND") return CheckBand(call);
  return absl::OkStatus();
}

absl::Status CheckExpr(const Expr& e, const Clause& clause,
                       bool inside_aggregate) {
  if (e.kind == ExprKind::kCall) {
    RETURN_IF_ERROR(CheckCall(e, clause, inside_aggregate));
    inside_aggregate = inside_aggregate || IsAggregateCall(e);
  }
  for (const ExprPtr& operand : e.operands) {
    RETURN_IF_ERROR(CheckExpr(*operand, clause, inside_aggregate));
  }
  return absl::OkStatus();
}

}  // namespace

const FunctionInfo* LookupFunction(std::string_view name) {
  for (const FunctionInfo& info : kFunctions) {
    if (absl::EqualsIgnoreCase(AbslView(info.name), AbslView(name)))
      return &info;
  }
  return nullptr;
}

FunctionClass ClassifyFunction(std::string_view name) {
  const FunctionInfo* info = LookupFunction(name);
  return info == nullptr ? FunctionClass::kUnknown : info->function_class;
}

bool IsAggregateCall(const Expr& expr) {
  return expr.kind == ExprKind::kCall &&
         ClassifyFunction(expr.name.name) == FunctionClass::kAggregate;
}

bool ContainsAggregate(const Expr& expr) {
  if (IsAggregateCall(expr)) return true;
  for (const ExprPtr& operand : expr.operands) {
    if (ContainsAggregate(*operand)) return true;
  }
  return false;
}

absl::Status CheckFunctions(const Query& query) {
  bool any_aggregate = false;
  for (const SelectItem& item : query.select) {
    RETURN_IF_ERROR(CheckExpr(*item.expr, kSelectClause, false));
    any_aggregate = any_aggregate || ContainsAggregate(*item.expr);
  }
  if (query.where)
    RETURN_IF_ERROR(CheckExpr(*query.where, kWhereClause, false));
  for (const ExprPtr& item : query.group_by) {
    RETURN_IF_ERROR(CheckExpr(*item, kGroupByClause, false));
  }
  if (query.having) {
    RETURN_IF_ERROR(CheckExpr(*query.having, kHavingClause, false));
  }
  for (const OrderItem& item : query.order_by) {
    RETURN_IF_ERROR(CheckExpr(*item.expr, kOrderByClause, false));
  }
  if (!any_aggregate) {
    return ErrorAt(query.pos,
                   "the select list has no aggregate function; row-level "
                   "output is not available, select aggregates such as "
                   "COUNT(*)");
  }
  return absl::OkStatus();
}

}  // namespace datalab::sql
