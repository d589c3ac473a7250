// In-memory PseudonymisationStore for tests (see pseudonymisation_store.h).
// Thread-safe (one mutex).
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_MEMORY_PSEUDONYMISATION_STORE_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_MEMORY_PSEUDONYMISATION_STORE_H_

#include <map>
#include <optional>
#include <string>

#include "absl/synchronization/mutex.h"
#include "services/pseudonymisation/pseudonymisation_store.h"

namespace datalab::pseudonymisation {

class MemoryPseudonymisationStore : public PseudonymisationStore {
 public:
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
  mutable absl::Mutex mu_;
  std::map<std::string, v1::StoredDomain> domains_ ABSL_GUARDED_BY(mu_);
  std::optional<v1::KekState> kek_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::VaultEntry> vault_ ABSL_GUARDED_BY(mu_);  // domain + '\0' + pseudonym
  std::map<std::string, v1::ReidentificationRequest> reid_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_MEMORY_PSEUDONYMISATION_STORE_H_
