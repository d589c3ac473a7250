#include "common/csv/value_parser.h"

#include <cstring>
#include <limits>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/charconv.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/csv/string_util.h"

namespace datalab::csv {
namespace {

constexpr const char* kMonthNames[12] = {
    "January", "February", "March",     "April",   "May",      "June",
    "July",    "August",   "September", "October", "November", "December"};

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

template <typename R>
R Error(ValueError e, int32_t a = 0, int32_t b = 0, int32_t c = 0) {
  R r;
  r.kind = ValueKind::kError;
  r.error = e;
  r.detail[0] = a;
  r.detail[1] = b;
  r.detail[2] = c;
  return r;
}

// Common prologue: trims, recognises markers and blanks. Returns true when
// `*out` has been decided (missing or empty error).
template <typename R>
bool Prologue(std::string_view* text, const MissingMarkers& markers, R* out) {
  *text = internal::StripWs(*text);
  if (auto m = markers.Match(*text)) {
    out->kind = ValueKind::kMissing;
    out->marker = *m;
    return true;
  }
  if (text->empty()) {
    *out = Error<R>(ValueError::kEmpty);
    return true;
  }
  return false;
}

// Reads the integer part of a number at s[*i]: digits, optionally grouped
// by thousands separators (first group 1-3 digits, then groups of exactly 3).
// Digits go to buf (up to cap; *overflow set beyond). Returns the number of
// digits read, or -1 when the grouping is wrong.
int ReadIntegerPart(std::string_view s, size_t* i, bool allow_sep, char* buf,
                    size_t cap, size_t* len, bool* overflow) {
  int digits = 0;
  int group = 0;
  bool seen_sep = false;
  while (*i < s.size()) {
    const char c = s[*i];
    if (IsDigit(c)) {
      ++group;
      ++digits;
      if (*len < cap) {
        buf[(*len)++] = c;
      } else {
        *overflow = true;
      }
    } else if (c == ',' && allow_sep) {
      if (group == 0 || (seen_sep ? group != 3 : group > 3)) return -1;
      seen_sep = true;
      group = 0;
    } else {
      break;
    }
    ++*i;
  }
  if (seen_sep && group != 3) return -1;
  return digits;
}

// Reads between min and max digits at s[*i] as a number.
bool ReadNumber(std::string_view s, size_t* i, int min_digits, int max_digits,
                int* out) {
  int n = 0;
  int v = 0;
  while (*i < s.size() && IsDigit(s[*i]) && n < max_digits) {
    v = v * 10 + (s[*i] - '0');
    ++*i;
    ++n;
  }
  *out = v;
  return n >= min_digits;
}

bool IsLeapYear(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int y, int m) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30,
                                    31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeapYear(y) ? 29 : kDays[m - 1];
}

// True when s[i..] is "." followed by one or more zeros and nothing else.
bool IsZeroFraction(std::string_view s, size_t i) {
  if (i >= s.size() || s[i] != '.' || i + 1 >= s.size()) return false;
  for (size_t k = i + 1; k < s.size(); ++k) {
    if (s[k] != '0') return false;
  }
  return true;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return internal::EqualsIgnoreCaseAscii(a, b);
}

}  // namespace

std::string ParseStatus::ErrorMessage() const {
  if (kind != ValueKind::kError) return "";
  switch (error) {
    case ValueError::kNone:
      return "";
    case ValueError::kEmpty:
      return "empty value";
    case ValueError::kNotInteger:
      return "not an integer";
    case ValueError::kFractionalInteger:
      return "not an integer (has a fractional part)";
    case ValueError::kIntegerOutOfRange:
      return "integer out of range";
    case ValueError::kNotDecimal:
      return "not a number";
    case ValueError::kDecimalOutOfRange:
      return "number out of range";
    case ValueError::kPercentNotAllowed:
      return "percentage not allowed in this column";
    case ValueError::kNotBoolean:
      return "not a boolean (expected Y/N, Yes/No, true/false or 1/0)";
    case ValueError::kNotDate:
      return "not a date (expected YYYY-MM-DD, DD/MM/YYYY, DD-MM-YYYY or "
             "YYYYMMDD)";
    case ValueError::kYearOutOfRange:
      return absl::StrCat("year ", detail[0], " out of range ", detail[1], "-",
                          detail[2]);
    case ValueError::kMonthOutOfRange:
      return absl::StrCat("month ", detail[0], " out of range");
    case ValueError::kDayOutOfRange:
      return absl::StrCat("day ", detail[0], " out of range for ",
                          kMonthNames[detail[1] - 1], " ", detail[2]);
    case ValueError::kTooLong:
      return "number too long";
  }
  return "invalid value";
}

