// Flags and wiring shared by the six service mains (only mains link this:
// libraries never read flags). Every flag may also come from a config file
// with --flagfile=path (one --name=value per line).
#ifndef DATALAB_COMMON_SERVER_MAIN_SUPPORT_H_
#define DATALAB_COMMON_SERVER_MAIN_SUPPORT_H_

#include <string>
#include <vector>

#include "common/audit_client/audit_client.h"
#include "common/auth/authenticator.h"
#include "common/server/server.h"

namespace datalab::server {

// Parses flags (exits with usage on bad flags), names the service in logs,
// and blocks SIGTERM/SIGINT for WaitForShutdownSignal.
std::vector<char*> InitMain(int argc, char** argv, const std::string& service,
                            const std::string& usage);

// ServerOptions from the standard flags:
//   --listen --metrics_listen --port_file --tls_cert --tls_key --tls_ca
//   --require_client_cert --shutdown_grace_seconds
ServerOptions ServerOptionsFromFlags(const std::string& service);

// Client TLS files for calling other lab services (this service's own
// certificate is presented: mTLS).
TlsFiles ClientTlsFromFlags();

// --data_dir: where this service keeps its RocksDB store.
std::string DataDirFromFlags();

// The backend authenticator: gateway identity assertions verified with the
// key in --assertion_public_key (PEM), and lab service certificates.
absl::StatusOr<std::shared_ptr<auth::Authenticator>> BackendAuthenticatorFromFlags();

// The audit client of a service: AuditService at `target` over mTLS with
// this service's certificate, and a durable outbox under
// <--data_dir>/audit-outbox. Exits the process when it cannot be made.
std::shared_ptr<audit_client::AuditClient> AuditClientFromFlags(const std::string& target,
                                                                const std::string& service);

// The DenialSink every service installs: calls the AuthProcessor refuses
// never reach a handler, so each refusal is written here as a DENY event
// (through the outbox: a refusal must not wait for audit).
// `audit` must outlive the server.
auth::AuthProcessor::DenialSink AuditDenials(audit_client::AuditClient* audit,
                                             const std::string& service);

// Runs a started server until a shutdown signal, then stops it.
int ServeUntilSignal(Server& server);

// Exits the process with a one-line error when `s` is not OK.
void ExitIfError(const absl::Status& s, const char* what);

}  // namespace datalab::server

#endif  // DATALAB_COMMON_SERVER_MAIN_SUPPORT_H_
