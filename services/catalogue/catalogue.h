// The catalogue's domain: datasets and schema versions, dataset versions and
// their quality ratings, discovery, projects and their lifecycle, users and
// accreditation, the trust floor, the access decision other services ask
// for, and GDPR Art. 30 records of processing. No gRPC here: handlers in
// catalogue_service.h translate requests and statuses.
//
// Rules that depend on who calls (the lead edits a proposal; an approver who
// is neither lead nor member approves; only admin sets the floor) are
// enforced here, in addition to the per-RPC permission the AuthProcessor
// checks before a handler runs (defence in depth).
//
// Every change and every decision is an audit event through the injected
// AuditClient (Append: durable outbox). A change is written only after its
// ALLOW event was accepted, so there is no unaudited change; a refused
// change is recorded as DENY. Bad input changes nothing: a change is
// validated in full and then written as one atomic store write.
//
// Derived state: an APPROVED project past its end date reads as EXPIRED, by
// the injected clock at read time (nothing is rewritten in the store).
//
// Thread-safe: changes are serialised by one mutex (governance changes are
// rare); reads go straight to the thread-safe store. The store, audit client
// and clock are borrowed and must outlive the Catalogue.
#ifndef DATALAB_SERVICES_CATALOGUE_CATALOGUE_H_
#define DATALAB_SERVICES_CATALOGUE_CATALOGUE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/audit_client/audit_client.h"
#include "datalab/catalogue/v1/catalogue.pb.h"
#include "datalab/common/v1/identity.pb.h"
#include "services/catalogue/catalogue_store.h"
#include "services/catalogue/clock.h"
#include "services/catalogue/validation.h"

namespace datalab::catalogue {

using common::v1::Principal;

class Catalogue {
 public:
  struct Options {
    CatalogueStore* store = nullptr;           // required
    audit_client::AuditClient* audit = nullptr;  // required
    const Clock* clock = nullptr;              // required
  };
  static constexpr int kDefaultPageSize = 50;
  static constexpr int kMaxPageSize = 500;

  static absl::StatusOr<std::unique_ptr<Catalogue>> Create(const Options& options);

  // Datasets and schemas.
  absl::StatusOr<cv1::Dataset> CreateDataset(const Principal& caller,
                                             const cv1::CreateDatasetRequest& req);
  absl::StatusOr<cv1::Dataset> GetDataset(const std::string& name) const;
  absl::StatusOr<cv1::ListDatasetsResponse> ListDatasets(const cv1::ListDatasetsRequest& req) const;
  absl::StatusOr<cv1::ListDatasetsResponse> SearchDatasets(
      const cv1::SearchDatasetsRequest& req) const;
  absl::StatusOr<cv1::Dataset> UpdateDataset(const Principal& caller,
                                             const cv1::UpdateDatasetRequest& req);
  absl::StatusOr<cv1::Schema> CreateSchemaVersion(const Principal& caller,
                                                  const cv1::CreateSchemaVersionRequest& req);
  // name: datasets/{d}/schemas/{n} or datasets/{d}/schemas/latest.
  absl::StatusOr<cv1::Schema> GetSchema(const std::string& name) const;
  absl::StatusOr<cv1::ListSchemaVersionsResponse> ListSchemaVersions(
      const cv1::ListSchemaVersionsRequest& req) const;

  // Dataset versions (ingestion) and quality.
  absl::StatusOr<cv1::DatasetVersion> RegisterDatasetVersion(
      const Principal& caller, const cv1::RegisterDatasetVersionRequest& req);
  absl::StatusOr<cv1::DatasetVersion> GetDatasetVersion(const std::string& name) const;
  absl::StatusOr<cv1::ListDatasetVersionsResponse> ListDatasetVersions(
      const cv1::ListDatasetVersionsRequest& req) const;
  absl::StatusOr<cv1::QualityTrend> GetQualityTrend(const cv1::GetQualityTrendRequest& req) const;

  // Projects. Researchers see the projects they lead or belong to; approvers,
  // the DPO, admins and lab services see all.
  absl::StatusOr<cv1::Project> CreateProject(const Principal& caller,
                                             const cv1::CreateProjectRequest& req);
  absl::StatusOr<cv1::Project> GetProject(const Principal& caller, const std::string& name);
  absl::StatusOr<cv1::ListProjectsResponse> ListProjects(const Principal& caller,
                                                         const cv1::ListProjectsRequest& req) const;
  absl::StatusOr<cv1::Project> UpdateProject(const Principal& caller,
                                             const cv1::UpdateProjectRequest& req);
  absl::StatusOr<cv1::Project> ApproveProject(const Principal& caller,
                                              const cv1::ApproveProjectRequest& req);
  absl::StatusOr<cv1::Project> SuspendProject(const Principal& caller,
                                              const cv1::SuspendProjectRequest& req);
  absl::StatusOr<cv1::Project> CloseProject(const Principal& caller,
                                            const cv1::CloseProjectRequest& req);
  absl::StatusOr<cv1::Project> AddProjectMember(const Principal& caller,
                                                const cv1::AddProjectMemberRequest& req);
  absl::StatusOr<cv1::Project> RemoveProjectMember(const Principal& caller,
                                                   const cv1::RemoveProjectMemberRequest& req);

