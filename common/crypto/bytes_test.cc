#include "common/crypto/bytes.h"

#include <array>
#include <set>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::crypto {
namespace {

using ::datalab::testing::IsOk;

TEST(ByteView, AcceptsCommonByteContainers) {
  std::string s = "abc";
  std::vector<uint8_t> v = {'a', 'b', 'c'};
  std::array<uint8_t, 3> a = {'a', 'b', 'c'};
  SecureBytes sb(ByteView("abc"));
  for (ByteView view : {ByteView(s), ByteView(std::string_view(s)),
                        ByteView(absl::string_view(s)),
                        ByteView("abc"), ByteView(v), ByteView(a),
                        ByteView(sb)}) {
    EXPECT_EQ(view.size(), 3u);
    EXPECT_EQ(view.AsStringView(), "abc");
  }
  EXPECT_TRUE(ByteView().empty());
  // Embedded NULs survive when the length is explicit.
  std::string with_nul("a\0b", 3);
  EXPECT_EQ(ByteView(with_nul).size(), 3u);
}

TEST(SecureBytes, ConstructsZeroedOrCopied) {
  SecureBytes zero(4);
  ASSERT_EQ(zero.size(), 4u);
  for (size_t i = 0; i < zero.size(); ++i) EXPECT_EQ(zero.data()[i], 0);
  SecureBytes copy(ByteView("key!"));
  EXPECT_EQ(copy.AsStringView(), "key!");
  SecureBytes empty(0);
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.data(), nullptr);
}

TEST(SecureBytes, MoveTransfersAndEmptiesSource) {
  SecureBytes a(ByteView("secret"));
  const uint8_t* buffer = a.data();
  SecureBytes b(std::move(a));
  EXPECT_EQ(b.data(), buffer);  // handed over, not copied
  EXPECT_EQ(b.AsStringView(), "secret");
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): tested contract
  EXPECT_EQ(a.data(), nullptr);

  SecureBytes c(ByteView("other"));
  c = std::move(b);
  EXPECT_EQ(c.AsStringView(), "secret");
  EXPECT_TRUE(b.empty());  // NOLINT(bugprone-use-after-move)
}

TEST(SecureBytes, CloneIsDeepAndClearWipes) {
  SecureBytes a(ByteView("secret"));
  SecureBytes b = a.Clone();
  EXPECT_NE(a.data(), b.data());
  EXPECT_TRUE(a == b);
  b.data()[0] ^= 1;
  EXPECT_TRUE(a != b);
  a.Clear();
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(a == b);
}

TEST(RandomBytes, ReturnsRequestedLengthAndDiffers) {
  std::set<std::string> seen;
  for (int i = 0; i < 16; ++i) {
    absl::StatusOr<SecureBytes> r = RandomBytes(32);
    ASSERT_THAT(r, IsOk());
    ASSERT_EQ(r->size(), 32u);
    seen.insert(std::string(r->AsStringView()));
  }
  EXPECT_EQ(seen.size(), 16u);  // 256-bit collisions do not happen
  absl::StatusOr<SecureBytes> none = RandomBytes(0);
  ASSERT_THAT(none, IsOk());
  EXPECT_TRUE(none->empty());
}

TEST(RandomFill, FillsCallerBuffer) {
  std::array<uint8_t, 64> buf{};
  ASSERT_THAT(RandomFill(absl::MakeSpan(buf)), IsOk());
  std::array<uint8_t, 64> zero{};
  EXPECT_NE(buf, zero);
  EXPECT_THAT(RandomFill(absl::Span<uint8_t>()), IsOk());
}

TEST(ConstantTimeEquals, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals(ByteView(), ""));
}

}  // namespace
}  // namespace datalab::crypto
