#include "services/ingestion/testing_fakes.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/encoding.h"
#include "common/crypto/sha256.h"
#include "common/rowbatch/string_column.h"

namespace datalab::ingestion::testing {

std::string Sha256Hex(std::string_view data) {
  return crypto::HexEncode(crypto::Sha256(data));
}

namespace {
// As the real store: a hash of what it stored.
std::string ContentHash(const std::vector<query::v1::RowBatch>& batches) {
  std::string stored;
  for (const auto& b : batches) stored += b.SerializeAsString();
  return Sha256Hex(stored);
}
}  // namespace

std::string FakePseudonymiser::PseudonymFor(const std::string& domain,
                                            const std::string& identifier) {
  return "ps_" + Sha256Hex(absl::StrCat(domain, "|", identifier)).substr(0, 24);
}

absl::Status FakePseudonymiser::Pseudonymise(const std::string& domain, const std::string&,
                                             const std::vector<std::string_view>& ids,
                                             PseudonymBatch* out) {
  absl::MutexLock l(&mu_);
  if (failing_) return absl::UnavailableError("pseudonymisation unavailable (fake)");
  ++calls_;
  seen_ += static_cast<int64_t>(ids.size());
  out->data.clear();
  out->errors.clear();
  out->width = PseudonymFor(domain, "").size();
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string id(ids[i]);
    if (invalid_.count(id)) {
      out->data.append(out->width, '-');
      out->errors.emplace_back(i, "identifier is not valid for this domain");
    } else {
      out->data.append(PseudonymFor(domain, id));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> Strings(const query::v1::ColumnValues& column, int64_t rows) {
  std::vector<std::string> out;
  auto view = rowbatch::StringColumn::Open(column, rows, "column");
  if (!view.ok()) return out;
  for (int64_t r = 0; r < rows; ++r) {
    const bool missing = !column.missing().empty() && column.missing()[r] != 0;
    out.emplace_back(missing ? std::string_view() : view->at(r));
  }
  return out;
}

void FakePseudonymiser::SetInvalid(std::set<std::string> invalid) {
  absl::MutexLock l(&mu_);
  invalid_ = std::move(invalid);
}
void FakePseudonymiser::SetFailing(bool failing) {
  absl::MutexLock l(&mu_);
  failing_ = failing;
}
int64_t FakePseudonymiser::calls() const {
  absl::MutexLock l(&mu_);
  return calls_;
}
int64_t FakePseudonymiser::identifiers_seen() const {
  absl::MutexLock l(&mu_);
  return seen_;
}

absl::Status CollectingSink::Write(query::v1::RowBatch* batch) {
  batches.push_back(*batch);
  rows += batch->rows();
  return absl::OkStatus();
}

class FakeWriter : public VersionWriter {
 public:
  explicit FakeWriter(FakeVersionStore* store) : store_(store) {}
  ~FakeWriter() override {
    if (!done_) Abort();
  }
  absl::Status Begin(const query::v1::VersionSpec& spec) override {
    absl::MutexLock l(&store_->mu_);
    if (store_->failing_) return absl::UnavailableError("query store unavailable (fake)");
    pending_.spec = spec;
    return absl::OkStatus();
  }
  absl::Status Write(query::v1::RowBatch* b) override {
    const query::v1::RowBatch& batch = *b;
    ++store_->writes_running_;
    struct Done {
      std::atomic<int>* n;
      ~Done() { --*n; }
    } done{&store_->writes_running_};
    std::function<void()> hook;
    {
      absl::MutexLock l(&store_->mu_);
      hook = store_->write_hook_;
    }
    if (hook) hook();
    absl::MutexLock l(&store_->mu_);
    if (store_->failing_) return absl::UnavailableError("query store unavailable (fake)");
    for (const auto& c : batch.columns()) {
      const int64_t n = c.ints_size() + c.doubles_size() + c.strings_size() + c.codes_size();
      if (n != batch.rows()) return absl::InvalidArgumentError("column length != batch rows");
      if (!c.missing().empty() && static_cast<int64_t>(c.missing().size()) != batch.rows()) {
        return absl::InvalidArgumentError("missing bytes length != batch rows");
      }
    }
    if (batch.columns_size() != pending_.spec.columns_size()) {
      return absl::InvalidArgumentError("batch column count != spec");
    }
    pending_.batches.push_back(batch);
    pending_.rows += batch.rows();
    return absl::OkStatus();
  }
  absl::StatusOr<query::v1::WriteDatasetVersionResponse> Commit(
      const query::v1::CommitVersion& commit) override {
    absl::MutexLock l(&store_->mu_);
    done_ = true;
    --store_->open_;
    if (store_->failing_) return absl::UnavailableError("query store unavailable (fake)");
    if (commit.total_rows() != pending_.rows) {
      return absl::InvalidArgumentError("total_rows does not match the rows sent");
    }
    query::v1::WriteDatasetVersionResponse r;
    r.set_dataset_version(pending_.spec.dataset_version());
    r.set_rows(pending_.rows);
    if (store_->keys_.count(pending_.spec.idempotency_key())) {
      r.set_already_committed(true);
      for (const auto& [name, stored] : store_->committed_) {
        if (stored.spec.idempotency_key() == pending_.spec.idempotency_key()) {
          r.set_content_sha256(ContentHash(stored.batches));
        }
      }
      return r;
    }
    if (store_->committed_.count(pending_.spec.dataset_version())) {
      return absl::AlreadyExistsError("version exists with another idempotency key");
    }
    store_->keys_.insert(pending_.spec.idempotency_key());
    ++store_->commits_;
    // distinct subjects among new rows
    int subject = -1;
    for (int i = 0; i < pending_.spec.columns_size(); ++i) {
      if (pending_.spec.columns(i).subject()) subject = i;
    }
    std::set<std::string> subjects;
    if (subject >= 0) {
      for (const auto& b : pending_.batches) {
        for (auto& s : Strings(b.columns(subject), b.rows())) {
          if (!s.empty()) subjects.insert(std::move(s));
        }
      }
    }
    r.set_distinct_subjects(static_cast<int64_t>(subjects.size()));
    if (!store_->omit_content_hash_) r.set_content_sha256(ContentHash(pending_.batches));
    store_->committed_[pending_.spec.dataset_version()] = pending_;
    return r;
  }
  void Abort() override {
    if (store_->writes_running_.load() > 0) ++store_->aborts_during_write_;
    absl::MutexLock l(&store_->mu_);
    if (done_) return;
    done_ = true;
    --store_->open_;
    ++store_->aborted_;
  }

 private:
  FakeVersionStore* store_;
  FakeVersionStore::Stored pending_;
  bool done_ = false;
};

absl::StatusOr<std::unique_ptr<VersionWriter>> FakeVersionStore::OpenWriter() {
  absl::MutexLock l(&mu_);
  if (failing_) return absl::UnavailableError("query store unavailable (fake)");
  ++open_;
  return std::unique_ptr<VersionWriter>(new FakeWriter(this));
}
absl::StatusOr<int32_t> FakeVersionStore::LatestStoredVersion(const std::string& dataset) {
  absl::MutexLock l(&mu_);
  if (failing_) return absl::UnavailableError("query store unavailable (fake)");
  const std::string prefix = dataset + "/versions/";
  int32_t latest = 0;
  for (const auto& [name, stored] : committed_) {
    int32_t n = 0;
    if (name.rfind(prefix, 0) == 0 && absl::SimpleAtoi(name.substr(prefix.size()), &n)) {
      latest = std::max(latest, n);
    }
  }
  return latest;
}
void FakeVersionStore::SetFailing(bool failing) {
  absl::MutexLock l(&mu_);
  failing_ = failing;
}

void FakeVersionStore::SetOmitContentHash(bool omit) {
  absl::MutexLock l(&mu_);
  omit_content_hash_ = omit;
}

void FakeVersionStore::SetWriteHook(std::function<void()> hook) {
  absl::MutexLock l(&mu_);
  write_hook_ = std::move(hook);
}

int FakeVersionStore::aborts_during_write() const { return aborts_during_write_.load(); }
std::map<std::string, FakeVersionStore::Stored> FakeVersionStore::committed() const {
  absl::MutexLock l(&mu_);
  return committed_;
}
int FakeVersionStore::commits() const {
  absl::MutexLock l(&mu_);
  return commits_;
}
int FakeVersionStore::aborted() const {
  absl::MutexLock l(&mu_);
  return aborted_;
}
int FakeVersionStore::open_writers() const {
  absl::MutexLock l(&mu_);
  return open_;
}

void FakeCatalogue::AddDataset(const catalogue::v1::Dataset& d, const catalogue::v1::Schema& s) {
  absl::MutexLock l(&mu_);
  datasets_[d.name()] = d;
  schemas_[absl::StrCat(d.name(), "/schemas/", d.current_schema_version())] = s;
}
absl::StatusOr<catalogue::v1::Dataset> FakeCatalogue::GetDataset(const std::string& name) {
  absl::MutexLock l(&mu_);
  if (failing_) return absl::UnavailableError("catalogue unavailable (fake)");
  auto it = datasets_.find(name);
  if (it == datasets_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return it->second;
}
absl::StatusOr<catalogue::v1::Schema> FakeCatalogue::GetSchema(const std::string& name) {
  absl::MutexLock l(&mu_);
  if (failing_) return absl::UnavailableError("catalogue unavailable (fake)");
  auto it = schemas_.find(name);
  if (it == schemas_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return it->second;
}
absl::StatusOr<catalogue::v1::DatasetVersion> FakeCatalogue::RegisterDatasetVersion(
    const catalogue::v1::RegisterDatasetVersionRequest& r) {
  absl::MutexLock l(&mu_);
  if (failing_) return absl::UnavailableError("catalogue unavailable (fake)");
  auto prior = by_request_.find(r.request_id());
  if (prior != by_request_.end()) return prior->second;
  auto it = datasets_.find(r.parent());
  if (it == datasets_.end()) return absl::NotFoundError("dataset not found");
  // As the real catalogue: a version number after the latest (gaps are
  // versions the store wrote without registering, e.g. an erasure), a valid
  // period and 6-digit school URNs.
  if (r.version().version() <= it->second.latest_version()) {
    return absl::FailedPreconditionError("version is not after the latest one");
  }
  if (r.version().period().start_date().size() != 10 ||
      r.version().period().end_date().size() != 10) {
    return absl::InvalidArgumentError("version.period: not a valid date YYYY-MM-DD");
  }
  for (const auto& urn : r.version().schools()) {
    if (urn.size() != 6 || urn.find_first_not_of("0123456789") != std::string::npos) {
      return absl::InvalidArgumentError("version.schools: must be a 6-digit URN");
    }
  }
  it->second.set_latest_version(r.version().version());
  registered_.push_back(r);
  by_request_[r.request_id()] = r.version();
  return r.version();
}
std::vector<catalogue::v1::RegisterDatasetVersionRequest> FakeCatalogue::registered() const {
  absl::MutexLock l(&mu_);
  return registered_;
}
void FakeCatalogue::SetFailing(bool failing) {
  absl::MutexLock l(&mu_);
  failing_ = failing;
}

}  // namespace datalab::ingestion::testing
