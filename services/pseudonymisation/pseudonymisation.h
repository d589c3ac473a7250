// The pseudonymisation domain: identifier domains and their keys, the
// pseudonym hot path, key rotation, KEK rotation, dual-control
// re-identification and subject requests. No gRPC server code here (the
// handlers in pseudonymisation_service.h are thin); the query service is
// reached through its generated StubInterface so tests can put a fake behind it.
//
// Keys (see README.md for the reasoning):
//   linkage key L   32 random bytes per domain, never rotates, the HMAC key
//                   of every pseudonym: linkage survives any rotation.
//   domain key K_v  32 random bytes per key version v (RotateDomainKey adds
//                   one); derives the vault key of entries sealed under v and
//                   the per-project pseudonym keys of version v.
// Every key is stored only wrapped under the KEK (key_custody.h); plain keys
// live in SecureBytes or inside OpenSSL contexts and never leave the process.
//
// Authorisation by permission happens before handlers run (AuthProcessor);
// the rules that depend on WHO is calling (nobody approves their own
// re-identification request, only the requester collects) are enforced here.
// Every decision and change is an audit event; events carry resource names,
// counts and reasons, never identifiers, pseudonyms of subjects or keys.
//
// Thread safety: all methods are thread-safe. The hot path (Pseudonymise)
// takes a reader lock only to pick up the domain's immutable state.
#ifndef DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_H_
#define DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/audit_client/audit_client.h"
#include "common/crypto/bytes.h"
#include "datalab/common/v1/identity.pb.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.pb.h"
#include "datalab/query/v1/query.grpc.pb.h"
#include "services/pseudonymisation/clock.h"
#include "services/pseudonymisation/key_custody.h"
#include "services/pseudonymisation/pseudonymisation_store.h"
#include "services/pseudonymisation/pseudonymiser.h"

namespace datalab::pseudonymisation {

inline constexpr int kMaxBatchItems = 1'000'000;
inline constexpr absl::Duration kReidRequestLifetime = absl::Hours(24 * 7);

struct PseudonymisationOptions {
  PseudonymisationStore* store = nullptr;        // required, not owned
  audit_client::AuditClient* audit = nullptr;    // required, not owned
  const Clock* clock = nullptr;                  // required, not owned
  // The query service, for subject requests; may be null (those then fail
  // with FAILED_PRECONDITION). Not owned.
  query::v1::QueryService::StubInterface* query = nullptr;
  absl::Duration query_deadline = absl::Seconds(60);
  // The KEK of --kek_file, and optionally the one of --new_kek_file. At
  // start-up the store's keys may be wrapped under either (a KEK rotation
  // may have completed before the operator swapped the secrets).
  std::optional<Kek> kek;
  std::optional<Kek> new_kek;
  // Tests only: called at named steps of KEK rotation
  // ("kek_rotation:rewrapped" before the atomic write, "kek_rotation:written"
  // after it) so a test can kill the process there.
  std::function<void(std::string_view step)> crash_hook;
};

// What one batch did, for audit and metrics.
struct BatchCounts {
  int64_t valid = 0;
  int64_t invalid = 0;
  int64_t temporary = 0;
  int64_t vaulted = 0;
  BatchCounts& operator+=(const BatchCounts& o) {
    valid += o.valid;
    invalid += o.invalid;
    temporary += o.temporary;
    vaulted += o.vaulted;
    return *this;
  }
};

class Pseudonymisation {
 public:
  // Loads every domain and unwraps its keys. FAILED_PRECONDITION when the
  // stored keys are wrapped under a KEK that was not given; DATA_LOSS when a
  // wrapped key does not authenticate.
  static absl::StatusOr<std::unique_ptr<Pseudonymisation>> Create(PseudonymisationOptions options);

  using Principal = common::v1::Principal;

  // ---- Domains (admin) ----
  absl::StatusOr<v1::Domain> CreateDomain(const Principal& who, const v1::CreateDomainRequest& req);
  absl::StatusOr<v1::Domain> GetDomain(const std::string& name) const;
  absl::StatusOr<v1::ListDomainsResponse> ListDomains(const v1::ListDomainsRequest& req) const;

