// Validation and normalisation per identifier kind, with real-format UPNs
// and ULNs whose check characters are recomputed here independently of
// common/identifiers, and the rule that an error never echoes the input.
#include "services/pseudonymisation/normalise.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::pseudonymisation {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

// Independent reference: DfE UPN check letter over positions 2..13.
char ReferenceUpnCheck(const std::string& body12) {
  const std::string alphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";
  int sum = 0;
  for (int i = 0; i < 12; ++i) {
    const char c = body12[i];
    const int v = (c >= '0' && c <= '9') ? c - '0' : static_cast<int>(alphabet.find(c));
    sum += v * (i + 2);
  }
  return alphabet[sum % 23];
}

// Independent reference: ULN check digit = 10 - (sum of digits x 10..2 mod 11).
char ReferenceUlnCheck(const std::string& first9) {
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (first9[i] - '0') * (10 - i);
  return static_cast<char>('0' + (10 - sum % 11));
}

absl::StatusOr<NormalisedIdentifier> Norm(v1::IdentifierKind kind, const std::string& raw) {
  NormalisedIdentifier out;
  absl::Status s = NormaliseIdentifier(kind, raw, &out);
  if (!s.ok()) return s;
  return out;
}

TEST(NormaliseUpnTest, PublishedExampleAndReferenceCheckLetter) {
  EXPECT_EQ(ReferenceUpnCheck("801200005001"), 'B');
  auto n = Norm(v1::UPN, "B801200005001");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->value, "B801200005001");
  EXPECT_FALSE(n->temporary);
}

TEST(NormaliseUpnTest, RealFormatExamplesAcrossLasAndYears) {
  // LA 201 (City of London) .. 938 (West Sussex), establishment, year, serial.
  const std::string bodies[] = {"201400012001", "938200024123", "380410525999",
                                "873700019042", "330500103007"};
  for (const std::string& body : bodies) {
    const std::string upn = std::string(1, ReferenceUpnCheck(body)) + body;
    auto n = Norm(v1::UPN, upn);
    ASSERT_THAT(n, IsOk()) << upn;
    EXPECT_EQ(n->value, upn);
    // Every other letter in position 1 is refused.
    for (char c : std::string("ABCDEFGHJKLMNPQRTUVWXYZ")) {
      if (c == upn[0]) continue;
      EXPECT_THAT(Norm(v1::UPN, std::string(1, c) + body),
                  StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("check letter")));
    }
  }
}

TEST(NormaliseUpnTest, CaseAndWhitespaceNormalised) {
  auto n = Norm(v1::UPN, "  b801200005001\t");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->value, "B801200005001");
}

TEST(NormaliseUpnTest, TemporaryUpnRecognised) {
  const std::string body = "80120000500A";  // 2-digit serial + letter
  const std::string upn = std::string(1, ReferenceUpnCheck(body)) + body;
  auto n = Norm(v1::UPN, upn);
  ASSERT_THAT(n, IsOk());
  EXPECT_TRUE(n->temporary);
}

TEST(NormaliseUpnTest, BadShapesRefusedWithoutEchoingInput) {
  for (const std::string bad : {"", "B80120000500", "B8012000050011", "I801200005001",
                                "B80120000500#", "B8012X0005001"}) {
    auto n = Norm(v1::UPN, bad);
    ASSERT_THAT(n, StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
    if (!bad.empty()) {
      EXPECT_THAT(std::string(n.status().message()), Not(HasSubstr(bad)));
    }
  }
}

TEST(NormaliseUlnTest, RealFormatExamples) {
  EXPECT_EQ(ReferenceUlnCheck("927630868"), '6');
  auto n = Norm(v1::ULN, " 9276308686 ");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->value, "9276308686");
  for (const std::string first9 : {"123456789", "500000000", "748392017"}) {
    const std::string uln = first9 + ReferenceUlnCheck(first9);
    EXPECT_THAT(Norm(v1::ULN, uln), IsOk()) << uln;
    std::string wrong = uln;
    wrong[9] = wrong[9] == '9' ? '0' : static_cast<char>(wrong[9] + 1);
    EXPECT_THAT(Norm(v1::ULN, wrong), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  EXPECT_THAT(Norm(v1::ULN, "0276308686"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Norm(v1::ULN, "927630868"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NormaliseUrnTest, SixDigits) {
  auto n = Norm(v1::URN, " 100000 ");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->value, "100000");
  EXPECT_THAT(Norm(v1::URN, "99999"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Norm(v1::URN, "12345a"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NormaliseStaffNumberTest, UpperCasedAndRestricted) {
  auto n = Norm(v1::STAFF_NUMBER, " ab-12/3 ");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->value, "AB-12/3");
  EXPECT_THAT(Norm(v1::STAFF_NUMBER, ""), StatusIs(absl::StatusCode::kInvalidArgument));
  auto bad = Norm(v1::STAFF_NUMBER, "AB 12");
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("position 3")));
  EXPECT_THAT(Norm(v1::STAFF_NUMBER, std::string(33, 'A')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NormaliseFreeTextTest, WhitespaceCollapsedAndLowerCased) {
  auto n = Norm(v1::FREE_TEXT, "  Jane   Q\tPublic ");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(n->value, "jane q public");
  EXPECT_THAT(Norm(v1::FREE_TEXT, "   "), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Norm(v1::FREE_TEXT, std::string("a\x01") + "b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("control")));
  EXPECT_THAT(Norm(v1::FREE_TEXT, std::string(257, 'x')),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(NormaliseTest, UnspecifiedKindRefused) {
  EXPECT_THAT(Norm(v1::IDENTIFIER_KIND_UNSPECIFIED, "x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace datalab::pseudonymisation
