// gRPC handlers of IngestionService: thin translation between the wire and
// the Ingestion domain object. Permissions are enforced before these run by
// the shared AuthProcessor; handlers only learn who is calling.
//
// Upload stream: the first message is a header (new session) or a resume
// (uploads/{id}); every later message is a chunk whose offset must equal the
// acknowledged offset. The response carries the acknowledged offset, and,
// once the declared size has arrived, complete=true and the job.
// Thread safety: handlers run concurrently; the domain object is thread-safe.
#ifndef DATALAB_SERVICES_INGESTION_INGESTION_SERVICE_H_
#define DATALAB_SERVICES_INGESTION_INGESTION_SERVICE_H_

#include <memory>

#include "common/auth/authenticator.h"
#include "datalab/ingestion/v1/ingestion.grpc.pb.h"
#include "services/ingestion/ingestion.h"

namespace datalab::ingestion {

class IngestionServiceImpl : public v1::IngestionService::Service {
 public:
  // `ingestion` must outlive the service.
  IngestionServiceImpl(Ingestion* ingestion, std::shared_ptr<auth::Authenticator> authenticator)
      : ingestion_(ingestion), authenticator_(std::move(authenticator)) {}

  grpc::Status Upload(grpc::ServerContext* context, grpc::ServerReader<v1::UploadRequest>* reader,
                      v1::UploadResponse* response) override;
  grpc::Status GetUploadSession(grpc::ServerContext* context,
                                const v1::GetUploadSessionRequest* request,
                                v1::UploadSession* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status GetValidationReport(grpc::ServerContext* context,
                                   const v1::GetValidationReportRequest* request,
                                   v1::ValidationReport* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;

 private:
  Ingestion* ingestion_;
  std::shared_ptr<auth::Authenticator> authenticator_;
};

}  // namespace datalab::ingestion

#endif  // DATALAB_SERVICES_INGESTION_INGESTION_SERVICE_H_
