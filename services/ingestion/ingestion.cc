#include "services/ingestion/ingestion.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/crypto/aead.h"
#include "common/crypto/encoding.h"
#include "common/crypto/sha256.h"
#include "common/csv/encoding.h"
#include "common/identifiers/urn.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"

namespace datalab::ingestion {
namespace {

namespace cv1 = ::datalab::common::v1;
namespace cat = ::datalab::catalogue::v1;

constexpr char kUploadPrefix[] = "uploads/";
constexpr char kJobPrefix[] = "jobs/";
constexpr char kTrustWide[] = "trust-wide";

absl::StatusOr<std::string> RandomHex(size_t bytes) {
  ASSIGN_OR_RETURN(crypto::SecureBytes b, crypto::RandomBytes(bytes));
  return crypto::HexEncode(b);
}

std::string KeyAad(const std::string& upload_name) {
  return absl::StrCat("datalab/ingestion/staging-key/", upload_name);
}
std::string ChunkAad(const std::string& upload_name, int64_t index, int64_t offset) {
  return absl::StrCat("datalab/ingestion/chunk/", upload_name, "/", index, "/", offset);
}

bool IsTerminal(v1::Job::State s) {
  return s == v1::Job::COMMITTED || s == v1::Job::REJECTED || s == v1::Job::FAILED ||
         s == v1::Job::CANCELLED;
}

bool IsHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

absl::Status ValidateHeader(const v1::UploadHeader& h, int64_t max_bytes) {
  if (!absl::StartsWith(h.dataset(), "datasets/") || h.dataset().size() <= 9 ||
      absl::StrContains(h.dataset().substr(9), "/")) {
    return absl::InvalidArgumentError("header.dataset must be datasets/{dataset}");
  }
  if (h.school_urn() != kTrustWide && !identifiers::ParseUrn(h.school_urn()).ok()) {
    return absl::InvalidArgumentError(
        "header.school_urn must be a school URN (6 digits) or \"trust-wide\"");
  }
  if (!h.extract_date().empty()) {
    absl::CivilDay d;
    if (!absl::ParseCivilTime(h.extract_date(), &d)) {
      return absl::InvalidArgumentError("header.extract_date must be YYYY-MM-DD");
    }
  }
  if (!csv::ParseEncodingName(h.encoding()).ok()) {
    return absl::InvalidArgumentError(
        "header.encoding must be auto, utf-8 or windows-1252");
  }
  if (h.total_bytes() <= 0) {
    return absl::InvalidArgumentError("header.total_bytes must be positive");
  }
  if (h.total_bytes() > max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "header.total_bytes ", h.total_bytes(), " exceeds the upload limit of ", max_bytes,
        " bytes"));
  }
  if (!IsHex64(h.sha256())) {
    return absl::InvalidArgumentError("header.sha256 must be 64 hex digits");
  }
  if (h.mode() == v1::REPLACE && h.period().empty()) {
    return absl::InvalidArgumentError("header.period is required when mode is REPLACE");
  }
  if (h.file_name().size() > 255 || h.source_system().size() > 64 || h.period().size() > 64) {
    return absl::InvalidArgumentError(
        "header.file_name (255), source_system (64) or period (64) is too long");
  }
  return absl::OkStatus();
}

// Share of a year an extract has aged: 1.0 up to a month old, 0 at a year.
double Timeliness(const std::string& extract_date, int64_t now_ms) {
  absl::CivilDay d;
  if (extract_date.empty() || !absl::ParseCivilTime(extract_date, &d)) return 0.5;
  absl::CivilDay today = absl::ToCivilDay(absl::FromUnixMillis(now_ms), absl::UTCTimeZone());
  const double age = static_cast<double>(today - d);
  if (age <= 31) return 1.0;
  if (age >= 365) return 0.0;
  return 1.0 - (age - 31) / (365 - 31);
}

cat::QualityRating MeasureQuality(const CompiledSchema& schema, const RowPipeline& p,
                                  const std::string& extract_date, int64_t now_ms) {
  cat::QualityRating q;
  const double timeliness = Timeliness(extract_date, now_ms);
  double uniqueness = 1.0;
  const int64_t keys = p.subject_period_keys();
  if (keys + p.duplicate_subject_rows() > 0) {
    uniqueness = static_cast<double>(keys) /
                 static_cast<double>(keys + p.duplicate_subject_rows());
  }
  double sum_c = 0, sum_v = 0, sum_k = 0;
  int n = 0;
  for (size_t i = 0; i < schema.columns().size(); ++i) {
    const ColumnStats& st = p.column_stats()[i];
    const auto& cc = schema.columns()[i];
    if (cc.stored_index < 0) continue;  // dropped: not in the version
    cat::QualityMetric* m = q.add_breakdown();
    m->set_column(cc.column.name());
    const double completeness =
        st.cells > 0 ? static_cast<double>(st.present) / static_cast<double>(st.cells) : 0.0;
    const double validity =
        st.present > 0 ? static_cast<double>(st.valid) / static_cast<double>(st.present) : 1.0;
    double consistency = 1.0;
    if (st.by_school.size() > 1) {
      double worst = 0;
      for (const auto& [school, cp] : st.by_school) {
        if (cp.first == 0) continue;
        worst = std::max(worst, std::fabs(static_cast<double>(cp.second) /
                                              static_cast<double>(cp.first) -
                                          completeness));
      }
      consistency = std::max(0.0, 1.0 - worst);
    }
    m->set_completeness(completeness);
    m->set_validity(std::min(1.0, validity));
    m->set_uniqueness(uniqueness);
    m->set_timeliness(timeliness);
    m->set_consistency(consistency);
    sum_c += completeness;
    sum_v += std::min(1.0, validity);
    sum_k += consistency;
    ++n;
  }
  cat::QualityMetric* all = q.add_breakdown();
  all->set_completeness(n ? sum_c / n : 0);
  // Row validity: a quarantined row is invalid even if most cells were fine.
  const auto& r = p.report();
  const double row_validity =
      r.rows_total() > 0 ? static_cast<double>(r.rows_valid()) / static_cast<double>(r.rows_total())
                         : 1.0;
  all->set_validity(std::min(row_validity, n ? sum_v / n : 1.0));
  all->set_uniqueness(uniqueness);
  all->set_timeliness(timeliness);
  all->set_consistency(n ? sum_k / n : 1.0);
  return q;
}

