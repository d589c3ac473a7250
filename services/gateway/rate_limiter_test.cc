#include "services/gateway/rate_limiter.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::gateway {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;

TEST(RateLimiter, BucketEmptiesRefillsAndSaysWhenToRetry) {
  absl::Time now = absl::FromUnixSeconds(1000);
  RateLimiter l({.calls_per_second = 2, .burst = 3, .max_concurrent_queries = 1,
                 .now = [&] { return now; }});
  EXPECT_THAT(l.Admit("users/a"), IsOk());
  EXPECT_THAT(l.Admit("users/a"), IsOk());
  EXPECT_THAT(l.Admit("users/a"), IsOk());
  EXPECT_THAT(l.Admit("users/a"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("retry in")));
  // Another subject has its own bucket.
  EXPECT_THAT(l.Admit("users/b"), IsOk());
  now += absl::Seconds(1);  // two tokens back
  EXPECT_THAT(l.Admit("users/a"), IsOk());
  EXPECT_THAT(l.Admit("users/a"), IsOk());
  EXPECT_FALSE(l.Admit("users/a").ok());
}

TEST(RateLimiter, ConcurrentQueryCap) {
  RateLimiter l({.max_concurrent_queries = 2});
  EXPECT_THAT(l.BeginQuery("users/a"), IsOk());
  EXPECT_THAT(l.BeginQuery("users/a"), IsOk());
  EXPECT_THAT(l.BeginQuery("users/a"), StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(l.BeginQuery("users/b"), IsOk());
  l.EndQuery("users/a");
  EXPECT_THAT(l.BeginQuery("users/a"), IsOk());
  l.EndQuery("users/nobody");  // harmless
}

TEST(RateLimiter, TableStaysBounded) {
  absl::Time now = absl::FromUnixSeconds(1000);
  RateLimiter l({.calls_per_second = 100, .burst = 1, .max_subjects = 10,
                 .now = [&] { return now; }});
  for (int i = 0; i < 1000; ++i) {
    now += absl::Seconds(1);
    EXPECT_THAT(l.Admit("users/" + std::to_string(i)), IsOk());
  }
}

}  // namespace
}  // namespace datalab::gateway
