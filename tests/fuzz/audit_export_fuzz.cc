// libFuzzer entry point for the audit export verifier's JSON Lines reader
// (services/audit/verifier.h, VerifyJsonLines), the code `datalab audit
// verify` runs over a file an auditor was handed: it must never crash, hang
// or throw on any input, and its report must be self-consistent.
//
// A fuzzer cannot forge Ed25519 signatures, so a report can only be OK when
// the heads it verified came from the seed exports; what is checked here is
// that OK and failure reports say so consistently (an OK report names no bad
// entry or head and covers every entry it counts; a failed one says why).
// Build and run: scripts/checks/fuzz.sh (see tests/fuzz/README.md).
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>

#include "services/audit/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  const datalab::audit::VerifyReport r = datalab::audit::VerifyJsonLines(in);
  if (r.ok) {
    if (!r.error.empty() || r.first_bad_index != -1 || r.first_bad_head != -1) __builtin_trap();
    if (r.pruned_entries > r.entries) __builtin_trap();
    const uint64_t covered = r.latest_head.has_value() ? r.latest_head->tree_size : 0;
    if (covered > r.entries || r.unverified_entries != r.entries - covered) __builtin_trap();
    if (r.entries > 0 && r.heads_verified == 0) __builtin_trap();
  } else {
    if (r.error.empty()) __builtin_trap();
  }
  (void)datalab::audit::FormatReport(r);
  return 0;
}
