#include "common/crypto/sha256.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/crypto/encoding.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::crypto {
namespace {

using ::datalab::testing::IsOk;

TEST(Sha256, KnownAnswers) {
  // FIPS 180-2 appendix B.1 and B.2, and the empty string.
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256(
                "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

// Sha256() keeps one context per thread: many threads at once, and threads
// that end and are replaced, all get the known answers.
TEST(Sha256, KnownAnswersFromManyThreadsThatComeAndGo) {
  const std::string abc_hex = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  const std::string empty_hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  std::atomic<int> wrong{0};
  for (int round = 0; round < 3; ++round) {
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 2000; ++i) {
          if (HexEncode(Sha256(i % 2 == 0 ? "abc" : "")) != (i % 2 == 0 ? abc_hex : empty_hex)) {
            ++wrong;
          }
        }
      });
    }
    for (auto& th : threads) th.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

TEST(Sha256Hasher, IncrementalMatchesOneShot) {
  std::string msg(1000, 'x');
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = static_cast<char>(i * 7);
  absl::StatusOr<Sha256Hasher> h = Sha256Hasher::Create();
  ASSERT_THAT(h, IsOk());
  for (size_t split : {0u, 1u, 63u, 64u, 65u, 999u, 1000u}) {
    h->Update(std::string_view(msg).substr(0, split));
    h->Update(std::string_view(msg).substr(split));
    absl::StatusOr<Sha256Digest> d = h->Finish();
    ASSERT_THAT(d, IsOk());
    EXPECT_EQ(*d, Sha256(msg)) << "split at " << split;
  }
  // Finish() resets: an immediately following Finish() hashes "".
  absl::StatusOr<Sha256Digest> empty = h->Finish();
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(*empty, Sha256(""));
}

TEST(Sha256Hasher, MovedFromFailsCleanly) {
  absl::StatusOr<Sha256Hasher> h = Sha256Hasher::Create();
  ASSERT_THAT(h, IsOk());
  Sha256Hasher moved = std::move(*h);
  h->Update("ignored");  // NOLINT(bugprone-use-after-move): tested contract
  EXPECT_THAT(h->Finish(), ::datalab::testing::StatusIs(
                               absl::StatusCode::kFailedPrecondition));
  moved.Update("abc");
  EXPECT_THAT(moved.Finish(), ::datalab::testing::IsOkAndHolds(Sha256("abc")));
}

}  // namespace
}  // namespace datalab::crypto
