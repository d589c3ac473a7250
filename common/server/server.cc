#include "common/server/server.h"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include <grpcpp/ext/proto_server_reflection_plugin.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/log/log.h"
#include "common/server/health_service.h"
#include "common/server/rpc_metrics.h"
#include "common/status/status_macros.h"

namespace datalab::server {
namespace {

// gRPC sets SO_REUSEPORT by default, so a second process on a port in use
// would start and silently take a share of its calls (a second audit service
// would split the log). The port is refused instead ("cannot listen on").
void RefuseSharedPorts(grpc::ServerBuilder& builder) {
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
}

}  // namespace

void ShutdownAndDrain(grpc::CompletionQueue& cq) {
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) {
  }
}

absl::Status CheckPollStrategy(const char* env) {
  if (env == nullptr || *env == '\0') return absl::OkStatus();
  std::string_view first = env;
  first = first.substr(0, first.find(','));  // gRPC takes the first that works
  if (first == "epoll1" || first == "all") return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "GRPC_POLL_STRATEGY=", env,
      " is not supported: the health port and the gateway's own API are read by the threads "
      "that poll for the main server, which needs gRPC's epoll1 poller; unset "
      "GRPC_POLL_STRATEGY or set it to epoll1"));
}

std::shared_ptr<prometheus::Registry> Server::NewRegistry() {
  return std::make_shared<prometheus::Registry>();
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerOptions& options, const std::vector<grpc::Service*>& services,
    std::shared_ptr<auth::Authenticator> authenticator,
    auth::AuthProcessor::DenialSink on_deny, AsyncGenericHandler* generic) {
  return StartWithRegistry(options, NewRegistry(), services, std::move(authenticator),
                           std::move(on_deny), generic);
}

absl::StatusOr<std::unique_ptr<Server>> Server::StartWithRegistry(
    const ServerOptions& options, std::shared_ptr<prometheus::Registry> registry,
    const std::vector<grpc::Service*>& services,
    std::shared_ptr<auth::Authenticator> authenticator,
    auth::AuthProcessor::DenialSink on_deny, AsyncGenericHandler* generic) {
  if (options.service_name.empty()) return absl::InvalidArgumentError("service name is empty");
  RETURN_IF_ERROR(CheckPollStrategy(std::getenv("GRPC_POLL_STRATEGY")));
  if (authenticator == nullptr) return absl::InvalidArgumentError("an authenticator is required");
  auto creds = MakeServerCredentials(options.tls, options.require_client_cert);
  if (!creds.ok()) return creds.status();
  (*creds)->SetAuthMetadataProcessor(
      std::make_shared<auth::AuthProcessor>(std::move(authenticator), std::move(on_deny)));

  std::unique_ptr<Server> s(new Server());
  s->options_ = options;
  s->registry_ = std::move(registry);

  // Our own health service, on the sync API: gRPC's default one would start
  // the callback threads (see health_service.h).
  grpc::EnableDefaultHealthCheckService(false);
  s->health_ = std::make_shared<HealthStatus>();
  s->health_services_.push_back(std::make_unique<HealthService>(s->health_));
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, *creds, &s->port_);
  RefuseSharedPorts(builder);
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.SetMaxSendMessageSize(options.max_send_message_bytes);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS,
                              std::max(2, options.idle_handler_threads));
  builder.RegisterService(s->health_services_.back().get());
  for (grpc::Service* svc : services) builder.RegisterService(svc);
  if (generic != nullptr) generic->Register(builder);

  auto metrics = std::make_shared<RpcMetrics>(*s->registry_, options.service_name);
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<RpcMetricsInterceptorFactory>(metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));

  s->server_ = builder.BuildAndStart();
  if (s->server_ == nullptr || s->port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address));
  }
  if (generic != nullptr) {
    generic->Start();
    s->generic_ = generic;  // stopped by Shutdown, on every way out from here
  }

  if (!options.health_address.empty()) {
    grpc::ServerBuilder hb;
    hb.AddListeningPort(options.health_address, grpc::InsecureServerCredentials(),
                        &s->health_port_);
    RefuseSharedPorts(hb);
    s->health_services_.push_back(std::make_unique<HealthService>(s->health_));
    hb.RegisterService(s->health_services_.back().get());
    // A completion queue that is never waited on makes this a "hybrid"
    // server to gRPC, whose sync handler threads then wait without polling:
    // the probe port's few bytes are read by the threads that poll for the
    // main server (gRPC's epoll poller has one epoll set for every socket of
    // the process). Otherwise the probe server's idle thread takes its turn
    // at polling, reads the main server's calls and hands each on to the
    // thread that serves it: four thread switches per call at the gateway
    // instead of two.
    s->health_cq_ = hb.AddCompletionQueue();
    s->health_server_ = hb.BuildAndStart();
    if (s->health_server_ == nullptr || s->health_port_ == 0) {
      s->server_->Shutdown();
      return absl::UnavailableError(
          absl::StrCat("cannot listen for health checks on ", options.health_address));
    }
  }

  if (!options.metrics_address.empty()) {
    try {
      // prometheus-cpp (civetweb) reports bind failures by exception; keep
      // it inside this function.
      s->exposer_ = std::make_unique<prometheus::Exposer>(options.metrics_address, 2);
      s->exposer_->RegisterCollectable(s->registry_);
      auto ports = s->exposer_->GetListeningPorts();
      if (!ports.empty()) s->metrics_port_ = ports.front();
    } catch (const std::exception& e) {
      s->server_->Shutdown();
      return absl::UnavailableError(
          absl::StrCat("cannot listen for metrics on ", options.metrics_address));
    }
  }

  if (!options.port_file.empty()) {
    std::string tmp = options.port_file + ".tmp";
    {
      std::ofstream out(tmp, std::ios::trunc);
      out << "{\"grpc_port\":" << s->port_ << ",\"metrics_port\":" << s->metrics_port_
          << ",\"health_port\":" << s->health_port_ << "}\n";
      if (!out) return absl::UnavailableError(absl::StrCat("cannot write ", tmp));
    }
    if (std::rename(tmp.c_str(), options.port_file.c_str()) != 0) {
      return absl::UnavailableError(absl::StrCat("cannot write ", options.port_file));
    }
  }
  s->health_->SetServing(true);
  log::Info("listening", {{"port", std::to_string(s->port_)},
                          {"metrics_port", std::to_string(s->metrics_port_)},
                          {"mtls", options.require_client_cert ? "required" : "optional"}});
  return s;
}

Server::~Server() { Shutdown(); }

void Server::Shutdown() {
  if (shut_down_ || server_ == nullptr) return;
  shut_down_ = true;
  health_->Shutdown();  // NOT_SERVING, and open watches end
  if (health_server_) {
    // Checks and the watches' last message take milliseconds.
    health_server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }
  if (health_cq_) ShutdownAndDrain(*health_cq_);
  server_->Shutdown(std::chrono::system_clock::now() +
                    absl::ToChronoMilliseconds(options_.shutdown_grace));
  if (generic_ != nullptr) generic_->Stop();
  exposer_.reset();
  log::Info("stopped");
}

void Server::Wait() {
  if (server_) server_->Wait();
}

void BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int sig = 0;
  sigwait(&set, &sig);
  log::Info("shutdown signal", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  return sig;
}

}  // namespace datalab::server
