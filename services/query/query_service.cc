#include "services/query/query_service.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/log/log.h"
#include "common/auth/auth_processor.h"
#include "common/status/grpc_status.h"

namespace datalab::query {
namespace {

#define ASSIGN_OR_GRPC(lhs, expr)                            \
  auto lhs##_or = (expr);                                    \
  if (!lhs##_or.ok()) return ToGrpcStatus(lhs##_or.status()); \
  auto lhs = std::move(*lhs##_or)

CallControl ControlFor(grpc::ServerContext* ctx) {
  CallControl c;
  c.cancelled = [ctx] { return ctx->IsCancelled(); };
  const auto deadline = ctx->deadline();
  if (deadline != std::chrono::system_clock::time_point::max()) c.deadline = deadline;
  return c;
}

}  // namespace

grpc::Status QueryServiceImpl::RunQuery(grpc::ServerContext* ctx, const v1::RunQueryRequest* req,
                                        v1::QueryResult* resp) {
  ASSIGN_OR_GRPC(caller, auth::PrincipalFromContext(*authenticator_, *ctx));
  QueryTimings t;
  ASSIGN_OR_GRPC(result, runner_->Run(caller, *req, ControlFor(ctx), &t));
  // Phase times only: never the query text, values or who asked.
  auto ms = [](double s) { return absl::StrFormat("%.1f", s * 1e3); };
  log::Info("query released", {{"rows", std::to_string(result.rows_size())},
                               {"parse_ms", ms(t.parse_bind)},
                               {"authorise_ms", ms(t.authorise)},
                               {"load_ms", ms(t.load)},
                               {"execute_ms", ms(t.execute)},
                               {"sdc_ms", ms(t.sdc)},
                               {"release_ms", ms(t.release)}});
  *resp = std::move(result);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::ExplainQuery(grpc::ServerContext* ctx, const v1::RunQueryRequest* req,
                                            v1::ExplainQueryResponse* resp) {
  ASSIGN_OR_GRPC(caller, auth::PrincipalFromContext(*authenticator_, *ctx));
  ASSIGN_OR_GRPC(result, runner_->Explain(caller, *req));
  *resp = std::move(result);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::ListQueryHistory(grpc::ServerContext* ctx,
                                                const v1::ListQueryHistoryRequest* req,
                                                v1::ListQueryHistoryResponse* resp) {
  ASSIGN_OR_GRPC(caller, auth::PrincipalFromContext(*authenticator_, *ctx));
  ASSIGN_OR_GRPC(result, runner_->ListHistory(caller, *req));
  *resp = std::move(result);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::GetRelease(grpc::ServerContext* ctx, const v1::GetReleaseRequest* req,
                                          v1::QueryResult* resp) {
  ASSIGN_OR_GRPC(caller, auth::PrincipalFromContext(*authenticator_, *ctx));
  ASSIGN_OR_GRPC(result, runner_->GetRelease(caller, req->name()));
  *resp = std::move(result);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::ExportRelease(grpc::ServerContext* ctx,
                                             const v1::ExportReleaseRequest* req,
                                             v1::ExportReleaseResponse* resp) {
  ASSIGN_OR_GRPC(caller, auth::PrincipalFromContext(*authenticator_, *ctx));
  ASSIGN_OR_GRPC(result, runner_->ExportRelease(caller, *req));
  *resp = std::move(result);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::WriteDatasetVersion(
    grpc::ServerContext* ctx, grpc::ServerReader<v1::WriteDatasetVersionRequest>* reader,
    v1::WriteDatasetVersionResponse* resp) {
  ASSIGN_OR_GRPC(caller, auth::PrincipalFromContext(*authenticator_, *ctx));
  v1::WriteDatasetVersionRequest msg;
  if (!reader->Read(&msg) || msg.kind_case() != v1::WriteDatasetVersionRequest::kBegin) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "the first message must be begin (a VersionSpec)");
  }
  ASSIGN_OR_GRPC(writer, store_->BeginVersion(msg.begin()));
  int64_t batches = 0;
  while (reader->Read(&msg)) {
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    switch (msg.kind_case()) {
      case v1::WriteDatasetVersionRequest::kBatch: {
        ++batches;
        absl::Status s = writer->Write(msg.batch());
        if (!s.ok()) {
          return ToGrpcStatus(absl::Status(s.code(), absl::StrCat("batch ", batches, ": ", s.message())));
        }
        break;
      }
      case v1::WriteDatasetVersionRequest::kCommit: {
        ASSIGN_OR_GRPC(result, writer->Commit(msg.commit()));
        v1::WriteDatasetVersionRequest extra;
        if (reader->Read(&extra)) {
          // The version is committed; trailing messages are a client bug.
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "messages after commit");
        }
        runner_->AuditVersionCommit(caller, result);
        *resp = std::move(result);
        return grpc::Status::OK;
      }
      default:
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            "begin may only be the first message");
    }
  }
  return grpc::Status(grpc::StatusCode::ABORTED,
                      "the stream ended without commit; nothing was stored");
}

grpc::Status QueryServiceImpl::ListStoredVersions(grpc::ServerContext*,
                                                  const v1::ListStoredVersionsRequest* req,
                                                  v1::ListStoredVersionsResponse* resp) {
  if (req->dataset().rfind("datasets/", 0) != 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "dataset must be datasets/{dataset}");
  }
  ASSIGN_OR_GRPC(versions, store_->ListVersions(req->dataset()));
  for (const auto& m : versions) {
    auto* v = resp->add_versions();
    v->set_dataset_version(m.dataset_version());
    v->set_rows(m.rows());
    v->set_distinct_subjects(m.distinct_subjects());
    v->set_content_sha256(m.content_sha256());
    v->set_commit_time_unix_ms(m.commit_time_unix_ms());
    v->set_superseded_by(m.superseded_by());
  }
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::FindSubjectRecords(grpc::ServerContext* ctx,
                                                  const v1::SubjectRecordsRequest* req,
                                                  v1::SubjectRecordsResponse* resp) {
  ASSIGN_OR_GRPC(caller, auth::PrincipalFromContext(*authenticator_, *ctx));
  ASSIGN_OR_GRPC(result, runner_->FindSubjectRecords(caller, *req));
  *resp = std::move(result);
  return grpc::Status::OK;
}

grpc::Status QueryServiceImpl::EraseSubjectRecords(grpc::ServerContext* ctx,
                                                   const v1::SubjectRecordsRequest* req,
                                                   v1::SubjectRecordsResponse* resp) {
  ASSIGN_OR_GRPC(caller, auth::PrincipalFromContext(*authenticator_, *ctx));
  ASSIGN_OR_GRPC(result, runner_->EraseSubjectRecords(caller, *req));
  *resp = std::move(result);
  return grpc::Status::OK;
}

}  // namespace datalab::query
