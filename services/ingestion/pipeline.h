// The row pipeline of one ingestion job: CSV bytes in (in chunks, as staged),
// treated RowBatches out, plus the validation report and quality numbers.
//
//   bytes -> CsvReader -> header match -> per row: summary check, typed
//   parse, required / code list / range / identifier / one-per-subject-per-
//   period checks -> column builders (~batch_rows rows; strings dictionary
//   coded, see common/rowbatch) -> treatment (pseudonymise the batch's
//   identifiers in one call per column, generalise, drop) ->
//   BatchSink.
//
// Three stages: the calling thread parses and validates batch k+2 while a
// second thread pseudonymises batch k+1 and a third writes batch k, so
// the pseudonymisation and query services work at the same time and while
// the file is still being read. Batches are written in order, one at a
// time; what treatment finds (pseudonymisation errors) is merged into the
// report on the calling thread.
//
// Memory is bounded by three batches of rows plus the per-(subject, period)
// duplicate set (8 bytes a row): the file is never held whole.
//
// Error policy:
//   REJECT      the first invalid row stops all treatment and writing; the
//               rest of the file is still validated so the report is whole.
//               rejected() is then true and the caller must abort the write.
//   QUARANTINE  invalid rows are counted and set aside; the rest is written.
// File-level problems (no header row, missing required headers, malformed
// CSV such as an unterminated quote or invalid UTF-8, no data rows) reject
// the upload under either policy.
//
// Privacy: row errors carry the row, line, column name, rule and a reason
// that never contains the cell text. Raw identifiers live only in the
// current batch's memory until they are replaced by pseudonyms.
//
// Thread safety: one pipeline per job, driven by one thread. progress() may
// be read from any thread.
#ifndef DATALAB_SERVICES_INGESTION_PIPELINE_H_
#define DATALAB_SERVICES_INGESTION_PIPELINE_H_

#include <atomic>
#include <cstdint>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/csv/csv_reader.h"
#include "common/rowbatch/string_column.h"
#include "datalab/ingestion/v1/ingestion.pb.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.pb.h"
#include "datalab/query/v1/query.pb.h"
#include "services/ingestion/compiled_schema.h"

namespace datalab::ingestion {

// The pseudonyms of one Pseudonymise call, packed: identifier i's pseudonym
// is data.substr(i * width, width), unless `errors` holds i (the identifier
// is invalid; the slot's bytes mean nothing).
struct PseudonymBatch {
  std::string data;
  size_t width = 0;
  // (index, reason), ascending by index; the reason never holds the
  // identifier.
  std::vector<std::pair<size_t, std::string>> errors;
};

// Turns identifiers into pseudonyms, in order. An entry in `errors` is a row
// error; a non-OK status means the service could not be asked (the job
// fails).
class Pseudonymiser {
 public:
  virtual ~Pseudonymiser() = default;
  virtual absl::Status Pseudonymise(const std::string& domain, const std::string& job,
                                    const std::vector<std::string_view>& identifiers,
                                    PseudonymBatch* out) = 0;
};

// Receives treated batches in order, on one thread at a time.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // May take the batch's contents.
  virtual absl::Status Write(query::v1::RowBatch* batch) = 0;
};

// The most rows one batch may hold (a batch's columns are sized for a full
// batch up front, and protobuf repeated fields are int-indexed).
inline constexpr int64_t kMaxBatchRows = 1 << 20;

struct PipelineOptions {
  v1::ErrorPolicy policy = v1::REJECT;
  csv::Encoding encoding = csv::Encoding::kAuto;
  std::string school;   // the upload's school URN or "trust-wide"
  std::string period;
  std::string job;      // jobs/{id}, passed to pseudonymisation for audit
  int64_t batch_rows = 65536;  // 1 to kMaxBatchRows
  int max_reported_errors = 1000;
};

// Per schema column counts behind the quality metrics.
struct ColumnStats {
  int64_t cells = 0;     // data rows seen (summary rows excluded)
  int64_t present = 0;   // not missing
  int64_t valid = 0;     // present and passed every check
  // Per school (trust-wide uploads with a urn column, at most 5,000
  // schools): cells and present. Filled by Finish().
  absl::flat_hash_map<std::string, std::pair<int64_t, int64_t>> by_school;
};

class RowPipeline {
 public:
  // `schema`, `pseudonymiser` and `sink` must outlive the pipeline.
  static absl::StatusOr<std::unique_ptr<RowPipeline>> Create(
      const CompiledSchema* schema, const PipelineOptions& options,
      Pseudonymiser* pseudonymiser, BatchSink* sink);
  // Waits for a batch still in treatment or being written.
  ~RowPipeline();
  // Waits for a batch still in treatment or being written and drops the
  // outcome: call before aborting the sink after Feed or Finish failed
  // (cancellation, a staged chunk that fails authentication), so nothing
  // writes to it any more.
  void Abandon();

  // Feeds the next chunk of the file. A non-OK status is an infrastructure
  // failure (pseudonymisation or the sink): the job fails. File-level
  // problems do not fail Feed; they set rejected().
  absl::Status Feed(std::string_view chunk);
  // End of file: flushes the last batch. Same error contract as Feed.
  absl::Status Finish();