  // People.
  absl::StatusOr<cv1::User> CreateUser(const Principal& caller, const cv1::CreateUserRequest& req);
  absl::StatusOr<cv1::User> GetUser(const std::string& name) const;
  absl::StatusOr<cv1::ListUsersResponse> ListUsers(const cv1::ListUsersRequest& req) const;
  absl::StatusOr<cv1::User> UpdateUser(const Principal& caller, const cv1::UpdateUserRequest& req);

  // The trust floor (defaults until an admin sets it).
  absl::StatusOr<cv1::TrustFloor> GetTrustFloor() const;
  absl::StatusOr<cv1::TrustFloor> SetTrustFloor(const Principal& caller,
                                                const cv1::SetTrustFloorRequest& req);

  // The decision API. A refusal is an OK status with allowed=false and the
  // reason; errors are for malformed requests or an unavailable audit log
  // (fail closed: no decision without its audit event).
  absl::StatusOr<cv1::CheckAccessResponse> CheckAccess(const Principal& caller,
                                                       const cv1::CheckAccessRequest& req);

  absl::StatusOr<cv1::RecordsOfProcessing> GetRecordsOfProcessing(
      const cv1::GetRecordsOfProcessingRequest& req) const;

 private:
  template <typename T>
  struct Planned {
    CatalogueWrite write;
    T result;
  };

  explicit Catalogue(const Options& o) : store_(o.store), audit_(o.audit), clock_(o.clock) {}

  // Writes the event; the result of AuditClient::Append.
  absl::Status Audit(const Principal& actor, const std::string& action,
                     const std::vector<std::string>& resources,
                     common::v1::Decision decision, const std::string& reason,
                     const std::string& project = "",
                     const std::map<std::string, std::string>& details = {});
  // Records the plan's outcome and writes it: DENY (and the plan's error)
  // when it failed; otherwise ALLOW, then the store write.
  template <typename T>
  absl::StatusOr<T> Commit(const Principal& caller, const std::string& action,
                           const std::vector<std::string>& resources,
                           absl::StatusOr<Planned<T>> plan, const std::string& project = "");

  absl::StatusOr<Planned<cv1::Dataset>> PlanCreateDataset(const Principal& caller,
                                                          const cv1::CreateDatasetRequest& req);
  absl::StatusOr<Planned<cv1::Dataset>> PlanUpdateDataset(const cv1::UpdateDatasetRequest& req);
  absl::StatusOr<Planned<cv1::Schema>> PlanCreateSchema(const cv1::CreateSchemaVersionRequest& req);
  absl::StatusOr<Planned<cv1::DatasetVersion>> PlanRegisterVersion(
      const cv1::RegisterDatasetVersionRequest& req, const std::string& dataset_id);
  absl::StatusOr<Planned<cv1::Project>> PlanCreateProject(const Principal& caller,
                                                          const cv1::CreateProjectRequest& req);
  absl::StatusOr<Planned<cv1::Project>> PlanUpdateProject(const Principal& caller,
                                                          const cv1::UpdateProjectRequest& req);
  absl::StatusOr<Planned<cv1::Project>> PlanApprove(const Principal& caller,
                                                    const cv1::ApproveProjectRequest& req);
  absl::StatusOr<Planned<cv1::Project>> PlanTransition(const Principal& caller,
                                                       const std::string& name,
                                                       const std::string& reason, bool close);
  absl::StatusOr<Planned<cv1::Project>> PlanMembership(const Principal& caller,
                                                       const std::string& name,
                                                       const std::string& member, bool add);
  absl::StatusOr<Planned<cv1::User>> PlanCreateUser(const cv1::CreateUserRequest& req);
  absl::StatusOr<Planned<cv1::User>> PlanUpdateUser(const cv1::UpdateUserRequest& req);
  absl::StatusOr<Planned<cv1::TrustFloor>> PlanSetFloor(const Principal& caller,
                                                        const cv1::SetTrustFloorRequest& req);

  // Full validation of a project against users, datasets and the floor.
  void ValidateProject(const cv1::Project& p, const common::v1::DisclosureSettings& floor,
                       FieldErrors& errors) const;
  absl::StatusOr<cv1::CheckAccessResponse> Decide(const cv1::CheckAccessRequest& req) const;

  cv1::Project View(cv1::Project p) const;  // derives EXPIRED
  bool SeesAllProjects(const Principal& caller) const;
  bool Visible(const Principal& caller, const cv1::Project& p) const;
  int64_t Now() const { return clock_->NowUnixMs(); }

  CatalogueStore* const store_;
  audit_client::AuditClient* const audit_;
  const Clock* const clock_;
  absl::Mutex mu_;  // serialises changes (read-validate-write)
};

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_CATALOGUE_H_
