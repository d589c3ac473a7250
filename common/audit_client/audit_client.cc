#include "common/audit_client/audit_client.h"

#include <cstring>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/crypto/bytes.h"
#include "common/crypto/encoding.h"

namespace datalab::audit_client {

std::string EventIdAt(int64_t unix_ms, const std::array<uint8_t, 10>& random) {
  uint8_t raw[16];
  const uint64_t ms = static_cast<uint64_t>(unix_ms);
  for (int i = 0; i < 6; ++i) raw[i] = static_cast<uint8_t>(ms >> (8 * (5 - i)));
  std::memcpy(raw + 6, random.data(), random.size());
  return crypto::HexEncode(crypto::ByteView(raw, sizeof raw));
}

std::string NewEventId() {
  std::array<uint8_t, 10> random;
  if (!crypto::RandomFill(absl::MakeSpan(random)).ok()) return "";
  return EventIdAt(absl::ToUnixMillis(absl::Now()), random);
}

absl::Status FakeAuditClient::AppendSync(const common::v1::AuditEvent& event,
                                         absl::Time not_after) {
  absl::MutexLock l(&mu_);
  sync_deadlines_.push_back(not_after);
  if (failing_) return absl::UnavailableError("audit service unavailable");
  events_.push_back(event);
  return absl::OkStatus();
}

absl::Status FakeAuditClient::Append(const common::v1::AuditEvent& event) {
  // The real client queues in its outbox when audit is down; the fake keeps
  // the event either way so tests can see what would be delivered.
  absl::MutexLock l(&mu_);
  events_.push_back(event);
  return absl::OkStatus();
}

void FakeAuditClient::SetFailing(bool failing) {
  absl::MutexLock l(&mu_);
  failing_ = failing;
}

std::vector<common::v1::AuditEvent> FakeAuditClient::events() const {
  absl::MutexLock l(&mu_);
  return events_;
}

std::vector<absl::Time> FakeAuditClient::sync_deadlines() const {
  absl::MutexLock l(&mu_);
  return sync_deadlines_;
}

}  // namespace datalab::audit_client
