// gRPC handlers of datalab.catalogue.v1.CatalogueService: thin. Each handler
// learns the caller (auth::PrincipalFromContext), calls the Catalogue domain
// object and converts its absl::Status with ToGrpcStatus. The per-RPC
// permission was already enforced by the AuthProcessor before the handler
// runs; caller-dependent rules live in Catalogue.
//
// Borrows the Catalogue (must outlive the service). Thread-safe.
#ifndef DATALAB_SERVICES_CATALOGUE_CATALOGUE_SERVICE_H_
#define DATALAB_SERVICES_CATALOGUE_CATALOGUE_SERVICE_H_

#include <memory>

#include "common/auth/authenticator.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "services/catalogue/catalogue.h"

namespace datalab::catalogue {

class CatalogueService final : public cv1::CatalogueService::Service {
 public:
  CatalogueService(Catalogue* catalogue, std::shared_ptr<auth::Authenticator> authenticator)
      : catalogue_(catalogue), authenticator_(std::move(authenticator)) {}

  using Ctx = grpc::ServerContext;
  grpc::Status CreateDataset(Ctx*, const cv1::CreateDatasetRequest*, cv1::Dataset*) override;
  grpc::Status GetDataset(Ctx*, const cv1::GetDatasetRequest*, cv1::Dataset*) override;
  grpc::Status ListDatasets(Ctx*, const cv1::ListDatasetsRequest*,
                            cv1::ListDatasetsResponse*) override;
  grpc::Status SearchDatasets(Ctx*, const cv1::SearchDatasetsRequest*,
                              cv1::ListDatasetsResponse*) override;
  grpc::Status UpdateDataset(Ctx*, const cv1::UpdateDatasetRequest*, cv1::Dataset*) override;
  grpc::Status CreateSchemaVersion(Ctx*, const cv1::CreateSchemaVersionRequest*,
                                   cv1::Schema*) override;
  grpc::Status GetSchema(Ctx*, const cv1::GetSchemaRequest*, cv1::Schema*) override;
  grpc::Status ListSchemaVersions(Ctx*, const cv1::ListSchemaVersionsRequest*,
                                  cv1::ListSchemaVersionsResponse*) override;
  grpc::Status RegisterDatasetVersion(Ctx*, const cv1::RegisterDatasetVersionRequest*,
                                      cv1::DatasetVersion*) override;
  grpc::Status GetDatasetVersion(Ctx*, const cv1::GetDatasetVersionRequest*,
                                 cv1::DatasetVersion*) override;
  grpc::Status ListDatasetVersions(Ctx*, const cv1::ListDatasetVersionsRequest*,
                                   cv1::ListDatasetVersionsResponse*) override;
  grpc::Status GetQualityTrend(Ctx*, const cv1::GetQualityTrendRequest*,
                               cv1::QualityTrend*) override;
  grpc::Status CreateProject(Ctx*, const cv1::CreateProjectRequest*, cv1::Project*) override;
  grpc::Status GetProject(Ctx*, const cv1::GetProjectRequest*, cv1::Project*) override;
  grpc::Status ListProjects(Ctx*, const cv1::ListProjectsRequest*,
                            cv1::ListProjectsResponse*) override;
  grpc::Status UpdateProject(Ctx*, const cv1::UpdateProjectRequest*, cv1::Project*) override;
  grpc::Status ApproveProject(Ctx*, const cv1::ApproveProjectRequest*, cv1::Project*) override;
  grpc::Status SuspendProject(Ctx*, const cv1::SuspendProjectRequest*, cv1::Project*) override;
  grpc::Status CloseProject(Ctx*, const cv1::CloseProjectRequest*, cv1::Project*) override;
  grpc::Status AddProjectMember(Ctx*, const cv1::AddProjectMemberRequest*,
                                cv1::Project*) override;
  grpc::Status RemoveProjectMember(Ctx*, const cv1::RemoveProjectMemberRequest*,
                                   cv1::Project*) override;
  grpc::Status CreateUser(Ctx*, const cv1::CreateUserRequest*, cv1::User*) override;
  grpc::Status GetUser(Ctx*, const cv1::GetUserRequest*, cv1::User*) override;
  grpc::Status ListUsers(Ctx*, const cv1::ListUsersRequest*, cv1::ListUsersResponse*) override;
  grpc::Status UpdateUser(Ctx*, const cv1::UpdateUserRequest*, cv1::User*) override;
  grpc::Status GetTrustFloor(Ctx*, const cv1::GetTrustFloorRequest*, cv1::TrustFloor*) override;
  grpc::Status SetTrustFloor(Ctx*, const cv1::SetTrustFloorRequest*, cv1::TrustFloor*) override;
  grpc::Status CheckAccess(Ctx*, const cv1::CheckAccessRequest*,
                           cv1::CheckAccessResponse*) override;
  grpc::Status GetRecordsOfProcessing(Ctx*, const cv1::GetRecordsOfProcessingRequest*,
                                      cv1::RecordsOfProcessing*) override;

 private:
  // Runs `fn(principal)` and stores its value in `out`.
  template <typename Out, typename Fn>
  grpc::Status Run(Ctx* ctx, Out* out, Fn fn);

  Catalogue* const catalogue_;
  std::shared_ptr<auth::Authenticator> authenticator_;
};

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_CATALOGUE_SERVICE_H_
