// In-memory and RocksDB implementations of IngestionStore.
#include "services/ingestion/ingestion_store.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace datalab::ingestion {
namespace {

absl::Status NotFound(const char* what, const std::string& id) {
  return absl::NotFoundError(absl::StrCat(what, " ", id, " not found"));
}

class MemoryStore : public IngestionStore {
 public:
  absl::Status PutUpload(const v1::StagedUpload& u) override {
    absl::MutexLock l(&mu_);
    uploads_[IdOf(u)] = u;
    return absl::OkStatus();
  }
  absl::StatusOr<v1::StagedUpload> GetUpload(const std::string& id) const override {
    absl::MutexLock l(&mu_);
    auto it = uploads_.find(id);
    if (it == uploads_.end()) return NotFound("uploads/", id);
    return it->second;
  }
  absl::Status AppendChunk(const v1::StagedUpload& u, int64_t index,
                           const std::string& sealed) override {
    absl::MutexLock l(&mu_);
    uploads_[IdOf(u)] = u;
    chunks_[IdOf(u)][index] = sealed;
    return absl::OkStatus();
  }
  absl::Status ForEachChunk(
      const std::string& id,
      const std::function<bool(int64_t, const std::string&)>& visit) const override {
    std::map<int64_t, std::string> copy;
    {
      absl::MutexLock l(&mu_);
      auto it = chunks_.find(id);
      if (it != chunks_.end()) copy = it->second;
    }
    for (const auto& [i, c] : copy) {
      if (!visit(i, c)) break;
    }
    return absl::OkStatus();
  }
  absl::Status CompleteUpload(const v1::StagedUpload& u, const v1::JobRecord& j) override {
    absl::MutexLock l(&mu_);
    uploads_[IdOf(u)] = u;
    jobs_[JobId(j)] = j;
    return absl::OkStatus();
  }
  absl::Status PutJob(const v1::JobRecord& j) override {
    absl::MutexLock l(&mu_);
    jobs_[JobId(j)] = j;
    return absl::OkStatus();
  }
  absl::Status PutJobAndReport(const v1::JobRecord& j, const v1::ValidationReport& r) override {
    absl::MutexLock l(&mu_);
    jobs_[JobId(j)] = j;
    reports_[JobId(j)] = r;
    return absl::OkStatus();
  }
  absl::StatusOr<v1::JobRecord> GetJob(const std::string& id) const override {
    absl::MutexLock l(&mu_);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return NotFound("jobs/", id);
    return it->second;
  }
  absl::StatusOr<std::vector<v1::JobRecord>> ListJobs(const std::string& after,
                                                      int limit) const override {
    absl::MutexLock l(&mu_);
    std::vector<v1::JobRecord> out;
    for (auto it = jobs_.upper_bound(after); it != jobs_.end() && limit > 0; ++it, --limit) {
      out.push_back(it->second);
    }
    return out;
  }
  absl::Status FinishJob(const v1::JobRecord& j, const v1::ValidationReport& r,
                         const v1::StagedUpload& u, const std::string& dedup) override {
    absl::MutexLock l(&mu_);
    jobs_[JobId(j)] = j;
    reports_[JobId(j)] = r;
    uploads_[IdOf(u)] = u;
    chunks_.erase(IdOf(u));
    if (!dedup.empty()) dedup_[dedup] = JobId(j);
    return absl::OkStatus();
  }
  absl::StatusOr<v1::ValidationReport> GetReport(const std::string& id) const override {
    absl::MutexLock l(&mu_);
    auto it = reports_.find(id);
    if (it == reports_.end()) return NotFound("report of jobs/", id);
    return it->second;
  }
  absl::StatusOr<std::optional<std::string>> FindDuplicate(const std::string& k) const override {
    absl::MutexLock l(&mu_);
    auto it = dedup_.find(k);
    if (it == dedup_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

 private:
  static std::string IdOf(const v1::StagedUpload& u) {
    return u.session().name().substr(sizeof("uploads/") - 1);
  }
  static std::string JobId(const v1::JobRecord& j) {
    return j.job().name().substr(sizeof("jobs/") - 1);
  }
  mutable absl::Mutex mu_;
  std::map<std::string, v1::StagedUpload> uploads_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::map<int64_t, std::string>> chunks_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::JobRecord> jobs_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::ValidationReport> reports_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> dedup_ ABSL_GUARDED_BY(mu_);
};

constexpr char kUploads[] = "uploads";
constexpr char kChunks[] = "chunks";
constexpr char kJobs[] = "jobs";
constexpr char kReports[] = "reports";
constexpr char kDedup[] = "dedup";

class RocksStore : public IngestionStore {
 public:
  explicit RocksStore(std::unique_ptr<storage::KvStore> kv) : kv_(std::move(kv)) {}

  absl::Status PutUpload(const v1::StagedUpload& u) override {
    return kv_->PutProto(kUploads, IdOf(u), u);
  }
  absl::StatusOr<v1::StagedUpload> GetUpload(const std::string& id) const override {
    v1::StagedUpload u;
    absl::Status s = kv_->GetProto(kUploads, id, &u);
    if (absl::IsNotFound(s)) return NotFound("uploads/", id);
    if (!s.ok()) return s;
    return u;
  }
  absl::Status AppendChunk(const v1::StagedUpload& u, int64_t index,
                           const std::string& sealed) override {
    storage::WriteBatch b(kv_.get());
    b.Put(kChunks, ChunkKey(IdOf(u), index), sealed);
    b.PutProto(kUploads, IdOf(u), u);
    return kv_->Write(b);
  }
  absl::Status ForEachChunk(
      const std::string& id,
      const std::function<bool(int64_t, const std::string&)>& visit) const override {
    const std::string prefix = id + "/";
    return kv_->Scan(kChunks, prefix, [&](std::string_view k, std::string_view v) {
      return visit(static_cast<int64_t>(storage::DecodeUint64(k.substr(prefix.size()))),
                   std::string(v));
    });
  }
  absl::Status CompleteUpload(const v1::StagedUpload& u, const v1::JobRecord& j) override {
    storage::WriteBatch b(kv_.get());
    b.PutProto(kUploads, IdOf(u), u);
    b.PutProto(kJobs, JobId(j), j);
    return kv_->Write(b);
  }
  absl::Status PutJob(const v1::JobRecord& j) override {
    return kv_->PutProto(kJobs, JobId(j), j);
  }
  absl::Status PutJobAndReport(const v1::JobRecord& j, const v1::ValidationReport& r) override {
    storage::WriteBatch b(kv_.get());
    b.PutProto(kJobs, JobId(j), j);
    b.PutProto(kReports, JobId(j), r);
    return kv_->Write(b);
  }
  absl::StatusOr<v1::JobRecord> GetJob(const std::string& id) const override {
    v1::JobRecord j;
    absl::Status s = kv_->GetProto(kJobs, id, &j);
    if (absl::IsNotFound(s)) return NotFound("jobs/", id);
    if (!s.ok()) return s;
    return j;
  }
  absl::StatusOr<std::vector<v1::JobRecord>> ListJobs(const std::string& after,
                                                      int limit) const override {
    std::vector<v1::JobRecord> out;
    absl::Status bad;
    std::string start = after.empty() ? "" : after + '\0';
    absl::Status s = kv_->Scan(
        kJobs, "",
        [&](std::string_view, std::string_view v) {
          if (static_cast<int>(out.size()) >= limit) return false;
          v1::JobRecord j;
          if (!j.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
            bad = absl::DataLossError("unparsable job record");
            return false;
          }
          out.push_back(std::move(j));
          return true;
        },
        start);
    if (!s.ok()) return s;
    if (!bad.ok()) return bad;
    return out;
  }
  absl::Status FinishJob(const v1::JobRecord& j, const v1::ValidationReport& r,
                         const v1::StagedUpload& u, const std::string& dedup) override {
    storage::WriteBatch b(kv_.get());
    b.PutProto(kJobs, JobId(j), j);
    b.PutProto(kReports, JobId(j), r);
    b.PutProto(kUploads, IdOf(u), u);
    const std::string prefix = IdOf(u) + "/";
    b.DeleteRange(kChunks, prefix, storage::PrefixEnd(prefix));
    if (!dedup.empty()) b.Put(kDedup, dedup, JobId(j));
    return kv_->Write(b);
  }
  absl::StatusOr<v1::ValidationReport> GetReport(const std::string& id) const override {
    v1::ValidationReport r;
    absl::Status s = kv_->GetProto(kReports, id, &r);
    if (absl::IsNotFound(s)) return NotFound("report of jobs/", id);
    if (!s.ok()) return s;
    return r;
  }
  absl::StatusOr<std::optional<std::string>> FindDuplicate(const std::string& k) const override {
    auto v = kv_->Get(kDedup, k);
    if (absl::IsNotFound(v.status())) return std::optional<std::string>();
    if (!v.ok()) return v.status();
    return std::optional<std::string>(*v);
  }

 private:
  static std::string IdOf(const v1::StagedUpload& u) {
    return u.session().name().substr(sizeof("uploads/") - 1);
  }
  static std::string JobId(const v1::JobRecord& j) {
    return j.job().name().substr(sizeof("jobs/") - 1);
  }
  static std::string ChunkKey(const std::string& id, int64_t index) {
    return absl::StrCat(id, "/", storage::EncodeUint64(static_cast<uint64_t>(index)));
  }
  std::unique_ptr<storage::KvStore> kv_;
};

}  // namespace

std::unique_ptr<IngestionStore> NewMemoryIngestionStore() {
  return std::make_unique<MemoryStore>();
}

absl::StatusOr<std::unique_ptr<IngestionStore>> OpenRocksDbIngestionStore(
    const std::string& path) {
  storage::KvStoreOptions o;
  o.path = path;
  o.column_families = {kUploads, kChunks, kJobs, kReports, kDedup};
  o.compress = false;  // staged chunks are ciphertext
  auto kv = storage::KvStore::Open(o);
  if (!kv.ok()) return kv.status();
  return std::unique_ptr<IngestionStore>(new RocksStore(std::move(*kv)));
}

}  // namespace datalab::ingestion
