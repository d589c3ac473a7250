// PseudonymisationStore over the service's own RocksDB (common/storage).
// Column families: "domains" (name -> StoredDomain), "meta" ("kek" ->
// KekState), "vault" (domain '\0' pseudonym -> VaultEntry), "reid"
// (name -> ReidentificationRequest). Key and KEK changes and dual-control
// transitions are fsynced. Thread-safe.
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_ROCKSDB_PSEUDONYMISATION_STORE_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_ROCKSDB_PSEUDONYMISATION_STORE_H_

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/storage/kv_store.h"
#include "services/pseudonymisation/pseudonymisation_store.h"

namespace datalab::pseudonymisation {

class RocksDbPseudonymisationStore : public PseudonymisationStore {
 public:
  struct Options {
    std::string path;  // directory, created if missing
  };
  static absl::StatusOr<std::unique_ptr<RocksDbPseudonymisationStore>> Open(const Options& options);

  absl::Status CreateDomain(const v1::StoredDomain& domain) override;
  absl::Status UpdateDomain(const v1::StoredDomain& domain) override;
  absl::StatusOr<v1::StoredDomain> GetDomain(const std::string& name) const override;
  absl::StatusOr<std::vector<v1::StoredDomain>> ListDomains() const override;
  absl::StatusOr<v1::KekState> GetKekState() const override;
  absl::Status PutKekState(const v1::KekState& state) override;
  absl::Status ReplaceKeysAndKek(const std::vector<v1::StoredDomain>& domains,
                                 const v1::KekState& state) override;
  absl::Status PutVaultEntries(
      const std::string& domain,
      const std::vector<std::pair<std::string, v1::VaultEntry>>& entries) override;
  absl::StatusOr<v1::VaultEntry> GetVaultEntry(const std::string& domain,
                                               const std::string& pseudonym) const override;
  absl::Status PutReidRequest(const v1::ReidentificationRequest& request) override;
  absl::StatusOr<v1::ReidentificationRequest> GetReidRequest(
      const std::string& name) const override;
  absl::StatusOr<std::vector<v1::ReidentificationRequest>> ListReidRequests(
      const std::string& after, int limit) const override;

 private:
  explicit RocksDbPseudonymisationStore(std::unique_ptr<storage::KvStore> kv) : kv_(std::move(kv)) {}
  std::unique_ptr<storage::KvStore> kv_;
  absl::Mutex create_mu_;  // makes CreateDomain's check-then-write atomic
};

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_ROCKSDB_PSEUDONYMISATION_STORE_H_
