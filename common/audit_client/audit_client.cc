#include "common/audit_client/audit_client.h"

#include "common/crypto/bytes.h"
#include "common/crypto/encoding.h"

namespace datalab::audit_client {

std::string NewEventId() {
  auto bytes = crypto::RandomBytes(16);
  if (!bytes.ok()) return "";
  return crypto::HexEncode(*bytes);
}

absl::Status FakeAuditClient::AppendSync(const common::v1::AuditEvent& event) {
  absl::MutexLock l(&mu_);
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

}  // namespace datalab::audit_client
