// Offline verifier of an audit log export, the engine of `datalab audit
// verify` (and of datalab-audit-verify). Needs only the export: no service,
// no gRPC, no store.
//
// What it checks (README.md "Verification"):
//  1. entries are numbered 0, 1, 2, ... with no gap, duplicate or reordering;
//  2. every present entry's bytes hash (RFC 6962 leaf hash) to the exported
//     leaf hash when one is given; pruned entries carry a leaf hash;
//  3. every signed head's Ed25519 signature verifies under the log's key;
//  4. heads are in order of tree size and time (a smaller or older head
//     after a larger one is a rollback);
//  5. the Merkle root recomputed from the entries equals each head's root,
//     which also proves each head extends the one before (both are roots of
//     prefixes of the same leaf sequence);
//  6. every head is covered by the exported entries.
// The report names the FIRST bad entry index: exactly, when an entry is
// missing, out of place or disagrees with its stored leaf hash; when only a
// signed root disagrees (entry and leaf hash both rewritten), the first
// index of the range between the last good head and the failing one.
//
// JSON Lines export format (one JSON object per line, any order, "log"
// line exactly once):
//   {"type":"log","format":"datalab-audit-export-v1","public_key":B64,"key_id":S}
//   {"type":"entry","index":N,"entry":B64,"leaf_hash":HEX}
//   {"type":"entry","index":N,"pruned":true,"leaf_hash":HEX}
//   {"type":"head","tree_size":N,"timestamp_unix_ms":T,"root_hash":HEX,
//    "signature":B64,"key_id":S}
//
// ExportVerifier keeps 32 bytes per entry (not the entries); one instance is
// not thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_VERIFIER_H_
#define DATALAB_SERVICES_AUDIT_VERIFIER_H_

#include <cstdint>
#include <istream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/audit/merkle/merkle_hash.h"
#include "services/audit/tree_head.h"

namespace datalab::audit {

inline constexpr char kExportFormat[] = "datalab-audit-export-v1";

struct ExportEntry {
  uint64_t index = 0;
  std::optional<std::string> entry;  // the serialized event; nullopt if absent
  bool pruned = false;
  std::optional<merkle::Hash> leaf_hash;
};

struct VerifyReport {
  bool ok = false;
  std::string error;               // what failed and where; empty when ok
  int64_t first_bad_index = -1;    // first bad entry, -1 if none identified
  int64_t first_bad_head = -1;     // position of the first bad head, -1 if none
  uint64_t entries = 0;
  uint64_t pruned_entries = 0;
  uint64_t heads_verified = 0;
  uint64_t unverified_entries = 0;  // entries after the last head
  std::optional<TreeHead> latest_head;  // the largest verified head
};

class ExportVerifier {
 public:
  // `public_key_raw`: the 32-byte Ed25519 key of the log.
  explicit ExportVerifier(std::string public_key_raw);

  // Entries in index order, starting at 0.
  void AddEntry(const ExportEntry& entry);
  void AddHead(const TreeHead& head);
  VerifyReport Finish();

 private:
  void BadEntry(uint64_t index, std::string why);

  std::string public_key_raw_;
  std::vector<merkle::Hash> leaves_;
  std::vector<TreeHead> heads_;
  uint64_t pruned_ = 0;
  int64_t first_bad_entry_ = -1;
  std::string entry_error_;
};

// Reads a JSON Lines export and verifies it. A malformed line is a failed
// report naming the line number.
VerifyReport VerifyJsonLines(std::istream& in);

// The export's line writers (no trailing newline), shared by the CLI and the
// tests so producer and verifier agree on the format.
std::string ExportHeaderLine(const std::string& public_key_raw, const std::string& key_id);
std::string ExportEntryLine(const ExportEntry& entry);
std::string ExportHeadLine(const TreeHead& head);

// One-line human summary of a report (for the CLI and the tool).
std::string FormatReport(const VerifyReport& report);

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_VERIFIER_H_
