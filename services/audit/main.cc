// datalab-audit: the audit service. Flags and wiring only.
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/time/time.h"
#include "common/crypto/ed25519.h"
#include "common/log/log.h"
#include "common/server/main_support.h"
#include "common/server/server.h"
#include "common/server/tls.h"
#include "services/audit/audit_log.h"
#include "services/audit/audit_service.h"
#include "services/audit/rocksdb_audit_store.h"
#include "services/audit/witness.h"

ABSL_FLAG(std::string, signing_key, "",
          "PEM Ed25519 private key that signs tree heads (a mounted secret); required");
ABSL_FLAG(int, sign_interval_seconds, 10, "sign a tree head this often when the log grew");
ABSL_FLAG(int, group_commit_max, 2048, "most events written per fsync");
ABSL_FLAG(bool, rebuild_index, false,
          "drop the search index (time and term records) and rebuild it from the stored "
          "entries before serving: the repair for searches or reports that answer DATA_LOSS "
          "about the index. Entries, hashes, event ids and tree heads are not touched");

int main(int argc, char** argv) {
  using namespace datalab;
  server::InitMain(argc, argv, "audit",
                   "datalab-audit --signing_key=FILE --data_dir=DIR --tls_cert=... (see --help)");
  const std::string key_path = absl::GetFlag(FLAGS_signing_key);
  if (key_path.empty()) {
    server::ExitIfError(absl::InvalidArgumentError("--signing_key is required"), "bad flags");
  }
  auto pem = server::ReadFileToString(key_path);
  server::ExitIfError(pem.status(), "cannot read --signing_key");
  auto key = crypto::Ed25519PrivateKey::FromPem(*pem);
  server::ExitIfError(key.status(), "--signing_key is not an Ed25519 private key");
  if (absl::GetFlag(FLAGS_group_commit_max) < 1 || absl::GetFlag(FLAGS_sign_interval_seconds) < 1) {
    server::ExitIfError(absl::InvalidArgumentError(
                            "--group_commit_max and --sign_interval_seconds must be at least 1"),
                        "bad flags");
  }

  const std::string data_dir = server::DataDirFromFlags();
  auto store = audit::RocksDbAuditStore::Open(data_dir + "/audit-db");
  server::ExitIfError(store.status(), "cannot open the audit store");
  if (absl::GetFlag(FLAGS_rebuild_index)) {
    server::ExitIfError((*store)->ClearIndex(), "cannot clear the search index");
    log::Info("search index cleared; rebuilding it from the stored entries before serving");
  }
  audit::FileTreeHeadWitness witness(data_dir + "/audit-sth-witness");

  audit::AuditLogOptions o;
  o.store = store->get();
  o.signing_key = *key;
  o.witness = &witness;
  o.group_commit_max = static_cast<size_t>(absl::GetFlag(FLAGS_group_commit_max));
  o.sign_interval = absl::Seconds(absl::GetFlag(FLAGS_sign_interval_seconds));
  auto log = audit::AuditLog::Create(std::move(o));
  server::ExitIfError(log.status(), "cannot start the audit log");

  auto authenticator = server::BackendAuthenticatorFromFlags();
  server::ExitIfError(authenticator.status(), "bad authentication flags");
  audit::AuditServiceImpl service(log->get(), *authenticator);

  // Denied calls to the audit service are logged (recording them in the log
  // itself would let an unauthenticated caller grow it).
  auto srv = server::Server::Start(server::ServerOptionsFromFlags("audit"), {&service},
                                   *authenticator, [](const auth::Denial& d) {
                                     log::Warning("audit call denied",
                                                  {{"method", d.method},
                                                   {"code", absl::StatusCodeToString(d.status.code())}});
                                   });
  server::ExitIfError(srv.status(), "cannot start the server");
  log::Info("audit log ready", {{"tree_size", std::to_string((*log)->Committed().size)},
                                {"key_id", (*log)->key_id()}});
  int rc = server::ServeUntilSignal(**srv);
  (*log)->Close();
  return rc;
}
