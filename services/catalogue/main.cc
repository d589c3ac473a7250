// datalab-catalogue: wiring only. Opens the catalogue's RocksDB under
// --data_dir, the audit client (outbox under --data_dir/audit-outbox,
// delivering to --audit_target), builds the domain and the handlers, and
// serves until SIGTERM/SIGINT.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
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

  const std::string data_dir = server::DataDirFromFlags();
  auto audit = server::AuditClientFromFlags(absl::GetFlag(FLAGS_audit_target), "catalogue");

  auto store = catalogue::RocksDbCatalogueStore::Open({data_dir + "/catalogue"});
  server::ExitIfError(store.status(), "catalogue store");
  catalogue::SystemClock clock;
  auto domain = catalogue::Catalogue::Create({store->get(), audit.get(), &clock});
  server::ExitIfError(domain.status(), "catalogue");
  catalogue::CatalogueService handler(domain->get(), *authn);

  auto server = server::Server::Start(server::ServerOptionsFromFlags("catalogue"), {&handler},
                                      *authn, server::AuditDenials(audit.get(), "catalogue"));
  server::ExitIfError(server.status(), "server");
  log::Info("catalogue serving", {{"port", std::to_string((*server)->port())}});
  const int rc = server::ServeUntilSignal(**server);
  return rc;
}
