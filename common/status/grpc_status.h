// Conversion between absl::Status and grpc::Status. The codes are the same
// numbers by design, so the conversion is a cast; messages pass unchanged
// (callers must never put pupil data, identifiers or keys in a message).
#ifndef DATALAB_COMMON_STATUS_GRPC_STATUS_H_
#define DATALAB_COMMON_STATUS_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace datalab {

inline grpc::Status ToGrpcStatus(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()),
                      std::string(s.message()));
}

inline absl::Status FromGrpcStatus(const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      s.error_message());
}

}  // namespace datalab

#endif  // DATALAB_COMMON_STATUS_GRPC_STATUS_H_
