// datalab-catalogue: wiring only. Opens the catalogue's RocksDB under
// --data_dir, the audit client (outbox under --data_dir/audit-outbox,
// delivering to --audit_target), builds the domain and the handlers, and
// serves until SIGTERM/SIGINT.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "common/audit_client/grpc_audit_client.h"
#include "common/log/log.h"
#include "common/server/main_support.h"
#include "services/catalogue/catalogue.h"
#include "services/catalogue/catalogue_service.h"
#include "services/catalogue/clock.h"
#include "services/catalogue/rocksdb_catalogue_store.h"

ABSL_FLAG(std::string, audit_target, "",
          "host:port of the audit service (mTLS with this service's certificate)");

int main(int argc, char** argv) {
  using namespace datalab;  // NOLINT: wiring file
  server::InitMain(argc, argv, "catalogue",
                   "datalab-catalogue: datasets, schemas, quality, projects, people and the "
                   "access decision.\nusage: datalab-catalogue --data_dir=DIR --audit_target="
                   "HOST:PORT --tls_cert=... --tls_key=... --tls_ca=... [--listen=...]");
  auto authn = server::BackendAuthenticatorFromFlags();
  server::ExitIfError(authn.status(), "authenticator");

  const std::string audit_target = absl::GetFlag(FLAGS_audit_target);
  if (audit_target.empty()) {
    server::ExitIfError(absl::InvalidArgumentError("--audit_target is required"), "flags");
  }
  const std::string data_dir = server::DataDirFromFlags();
  audit_client::GrpcAuditClientOptions audit_options;
  audit_options.target = audit_target;
  audit_options.tls = server::ClientTlsFromFlags();
  audit_options.outbox_dir = data_dir + "/audit-outbox";
  auto audit = audit_client::GrpcAuditClient::Create(audit_options);
  server::ExitIfError(audit.status(), "audit client");

  auto store = catalogue::RocksDbCatalogueStore::Open({data_dir + "/catalogue"});
  server::ExitIfError(store.status(), "catalogue store");
  catalogue::SystemClock clock;
  auto domain = catalogue::Catalogue::Create({store->get(), audit->get(), &clock});
  server::ExitIfError(domain.status(), "catalogue");
  catalogue::CatalogueService handler(domain->get(), *authn);

  // Calls the AuthProcessor refuses never reach a handler; record them too.
  audit_client::AuditClient* audit_ptr = audit->get();
  auto on_deny = [audit_ptr](const auth::Denial& d) {
    common::v1::AuditEvent e;
    e.set_service("catalogue");
    e.mutable_actor()->set_subject(d.subject);
    e.set_action("catalogue.rpc");
    e.add_resources(d.method);
    e.set_decision(common::v1::DENY);
    e.set_reason(std::string(d.status.message()));
    absl::Status s = audit_ptr->Append(e);
    if (!s.ok()) log::Warning("audit append failed for a denial", {{"error", std::string(s.message())}});
  };
  auto server = server::Server::Start(server::ServerOptionsFromFlags("catalogue"), {&handler},
                                      *authn, on_deny);
  server::ExitIfError(server.status(), "server");
  log::Info("catalogue serving", {{"port", std::to_string((*server)->port())}});
  const int rc = server::ServeUntilSignal(**server);
  (*audit)->Close();
  return rc;
}
