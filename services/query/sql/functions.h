// The function table: which function names the lab knows, what each is,
// and how it may be called. The parser accepts any name(...) syntactically;
// CheckFunctions() applies this table to a parsed query (ParseQuery runs it
// unless ParseOptions::check_functions is false).
//
//   aggregate  COUNT SUM AVG STDDEV MEDIAN PERCENTILE(col, p) PROPORTION(cond)
//              RATE(numerator, denominator)
//   scalar     BAND(col, width) | BAND(col, low, high, width), YEAR(date),
//              COALESCE(a, b, ...), LOWER(text), UPPER(text)
//   forbidden  MIN, MAX and other functions that return one individual's
//              value, each with the reason it is never released
//
// Everything here is syntactic: types and names are the binder's business.
// The table is immutable static data; all functions are thread-safe.
#ifndef DATALAB_SERVICES_QUERY_SQL_FUNCTIONS_H_
#define DATALAB_SERVICES_QUERY_SQL_FUNCTIONS_H_

#include <string_view>

#include "absl/status/status.h"
#include "services/query/sql/ast.h"

namespace datalab::sql {

enum class FunctionClass { kUnknown, kAggregate, kScalar, kForbidden };

struct FunctionInfo {
  std::string_view name;  // upper case
  FunctionClass function_class;
  std::string_view signature;  // for messages, e.g. "PERCENTILE(column, p)"
  int min_args;
  int max_args;
  bool allows_distinct;     // COUNT(DISTINCT x)
  bool allows_star;         // COUNT(*)
  std::string_view reason;  // kForbidden: why it is never released
};

// Case-insensitive. nullptr for names the lab does not know.
const FunctionInfo* LookupFunction(std::string_view name);
FunctionClass ClassifyFunction(std::string_view name);

// True for a kCall node naming an aggregate.
bool IsAggregateCall(const Expr& expr);
// True when `expr` or any sub-expression is an aggregate call.
bool ContainsAggregate(const Expr& expr);

// Checks every function call in the query against the table, returning
// INVALID_ARGUMENT "line L, column C: <reason>" at the offending call for:
// unknown or forbidden functions, wrong argument counts, DISTINCT or '*'
// where not allowed, PERCENTILE's p not a number strictly between 0 and 100,
// BAND's bounds not numbers with low < high and width > 0, aggregates nested
// in aggregates or used in WHERE or GROUP BY, and a select list with
// no aggregate at all (that would be row-level output).
absl::Status CheckFunctions(const Query& query);

}  // namespace datalab::sql

#endif  // DATALAB_SERVICES_QUERY_SQL_FUNCTIONS_H_
