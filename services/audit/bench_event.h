// The synthetic audit event both audit benchmarks append (datalab-audit-bench
// in process, datalab-bench-client over gRPC): shaped like the query
// service's release records, with no pupil data and no identifier.
#ifndef DATALAB_SERVICES_AUDIT_BENCH_EVENT_H_
#define DATALAB_SERVICES_AUDIT_BENCH_EVENT_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <string>

#include "common/audit_client/audit_client.h"
#include "datalab/common/v1/audit_event.pb.h"

namespace datalab::audit {

// SplitMix64 (Steele, Lea and Flood): a fast, well-mixed 64-bit generator
// step, for bench ids that need to be unique and unordered, not secret.
inline uint64_t SplitMix64(uint64_t z) {
  z += 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// An event id with the layout the services' NewEventId() gives (the time,
// then 80 random bits), so the audit store's id index gets ids of the shape
// the services send; the random bits come from SplitMix64(`seq`) rather than
// the CSPRNG. Distinct `seq` give distinct ids (SplitMix64 is a bijection
// and all of its first output is used).
inline std::string BenchEventId(int64_t unix_ms, uint64_t seq) {
  const uint64_t a = SplitMix64(seq);
  const uint64_t b = SplitMix64(a);
  std::array<uint8_t, 10> random;
  std::memcpy(random.data(), &a, 8);
  std::memcpy(random.data() + 8, &b, 2);
  return audit_client::EventIdAt(unix_ms, random);
}

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
