#include "services/catalogue/catalogue_service.h"

#include "common/auth/auth_processor.h"
#include "common/status/grpc_status.h"

namespace datalab::catalogue {

template <typename Out, typename Fn>
grpc::Status CatalogueService::Run(Ctx* ctx, Out* out, Fn fn) {
  auto principal = auth::PrincipalFromContext(*authenticator_, *ctx);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto result = fn(*principal);
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = *std::move(result);
  return grpc::Status::OK;
}

#define CATALOGUE_HANDLER(Method, Req, Resp, call)                                 \
  grpc::Status CatalogueService::Method(Ctx* ctx, const Req* req, Resp* out) {      \
    (void)req;                                                                   \
    return Run(ctx, out, [&](const Principal& p) { (void)p; return call; });         \
  }

CATALOGUE_HANDLER(CreateDataset, cv1::CreateDatasetRequest, cv1::Dataset,
                  catalogue_->CreateDataset(p, *req))
CATALOGUE_HANDLER(GetDataset, cv1::GetDatasetRequest, cv1::Dataset,
                  catalogue_->GetDataset(req->name()))
CATALOGUE_HANDLER(ListDatasets, cv1::ListDatasetsRequest, cv1::ListDatasetsResponse,
                  catalogue_->ListDatasets(*req))
CATALOGUE_HANDLER(SearchDatasets, cv1::SearchDatasetsRequest, cv1::ListDatasetsResponse,
                  catalogue_->SearchDatasets(*req))
CATALOGUE_HANDLER(UpdateDataset, cv1::UpdateDatasetRequest, cv1::Dataset,
                  catalogue_->UpdateDataset(p, *req))
CATALOGUE_HANDLER(CreateSchemaVersion, cv1::CreateSchemaVersionRequest, cv1::Schema,
                  catalogue_->CreateSchemaVersion(p, *req))
CATALOGUE_HANDLER(GetSchema, cv1::GetSchemaRequest, cv1::Schema,
                  catalogue_->GetSchema(req->name()))
CATALOGUE_HANDLER(ListSchemaVersions, cv1::ListSchemaVersionsRequest,
                  cv1::ListSchemaVersionsResponse, catalogue_->ListSchemaVersions(*req))
CATALOGUE_HANDLER(RegisterDatasetVersion, cv1::RegisterDatasetVersionRequest,
                  cv1::DatasetVersion, catalogue_->RegisterDatasetVersion(p, *req))
CATALOGUE_HANDLER(GetDatasetVersion, cv1::GetDatasetVersionRequest, cv1::DatasetVersion,
                  catalogue_->GetDatasetVersion(req->name()))
CATALOGUE_HANDLER(ListDatasetVersions, cv1::ListDatasetVersionsRequest,
                  cv1::ListDatasetVersionsResponse, catalogue_->ListDatasetVersions(*req))
CATALOGUE_HANDLER(GetQualityTrend, cv1::GetQualityTrendRequest, cv1::QualityTrend,
                  catalogue_->GetQualityTrend(*req))
CATALOGUE_HANDLER(CreateProject, cv1::CreateProjectRequest, cv1::Project,
                  catalogue_->CreateProject(p, *req))
CATALOGUE_HANDLER(GetProject, cv1::GetProjectRequest, cv1::Project,
                  catalogue_->GetProject(p, req->name()))
CATALOGUE_HANDLER(ListProjects, cv1::ListProjectsRequest, cv1::ListProjectsResponse,
                  catalogue_->ListProjects(p, *req))
CATALOGUE_HANDLER(UpdateProject, cv1::UpdateProjectRequest, cv1::Project,
                  catalogue_->UpdateProject(p, *req))
CATALOGUE_HANDLER(ApproveProject, cv1::ApproveProjectRequest, cv1::Project,
                  catalogue_->ApproveProject(p, *req))
CATALOGUE_HANDLER(SuspendProject, cv1::SuspendProjectRequest, cv1::Project,
                  catalogue_->SuspendProject(p, *req))
CATALOGUE_HANDLER(CloseProject, cv1::CloseProjectRequest, cv1::Project,
                  catalogue_->CloseProject(p, *req))
CATALOGUE_HANDLER(AddProjectMember, cv1::AddProjectMemberRequest, cv1::Project,
                  catalogue_->AddProjectMember(p, *req))
CATALOGUE_HANDLER(RemoveProjectMember, cv1::RemoveProjectMemberRequest, cv1::Project,
                  catalogue_->RemoveProjectMember(p, *req))
CATALOGUE_HANDLER(CreateUser, cv1::CreateUserRequest, cv1::User, catalogue_->CreateUser(p, *req))
CATALOGUE_HANDLER(GetUser, cv1::GetUserRequest, cv1::User, catalogue_->GetUser(req->name()))
CATALOGUE_HANDLER(ListUsers, cv1::ListUsersRequest, cv1::ListUsersResponse,
                  catalogue_->ListUsers(*req))
CATALOGUE_HANDLER(UpdateUser, cv1::UpdateUserRequest, cv1::User, catalogue_->UpdateUser(p, *req))
CATALOGUE_HANDLER(GetTrustFloor, cv1::GetTrustFloorRequest, cv1::TrustFloor,
                  catalogue_->GetTrustFloor())
CATALOGUE_HANDLER(SetTrustFloor, cv1::SetTrustFloorRequest, cv1::TrustFloor,
                  catalogue_->SetTrustFloor(p, *req))
CATALOGUE_HANDLER(CheckAccess, cv1::CheckAccessRequest, cv1::CheckAccessResponse,
                  catalogue_->CheckAccess(p, *req))
CATALOGUE_HANDLER(GetRecordsOfProcessing, cv1::GetRecordsOfProcessingRequest,
                  cv1::RecordsOfProcessing, catalogue_->GetRecordsOfProcessing(*req))

#undef CATALOGUE_HANDLER

}  // namespace datalab::catalogue
