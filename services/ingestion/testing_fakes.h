// In-memory fakes of ingestion's collaborators, for unit tests and the DfE
// files test. Each is thread-safe and records what it was sent.
#ifndef DATALAB_SERVICES_INGESTION_TESTING_FAKES_H_
#define DATALAB_SERVICES_INGESTION_TESTING_FAKES_H_

#include <atomic>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/ingestion/ingestion.h"

namespace datalab::ingestion::testing {

// Pseudonym = "ps_" + first 24 hex of SHA-256(domain | identifier).
// Identifiers in `invalid` get a per-item error; Fail() makes calls fail.
class FakePseudonymiser : public Pseudonymiser {
 public:
  absl::Status Pseudonymise(const std::string& domain, const std::string& job,
                            const std::vector<std::string_view>& identifiers,
                            PseudonymBatch* out) override;
  static std::string PseudonymFor(const std::string& domain, const std::string& identifier);
  void SetInvalid(std::set<std::string> invalid);
  void SetFailing(bool failing);
  int64_t calls() const;
  int64_t identifiers_seen() const;

 private:
  mutable absl::Mutex mu_;
  std::set<std::string> invalid_ ABSL_GUARDED_BY(mu_);
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  int64_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t seen_ ABSL_GUARDED_BY(mu_) = 0;
};

// Collects batches (BatchSink) and concatenates them into whole columns.
class CollectingSink : public BatchSink {
 public:
  absl::Status Write(query::v1::RowBatch* batch) override;
  std::vector<query::v1::RowBatch> batches;
  int64_t rows = 0;
};

// A query store: versions become visible only on Commit; a commit with an
// idempotency key already committed is a no-op (already_committed).
class FakeVersionStore : public VersionStore {
 public:
  struct Stored {
    query::v1::VersionSpec spec;
    std::vector<query::v1::RowBatch> batches;
    int64_t rows = 0;  // new rows (base rows are not copied by the fake)
  };
  absl::StatusOr<std::unique_ptr<VersionWriter>> OpenWriter() override;
  absl::StatusOr<int32_t> LatestStoredVersion(const std::string& dataset) override;
  // Fails the next OpenWriter/Write/Commit with UNAVAILABLE while set.
  void SetFailing(bool failing);
  // Commits answer without a content hash while set (a faulty store).
  void SetOmitContentHash(bool omit);
  // Called at the start of every Write, outside the store's lock (a test
  // can stall a write there, or cancel the job).
  void SetWriteHook(std::function<void()> hook);
  // Aborts that came while a Write was still running on another thread:
  // the gRPC writer does not allow that, so it must stay 0.
  int aborts_during_write() const;
  std::map<std::string, Stored> committed() const;  // by dataset_version
  int commits() const;          // real commits (not idempotent replays)
  int aborted() const;
  int open_writers() const;

 private:
  friend class FakeWriter;
  mutable absl::Mutex mu_;
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
  bool omit_content_hash_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Stored> committed_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> keys_ ABSL_GUARDED_BY(mu_);
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
  int aborted_ ABSL_GUARDED_BY(mu_) = 0;
  int open_ ABSL_GUARDED_BY(mu_) = 0;
  std::function<void()> write_hook_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> writes_running_{0};
  std::atomic<int> aborts_during_write_{0};
};

// Datasets and schemas by name; RegisterDatasetVersion bumps latest_version
// and is idempotent by request_id.
class FakeCatalogue : public CatalogueApi {
 public:
  void AddDataset(const catalogue::v1::Dataset& d, const catalogue::v1::Schema& s);
  absl::StatusOr<catalogue::v1::Dataset> GetDataset(const std::string& name) override;
  absl::StatusOr<catalogue::v1::Schema> GetSchema(const std::string& name) override;
  absl::StatusOr<catalogue::v1::DatasetVersion> RegisterDatasetVersion(
      const catalogue::v1::RegisterDatasetVersionRequest& request) override;
  std::vector<catalogue::v1::RegisterDatasetVersionRequest> registered() const;
  void SetFailing(bool failing);

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, catalogue::v1::Dataset> datasets_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, catalogue::v1::Schema> schemas_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, catalogue::v1::DatasetVersion> by_request_ ABSL_GUARDED_BY(mu_);
  std::vector<catalogue::v1::RegisterDatasetVersionRequest> registered_ ABSL_GUARDED_BY(mu_);
  bool failing_ ABSL_GUARDED_BY(mu_) = false;
};

// A string column of a batch as plain strings, whichever wire form it came
// in ("" for a missing row).
std::vector<std::string> Strings(const query::v1::ColumnValues& column, int64_t rows);

// Hex SHA-256 of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace datalab::ingestion::testing

#endif  // DATALAB_SERVICES_INGESTION_TESTING_FAKES_H_
