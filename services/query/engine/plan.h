// Bound query plans for the execution engine.
//
// The SQL binder (and the structured protobuf request) produce a Plan: a
// value type naming columns of the Execute() inputs by (input index, column
// name). Execute validates the plan against the actual tables and reports
// INVALID_ARGUMENT naming the part of the plan (filter, group key n,
// aggregate n, input n) that is wrong.
//
// Semantics:
//  - Input 0 is the driving table. Every input i >= 1 is inner-equi-joined
//    to the inputs before it on subject (its subject_column equals input 0's)
//    plus its extra_keys. Many-to-many joins yield every matching pair.
//  - Expressions use SQL three-valued logic: a comparison or arithmetic with
//    a missing operand is missing/UNKNOWN, and the filter keeps only TRUE
//    rows. Division by zero and NaN results are missing. Numbers are
//    evaluated as double (exact for integers up to 2^53).
//  - CODE columns compare to string literals only (= <> < <= > >= IN
//    BETWEEN, byte-wise ordering); SUBJECT columns only in IS [NOT] NULL.
//
// Thread safety: plain values; share const Plans freely.
#ifndef DATALAB_SERVICES_QUERY_ENGINE_PLAN_H_
#define DATALAB_SERVICES_QUERY_ENGINE_PLAN_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace datalab::engine {

struct ColumnRef {
  int input = 0;  // index into Execute()'s tables
  std::string column;
};

enum class CompareOp { kEq, kNe, kLt, kLe, kGt, kGe };
enum class ArithOp { kAdd, kSub, kMul, kDiv };

using Literal = std::variant<int64_t, double, std::string>;

struct Expr;
using ExprPtr = std::shared_ptr<const Expr>;

struct Expr {
  enum class Kind {
    kColumn,     // column
    kLiteral,    // literal
    kCompare,    // children[0] op children[1]
    kIn,         // children[0] IN (in_set)
    kBetween,    // children[0] BETWEEN children[1] AND children[2]
    kIsNull,     // children[0] IS NULL
    kIsNotNull,  // children[0] IS NOT NULL
    kAnd,        // children[0] AND children[1] AND ...
    kOr,
    kNot,        // NOT children[0]
    kArith,      // children[0] arith children[1]
  };
  Kind kind = Kind::kLiteral;
  ColumnRef column;
  Literal literal;
  CompareOp compare = CompareOp::kEq;
  ArithOp arith = ArithOp::kAdd;
  std::vector<Literal> in_set;
  std::vector<ExprPtr> children;

  // Canonical text, used to share work between identical expressions and in
  // error messages (contains literals from the query, never data).
  std::string ToString() const;
};

// Builders.
ExprPtr Col(int input, std::string column);
ExprPtr Lit(int64_t v);
ExprPtr Lit(double v);
ExprPtr Lit(std::string v);
inline ExprPtr Lit(const char* v) { return Lit(std::string(v)); }
ExprPtr Cmp(CompareOp op, ExprPtr a, ExprPtr b);
inline ExprPtr Eq(ExprPtr a, ExprPtr b) { return Cmp(CompareOp::kEq, std::move(a), std::move(b)); }
inline ExprPtr Ne(ExprPtr a, ExprPtr b) { return Cmp(CompareOp::kNe, std::move(a), std::move(b)); }
inline ExprPtr Lt(ExprPtr a, ExprPtr b) { return Cmp(CompareOp::kLt, std::move(a), std::move(b)); }
inline ExprPtr Le(ExprPtr a, ExprPtr b) { return Cmp(CompareOp::kLe, std::move(a), std::move(b)); }
inline ExprPtr Gt(ExprPtr a, ExprPtr b) { return Cmp(CompareOp::kGt, std::move(a), std::move(b)); }
inline ExprPtr Ge(ExprPtr a, ExprPtr b) { return Cmp(CompareOp::kGe, std::move(a), std::move(b)); }
ExprPtr In(ExprPtr a, std::vector<Literal> set);
ExprPtr Between(ExprPtr a, ExprPtr lo, ExprPtr hi);
ExprPtr IsNull(ExprPtr a);
ExprPtr IsNotNull(ExprPtr a);
ExprPtr And(std::vector<ExprPtr> terms);
ExprPtr Or(std::vector<ExprPtr> terms);
ExprPtr Not(ExprPtr a);
ExprPtr Arith(ArithOp op, ExprPtr a, ExprPtr b);

struct JoinKey {
  ColumnRef left;            // a column of an earlier input
  std::string right_column;  // a column of this input; same type family
};

struct InputSpec {
  // SUBJECT column identifying the pupil of each row.
  std::string subject_column;
  // Inputs >= 1: equi-join keys besides the subject (e.g. term code).
  std::vector<JoinKey> extra_keys;
};

// Output grouping key.
struct GroupKey {
  enum class Kind {
    kColumn,  // CODE or INT64 column; missing values form their own group
    kBand,    // numeric expr banded: "<lo", "a-b" for [a,b), ">=hi"
    kCase,    // first WHEN that is TRUE gives the label, else else_label
  };
  Kind kind = Kind::kColumn;
  std::string name;  // output name
  ColumnRef column;  // kColumn
  ExprPtr value;     // kBand
  double lo = 0, hi = 0, width = 1;
  std::vector<std::pair<ExprPtr, std::string>> when;  // kCase
  bool has_else = false;  // without ELSE unmatched rows group as missing
  std::string else_label;
};

GroupKey KeyColumn(std::string name, int input, std::string column);
GroupKey KeyBand(std::string name, ExprPtr value, double lo, double hi, double width);
GroupKey KeyCase(std::string name, std::vector<std::pair<ExprPtr, std::string>> when,
                 std::string else_label);

struct Aggregate {
  enum class Kind {
    kCountStar,        // rows
    kCountDistinctSubject,  // distinct subjects (input 0's subject column)
    kCount,            // rows with arg present
    kSum,
    kAvg,
    kStddev,           // sample standard deviation (n - 1)
    kMedian,           // = kPercentile with p = 0.5
    kPercentile,       // continuous, linear interpolation (percentile_cont)
    kProportion,       // see below
    kRate,             // SUM(arg) / SUM(arg2) over rows where both present
  };
  Kind kind = Kind::kCountStar;
  std::string name;  // output name
  ExprPtr arg;       // value expression, or the condition for kProportion
  ExprPtr arg2;      // kRate denominator
  double p = 0.5;    // kPercentile, in [0, 1]
  // kProportion: denominator = rows (or distinct subjects, when by_subject)
  // of the group where the condition is known (TRUE or FALSE); numerator =
  // those where it is TRUE (subjects: with at least one TRUE row).
  bool by_subject = false;
};

struct Plan {
  std::vector<InputSpec> inputs;
  ExprPtr filter;  // nullptr: keep all rows
  std::vector<GroupKey> group_keys;
  std::vector<Aggregate> aggregates;
};

}  // namespace datalab::engine

#endif  // DATALAB_SERVICES_QUERY_ENGINE_PLAN_H_
