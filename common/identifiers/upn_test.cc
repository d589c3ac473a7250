#include "common/identifiers/upn.h"

#include <cstdint>
#include <random>
#include <set>
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
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

// --- Known answers ---------------------------------------------------------

TEST(UpnTest, PublishedExampleIsValid) {
  // The worked example used by python-stdnum's gb.upn module:
  // 8x2 + 1x4 + 2x5 + 5x10 + 1x13 = 93 = 4x23 + 1 -> B.
  auto upn = ValidateUpn("B801200005001");
  ASSERT_THAT(upn, IsOk());
  EXPECT_EQ(upn->normalised, "B801200005001");
  EXPECT_EQ(upn->kind, UpnKind::kPermanent);
  EXPECT_THAT(ComputeUpnCheckLetter("801200005001"), IsOkAndHolds('B'));
}

TEST(UpnTest, PublishedExampleWithWrongLetterIsRejected) {
  EXPECT_THAT(ValidateUpn("A801200005001"),
              StatusIs(kInvalid, HasSubstr("check letter")));
}

TEST(UpnTest, MisWorkedExampleFollowsTheSpecNotTheArithmeticSlip) {
  // MIS support pages (census error 1510) work "?207000016049" to Q, but
  // their own sum has a slip: 2x2 + 7x4 + 1x9 + 6x10 + 4x12 + 9x13 = 266,
  // 266 mod 23 = 13, and 13 is P in the published mapping (P=13, Q=14).
  EXPECT_THAT(ComputeUpnCheckLetter("207000016049"), IsOkAndHolds('P'));
  EXPECT_THAT(ValidateUpn("P207000016049"), IsOk());
  EXPECT_THAT(ValidateUpn("Q207000016049"),
              StatusIs(kInvalid, HasSubstr("check letter")));
}

TEST(UpnTest, TemporaryUpnKnownAnswers) {
  // Final letter A has value 0: 16 + 4 + 10 + 50 + 0 = 80, 80 mod 23 = 11 -> M.
  auto a = ValidateUpn("M80120000500A");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->kind, UpnKind::kTemporary);
  // Final letter Z has value 22: 80 + 22x13 = 366, 366 mod 23 = 21 -> Y.
  auto z = ValidateUpn("Y80120000500Z");
  ASSERT_THAT(z, IsOk());
  EXPECT_EQ(z->kind, UpnKind::kTemporary);
  EXPECT_THAT(ComputeUpnCheckLetter("80120000500Z"), IsOkAndHolds('Y'));
}

TEST(UpnTest, AlphabetSkipsIOS) {
  EXPECT_EQ(kUpnAlphabet.size(), 23u);
  EXPECT_EQ(UpnLetterValue('A'), 0);
  EXPECT_EQ(UpnLetterValue('H'), 7);
  EXPECT_EQ(UpnLetterValue('J'), 8);
  EXPECT_EQ(UpnLetterValue('P'), 13);
  EXPECT_EQ(UpnLetterValue('T'), 16);
  EXPECT_EQ(UpnLetterValue('Z'), 22);
  EXPECT_EQ(UpnLetterValue('I'), -1);
  EXPECT_EQ(UpnLetterValue('O'), -1);
  EXPECT_EQ(UpnLetterValue('S'), -1);
  EXPECT_EQ(UpnLetterValue('a'), -1);
  EXPECT_EQ(UpnLetterValue('1'), -1);
}

// --- Normalisation ---------------------------------------------------------

TEST(UpnTest, NormalisesCaseAndSurroundingWhitespace) {
  auto upn = ValidateUpn("  b801200005001\t\r\n");
  ASSERT_THAT(upn, IsOk());
  EXPECT_EQ(upn->normalised, "B801200005001");
  auto temp = ValidateUpn("m80120000500a");
  ASSERT_THAT(temp, IsOk());
  EXPECT_EQ(temp->normalised, "M80120000500A");
  EXPECT_EQ(NormaliseUpn(" x1y "), "X1Y");
}

// --- Every failure path ----------------------------------------------------

TEST(UpnTest, RejectsEmptyAndBlank) {
  EXPECT_THAT(ValidateUpn(""), StatusIs(kInvalid, HasSubstr("empty")));
  EXPECT_THAT(ValidateUpn("   \t"), StatusIs(kInvalid, HasSubstr("empty")));
}

