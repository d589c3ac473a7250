#include "common/identifiers/urn.h"

#include "absl/status/status.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::identifiers {
namespace {

using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST(UrnTest, ParsesRealFormatUrns) {
  // URNs of real establishments in the GIAS extract.
  EXPECT_THAT(ParseUrn("100000"), IsOkAndHolds(100000));
  EXPECT_THAT(ParseUrn(" 137842 "), IsOkAndHolds(137842));
  EXPECT_THAT(ParseUrn("999999"), IsOkAndHolds(999999));
  EXPECT_TRUE(IsValidUrn(100000));
  EXPECT_TRUE(IsValidUrn(999999));
  EXPECT_FALSE(IsValidUrn(99999));
  EXPECT_FALSE(IsValidUrn(1000000));
}

TEST(UrnTest, RejectsBadUrns) {
  EXPECT_THAT(ParseUrn(""), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(ParseUrn("12345"), StatusIs(kInvalid, HasSubstr("6 digits")));
  EXPECT_THAT(ParseUrn("1234567"), StatusIs(kInvalid, HasSubstr("6 digits")));
  EXPECT_THAT(ParseUrn("099999"), StatusIs(kInvalid, HasSubstr("100000..999999")));
  EXPECT_THAT(ParseUrn("12a456"), StatusIs(kInvalid, HasSubstr("position 3")));
  EXPECT_THAT(ParseUrn("NAT000"), StatusIs(kInvalid, HasSubstr("position 1")));
}

TEST(LaCodeTest, ParseAndFormat) {
  EXPECT_THAT(ParseLaCode("383"), IsOkAndHolds(383));
  EXPECT_THAT(ParseLaCode("001"), IsOkAndHolds(1));
  EXPECT_THAT(FormatLaCode(1), IsOkAndHolds("001"));
  EXPECT_THAT(FormatLaCode(20), IsOkAndHolds("020"));
  EXPECT_THAT(FormatLaCode(938), IsOkAndHolds("938"));
}

TEST(LaCodeTest, RejectsBadCodes) {
  EXPECT_THAT(ParseLaCode(""), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(ParseLaCode("000"), StatusIs(kInvalid, HasSubstr("001..999")));
  EXPECT_THAT(ParseLaCode("1"), StatusIs(kInvalid, HasSubstr("3 digits")));
  EXPECT_THAT(ParseLaCode("3830"), StatusIs(kInvalid, HasSubstr("3 digits")));
  EXPECT_THAT(ParseLaCode("E08"), StatusIs(kInvalid, HasSubstr("position 1")));
  EXPECT_THAT(FormatLaCode(0), StatusIs(kInvalid));
  EXPECT_THAT(FormatLaCode(1000), StatusIs(kInvalid));
  EXPECT_FALSE(IsValidLaCode(0));
}

TEST(EstablishmentTest, ParseAndReject) {
  EXPECT_THAT(ParseEstablishmentNumber("2001"), IsOkAndHolds(2001));
  EXPECT_THAT(ParseEstablishmentNumber("0042"), IsOkAndHolds(42));
  EXPECT_THAT(ParseEstablishmentNumber("42"),
              StatusIs(kInvalid, HasSubstr("4 digits")));
  EXPECT_THAT(ParseEstablishmentNumber("20x1"),
              StatusIs(kInvalid, HasSubstr("position 3")));
}

TEST(LaEstabTest, BothWrittenForms) {
  auto a = ParseLaEstab("3832001");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->la_code, 383);
  EXPECT_EQ(a->establishment, 2001);
  auto b = ParseLaEstab(" 201/3614 ");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->la_code, 201);
  EXPECT_EQ(b->establishment, 3614);
}

TEST(LaEstabTest, Rejects) {
  EXPECT_THAT(ParseLaEstab(""), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(ParseLaEstab("383200"), StatusIs(kInvalid, HasSubstr("7 digits")));
  EXPECT_THAT(ParseLaEstab("383-2001"), StatusIs(kInvalid, HasSubstr("7 digits")));
  EXPECT_THAT(ParseLaEstab("0002001"), StatusIs(kInvalid, HasSubstr("LA code")));
  EXPECT_THAT(ParseLaEstab("38320x1"),
              StatusIs(kInvalid, HasSubstr("establishment number character")));
}

}  // namespace
}  // namespace datalab::identifiers
