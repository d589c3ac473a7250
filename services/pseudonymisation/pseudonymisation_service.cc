#include "services/pseudonymisation/pseudonymisation_service.h"

#include <utility>

#include "common/auth/auth_processor.h"
#include "common/status/grpc_status.h"

namespace datalab::pseudonymisation {
namespace {

template <typename T>
grpc::Status Reply(absl::StatusOr<T> result, T* out) {
  if (!result.ok()) return ToGrpcStatus(result.status());
  *out = std::move(*result);
  return grpc::Status::OK;
}

}  // namespace

#define DATALAB_CALLER_OR_RETURN(var, ctx)                 \
  absl::StatusOr<common::v1::Principal> var = Caller(ctx); \
  if (!var.ok()) return ToGrpcStatus(var.status())

PseudonymisationService::PseudonymisationService(
    Pseudonymisation* domain, std::shared_ptr<auth::Authenticator> authenticator,
    NewKekSource new_kek)
    : domain_(domain), authenticator_(std::move(authenticator)), new_kek_(std::move(new_kek)) {}

absl::StatusOr<common::v1::Principal> PseudonymisationService::Caller(
    const grpc::ServerContext& ctx) const {
  return auth::PrincipalFromContext(*authenticator_, ctx);
}

grpc::Status PseudonymisationService::CreateDomain(grpc::ServerContext* ctx,
                                                   const v1::CreateDomainRequest* req,
                                                   v1::Domain* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  return Reply(domain_->CreateDomain(*who, *req), resp);
}

grpc::Status PseudonymisationService::GetDomain(grpc::ServerContext*,
                                                const v1::GetDomainRequest* req,
                                                v1::Domain* resp) {
  return Reply(domain_->GetDomain(req->name()), resp);
}

grpc::Status PseudonymisationService::ListDomains(grpc::ServerContext*,
                                                  const v1::ListDomainsRequest* req,
                                                  v1::ListDomainsResponse* resp) {
  return Reply(domain_->ListDomains(*req), resp);
}

grpc::Status PseudonymisationService::Pseudonymise(grpc::ServerContext* ctx,
                                                   const v1::PseudonymiseRequest* req,
                                                   v1::PseudonymiseResponse* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  BatchCounts counts;
  absl::Status s = domain_->Pseudonymise(*req, resp, &counts);
  domain_->AuditPseudonymise(*who, req->domain(), req->job(), counts, s, /*stream=*/false);
  return ToGrpcStatus(s);
}

grpc::Status PseudonymisationService::PseudonymiseStream(
    grpc::ServerContext* ctx,
    grpc::ServerReaderWriter<v1::PseudonymiseResponse, v1::PseudonymiseRequest>* stream) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  // One request and one response object for the whole stream: protobuf
  // keeps cleared repeated elements, so steady state allocates nothing per
  // identifier.
  v1::PseudonymiseRequest req;
  v1::PseudonymiseResponse resp;
  BatchCounts total;
  std::string domain;
  std::string job;
  absl::Status status;
  while (stream->Read(&req)) {
    // Later messages may leave domain and job out: they default to the first.
    if (req.domain().empty()) req.set_domain(domain);
    if (domain.empty()) domain = req.domain();
    if (job.empty()) job = req.job();
    if (req.domain() != domain) {
      status = absl::InvalidArgumentError("domain must be the same for every message of a stream");
      break;
    }
    status = domain_->Pseudonymise(req, &resp, &total);
    if (!status.ok()) break;
    if (!stream->Write(resp)) {
      status = absl::CancelledError("client went away");
      break;
    }
  }
  domain_->AuditPseudonymise(*who, domain, job, total, status, /*stream=*/true);
  return ToGrpcStatus(status);
}

grpc::Status PseudonymisationService::DeriveProjectPseudonyms(
    grpc::ServerContext* ctx, const v1::DeriveProjectPseudonymsRequest* req,
    v1::DeriveProjectPseudonymsResponse* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  return Reply(domain_->DeriveProjectPseudonyms(*who, *req), resp);
}

grpc::Status PseudonymisationService::RotateDomainKey(grpc::ServerContext* ctx,
                                                      const v1::RotateDomainKeyRequest* req,
                                                      v1::Domain* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  return Reply(domain_->RotateDomainKey(*who, req->name()), resp);
}

grpc::Status PseudonymisationService::RotateKek(grpc::ServerContext* ctx,
                                                const v1::RotateKekRequest*,
                                                v1::RotateKekResponse* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  if (!new_kek_) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        "no new KEK configured: mount the new secret and restart with --new_kek_file"));
  }
  absl::StatusOr<Kek> kek = new_kek_();
  if (!kek.ok()) return ToGrpcStatus(kek.status());
  return Reply(domain_->RotateKek(*who, std::move(*kek)), resp);
}

grpc::Status PseudonymisationService::CreateReidentificationRequest(
    grpc::ServerContext* ctx, const v1::CreateReidentificationRequestRequest* req,
    v1::ReidentificationRequest* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  return Reply(domain_->CreateReidentificationRequest(*who, *req), resp);
}

grpc::Status PseudonymisationService::ApproveReidentificationRequest(
    grpc::ServerContext* ctx, const v1::ApproveReidentificationRequestRequest* req,
    v1::ReidentificationRequest* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  return Reply(domain_->ApproveReidentificationRequest(*who, *req), resp);
}

grpc::Status PseudonymisationService::CollectReidentification(
    grpc::ServerContext* ctx, const v1::CollectReidentificationRequest* req,
    v1::CollectReidentificationResponse* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  const auto deadline = ctx->deadline();
  const absl::Time not_after = deadline == std::chrono::system_clock::time_point::max()
                                   ? absl::InfiniteFuture()
                                   : absl::FromChrono(deadline);
  return Reply(domain_->CollectReidentification(*who, *req, not_after), resp);
}

grpc::Status PseudonymisationService::ListReidentificationRequests(
    grpc::ServerContext*, const v1::ListReidentificationRequestsRequest* req,
    v1::ListReidentificationRequestsResponse* resp) {
  return Reply(domain_->ListReidentificationRequests(*req), resp);
}

grpc::Status PseudonymisationService::ProcessSubjectRequest(
    grpc::ServerContext* ctx, const v1::ProcessSubjectRequestRequest* req,
    v1::SubjectRequestReport* resp) {
  DATALAB_CALLER_OR_RETURN(who, *ctx);
  return Reply(domain_->ProcessSubjectRequest(*who, *req), resp);
}

#undef DATALAB_CALLER_OR_RETURN

}  // namespace datalab::pseudonymisation
