// datalab-ingestion: the ingestion service. Flags and wiring only.
#include <filesystem>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "common/log/log.h"
#include "common/server/main_support.h"
#include "common/server/server.h"
#include "common/server/tls.h"
#include "services/ingestion/clients.h"
#include "services/ingestion/ingestion.h"
#include "services/ingestion/ingestion_service.h"
#include "services/ingestion/ingestion_store.h"

ABSL_FLAG(std::string, audit_target, "", "audit service host:port");
ABSL_FLAG(std::string, catalogue_target, "", "catalogue service host:port");
ABSL_FLAG(std::string, query_target, "", "query service host:port (the analytic store)");
ABSL_FLAG(std::string, pseudonymisation_target, "", "pseudonymisation service host:port");
ABSL_FLAG(int64_t, max_upload_bytes, int64_t{2} << 30, "largest accepted upload, bytes");
ABSL_FLAG(std::string, staging_key_file, "",
          "file holding the 32-byte staging key (base64) that wraps each upload's data key, "
          "mounted from a secret; default <data_dir>/staging.key, generated 0600 at first start");
ABSL_FLAG(int64_t, batch_rows, 65536, "rows per batch sent to the query store (1 to 1048576)");

namespace {

std::shared_ptr<grpc::Channel> ChannelOrDie(const std::string& target, const char* flag) {
  if (target.empty()) {
    datalab::server::ExitIfError(
        absl::InvalidArgumentError(std::string("--") + flag + " is required"), "bad flags");
  }
  auto ch = datalab::server::MakeChannel(target, datalab::server::ClientTlsFromFlags());
  datalab::server::ExitIfError(ch.status(), "cannot create a channel");
  return *ch;
}

}  // namespace

int main(int argc, char** argv) {
  namespace ing = datalab::ingestion;
  datalab::server::InitMain(argc, argv, "ingestion",
                            "datalab-ingestion --data_dir=DIR --catalogue_target=H:P "
                            "--query_target=H:P --pseudonymisation_target=H:P "
                            "--audit_target=H:P --tls_cert=... (see --help)");
  auto authn = datalab::server::BackendAuthenticatorFromFlags();
  datalab::server::ExitIfError(authn.status(), "cannot build the authenticator");
  const std::string data_dir = datalab::server::DataDirFromFlags();
  std::filesystem::create_directories(data_dir);

  auto audit = datalab::server::AuditClientFromFlags(absl::GetFlag(FLAGS_audit_target),
                                                     "ingestion");
  auto catalogue_stub = std::shared_ptr<datalab::catalogue::v1::CatalogueService::StubInterface>(
      datalab::catalogue::v1::CatalogueService::NewStub(
          ChannelOrDie(absl::GetFlag(FLAGS_catalogue_target), "catalogue_target")));
  auto query_stub = std::shared_ptr<datalab::query::v1::QueryService::StubInterface>(
      datalab::query::v1::QueryService::NewStub(
          ChannelOrDie(absl::GetFlag(FLAGS_query_target), "query_target")));
  auto pseudo_stub = std::shared_ptr<
      datalab::pseudonymisation::v1::PseudonymisationService::StubInterface>(
      datalab::pseudonymisation::v1::PseudonymisationService::NewStub(ChannelOrDie(
          absl::GetFlag(FLAGS_pseudonymisation_target), "pseudonymisation_target")));
  ing::GrpcCatalogue catalogue(catalogue_stub);
  ing::GrpcVersionStore versions(query_stub);
  ing::GrpcPseudonymiser pseudonymiser(pseudo_stub);

  std::string key_file = absl::GetFlag(FLAGS_staging_key_file);
  const bool generated_default = key_file.empty();
  if (generated_default) key_file = data_dir + "/staging.key";
  auto key = ing::LoadOrCreateStagingKey(key_file, generated_default);
  datalab::server::ExitIfError(key.status(), "cannot load the staging key");
  if (generated_default) {
    datalab::log::Warning("staging key kept next to the data (set --staging_key_file to a "
                          "mounted secret in production)",
                          {{"file", key_file}});
  }

  auto store = ing::OpenRocksDbIngestionStore(data_dir + "/ingestion");
  datalab::server::ExitIfError(store.status(), "cannot open the store");

  ing::IngestionOptions o;
  o.store = store->get();
  o.catalogue = &catalogue;
  o.pseudonymiser = &pseudonymiser;
  o.versions = &versions;
  o.audit = audit.get();
  o.staging_key = std::move(*key);
  o.max_upload_bytes = absl::GetFlag(FLAGS_max_upload_bytes);
  o.batch_rows = absl::GetFlag(FLAGS_batch_rows);
  auto ingestion = ing::Ingestion::Create(std::move(o));
  datalab::server::ExitIfError(ingestion.status(), "cannot create the ingestion service");
  datalab::server::ExitIfError((*ingestion)->Start(), "cannot start the job worker");

  ing::IngestionServiceImpl handler(ingestion->get(), *authn);

  auto options = datalab::server::ServerOptionsFromFlags("ingestion");
  // Chunks up to 4 MiB plus framing.
  options.max_receive_message_bytes = 16 << 20;
  auto server = datalab::server::Server::Start(
      options, {&handler}, *authn, datalab::server::AuditDenials(audit.get(), "ingestion"));
  datalab::server::ExitIfError(server.status(), "cannot start the server");
  int rc = datalab::server::ServeUntilSignal(**server);
  (*ingestion)->Stop();
  return rc;
}