// Adapts a VersionWriter to the pipeline's sink while checking cancellation.
class CancellableSink : public BatchSink {
 public:
  CancellableSink(VersionWriter* w, const std::atomic<bool>* cancel,
                  const std::atomic<bool>* shutdown)
      : w_(w), cancel_(cancel), shutdown_(shutdown) {}
  absl::Status Write(query::v1::RowBatch* b) override {
    if (cancel_->load()) return absl::CancelledError("job cancelled");
    if (shutdown_->load()) return absl::AbortedError("service shutting down");
    return w_->Write(b);
  }

 private:
  VersionWriter* w_;
  const std::atomic<bool>* cancel_;
  const std::atomic<bool>* shutdown_;
};

}  // namespace

absl::StatusOr<crypto::SecureBytes> LoadOrCreateStagingKey(const std::string& path, bool create) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (!create) {
      return absl::FailedPreconditionError(absl::StrCat("staging key file ", path, " not found"));
    }
    ASSIGN_OR_RETURN(crypto::SecureBytes key, crypto::RandomBytes(crypto::Aead::kKeySize));
    const std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
      ::chmod(tmp.c_str(), 0600);
      out << crypto::Base64Encode(key) << "\n";
      if (!out.flush()) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot create ", path));
    }
    return key;
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "staging key file ", path, " is readable by group or others; chmod 600 it"));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  if (text.size() == crypto::Aead::kKeySize) return crypto::SecureBytes(crypto::ByteView(text));
  absl::string_view trimmed = absl::StripAsciiWhitespace(text);
  auto key = crypto::Base64DecodeSecret(std::string_view(trimmed.data(), trimmed.size()));
  std::fill(text.begin(), text.end(), '\0');
  if (!key.ok() || key->size() != crypto::Aead::kKeySize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "staging key file ", path, " must hold 32 bytes (raw or base64)"));
  }
  return std::move(*key);
}

std::string Ingestion::DedupKey(const std::string& dataset, const std::string& school,
                                const std::string& sha256) {
  return absl::StrCat(dataset, "|", school, "|", absl::AsciiStrToLower(sha256));
}

absl::StatusOr<std::unique_ptr<Ingestion>> Ingestion::Create(IngestionOptions options) {
  if (!options.store || !options.catalogue || !options.pseudonymiser || !options.versions ||
      !options.audit) {
    return absl::InvalidArgumentError(
        "ingestion needs a store, catalogue, pseudonymiser, version store and audit client");
  }
  if (options.staging_key.size() != crypto::Aead::kKeySize) {
    return absl::InvalidArgumentError("the staging key must be 32 bytes");
  }
  if (options.max_upload_bytes <= 0) {
    return absl::InvalidArgumentError("max_upload_bytes must be positive");
  }
  if (options.batch_rows <= 0 || options.batch_rows > kMaxBatchRows) {
    return absl::InvalidArgumentError(absl::StrCat("batch_rows must be between 1 and ",
                                                   kMaxBatchRows, ", not ", options.batch_rows));
  }
  if (!options.now_ms) {
    options.now_ms = [] { return absl::ToUnixMillis(absl::Now()); };
  }
  return std::unique_ptr<Ingestion>(new Ingestion(std::move(options)));
}

Ingestion::Ingestion(IngestionOptions options) : options_(std::move(options)) {
  self_.set_kind(cv1::Principal::SERVICE);
  self_.set_subject("ingestion");
}

Ingestion::~Ingestion() { Stop(); }

int64_t Ingestion::Now() const { return options_.now_ms(); }

absl::Status Ingestion::Failpoint(std::string_view point) const {
  if (!options_.failpoint) return absl::OkStatus();
  if (options_.failpoint(point).ok()) return absl::OkStatus();
  return absl::UnknownError(absl::StrCat("failpoint ", std::string(point)));
}

void Ingestion::Audit(const cv1::Principal& actor, const std::string& action,
                      std::vector<std::string> resources, cv1::Decision decision,
                      const std::string& reason, std::map<std::string, std::string> details,
                      const std::string& event_id) {
  cv1::AuditEvent e;
  e.set_event_id(event_id.empty() ? audit_client::NewEventId() : event_id);
  e.set_time_unix_ms(Now());
  e.set_service("ingestion");
  *e.mutable_actor() = actor;
  e.set_action(action);
  for (auto& r : resources) e.add_resources(std::move(r));
  e.set_decision(decision);
  e.set_reason(reason);
  for (auto& [k, v] : details) (*e.mutable_details())[k] = v;
  if (absl::Status s = options_.audit->Append(e); !s.ok()) {
    log::Error("audit append failed", {{"action", action}, {"error", std::string(s.message())}});
  }
}

