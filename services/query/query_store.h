// QueryStore: the analytic store of the query service.
//
//  * Dataset versions: immutable, columnar. Written through a VersionWriter
//    (begin VersionSpec / RowBatch... / commit). Chunks go under a staging
//    key prefix (a load id) while loading; the version becomes visible only
//    when its manifest is written in the commit batch, so a crash mid-load
//    leaves nothing visible and Open() garbage-collects the orphan chunks.
//    APPEND/REPLACE copy the base version's rows (except the replaced
//    school/period slice). A retried commit with the same idempotency key
//    returns already_committed.
//  * Subjects: pseudonyms map to dense uint32 lab-internal ids through a
//    persistent dictionary; the engine only ever sees the ids, and the
//    pseudonyms never leave this store.
//  * Loaded versions: decoded into engine::Tables, kept in an LRU cache
//    bounded in bytes. Versions never change, so cached tables stay valid.
//  * Subject access/erasure by pseudonym. Erasure writes a new version of
//    every affected dataset without those subjects and marks the old one
//    superseded.
//  * Releases, query history, the SDC release ledger and ε ledger (durable,
//    synced writes) and the lab's rounding key.
//
// Implementations: KvQueryStore over a StoreBackend (RocksDB or in-memory);
// the conformance suite runs against both.
//
// Thread safety: every method may be called concurrently. Writers are
// single-threaded objects.
#ifndef DATALAB_SERVICES_QUERY_QUERY_STORE_H_
#define DATALAB_SERVICES_QUERY_QUERY_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datalab/query/v1/query.pb.h"
#include "services/query/engine/column.h"
#include "services/query/sdc/ledger.h"

namespace datalab::query {

namespace qv1 = ::datalab::query::v1;

// A committed version: its manifest (column names, types, sizes, hash).
using Manifest = qv1::VersionManifest;

// A decoded version, ready for the engine. Immutable, shared.
struct LoadedVersion {
  Manifest manifest;
  std::shared_ptr<const engine::Table> table;
  std::string subject_column;  // empty when the dataset has none
};

class VersionWriter {
 public:
  virtual ~VersionWriter() = default;
  // INVALID_ARGUMENT naming the column (and batch row) for a batch that does
  // not fit the spec. Nothing becomes visible before Commit.
  virtual absl::Status Write(const qv1::RowBatch& batch) = 0;
  // Makes the version visible atomically (one synced batch). total_rows must
  // equal the rows sent (not counting rows copied from the base version).
  virtual absl::StatusOr<qv1::WriteDatasetVersionResponse> Commit(
      const qv1::CommitVersion& commit) = 0;
};

struct SubjectRecordsResult {
  qv1::SubjectRecordsResponse response;
  int64_t total_records = 0;
};

class QueryStore {
 public:
  virtual ~QueryStore() = default;

  // Starts a version. INVALID_ARGUMENT for a bad spec (name, columns, base),
  // ALREADY_EXISTS when the version exists under another idempotency key,
  // NOT_FOUND when the base version does not exist.
  virtual absl::StatusOr<std::unique_ptr<VersionWriter>> BeginVersion(
      const qv1::VersionSpec& spec) = 0;

  // The manifest of `dataset` ("datasets/d") at `version`, or its latest
  // version when nullopt. NOT_FOUND when absent. Read once per query.
  virtual absl::StatusOr<Manifest> ResolveVersion(const std::string& dataset,
                                                  std::optional<int64_t> version) const = 0;
  // Decodes (or takes from the cache) the version named by `manifest`.
  virtual absl::StatusOr<std::shared_ptr<const LoadedVersion>> Load(const Manifest& manifest) = 0;
  virtual absl::StatusOr<std::vector<Manifest>> ListVersions(const std::string& dataset) const = 0;
  // Every dataset with at least one version ("datasets/d").
  virtual absl::StatusOr<std::vector<std::string>> ListDatasets() const = 0;

  // Records of the given pseudonyms per dataset (all retained versions).
  virtual absl::StatusOr<qv1::SubjectRecordsResponse> FindSubjectRecords(
      const std::vector<std::string>& pseudonyms) = 0;
  // Writes a new version of every dataset whose latest version holds any of
  // them, without their rows; the old version is marked superseded.
  virtual absl::StatusOr<qv1::SubjectRecordsResponse> EraseSubjectRecords(
      const std::vector<std::string>& pseudonyms) = 0;

  // Releases and history. PutRelease writes both in one synced batch.
  virtual absl::Status PutRelease(const std::string& release_name, const qv1::StoredRelease& release,
                                  const qv1::QueryHistoryEntry& entry) = 0;
  virtual absl::Status PutHistory(const qv1::QueryHistoryEntry& entry) = 0;
  virtual absl::StatusOr<qv1::StoredRelease> GetRelease(const std::string& release_name) const = 0;
  // Newest first; only entries whose user equals `user`.
  virtual absl::StatusOr<std::vector<qv1::QueryHistoryEntry>> ListHistory(
      const std::string& project, const std::string& user, int page_size,
      const std::string& page_token, std::string* next_page_token) const = 0;

  virtual sdc::ReleaseLedger& release_ledger() = 0;
  virtual sdc::EpsilonLedger& epsilon_ledger() = 0;
  // Sets the project's total ε budget (micros), keeping what was spent.
  virtual absl::Status SetEpsilonBudget(const std::string& project, int64_t total_micros) = 0;
  virtual absl::StatusOr<std::pair<int64_t, int64_t>> EpsilonBudget(
      const std::string& project) const = 0;  // (total, spent)

  // The lab's rounding key (32 random bytes), created on first use.
  virtual absl::StatusOr<std::string> RoundingKey() = 0;
};

// "datasets/d/versions/7" -> ("datasets/d", 7). INVALID_ARGUMENT otherwise.
absl::StatusOr<std::pair<std::string, int64_t>> ParseVersionName(const std::string& name);
std::string VersionName(const std::string& dataset, int64_t version);

}  // namespace datalab::query

#endif  // DATALAB_SERVICES_QUERY_QUERY_STORE_H_
