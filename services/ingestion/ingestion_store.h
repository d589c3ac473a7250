// Durable state of the ingestion service: upload sessions, their staged
// (encrypted) chunks, jobs with their crash-safe step, validation reports
// and the duplicate index (sha256 + dataset + school -> committed job).
//
// Two implementations: RocksDB (production; column families uploads,
// chunks, jobs, reports, dedup) and in-memory (unit tests). Both pass the
// one conformance suite in ingestion_store_test.cc.
//
// Atomicity: every method that takes more than one record writes them in
// one batch (all or nothing), which is what lets the job state machine
// survive a crash between any two steps.
//
// Thread safety: all methods may be called concurrently.
#ifndef DATALAB_SERVICES_INGESTION_INGESTION_STORE_H_
#define DATALAB_SERVICES_INGESTION_INGESTION_STORE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/storage/kv_store.h"
#include "datalab/ingestion/v1/ingestion.pb.h"

namespace datalab::ingestion {

class IngestionStore {
 public:
  virtual ~IngestionStore() = default;

  // Uploads are keyed by their id (the part after "uploads/").
  virtual absl::Status PutUpload(const v1::StagedUpload& upload) = 0;
  virtual absl::StatusOr<v1::StagedUpload> GetUpload(const std::string& id) const = 0;
  // Stores chunk `index` and the upload's new state together.
  virtual absl::Status AppendChunk(const v1::StagedUpload& upload, int64_t index,
                                   const std::string& sealed) = 0;
  // Visits chunks 0.. in order; the visitor returns false to stop.
  virtual absl::Status ForEachChunk(
      const std::string& upload_id,
      const std::function<bool(int64_t index, const std::string& sealed)>& visit) const = 0;

  // Marks the upload complete and creates its job, atomically.
  virtual absl::Status CompleteUpload(const v1::StagedUpload& upload,
                                      const v1::JobRecord& job) = 0;

  // Jobs are keyed by id (after "jobs/"), which sort by creation.
  virtual absl::Status PutJob(const v1::JobRecord& job) = 0;
  virtual absl::StatusOr<v1::JobRecord> GetJob(const std::string& id) const = 0;
  // The job and its (final) report together.
  virtual absl::Status PutJobAndReport(const v1::JobRecord& job,
                                       const v1::ValidationReport& report) = 0;
  // Jobs with id > `after`, in id order, at most `limit`.
  virtual absl::StatusOr<std::vector<v1::JobRecord>> ListJobs(const std::string& after,
                                                              int limit) const = 0;

  // Ends a job: its record, its report, the dedup entry (when non-empty),
  // the upload (with its wrapped key cleared) and the deletion of the
  // upload's staged chunks, in one batch.
  virtual absl::Status FinishJob(const v1::JobRecord& job, const v1::ValidationReport& report,
                                 const v1::StagedUpload& upload,
                                 const std::string& dedup_key) = 0;
  virtual absl::StatusOr<v1::ValidationReport> GetReport(const std::string& job_id) const = 0;

  // The job id that committed this dedup key, or nullopt.
  virtual absl::StatusOr<std::optional<std::string>> FindDuplicate(
      const std::string& dedup_key) const = 0;
};

std::unique_ptr<IngestionStore> NewMemoryIngestionStore();

// Opens (creating if needed) the RocksDB-backed store at `path`.
absl::StatusOr<std::unique_ptr<IngestionStore>> OpenRocksDbIngestionStore(
    const std::string& path);

}  // namespace datalab::ingestion

#endif  // DATALAB_SERVICES_INGESTION_INGESTION_STORE_H_