absl::Status Ingestion::Start() {
  std::string after;
  while (true) {
    ASSIGN_OR_RETURN(auto jobs, options_.store->ListJobs(after, 500));
    if (jobs.empty()) break;
    for (const auto& j : jobs) {
      after = j.job().name().substr(sizeof(kJobPrefix) - 1);
      if (j.job().state() == v1::Job::QUEUED || j.job().state() == v1::Job::RUNNING) {
        log::Info("resuming job", {{"job", j.job().name()},
                                   {"step", v1::JobStep_Name(j.step())}});
        Enqueue(after);
      }
    }
  }
  if (options_.start_worker) worker_ = std::thread([this] { WorkerLoop(); });
  return absl::OkStatus();
}

void Ingestion::Stop() {
  {
    absl::MutexLock l(&mu_);
    if (stopping_) return;
    stopping_ = true;
    cv_.SignalAll();
  }
  shutdown_ = true;
  if (worker_.joinable()) worker_.join();
}

void Ingestion::Enqueue(const std::string& job_id) {
  absl::MutexLock l(&mu_);
  queue_.push_back(job_id);
  cv_.Signal();
}

void Ingestion::WorkerLoop() {
  while (true) {
    std::string id;
    {
      absl::MutexLock l(&mu_);
      while (queue_.empty() && !stopping_) cv_.Wait(&mu_);
      if (stopping_) return;
      id = queue_.front();
      queue_.pop_front();
      running_ = id;
      cancel_running_ = false;
    }
    RunJob(id);
    absl::MutexLock l(&mu_);
    running_.clear();
  }
}

void Ingestion::RunQueuedJobs() {
  while (true) {
    std::string id;
    {
      absl::MutexLock l(&mu_);
      if (queue_.empty()) return;
      id = queue_.front();
      queue_.pop_front();
      running_ = id;
      cancel_running_ = false;
    }
    RunJob(id);
    absl::MutexLock l(&mu_);
    running_.clear();
  }
}

// ---- Uploads ----

absl::StatusOr<crypto::SecureBytes> Ingestion::DataKey(const v1::StagedUpload& u) const {
  if (u.wrapped_data_key().empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(u.session().name(), " has no staged data (the job has ended)"));
  }
  return crypto::Aead::Open(options_.staging_key, u.wrapped_data_key(),
                            KeyAad(u.session().name()));
}

absl::StatusOr<UploadResult> Ingestion::BeginUpload(const cv1::Principal& caller,
                                                    const v1::UploadHeader& header) {
  RETURN_IF_ERROR(ValidateHeader(header, options_.max_upload_bytes));
  v1::UploadHeader h = header;
  h.set_sha256(absl::AsciiStrToLower(h.sha256()));
  if (h.encoding().empty()) h.set_encoding("auto");
  if (!h.allow_duplicate()) {
    ASSIGN_OR_RETURN(auto dup, options_.store->FindDuplicate(
                                   DedupKey(h.dataset(), h.school_urn(), h.sha256())));
    if (dup.has_value()) {
      ASSIGN_OR_RETURN(v1::JobRecord existing, options_.store->GetJob(*dup));
      UploadResult r;
      r.duplicate_of_existing = true;
      ASSIGN_OR_RETURN(v1::StagedUpload u, options_.store->GetUpload(existing.job().upload().substr(
                                               sizeof(kUploadPrefix) - 1)));
      r.session = u.session();
      Audit(caller, "ingestion.upload.duplicate", {h.dataset(), existing.job().name()},
            cv1::ALLOW, "same file already committed; nothing loaded",
            {{"sha256", h.sha256()}, {"total_bytes", absl::StrCat(h.total_bytes())}});
      return r;
    }
  }
  ASSIGN_OR_RETURN(std::string id, RandomHex(16));
  v1::StagedUpload u;
  v1::UploadSession* s = u.mutable_session();
  s->set_name(absl::StrCat(kUploadPrefix, id));
  *s->mutable_header() = h;
  s->set_create_time_unix_ms(Now());
  s->set_uploader(caller.subject());
  ASSIGN_OR_RETURN(crypto::SecureBytes data_key, crypto::RandomBytes(crypto::Aead::kKeySize));
  ASSIGN_OR_RETURN(std::string wrapped,
                   crypto::Aead::Seal(options_.staging_key, data_key, KeyAad(s->name())));
  u.set_wrapped_data_key(wrapped);
  RETURN_IF_ERROR(options_.store->PutUpload(u));
  Audit(caller, "ingestion.upload.start", {s->name(), h.dataset()}, cv1::ALLOW, "upload started",
        {{"school", h.school_urn()},
         {"sha256", h.sha256()},
         {"total_bytes", absl::StrCat(h.total_bytes())},
         {"policy", v1::ErrorPolicy_Name(h.error_policy())},
         {"mode", v1::LoadMode_Name(h.mode())}});
  UploadResult r;
  r.session = u.session();
  return r;
}

