// Time source for the catalogue, injected so tests control "today": project
// expiry and accreditation lapse are derived from it at read time (no cron).
// Implementations are thread-safe.
#ifndef DATALAB_SERVICES_CATALOGUE_CLOCK_H_
#define DATALAB_SERVICES_CATALOGUE_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace datalab::catalogue {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowUnixMs() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowUnixMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock tests set by hand. The default is 2023-11-14T22:13:20Z.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1'700'000'000'000) : now_(now_ms) {}
  int64_t NowUnixMs() const override { return now_.load(); }
  void Set(int64_t ms) { now_.store(ms); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_CLOCK_H_
