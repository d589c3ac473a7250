#include "common/audit_client/audit_client.h"

#include <array>
#include <cstdint>
#include <set>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace datalab::audit_client {
namespace {

TEST(EventId, LayoutIsTimeThenRandom) {
  const std::array<uint8_t, 10> random = {0x00, 0x01, 0x02, 0x03, 0x04,
                                          0x05, 0x06, 0x07, 0x08, 0xff};
  EXPECT_EQ(EventIdAt(0x0123456789ab, random), "0123456789ab000102030405060708ff");
  EXPECT_EQ(EventIdAt(0, random), "000000000000000102030405060708ff");
}

TEST(EventId, LaterTimesSortLater) {
  std::array<uint8_t, 10> high;
  high.fill(0xff);
  const std::array<uint8_t, 10> low = {};
  EXPECT_LT(EventIdAt(1'700'000'000'000, high), EventIdAt(1'700'000'000'001, low));
}

TEST(NewEventId, CarriesTheTimeItWasMadeAndIsUnique) {
  const int64_t before = absl::ToUnixMillis(absl::Now());
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewEventId());
  const int64_t after = absl::ToUnixMillis(absl::Now());
  ASSERT_EQ(ids.size(), 10000u);
  for (const std::string& id : ids) {
    ASSERT_EQ(id.size(), 32u);
    ASSERT_EQ(id.find_first_not_of("0123456789abcdef"), std::string::npos) << id;
    const int64_t ms = static_cast<int64_t>(std::stoull(id.substr(0, 12), nullptr, 16));
    ASSERT_GE(ms, before);
    ASSERT_LE(ms, after);
  }
  // Made in a later millisecond, an id sorts after every earlier one.
  absl::SleepFor(absl::Milliseconds(2));
  EXPECT_GT(NewEventId(), *ids.rbegin());
}

}  // namespace
}  // namespace datalab::audit_client
