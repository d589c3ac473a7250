// QueryService gRPC handlers: thin. Each handler finds the caller
// (auth::PrincipalFromContext; the AuthProcessor has already checked the
// RPC's permission), calls the domain (QueryRunner, QueryStore) and converts
// the absl::Status at the edge. Thread-safe (the domain objects are).
#ifndef DATALAB_SERVICES_QUERY_QUERY_SERVICE_H_
#define DATALAB_SERVICES_QUERY_QUERY_SERVICE_H_

#include <memory>

#include "common/auth/authenticator.h"
#include "datalab/query/v1/query.grpc.pb.h"
#include "services/query/query_runner.h"
#include "services/query/query_store.h"

namespace datalab::query {

class QueryServiceImpl final : public v1::QueryService::Service {
 public:
  QueryServiceImpl(QueryRunner* runner, QueryStore* store,
                   std::shared_ptr<auth::Authenticator> authenticator)
      : runner_(runner), store_(store), authenticator_(std::move(authenticator)) {}

  grpc::Status RunQuery(grpc::ServerContext* ctx, const v1::RunQueryRequest* req,
                        v1::QueryResult* resp) override;
  grpc::Status ExplainQuery(grpc::ServerContext* ctx, const v1::RunQueryRequest* req,
                            v1::ExplainQueryResponse* resp) override;
  grpc::Status ListQueryHistory(grpc::ServerContext* ctx, const v1::ListQueryHistoryRequest* req,
                                v1::ListQueryHistoryResponse* resp) override;
  grpc::Status GetRelease(grpc::ServerContext* ctx, const v1::GetReleaseRequest* req,
                          v1::QueryResult* resp) override;
  grpc::Status ExportRelease(grpc::ServerContext* ctx, const v1::ExportReleaseRequest* req,
                             v1::ExportReleaseResponse* resp) override;
  grpc::Status WriteDatasetVersion(grpc::ServerContext* ctx,
                                   grpc::ServerReader<v1::WriteDatasetVersionRequest>* reader,
                                   v1::WriteDatasetVersionResponse* resp) override;
  grpc::Status ListStoredVersions(grpc::ServerContext* ctx, const v1::ListStoredVersionsRequest* req,
                                  v1::ListStoredVersionsResponse* resp) override;
  grpc::Status FindSubjectRecords(grpc::ServerContext* ctx, const v1::SubjectRecordsRequest* req,
                                  v1::SubjectRecordsResponse* resp) override;
  grpc::Status EraseSubjectRecords(grpc::ServerContext* ctx, const v1::SubjectRecordsRequest* req,
                                   v1::SubjectRecordsResponse* resp) override;

 private:
  QueryRunner* runner_;
  QueryStore* store_;
  std::shared_ptr<auth::Authenticator> authenticator_;
};

}  // namespace datalab::query

#endif  // DATALAB_SERVICES_QUERY_QUERY_SERVICE_H_