absl::StatusOr<v1::UploadSession> Ingestion::ResumeUpload(const cv1::Principal& caller,
                                                          const std::string& name) {
  ASSIGN_OR_RETURN(v1::UploadSession s, GetUploadSession(caller, name));
  if (s.complete()) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is already complete (", s.job(),
                                                      ")"));
  }
  return s;
}

absl::StatusOr<v1::UploadSession> Ingestion::GetUploadSession(const cv1::Principal& caller,
                                                              const std::string& name) const {
  if (!absl::StartsWith(name, kUploadPrefix) || name.size() == sizeof(kUploadPrefix) - 1) {
    return absl::InvalidArgumentError("name must be uploads/{upload}");
  }
  ASSIGN_OR_RETURN(v1::StagedUpload u,
                   options_.store->GetUpload(name.substr(sizeof(kUploadPrefix) - 1)));
  if (caller.kind() == cv1::Principal::USER && u.session().uploader() != caller.subject()) {
    return absl::PermissionDeniedError(
        absl::StrCat(name, " belongs to another uploader"));
  }
  return u.session();
}

absl::StatusOr<UploadResult> Ingestion::AppendChunk(const cv1::Principal& caller,
                                                    const std::string& name, int64_t offset,
                                                    std::string_view bytes) {
  if (bytes.empty()) return absl::InvalidArgumentError("chunk is empty");
  RETURN_IF_ERROR(GetUploadSession(caller, name).status());
  const std::string id = name.substr(sizeof(kUploadPrefix) - 1);
  absl::MutexLock l(&upload_mu_);
  ASSIGN_OR_RETURN(v1::StagedUpload u, options_.store->GetUpload(id));
  v1::UploadSession* s = u.mutable_session();
  if (s->complete()) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is already complete"));
  }
  if (offset != s->bytes_received()) {
    // ABORTED, not FAILED_PRECONDITION: the client should read the session
    // again and resume from its offset. (A stream dropped while a chunk was
    // in flight can store that chunk after the client read the offset.)
    return absl::AbortedError(absl::StrCat(
        "chunk offset ", offset, " does not match the acknowledged offset; expected offset ",
        s->bytes_received()));
  }
  if (s->bytes_received() + static_cast<int64_t>(bytes.size()) > s->header().total_bytes()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "chunk at offset ", offset, " runs past the declared total_bytes ",
        s->header().total_bytes()));
  }
  ASSIGN_OR_RETURN(crypto::SecureBytes key, DataKey(u));
  const int64_t index = u.chunk_count();
  ASSIGN_OR_RETURN(std::string sealed,
                   crypto::Aead::Seal(key, bytes, ChunkAad(s->name(), index, offset)));
  s->set_bytes_received(offset + static_cast<int64_t>(bytes.size()));
  u.set_chunk_count(index + 1);
  if (s->bytes_received() == s->header().total_bytes()) {
    return CompleteUpload(std::move(u), index, std::move(sealed));
  }
  RETURN_IF_ERROR(options_.store->AppendChunk(u, index, sealed));
  UploadResult r;
  r.session = u.session();
  return r;
}

absl::Status Ingestion::ForEachPlainChunk(
    const v1::StagedUpload& u, const std::function<absl::Status(std::string_view)>& fn) const {
  ASSIGN_OR_RETURN(crypto::SecureBytes key, DataKey(u));
  absl::Status status;
  int64_t expect = 0, offset = 0;
  RETURN_IF_ERROR(options_.store->ForEachChunk(
      u.session().name().substr(sizeof(kUploadPrefix) - 1),
      [&](int64_t index, const std::string& sealed) {
        if (index != expect) {
          status = absl::DataLossError(absl::StrCat("staged chunk ", expect, " is missing"));
          return false;
        }
        auto plain = crypto::Aead::Open(key, sealed, ChunkAad(u.session().name(), index, offset));
        if (!plain.ok()) {
          status = absl::DataLossError(absl::StrCat("staged chunk ", index,
                                                    " failed authentication"));
          return false;
        }
        ++expect;
        offset += static_cast<int64_t>(plain->size());
        status = fn(plain->AsStringView());
        return status.ok();
      }));
  RETURN_IF_ERROR(status);
  if (expect != u.chunk_count() || offset != u.session().bytes_received()) {
    return absl::DataLossError("staged chunks do not add up to the received bytes");
  }
  return absl::OkStatus();
}

