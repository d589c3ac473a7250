// Forwards every public RPC of the backends, unchanged, as raw bytes: the
// gateway holds no data and parses no payload. For each call it
//   - takes the caller already authenticated and authorised by the shared
//     AuthProcessor (a JWT; the RPC's declared permission),
//   - applies per-subject rate limits and the concurrent-query cap,
//   - signs a short-lived identity assertion for the backend (Ed25519),
//   - opens the same method on the owning backend over mTLS with the
//     caller's deadline (or a default) and cancellation propagated,
//   - pumps messages both ways (unary, client, server and bidi streaming).
// Service-internal RPCs are never forwarded, even if a role somehow held them.
//
// Thread-safe; one ProxyCall object per call, deleted when both sides finish.
#ifndef DATALAB_SERVICES_GATEWAY_FORWARDER_H_
#define DATALAB_SERVICES_GATEWAY_FORWARDER_H_

#include <map>
#include <memory>
#include <string>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "common/auth/authenticator.h"
#include "common/auth/identity_assertion.h"
#include "services/gateway/rate_limiter.h"

namespace datalab::gateway {

struct ForwarderOptions {
  // Deadline for calls that arrive without one.
  absl::Duration default_deadline = absl::Minutes(2);
  // Streaming uploads get longer.
  absl::Duration upload_deadline = absl::Hours(2);
};

class Forwarder : public grpc::CallbackGenericService {
 public:
  // `backends` maps a proto package ("datalab.catalogue.v1") to its channel.
  Forwarder(std::shared_ptr<auth::Authenticator> authenticator,
            std::shared_ptr<const auth::AssertionSigner> signer,
            std::shared_ptr<RateLimiter> limiter,
            std::map<std::string, std::shared_ptr<grpc::Channel>> backends,
            ForwarderOptions options = {});

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

  // The package of a method path ("/datalab.query.v1.QueryService/RunQuery"
  // -> "datalab.query.v1"), empty when malformed.
  static std::string PackageOf(const std::string& method);

 private:
  std::shared_ptr<auth::Authenticator> authenticator_;
  std::shared_ptr<const auth::AssertionSigner> signer_;
  std::shared_ptr<RateLimiter> limiter_;
  std::map<std::string, std::unique_ptr<grpc::GenericStub>> stubs_;
  ForwarderOptions options_;
};

}  // namespace datalab::gateway

#endif  // DATALAB_SERVICES_GATEWAY_FORWARDER_H_
