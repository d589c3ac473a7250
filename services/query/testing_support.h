// Test helpers for the query service: a fake catalogue (CheckAccess only)
// served in-process, and a small synthetic census writer. Test-only.
#ifndef DATALAB_SERVICES_QUERY_TESTING_SUPPORT_H_
#define DATALAB_SERVICES_QUERY_TESTING_SUPPORT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "services/query/query_store.h"

namespace datalab::query::testing {

class FakeCatalogue : public catalogue::v1::CatalogueService::Service {
 public:
  grpc::Status CheckAccess(grpc::ServerContext*, const catalogue::v1::CheckAccessRequest* req,
                           catalogue::v1::CheckAccessResponse* resp) override {
    absl::MutexLock l(&mu_);
    ++calls_;
    last_ = *req;
    resp->set_allowed(deny_reason_.empty());
    resp->set_reason(deny_reason_.empty() ? "allowed" : deny_reason_);
    *resp->mutable_disclosure() = disclosure_;
    return grpc::Status::OK;
  }
  void Deny(std::string reason) {
    absl::MutexLock l(&mu_);
    deny_reason_ = std::move(reason);
  }
  void SetDisclosure(const common::v1::DisclosureSettings& d) {
    absl::MutexLock l(&mu_);
    disclosure_ = d;
  }
  int calls() const {
    absl::MutexLock l(&mu_);
    return calls_;
  }
  catalogue::v1::CheckAccessRequest last() const {
    absl::MutexLock l(&mu_);
    return last_;
  }

  // Serves this fake in-process; returns a stub to it.
  std::shared_ptr<catalogue::v1::CatalogueService::StubInterface> Start() {
    grpc::ServerBuilder b;
    b.RegisterService(this);
    server_ = b.BuildAndStart();
    return catalogue::v1::CatalogueService::NewStub(server_->InProcessChannel(grpc::ChannelArguments()));
  }
  ~FakeCatalogue() override {
    if (server_) server_->Shutdown();
  }

 private:
  mutable absl::Mutex mu_;
  int calls_ = 0;
  std::string deny_reason_;
  common::v1::DisclosureSettings disclosure_ = [] {
    common::v1::DisclosureSettings d;
    d.set_threshold(10);
    d.set_rounding_base(5);
    d.set_dominance_n(2);
    d.set_dominance_k_percent(90);
    d.set_p_percent(10);
    return d;
  }();
  catalogue::v1::CheckAccessRequest last_;
  std::unique_ptr<grpc::Server> server_;
};

// One synthetic pupil row.
struct PupilRow {
  std::string pupil;  // pseudonym
  std::string school;
  int64_t fsm = 0;
  double score = 0;
  int64_t idx = 0;
};

inline v1::VersionSpec CensusSpec(const std::string& version, const std::string& key) {
  v1::VersionSpec spec;
  spec.set_dataset_version(version);
  spec.set_idempotency_key(key);
  auto add = [&](const char* n, common::v1::ColumnType t, bool subject = false) {
    auto* c = spec.add_columns();
    c->set_name(n);
    c->set_type(t);
    c->set_subject(subject);
  };
  add("upn", common::v1::STRING, true);
  add("school", common::v1::CODE);
  add("fsm", common::v1::BOOLEAN);
  add("ks2", common::v1::DECIMAL);
  add("idx", common::v1::INTEGER);
  add("_school", common::v1::STRING);
  add("_period", common::v1::STRING);
  return spec;
}

inline v1::RowBatch CensusBatch(const std::vector<PupilRow>& rows, const std::string& period = "2024") {
  v1::RowBatch b;
  b.set_rows(static_cast<int64_t>(rows.size()));
  for (int i = 0; i < 7; ++i) b.add_columns();
  for (const auto& r : rows) {
    b.mutable_columns(0)->add_strings(r.pupil);
    b.mutable_columns(1)->add_strings(r.school);
    b.mutable_columns(2)->add_ints(r.fsm);
    b.mutable_columns(3)->add_doubles(r.score);
    b.mutable_columns(4)->add_ints(r.idx);
    b.mutable_columns(5)->add_strings(r.school);
    b.mutable_columns(6)->add_strings(period);
  }
  return b;
}

inline absl::StatusOr<v1::WriteDatasetVersionResponse> WriteCensus(
    QueryStore& store, const std::string& version, const std::vector<PupilRow>& rows,
    const std::string& key = "") {
  auto w = store.BeginVersion(CensusSpec(version, key.empty() ? version : key));
  if (!w.ok()) return w.status();
  if (!rows.empty()) {
    absl::Status s = (*w)->Write(CensusBatch(rows));
    if (!s.ok()) return s;
  }
  v1::CommitVersion c;
  c.set_total_rows(static_cast<int64_t>(rows.size()));
  return (*w)->Commit(c);
}

// `n` pupils of `school`, pseudonyms "<school>-p<i>", idx 1..n.
inline std::vector<PupilRow> School(const std::string& school, int n, double score = 50) {
  std::vector<PupilRow> rows;
  for (int i = 1; i <= n; ++i) {
    rows.push_back({school + "-p" + std::to_string(i), school, i % 2, score, i});
  }
  return rows;
}

}  // namespace datalab::query::testing

#endif  // DATALAB_SERVICES_QUERY_TESTING_SUPPORT_H_
