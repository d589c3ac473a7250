#include "common/csv/value_parser.h"

#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::csv {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

template <typename T>
T ValueOf(const Parsed<T>& r) {
  EXPECT_TRUE(r.is_value()) << r.ErrorMessage();
  return r.value;
}

TEST(ParseIntegerTest, PlainAndSigned) {
  EXPECT_EQ(ValueOf(ParseInteger("0")), 0);
  EXPECT_EQ(ValueOf(ParseInteger("285")), 285);
  EXPECT_EQ(ValueOf(ParseInteger("+17")), 17);
  EXPECT_EQ(ValueOf(ParseInteger("-42")), -42);
  EXPECT_EQ(ValueOf(ParseInteger("  7 ")), 7);
  EXPECT_EQ(ValueOf(ParseInteger("9223372036854775807")), INT64_MAX);
  EXPECT_EQ(ValueOf(ParseInteger("-9223372036854775808")), INT64_MIN);
  // Either side of the 18-digit plain-digits path.
  EXPECT_EQ(ValueOf(ParseInteger("007")), 7);
  EXPECT_EQ(ValueOf(ParseInteger("999999999999999999")), 999999999999999999);
  EXPECT_EQ(ValueOf(ParseInteger("1000000000000000000")), 1000000000000000000);
  EXPECT_EQ(ParseInteger("9223372036854775808").error, ValueError::kIntegerOutOfRange);
  EXPECT_EQ(ParseInteger("12a").error, ValueError::kNotInteger);
  EXPECT_EQ(ParseInteger("1 2").error, ValueError::kNotInteger);
}

TEST(ParseIntegerTest, ThousandsSeparators) {
  EXPECT_EQ(ValueOf(ParseInteger("749,750")), 749750);
  EXPECT_EQ(ValueOf(ParseInteger("7,916,225")), 7916225);
  EXPECT_EQ(ValueOf(ParseInteger("-1,000")), -1000);
  for (std::string_view bad : {"1,2345", ",123", "123,", "1,,234", "12,34",
                               "1234,567"}) {
    auto r = ParseInteger(bad);
    EXPECT_TRUE(r.is_error()) << bad;
    EXPECT_EQ(r.ErrorMessage(), "not an integer") << bad;
  }
  IntegerOptions no_sep;
  no_sep.allow_thousands_separators = false;
  EXPECT_TRUE(ParseInteger("749,750", NoMarkers(), no_sep).is_error());
}

TEST(ParseIntegerTest, IntegralDecimals) {
  EXPECT_EQ(ValueOf(ParseInteger("285.0")), 285);
  EXPECT_EQ(ValueOf(ParseInteger("20140204.0")), 20140204);
  EXPECT_EQ(ValueOf(ParseInteger("1,000.00")), 1000);
  auto frac = ParseInteger("12.5");
  EXPECT_EQ(frac.error, ValueError::kFractionalInteger);
  EXPECT_EQ(frac.ErrorMessage(), "not an integer (has a fractional part)");
  IntegerOptions strict;
  strict.allow_integral_decimal = false;
  EXPECT_EQ(ParseInteger("285.0", NoMarkers(), strict).error,
            ValueError::kNotInteger);
  EXPECT_TRUE(ParseInteger("12.").is_error());
}

TEST(ParseIntegerTest, Errors) {
  for (std::string_view bad : {"abc", "12a", "1e5", "--1", "+", "0x10", "1 2",
                               "12%"}) {
    auto r = ParseInteger(bad);
    EXPECT_TRUE(r.is_error()) << bad;
    EXPECT_EQ(r.error, ValueError::kNotInteger) << bad;
  }
  EXPECT_EQ(ParseInteger("9223372036854775808").error,
            ValueError::kIntegerOutOfRange);
  EXPECT_EQ(ParseInteger("99999999999999999999999999999").error,
            ValueError::kIntegerOutOfRange);
  EXPECT_EQ(ParseInteger("").error, ValueError::kEmpty);
  EXPECT_EQ(ParseInteger(" ").ErrorMessage(), "empty value");
}