absl::StatusOr<UploadResult> Ingestion::CompleteUpload(v1::StagedUpload u, int64_t last_index,
                                                       std::string last_sealed) {
  // Stage the last chunk first so the whole file can be read back.
  v1::StagedUpload staged = u;
  RETURN_IF_ERROR(options_.store->AppendChunk(staged, last_index, last_sealed));
  ASSIGN_OR_RETURN(crypto::Sha256Hasher hasher, crypto::Sha256Hasher::Create());
  csv::EncodingDetector detector;
  RETURN_IF_ERROR(ForEachPlainChunk(u, [&](std::string_view c) {
    hasher.Update(c);
    detector.Feed(c);
    return absl::OkStatus();
  }));
  ASSIGN_OR_RETURN(crypto::Sha256Digest digest, hasher.Finish());
  u.set_sha256_actual(crypto::HexEncode(digest));
  u.set_encoding_detected(std::string(csv::EncodingName(detector.Finish())));
  v1::UploadSession* s = u.mutable_session();
  const v1::UploadHeader& h = s->header();

  ASSIGN_OR_RETURN(std::string rnd, RandomHex(4));
  const std::string job_id = absl::StrFormat("%013d-%s", Now(), rnd);
  v1::JobRecord rec;
  v1::Job* job = rec.mutable_job();
  job->set_name(absl::StrCat(kJobPrefix, job_id));
  job->set_upload(s->name());
  job->set_dataset(h.dataset());
  job->set_state(v1::Job::QUEUED);
  job->set_create_time_unix_ms(Now());
  job->set_update_time_unix_ms(Now());
  job->set_uploader(s->uploader());
  rec.set_step(v1::STEP_PROCESS);
  rec.set_dedup_key(DedupKey(h.dataset(), h.school_urn(), u.sha256_actual()));
  s->set_complete(true);
  s->set_job(job->name());

  UploadResult r;
  if (u.sha256_actual() != h.sha256()) {
    RETURN_IF_ERROR(options_.store->CompleteUpload(u, rec));
    v1::ValidationReport report;
    report.set_job(job->name());
    EndJob(rec, u, report, v1::Job::REJECTED,
           "the file's SHA-256 does not match header.sha256: it was changed or damaged in "
           "transit; send it again",
           "");
    r.session = u.session();
    return r;
  }
  if (!h.allow_duplicate()) {
    ASSIGN_OR_RETURN(auto dup, options_.store->FindDuplicate(rec.dedup_key()));
    if (dup.has_value()) {
      RETURN_IF_ERROR(options_.store->CompleteUpload(u, rec));
      v1::ValidationReport report;
      report.set_job(job->name());
      EndJob(rec, u, report, v1::Job::REJECTED,
             absl::StrCat("duplicate of jobs/", *dup,
                          ": this file was already loaded (set allow_duplicate to load it again)"),
             "");
      r.session = u.session();
      r.duplicate_of_existing = true;
      return r;
    }
  }
  RETURN_IF_ERROR(options_.store->CompleteUpload(u, rec));
  Enqueue(job_id);
  r.session = u.session();
  return r;
}

// ---- Jobs ----

absl::StatusOr<v1::Job> Ingestion::GetJob(const std::string& name) const {
  if (!absl::StartsWith(name, kJobPrefix) || name.size() == sizeof(kJobPrefix) - 1) {
    return absl::InvalidArgumentError("name must be jobs/{job}");
  }
  const std::string id = name.substr(sizeof(kJobPrefix) - 1);
  ASSIGN_OR_RETURN(v1::JobRecord rec, options_.store->GetJob(id));
  v1::Job job = rec.job();
  {
    absl::MutexLock l(&mu_);
    if (running_ == id && running_pipeline_) *job.mutable_progress() = running_pipeline_->progress();
  }
  return job;
}

absl::StatusOr<v1::ListJobsResponse> Ingestion::ListJobs(const v1::ListJobsRequest& req) const {
  int size = req.page_size() <= 0 ? 50 : std::min(req.page_size(), 500);
  std::string after;
  if (!req.page_token().empty()) {
    if (!absl::StartsWith(req.page_token(), "j:")) {
      return absl::InvalidArgumentError("page_token is not one this service issued");
    }
    after = req.page_token().substr(2);
  }
  v1::ListJobsResponse out;
  // Filtering by dataset may skip records; scan in pages until full.
  while (out.jobs_size() < size) {
    ASSIGN_OR_RETURN(auto jobs, options_.store->ListJobs(after, size));
    if (jobs.empty()) {
      after.clear();
      break;
    }
    for (auto& j : jobs) {
      after = j.job().name().substr(sizeof(kJobPrefix) - 1);
      if (!req.dataset().empty() && j.job().dataset() != req.dataset()) continue;
      *out.add_jobs() = j.job();
      if (out.jobs_size() >= size) break;
    }
  }
  if (!after.empty() && out.jobs_size() >= size) out.set_next_page_token("j:" + after);
  return out;
}

absl::StatusOr<v1::ValidationReport> Ingestion::GetValidationReport(const std::string& job) const {
  ASSIGN_OR_RETURN(v1::Job j, GetJob(job));
  auto r = options_.store->GetReport(job.substr(sizeof(kJobPrefix) - 1));
  if (absl::IsNotFound(r.status())) {
    return absl::FailedPreconditionError(absl::StrCat(
        job, " has no report yet (state ", v1::Job::State_Name(j.state()), ")"));
  }
  return r;
}

absl::StatusOr<v1::Job> Ingestion::CancelJob(const cv1::Principal& caller,
                                             const std::string& name) {
  ASSIGN_OR_RETURN(v1::Job j, GetJob(name));
  const std::string id = name.substr(sizeof(kJobPrefix) - 1);
  if (IsTerminal(j.state())) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, " has already ended (", v1::Job::State_Name(j.state()), ")"));
  }
  ASSIGN_OR_RETURN(v1::JobRecord rec, options_.store->GetJob(id));
  if (rec.step() == v1::STEP_REGISTER) {
    return absl::FailedPreconditionError(absl::StrCat(
        name, " has already been committed to the store and is being registered"));
  }
  {
    absl::MutexLock l(&mu_);
    if (running_ == id) {
      cancel_running_ = true;
      Audit(caller, "ingestion.job.cancel", {name}, cv1::ALLOW, "cancellation requested", {});
      return j;  // the worker ends it as CANCELLED
    }
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (*it == id) {
        queue_.erase(it);
        break;
      }
    }
  }
  auto upload = options_.store->GetUpload(j.upload().substr(sizeof(kUploadPrefix) - 1));
  if (!upload.ok()) return upload.status();
  v1::ValidationReport report;
  report.set_job(name);
  EndJob(rec, *upload, report, v1::Job::CANCELLED, "cancelled by the uploader", "");
  Audit(caller, "ingestion.job.cancel", {name}, cv1::ALLOW, "cancelled before it ran", {});
  return GetJob(name);
}

