#include "common/server/rpc_metrics.h"

#include <chrono>

#include "absl/strings/str_cat.h"

namespace datalab::server {
namespace {

const char* CodeName(int code) {
  static const char* kNames[] = {
      "OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
      "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
      "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE", "UNIMPLEMENTED",
      "INTERNAL", "UNAVAILABLE", "DATA_LOSS", "UNAUTHENTICATED"};
  if (code < 0 || code > 16) return "UNKNOWN";
  return kNames[code];
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  MetricsInterceptor(RpcMetrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      code_ = static_cast<int>(methods->GetSendStatus().error_code());
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_CLOSE)) {
      // fallthrough: recorded in the destructor with the final code
    }
    methods->Proceed();
  }

  ~MetricsInterceptor() override {
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    metrics_->Record(method_, code_, seconds);
  }

 private:
  RpcMetrics* metrics_;
  std::string method_;
  std::chrono::steady_clock::time_point start_;
  int code_ = 1;  // CANCELLED unless a status was sent
};

}  // namespace

RpcMetrics::RpcMetrics(prometheus::Registry& registry, const std::string& service)
    : calls_(prometheus::BuildCounter()
                 .Name(absl::StrCat("datalab_", service, "_rpc_total"))
                 .Help("RPCs handled, by method and status code")
                 .Register(registry)),
      latency_(prometheus::BuildHistogram()
                   .Name(absl::StrCat("datalab_", service, "_rpc_duration_seconds"))
                   .Help("RPC handling time in seconds, by method")
                   .Register(registry)) {}

void RpcMetrics::Record(const std::string& method, int code, double seconds) {
  calls_.Add({{"method", method}, {"code", CodeName(code)}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
      0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
  latency_.Add({{"method", method}}, kBuckets).Observe(seconds);
}

grpc::experimental::Interceptor* RpcMetricsInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return new MetricsInterceptor(metrics_.get(), info->method());
}

}  // namespace datalab::server