TEST(UpnTest, RejectsWrongLength) {
  EXPECT_THAT(ValidateUpn("B80120000500"),
              StatusIs(kInvalid, HasSubstr("13 characters, found 12")));
  EXPECT_THAT(ValidateUpn("B8012000050011"),
              StatusIs(kInvalid, HasSubstr("13 characters, found 14")));
  // Internal whitespace is not silently removed.
  EXPECT_THAT(ValidateUpn("B801 200005001"),
              StatusIs(kInvalid, HasSubstr("found 14")));
}

TEST(UpnTest, RejectsBadFirstCharacter) {
  for (const char* bad : {"1801200005001", "I801200005001", "O801200005001",
                          "S801200005001", "*801200005001"}) {
    EXPECT_THAT(ValidateUpn(bad), StatusIs(kInvalid, HasSubstr("position 1")))
        << "case " << bad[0];
  }
}

TEST(UpnTest, RejectsNonDigitInPositions2To12) {
  const std::string good = "B801200005001";
  for (int pos = 2; pos <= 12; ++pos) {
    std::string bad = good;
    bad[pos - 1] = 'A';
    EXPECT_THAT(ValidateUpn(bad),
                StatusIs(kInvalid, AllOf(HasSubstr("position " + std::to_string(pos)),
                                         HasSubstr("must be a digit"))));
  }
  // A letter at position 12 is not a temporary UPN (the letter goes at 13).
  EXPECT_THAT(ValidateUpn("X8012000050A1"),
              StatusIs(kInvalid, HasSubstr("position 12")));
}

TEST(UpnTest, RejectsBadThirteenthCharacter) {
  for (char c : {'I', 'O', 'S', '-', '#'}) {
    std::string bad = "B80120000500";
    bad += c;
    EXPECT_THAT(ValidateUpn(bad), StatusIs(kInvalid, HasSubstr("position 13")))
        << "case '" << c << "'";
  }
}

TEST(UpnTest, ErrorsNeverEchoTheIdentifier) {
  const std::string inputs[] = {"A801200005001", "B80120000500", "B801X00005001",
                                "B80120000500S", "1801200005001"};
  for (const std::string& in : inputs) {
    auto r = ValidateUpn(in);
    ASSERT_FALSE(r.ok());
    const std::string msg(r.status().message());
    EXPECT_THAT(msg, Not(HasSubstr(in)));
    EXPECT_THAT(msg, Not(HasSubstr("8012")));
    EXPECT_THAT(msg, Not(HasSubstr("00500")));
  }
}

TEST(UpnTest, ComputeCheckLetterRejectsBadBodies) {
  EXPECT_THAT(ComputeUpnCheckLetter("80120000500"),
              StatusIs(kInvalid, HasSubstr("12 characters")));
  EXPECT_THAT(ComputeUpnCheckLetter("8012000050011"),
              StatusIs(kInvalid, HasSubstr("12 characters")));
  EXPECT_THAT(ComputeUpnCheckLetter("8012A0005001"),
              StatusIs(kInvalid, HasSubstr("position 6")));
  EXPECT_THAT(ComputeUpnCheckLetter("80120000500I"),
              StatusIs(kInvalid, HasSubstr("position 13")));
  // Lower case is not normalised by the low-level function.
  EXPECT_THAT(ComputeUpnCheckLetter("80120000500a"),
              StatusIs(kInvalid, HasSubstr("position 13")));
}

// --- Generation -------------------------------------------------------------

TEST(UpnTest, MakeUpnBuildsPartsInOrder) {
  auto upn = MakeUpn(383, 2001, 25, 1);
  ASSERT_THAT(upn, IsOk());
  EXPECT_EQ(*upn, "D383200125001");
  EXPECT_THAT(MakeUpn(801, 2000, 5, 1), IsOkAndHolds("B801200005001"));
  EXPECT_THAT(MakeUpn(1, 7, 0, 0), IsOkAndHolds(::testing::EndsWith("001000700000")));
}

