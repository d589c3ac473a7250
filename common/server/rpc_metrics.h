// Standard per-RPC metrics for every server, as a gRPC server interceptor:
//   datalab_<svc>_rpc_total{method,code}          counter
//   datalab_<svc>_rpc_duration_seconds{method}    histogram
// Labels are the method name (a bounded set) and the status code: never a
// user, pupil or pseudonym.
#ifndef DATALAB_COMMON_SERVER_RPC_METRICS_H_
#define DATALAB_COMMON_SERVER_RPC_METRICS_H_

#include <memory>
#include <string>

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace datalab::server {

class RpcMetrics {
 public:
  RpcMetrics(prometheus::Registry& registry, const std::string& service);
  void Record(const std::string& method, int code, double seconds);

 private:
  prometheus::Family<prometheus::Counter>& calls_;
  prometheus::Family<prometheus::Histogram>& latency_;
};

class RpcMetricsInterceptorFactory
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(std::shared_ptr<RpcMetrics> metrics)
      : metrics_(std::move(metrics)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  std::shared_ptr<RpcMetrics> metrics_;
};

}  // namespace datalab::server

#endif  // DATALAB_COMMON_SERVER_RPC_METRICS_H_