void Ingestion::EndJob(v1::JobRecord& rec, v1::StagedUpload& upload,
                       const v1::ValidationReport& report, v1::Job::State state,
                       const std::string& error, const std::string& dedup_key) {
  rec.mutable_job()->set_state(state);
  rec.mutable_job()->set_error(error);
  rec.mutable_job()->set_update_time_unix_ms(Now());
  rec.set_step(v1::STEP_DONE);
  upload.clear_wrapped_data_key();  // crypto-shred what compaction has not yet removed
  absl::Status s = options_.store->FinishJob(rec, report, upload, dedup_key);
  if (!s.ok()) {
    log::Error("could not record the end of a job",
               {{"job", rec.job().name()}, {"error", std::string(s.message())}});
  }
}

void Ingestion::RunJob(const std::string& job_id) {
  auto rec_or = options_.store->GetJob(job_id);
  if (!rec_or.ok()) {
    log::Error("job record unreadable", {{"job", job_id}});
    return;
  }
  v1::JobRecord rec = std::move(*rec_or);
  if (IsTerminal(rec.job().state())) return;
  auto up = options_.store->GetUpload(rec.job().upload().substr(sizeof(kUploadPrefix) - 1));
  if (!up.ok()) {
    v1::StagedUpload none;
    none.mutable_session()->set_name(rec.job().upload());
    EndJob(rec, none, v1::ValidationReport(), v1::Job::FAILED, "its upload session is missing",
           "");
    return;
  }
  v1::StagedUpload upload = std::move(*up);
  cv1::Principal uploader;
  uploader.set_kind(cv1::Principal::USER);
  uploader.set_subject(rec.job().uploader());

  if (rec.step() == v1::STEP_PROCESS) {
    v1::ValidationReport report;
    bool finished = false;
    absl::Status s = ProcessStep(rec, upload, &report, &finished);
    if (absl::IsAborted(s) && shutdown_.load()) return;  // resumes on restart
    if (s.code() == absl::StatusCode::kUnknown && absl::StartsWith(s.message(), "failpoint")) {
      return;  // simulated crash: state left as it was
    }
    if (!s.ok()) {
      report.set_job(rec.job().name());
      const bool cancelled = absl::IsCancelled(s);
      EndJob(rec, upload, report, cancelled ? v1::Job::CANCELLED : v1::Job::FAILED,
             cancelled ? "cancelled by the uploader" : std::string(s.message()), "");
      Audit(uploader, cancelled ? "ingestion.job.cancel" : "ingestion.job.fail",
            {rec.job().name(), rec.job().dataset()}, cv1::ERROR,
            cancelled ? "cancelled; nothing loaded" : std::string(s.message()), {},
            rec.job().name() + (cancelled ? "/cancel" : "/fail"));
      return;
    }
    if (finished) return;  // rejected: already ended
  }
  if (rec.step() == v1::STEP_REGISTER) {
    // The version is in the store; registering it is idempotent (request_id
    // = job), so a catalogue that is restarting or briefly unreachable is
    // retried here with backoff (nine tries over a minute or more) before the job is
    // left for the next start.
    absl::Status s;
    absl::Duration backoff = absl::Milliseconds(250);
    for (int attempt = 0;; ++attempt) {
      s = RegisterStep(rec, upload);
      const bool transient = absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) ||
                             absl::IsAborted(s) || absl::IsResourceExhausted(s);
      if (!transient || attempt >= 8 || shutdown_.load()) break;
      for (absl::Time until = absl::Now() + backoff; absl::Now() < until && !shutdown_.load();) {
        absl::SleepFor(absl::Milliseconds(50));
      }
      backoff = std::min(backoff * 2, absl::Seconds(16));
    }
    if (s.code() == absl::StatusCode::kUnknown && absl::StartsWith(s.message(), "failpoint")) {
      return;
    }
    if (!s.ok()) {
      // The version is committed in the store but not registered: keep the
      // job in STEP_REGISTER (RUNNING) so a restart retries registration.
      log::Error("catalogue registration failed; will retry on restart",
                 {{"job", rec.job().name()}, {"error", std::string(s.message())}});
      rec.mutable_job()->set_error(absl::StrCat("registration pending: ", s.message()));
      (void)options_.store->PutJob(rec);
    }
  }
}

