// TLS and mTLS credentials from PEM files (mounted Kubernetes Secrets in
// production, var/pki in a local lab). Key material is read into memory and
// handed to gRPC; it is never logged, and errors name the file, not its content.
#ifndef DATALAB_COMMON_SERVER_TLS_H_
#define DATALAB_COMMON_SERVER_TLS_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"

namespace datalab::server {

struct TlsFiles {
  std::string cert_file;  // PEM certificate chain of this process
  std::string key_file;   // PEM private key
  std::string ca_file;    // PEM CA bundle to verify peers (mTLS)
};

// Reads a whole file; errors name the path only.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// Server credentials. With require_client_cert the peer must present a
// certificate signed by ca_file (mTLS); otherwise client certificates are
// optional but verified when presented.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files, bool require_client_cert);

// Client credentials: verify the server with ca_file; present cert/key when
// given (mTLS between services).
absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files);

struct ChannelOptions {
  // Name to expect in the server's certificate when it differs from the
  // target's host (services are addressed by IP on loopback in a local lab).
  std::string server_name_override;
  int max_message_bytes = 64 << 20;
};

// A channel from one service to another. A peer that goes away is tried
// again after 100 ms, then at growing intervals of at most 5 s (gRPC's
// default grows to 120 s, so after a long outage a channel could go on
// failing calls for minutes after its peer was back). Each attempt keeps
// gRPC's 20 s minimum to connect and shake hands.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const std::string& target, const TlsFiles& files, const ChannelOptions& options = {});

}  // namespace datalab::server

#endif  // DATALAB_COMMON_SERVER_TLS_H_