TEST(UpnTest, MakeUpnRejectsOutOfRangeParts) {
  EXPECT_THAT(MakeUpn(-1, 1, 1, 1), StatusIs(kInvalid, HasSubstr("LA code")));
  EXPECT_THAT(MakeUpn(1000, 1, 1, 1), StatusIs(kInvalid, HasSubstr("LA code")));
  EXPECT_THAT(MakeUpn(383, 10000, 1, 1),
              StatusIs(kInvalid, HasSubstr("establishment")));
  EXPECT_THAT(MakeUpn(383, -5, 1, 1),
              StatusIs(kInvalid, HasSubstr("establishment")));
  EXPECT_THAT(MakeUpn(383, 1, 2025, 1), StatusIs(kInvalid, HasSubstr("year")));
  EXPECT_THAT(MakeUpn(383, 1, -1, 1), StatusIs(kInvalid, HasSubstr("year")));
  EXPECT_THAT(MakeUpn(383, 1, 25, 1000), StatusIs(kInvalid, HasSubstr("serial")));
  EXPECT_THAT(MakeUpn(383, 1, 25, -1), StatusIs(kInvalid, HasSubstr("serial")));
}

TEST(UpnTest, MakeTemporaryUpn) {
  EXPECT_THAT(MakeTemporaryUpn(801, 2000, 5, 0, 'A'), IsOkAndHolds("M80120000500A"));
  EXPECT_THAT(MakeTemporaryUpn(801, 2000, 5, 0, 'Z'), IsOkAndHolds("Y80120000500Z"));
  EXPECT_THAT(MakeTemporaryUpn(801, 2000, 5, 100, 'A'),
              StatusIs(kInvalid, HasSubstr("serial")));
  EXPECT_THAT(MakeTemporaryUpn(801, 2000, 5, 1, 'I'),
              StatusIs(kInvalid, HasSubstr("letter")));
  EXPECT_THAT(MakeTemporaryUpn(801, 2000, 5, 1, 'a'),
              StatusIs(kInvalid, HasSubstr("letter")));
  EXPECT_THAT(MakeTemporaryUpn(1000, 2000, 5, 1, 'A'),
              StatusIs(kInvalid, HasSubstr("LA code")));
  EXPECT_THAT(MakeTemporaryUpn(801, 20000, 5, 1, 'A'),
              StatusIs(kInvalid, HasSubstr("establishment")));
  EXPECT_THAT(MakeTemporaryUpn(801, 2000, 100, 1, 'A'),
              StatusIs(kInvalid, HasSubstr("year")));
}

// --- Round trip and error detection over many generated values -------------

TEST(UpnTest, RoundTripAndSingleErrorDetection) {
  std::mt19937_64 rng(20251101);
  std::set<std::string> seen;
  for (int i = 0; i < 20000; ++i) {
    const int la = static_cast<int>(rng() % 1000);
    const int estab = static_cast<int>(rng() % 10000);
    const int year = static_cast<int>(rng() % 100);
    const bool temporary = rng() % 5 == 0;
    absl::StatusOr<std::string> made =
        temporary ? MakeTemporaryUpn(la, estab, year, static_cast<int>(rng() % 100),
                                     kUpnAlphabet[rng() % kUpnAlphabet.size()])
                  : MakeUpn(la, estab, year, static_cast<int>(rng() % 1000));
    ASSERT_THAT(made, IsOk());
    auto upn = ValidateUpn(*made);
    ASSERT_THAT(upn, IsOk()) << i;
    EXPECT_EQ(upn->normalised, *made);
    EXPECT_EQ(upn->kind, temporary ? UpnKind::kTemporary : UpnKind::kPermanent);
    seen.insert(*made);

    // Every other check letter is rejected.
    std::string wrong = *made;
    wrong[0] = kUpnAlphabet[(UpnLetterValue(wrong[0]) + 1 + rng() % 22) % 23];
    EXPECT_FALSE(IsValidUpn(wrong));

    // Any single-digit substitution in positions 2..12 is detected: weights
    // 2..13 are non-zero mod the prime 23 and digit differences are < 23.
    const size_t pos = 1 + rng() % 11;
    std::string sub = *made;
    sub[pos] = static_cast<char>('0' + (sub[pos] - '0' + 1 + rng() % 9) % 10);
    EXPECT_FALSE(IsValidUpn(sub)) << "substitution at " << pos + 1;

    // Any adjacent transposition of different digits in positions 2..12 is
    // detected: adjacent weights differ by 1.
    const size_t t = 1 + rng() % 10;
    std::string swapped = *made;
    std::swap(swapped[t], swapped[t + 1]);
    if (swapped != *made) {
      EXPECT_FALSE(IsValidUpn(swapped));
    }
  }
  EXPECT_GT(seen.size(), 19000u);
}

}  // namespace
}  // namespace datalab::identifiers