TEST(ParseIntegerTest, ErrorMessageNeverContainsTheValue) {
  auto r = ParseInteger("123SECRET");
  EXPECT_THAT(r.ErrorMessage(), Not(HasSubstr("SECRET")));
  EXPECT_THAT(r.ErrorMessage(), Not(HasSubstr("123")));
}

TEST(MissingMarkersTest, DfeMarkers) {
  const MissingMarkers dfe = MissingMarkers::Dfe();
  for (std::string_view m : {"SUPP", "NE", "NP", "NA", "LOWCOV", "x"}) {
    auto r = ParseInteger(m, dfe);
    EXPECT_TRUE(r.is_missing()) << m;
    EXPECT_EQ(r.marker, m);
  }
  // Blank and a single space are the blank marker "".
  for (std::string_view blank : {"", " ", "  \t"}) {
    auto r = ParseDecimal(blank, dfe);
    EXPECT_TRUE(r.is_missing());
    EXPECT_EQ(r.marker, "");
  }
  // Markers are exact (case-sensitive) after trimming.
  EXPECT_TRUE(ParseInteger(" SUPP ", dfe).is_missing());
  EXPECT_TRUE(ParseInteger("supp", dfe).is_error());
  EXPECT_TRUE(ParseInteger("X", dfe).is_error());
  // A column that accepts only some markers.
  MissingMarkers only_x({"x"}, /*blank_is_missing=*/false);
  EXPECT_TRUE(ParseInteger("x", only_x).is_missing());
  EXPECT_TRUE(ParseInteger("SUPP", only_x).is_error());
  EXPECT_EQ(ParseInteger("", only_x).error, ValueError::kEmpty);
  // Markers are reported as the configured text, not a view of the input.
  std::string input = "NE";
  auto r = ParseInteger(input, dfe);
  EXPECT_NE(r.marker.data(), input.data());
}

TEST(ParseDecimalTest, Numbers) {
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("57.9")), 57.9);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("-0.25")), -0.25);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("+3")), 3);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal(".5")), 0.5);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("5.")), 5);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("1.5e3")), 1500);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("2E-2")), 0.02);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("749,750.5")), 749750.5);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("20140204.0")), 20140204.0);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("1e-400")), 0.0);  // underflow
}

TEST(ParseDecimalTest, ShortDecimalsGiveTheCorrectlyRoundedDouble) {
  // Up to 15 digits without an exponent take a fast path; every result must
  // be the double strtod gives (correctly rounded), bit for bit, including
  // the values just past the fast path's limits.
  std::mt19937_64 rng(20261206);
  std::vector<std::string> cases = {"0.1",  "0.3",   "95.4",  "-0.0",   "1.000000000000001",
                                    "9.99999999999999", "999999999999999", "0.000000000000001",
                                    "1234567890.12345", "12345678901234.56", "-3.14159",
                                    "00000000000000012.5", "0.1234567890123456"};
  for (int i = 0; i < 20000; ++i) {
    const int digits = 1 + static_cast<int>(rng() % 17);
    const int frac = static_cast<int>(rng() % (digits + 1));
    std::string s = (rng() % 4 == 0) ? "-" : "";
    std::string d;
    for (int k = 0; k < digits; ++k) d.push_back(static_cast<char>('0' + rng() % 10));
    s += frac == digits ? "0" : d.substr(0, digits - frac);
    if (frac > 0) s += "." + d.substr(digits - frac);
    cases.push_back(s);
  }
  for (const std::string& s : cases) {
    auto r = ParseDecimal(s);
    ASSERT_TRUE(r.is_value()) << s;
    const double want = std::strtod(s.c_str(), nullptr);
    EXPECT_EQ(std::memcmp(&r.value, &want, sizeof(double)), 0)
        << s << ": " << r.value << " against " << want;
  }
}

