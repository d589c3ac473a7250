#include "common/csv/header_matcher.h"

#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::csv {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

TEST(NormalizeHeaderTest, TrimCaseAndWhitespace) {
  EXPECT_EQ(NormalizeHeader("  URN "), "urn");
  EXPECT_EQ(NormalizeHeader("Number of  Secondary\tpupils"),
            "number of secondary pupils");
  EXPECT_EQ(NormalizeHeader("LA\xC2\xA0Name"), "la name");  // no-break space
  EXPECT_EQ(NormalizeHeader("\xEF\xBB\xBFURN"), "urn");     // stray BOM
  EXPECT_EQ(NormalizeHeader("Caf\xC3\xA9 Name"), "caf\xC3\xA9 name");
  EXPECT_EQ(NormalizeHeader(""), "");
}

TEST(NormalizeHeaderTest, FootnotesOnlyWhenAsked) {
  HeaderNormalizeOptions strip;
  strip.strip_footnotes = true;
  EXPECT_EQ(NormalizeHeader("Number of pupils on roll (7)"),
            "number of pupils on roll (7)");
  EXPECT_EQ(NormalizeHeader("Number of pupils on roll (7)", strip),
            "number of pupils on roll");
  EXPECT_EQ(NormalizeHeader("Pupils eligible for FSM 2", strip),
            "pupils eligible for fsm");
  EXPECT_EQ(NormalizeHeader("Allocation [note 3]", strip), "allocation");
  EXPECT_EQ(NormalizeHeader("Total* ", strip), "total");
  EXPECT_EQ(NormalizeHeader("Total (7) *", strip), "total");
  EXPECT_EQ(NormalizeHeader("Total\xE2\x80\xA0", strip), "total");
  // Not footnotes: part of the name.
  EXPECT_EQ(NormalizeHeader("PTL2BASICS_95", strip), "ptl2basics_95");
  EXPECT_EQ(NormalizeHeader("KS2 2019", strip), "ks2 2019");
  EXPECT_EQ(NormalizeHeader("LA (code)", strip), "la (code)");
  EXPECT_EQ(NormalizeHeader("7", strip), "7");
}

TEST(HeaderKeyTest, PunctuationInsensitive) {
  EXPECT_EQ(HeaderKey("LA (code)"), "lacode");
  EXPECT_EQ(HeaderKey("la_code"), "lacode");
  EXPECT_EQ(HeaderKey("LA-Code"), "lacode");
  EXPECT_EQ(HeaderKey("P8MEA"), HeaderKey("p8 mea"));
  EXPECT_NE(HeaderKey("PTL2BASICS_94"), HeaderKey("PTL2BASICS_95"));
  EXPECT_EQ(HeaderKey("\"  \""), "");
}

absl::StatusOr<std::unique_ptr<HeaderMatcher>> Ks4Matcher() {
  return HeaderMatcher::Create({
      {"urn", {"URN"}, true},
      {"school_name", {"SCHNAME", "School Name"}, true},
      {"la_code", {"LA (code)", "LEA"}, false},
      {"progress_8", {"P8MEA"}, false},
  });
}

TEST(HeaderMatcherTest, MapsAliasesAndReportsUnknown) {
  auto m = Ks4Matcher();
  ASSERT_THAT(m, IsOk());
  std::vector<std::string_view> headers = {"RECTYPE", " urn", "SchName",
                                           "la_code", "P8_MEA", "extra"};
  HeaderMapping map = (*m)->Match(headers);
  EXPECT_THAT(map.column_for_field, ElementsAre(-1, 0, 1, 2, 3, -1));
  EXPECT_THAT(map.field_for_column, ElementsAre(1, 2, 3, 4));
  EXPECT_THAT(map.unknown_fields, ElementsAre(0, 5));
  EXPECT_THAT(map.missing_required, IsEmpty());
  EXPECT_THAT(map.duplicate_fields, IsEmpty());
  EXPECT_TRUE(map.ok());
  EXPECT_THAT((*m)->Check(map), IsOk());
  EXPECT_THAT((*m)->Check(map, /*reject_unknown=*/true),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("unrecognised header at column(s) 1, 6"),
                             Not(HasSubstr("RECTYPE")), Not(HasSubstr("extra")))));
}

TEST(HeaderMatcherTest, MissingRequiredNamedBySchemaName) {
  auto m = Ks4Matcher();
  ASSERT_THAT(m, IsOk());
  std::vector<std::string_view> headers = {"LEA", "P8MEA"};
  HeaderMapping map = (*m)->Match(headers);
  EXPECT_THAT(map.missing_required, ElementsAre(0, 1));
  EXPECT_FALSE(map.ok());
  EXPECT_THAT((*m)->Check(map),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("missing required column(s): urn, school_name")));
}

TEST(HeaderMatcherTest, DuplicatesByPositionNotContent) {
  auto m = Ks4Matcher();
  ASSERT_THAT(m, IsOk());
  // "URN" twice; "SCHNAME" and "School Name" are two spellings of one column;
  // a first row of data (no header) repeats nothing but matches nothing.
  std::vector<std::string_view> headers = {"URN", "SCHNAME", "urn",
                                           "School Name", "", ""};
  HeaderMapping map = (*m)->Match(headers);
  EXPECT_THAT(map.duplicate_fields, ElementsAre(2, 3));
  EXPECT_THAT(map.unknown_fields, ElementsAre(4, 5));  // blanks not duplicates
  EXPECT_EQ(map.field_for_column[0], 0);
  EXPECT_EQ(map.field_for_column[1], 1);
  EXPECT_THAT((*m)->Check(map),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("duplicate header at column(s) 3, 4")));
}

TEST(HeaderMatcherTest, HeaderlessFileDoesNotLeakData) {
  auto m = Ks4Matcher();
  ASSERT_THAT(m, IsOk());
  std::vector<std::string_view> first_row = {"100000", "Jane Pupil", "Jane Pupil"};
  HeaderMapping map = (*m)->Match(first_row);
  absl::Status s = (*m)->Check(map, true);
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(Not(HasSubstr("Jane")), Not(HasSubstr("100000")),
                                HasSubstr("missing required column(s)"))));
}

TEST(HeaderMatcherTest, FootnoteStrippingMatchesPupilPremiumHeaders) {
  HeaderNormalizeOptions strip;
  strip.strip_footnotes = true;
  auto m = HeaderMatcher::Create(
      {{"secondary_on_roll", {"Number of Secondary pupils on roll"}, true}},
      strip);
  ASSERT_THAT(m, IsOk());
  std::vector<std::string_view> headers = {
      "Number of  Secondary pupils on roll (10)"};
  EXPECT_THAT((*m)->Match(headers).field_for_column, ElementsAre(0));
}

TEST(HeaderMatcherTest, AmbiguousSchemaRejected) {
  EXPECT_THAT(HeaderMatcher::Create({{"la_code", {}, false},
                                     {"la", {"LA Code"}, false}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("both match")));
  EXPECT_THAT(HeaderMatcher::Create({{"  ", {}, false}}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("empty name")));
  // A column may list an alias equal to its own name.
  EXPECT_THAT(HeaderMatcher::Create({{"urn", {"URN", "u_r_n"}, true}}), IsOk());
}

}  // namespace
}  // namespace datalab::csv
