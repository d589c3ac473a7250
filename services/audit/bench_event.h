// The synthetic audit event both audit benchmarks append (datalab-audit-bench
// in process, datalab-bench-client over gRPC): shaped like the query
// service's release records, with no pupil data and no identifier.
#ifndef DATALAB_SERVICES_AUDIT_BENCH_EVENT_H_
#define DATALAB_SERVICES_AUDIT_BENCH_EVENT_H_

#include <cstdint>
#include <string>

#include "datalab/common/v1/audit_event.pb.h"

namespace datalab::audit {

// Event `i` of a run, under `event_id` (unique per run); 50 researchers and
// 20 projects in turn. time_unix_ms is left for the caller (or the log).
inline common::v1::AuditEvent BenchEvent(std::string event_id, uint64_t i) {
  common::v1::AuditEvent e;
  e.set_event_id(std::move(event_id));
  e.set_service("query");
  e.mutable_actor()->set_subject("users/bench-researcher" + std::to_string(i % 50));
  e.mutable_actor()->add_roles(common::v1::RESEARCHER);
  e.set_action("query.run");
  e.add_resources("datasets/bench_pupils/versions/1");
  e.set_project("projects/bench" + std::to_string(i % 20));
  e.set_decision(common::v1::ALLOW);
  e.set_reason("within project scope");
  e.set_request_sha256(std::string(64, 'a'));
  (*e.mutable_details())["cells"] = "24";
  return e;
}

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_BENCH_EVENT_H_
