// Time source for the audit log, injected so tests control event times and
// tree-head timestamps. Implementations are thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_CLOCK_H_
#define DATALAB_SERVICES_AUDIT_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace datalab::audit {

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

// A clock tests set by hand.
class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t now_ms = 1'700'000'000'000) : now_(now_ms) {}
  int64_t NowUnixMs() const override { return now_.load(); }
  void Set(int64_t ms) { now_.store(ms); }
  void Advance(int64_t ms) { now_.fetch_add(ms); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_CLOCK_H_