absl::Status Ingestion::ProcessStep(v1::JobRecord& rec, v1::StagedUpload& upload,
                                    v1::ValidationReport* report, bool* finished) {
  const v1::UploadHeader& h = upload.session().header();
  v1::Job* job = rec.mutable_job();
  job->set_state(v1::Job::RUNNING);
  job->clear_progress();
  job->set_update_time_unix_ms(Now());
  rec.set_attempts(rec.attempts() + 1);
  RETURN_IF_ERROR(options_.store->PutJob(rec));
  RETURN_IF_ERROR(Failpoint("process_started"));

  // Another upload of the same file may have committed since this one was
  // accepted.
  if (!h.allow_duplicate()) {
    ASSIGN_OR_RETURN(auto dup, options_.store->FindDuplicate(rec.dedup_key()));
    if (dup.has_value() && *dup != job->name().substr(sizeof(kJobPrefix) - 1)) {
      report->set_job(job->name());
      EndJob(rec, upload, *report, v1::Job::REJECTED,
             absl::StrCat("duplicate of jobs/", *dup, ": this file was already loaded"), "");
      *finished = true;
      return absl::OkStatus();
    }
  }

  ASSIGN_OR_RETURN(cat::Dataset dataset, options_.catalogue->GetDataset(h.dataset()));
  if (dataset.archived()) {
    return absl::FailedPreconditionError(absl::StrCat(h.dataset(), " is archived"));
  }
  const int schema_version = dataset.current_schema_version();
  ASSIGN_OR_RETURN(cat::Schema schema,
                   options_.catalogue->GetSchema(
                       absl::StrCat(h.dataset(), "/schemas/", schema_version)));
  ASSIGN_OR_RETURN(auto compiled, CompiledSchema::Create(dataset, schema));

  if (rec.target_version().empty()) {
    // The store may hold versions the catalogue does not list (an erasure
    // writes one without the erased subjects): build on the newest stored
    // version, so erased rows never come back, and number after both.
    ASSIGN_OR_RETURN(const int32_t stored, options_.versions->LatestStoredVersion(h.dataset()));
    const int32_t base = std::max(stored, dataset.latest_version());
    rec.set_target_version(absl::StrCat(h.dataset(), "/versions/", base + 1));
    if (stored > 0) {
      rec.set_base_version(absl::StrCat(h.dataset(), "/versions/", stored));
    }
    rec.set_schema_version(schema_version);
    RETURN_IF_ERROR(options_.store->PutJob(rec));
  }

  query::v1::VersionSpec spec;
  spec.set_dataset_version(rec.target_version());
  for (const auto& c : compiled->stored_columns()) *spec.add_columns() = c;
  spec.set_base_version(rec.base_version());
  if (h.mode() == v1::REPLACE) {
    spec.set_replace_school(h.school_urn());
    spec.set_replace_period(h.period());
  }
  spec.set_idempotency_key(job->name());

  ASSIGN_OR_RETURN(std::unique_ptr<VersionWriter> writer, options_.versions->OpenWriter());
  RETURN_IF_ERROR(writer->Begin(spec));
  CancellableSink sink(writer.get(), &cancel_running_, &shutdown_);

  PipelineOptions po;
  po.policy = h.error_policy() == v1::QUARANTINE ? v1::QUARANTINE : v1::REJECT;
  std::string enc = h.encoding();
  if (enc.empty() || absl::AsciiStrToLower(enc) == "auto") enc = upload.encoding_detected();
  ASSIGN_OR_RETURN(po.encoding, csv::ParseEncodingName(enc));
  po.school = h.school_urn();
  po.period = h.period();
  po.job = job->name();
  po.batch_rows = options_.batch_rows;
  po.max_reported_errors = options_.max_reported_errors;
  ASSIGN_OR_RETURN(std::unique_ptr<RowPipeline> owned,
                   RowPipeline::Create(compiled.get(), po, options_.pseudonymiser, &sink));
  std::shared_ptr<RowPipeline> pipeline(std::move(owned));
  {
    absl::MutexLock l(&mu_);
    running_pipeline_ = pipeline;
  }
  auto clear_pipeline = [&] {
    absl::MutexLock l(&mu_);
    running_pipeline_.reset();
  };

  const absl::Time load_start = absl::Now();
  int64_t chunks = 0;
  absl::Status s = ForEachPlainChunk(upload, [&](std::string_view c) -> absl::Status {
    if (cancel_running_.load()) return absl::CancelledError("job cancelled");
    if (shutdown_.load()) return absl::AbortedError("service shutting down");
    RETURN_IF_ERROR(pipeline->Feed(c));
    if (++chunks % 16 == 0) {
      *job->mutable_progress() = pipeline->progress();
      job->set_update_time_unix_ms(Now());
      (void)options_.store->PutJob(rec);
    }
    return absl::OkStatus();
  });
  if (s.ok()) s = pipeline->Finish();
  if (!s.ok()) pipeline->Abandon();  // nothing may write to the writer while it aborts
  clear_pipeline();
  *job->mutable_progress() = pipeline->progress();
  *report = pipeline->report();
  report->set_job(job->name());
  if (!s.ok()) {
    writer->Abort();
    return s;
  }
  std::map<std::string, std::string> counts = {
      {"rows_total", absl::StrCat(report->rows_total())},
      {"rows_valid", absl::StrCat(report->rows_valid())},
      {"rows_invalid", absl::StrCat(report->rows_invalid())},
      {"rows_summary_skipped", absl::StrCat(report->rows_summary_skipped())},
      {"sha256", upload.sha256_actual()}};
  cv1::Principal uploader;
  uploader.set_kind(cv1::Principal::USER);
  uploader.set_subject(job->uploader());
  if (pipeline->rejected()) {
    writer->Abort();
    EndJob(rec, upload, *report, v1::Job::REJECTED, pipeline->reject_reason(), "");
    Audit(uploader, "ingestion.job.reject", {job->name(), h.dataset(), upload.session().name()},
          cv1::DENY, pipeline->reject_reason(), counts, job->name() + "/reject");
    *finished = true;
    return absl::OkStatus();
  }
  query::v1::CommitVersion commit;
  commit.set_total_rows(pipeline->rows_loaded());
  const absl::Time commit_start = absl::Now();
  ASSIGN_OR_RETURN(query::v1::WriteDatasetVersionResponse resp, writer->Commit(commit));
  if (resp.content_sha256().empty()) {
    // The catalogue, the job and the audit record all carry this hash.
    return absl::InternalError(absl::StrCat(
        "the query store committed ", rec.target_version(),
        " without its content hash; the job is retried (upgrade the query service if it "
        "persists)"));
  }
  RETURN_IF_ERROR(Failpoint("store_committed"));
  // Counts and times only, for operators sizing the lab.
  log::Info("job loaded",
            {{"job", job->name()},
             {"rows", absl::StrCat(pipeline->rows_loaded())},
             {"load_ms", absl::StrCat(absl::ToInt64Milliseconds(commit_start - load_start))},
             {"store_commit_ms", absl::StrCat(absl::ToInt64Milliseconds(absl::Now() - commit_start))}});

  // Build the catalogue registration now, while the numbers are at hand,
  // and persist it with the step so a restart only has to send it.
  cat::RegisterDatasetVersionRequest reg;
  reg.set_parent(h.dataset());
  reg.set_request_id(job->name());
  cat::DatasetVersion* v = reg.mutable_version();
  v->set_name(rec.target_version());
  int version_number = 0;
  (void)absl::SimpleAtoi(rec.target_version().substr(rec.target_version().rfind('/') + 1),
                         &version_number);
  v->set_version(version_number);
  v->set_schema_version(rec.schema_version());
  v->set_row_count(resp.rows() > 0 ? resp.rows() : pipeline->rows_loaded());
  v->set_distinct_subjects(resp.distinct_subjects());
  // The period the version covers: the extract date, or the day it was
  // loaded when the uploader gave none.
  const std::string as_of =
      h.extract_date().empty() ? absl::FormatTime("%Y-%m-%d", absl::FromUnixMillis(Now()),
                                                  absl::UTCTimeZone())
                               : h.extract_date();
  v->mutable_period()->set_start_date(as_of);
  v->mutable_period()->set_end_date(as_of);
  v->add_source_extracts(absl::StrCat(h.file_name().empty() ? "upload" : h.file_name(),
                                      " sha256:", upload.sha256_actual()));
  *v->mutable_quality() = MeasureQuality(*compiled, *pipeline, h.extract_date(), Now());
  v->set_content_sha256(resp.content_sha256());
  v->set_commit_time_unix_ms(Now());
  if (h.school_urn() != kTrustWide) v->add_schools(h.school_urn());
  v->set_job(job->name());
  rec.set_register_request(reg.SerializeAsString());
  rec.set_rows_stored(v->row_count());
  rec.set_distinct_subjects(v->distinct_subjects());
  rec.set_content_sha256(v->content_sha256());
  rec.set_step(v1::STEP_REGISTER);
  job->set_update_time_unix_ms(Now());
  RETURN_IF_ERROR(options_.store->PutJobAndReport(rec, *report));
  return Failpoint("register_pending");
}

