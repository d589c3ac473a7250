// Server bootstrap shared by every datalab service: TLS (optionally mTLS)
// with the shared AuthProcessor, gRPC health checking, server reflection, a
// Prometheus exposer on its own port with per-RPC metrics, and graceful
// shutdown. main() builds ServerOptions from flags and calls Start().
//
//   auto server = Server::Start(options, {&service}, authenticator, on_deny);
//   WaitForShutdownSignal();          // SIGTERM or SIGINT
//   (*server)->Shutdown();
#ifndef DATALAB_COMMON_SERVER_SERVER_H_
#define DATALAB_COMMON_SERVER_SERVER_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <prometheus/exposer.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/auth/auth_processor.h"
#include "common/server/health_service.h"
#include "common/server/tls.h"

namespace datalab::server {

struct ServerOptions {
  std::string service_name;                  // "audit", "gateway", ...
  std::string listen_address = "127.0.0.1:0";
  TlsFiles tls;
  bool require_client_cert = true;           // mTLS (backends); false at the gateway
  std::string metrics_address = "127.0.0.1:0";  // empty: no exposer
  // A plaintext listener serving only grpc.health.v1 (and reflection), for
  // Kubernetes gRPC probes and `datalab health`, which present no client
  // certificate. Empty: none. It never serves a datalab API.
  std::string health_address;
  // When set, {"grpc_port":N,"metrics_port":M} is written here once listening.
  std::string port_file;
  absl::Duration shutdown_grace = absl::Seconds(10);
  int max_receive_message_bytes = 16 << 20;
  int max_send_message_bytes = 64 << 20;
  // Handler threads kept waiting for calls between bursts. gRPC's sync
  // server lets a thread that finished a call exit when this many already
  // wait, and starts a new one when none waits: with the default (2) a
  // service under concurrent load creates and destroys a thread for most
  // calls. Keeping up to this many costs only their idle stacks.
  int idle_handler_threads = 64;
};

// Serves every method no typed service handles, on completion queues and
// threads of its own (the gateway's forwarder). Server calls Register before
// it builds the gRPC server, Start once it listens, and Stop after the gRPC
// server has shut down (its calls finished or cancelled); Stop must return
// only when no call or thread of the handler is left.
class AsyncGenericHandler {
 public:
  virtual ~AsyncGenericHandler() = default;
  virtual void Register(grpc::ServerBuilder& builder) = 0;
  virtual void Start() = 0;
  virtual void Stop() = 0;
};

// Shuts `cq` down and takes every event left on it, as gRPC requires before
// a queue is destroyed. The caller must own nothing those events point to.
void ShutdownAndDrain(grpc::CompletionQueue& cq);

// OK unless GRPC_POLL_STRATEGY (`env`, may be null) makes gRPC use a poller
// other than epoll1. Start refuses such a process: the probe server and a
// hybrid main server's sync handlers rely on the epoll1 poller's one epoll
// set, read by whichever thread polls (server.cc).
absl::Status CheckPollStrategy(const char* env);

class Server {
 public:
  // `services` must outlive the server. `generic` (optional) receives every
  // method no typed service handles, and must outlive the server too.
  static absl::StatusOr<std::unique_ptr<Server>> Start(
      const ServerOptions& options, const std::vector<grpc::Service*>& services,
      std::shared_ptr<auth::Authenticator> authenticator,
      auth::AuthProcessor::DenialSink on_deny = nullptr,
      AsyncGenericHandler* generic = nullptr);

  // Creates the metrics registry before Start so services can register
  // their own metric families; pass it through StartWithRegistry.
  static std::shared_ptr<prometheus::Registry> NewRegistry();
  static absl::StatusOr<std::unique_ptr<Server>> StartWithRegistry(
      const ServerOptions& options, std::shared_ptr<prometheus::Registry> registry,
      const std::vector<grpc::Service*>& services,
      std::shared_ptr<auth::Authenticator> authenticator,
      auth::AuthProcessor::DenialSink on_deny = nullptr,
      AsyncGenericHandler* generic = nullptr);

  ~Server();

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  int health_port() const { return health_port_; }
  prometheus::Registry& registry() { return *registry_; }
  grpc::Server* grpc_server() { return server_.get(); }

  // Marks NOT_SERVING, stops accepting, lets calls finish within the grace
  // period, then cancels the rest. Idempotent.
  void Shutdown();
  void Wait();

 private:
  Server() = default;
  ServerOptions options_;
  // Declared before the gRPC servers, which are destroyed first.
  std::shared_ptr<HealthStatus> health_;
  std::vector<std::unique_ptr<HealthService>> health_services_;  // one per gRPC server
  std::unique_ptr<grpc::ServerCompletionQueue> health_cq_;  // never waited on (server.cc)
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> health_server_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  AsyncGenericHandler* generic_ = nullptr;
  int port_ = 0;
  int metrics_port_ = 0;
  int health_port_ = 0;
  bool shut_down_ = false;
};

// Blocks the calling thread until SIGTERM or SIGINT arrives. Call early in
// main (before starting threads) BlockShutdownSignals() so every thread
// inherits the mask and the signal is delivered to this waiter only.
void BlockShutdownSignals();
int WaitForShutdownSignal();

}  // namespace datalab::server

#endif  // DATALAB_COMMON_SERVER_SERVER_H_
