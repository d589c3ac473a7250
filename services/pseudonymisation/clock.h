// Time source of the pseudonymisation service, injected so tests can move
// time (re-identification requests expire after 7 days).
// Thread safety: implementations are thread-safe.
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_CLOCK_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_CLOCK_H_

#include <atomic>
#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace datalab::pseudonymisation {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnixMs() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowUnixMs() const override { return absl::ToUnixMillis(absl::Now()); }
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'790'000'000'000) : now_(start_ms) {}
  int64_t NowUnixMs() const override { return now_.load(); }
  void Advance(absl::Duration d) { now_ += absl::ToInt64Milliseconds(d); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_CLOCK_H_
