#include "common/crypto/hmac.h"

#include <string>
#include <thread>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

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

// RFC 4231 sections 4.2-4.5 and 4.7-4.8 (test cases 1-4, 6 and 7),
// HMAC-SHA-256 rows. Cases 6 and 7 have a 131-byte key, longer than a
// block, which RFC 2104 hashes first. (Case 5 is a truncated tag.)
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
      {std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size "
       "data. The key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
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

TEST(HmacSha256, MatchesOpenSslHmacForEveryKeyAndMessageLength) {
  // Key lengths around the block size (64) and past it; message lengths
  // from empty to past two blocks, so every padding case of both the inner
  // and the outer hash is met.
  for (size_t key_len : {1, 13, 32, 55, 56, 63, 64, 65, 100, 128, 129, 200}) {
    std::string key(key_len, '\0');
    for (size_t i = 0; i < key_len; ++i) key[i] = static_cast<char>(i * 31 + key_len);
    absl::StatusOr<HmacSha256> h = HmacSha256::Create(key);
    ASSERT_THAT(h, IsOk());
    for (size_t msg_len = 0; msg_len <= 140; ++msg_len) {
      SCOPED_TRACE(absl::StrCat("key ", key_len, " bytes, message ", msg_len, " bytes"));
      std::string msg(msg_len, '\0');
      for (size_t i = 0; i < msg_len; ++i) msg[i] = static_cast<char>(i * 7 + msg_len);
      uint8_t want[32];
      unsigned int want_len = 0;
      ASSERT_NE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                     reinterpret_cast<const uint8_t*>(msg.data()), msg.size(), want, &want_len),
                nullptr);
      ASSERT_EQ(want_len, 32u);
      absl::StatusOr<HmacSha256Mac> got = h->Compute(msg);
      ASSERT_THAT(got, IsOk());
      EXPECT_EQ(HexEncode(*got), HexEncode(ByteView(want, want_len)));
    }
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
