// grpc.health.v1.Health for every datalab server, on gRPC's sync API.
//
// It replaces gRPC's default health service, which in gRPC 1.51 is written
// on the callback API. Registering any callback service starts the
// process's callback threads (two on two cores), and they poll the one epoll
// set that every completion queue of the process shares: they take the
// network events of the server's other calls and hand each call on to the
// thread that serves it with a switch. On the gateway that was a quarter of
// its CPU per forwarded call (docs/BENCHMARKS.md, "What moved in stop 22").
//
// HealthStatus is the state one server's listeners share (the TLS port and
// the plaintext probe port each register a HealthService over it). It knows
// one service name, "" (the server as a whole), as the default service did:
// Check answers NOT_FOUND for any other name and Watch streams
// SERVICE_UNKNOWN for it, as the health-checking protocol says.
#ifndef DATALAB_COMMON_SERVER_HEALTH_SERVICE_H_
#define DATALAB_COMMON_SERVER_HEALTH_SERVICE_H_

#include <memory>
#include <optional>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace datalab::server {

class HealthStatus {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Each Watch holds a handler thread for as long as it is open, so the
  // number open at once is bounded; a Watch past it is refused with
  // RESOURCE_EXHAUSTED.
  explicit HealthStatus(int max_watches = 16) : max_watches_(max_watches) {}

  // The server's status (for the service name ""). Starts NOT_SERVING.
  void SetServing(bool serving);
  ServingStatus Status() const;

  // NOT_SERVING for good: open watches send it and end, and SetServing no
  // longer changes it. Called as the server begins to shut down.
  void Shutdown();

  // For HealthService. Takes a watch slot, or false if all are taken.
  bool AcquireWatch();
  void ReleaseWatch();
  // Waits until the status differs from `seen` (when given), the status is
  // final (Shutdown), or `timeout` passes. Returns the current status and
  // whether it is final.
  std::pair<ServingStatus, bool> WaitForChange(std::optional<ServingStatus> seen,
                                               absl::Duration timeout) const;

 private:
  mutable absl::Mutex mu_;
  ServingStatus status_ ABSL_GUARDED_BY(mu_) = grpc::health::v1::HealthCheckResponse::NOT_SERVING;
  bool final_ ABSL_GUARDED_BY(mu_) = false;
  int watches_ ABSL_GUARDED_BY(mu_) = 0;
  const int max_watches_;
};

class HealthService final : public grpc::health::v1::Health::Service {
 public:
  explicit HealthService(std::shared_ptr<HealthStatus> status) : status_(std::move(status)) {}

  grpc::Status Check(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::health::v1::HealthCheckResponse* resp) override;
  // Sends the status now and again on each change, until the caller cancels
  // or the server shuts down.
  grpc::Status Watch(grpc::ServerContext* ctx, const grpc::health::v1::HealthCheckRequest* req,
                     grpc::ServerWriter<grpc::health::v1::HealthCheckResponse>* writer) override;

 private:
  std::shared_ptr<HealthStatus> status_;
};

}  // namespace datalab::server

#endif  // DATALAB_COMMON_SERVER_HEALTH_SERVICE_H_
