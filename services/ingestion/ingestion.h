// The ingestion domain: resumable upload sessions with encrypted staging,
// and the job that turns a complete upload into a committed dataset version.
// No gRPC here: collaborators come in as the small interfaces below (the
// gRPC adapters over the generated StubInterfaces are in clients.h).
//
// Upload sessions (uploads/{id}, id random 128-bit hex):
//   BeginUpload(header) -> session at offset 0, or the existing job when the
//     same file (sha256 + dataset + school) was committed before and
//     allow_duplicate is false.
//   AppendChunk(name, offset, bytes): offset must equal the acknowledged
//     offset (ABORTED names the expected offset: read the session again and
//     resume from there); the chunk is
//     sealed with the upload's data key (AES-256-GCM, aad binds upload,
//     index and offset) and stored with the new offset in one write. When
//     the declared total is reached the staged file is checked (SHA-256,
//     whole-file encoding detection) and a job is queued.
//   A client that lost its stream asks GetUploadSession for bytes_received
//   and resumes from there.
//
// Staging key: every upload has a random 256-bit data key, stored only
// wrapped under the service's staging key (Options::staging_key). When a job
// ends its staged chunks are deleted and the wrapped key is erased in the
// same batch, so chunks left in RocksDB files until compaction cannot be
// decrypted (crypto-shredding).
//
// Jobs (jobs/{id}, ids sort by creation) run on one worker thread, one at a
// time, with a persisted step:
//   STEP_PROCESS   fetch dataset + schema, stream the staged file through
//                  RowPipeline into a query-store write (VersionSpec with the
//                  job as idempotency key), commit.
//   STEP_REGISTER  the store committed: register the version in the
//                  catalogue (request_id = the job).
//   COMMITTED / REJECTED / FAILED / CANCELLED: staged data deleted.
// After a crash, Start() re-queues QUEUED and RUNNING jobs: a job in
// STEP_PROCESS is re-run from the beginning (the store shows only committed
// versions, and a retried commit with the same idempotency key is a no-op,
// so nothing is half-visible or loaded twice); a job in STEP_REGISTER only
// re-registers (idempotent by request_id).
//
// Thread safety: all public methods are thread-safe.
#ifndef DATALAB_SERVICES_INGESTION_INGESTION_H_
#define DATALAB_SERVICES_INGESTION_INGESTION_H_

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/audit_client/audit_client.h"
#include "common/crypto/bytes.h"
#include "datalab/catalogue/v1/catalogue.pb.h"
#include "datalab/common/v1/identity.pb.h"
#include "datalab/ingestion/v1/ingestion.pb.h"
#include "datalab/query/v1/query.pb.h"
#include "services/ingestion/ingestion_store.h"
#include "services/ingestion/pipeline.h"

namespace datalab::ingestion {

// The catalogue calls ingestion makes.
class CatalogueApi {
 public:
  virtual ~CatalogueApi() = default;
  virtual absl::StatusOr<catalogue::v1::Dataset> GetDataset(const std::string& name) = 0;
  // name: datasets/{d}/schemas/{v}
  virtual absl::StatusOr<catalogue::v1::Schema> GetSchema(const std::string& name) = 0;
  virtual absl::StatusOr<catalogue::v1::DatasetVersion> RegisterDatasetVersion(
      const catalogue::v1::RegisterDatasetVersionRequest& request) = 0;
};

// One WriteDatasetVersion stream: Begin, Write* (BatchSink), Commit or Abort.
class VersionWriter : public BatchSink {
 public:
  virtual absl::Status Begin(const query::v1::VersionSpec& spec) = 0;
  virtual absl::StatusOr<query::v1::WriteDatasetVersionResponse> Commit(
      const query::v1::CommitVersion& commit) = 0;
  // Ends the stream without committing; nothing becomes visible.
  virtual void Abort() = 0;
};

class VersionStore {
 public:
  virtual ~VersionStore() = default;
  virtual absl::StatusOr<std::unique_ptr<VersionWriter>> OpenWriter() = 0;
  // The highest version number stored for `dataset` (datasets/{d}), 0 if
  // none. It can be ahead of the catalogue: an erasure writes a new version
  // in the store without the erased subjects.
  virtual absl::StatusOr<int32_t> LatestStoredVersion(const std::string& dataset) = 0;
};

struct IngestionOptions {
  IngestionStore* store = nullptr;            // required; outlives Ingestion
  CatalogueApi* catalogue = nullptr;          // required
  Pseudonymiser* pseudonymiser = nullptr;     // required
  VersionStore* versions = nullptr;           // required
  audit_client::AuditClient* audit = nullptr;  // required
  crypto::SecureBytes staging_key;            // 32 bytes; wraps per-upload keys
  int64_t max_upload_bytes = int64_t{2} << 30;
  int64_t batch_rows = 65536;
  int max_reported_errors = 1000;
  std::function<int64_t()> now_ms;            // default: system clock
  // Tests: called at named points of a job; a non-OK status stops the job
  // right there without touching its state, as a crash (kill -9) would.
  // Points: "process_started", "store_committed", "register_pending",
  // "catalogue_registered".
  std::function<absl::Status(std::string_view point)> failpoint;
  bool start_worker = true;  // false: tests drive RunQueuedJobs()
};

struct UploadResult {
  v1::UploadSession session;
  bool duplicate_of_existing = false;
};

class Ingestion {
 public:
  static absl::StatusOr<std::unique_ptr<Ingestion>> Create(IngestionOptions options);
  ~Ingestion();

