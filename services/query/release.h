// Release records and release exports.
//
// CanonicalReleaseBytes: the bytes the query service signs (Ed25519) for a
// common.v1.ReleaseRecord, fields 1-9 only (see README.md, "Release record"):
//   "datalab.release-record.v1\n"
//   then for each field number 1..9 in order: u32 field number, followed by
//     string/bytes: u32 length + bytes;
//     repeated string: u32 count, then each as u32 length + bytes;
//     int32: the value as a big-endian two's-complement i64.
// All integers big-endian. The encoding is injective, so a verifier that
// rebuilds it from the stored record checks exactly what was signed.
//
// ExportCsv / ExportJson: the released table (never a suppressed value; a
// suppressed cell is "[c]" in CSV and null in JSON). The SHA-256 of the CSV
// export is the release's output_sha256.
//
// Pure functions; thread-safe.
#ifndef DATALAB_SERVICES_QUERY_RELEASE_H_
#define DATALAB_SERVICES_QUERY_RELEASE_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/crypto/ed25519.h"
#include "datalab/common/v1/audit_event.pb.h"
#include "datalab/query/v1/query.pb.h"

namespace datalab::query {

std::string CanonicalReleaseBytes(const common::v1::ReleaseRecord& record);
absl::Status SignReleaseRecord(const crypto::Ed25519PrivateKey& key, const std::string& key_id,
                               common::v1::ReleaseRecord* record);
absl::Status VerifyReleaseRecord(const crypto::Ed25519PublicKey& key,
                                 const common::v1::ReleaseRecord& record);

// A released number as text with the cell's decimals ("15", "12.5").
std::string FormatCell(const query::v1::Cell& cell);
std::string ExportCsv(const query::v1::QueryResult& result);
std::string ExportJson(const query::v1::QueryResult& result);

}  // namespace datalab::query

#endif  // DATALAB_SERVICES_QUERY_RELEASE_H_
