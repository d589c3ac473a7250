// How every service writes to the audit log.
//
//   AppendSync: for data releases and re-identification. Returns OK only
//   once the audit service has durably stored (fsynced) the event; the
//   caller must not release anything otherwise (fail closed). A caller with
//   a deadline of its own passes it as `not_after`, so that no event is
//   recorded for a caller that has already given up.
//
//   Append: for every other event. The event is first made durable in a
//   local outbox and delivered at least once when audit is reachable; the
//   audit service deduplicates by event_id. Returns an error only when even
//   the outbox cannot take the event.
//
// Events never carry pupil data or identifiers (see audit_event.proto).
// Implementations are thread-safe.
#ifndef DATALAB_COMMON_AUDIT_CLIENT_AUDIT_CLIENT_H_
#define DATALAB_COMMON_AUDIT_CLIENT_AUDIT_CLIENT_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "datalab/common/v1/audit_event.pb.h"

namespace datalab::audit_client {

class AuditClient {
 public:
  virtual ~AuditClient() = default;
  // Gives up at `not_after` or at the client's own limit, whichever is
  // sooner. Callers say which they mean: their caller's deadline, or
  // absl::InfiniteFuture() for a record that must be made whoever waits.
  virtual absl::Status AppendSync(const common::v1::AuditEvent& event, absl::Time not_after) = 0;
  virtual absl::Status Append(const common::v1::AuditEvent& event) = 0;
};

// A unique event id, for callers that have no natural idempotency key: 32
// lower-case hex digits, the first 12 the time it was made (milliseconds
// since the Unix epoch, as in RFC 9562's UUIDv7) and the other 20 random
// (80 bits from the CSPRNG). Ids made later sort later, so the audit
// service's id index takes each new one at its end instead of at a random
// place (a cheaper insert, and table files that do not overlap). Empty only
// if the CSPRNG fails.
std::string NewEventId();
// The same layout from a given time (taken modulo 2^48, so it holds until
// the year 10889) and 10 given random bytes (the benches draw them from a
// fast generator).
std::string EventIdAt(int64_t unix_ms, const std::array<uint8_t, 10>& random);

// In-memory client for unit tests: records events; can be told to fail.
class FakeAuditClient : public AuditClient {
 public:
  absl::Status AppendSync(const common::v1::AuditEvent& event, absl::Time not_after) override;
  absl::Status Append(const common::v1::AuditEvent& event) override;

  void SetFailing(bool failing);
  std::vector<common::v1::AuditEvent> events() const;
  // The not_after of each AppendSync call, in order.
  std::vector<absl::Time> sync_deadlines() const;

 private:
  mutable absl::Mutex mu_;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<common::v1::AuditEvent> events_ ABSL_GUARDED_BY(mu_);
  std::vector<absl::Time> sync_deadlines_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datalab::audit_client

#endif  // DATALAB_COMMON_AUDIT_CLIENT_AUDIT_CLIENT_H_
