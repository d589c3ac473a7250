// The gRPC face of the audit log: thin handlers that convert protos to the
// domain types of audit_log.h and absl::Status to grpc::Status. Permissions
// are enforced before a handler runs (AuthProcessor, declared in
// audit.proto); handlers ask for the principal only to record who read the
// log: every search, report, export and prune is itself an audit event
// (fail closed: when that event cannot be stored the read is refused).
//
// AppendEvents, the hot path of every service's audit client, is a callback
// method: the call waits for its group commit without holding a server
// thread, and the sequencer's writer answers it. The rest are synchronous.
//
// Thread-safe; the AuditLog and authenticator must outlive the service.
#ifndef DATALAB_SERVICES_AUDIT_AUDIT_SERVICE_H_
#define DATALAB_SERVICES_AUDIT_AUDIT_SERVICE_H_

#include <memory>

#include <grpcpp/support/message_allocator.h>

#include "common/auth/authenticator.h"
#include "datalab/audit/v1/audit.grpc.pb.h"
#include "services/audit/audit_log.h"

namespace datalab::audit {

namespace v1 = ::datalab::audit::v1;

class AuditServiceImpl final
    : public v1::AuditService::WithCallbackMethod_AppendEvents<v1::AuditService::Service> {
 public:
  AuditServiceImpl(AuditLog* log, std::shared_ptr<auth::Authenticator> authenticator);

  grpc::ServerUnaryReactor* AppendEvents(grpc::CallbackServerContext* ctx,
                                         const v1::AppendEventsRequest* req,
                                         v1::AppendEventsResponse* resp) override;
  grpc::Status GetSignedTreeHead(grpc::ServerContext* ctx, const v1::GetSignedTreeHeadRequest* req,
                                 v1::SignedTreeHead* resp) override;
  grpc::Status SignTreeHead(grpc::ServerContext* ctx, const v1::SignTreeHeadRequest* req,
                            v1::SignedTreeHead* resp) override;
  grpc::Status GetInclusionProof(grpc::ServerContext* ctx, const v1::GetInclusionProofRequest* req,
                                 v1::InclusionProof* resp) override;
  grpc::Status GetConsistencyProof(grpc::ServerContext* ctx,
                                   const v1::GetConsistencyProofRequest* req,
                                   v1::ConsistencyProof* resp) override;
  grpc::Status GetEntries(grpc::ServerContext* ctx, const v1::GetEntriesRequest* req,
                          v1::GetEntriesResponse* resp) override;
  grpc::Status SearchEvents(grpc::ServerContext* ctx, const v1::SearchEventsRequest* req,
                            v1::SearchEventsResponse* resp) override;
  grpc::Status ExportLog(grpc::ServerContext* ctx, const v1::ExportLogRequest* req,
                         grpc::ServerWriter<v1::ExportLogChunk>* writer) override;
  grpc::Status GetAccessReport(grpc::ServerContext* ctx, const v1::GetAccessReportRequest* req,
                               v1::AccessReport* resp) override;
  grpc::Status PruneEvents(grpc::ServerContext* ctx, const v1::PruneEventsRequest* req,
                           v1::PruneEventsResponse* resp) override;

 private:
  // Appends the "audit.<action>" read event for the caller.
  absl::Status RecordRead(const grpc::ServerContext& ctx, const std::string& action,
                          const std::vector<std::string>& resources, int64_t results);

  // AppendEvents requests and responses live on a per-call protobuf arena:
  // parsing a batch allocates from one block and freeing it is one call.
  class ArenaAllocator final
      : public grpc::MessageAllocator<v1::AppendEventsRequest, v1::AppendEventsResponse> {
   public:
    grpc::MessageHolder<v1::AppendEventsRequest, v1::AppendEventsResponse>* AllocateMessages()
        override;
  };

  AuditLog* log_;
  std::shared_ptr<auth::Authenticator> authenticator_;
  ArenaAllocator append_allocator_;
};

// Proto conversions, exposed for the client side and tests.
void ToProto(const TreeHead& head, v1::SignedTreeHead* out);
TreeHead FromProto(const v1::SignedTreeHead& head);
void ToProto(const StoredEntry& entry, v1::LogEntry* out);

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_AUDIT_SERVICE_H_