TEST(ParseDecimalTest, Percentages) {
  DecimalOptions pct;
  pct.allow_percent = true;
  auto r = ParseDecimal("12.5%", NoMarkers(), pct);
  EXPECT_DOUBLE_EQ(ValueOf(r), 12.5);
  EXPECT_TRUE(r.percent);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("0%", NoMarkers(), pct)), 0);
  EXPECT_DOUBLE_EQ(ValueOf(ParseDecimal("100 %", NoMarkers(), pct)), 100);
  EXPECT_FALSE(ParseDecimal("12.5", NoMarkers(), pct).percent);
  EXPECT_EQ(ParseDecimal("%", NoMarkers(), pct).error, ValueError::kNotDecimal);
  EXPECT_EQ(ParseDecimal("12%%", NoMarkers(), pct).error,
            ValueError::kNotDecimal);
  auto no = ParseDecimal("12.5%");
  EXPECT_EQ(no.error, ValueError::kPercentNotAllowed);
  EXPECT_EQ(no.ErrorMessage(), "percentage not allowed in this column");
}

TEST(ParseDecimalTest, Errors) {
  for (std::string_view bad : {"abc", "inf", "nan", "-inf", "0x1p3", "1.2.3",
                               ".", "-", "1e", "1e+", "12,5", "1 000", "€5"}) {
    auto r = ParseDecimal(bad);
    EXPECT_TRUE(r.is_error()) << bad;
    EXPECT_EQ(r.ErrorMessage(), "not a number") << bad;
  }
  EXPECT_EQ(ParseDecimal("1e999").error, ValueError::kDecimalOutOfRange);
  EXPECT_EQ(ParseDecimal(std::string(200, '9')).error, ValueError::kTooLong);
}

TEST(ParseDateTest, Formats) {
  EXPECT_EQ(ValueOf(ParseDate("2014-02-04")), absl::CivilDay(2014, 2, 4));
  EXPECT_EQ(ValueOf(ParseDate("04/02/2014")), absl::CivilDay(2014, 2, 4));
  EXPECT_EQ(ValueOf(ParseDate("4/2/2014")), absl::CivilDay(2014, 2, 4));
  EXPECT_EQ(ValueOf(ParseDate("31-08-1992")), absl::CivilDay(1992, 8, 31));
  EXPECT_EQ(ValueOf(ParseDate("20140204")), absl::CivilDay(2014, 2, 4));
  EXPECT_EQ(ValueOf(ParseDate("20140204.0")), absl::CivilDay(2014, 2, 4));
  EXPECT_EQ(ValueOf(ParseDate("20140204.00")), absl::CivilDay(2014, 2, 4));
  EXPECT_EQ(ValueOf(ParseDate("2024-02-29")), absl::CivilDay(2024, 2, 29));
  EXPECT_EQ(ValueOf(ParseDate("2000-02-29")), absl::CivilDay(2000, 2, 29));
}

TEST(ParseDateTest, ImpossibleDatesGiveTheReason) {
  auto r = ParseDate("2023-02-30");
  EXPECT_EQ(r.error, ValueError::kDayOutOfRange);
  EXPECT_EQ(r.ErrorMessage(), "day 30 out of range for February 2023");
  EXPECT_EQ(ParseDate("29/02/2023").ErrorMessage(),
            "day 29 out of range for February 2023");
  EXPECT_EQ(ParseDate("1900-02-29").ErrorMessage(),
            "day 29 out of range for February 1900");
  EXPECT_EQ(ParseDate("2023-04-31").ErrorMessage(),
            "day 31 out of range for April 2023");
  EXPECT_EQ(ParseDate("2023-01-00").ErrorMessage(),
            "day 0 out of range for January 2023");
  EXPECT_EQ(ParseDate("2023-13-01").ErrorMessage(), "month 13 out of range");
  EXPECT_EQ(ParseDate("01-00-2023").ErrorMessage(), "month 0 out of range");
  EXPECT_EQ(ParseDate("1850-01-01").ErrorMessage(),
            "year 1850 out of range 1900-2100");
  DateOptions wide;
  wide.min_year = 1800;
  EXPECT_TRUE(ParseDate("1850-01-01", NoMarkers(), wide).is_value());
}

