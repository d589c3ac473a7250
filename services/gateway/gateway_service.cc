#include "services/gateway/gateway_service.h"

#include <grpcpp/grpcpp.h>

#include "common/auth/auth_processor.h"
#include "common/auth/policy.h"
#include "common/status/grpc_status.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace datalab::gateway {

GatewayService::GatewayService(std::shared_ptr<JwtAuthenticator> authenticator,
                               std::map<std::string, std::shared_ptr<grpc::Channel>> backends,
                               std::string version)
    : authenticator_(std::move(authenticator)), backends_(std::move(backends)),
      version_(std::move(version)) {}

grpc::Status GatewayService::WhoAmI(grpc::ServerContext* ctx, const gateway::v1::WhoAmIRequest*,
                                    gateway::v1::WhoAmIResponse* resp) {
  auto principal = auth::PrincipalFromContext(*authenticator_, *ctx);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  *resp->mutable_principal() = *principal;
  for (auto& p : auth::PermissionsOf(*principal)) resp->add_permissions(p);
  auth::CallInfo call;
  for (const auto& [k, v] : ctx->client_metadata()) {
    call.headers[std::string_view(k.data(), k.size())] = std::string_view(v.data(), v.size());
  }
  auto token = authenticator_->VerifiedTokenOf(call);
  if (token.ok()) resp->set_token_expiry_unix_ms(absl::ToUnixMillis(token->expiry));
  return grpc::Status::OK;
}

grpc::Status GatewayService::GetLabStatus(grpc::ServerContext*, const gateway::v1::GetLabStatusRequest*,
                                          gateway::v1::LabStatus* resp) {
  resp->set_version(version_);
  for (const auto& [name, channel] : backends_) {
    auto stub = grpc::health::v1::Health::NewStub(channel);
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    grpc::health::v1::HealthCheckResponse h;
    grpc::Status s = stub->Check(&c, grpc::health::v1::HealthCheckRequest(), &h);
    auto* b = resp->add_backends();
    b->set_service(name);
    b->set_serving(s.ok() && h.status() == grpc::health::v1::HealthCheckResponse::SERVING);
    b->set_detail(s.ok() ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(h.status())
                         : "unreachable");
  }
  return grpc::Status::OK;
}

}  // namespace datalab::gateway
