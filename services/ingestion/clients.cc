#include "services/ingestion/clients.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/bytes.h"
#include "common/status/grpc_status.h"
#include "common/status/status_macros.h"

namespace datalab::ingestion {
namespace {

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration d) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + d));
  // A peer that is restarting (channel in reconnect backoff) is waited for
  // until the deadline instead of failing the call at once.
  ctx->set_wait_for_ready(true);
  return ctx;
}

absl::Status Named(const grpc::Status& s, const char* callee) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(callee, ": ", s.error_message()));
}

class GrpcVersionWriter : public VersionWriter {
 public:
  GrpcVersionWriter(query::v1::QueryService::StubInterface* stub, absl::Duration d)
      : ctx_(Ctx(d)) {
    writer_ = stub->WriteDatasetVersion(ctx_.get(), &response_);
  }
  ~GrpcVersionWriter() override {
    if (!done_) Abort();
  }
  absl::Status Begin(const query::v1::VersionSpec& spec) override {
    query::v1::WriteDatasetVersionRequest r;
    *r.mutable_begin() = spec;
    return Send(r);
  }
  absl::Status Write(query::v1::RowBatch* batch) override {
    query::v1::WriteDatasetVersionRequest r;
    r.mutable_batch()->Swap(batch);
    return Send(r);
  }
  absl::StatusOr<query::v1::WriteDatasetVersionResponse> Commit(
      const query::v1::CommitVersion& commit) override {
    query::v1::WriteDatasetVersionRequest r;
    *r.mutable_commit() = commit;
    absl::Status sent = Send(r);
    done_ = true;
    writer_->WritesDone();
    grpc::Status s = writer_->Finish();
    if (!s.ok()) return Named(s, "query store");
    if (!sent.ok()) return sent;
    return response_;
  }
  void Abort() override {
    if (done_) return;
    done_ = true;
    ctx_->TryCancel();
    (void)writer_->Finish();
  }

 private:
  absl::Status Send(const query::v1::WriteDatasetVersionRequest& r) {
    if (done_) return absl::FailedPreconditionError("write stream already ended");
    if (!writer_->Write(r)) {
      done_ = true;
      grpc::Status s = writer_->Finish();
      if (s.ok()) return absl::UnavailableError("query store: the write stream closed early");
      return Named(s, "query store");
    }
    return absl::OkStatus();
  }
  std::unique_ptr<grpc::ClientContext> ctx_;
  query::v1::WriteDatasetVersionResponse response_;
  std::unique_ptr<grpc::ClientWriterInterface<query::v1::WriteDatasetVersionRequest>> writer_;
  bool done_ = false;
};

}  // namespace

absl::StatusOr<catalogue::v1::Dataset> GrpcCatalogue::GetDataset(const std::string& name) {
  catalogue::v1::GetDatasetRequest req;
  req.set_name(name);
  catalogue::v1::Dataset out;
  auto ctx = Ctx(deadline_);
  grpc::Status s = stub_->GetDataset(ctx.get(), req, &out);
  if (!s.ok()) return Named(s, "catalogue");
  return out;
}

absl::StatusOr<catalogue::v1::Schema> GrpcCatalogue::GetSchema(const std::string& name) {
  catalogue::v1::GetSchemaRequest req;
  req.set_name(name);
  catalogue::v1::Schema out;
  auto ctx = Ctx(deadline_);
  grpc::Status s = stub_->GetSchema(ctx.get(), req, &out);
  if (!s.ok()) return Named(s, "catalogue");
  return out;
}

absl::StatusOr<catalogue::v1::DatasetVersion> GrpcCatalogue::RegisterDatasetVersion(
    const catalogue::v1::RegisterDatasetVersionRequest& request) {
  catalogue::v1::DatasetVersion out;
  auto ctx = Ctx(deadline_);
  grpc::Status s = stub_->RegisterDatasetVersion(ctx.get(), request, &out);
  if (!s.ok()) return Named(s, "catalogue");
  return out;
}