TEST(ParseDateTest, NotDates) {
  for (std::string_view bad : {"yesterday", "2014/02/04", "2014-2", "20140204.5",
                               "2014020", "04/02/14", "04.02.2014", "2014-02-04T00:00",
                               "04/02-2014", "201402041"}) {
    auto r = ParseDate(bad);
    EXPECT_EQ(r.error, ValueError::kNotDate) << bad;
  }
  DateOptions no_compact;
  no_compact.allow_compact = false;
  EXPECT_TRUE(ParseDate("20140204", NoMarkers(), no_compact).is_error());
  EXPECT_TRUE(ParseDate(" ", MissingMarkers::Dfe()).is_missing());
}

TEST(ParseBooleanTest, AcceptedSpellings) {
  for (std::string_view t : {"Y", "y", "Yes", "YES", "true", "TRUE", "1"}) {
    EXPECT_TRUE(ValueOf(ParseBoolean(t))) << t;
  }
  for (std::string_view f : {"N", "n", "No", "no", "false", "False", "0"}) {
    EXPECT_FALSE(ValueOf(ParseBoolean(f))) << f;
  }
  for (std::string_view bad : {"maybe", "2", "yess", "t", ""}) {
    EXPECT_TRUE(ParseBoolean(bad).is_error()) << bad;
  }
  EXPECT_THAT(ParseBoolean("maybe").ErrorMessage(), HasSubstr("not a boolean"));
}

TEST(ParseStringTest, TrimsAndRecognisesMarkers) {
  EXPECT_EQ(ValueOf(ParseString("  City of London  ")), "City of London");
  EXPECT_EQ(ValueOf(ParseString(" ")), "");
  auto r = ParseString(" ", MissingMarkers::Dfe());
  EXPECT_TRUE(r.is_missing());
  EXPECT_TRUE(ParseString("x", MissingMarkers::Dfe()).is_missing());
}

TEST(ValueParserTest, DispatchesOnColumnType) {
  ColumnParseOptions o;
  o.type = ColumnType::kDecimal;
  o.markers = MissingMarkers::Dfe();
  o.decimal.allow_percent = true;
  ValueParser p(o);
  auto v = p.Parse("12.5%");
  EXPECT_TRUE(v.is_value());
  EXPECT_DOUBLE_EQ(v.decimal_value, 12.5);
  EXPECT_TRUE(v.percent);
  auto m = p.Parse("SUPP");
  EXPECT_TRUE(m.is_missing());
  EXPECT_EQ(m.marker, "SUPP");
  auto e = p.Parse("n/a");
  EXPECT_TRUE(e.is_error());
  EXPECT_EQ(e.ErrorMessage(), "not a number");

  ColumnParseOptions d;
  d.type = ColumnType::kDate;
  EXPECT_EQ(ValueParser(d).Parse("20140204.0").date_value,
            absl::CivilDay(2014, 2, 4));
  EXPECT_EQ(ValueParser(d).Parse("2023-02-30").ErrorMessage(),
            "day 30 out of range for February 2023");
  ColumnParseOptions i;
  i.type = ColumnType::kInteger;
  EXPECT_EQ(ValueParser(i).Parse("\t749,750 ").int_value, 749750);
  ColumnParseOptions b;
  b.type = ColumnType::kBoolean;
  EXPECT_TRUE(ValueParser(b).Parse("Yes").bool_value);
  ColumnParseOptions s;
  EXPECT_EQ(ValueParser(s).Parse(" a b ").string_value, "a b");
}

}  // namespace
}  // namespace datalab::csv
