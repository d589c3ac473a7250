// gRPC's generated client of a service and its factory, under names that
// say what they are: gRPC's own names for the two appear here once, and new
// code names them through this header.
#ifndef DATALAB_COMMON_SERVER_CLIENT_H_
#define DATALAB_COMMON_SERVER_CLIENT_H_

#include <memory>

#include <grpcpp/grpcpp.h>

namespace datalab::server {

template <typename Service>
using ClientOf = typename Service::Stub;

template <typename Service>
std::unique_ptr<ClientOf<Service>> NewClient(const std::shared_ptr<grpc::ChannelInterface>& channel) {
  return Service::NewStub(channel);
}

}  // namespace datalab::server

#endif  // DATALAB_COMMON_SERVER_CLIENT_H_
