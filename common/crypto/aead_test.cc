#include "common/crypto/aead.h"

#include <string>

#include "common/crypto/encoding.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::crypto {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;

std::string Unhex(std::string_view h) { return *HexDecode(h); }

const std::string kKey = std::string(32, '\x07');

TEST(Aead, GcmKnownAnswer) {
  // McGrew & Viega, "The Galois/Counter Mode of Operation", test case 16
  // (AES-256, 96-bit IV, with associated data).
  std::string key = Unhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  std::string iv = Unhex("cafebabefacedbaddecaf888");
  std::string pt = Unhex(
      "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
      "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
  std::string aad = Unhex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
  std::string want_ct_tag =
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
      "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662"
      "76fc6ece0f4e1768cddf8853bb2d551b";
  absl::StatusOr<std::string> sealed =
      internal::AeadSealWithNonceForTesting(key, iv, pt, aad);
  ASSERT_THAT(sealed, IsOk());
  EXPECT_EQ(HexEncode(*sealed), HexEncode(iv) + want_ct_tag);
  absl::StatusOr<SecureBytes> opened = Aead::Open(key, *sealed, aad);
  ASSERT_THAT(opened, IsOk());
  EXPECT_EQ(opened->AsStringView(), pt);
}

TEST(Aead, RoundTripsAllSizes) {
  std::string pt;
  for (int len = 0; len < 100; ++len) {
    absl::StatusOr<std::string> sealed = Aead::Seal(kKey, pt, "ctx");
    ASSERT_THAT(sealed, IsOk());
    EXPECT_EQ(sealed->size(), pt.size() + Aead::kOverhead);
    absl::StatusOr<SecureBytes> opened = Aead::Open(kKey, *sealed, "ctx");
    ASSERT_THAT(opened, IsOk());
    EXPECT_EQ(opened->AsStringView(), pt);
    pt.push_back(static_cast<char>(len));
  }
  // Empty aad is fine too.
  absl::StatusOr<std::string> sealed = Aead::Seal(kKey, "x", "");
  ASSERT_THAT(sealed, IsOk());
  EXPECT_THAT(Aead::Open(kKey, *sealed, ""), IsOk());
}

TEST(Aead, NoncesAreFreshPerSeal) {
  absl::StatusOr<std::string> a = Aead::Seal(kKey, "same", "ctx");
  absl::StatusOr<std::string> b = Aead::Seal(kKey, "same", "ctx");
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_NE(a->substr(0, Aead::kNonceSize), b->substr(0, Aead::kNonceSize));
  EXPECT_NE(*a, *b);
}

TEST(Aead, TamperingWithAnyPartIsRejected) {
  const std::string pt = "a wrapped pseudonymisation key..";
  absl::StatusOr<std::string> sealed = Aead::Seal(kKey, pt, "pupil/v1");
  ASSERT_THAT(sealed, IsOk());
  const auto kAuth = StatusIs(absl::StatusCode::kDataLoss, "authentication failed");
  // Every single-bit flip anywhere (nonce, ciphertext, tag) is caught.
  for (size_t i = 0; i < sealed->size(); ++i) {
    for (int bit : {0, 7}) {
      std::string bad = *sealed;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      EXPECT_THAT(Aead::Open(kKey, bad, "pupil/v1"), kAuth) << "byte " << i;
    }
  }
  // Wrong aad, wrong key.
  EXPECT_THAT(Aead::Open(kKey, *sealed, "pupil/v2"), kAuth);
  EXPECT_THAT(Aead::Open(kKey, *sealed, ""), kAuth);
  EXPECT_THAT(Aead::Open(std::string(32, '\x08'), *sealed, "pupil/v1"), kAuth);
  // Truncated or extended ciphertext.
  EXPECT_THAT(Aead::Open(kKey, sealed->substr(0, sealed->size() - 1), "pupil/v1"), kAuth);
  EXPECT_THAT(Aead::Open(kKey, *sealed + "x", "pupil/v1"), kAuth);
  // Error text never carries plaintext.
  absl::Status s = Aead::Open(kKey, sealed->substr(1) + "x", "pupil/v1").status();
  EXPECT_EQ(s.message(), "authentication failed");
}

TEST(Aead, RejectsBadKeysAndShortInput) {
  const auto kInvalid = StatusIs(absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Aead::Seal(std::string(16, 'k'), "x", ""), kInvalid);
  EXPECT_THAT(Aead::Seal("", "x", ""), kInvalid);
  EXPECT_THAT(Aead::Open(std::string(31, 'k'), std::string(40, 'x'), ""), kInvalid);
  EXPECT_THAT(Aead::Open(kKey, std::string(27, 'x'), ""), kInvalid);
  EXPECT_THAT(Aead::Open(kKey, "", ""), kInvalid);
  // Exactly nonce+tag is a valid (empty) message shape but a forged one.
  EXPECT_THAT(Aead::Open(kKey, std::string(28, 'x'), ""),
              StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(internal::AeadSealWithNonceForTesting(kKey, "short", "x", ""), kInvalid);
}

}  // namespace
}  // namespace datalab::crypto
