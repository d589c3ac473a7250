// datalab-query: wiring only. Opens the analytic store (RocksDB under
// --data_dir/query), the audit client, the catalogue channel (for the
// access decision) and the release signing key, builds the domain and the
// handlers, and serves until SIGTERM/SIGINT.
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "common/crypto/encoding.h"
#include "common/crypto/sha256.h"
#include "common/log/log.h"
#include "common/server/main_support.h"
#include "services/query/kv_query_store.h"
#include "services/query/query_runner.h"
#include "services/query/query_service.h"

ABSL_FLAG(std::string, audit_target, "", "host:port of the audit service");
ABSL_FLAG(std::string, catalogue_target, "", "host:port of the catalogue (access decisions)");
ABSL_FLAG(std::string, release_signing_key, "", "Ed25519 private key (PKCS#8 PEM) signing release records");
ABSL_FLAG(int64_t, max_cached_bytes, int64_t{4} << 30, "bytes of decoded dataset versions kept in memory");
ABSL_FLAG(int, threads, 2, "engine worker threads per query");

int main(int argc, char** argv) {
  using namespace datalab;  // NOLINT: wiring file
  server::InitMain(argc, argv, "query",
                   "datalab-query: the analytic store, aggregate queries, disclosure control and "
                   "releases.\nusage: datalab-query --data_dir=DIR --audit_target=HOST:PORT "
                   "--catalogue_target=HOST:PORT --release_signing_key=FILE --tls_cert=... "
                   "--tls_key=... --tls_ca=...");
  auto authn = server::BackendAuthenticatorFromFlags();
  server::ExitIfError(authn.status(), "authenticator");
  const std::string audit_target = absl::GetFlag(FLAGS_audit_target);
  const std::string catalogue_target = absl::GetFlag(FLAGS_catalogue_target);
  const std::string key_file = absl::GetFlag(FLAGS_release_signing_key);
  if (audit_target.empty() || catalogue_target.empty() || key_file.empty()) {
    server::ExitIfError(absl::InvalidArgumentError(
                            "--audit_target, --catalogue_target and --release_signing_key are required"),
                        "flags");
  }
  std::ifstream in(key_file);
  std::stringstream pem;
  pem << in.rdbuf();
  auto key = crypto::Ed25519PrivateKey::FromPem(pem.str());
  server::ExitIfError(key.status(), "release signing key");
  auto pub = key->PublicKey();
  server::ExitIfError(pub.status(), "release signing key");
  const std::string key_id =
      "ed25519:" + crypto::HexEncode(crypto::Sha256(crypto::ByteView(pub->Raw()))).substr(0, 16);

  auto audit = server::AuditClientFromFlags(audit_target, "query");
  const std::string data_dir = server::DataDirFromFlags();
  auto backend = query::OpenRocksDbBackend(data_dir + "/query");
  server::ExitIfError(backend.status(), "query store");
  query::KvQueryStore::Options so;
  so.backend = std::shared_ptr<query::StoreBackend>(std::move(*backend));
  so.max_cached_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_cached_bytes));
  auto store = query::KvQueryStore::Open(so);
  server::ExitIfError(store.status(), "query store");

  auto channel = server::MakeChannel(catalogue_target, server::ClientTlsFromFlags());
  server::ExitIfError(channel.status(), "catalogue channel");
  query::QueryRunner::Options ro;
  ro.store = store->get();
  ro.catalogue = catalogue::v1::CatalogueService::NewStub(*channel);
  ro.audit = audit.get();
  ro.signing_key = &*key;
  ro.signing_key_id = key_id;
  ro.threads = absl::GetFlag(FLAGS_threads);
  auto runner = query::QueryRunner::Create(ro);
  server::ExitIfError(runner.status(), "query runner");
  query::QueryServiceImpl handler(runner->get(), store->get(), *authn);


  auto server = server::Server::Start(server::ServerOptionsFromFlags("query"), {&handler}, *authn,
                                      server::AuditDenials(audit.get(), "query"));
  server::ExitIfError(server.status(), "server");
  log::Info("query serving", {{"port", std::to_string((*server)->port())}});
  return server::ServeUntilSignal(**server);
}
