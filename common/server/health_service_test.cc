// HealthStatus on its own: the state the health service's handlers share.
#include "common/server/health_service.h"

#include <thread>

#include "gtest/gtest.h"

namespace datalab::server {
namespace {

using grpc::health::v1::HealthCheckResponse;

TEST(HealthStatus, StartsNotServingAndFollowsSetServing) {
  HealthStatus h;
  EXPECT_EQ(h.Status(), HealthCheckResponse::NOT_SERVING);
  h.SetServing(true);
  EXPECT_EQ(h.Status(), HealthCheckResponse::SERVING);
  h.SetServing(false);
  EXPECT_EQ(h.Status(), HealthCheckResponse::NOT_SERVING);
}

TEST(HealthStatus, ShutdownIsFinal) {
  HealthStatus h;
  h.SetServing(true);
  h.Shutdown();
  EXPECT_EQ(h.Status(), HealthCheckResponse::NOT_SERVING);
  h.SetServing(true);  // too late: a server going down does not come back
  EXPECT_EQ(h.Status(), HealthCheckResponse::NOT_SERVING);
  auto [status, final] = h.WaitForChange(HealthCheckResponse::NOT_SERVING, absl::Seconds(5));
  EXPECT_EQ(status, HealthCheckResponse::NOT_SERVING);
  EXPECT_TRUE(final);
}

TEST(HealthStatus, WaitForChangeWakesOnAChangeAndOtherwiseTimesOut) {
  HealthStatus h;
  auto [same, final] = h.WaitForChange(HealthCheckResponse::NOT_SERVING, absl::Milliseconds(20));
  EXPECT_EQ(same, HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(final);
  // Without a status to compare, only the final status ends the wait.
  h.SetServing(true);
  auto [now, final2] = h.WaitForChange(std::nullopt, absl::Milliseconds(20));
  EXPECT_EQ(now, HealthCheckResponse::SERVING);
  EXPECT_FALSE(final2);

  std::thread setter([&] { h.SetServing(false); });
  auto [changed, final3] = h.WaitForChange(HealthCheckResponse::SERVING, absl::Seconds(30));
  setter.join();
  EXPECT_EQ(changed, HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(final3);
}

TEST(HealthStatus, WatchSlotsAreBoundedAndReturned) {
  HealthStatus h(2);
  EXPECT_TRUE(h.AcquireWatch());
  EXPECT_TRUE(h.AcquireWatch());
  EXPECT_FALSE(h.AcquireWatch());
  h.ReleaseWatch();
  EXPECT_TRUE(h.AcquireWatch());
  EXPECT_FALSE(h.AcquireWatch());
}

}  // namespace
}  // namespace datalab::server
