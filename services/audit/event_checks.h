// Admission checks for audit events, applied before an event is sequenced.
//
// Events must never carry pupil data or identifiers (audit_event.proto). As
// defence in depth the log refuses any event with a UPN-shaped token in a
// free-text or name field: a whole token (bounded by non-alphanumerics) of 13
// characters that is a letter followed by 12 digits (permanent UPN shape) or
// by 11 digits and a letter (temporary UPN shape). The check letter is not
// validated on purpose: a shape match is enough to refuse, since an invalid
// UPN typed into a reason is still an identifier. Hash fields (hex digests)
// are checked for being hex instead.
//
// Pure functions; thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_EVENT_CHECKS_H_
#define DATALAB_SERVICES_AUDIT_EVENT_CHECKS_H_

#include <string_view>

#include "absl/status/status.h"
#include "datalab/common/v1/audit_event.pb.h"

namespace datalab::audit {

inline constexpr size_t kMaxEventIdBytes = 128;
inline constexpr size_t kMaxEventBytes = 64 << 10;

// True if `text` contains a UPN-shaped token (see banner).
bool ContainsUpnShapedToken(std::string_view text);

// OK, or INVALID_ARGUMENT naming the field that is wrong:
//   "event_id is required", "event contains an identifier-shaped value in
//   field details[k]" (the key is named only when it is not itself
//   identifier-shaped), sizes above the limits, non-hex hash fields.
absl::Status CheckEvent(const common::v1::AuditEvent& event);

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_EVENT_CHECKS_H_