MissingMarkers::MissingMarkers(std::initializer_list<std::string_view> markers,
                               bool blank_is_missing)
    : blank_is_missing_(blank_is_missing) {
  for (std::string_view m : markers) {
    std::string_view t = internal::StripWs(m);
    if (!t.empty()) markers_.emplace_back(t);
  }
}

MissingMarkers::MissingMarkers(const std::vector<std::string>& markers,
                               bool blank_is_missing)
    : blank_is_missing_(blank_is_missing) {
  for (const std::string& m : markers) {
    std::string_view t = internal::StripWs(m);
    if (!t.empty()) markers_.emplace_back(t);
  }
}

MissingMarkers MissingMarkers::Dfe() {
  return MissingMarkers({"SUPP", "NE", "NP", "NA", "LOWCOV", "x"},
                        /*blank_is_missing=*/true);
}

std::optional<std::string_view> MissingMarkers::Match(
    std::string_view trimmed) const {
  if (trimmed.empty()) {
    if (blank_is_missing_) return std::string_view();
    return std::nullopt;
  }
  for (const std::string& m : markers_) {
    if (m == trimmed) return std::string_view(m);
  }
  return std::nullopt;
}

const MissingMarkers& NoMarkers() {
  static const MissingMarkers* const kNone = new MissingMarkers();
  return *kNone;
}

Parsed<int64_t> ParseInteger(std::string_view text,
                             const MissingMarkers& markers,
                             const IntegerOptions& options) {
  using R = Parsed<int64_t>;
  R r;
  if (Prologue(&text, markers, &r)) return r;
  // Most cells: up to 18 plain digits, which cannot overflow.
  if (text.size() <= 18) {
    int64_t v = 0;
    size_t k = 0;
    for (; k < text.size() && IsDigit(text[k]); ++k) v = v * 10 + (text[k] - '0');
    if (k == text.size()) {
      r.kind = ValueKind::kValue;
      r.value = v;
      return r;
    }
  }
  size_t i = 0;
  bool negative = false;
  if (text[0] == '+' || text[0] == '-') {
    negative = text[0] == '-';
    ++i;
  }
  char digits[24];
  size_t len = 0;
  bool overflow = false;
  const int n = ReadIntegerPart(text, &i, options.allow_thousands_separators,
                                digits, sizeof(digits), &len, &overflow);
  if (n <= 0) return Error<R>(ValueError::kNotInteger);
  if (i < text.size()) {
    if (text[i] != '.') return Error<R>(ValueError::kNotInteger);
    // "285.0" from float-typed exports is an integer written as a float;
    // "285.5" is not an integer at all.
    size_t k = i + 1;
    bool any = false;
    bool nonzero = false;
    for (; k < text.size() && IsDigit(text[k]); ++k) {
      any = true;
      nonzero |= text[k] != '0';
    }
    if (!any || k != text.size()) return Error<R>(ValueError::kNotInteger);
    if (nonzero) return Error<R>(ValueError::kFractionalInteger);
    if (!options.allow_integral_decimal) {
      return Error<R>(ValueError::kNotInteger);
    }
  }
  if (overflow) return Error<R>(ValueError::kIntegerOutOfRange);
  // Accumulate as unsigned so INT64_MIN is representable.
  const uint64_t limit =
      negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  uint64_t v = 0;
  for (size_t k = 0; k < len; ++k) {
    const uint64_t d = static_cast<uint64_t>(digits[k] - '0');
    if (v > (limit - d) / 10) return Error<R>(ValueError::kIntegerOutOfRange);
    v = v * 10 + d;
  }
  r.kind = ValueKind::kValue;
  r.value = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return r;
}

