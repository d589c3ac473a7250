// datalab-pseudonymisation: wiring only. Reads the KEK from --kek_file (and
// the next one from --new_kek_file when an operator is rotating it), opens
// the service's RocksDB under --data_dir, the audit client (--audit_target),
// a channel to the query service (--query_target, for subject requests),
// builds the domain and the handlers, and serves until SIGTERM/SIGINT.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "common/log/log.h"
#include "common/server/main_support.h"
#include "common/server/tls.h"
#include "services/pseudonymisation/pseudonymisation.h"
#include "services/pseudonymisation/pseudonymisation_service.h"
#include "services/pseudonymisation/rocksdb_pseudonymisation_store.h"

ABSL_FLAG(std::string, audit_target, "",
          "host:port of the audit service (mTLS with this service's certificate)");
ABSL_FLAG(std::string, query_target, "",
          "host:port of the query service, for subject access and erasure requests");
ABSL_FLAG(std::string, kek_file, "",
          "file holding the key-encryption key: base64 text of 32 random bytes (a mounted "
          "secret; never pass key material on the command line)");
ABSL_FLAG(std::string, new_kek_file, "",
          "optional: file holding the NEXT key-encryption key. RotateKek re-wraps every key "
          "under it (read when the RPC runs); at start-up keys under either KEK are accepted");

int main(int argc, char** argv) {
  using namespace datalab;  // NOLINT: wiring file
  server::InitMain(argc, argv, "pseudonymisation",
                   "datalab-pseudonymisation: keyed pseudonyms, key custody and rotation, "
                   "dual-control re-identification, subject requests.\nusage: "
                   "datalab-pseudonymisation --data_dir=DIR --kek_file=FILE [--new_kek_file=FILE] "
                   "--audit_target=HOST:PORT --query_target=HOST:PORT --tls_cert=... "
                   "--tls_key=... --tls_ca=... [--listen=...]");
  auto authn = server::BackendAuthenticatorFromFlags();
  server::ExitIfError(authn.status(), "authenticator");

  const std::string kek_file = absl::GetFlag(FLAGS_kek_file);
  if (kek_file.empty()) {
    server::ExitIfError(absl::InvalidArgumentError("--kek_file is required"), "flags");
  }
  auto kek = pseudonymisation::Kek::FromFile(kek_file);
  server::ExitIfError(kek.status(), "key-encryption key");
  const std::string new_kek_file = absl::GetFlag(FLAGS_new_kek_file);
  std::optional<pseudonymisation::Kek> new_kek;
  if (!new_kek_file.empty()) {
    auto k = pseudonymisation::Kek::FromFile(new_kek_file);
    server::ExitIfError(k.status(), "new key-encryption key");
    new_kek = std::move(*k);
  }

  auto audit = server::AuditClientFromFlags(absl::GetFlag(FLAGS_audit_target), "pseudonymisation");

  std::unique_ptr<query::v1::QueryService::Stub> query;
  const std::string query_target = absl::GetFlag(FLAGS_query_target);
  if (!query_target.empty()) {
    auto ch = server::MakeChannel(query_target, server::ClientTlsFromFlags());
    server::ExitIfError(ch.status(), "query channel");
    query = query::v1::QueryService::NewStub(*ch);
  } else {
    log::Warning("no --query_target: subject requests will fail");
  }

  auto store = pseudonymisation::RocksDbPseudonymisationStore::Open(
      {server::DataDirFromFlags() + "/pseudonymisation"});
  server::ExitIfError(store.status(), "pseudonymisation store");
  pseudonymisation::SystemClock clock;
  pseudonymisation::PseudonymisationOptions options;
  options.store = store->get();
  options.audit = audit.get();
  options.clock = &clock;
  options.query = query.get();
  options.kek = std::move(*kek);
  options.new_kek = std::move(new_kek);
  auto domain = pseudonymisation::Pseudonymisation::Create(std::move(options));
  server::ExitIfError(domain.status(), "pseudonymisation");
  log::Info("keys loaded", {{"kek_id", (*domain)->active_kek_id()}});

  pseudonymisation::PseudonymisationService::NewKekSource new_kek_source;
  if (!new_kek_file.empty()) {
    new_kek_source = [new_kek_file]() { return pseudonymisation::Kek::FromFile(new_kek_file); };
  }
  pseudonymisation::PseudonymisationService handler(domain->get(), *authn, new_kek_source);


  auto server = server::Server::Start(server::ServerOptionsFromFlags("pseudonymisation"),
                                      {&handler}, *authn,
                                      server::AuditDenials(audit.get(), "pseudonymisation"));
  server::ExitIfError(server.status(), "server");
  log::Info("pseudonymisation serving", {{"port", std::to_string((*server)->port())}});
  return server::ServeUntilSignal(**server);
}
