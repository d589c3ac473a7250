#include "common/jwt/internal/base64url.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::jwt::internal {
namespace {

using ::testing::Eq;
using ::testing::Optional;

TEST(Base64UrlTest, Rfc4648Vectors) {
  EXPECT_EQ(Base64UrlEncode(""), "");
  EXPECT_EQ(Base64UrlEncode("f"), "Zg");
  EXPECT_EQ(Base64UrlEncode("fo"), "Zm8");
  EXPECT_EQ(Base64UrlEncode("foo"), "Zm9v");
  EXPECT_EQ(Base64UrlEncode("foob"), "Zm9vYg");
  EXPECT_EQ(Base64UrlEncode("fooba"), "Zm9vYmE");
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_THAT(Base64UrlDecode("Zm9vYmE"), Optional(Eq("fooba")));
  EXPECT_THAT(Base64UrlDecode(""), Optional(Eq("")));
}

TEST(Base64UrlTest, UsesUrlAlphabet) {
  EXPECT_EQ(Base64UrlEncode("\xfb\xff"), "-_8");
  EXPECT_THAT(Base64UrlDecode("-_8"), Optional(Eq("\xfb\xff")));
}

TEST(Base64UrlTest, RoundTripsAllLengths) {
  std::string data;
  for (int i = 0; i < 300; ++i) {
    EXPECT_THAT(Base64UrlDecode(Base64UrlEncode(data)), Optional(Eq(data))) << i;
    data.push_back(static_cast<char>(i * 37));
  }
}

TEST(Base64UrlTest, RejectsNonStrictInput) {
  EXPECT_EQ(Base64UrlDecode("Zg=="), std::nullopt);   // padding
  EXPECT_EQ(Base64UrlDecode("Zm8="), std::nullopt);   // padding
  EXPECT_EQ(Base64UrlDecode("Zm9v "), std::nullopt);  // whitespace
  EXPECT_EQ(Base64UrlDecode("Zm\n9v"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode("+/8"), std::nullopt);    // standard alphabet
  EXPECT_EQ(Base64UrlDecode("Z"), std::nullopt);      // impossible length
  EXPECT_EQ(Base64UrlDecode("Zh"), std::nullopt);     // non-zero trailing bits
  EXPECT_EQ(Base64UrlDecode("Zm9"), std::nullopt);
  EXPECT_EQ(Base64UrlDecode(std::string("Zg\0", 3)), std::nullopt);
}

}  // namespace
}  // namespace datalab::jwt::internal
