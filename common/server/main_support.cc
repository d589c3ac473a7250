#include "common/server/main_support.h"

#include <cstdlib>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/audit_client/grpc_audit_client.h"
#include "common/auth/identity_assertion.h"
#include "common/log/log.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0", "gRPC listen address host:port (port 0 picks one)");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:0",
          "Prometheus metrics listen address host:port; empty disables");
ABSL_FLAG(std::string, health_listen, "",
          "plaintext listen address serving only gRPC health checks (probes); empty disables");
ABSL_FLAG(std::string, port_file, "", "write the chosen ports as JSON to this file");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate of this service");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of this service (mounted secret)");
ABSL_FLAG(std::string, tls_ca, "", "PEM CA bundle used to verify peers");
ABSL_FLAG(bool, require_client_cert, true, "require mTLS client certificates");
ABSL_FLAG(int, shutdown_grace_seconds, 10, "time in-flight calls get to finish on shutdown");
ABSL_FLAG(std::string, data_dir, "var/data", "directory of this service's RocksDB store");
ABSL_FLAG(std::string, assertion_public_key, "",
          "PEM Ed25519 public key of the gateway, to verify forwarded identities");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");

namespace datalab::server {

std::vector<char*> InitMain(int argc, char** argv, const std::string& service,
                            const std::string& usage) {
  // Debian's Abseil is built without NDEBUG, so absl::Mutex records every
  // lock in a process-wide deadlock graph under one global lock: a
  // serialisation point that cost the gateway most of its throughput. Lock
  // order is still checked in the tests, which do not call InitMain.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::SetProgramUsageMessage(usage);
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  log::SetServiceName(service);
  std::string level = absl::GetFlag(FLAGS_log_level);
  if (level == "debug") log::SetMinLevel(log::Level::kDebug);
  else if (level == "warning") log::SetMinLevel(log::Level::kWarning);
  else if (level == "error") log::SetMinLevel(log::Level::kError);
  BlockShutdownSignals();
  return rest;
}

ServerOptions ServerOptionsFromFlags(const std::string& service) {
  ServerOptions o;
  o.service_name = service;
  o.listen_address = absl::GetFlag(FLAGS_listen);
  o.metrics_address = absl::GetFlag(FLAGS_metrics_listen);
  o.port_file = absl::GetFlag(FLAGS_port_file);
  o.health_address = absl::GetFlag(FLAGS_health_listen);
  o.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  o.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  o.tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
  o.require_client_cert = absl::GetFlag(FLAGS_require_client_cert);
  o.shutdown_grace = absl::Seconds(absl::GetFlag(FLAGS_shutdown_grace_seconds));
  return o;
}

TlsFiles ClientTlsFromFlags() {
  TlsFiles t;
  t.cert_file = absl::GetFlag(FLAGS_tls_cert);
  t.key_file = absl::GetFlag(FLAGS_tls_key);
  t.ca_file = absl::GetFlag(FLAGS_tls_ca);
  return t;
}

std::string DataDirFromFlags() { return absl::GetFlag(FLAGS_data_dir); }

absl::StatusOr<std::shared_ptr<auth::Authenticator>> BackendAuthenticatorFromFlags() {
  std::string path = absl::GetFlag(FLAGS_assertion_public_key);
  if (path.empty()) {
    return absl::InvalidArgumentError("--assertion_public_key (the gateway's public key) is required");
  }
  auto pem = ReadFileToString(path);
  if (!pem.ok()) return pem.status();
  auto key = crypto::Ed25519PublicKey::FromPem(*pem);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--assertion_public_key ", path,
                                                   ": not an Ed25519 public key"));
  }
  auto verifier = std::make_shared<auth::AssertionVerifier>(*key);
  return std::shared_ptr<auth::Authenticator>(
      std::make_shared<auth::ServiceAuthenticator>(std::move(verifier)));
}

std::shared_ptr<audit_client::AuditClient> AuditClientFromFlags(const std::string& target,
                                                                const std::string& service) {
  if (target.empty()) {
    ExitIfError(absl::InvalidArgumentError("--audit_target is required: every decision is audited"),
                "bad flags");
  }
  audit_client::GrpcAuditClientOptions o;
  o.target = target;
  o.tls = ClientTlsFromFlags();
  o.outbox_dir = DataDirFromFlags() + "/audit-outbox";
  auto client = audit_client::GrpcAuditClient::Create(o);
  ExitIfError(client.status(), "cannot create the audit client");
  log::Info("audit client ready", {{"target", target}, {"service", service}});
  return std::shared_ptr<audit_client::AuditClient>(std::move(*client));
}

auth::AuthProcessor::DenialSink AuditDenials(audit_client::AuditClient* audit,
                                             const std::string& service) {
  return [audit, service](const auth::Denial& d) {
    common::v1::AuditEvent e;
    e.set_event_id(audit_client::NewEventId());
    e.set_service(service);
    e.mutable_actor()->set_subject(d.subject);
    e.set_action(absl::StrCat(service, ".rpc"));
    e.add_resources(d.method);
    e.set_decision(common::v1::DENY);
    e.set_reason(std::string(d.status.message()));
    absl::Status s = audit->Append(e);
    if (!s.ok()) {
      log::Warning("audit append failed for a denial", {{"error", std::string(s.message())}});
    }
  };
}

int ServeUntilSignal(Server& server) {
  WaitForShutdownSignal();
  server.Shutdown();
  return 0;
}

void ExitIfError(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  log::Error(what, {{"error", std::string(s.message())},
                    {"code", absl::StatusCodeToString(s.code())}});
  std::exit(1);
}

}  // namespace datalab::server
