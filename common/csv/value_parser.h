// Typed parsing of CSV cell text, per schema column type.
//
// Every parser returns a small, allocation-free result that is exactly one
// of:
//   * value   - the parsed value (for strings, a trimmed view into the
//               input, so valid as long as the input is);
//   * missing - the cell held one of the column's missing-value markers
//               (DfE: SUPP suppressed, NE no entries, NP not published,
//               NA not applicable, LOWCOV low coverage, x suppressed) or was
//               blank / whitespace only. `marker` is the canonical marker
//               text ("" for blank), a view into the MissingMarkers object;
//   * error   - a ValueError code plus small integers; ErrorMessage() builds
//               the reason ("not an integer", "day 30 out of range for
//               February 2023"). A reason never repeats the cell text.
//
// Accepted forms (surrounding ASCII whitespace is ignored everywhere):
//   integer  [+-]digits, optionally with correctly grouped thousands
//            separators ("749,750"; "1,2345" is rejected so a decimal comma
//            is never misread) and, when allow_integral_decimal, a ".0..."
//            suffix as written by float-typed exports ("285.0").
//   decimal  [+-]digits[.digits][e[+-]digits], thousands separators as for
//            integers, ".5" and "5." accepted; with allow_percent a trailing
//            "%" is dropped and the number kept as written ("12.5%" -> 12.5,
//            percent=true). inf/nan/hex are rejected.
//   date     YYYY-MM-DD, DD/MM/YYYY, DD-MM-YYYY (day and month may have one
//            digit), YYYYMMDD and the float-written "YYYYMMDD.0". Impossible
//            dates are rejected with the reason; years outside
//            [min_year, max_year] are rejected.
//   boolean  Y/N, Yes/No, true/false, 1/0, any case.
//
// Markers are matched exactly (case-sensitive) after trimming: DfE's "x"
// and "SUPP" are case-significant and "Na" is more likely a value than NA.
//
// Thread safety: all functions are pure; MissingMarkers and ValueParser are
// immutable after construction and may be shared across threads.
#ifndef DATALAB_COMMON_CSV_VALUE_PARSER_H_
#define DATALAB_COMMON_CSV_VALUE_PARSER_H_

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <utility>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"

namespace datalab::csv {

enum class ValueKind : uint8_t { kValue, kMissing, kError };

enum class ValueError : uint8_t {
  kNone,
  kEmpty,               // blank cell where blank is not a missing marker
  kNotInteger,
  kFractionalInteger,   // "12.5" in an integer column
  kIntegerOutOfRange,   // does not fit in int64
  kNotDecimal,
  kDecimalOutOfRange,   // overflows a double
  kPercentNotAllowed,   // "12%" in a column that does not allow percentages
  kNotBoolean,
  kNotDate,
  kYearOutOfRange,      // detail: year, min, max
  kMonthOutOfRange,     // detail: month
  kDayOutOfRange,       // detail: day, month, year
  kTooLong,             // numeric text longer than any sane number
};

// The part of a result that does not depend on the value type.
struct ParseStatus {
  ValueKind kind = ValueKind::kError;
  ValueError error = ValueError::kNone;
  std::string_view marker;  // kMissing only
  int32_t detail[3] = {0, 0, 0};

  bool is_value() const { return kind == ValueKind::kValue; }
  bool is_missing() const { return kind == ValueKind::kMissing; }
  bool is_error() const { return kind == ValueKind::kError; }
  // The reason for an error (empty unless is_error()). Allocates; call it
  // only when reporting.
  std::string ErrorMessage() const;
};

template <typename T>
struct Parsed : ParseStatus {
  T value{};
  bool percent = false;  // decimals: the text ended with '%'
};

// The set of missing-value markers a column accepts.
class MissingMarkers {
 public:
  // No markers, blank is not missing.
  MissingMarkers() = default;
  MissingMarkers(std::initializer_list<std::string_view> markers,
                 bool blank_is_missing);
  MissingMarkers(const std::vector<std::string>& markers,
                 bool blank_is_missing);

  // SUPP, NE, NP, NA, LOWCOV, x, and blank (the DfE performance-table set).
  static MissingMarkers Dfe();

  // The canonical marker if `trimmed` is one ("" for blank), else nullopt.
  std::optional<std::string_view> Match(std::string_view trimmed) const;

  bool blank_is_missing() const { return blank_is_missing_; }
  const std::vector<std::string>& markers() const { return markers_; }

 private:
  std::vector<std::string> markers_;
  bool blank_is_missing_ = false;
};

struct IntegerOptions {
  bool allow_thousands_separators = true;
  bool allow_integral_decimal = true;  // "285.0" -> 285
};

struct DecimalOptions {
  bool allow_thousands_separators = true;
  bool allow_percent = false;
};

struct DateOptions {
  int min_year = 1900;
  int max_year = 2100;
  bool allow_compact = true;  // YYYYMMDD and YYYYMMDD.0
};

// A marker set with no markers; the default for the functions below.
const MissingMarkers& NoMarkers();

Parsed<int64_t> ParseInteger(std::string_view text,
                             const MissingMarkers& markers = NoMarkers(),
                             const IntegerOptions& options = {});
Parsed<double> ParseDecimal(std::string_view text,
                            const MissingMarkers& markers = NoMarkers(),
                            const DecimalOptions& options = {});
Parsed<absl::CivilDay> ParseDate(std::string_view text,
                                 const MissingMarkers& markers = NoMarkers(),
                                 const DateOptions& options = {});
Parsed<bool> ParseBoolean(std::string_view text,
                          const MissingMarkers& markers = NoMarkers());
// Trimmed text. Blank is Missing{""} if the markers say so, else an empty
// value (never an error).
Parsed<std::string_view> ParseString(std::string_view text,
                                     const MissingMarkers& markers = NoMarkers());

// Schema-driven dispatch: one ValueParser per column.
enum class ColumnType : uint8_t { kString, kInteger, kDecimal, kDate, kBoolean };

struct ColumnParseOptions {
  ColumnType type = ColumnType::kString;
  MissingMarkers markers;
  IntegerOptions integer;
  DecimalOptions decimal;
  DateOptions date;
};

// Result of ValueParser::Parse: the field matching `type` holds the value.
struct ParsedValue : ParseStatus {
  ColumnType type = ColumnType::kString;
  int64_t int_value = 0;
  double decimal_value = 0;
  bool bool_value = false;
  bool percent = false;
  absl::CivilDay date_value;
  std::string_view string_value;  // view into the input
};

class ValueParser {
 public:
  explicit ValueParser(ColumnParseOptions options)
      : options_(std::move(options)) {}
  ParsedValue Parse(std::string_view text) const;
  const ColumnParseOptions& options() const { return options_; }

 private:
  ColumnParseOptions options_;
};

}  // namespace datalab::csv

#endif  // DATALAB_COMMON_CSV_VALUE_PARSER_H_
