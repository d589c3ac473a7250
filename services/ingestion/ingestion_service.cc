#include "services/ingestion/ingestion_service.h"

#include "absl/strings/str_cat.h"
#include "common/auth/auth_processor.h"
#include "common/status/grpc_status.h"

namespace datalab::ingestion {
namespace {

void Fill(const UploadResult& r, v1::UploadResponse* out) {
  out->set_upload(r.session.name());
  out->set_bytes_received(r.session.bytes_received());
  out->set_complete(r.session.complete());
  out->set_job(r.session.job());
  out->set_duplicate_of_existing(r.duplicate_of_existing);
}

}  // namespace

grpc::Status IngestionServiceImpl::Upload(grpc::ServerContext* context,
                                          grpc::ServerReader<v1::UploadRequest>* reader,
                                          v1::UploadResponse* response) {
  auto caller = auth::PrincipalFromContext(*authenticator_, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  v1::UploadRequest msg;
  if (!reader->Read(&msg)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty upload stream");
  }
  UploadResult state;
  switch (msg.kind_case()) {
    case v1::UploadRequest::kHeader: {
      auto r = ingestion_->BeginUpload(*caller, msg.header());
      if (!r.ok()) return ToGrpcStatus(r.status());
      state = *r;
      break;
    }
    case v1::UploadRequest::kResume: {
      auto r = ingestion_->ResumeUpload(*caller, msg.resume());
      if (!r.ok()) return ToGrpcStatus(r.status());
      state.session = *r;
      break;
    }
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "the first message of an upload must be a header or a resume");
  }
  Fill(state, response);
  if (state.duplicate_of_existing) return grpc::Status::OK;
  while (reader->Read(&msg)) {
    if (msg.kind_case() != v1::UploadRequest::kChunk) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "after the first message an upload carries only chunks");
    }
    auto r = ingestion_->AppendChunk(*caller, state.session.name(), msg.offset(), msg.chunk());
    if (!r.ok()) return ToGrpcStatus(r.status());
    state = *r;
    Fill(state, response);
  }
  if (context->IsCancelled()) {
    return grpc::Status(grpc::StatusCode::CANCELLED, "upload stream cancelled");
  }
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::GetUploadSession(grpc::ServerContext* context,
                                                    const v1::GetUploadSessionRequest* request,
                                                    v1::UploadSession* response) {
  auto caller = auth::PrincipalFromContext(*authenticator_, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto r = ingestion_->GetUploadSession(*caller, request->name());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                                          v1::Job* response) {
  auto r = ingestion_->GetJob(request->name());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::ListJobs(grpc::ServerContext*,
                                            const v1::ListJobsRequest* request,
                                            v1::ListJobsResponse* response) {
  auto r = ingestion_->ListJobs(*request);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::GetValidationReport(
    grpc::ServerContext*, const v1::GetValidationReportRequest* request,
    v1::ValidationReport* response) {
  auto r = ingestion_->GetValidationReport(request->job());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status IngestionServiceImpl::CancelJob(grpc::ServerContext* context,
                                             const v1::CancelJobRequest* request,
                                             v1::Job* response) {
  auto caller = auth::PrincipalFromContext(*authenticator_, *context);
  if (!caller.ok()) return ToGrpcStatus(caller.status());
  auto r = ingestion_->CancelJob(*caller, request->name());
  if (!r.ok()) return ToGrpcStatus(r.status());
  *response = std::move(*r);
  return grpc::Status::OK;
}

}  // namespace datalab::ingestion