  // ---- Pseudonyms (ingestion) ----
  // Fills `resp` (cleared first; its allocated elements are reused, so a
  // stream handler that keeps one response object allocates nothing per
  // item after the first message). Invalid identifiers get a per-item
  // error; with req.vault() the valid ones are sealed into the vault of a
  // reversible domain (one atomic write per batch). Not audited here: the
  // caller audits once per call or stream with AuditPseudonymise().
  absl::Status Pseudonymise(const v1::PseudonymiseRequest& req, v1::PseudonymiseResponse* resp,
                            BatchCounts* counts) const;
  void AuditPseudonymise(const Principal& who, const std::string& domain, const std::string& job,
                         const BatchCounts& counts, const absl::Status& status,
                         bool stream) const;

  absl::StatusOr<v1::DeriveProjectPseudonymsResponse> DeriveProjectPseudonyms(
      const Principal& who, const v1::DeriveProjectPseudonymsRequest& req) const;

  // ---- Keys ----
  absl::StatusOr<v1::Domain> RotateDomainKey(const Principal& who, const std::string& name);
  // Re-wraps every stored key under `new_kek` in one atomic, fsynced write.
  // Rotating to the KEK already in use changes nothing (keys_rewrapped 0).
  absl::StatusOr<v1::RotateKekResponse> RotateKek(const Principal& who, Kek new_kek);
  std::string active_kek_id() const;

  // ---- Dual-control re-identification ----
  absl::StatusOr<v1::ReidentificationRequest> CreateReidentificationRequest(
      const Principal& who, const v1::CreateReidentificationRequestRequest& req);
  absl::StatusOr<v1::ReidentificationRequest> ApproveReidentificationRequest(
      const Principal& who, const v1::ApproveReidentificationRequestRequest& req);
  // `not_after`: the caller's deadline. The collection is audited (and the
  // request marked collected) only before it, so an identifier is never
  // recorded as collected by a caller that has gone.
  absl::StatusOr<v1::CollectReidentificationResponse> CollectReidentification(
      const Principal& who, const v1::CollectReidentificationRequest& req,
      absl::Time not_after = absl::InfiniteFuture());
  absl::StatusOr<v1::ListReidentificationRequestsResponse> ListReidentificationRequests(
      const v1::ListReidentificationRequestsRequest& req) const;

  // ---- Subject requests (Art. 15 / Art. 17) ----
  absl::StatusOr<v1::SubjectRequestReport> ProcessSubjectRequest(
      const Principal& who, const v1::ProcessSubjectRequestRequest& req);

  // The distinct pseudonyms of `identifier` across every key version of the
  // domain, and the number of versions searched. Never logged or audited.
  absl::StatusOr<std::vector<std::string>> PseudonymsAcrossVersions(const std::string& domain,
                                                                    std::string_view identifier,
                                                                    int* versions) const;

 private:
  // Immutable once built; replaced wholesale on rotation.
  struct DomainState {
    v1::StoredDomain stored;
    std::shared_ptr<const Pseudonymiser> pseudonymiser;  // under the linkage key
    std::map<int, crypto::SecureBytes> domain_keys;      // version -> K_v
    crypto::SecureBytes current_vault_key;
  };

  explicit Pseudonymisation(PseudonymisationOptions options);
  absl::Status Load();
  absl::StatusOr<std::shared_ptr<const DomainState>> BuildState(v1::StoredDomain stored) const;
  absl::StatusOr<std::shared_ptr<const DomainState>> State(const std::string& name) const;
  const Kek* KekById(const std::string& id) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::StatusOr<crypto::SecureBytes> VaultKeyFor(const DomainState& s, int version) const;
  absl::StatusOr<v1::ReidentificationRequest> LoadRequestLocked(const std::string& name)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(reid_mu_);

  void Audit(const Principal& who, std::string_view action, std::vector<std::string> resources,
             common::v1::Decision decision, absl::string_view reason,
             std::map<std::string, std::string> details = {}) const;
  // Audits a refusal and returns it.
  absl::Status Deny(const Principal& who, std::string_view action,
                    std::vector<std::string> resources, absl::Status status) const;

  PseudonymisationOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::shared_ptr<const DomainState>> domains_
      ABSL_GUARDED_BY(mu_);
  std::vector<Kek> keks_ ABSL_GUARDED_BY(mu_);  // accepted KEKs
  std::string active_kek_id_ ABSL_GUARDED_BY(mu_);
  // Serialises re-identification state transitions (exactly-once collection).
  absl::Mutex reid_mu_;
};

// Resource name helpers (AIP).
std::string DomainName(std::string_view domain_id);

}  // namespace datalab::pseudonymisation

#endif  // DATALAB_SERVICES_PSEUDONYMISATION_PSEUDONYMISATION_H_