Parsed<double> ParseDecimal(std::string_view text,
                            const MissingMarkers& markers,
                            const DecimalOptions& options) {
  using R = Parsed<double>;
  R r;
  if (Prologue(&text, markers, &r)) return r;
  bool percent = false;
  if (text.back() == '%') {
    if (!options.allow_percent) return Error<R>(ValueError::kPercentNotAllowed);
    percent = true;
    text.remove_suffix(1);
    text = internal::StripTrailingWs(text);
    if (text.empty()) return Error<R>(ValueError::kNotDecimal);
  }
  // Copy into a canonical form for from_chars: no '+', no separators.
  char buf[96];
  size_t len = 0;
  bool overflow = false;
  size_t i = 0;
  if (text[0] == '+' || text[0] == '-') {
    if (text[0] == '-') buf[len++] = '-';
    ++i;
  }
  const int int_digits =
      ReadIntegerPart(text, &i, options.allow_thousands_separators, buf,
                      sizeof(buf), &len, &overflow);
  if (int_digits < 0) return Error<R>(ValueError::kNotDecimal);
  int frac_digits = 0;
  if (i < text.size() && text[i] == '.') {
    if (len < sizeof(buf)) buf[len++] = '.'; else overflow = true;
    ++i;
    while (i < text.size() && IsDigit(text[i])) {
      if (len < sizeof(buf)) buf[len++] = text[i]; else overflow = true;
      ++i;
      ++frac_digits;
    }
  }
  if (int_digits + frac_digits == 0) return Error<R>(ValueError::kNotDecimal);
  bool negative_exponent = false;
  const bool has_exponent = i < text.size() && (text[i] == 'e' || text[i] == 'E');
  if (has_exponent) {
    if (len < sizeof(buf)) buf[len++] = 'e'; else overflow = true;
    ++i;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
      negative_exponent = text[i] == '-';
      if (negative_exponent) {
        if (len < sizeof(buf)) buf[len++] = '-'; else overflow = true;
      }
      ++i;
    }
    int exp_digits = 0;
    while (i < text.size() && IsDigit(text[i])) {
      if (len < sizeof(buf)) buf[len++] = text[i]; else overflow = true;
      ++i;
      ++exp_digits;
    }
    if (exp_digits == 0) return Error<R>(ValueError::kNotDecimal);
  }
  if (i != text.size()) return Error<R>(ValueError::kNotDecimal);
  if (overflow) return Error<R>(ValueError::kTooLong);
  r.kind = ValueKind::kValue;
  r.percent = percent;
  // Most cells ("95.4", "12", "0.25"): at most 15 digits and no exponent.
  // The digits as an integer and the power of ten are then both exact
  // doubles, so one division is correctly rounded: the same double
  // from_chars gives (Clinger's fast path), at a fraction of its cost.
  if (!has_exponent && int_digits + frac_digits <= 15) {
    static constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    int64_t digits = 0;
    for (size_t k = buf[0] == '-' ? 1 : 0; k < len; ++k) {
      if (buf[k] != '.') digits = digits * 10 + (buf[k] - '0');
    }
    const double magnitude = static_cast<double>(digits) / kPow10[frac_digits];
    r.value = buf[0] == '-' ? -magnitude : magnitude;
    return r;
  }
  double value = 0;
  const absl::from_chars_result res = absl::from_chars(buf, buf + len, value);
  if (res.ec == std::errc::result_out_of_range) {
    if (!negative_exponent) return Error<R>(ValueError::kDecimalOutOfRange);
    value = buf[0] == '-' ? -0.0 : 0.0;  // underflow: as close as a double gets
  } else if (res.ec != std::errc() || res.ptr != buf + len) {
    return Error<R>(ValueError::kNotDecimal);
  }
  r.value = value;
  return r;
}

