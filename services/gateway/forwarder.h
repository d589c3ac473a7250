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
// It runs on gRPC's async API: each of `threads` threads polls a completion
// queue of its own, and both halves of a call (the caller's and the
// backend's) complete on the queue the call arrived on, so one thread runs
// all of a call's steps, one after another, and takes those that are already
// complete without sleeping. (gRPC 1.51's callback API handed each step of a
// call to another thread: ~17 context switches per forwarded unary call.)
#ifndef DATALAB_SERVICES_GATEWAY_FORWARDER_H_
#define DATALAB_SERVICES_GATEWAY_FORWARDER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/authenticator.h"
#include "common/auth/identity_assertion.h"
#include "common/server/server.h"
#include "services/gateway/rate_limiter.h"

namespace datalab::gateway {

struct ForwarderOptions {
  // Deadline for calls that arrive without one.
  absl::Duration default_deadline = absl::Minutes(2);
  // Streaming uploads get longer.
  absl::Duration upload_deadline = absl::Hours(2);
  // Threads, each polling its own completion queue (main.cc's
  // --forward_threads says why one is the default).
  int threads = 1;
  // Calls each queue stands ready to take at once; more wait in gRPC.
  int ready_calls_per_thread = 32;
};

class Forwarder : public server::AsyncGenericHandler {
 public:
  // `backends` maps a proto package ("datalab.catalogue.v1") to its channel.
  Forwarder(std::shared_ptr<auth::Authenticator> authenticator,
            std::shared_ptr<const auth::AssertionSigner> signer,
            std::shared_ptr<RateLimiter> limiter,
            std::map<std::string, std::shared_ptr<grpc::Channel>> backends,
            ForwarderOptions options = {});
  ~Forwarder() override;

  // server::AsyncGenericHandler
  void Register(grpc::ServerBuilder& builder) override;
  void Start() override;
  void Stop() override;

  // The package of a method path ("/datalab.query.v1.QueryService/RunQuery"
  // -> "datalab.query.v1"), empty when malformed.
  static std::string PackageOf(const std::string& method);

 private:
  class Call;  // one forwarded call (forwarder.cc)
  // A backend's untyped gRPC client (gRPC's own name for the type).
  using Backend = grpc::GenericStub;

  // What a call needs to be forwarded, or the status to refuse it with.
  struct Admission {
    Backend* backend = nullptr;
    std::unique_ptr<grpc::ClientContext> client_context;
    bool client_streaming = false;
    bool server_streaming = false;
    std::function<void()> on_finish;  // releases a query slot
  };
  absl::StatusOr<Admission> Admit(grpc::GenericServerContext& ctx);
  // Stands ready for one more call on queue `index`.
  void RequestCall(int index);
  void Poll(int index);

  std::shared_ptr<auth::Authenticator> authenticator_;
  std::shared_ptr<const auth::AssertionSigner> signer_;
  std::shared_ptr<RateLimiter> limiter_;
  std::map<std::string, std::unique_ptr<Backend>> backends_;
  ForwarderOptions options_;

  grpc::AsyncGenericService service_;
  std::vector<std::unique_ptr<grpc::ServerCompletionQueue>> queues_;
  std::vector<std::thread> threads_;
  // Call objects alive (including those waiting for a call); Stop waits
  // for none before it shuts the queues down.
  std::atomic<int> live_calls_{0};
  bool stopped_ = false;
};

}  // namespace datalab::gateway

#endif  // DATALAB_SERVICES_GATEWAY_FORWARDER_H_
