#include "common/crypto/encoding.h"

#include <string>
#include <utility>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::crypto {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

// RFC 4648 section 10 test vectors.
const std::vector<std::pair<std::string, std::string>> kBase64Vectors = {
    {"", ""},         {"f", "Zg=="},     {"fo", "Zm8="},
    {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"}};
const std::vector<std::pair<std::string, std::string>> kBase32Vectors = {
    {"", ""},           {"f", "my"},         {"fo", "mzxq"},
    {"foo", "mzxw6"},   {"foob", "mzxw6yq"}, {"fooba", "mzxw6ytb"},
    {"foobar", "mzxw6ytboi"}};
const std::vector<std::pair<std::string, std::string>> kHexVectors = {
    {"", ""}, {"f", "66"}, {"foobar", "666f6f626172"},
    {std::string("\x00\xff\x10", 3), "00ff10"}};

TEST(Hex, Rfc4648Vectors) {
  for (const auto& [raw, text] : kHexVectors) {
    EXPECT_EQ(HexEncode(raw), text);
    EXPECT_THAT(HexDecode(text), IsOkAndHolds(raw));
  }
  EXPECT_THAT(HexDecode("00FFaB"), IsOkAndHolds(std::string("\x00\xff\xab", 3)));
}

TEST(Hex, RejectsBadInput) {
  EXPECT_THAT(HexDecode("abc"), StatusIs(kInvalid, HasSubstr("length 3")));
  EXPECT_THAT(HexDecode("0g"), StatusIs(kInvalid, HasSubstr("position 1")));
  EXPECT_THAT(HexDecode("zz00"), StatusIs(kInvalid, HasSubstr("position 0")));
  EXPECT_THAT(HexDecode(" 0"), StatusIs(kInvalid));
}

TEST(Base64, Rfc4648Vectors) {
  for (const auto& [raw, text] : kBase64Vectors) {
    EXPECT_EQ(Base64Encode(raw), text);
    EXPECT_THAT(Base64Decode(text), IsOkAndHolds(raw));
  }
  EXPECT_EQ(Base64Encode(std::string("\xfb\xff", 2)), "+/8=");
}

TEST(Base64, RejectsBadInput) {
  EXPECT_THAT(Base64Decode("Zg"), StatusIs(kInvalid, HasSubstr("length")));
  EXPECT_THAT(Base64Decode("Zg="), StatusIs(kInvalid, HasSubstr("length")));
  EXPECT_THAT(Base64Decode("Z==="), StatusIs(kInvalid));
  EXPECT_THAT(Base64Decode("===="), StatusIs(kInvalid));
  EXPECT_THAT(Base64Decode("Zm=v"), StatusIs(kInvalid, HasSubstr("position 2")));
  EXPECT_THAT(Base64Decode("-_8="), StatusIs(kInvalid, HasSubstr("position 0")));
  // "Zh==" decodes to 'f' only if the unused bits are ignored: non-canonical.
  EXPECT_THAT(Base64Decode("Zh=="), StatusIs(kInvalid, HasSubstr("trailing bits")));
}

TEST(Base64Url, VectorsWithoutPadding) {
  for (const auto& [raw, text] : kBase64Vectors) {
    std::string unpadded = text.substr(0, text.find('='));
    EXPECT_EQ(Base64UrlEncode(raw), unpadded);
    EXPECT_THAT(Base64UrlDecode(unpadded), IsOkAndHolds(raw));
  }
  // The URL-safe alphabet differs from the standard one in 62 and 63.
  EXPECT_EQ(Base64UrlEncode(std::string("\xfb\xff", 2)), "-_8");
  EXPECT_THAT(Base64UrlDecode("-_8"), IsOkAndHolds(std::string("\xfb\xff", 2)));
}

TEST(Base64Url, RejectsBadInput) {
  EXPECT_THAT(Base64UrlDecode("Zg=="), StatusIs(kInvalid));  // padding
  EXPECT_THAT(Base64UrlDecode("+/8"), StatusIs(kInvalid, HasSubstr("position 0")));
  EXPECT_THAT(Base64UrlDecode("Zm9vY"), StatusIs(kInvalid, HasSubstr("length 5")));
  EXPECT_THAT(Base64UrlDecode("Zh"), StatusIs(kInvalid, HasSubstr("trailing bits")));
}

TEST(Base32, Rfc4648VectorsLowercaseUnpadded) {
  for (const auto& [raw, text] : kBase32Vectors) {
    EXPECT_EQ(Base32Encode(raw), text);
    EXPECT_THAT(Base32Decode(text), IsOkAndHolds(raw));
  }
  // RFC 4648 prints these in upper case; decoding accepts both.
  EXPECT_THAT(Base32Decode("MZXW6YTBOI"), IsOkAndHolds("foobar"));
}

TEST(Base32, RejectsBadInput) {
  EXPECT_THAT(Base32Decode("my======"), StatusIs(kInvalid));
  EXPECT_THAT(Base32Decode("m"), StatusIs(kInvalid, HasSubstr("length 1")));
  EXPECT_THAT(Base32Decode("mzx"), StatusIs(kInvalid, HasSubstr("length 3")));
  EXPECT_THAT(Base32Decode("m1"), StatusIs(kInvalid, HasSubstr("position 1")));
  EXPECT_THAT(Base32Decode("mz"), StatusIs(kInvalid, HasSubstr("trailing bits")));
}

TEST(Encodings, RoundTripAllLengthsAndByteValues) {
  std::string data;
  for (int len = 0; len < 70; ++len) {
    EXPECT_THAT(HexDecode(HexEncode(data)), IsOkAndHolds(data));
    EXPECT_THAT(Base64Decode(Base64Encode(data)), IsOkAndHolds(data));
    EXPECT_THAT(Base64UrlDecode(Base64UrlEncode(data)), IsOkAndHolds(data));
    EXPECT_THAT(Base32Decode(Base32Encode(data)), IsOkAndHolds(data));
    data.push_back(static_cast<char>(len * 37 + 250));
  }
}

TEST(Encodings, SecretDecodersMatchAndFailAlike) {
  absl::StatusOr<SecureBytes> hex = HexDecodeSecret("00ff");
  ASSERT_THAT(hex, IsOk());
  EXPECT_EQ(hex->AsStringView(), std::string("\x00\xff", 2));
  absl::StatusOr<SecureBytes> b64 = Base64DecodeSecret("Zm9vYg==");
  ASSERT_THAT(b64, IsOk());
  EXPECT_EQ(b64->AsStringView(), "foob");
  absl::StatusOr<SecureBytes> empty = Base64DecodeSecret("");
  ASSERT_THAT(empty, IsOk());
  EXPECT_TRUE(empty->empty());
  EXPECT_THAT(HexDecodeSecret("0"), StatusIs(kInvalid));
  EXPECT_THAT(Base64DecodeSecret("Zm9vYg="), StatusIs(kInvalid));
  EXPECT_THAT(Base64DecodeSecret("Zm9v!g=="), Not(IsOk()));
}

TEST(Encodings, ErrorsDoNotEchoInput) {
  absl::Status s = Base64Decode("c2VjcmV0!!!!").status();
  EXPECT_THAT(std::string(s.message()), Not(HasSubstr("c2VjcmV0")));
}

}  // namespace
}  // namespace datalab::crypto
