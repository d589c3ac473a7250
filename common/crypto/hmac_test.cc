#include "common/crypto/hmac.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crypto/encoding.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::crypto {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;

struct Rfc4231Case {
  std::string key;
  std::string data;
  std::string mac_hex;
};

// RFC 4231 section 4.2-4.5 (test cases 1-4), HMAC-SHA-256 rows.
std::vector<Rfc4231Case> Rfc4231Cases() {
  std::string key4;
  for (int i = 1; i <= 25; ++i) key4.push_back(static_cast<char>(i));
  return {
      {std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {key4, std::string(50, '\xcd'),
       "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
  };
}

TEST(HmacSha256, Rfc4231KnownAnswers) {
  int n = 0;
  for (const Rfc4231Case& c : Rfc4231Cases()) {
    SCOPED_TRACE(absl::StrCat("RFC 4231 test case ", ++n));
    absl::StatusOr<HmacSha256> h = HmacSha256::Create(c.key);
    ASSERT_THAT(h, IsOk());
    absl::StatusOr<HmacSha256Mac> mac = h->Compute(c.data);
    ASSERT_THAT(mac, IsOk());
    EXPECT_EQ(HexEncode(*mac), c.mac_hex);
    absl::StatusOr<HmacSha256Mac> once = HmacSha256Once(c.key, c.data);
    ASSERT_THAT(once, IsOk());
    EXPECT_EQ(HexEncode(*once), c.mac_hex);
  }
}

TEST(HmacSha256, ReusedContextGivesSameResultsAsFresh) {
  // The key is set once; every Compute() must start from the keyed state,
  // whatever was hashed before.
  absl::StatusOr<HmacSha256> h = HmacSha256::Create("Jefe");
  ASSERT_THAT(h, IsOk());
  for (int i = 0; i < 3; ++i) {
    ASSERT_THAT(h->Compute(std::string(1000, 'z')), IsOk());
    absl::StatusOr<HmacSha256Mac> mac = h->Compute("what do ya want for nothing?");
    ASSERT_THAT(mac, IsOk());
    EXPECT_EQ(HexEncode(*mac),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  }
  absl::StatusOr<HmacSha256Mac> empty = h->Compute("");
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(*empty, *HmacSha256Once("Jefe", ""));
}

TEST(HmacSha256, RejectsEmptyKey) {
  EXPECT_THAT(HmacSha256::Create(""), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(HmacSha256Once("", "msg"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HmacSha256, VerifyAcceptsFullAndTruncatedTagsOnly) {
  absl::StatusOr<HmacSha256> h = HmacSha256::Create("Jefe");
  ASSERT_THAT(h, IsOk());
  HmacSha256Mac mac = *h->Compute("message");
  EXPECT_THAT(h->Verify("message", mac), IsOk());
  EXPECT_THAT(h->Verify("message", ByteView(mac.data(), 16)), IsOk());
  EXPECT_THAT(h->Verify("messagE", mac),
              StatusIs(absl::StatusCode::kDataLoss, "authentication failed"));
  HmacSha256Mac bad = mac;
  bad[31] ^= 0x80;
  EXPECT_THAT(h->Verify("message", bad), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(h->Verify("message", ByteView(mac.data(), 15)),
              StatusIs(absl::StatusCode::kInvalidArgument));
  std::string too_long(reinterpret_cast<const char*>(mac.data()), mac.size());
  too_long.push_back('x');
  EXPECT_THAT(h->Verify("message", too_long),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(HmacSha256, MovedFromInstanceFailsCleanly) {
  absl::StatusOr<HmacSha256> h = HmacSha256::Create("k");
  ASSERT_THAT(h, IsOk());
  HmacSha256 other = std::move(*h);
  // NOLINTNEXTLINE(bugprone-use-after-move): tested contract
  EXPECT_THAT(h->Compute("x"), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(h->Clone(), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(other.Compute("x"), IsOk());
}

TEST(HmacSha256, ClonesGiveIdenticalResultsFromTwoThreads) {
  absl::StatusOr<HmacSha256> original = HmacSha256::Create(std::string(32, '\x42'));
  ASSERT_THAT(original, IsOk());
  constexpr int kMessages = 2000;
  std::vector<std::string> messages;
  std::vector<HmacSha256Mac> expected;
  for (int i = 0; i < kMessages; ++i) {
    messages.push_back(absl::StrCat("UPN-A", 1000000 + i * 7919));
    absl::StatusOr<HmacSha256Mac> mac = original->Compute(messages.back());
    ASSERT_THAT(mac, IsOk());
    expected.push_back(*mac);
  }
  absl::StatusOr<HmacSha256> c1 = original->Clone();
  absl::StatusOr<HmacSha256> c2 = original->Clone();
  ASSERT_THAT(c1, IsOk());
  ASSERT_THAT(c2, IsOk());
  std::vector<HmacSha256Mac> out1(kMessages), out2(kMessages);
  bool ok1 = true, ok2 = true;
  auto work = [&messages](HmacSha256* h, std::vector<HmacSha256Mac>* out,
                          bool* ok) {
    // Several passes so the threads really overlap.
    for (int pass = 0; pass < 5; ++pass) {
      for (int i = 0; i < kMessages; ++i) {
        absl::StatusOr<HmacSha256Mac> mac = h->Compute(messages[i]);
        if (!mac.ok()) { *ok = false; return; }
        (*out)[i] = *mac;
      }
    }
  };
  std::thread t1(work, &*c1, &out1, &ok1);
  std::thread t2(work, &*c2, &out2, &ok2);
  t1.join();
  t2.join();
  EXPECT_TRUE(ok1);
  EXPECT_TRUE(ok2);
  EXPECT_EQ(out1, expected);
  EXPECT_EQ(out2, expected);
  // The original keeps working after being cloned.
  EXPECT_THAT(original->Compute(messages[0]),
              ::datalab::testing::IsOkAndHolds(expected[0]));
}

}  // namespace
}  // namespace datalab::crypto
