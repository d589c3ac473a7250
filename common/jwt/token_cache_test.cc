#include "common/jwt/token_cache.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/jwt/signer.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::jwt {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::nlohmann::json;

constexpr int64_t kNow = 1'700'000'000;

VerifiedToken TokenExpiringAt(int64_t exp, const std::string& sub = "u") {
  VerifiedToken t;
  t.subject = sub;
  t.expiry = absl::FromUnixSeconds(exp);
  return t;
}

class TokenCacheTest : public ::testing::Test {
 protected:
  VerifiedTokenCache::Options CacheOptions(size_t max_entries = 10000) {
    VerifiedTokenCache::Options o;
    o.max_entries = max_entries;
    o.now = [this] { return now_; };
    return o;
  }
  absl::Time now_ = absl::FromUnixSeconds(kNow);
};

TEST_F(TokenCacheTest, HitUntilExpiry) {
  VerifiedTokenCache cache(CacheOptions());
  EXPECT_EQ(cache.Lookup("a.b.c"), std::nullopt);
  cache.Insert("a.b.c", TokenExpiringAt(kNow + 100, "alice"));
  std::optional<VerifiedToken> hit = cache.Lookup("a.b.c");
  ASSERT_TRUE(hit.has_value());
  EXPECT_EQ(hit->subject, "alice");
  EXPECT_EQ(cache.Lookup("a.b.d"), std::nullopt);
  now_ += absl::Seconds(99);
  EXPECT_TRUE(cache.Lookup("a.b.c").has_value());
  now_ += absl::Seconds(1);  // exactly at exp: gone, and removed
  EXPECT_EQ(cache.Lookup("a.b.c"), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(TokenCacheTest, ExpiredTokensAreNotStored) {
  VerifiedTokenCache cache(CacheOptions());
  cache.Insert("t", TokenExpiringAt(kNow));
  cache.Insert("u", TokenExpiringAt(kNow - 5));
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(TokenCacheTest, EvictsLeastRecentlyUsed) {
  VerifiedTokenCache cache(CacheOptions(2));
  cache.Insert("t1", TokenExpiringAt(kNow + 100, "1"));
  cache.Insert("t2", TokenExpiringAt(kNow + 100, "2"));
  ASSERT_TRUE(cache.Lookup("t1").has_value());  // t2 is now least recent
  cache.Insert("t3", TokenExpiringAt(kNow + 100, "3"));
  EXPECT_EQ(cache.size(), 2u);
  EXPECT_TRUE(cache.Lookup("t1").has_value());
  EXPECT_EQ(cache.Lookup("t2"), std::nullopt);
  EXPECT_TRUE(cache.Lookup("t3").has_value());
  cache.Clear();
  EXPECT_EQ(cache.size(), 0u);
}

TEST_F(TokenCacheTest, VerifyCachesOnlySuccessAndStopsAtExp) {
  SignerOptions so;
  so.private_key_pem = *GeneratePrivateKeyPem(Algorithm::kEs256);
  so.kid = "k1";
  std::unique_ptr<Signer> signer = *Signer::Create(so);
  VerifierOptions vo;
  vo.issuer = "iss";
  vo.audience = "aud";
  vo.now = [this] { return now_; };
  std::unique_ptr<Verifier> verifier =
      *Verifier::Create(vo, *Jwks::Parse(signer->PublicJwksJson()));

  VerifiedTokenCache cache(CacheOptions());
  std::string token = *signer->Sign(
      json{{"iss", "iss"}, {"aud", "aud"}, {"sub", "bob"}, {"exp", kNow + 300}});
  ASSERT_THAT(cache.Verify(*verifier, token), IsOk());
  EXPECT_EQ(cache.size(), 1u);
  ASSERT_TRUE(cache.Lookup(token).has_value());
  EXPECT_EQ(cache.Verify(*verifier, token)->subject, "bob");

  // Failures are not cached.
  EXPECT_THAT(cache.Verify(*verifier, token + "x"),
              StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_EQ(cache.size(), 1u);

  // Past exp but within the verifier's skew: the cache no longer answers, and
  // the fresh verification's result is not cached again.
  now_ = absl::FromUnixSeconds(kNow + 310);
  EXPECT_EQ(cache.Lookup(token), std::nullopt);
  EXPECT_THAT(cache.Verify(*verifier, token), IsOk());
  EXPECT_EQ(cache.size(), 0u);
  now_ = absl::FromUnixSeconds(kNow + 400);
  EXPECT_THAT(cache.Verify(*verifier, token), StatusIs(absl::StatusCode::kUnauthenticated));

  EXPECT_THAT(cache.Verify(*verifier, std::string(9000, 'a')),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(TokenCacheTest, ConcurrentUseIsSafe) {
  VerifiedTokenCache cache(CacheOptions(64));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 500; ++i) {
        std::string key = absl::StrCat("tok", (i * 7 + t) % 100);
        cache.Insert(key, TokenExpiringAt(kNow + 100));
        cache.Lookup(key);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_LE(cache.size(), 64u);
}

}  // namespace
}  // namespace datalab::jwt
