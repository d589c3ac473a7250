// QueryRunner: the query service's domain logic, without gRPC server types.
//
//   RunQuery: text (SQL, or a StructuredQuery printed as SQL) -> parse ->
//   bind (binder.h) -> authorise with the catalogue's CheckAccess (before
//   anything is executed; a deny is PERMISSION_DENIED with the catalogue's
//   reason, and audited) -> execute (engine) -> disclosure control (sdc,
//   with the project's effective settings from CheckAccess and the durable
//   ledgers of the store) -> a signed release record appended to the audit
//   log with AppendSync -> only then the release is stored and returned. If
//   the audit append fails nothing is released (UNAVAILABLE).
//
// A suppressed value never reaches a QueryResult, a Status, a log line or a
// metric: CellDecision cannot carry one, and results are built only from
// decisions.
//
// Collaborators come in through Options and are not owned. Thread-safe:
// queries run concurrently; releases (the SDC ledger check and record) are
// serialised so two releases of one project cannot both pass the
// differencing check against each other.
#ifndef DATALAB_SERVICES_QUERY_QUERY_RUNNER_H_
#define DATALAB_SERVICES_QUERY_QUERY_RUNNER_H_

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/audit_client/audit_client.h"
#include "common/crypto/ed25519.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "datalab/common/v1/identity.pb.h"
#include "datalab/query/v1/query.pb.h"
#include "services/query/binder.h"
#include "services/query/query_store.h"
#include "services/query/sdc/noise.h"
#include "services/query/sdc/settings.h"

namespace datalab::query {

inline constexpr char kQueryEngineVersion[] = "datalab-query/1 (engine/1, datalab-sdc/1)";

// Per-call cancellation and deadline, checked between phases.
struct CallControl {
  std::function<bool()> cancelled;  // may be empty
  std::optional<std::chrono::system_clock::time_point> deadline;
  absl::Status Check(const char* phase) const;
};

// Timing of one query's phases (seconds), for benches and metrics.
struct QueryTimings {
  double parse_bind = 0, authorise = 0, load = 0, execute = 0, sdc = 0, release = 0;
};

class QueryRunner {
 public:
  struct Options {
    QueryStore* store = nullptr;  // required
    std::shared_ptr<catalogue::v1::CatalogueService::StubInterface> catalogue;  // required
    audit_client::AuditClient* audit = nullptr;                                 // required
    const crypto::Ed25519PrivateKey* signing_key = nullptr;                     // required
    std::string signing_key_id;
    int threads = 2;
    size_t max_groups = 100000;
    size_t max_query_bytes = 64 * 1024;
    std::chrono::milliseconds catalogue_timeout{5000};
    // Defence in depth below the catalogue's own floor check.
    sdc::TrustFloor floor;
    sdc::SecureRandom* random = nullptr;  // DP noise; defaults to OpenSSL
    std::function<int64_t()> now_ms;     // defaults to the system clock
  };
  static absl::StatusOr<std::unique_ptr<QueryRunner>> Create(const Options& options);

  absl::StatusOr<v1::QueryResult> Run(const common::v1::Principal& caller,
                                      const v1::RunQueryRequest& request,
                                      const CallControl& control = {},
                                      QueryTimings* timings = nullptr);
  absl::StatusOr<v1::ExplainQueryResponse> Explain(const common::v1::Principal& caller,
                                                   const v1::RunQueryRequest& request);
  absl::StatusOr<v1::ListQueryHistoryResponse> ListHistory(
      const common::v1::Principal& caller, const v1::ListQueryHistoryRequest& request);
  absl::StatusOr<v1::QueryResult> GetRelease(const common::v1::Principal& caller,
                                             const std::string& name);
  absl::StatusOr<v1::ExportReleaseResponse> ExportRelease(const common::v1::Principal& caller,
                                                          const v1::ExportReleaseRequest& request);
  absl::StatusOr<v1::SubjectRecordsResponse> FindSubjectRecords(
      const common::v1::Principal& caller, const v1::SubjectRecordsRequest& request);
  absl::StatusOr<v1::SubjectRecordsResponse> EraseSubjectRecords(
      const common::v1::Principal& caller, const v1::SubjectRecordsRequest& request);
  // Audits a committed dataset version (called by the service after commit).
  void AuditVersionCommit(const common::v1::Principal& caller,
                          const v1::WriteDatasetVersionResponse& response);

 private:
  explicit QueryRunner(const Options& options);
  struct Prepared;
  absl::StatusOr<std::string> QueryText(const v1::RunQueryRequest& request) const;
  absl::StatusOr<Prepared> Prepare(const std::string& text) const;
  absl::StatusOr<catalogue::v1::CheckAccessResponse> CheckAccess(
      const common::v1::Principal& caller, const std::string& project,
      const BoundQuery* bound) const;
  void RecordHistory(const std::string& project, const std::string& id,
                     const std::string& text, const std::string& status,
                     const std::string& reason, const std::string& user);
  void AuditDecision(const common::v1::Principal& caller, const std::string& action,
                     const std::string& project, const std::vector<std::string>& resources,
                     common::v1::Decision decision, const std::string& reason,
                     const std::string& purpose);

  Options options_;
  sdc::OpenSslSecureRandom default_random_;
  absl::Mutex release_mu_;
};

// The SQL a StructuredQuery stands for (then parsed like any query).
absl::StatusOr<std::string> StructuredToSql(const v1::StructuredQuery& q);

}  // namespace datalab::query

#endif  // DATALAB_SERVICES_QUERY_QUERY_RUNNER_H_