absl::Status Ingestion::RegisterStep(v1::JobRecord& rec, v1::StagedUpload& upload) {
  cat::RegisterDatasetVersionRequest reg;
  if (!reg.ParseFromString(rec.register_request())) {
    return absl::DataLossError("stored registration request is unreadable");
  }
  ASSIGN_OR_RETURN(cat::DatasetVersion registered,
                   options_.catalogue->RegisterDatasetVersion(reg));
  RETURN_IF_ERROR(Failpoint("catalogue_registered"));
  auto report = options_.store->GetReport(rec.job().name().substr(sizeof(kJobPrefix) - 1));
  v1::ValidationReport r = report.ok() ? *report : v1::ValidationReport();
  rec.mutable_job()->set_dataset_version(registered.name().empty() ? reg.version().name()
                                                                   : registered.name());
  rec.mutable_job()->mutable_progress()->set_rows_loaded(rec.job().progress().rows_loaded());
  const v1::UploadHeader& h = upload.session().header();
  EndJob(rec, upload, r, v1::Job::COMMITTED, "", rec.dedup_key());
  cv1::Principal uploader;
  uploader.set_kind(cv1::Principal::USER);
  uploader.set_subject(rec.job().uploader());
  Audit(uploader, "ingestion.job.commit",
        {rec.job().name(), rec.job().dataset_version(), upload.session().name()}, cv1::ALLOW,
        "dataset version committed",
        {{"rows", absl::StrCat(rec.rows_stored())},
         {"rows_valid", absl::StrCat(r.rows_valid())},
         {"rows_quarantined", absl::StrCat(r.rows_invalid())},
         {"distinct_subjects", absl::StrCat(rec.distinct_subjects())},
         {"sha256", upload.sha256_actual()},
         {"content_sha256", rec.content_sha256()},
         {"mode", v1::LoadMode_Name(h.mode())}},
        rec.job().name() + "/commit");
  return absl::OkStatus();
}

}  // namespace datalab::ingestion
