#include "common/server/tls.h"

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace datalab::server {

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read file ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::UnavailableError(absl::StrCat("error reading file ", path));
  return ss.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsFiles& files, bool require_client_cert) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return absl::InvalidArgumentError("a TLS certificate and key are required (--tls_cert, --tls_key)");
  }
  auto cert = ReadFileToString(files.cert_file);
  if (!cert.ok()) return cert.status();
  auto key = ReadFileToString(files.key_file);
  if (!key.ok()) return key.status();
  grpc::SslServerCredentialsOptions opts(
      require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                          : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  if (!files.ca_file.empty()) {
    auto ca = ReadFileToString(files.ca_file);
    if (!ca.ok()) return ca.status();
    opts.pem_root_certs = *ca;
  } else if (require_client_cert) {
    return absl::InvalidArgumentError("mTLS needs a CA bundle to verify clients (--tls_ca)");
  } else {
    opts.client_certificate_request = GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE;
  }
  opts.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsFiles& files) {
  grpc::SslCredentialsOptions opts;
  if (!files.ca_file.empty()) {
    auto ca = ReadFileToString(files.ca_file);
    if (!ca.ok()) return ca.status();
    opts.pem_root_certs = *ca;
  }
  if (!files.cert_file.empty() || !files.key_file.empty()) {
    auto cert = ReadFileToString(files.cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadFileToString(files.key_file);
    if (!key.ok()) return key.status();
    opts.pem_cert_chain = *cert;
    opts.pem_private_key = *key;
  }
  return grpc::SslCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const TlsFiles& files,
                                                           const ChannelOptions& options) {
  auto creds = MakeChannelCredentials(files);
  if (!creds.ok()) return creds.status();
  grpc::ChannelArguments args;
  if (!options.server_name_override.empty()) {
    args.SetSslTargetNameOverride(options.server_name_override);
  }
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 5000);
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: despite its name it is the
  // shortest time an attempt gets to connect and complete the TLS handshake,
  // and at 100 ms a loaded machine fails attempts that would have succeeded.
  return grpc::CreateCustomChannel(target, *creds, args);
}

}  // namespace datalab::server
