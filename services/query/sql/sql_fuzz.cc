// libFuzzer entry point for the SQL parser (built only with -DDATALAB_FUZZ=ON).
// Properties checked on every input:
//  - ParseQuery never crashes, and errors are INVALID_ARGUMENT;
//  - accepted queries round-trip: parse(ToSql(parse(q))) == parse(q), and
//    printing is idempotent.
// Seeds: services/query/sql/fuzz_corpus/.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "services/query/sql/ast.h"
#include "services/query/sql/functions.h"
#include "services/query/sql/parser.h"
#include "services/query/sql/printer.h"

namespace {

[[noreturn]] void Fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "sql_fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace datalab::sql;
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  // Half the inputs skip the function checks so the printer sees every
  // function shape the grammar allows.
  ParseOptions options;
  options.check_functions = size % 2 == 0;

  absl::StatusOr<Query> query = ParseQuery(sql, options);
  if (!query.ok()) {
    if (query.status().code() != absl::StatusCode::kInvalidArgument) {
      Fail("unexpected status code", query.status().ToString());
    }
    return 0;
  }
  const std::string canonical = ToSql(*query);
  absl::StatusOr<Query> again = ParseQuery(canonical, options);
  if (!again.ok()) {
    Fail("canonical SQL does not parse",
         canonical + "\n" + again.status().ToString());
  }
  if (!StructurallyEqual(*query, *again)) {
    Fail("round trip changed the query", canonical + "\n" + ToSql(*again));
  }
  if (ToSql(*again) != canonical) Fail("printing is not idempotent", canonical);
  return 0;
}