  // Re-queues unfinished jobs and starts the worker (unless start_worker is
  // false). Call once.
  absl::Status Start();
  // Stops the worker; a running job is left RUNNING, to resume on restart.
  void Stop();

  absl::StatusOr<UploadResult> BeginUpload(const common::v1::Principal& caller,
                                           const v1::UploadHeader& header);
  // The session to continue; only its uploader may resume it.
  absl::StatusOr<v1::UploadSession> ResumeUpload(const common::v1::Principal& caller,
                                                 const std::string& name);
  absl::StatusOr<UploadResult> AppendChunk(const common::v1::Principal& caller,
                                           const std::string& name, int64_t offset,
                                           std::string_view bytes);
  absl::StatusOr<v1::UploadSession> GetUploadSession(const common::v1::Principal& caller,
                                                     const std::string& name) const;

  absl::StatusOr<v1::Job> GetJob(const std::string& name) const;
  absl::StatusOr<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request) const;
  absl::StatusOr<v1::ValidationReport> GetValidationReport(const std::string& job) const;
  absl::StatusOr<v1::Job> CancelJob(const common::v1::Principal& caller,
                                    const std::string& name);

  // Runs every queued job on the calling thread (tests, start_worker=false).
  void RunQueuedJobs();

 private:
  explicit Ingestion(IngestionOptions options);

  int64_t Now() const;
  void Audit(const common::v1::Principal& actor, const std::string& action,
             std::vector<std::string> resources, common::v1::Decision decision,
             const std::string& reason, std::map<std::string, std::string> details,
             const std::string& event_id = "");
  absl::StatusOr<crypto::SecureBytes> DataKey(const v1::StagedUpload& upload) const;
  absl::StatusOr<UploadResult> CompleteUpload(v1::StagedUpload upload, int64_t last_index,
                                              std::string last_sealed);
  absl::Status ForEachPlainChunk(const v1::StagedUpload& upload,
                                 const std::function<absl::Status(std::string_view)>& fn) const;
  void Enqueue(const std::string& job_id);
  void WorkerLoop();
  // Runs one job to its end (or to a failpoint). Never throws; records
  // failures in the job.
  void RunJob(const std::string& job_id);
  absl::Status ProcessStep(v1::JobRecord& rec, v1::StagedUpload& upload,
                           v1::ValidationReport* report, bool* finished);
  absl::Status RegisterStep(v1::JobRecord& rec, v1::StagedUpload& upload);
  void EndJob(v1::JobRecord& rec, v1::StagedUpload& upload, const v1::ValidationReport& report,
              v1::Job::State state, const std::string& error, const std::string& dedup_key);
  absl::Status Failpoint(std::string_view point) const;
  static std::string DedupKey(const std::string& dataset, const std::string& school,
                              const std::string& sha256);

  IngestionOptions options_;
  common::v1::Principal self_;

  mutable absl::Mutex upload_mu_;  // serialises offset checks per session

  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::deque<std::string> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::string running_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<RowPipeline> running_pipeline_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> cancel_running_{false};
  std::atomic<bool> shutdown_{false};
  std::thread worker_;
};

// Reads a 32-byte staging key from `path` (base64 text or 32 raw bytes),
// or, when the file does not exist and `create` is set, generates one and
// writes it with mode 0600. FAILED_PRECONDITION when the file is readable
// by group or others.
absl::StatusOr<crypto::SecureBytes> LoadOrCreateStagingKey(const std::string& path,
                                                           bool create);

}  // namespace datalab::ingestion

#endif  // DATALAB_SERVICES_INGESTION_INGESTION_H_
