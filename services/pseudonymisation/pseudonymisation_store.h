// Storage of the pseudonymisation service: domains with their wrapped keys,
// the KEK state, the re-identification vault and re-identification requests.
//
// One interface, two implementations (RocksDbPseudonymisationStore for
// production, MemoryPseudonymisationStore for tests) and one conformance
// suite run against both (pseudonymisation_store_conformance_test.cc).
//
// Contracts:
//   - Only wrapped keys are stored; the store never sees a plain key.
//   - ReplaceKeysAndKek() is all-or-nothing: every domain record and the KEK
//     state are written in one atomic batch (fsynced), so a crash during KEK
//     rotation leaves either every key under the old KEK or every key under
//     the new one, never a mix.
//   - Multi-record writes (PutVaultEntries) are one atomic batch.
//   - Names are AIP resource names: domains/{d}, reidentificationRequests/{r}.
// Errors: NOT_FOUND for a missing record, ALREADY_EXISTS from CreateDomain,
// DATA_LOSS for an unparsable record, UNAVAILABLE for I/O failures.
// Thread safety: every method may be called concurrently. Callers serialise
// read-modify-write sequences themselves (the domain class holds a mutex).
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_STORE_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_STORE_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.pb.h"

namespace datalab::pseudonymisation {

class PseudonymisationStore {
 public:
  virtual ~PseudonymisationStore() = default;

  // ALREADY_EXISTS when a domain of that name exists.
  virtual absl::Status CreateDomain(const v1::StoredDomain& domain) = 0;
  // Overwrites an existing domain (NOT_FOUND if absent).
  virtual absl::Status UpdateDomain(const v1::StoredDomain& domain) = 0;
  virtual absl::StatusOr<v1::StoredDomain> GetDomain(const std::string& name) const = 0;
  // All domains, in name order.
  virtual absl::StatusOr<std::vector<v1::StoredDomain>> ListDomains() const = 0;

  // NOT_FOUND before the first KEK is recorded.
  virtual absl::StatusOr<v1::KekState> GetKekState() const = 0;
  // Records the KEK of an empty store (first start).
  virtual absl::Status PutKekState(const v1::KekState& state) = 0;
  // Atomically replaces the given domains (all must exist) and the KEK state.
  virtual absl::Status ReplaceKeysAndKek(const std::vector<v1::StoredDomain>& domains,
                                         const v1::KekState& state) = 0;

  // Atomically writes vault entries of one domain, keyed by pseudonym.
  virtual absl::Status PutVaultEntries(
      const std::string& domain, const std::vector<std::pair<std::string, v1::VaultEntry>>& entries) = 0;
  virtual absl::StatusOr<v1::VaultEntry> GetVaultEntry(const std::string& domain,
                                                       const std::string& pseudonym) const = 0;

  // Create or overwrite (fsynced: state transitions of dual control).
  virtual absl::Status PutReidRequest(const v1::ReidentificationRequest& request) = 0;
  virtual absl::StatusOr<v1::ReidentificationRequest> GetReidRequest(
      const std::string& name) const = 0;
  // Requests in name order with name > `after`, at most `limit`.
  virtual absl::StatusOr<std::vector<v1::ReidentificationRequest>> ListReidRequests(
      const std::string& after, int limit) const = 0;
};

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_STORE_H_