  bool rejected() const { return rejected_; }
  const std::string& reject_reason() const { return reject_reason_; }
  // Complete after Finish().
  const v1::ValidationReport& report() const { return report_; }
  v1::JobProgress progress() const;
  const std::vector<ColumnStats>& column_stats() const { return stats_; }
  int64_t rows_loaded() const { return loaded_.load(); }
  int64_t duplicate_subject_rows() const { return duplicate_subject_rows_; }
  int64_t subject_period_keys() const { return static_cast<int64_t>(seen_.size()); }

 private:
  struct Cell {
    enum Kind : uint8_t { kInt, kDouble, kString, kMissing } kind = kMissing;
    uint8_t missing = 0;  // MissingReason
    bool coded = false;   // a CODE column's kept value: `code` indexes code_list
    uint32_t code = 0;
    int64_t i = 0;
    double d = 0;
    // kString: the value. A view of the record's bytes (valid while its
    // row is handled), or of `s` for a value made here (a normalised
    // identifier, a generalised date or postcode).
    std::string_view text;
    std::string s;
  };
  // One batch of valid rows, column by column: numbers straight into the
  // batch message, strings (by stored column) in dictionary builders.
  struct Pending {
    query::v1::RowBatch batch;
    std::vector<std::unique_ptr<rowbatch::StringColumnBuilder>> strings;
    // Per stored column: one byte per row (a MissingReason, 0 when
    // present), or empty while the column has no missing cell.
    std::vector<std::string> missing;
    // Batch row -> (data row number, line) for errors found in treatment.
    std::vector<std::pair<int64_t, int64_t>> rows_at;
    int64_t count = 0;
  };
  // What treating a batch found, merged into the report by the caller.
  struct Treated {
    absl::Status status;
    std::vector<v1::RowError> errors;  // pseudonymisation refusals
    int64_t dropped = 0;               // rows with such an error
    bool reject = false;               // REJECT policy and dropped > 0
    int64_t written = 0;
  };

  RowPipeline(const CompiledSchema* schema, const PipelineOptions& options,
              Pseudonymiser* pseudonymiser, BatchSink* sink);

  absl::Status Drain();
  void OnHeader(const csv::CsvRecord& rec);
  absl::Status OnRow(const csv::CsvRecord& rec);
  // A parse-time error, held until its batch is sealed (after the errors
  // treatment finds in earlier rows), so the list stays in file order.
  void AddError(int64_t row, int64_t line, const std::string& column,
                const std::string& rule, const std::string& reason);
  // A treatment error, listed at once; and the held errors, listed.
  void ListError(v1::RowError e);
  void SealErrors();
  void Reject(const std::string& reason);
  void AppendRow();
  // Hands the batch to the treatment thread (after collecting the one
  // before it).
  absl::Status Flush();
  // Waits for the batch in treatment, if any, and merges what it found.
  absl::Status Collect();
  // Treatment thread: pseudonymise, drop refused rows and write.
  Treated Treat(std::shared_ptr<Pending> p);
  void ResetBatch();
  void CountSchool(std::string_view school);

  const CompiledSchema* schema_;
  const PipelineOptions options_;
  Pseudonymiser* pseudonymiser_;
  BatchSink* sink_;
  std::unique_ptr<csv::CsvReader> reader_;

  bool header_seen_ = false;
  bool reader_failed_ = false;
  bool rejected_ = false;
  std::string reject_reason_;
  std::vector<int> field_for_column_;
  int school_urn_column_ = -1;  // a column named urn / school_urn
  size_t header_fields_ = 0;

  std::vector<Cell> row_;  // per schema column, reused
  std::unique_ptr<Pending> pending_;
  std::future<Treated> in_treatment_;
  // The sink write of the last treated batch. Touched by the treatment
  // thread (one at a time, in batch order) and by the caller only when no
  // batch is in treatment (Finish, Abandon).
  std::future<absl::Status> writing_;

  absl::flat_hash_set<uint64_t> seen_;  // hash(subject, period)
  std::string subject_key_;  // scratch for the key hashed into seen_
  int64_t duplicate_subject_rows_ = 0;

  v1::ValidationReport report_;
  std::vector<v1::RowError> unsealed_errors_;
  absl::flat_hash_map<std::string, int64_t> totals_;   // rule \x1f column
  // Per schema column: marker -> count.
  std::vector<absl::flat_hash_map<std::string, int64_t>> markers_;
  std::vector<ColumnStats> stats_;
  // Trust-wide uploads: per school, per schema column (cells, present);
  // copied into stats_[c].by_school by Finish.
  absl::flat_hash_map<std::string, size_t> school_slot_;
  struct SchoolCounts {
    int64_t rows = 0;              // each column's cells
    std::vector<int64_t> present;  // per schema column
  };
  std::vector<SchoolCounts> school_counts_;
  std::string last_school_;
  size_t last_slot_ = SIZE_MAX;

  std::atomic<int64_t> parsed_{0}, validated_{0}, treated_{0}, loaded_{0},
      quarantined_{0}, summary_{0};
};

}  // namespace datalab::ingestion

#endif  // DATALAB_SERVICES_INGESTION_PIPELINE_H_
