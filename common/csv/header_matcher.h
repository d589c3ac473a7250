// Maps the header row of an uploaded CSV onto a dataset schema's columns.
//
// Real headers drift: "Number of  Secondary pupils on roll (10)" (double
// space, footnote number), "LA (code)" vs "la_code", a BOM-less "URN" vs
// " urn ". Matching therefore compares a key built by HeaderKey():
//   1. NormalizeHeader: trim, fold ASCII case, turn every run of
//      whitespace (including U+00A0 no-break space) into one space, and,
//      when strip_footnotes is set, drop a trailing footnote marker: "(7)",
//      "[7]", " 2" (one or two digits after a space), "*", "†", "‡".
//   2. Drop everything that is not an ASCII letter or digit (non-ASCII
//      letters are kept), so punctuation, spaces and underscores don't
//      matter: "LA (code)", "la_code" and "LA-Code" share the key "lacode".
// Each schema column lists its name and aliases; a CSV header matches the
// column whose name or alias has the same key.
//
// Privacy: a file uploaded without a header row has data in its first row,
// so Status messages refer to unmatched or duplicated CSV headers by their
// column position only. Schema column names (which are ours) are named.
// HeaderMapping keeps the raw header text for callers that choose to show it
// to the uploader.
//
// Thread safety: HeaderMatcher is immutable after Create and may be shared.
#ifndef DATALAB_COMMON_CSV_HEADER_MATCHER_H_
#define DATALAB_COMMON_CSV_HEADER_MATCHER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datalab::csv {

struct HeaderNormalizeOptions {
  // Remove trailing footnote markers such as "(7)", " 2", "*". Off by
  // default: a trailing number is sometimes part of the name ("KS2 2019").
  bool strip_footnotes = false;
};

// Display form: trimmed, lower-case ASCII, single spaces.
std::string NormalizeHeader(std::string_view raw,
                            const HeaderNormalizeOptions& options = {});

// Comparison key: NormalizeHeader without spaces or ASCII punctuation.
std::string HeaderKey(std::string_view raw,
                      const HeaderNormalizeOptions& options = {});

struct ColumnSpec {
  std::string name;                  // schema column name
  std::vector<std::string> aliases;  // other accepted header spellings
  bool required = false;
};

struct HeaderMapping {
  // For each CSV field position: index into the schema columns, or -1.
  std::vector<int> column_for_field;
  // For each schema column: the CSV field position, or -1 if absent.
  std::vector<int> field_for_column;
  // 0-based CSV positions whose header matched no schema column.
  std::vector<int> unknown_fields;
  // Schema column indices that are required but absent.
  std::vector<int> missing_required;
  // CSV positions whose header key repeats an earlier header's key (the
  // first occurrence keeps the mapping; repeats map to -1).
  std::vector<int> duplicate_fields;

  bool ok() const { return missing_required.empty() && duplicate_fields.empty(); }
};

class HeaderMatcher {
 public:
  // INVALID_ARGUMENT when a column has an empty name or two columns share a
  // key (through names or aliases), which would make matching ambiguous.
  static absl::StatusOr<std::unique_ptr<HeaderMatcher>> Create(
      std::vector<ColumnSpec> columns, const HeaderNormalizeOptions& options = {});

  // Matches a header row. Never fails; inspect the mapping or call Check.
  HeaderMapping Match(const std::vector<std::string_view>& headers) const;

  // OK when nothing required is missing and no header is duplicated;
  // otherwise INVALID_ARGUMENT listing missing schema columns by name and
  // duplicate CSV headers by 1-based column position. Unknown headers are
  // only an error when reject_unknown is set.
  absl::Status Check(const HeaderMapping& mapping,
                     bool reject_unknown = false) const;

  const std::vector<ColumnSpec>& columns() const { return columns_; }

 private:
  HeaderMatcher(std::vector<ColumnSpec> columns,
                const HeaderNormalizeOptions& options)
      : columns_(std::move(columns)), options_(options) {}

  std::vector<ColumnSpec> columns_;
  HeaderNormalizeOptions options_;
  absl::flat_hash_map<std::string, int> by_key_;
};

}  // namespace datalab::csv

#endif  // DATALAB_COMMON_CSV_HEADER_MATCHER_H_
