// The gateway's own small API: who am I, and is the lab up.
#ifndef DATALAB_SERVICES_GATEWAY_GATEWAY_SERVICE_H_
#define DATALAB_SERVICES_GATEWAY_GATEWAY_SERVICE_H_

#include <map>
#include <memory>
#include <string>

#include "datalab/gateway/v1/gateway.grpc.pb.h"
#include "services/gateway/jwt_authenticator.h"

namespace datalab::gateway {

class GatewayService final : public gateway::v1::GatewayService::Service {
 public:
  // `backends`: service name ("catalogue") -> channel, for health checks.
  GatewayService(std::shared_ptr<JwtAuthenticator> authenticator,
                 std::map<std::string, std::shared_ptr<grpc::Channel>> backends,
                 std::string version);

  grpc::Status WhoAmI(grpc::ServerContext* ctx, const gateway::v1::WhoAmIRequest* req,
                      gateway::v1::WhoAmIResponse* resp) override;
  grpc::Status GetLabStatus(grpc::ServerContext* ctx, const gateway::v1::GetLabStatusRequest* req,
                            gateway::v1::LabStatus* resp) override;

 private:
  std::shared_ptr<JwtAuthenticator> authenticator_;
  std::map<std::string, std::shared_ptr<grpc::Channel>> backends_;
  std::string version_;
};

}  // namespace datalab::gateway

#endif  // DATALAB_SERVICES_GATEWAY_GATEWAY_SERVICE_H_
