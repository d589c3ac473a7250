// Canonical SQL printer for the AST (ast.h), used for the release record and
// query history, and to check the parser: for every query q the parser
// accepts, parse(ToSql(parse(q))) is structurally equal to parse(q).
//
// Canonical form: one line; keywords and function names upper case; single
// spaces; INNER JOIN printed as JOIN; aliases with AS; <> for inequality;
// decimals in canonical form (0.5, 12.0); identifiers double-quoted only when
// they were quoted, are reserved words or are not plain [A-Za-z_][A-Za-z0-9_]*
// names; parentheses only where precedence needs them; ASC omitted.
// Pure functions; thread-safe.
#ifndef DATALAB_SERVICES_QUERY_SQL_PRINTER_H_
#define DATALAB_SERVICES_QUERY_SQL_PRINTER_H_

#include <string>

#include "services/query/sql/ast.h"

namespace datalab::sql {

std::string ToSql(const Query& query);
std::string ToSql(const Expr& expr);
std::string ToSql(const Identifier& identifier);

}  // namespace datalab::sql

#endif  // DATALAB_SERVICES_QUERY_SQL_PRINTER_H_
