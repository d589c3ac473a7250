#include "common/server/health_service.h"

namespace datalab::server {

namespace {

using grpc::health::v1::HealthCheckResponse;

// How often an idle Watch looks whether its caller has gone.
constexpr absl::Duration kCancelPoll = absl::Seconds(1);

}  // namespace

void HealthStatus::SetServing(bool serving) {
  absl::MutexLock lock(&mu_);
  if (final_) return;
  status_ = serving ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

HealthStatus::ServingStatus HealthStatus::Status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

void HealthStatus::Shutdown() {
  absl::MutexLock lock(&mu_);
  status_ = HealthCheckResponse::NOT_SERVING;
  final_ = true;
}

bool HealthStatus::AcquireWatch() {
  absl::MutexLock lock(&mu_);
  if (watches_ >= max_watches_) return false;
  ++watches_;
  return true;
}

void HealthStatus::ReleaseWatch() {
  absl::MutexLock lock(&mu_);
  --watches_;
}

std::pair<HealthStatus::ServingStatus, bool> HealthStatus::WaitForChange(
    std::optional<ServingStatus> seen, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto changed = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return final_ || (seen.has_value() && status_ != *seen);
  };
  mu_.AwaitWithTimeout(absl::Condition(&changed), timeout);
  return {status_, final_};
}

grpc::Status HealthService::Check(grpc::ServerContext*,
                                  const grpc::health::v1::HealthCheckRequest* req,
                                  HealthCheckResponse* resp) {
  if (!req->service().empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        "unknown service name: this server reports only its overall health "
                        "(ask with an empty service name)");
  }
  resp->set_status(status_->Status());
  return grpc::Status::OK;
}

grpc::Status HealthService::Watch(grpc::ServerContext* ctx,
                                  const grpc::health::v1::HealthCheckRequest* req,
                                  grpc::ServerWriter<HealthCheckResponse>* writer) {
  if (!status_->AcquireWatch()) {
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "too many open health watches on this server; use Check, or retry later");
  }
  struct Release {
    HealthStatus* s;
    ~Release() { s->ReleaseWatch(); }
  } release{status_.get()};

  const bool known = req->service().empty();
  HealthCheckResponse resp;
  // An unknown name stays unknown: it is sent once and the call held open,
  // as the protocol asks, until the caller or the server ends it.
  HealthStatus::ServingStatus sent =
      known ? status_->Status() : HealthCheckResponse::SERVICE_UNKNOWN;
  resp.set_status(sent);
  if (!writer->Write(resp)) return grpc::Status::OK;  // the caller has gone
  while (!ctx->IsCancelled()) {
    auto [now, final] = status_->WaitForChange(
        known ? std::optional<HealthStatus::ServingStatus>(sent) : std::nullopt, kCancelPoll);
    if (known && now != sent) {
      sent = now;
      resp.set_status(sent);
      if (!writer->Write(resp)) return grpc::Status::OK;
    }
    if (final) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
    }
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "the watch was cancelled");
}

}  // namespace datalab::server