Parsed<absl::CivilDay> ParseDate(std::string_view text,
                                 const MissingMarkers& markers,
                                 const DateOptions& options) {
  using R = Parsed<absl::CivilDay>;
  R r;
  if (Prologue(&text, markers, &r)) return r;
  int y = 0, m = 0, d = 0;
  bool parsed = false;
  {  // YYYY-MM-DD
    size_t i = 0;
    if (ReadNumber(text, &i, 4, 4, &y) && i < text.size() && text[i] == '-' &&
        (++i, ReadNumber(text, &i, 1, 2, &m)) && i < text.size() &&
        text[i] == '-' && (++i, ReadNumber(text, &i, 1, 2, &d)) &&
        i == text.size()) {
      parsed = true;
    }
  }
  if (!parsed) {  // DD/MM/YYYY or DD-MM-YYYY
    size_t i = 0;
    if (ReadNumber(text, &i, 1, 2, &d) && i < text.size() &&
        (text[i] == '/' || text[i] == '-')) {
      const char sep = text[i++];
      if (ReadNumber(text, &i, 1, 2, &m) && i < text.size() &&
          text[i] == sep && (++i, ReadNumber(text, &i, 4, 4, &y)) &&
          i == text.size()) {
        parsed = true;
      }
    }
  }
  if (!parsed && options.allow_compact) {  // YYYYMMDD or YYYYMMDD.0
    size_t i = 0;
    if (ReadNumber(text, &i, 4, 4, &y) && ReadNumber(text, &i, 2, 2, &m) &&
        ReadNumber(text, &i, 2, 2, &d) &&
        (i == text.size() || IsZeroFraction(text, i))) {
      parsed = true;
    }
  }
  if (!parsed) return Error<R>(ValueError::kNotDate);
  if (m < 1 || m > 12) return Error<R>(ValueError::kMonthOutOfRange, m);
  if (y < options.min_year || y > options.max_year) {
    return Error<R>(ValueError::kYearOutOfRange, y, options.min_year,
                    options.max_year);
  }
  if (d < 1 || d > DaysInMonth(y, m)) {
    return Error<R>(ValueError::kDayOutOfRange, d, m, y);
  }
  r.kind = ValueKind::kValue;
  r.value = absl::CivilDay(y, m, d);
  return r;
}

Parsed<bool> ParseBoolean(std::string_view text,
                          const MissingMarkers& markers) {
  using R = Parsed<bool>;
  R r;
  if (Prologue(&text, markers, &r)) return r;
  static constexpr std::string_view kTrue[] = {"y", "yes", "true", "1"};
  static constexpr std::string_view kFalse[] = {"n", "no", "false", "0"};
  for (std::string_view t : kTrue) {
    if (EqualsIgnoreCase(text, t)) {
      r.kind = ValueKind::kValue;
      r.value = true;
      return r;
    }
  }
  for (std::string_view f : kFalse) {
    if (EqualsIgnoreCase(text, f)) {
      r.kind = ValueKind::kValue;
      r.value = false;
      return r;
    }
  }
  return Error<R>(ValueError::kNotBoolean);
}

Parsed<std::string_view> ParseString(std::string_view text,
                                     const MissingMarkers& markers) {
  Parsed<std::string_view> r;
  text = internal::StripWs(text);
  if (auto m = markers.Match(text)) {
    r.kind = ValueKind::kMissing;
    r.marker = *m;
    return r;
  }
  r.kind = ValueKind::kValue;
  r.value = text;
  return r;
}

namespace {

template <typename T>
void CopyStatus(const Parsed<T>& from, ParsedValue* to) {
  static_cast<ParseStatus&>(*to) = from;
}

}  // namespace

ParsedValue ValueParser::Parse(std::string_view text) const {
  ParsedValue out;
  out.type = options_.type;
  switch (options_.type) {
    case ColumnType::kString: {
      auto r = ParseString(text, options_.markers);
      CopyStatus(r, &out);
      out.string_value = r.value;
      break;
    }
    case ColumnType::kInteger: {
      auto r = ParseInteger(text, options_.markers, options_.integer);
      CopyStatus(r, &out);
      out.int_value = r.value;
      break;
    }
    case ColumnType::kDecimal: {
      auto r = ParseDecimal(text, options_.markers, options_.decimal);
      CopyStatus(r, &out);
      out.decimal_value = r.value;
      out.percent = r.percent;
      break;
    }
    case ColumnType::kDate: {
      auto r = ParseDate(text, options_.markers, options_.date);
      CopyStatus(r, &out);
      out.date_value = r.value;
      break;
    }
    case ColumnType::kBoolean: {
      auto r = ParseBoolean(text, options_.markers);
      CopyStatus(r, &out);
      out.bool_value = r.value;
      break;
    }
  }
  return out;
}

}  // namespace datalab::csv