absl::Status GrpcPseudonymiser::Pseudonymise(const std::string& domain, const std::string& job,
                                             const std::vector<std::string_view>& identifiers,
                                             PseudonymBatch* out) {
  out->data.clear();
  out->width = 0;
  out->errors.clear();
  for (size_t start = 0; start < identifiers.size(); start += max_per_call_) {
    const size_t end = std::min(identifiers.size(), start + max_per_call_);
    pseudonymisation::v1::PseudonymiseRequest req;
    req.set_domain(domain);
    req.set_job(job);
    req.set_packed_response(true);
    // Packed: one blob and its ends, not a protobuf string per identifier.
    size_t bytes = 0;
    for (size_t i = start; i < end; ++i) bytes += identifiers[i].size();
    std::string* blob = req.mutable_packed_identifiers();
    blob->reserve(bytes);
    auto* ends = req.mutable_packed_identifier_ends();
    ends->Reserve(static_cast<int>(end - start));
    for (size_t i = start; i < end; ++i) {
      blob->append(identifiers[i].data(), identifiers[i].size());
      ends->Add(static_cast<uint32_t>(blob->size()));
    }
    pseudonymisation::v1::PseudonymiseResponse resp;
    auto ctx = Ctx(deadline_);
    grpc::Status s = stub_->Pseudonymise(ctx.get(), req, &resp);
    crypto::WipeString(blob);  // raw identifiers
    req.Clear();
    if (!s.ok()) return Named(s, "pseudonymisation");
    RETURN_IF_ERROR(AppendPackedAnswer(resp, start, end - start, out));
  }
  return SortPackedErrors(out);
}

absl::Status AppendPackedAnswer(const pseudonymisation::v1::PseudonymiseResponse& resp,
                                size_t start, size_t n, PseudonymBatch* out) {
  // Packed form: fixed-width pseudonyms concatenated, errors by index.
  const std::string& packed = resp.packed_pseudonyms();
  if (n > 0 && packed.empty() && resp.errors_size() == 0 && resp.results_size() == 0) {
    // What a pseudonymisation service older than the packed request
    // answers: it saw no identifiers.
    return absl::FailedPreconditionError(
        "pseudonymisation answered no identifiers: it is older than this ingestion service "
        "(upgrade pseudonymisation first)");
  }
  if (n == 0 || packed.size() % n != 0 || resp.results_size() != 0) {
    return absl::InternalError("pseudonymisation: wrong number of results");
  }
  const size_t width = packed.size() / n;
  if (width == 0 || (out->width != 0 && width != out->width)) {
    return absl::InternalError("pseudonymisation: pseudonyms of different widths");
  }
  for (const auto& e : resp.errors()) {
    if (e.index() < 0 || static_cast<size_t>(e.index()) >= n) {
      return absl::InternalError("pseudonymisation: error index out of range");
    }
  }
  out->width = width;
  out->data.append(packed);
  for (const auto& e : resp.errors()) {
    out->errors.emplace_back(start + static_cast<size_t>(e.index()),
                             e.error().empty() ? "invalid identifier" : e.error());
  }
  return absl::OkStatus();
}

absl::Status SortPackedErrors(PseudonymBatch* out) {
  std::sort(out->errors.begin(), out->errors.end());
  for (size_t i = 1; i < out->errors.size(); ++i) {
    if (out->errors[i].first == out->errors[i - 1].first) {
      return absl::InternalError("pseudonymisation: an identifier has two errors");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<VersionWriter>> GrpcVersionStore::OpenWriter() {
  return std::unique_ptr<VersionWriter>(new GrpcVersionWriter(stub_.get(), deadline_));
}

absl::StatusOr<int32_t> GrpcVersionStore::LatestStoredVersion(const std::string& dataset) {
  query::v1::ListStoredVersionsRequest req;
  req.set_dataset(dataset);
  query::v1::ListStoredVersionsResponse resp;
  auto ctx = Ctx(std::min(deadline_, absl::Minutes(1)));
  grpc::Status s = stub_->ListStoredVersions(ctx.get(), req, &resp);
  if (!s.ok()) return Named(s, "query store");
  int32_t latest = 0;
  for (const auto& v : resp.versions()) {
    int32_t n = 0;
    const std::string& name = v.dataset_version();
    if (absl::SimpleAtoi(name.substr(name.rfind('/') + 1), &n)) latest = std::max(latest, n);
  }
  return latest;
}

}  // namespace datalab::ingestion
