// Recursive-descent parser for the SQL subset researchers use for aggregate
// queries. Produces an AST (ast.h); binding names to datasets and columns
// happens later, in the binder.
//
//   query       := SELECT select_item (',' select_item)*
//                  FROM table_ref ( [INNER] JOIN table_ref
//                                   USING '(' ident (',' ident)* ')' )*
//                  [WHERE expr] [GROUP BY expr (',' expr)*] [HAVING expr]
//                  [ORDER BY expr [ASC|DESC] (',' ...)*] [LIMIT integer] [';']
//   table_ref   := ident ['.' ident] ['@' integer] [[AS] alias]
//   select_item := expr [[AS] alias]
//   expr        := expr OR expr | expr AND expr | NOT expr
//                | sum (= | <> | != | < | <= | > | >=) sum
//                | sum [NOT] IN '(' literal (',' literal)* ')'
//                | sum [NOT] BETWEEN sum AND sum | sum IS [NOT] NULL | sum
//   sum         := product (('+' | '-') product)*
//   product     := unary (('*' | '/') unary)*
//   unary       := '-' unary | primary
//   primary     := literal | ident ['.' ident] | name '(' [DISTINCT] args ')'
//                | name '(' '*' ')' | '(' expr ')'
//                | CASE WHEN expr THEN expr (WHEN ...)* [ELSE expr] END
//   literal     := integer | decimal | 'string' | NULL | TRUE | FALSE
//
// A bare integer in GROUP BY / ORDER BY is a 1-based select-list position
// and is checked against the select list here. An alias without AS is only
// taken when the next token could follow it (',' or FROM in the select list;
// JOIN, USING, WHERE, ... after a dataset), so a misspelt keyword such as
// FORM is reported as itself.
//
// Errors are INVALID_ARGUMENT "line L, column C: <reason>" naming what was
// expected and found; constructs outside the subset (SELECT *, other
// statements, subqueries, UNION, OVER, LIKE, outer joins, ...) get their own
// reason. Input size, token count, list lengths, nesting depth and tree
// height are bounded by ParseOptions, so no input can crash the parser or
// exhaust its stack. Stateless and thread-safe.
#ifndef DATALAB_SERVICES_QUERY_SQL_PARSER_H_
#define DATALAB_SERVICES_QUERY_SQL_PARSER_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "services/query/sql/ast.h"

namespace datalab::sql {

struct ParseOptions {
  size_t max_query_bytes = 64 * 1024;
  size_t max_tokens = 10000;
  size_t max_identifier_length = 128;
  // Parentheses, function calls, CASE, NOT and unary minus nested in each
  // other; bounds the parser's recursion.
  int max_depth = 64;
  // Height of any expression tree (long a + b + c ... chains grow the tree
  // without recursing); bounds recursion of every later walk of the AST.
  int max_expression_height = 256;
  size_t max_select_items = 256;
  size_t max_joins = 16;
  size_t max_group_by_items = 64;
  size_t max_order_by_items = 64;
  size_t max_in_list_items = 1000;
  size_t max_function_args = 16;
  size_t max_case_branches = 256;
  int64_t max_limit = 100000;
  // Also run CheckFunctions() (functions.h): unknown and forbidden
  // functions, argument counts, aggregates where they are not allowed.
  bool check_functions = true;
};

absl::StatusOr<Query> ParseQuery(std::string_view sql,
                                 const ParseOptions& options = {});

}  // namespace datalab::sql

#endif  // DATALAB_SERVICES_QUERY_SQL_PARSER_H_
