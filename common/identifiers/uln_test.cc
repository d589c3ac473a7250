#include "common/identifiers/uln.h"

#include <random>
#include <string>

#include "absl/status/status.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::identifiers {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

TEST(UlnTest, PublishedExampleIsValid) {
  // HESA's worked example: weights 10..1 over all ten digits sum to 296,
  // 296 mod 11 = 10. Equivalently 10 - (290 mod 11) = 10 - 4 = 6.
  EXPECT_THAT(ValidateUln("9276308686"), IsOkAndHolds("9276308686"));
  EXPECT_THAT(ComputeUlnCheckDigit("927630868"), IsOkAndHolds('6'));
}

TEST(UlnTest, MoreKnownAnswers) {
  // 10+18+24+28+30+30+28+24+18 = 210, 210 mod 11 = 1, check 9.
  EXPECT_THAT(MakeUln("123456789"), IsOkAndHolds("1234567899"));
  // 5x10 = 50, 50 mod 11 = 6, check 4.
  EXPECT_THAT(MakeUln("500000000"), IsOkAndHolds("5000000004"));
}

TEST(UlnTest, TrimsWhitespace) {
  EXPECT_THAT(ValidateUln(" 9276308686\r\n"), IsOkAndHolds("9276308686"));
}

TEST(UlnTest, RejectsEmpty) {
  EXPECT_THAT(ValidateUln(""), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(ValidateUln("  "), StatusIs(kInvalid, HasSubstr("empty")));
}

TEST(UlnTest, RejectsWrongLength) {
  EXPECT_THAT(ValidateUln("927630868"),
              StatusIs(kInvalid, HasSubstr("10 digits, found 9")));
  EXPECT_THAT(ValidateUln("92763086860"),
              StatusIs(kInvalid, HasSubstr("10 digits, found 11")));
}

TEST(UlnTest, RejectsNonDigit) {
  EXPECT_THAT(ValidateUln("92763O8686"),
              StatusIs(kInvalid, HasSubstr("position 6 must be a digit")));
  EXPECT_THAT(ValidateUln("927630868X"),
              StatusIs(kInvalid, HasSubstr("position 10 must be a digit")));
}

TEST(UlnTest, RejectsLeadingZero) {
  EXPECT_THAT(ValidateUln("0276308686"),
              StatusIs(kInvalid, HasSubstr("position 1 must not be 0")));
  EXPECT_THAT(ComputeUlnCheckDigit("027630868"),
              StatusIs(kInvalid, HasSubstr("position 1")));
}

TEST(UlnTest, RejectsWrongCheckDigit) {
  EXPECT_THAT(ValidateUln("9276308685"),
              StatusIs(kInvalid, HasSubstr("check digit at position 10")));
}

TEST(UlnTest, RejectsPrefixWithNoCheckDigit) {
  // 1x10 + 6x2 = 22 = 0 mod 11: the check digit would have to be 10.
  EXPECT_THAT(ComputeUlnCheckDigit("100000006"),
              StatusIs(kInvalid, HasSubstr("no check digit")));
  EXPECT_THAT(MakeUln("100000006"), StatusIs(kInvalid));
  for (char c = '0'; c <= '9'; ++c) {
    EXPECT_FALSE(IsValidUln(std::string("100000006") + c));
  }
}

TEST(UlnTest, ComputeRejectsWrongWidthAndNonDigits) {
  EXPECT_THAT(ComputeUlnCheckDigit("12345678"),
              StatusIs(kInvalid, HasSubstr("found 8")));
  EXPECT_THAT(ComputeUlnCheckDigit("1234567890"),
              StatusIs(kInvalid, HasSubstr("found 10")));
  EXPECT_THAT(ComputeUlnCheckDigit("1234x6789"),
              StatusIs(kInvalid, HasSubstr("position 5")));
}

TEST(UlnTest, ErrorsNeverEchoTheIdentifier) {
  for (const std::string in : {"9276308685", "92763O8686", "0276308686", "927630868"}) {
    auto r = ValidateUln(in);
    ASSERT_FALSE(r.ok());
    EXPECT_THAT(std::string(r.status().message()), Not(HasSubstr("27630")));
  }
}

TEST(UlnTest, RoundTripAndSingleErrorDetection) {
  std::mt19937_64 rng(7);
  int made_count = 0;
  int no_check = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string first9 = std::to_string(100000000 + rng() % 900000000);
    absl::StatusOr<std::string> uln = MakeUln(first9);
    if (!uln.ok()) {
      ++no_check;  // about 1 in 11 prefixes has no check digit
      continue;
    }
    ++made_count;
    ASSERT_THAT(ValidateUln(*uln), IsOkAndHolds(*uln));
    // Weights 10..1 are non-zero mod the prime 11: any single-digit
    // substitution anywhere is detected.
    const size_t pos = rng() % 10;
    std::string sub = *uln;
    sub[pos] = static_cast<char>('0' + (sub[pos] - '0' + 1 + rng() % 9) % 10);
    EXPECT_FALSE(IsValidUln(sub)) << "substitution at " << pos + 1;
  }
  EXPECT_GT(made_count, 17000);
  EXPECT_GT(no_check, 1000);
}

}  // namespace
}  // namespace datalab::identifiers
