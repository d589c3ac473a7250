// gRPC handlers of datalab.pseudonymisation.v1.PseudonymisationService:
// thin adapters that find the caller (auth::PrincipalFromContext), call the
// Pseudonymisation domain and convert absl::Status at the edge. Permissions
// were already enforced by the AuthProcessor before a handler runs.
//
// RotateKek takes no key in the request: the new KEK is read, at call time,
// from the file the operator mounted (--new_kek_file), through `new_kek`.
// Thread-safe (the domain is).
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_SERVICE_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_SERVICE_H_

#include <functional>
#include <memory>

#include "common/auth/authenticator.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.grpc.pb.h"
#include "services/pseudonymisation/pseudonymisation.h"

namespace datalab::pseudonymisation {

class PseudonymisationService final : public v1::PseudonymisationService::Service {
 public:
  // Reads the new KEK for RotateKek; FAILED_PRECONDITION when none is set up.
  using NewKekSource = std::function<absl::StatusOr<Kek>()>;

  PseudonymisationService(Pseudonymisation* domain,
                          std::shared_ptr<auth::Authenticator> authenticator,
                          NewKekSource new_kek);

  grpc::Status CreateDomain(grpc::ServerContext* ctx, const v1::CreateDomainRequest* req,
                            v1::Domain* resp) override;
  grpc::Status GetDomain(grpc::ServerContext* ctx, const v1::GetDomainRequest* req,
                         v1::Domain* resp) override;
  grpc::Status ListDomains(grpc::ServerContext* ctx, const v1::ListDomainsRequest* req,
                           v1::ListDomainsResponse* resp) override;
  grpc::Status Pseudonymise(grpc::ServerContext* ctx, const v1::PseudonymiseRequest* req,
                            v1::PseudonymiseResponse* resp) override;
  grpc::Status PseudonymiseStream(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<v1::PseudonymiseResponse, v1::PseudonymiseRequest>* stream) override;
  grpc::Status DeriveProjectPseudonyms(grpc::ServerContext* ctx,
                                       const v1::DeriveProjectPseudonymsRequest* req,
                                       v1::DeriveProjectPseudonymsResponse* resp) override;
  grpc::Status RotateDomainKey(grpc::ServerContext* ctx, const v1::RotateDomainKeyRequest* req,
                               v1::Domain* resp) override;
  grpc::Status RotateKek(grpc::ServerContext* ctx, const v1::RotateKekRequest* req,
                         v1::RotateKekResponse* resp) override;
  grpc::Status CreateReidentificationRequest(grpc::ServerContext* ctx,
                                             const v1::CreateReidentificationRequestRequest* req,
                                             v1::ReidentificationRequest* resp) override;
  grpc::Status ApproveReidentificationRequest(
      grpc::ServerContext* ctx, const v1::ApproveReidentificationRequestRequest* req,
      v1::ReidentificationRequest* resp) override;
  grpc::Status CollectReidentification(grpc::ServerContext* ctx,
                                       const v1::CollectReidentificationRequest* req,
                                       v1::CollectReidentificationResponse* resp) override;
  grpc::Status ListReidentificationRequests(
      grpc::ServerContext* ctx, const v1::ListReidentificationRequestsRequest* req,
      v1::ListReidentificationRequestsResponse* resp) override;
  grpc::Status ProcessSubjectRequest(grpc::ServerContext* ctx,
                                     const v1::ProcessSubjectRequestRequest* req,
                                     v1::SubjectRequestReport* resp) override;

 private:
  absl::StatusOr<common::v1::Principal> Caller(const grpc::ServerContext& ctx) const;

  Pseudonymisation* domain_;
  std::shared_ptr<auth::Authenticator> authenticator_;
  NewKekSource new_kek_;
};

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_SERVICE_H_
