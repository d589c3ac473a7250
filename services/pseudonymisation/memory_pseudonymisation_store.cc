#include "services/pseudonymisation/memory_pseudonymisation_store.h"

#include "absl/strings/str_cat.h"

namespace datalab::pseudonymisation {
namespace {
std::string VaultKey(const std::string& domain, const std::string& pseudonym) {
  return absl::StrCat(domain, std::string(1, '\0'), pseudonym);
}
}  // namespace

absl::Status MemoryPseudonymisationStore::CreateDomain(const v1::StoredDomain& domain) {
  absl::MutexLock l(&mu_);
  const std::string& name = domain.domain().name();
  if (domains_.count(name)) return absl::AlreadyExistsError(absl::StrCat(name, " already exists"));
  domains_[name] = domain;
  return absl::OkStatus();
}

absl::Status MemoryPseudonymisationStore::UpdateDomain(const v1::StoredDomain& domain) {
  absl::MutexLock l(&mu_);
  auto it = domains_.find(domain.domain().name());
  if (it == domains_.end()) return absl::NotFoundError(absl::StrCat(domain.domain().name(), " not found"));
  it->second = domain;
  return absl::OkStatus();
}

absl::StatusOr<v1::StoredDomain> MemoryPseudonymisationStore::GetDomain(
    const std::string& name) const {
  absl::MutexLock l(&mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return it->second;
}

absl::StatusOr<std::vector<v1::StoredDomain>> MemoryPseudonymisationStore::ListDomains() const {
  absl::MutexLock l(&mu_);
  std::vector<v1::StoredDomain> out;
  for (const auto& [name, d] : domains_) out.push_back(d);
  return out;
}

absl::StatusOr<v1::KekState> MemoryPseudonymisationStore::GetKekState() const {
  absl::MutexLock l(&mu_);
  if (!kek_) return absl::NotFoundError("no KEK state recorded");
  return *kek_;
}

absl::Status MemoryPseudonymisationStore::PutKekState(const v1::KekState& state) {
  absl::MutexLock l(&mu_);
  kek_ = state;
  return absl::OkStatus();
}

absl::Status MemoryPseudonymisationStore::ReplaceKeysAndKek(
    const std::vector<v1::StoredDomain>& domains, const v1::KekState& state) {
  absl::MutexLock l(&mu_);
  for (const auto& d : domains) {
    if (!domains_.count(d.domain().name())) {
      return absl::NotFoundError(absl::StrCat(d.domain().name(), " not found"));
    }
  }
  for (const auto& d : domains) domains_[d.domain().name()] = d;
  kek_ = state;
  return absl::OkStatus();
}

absl::Status MemoryPseudonymisationStore::PutVaultEntries(
    const std::string& domain, const std::vector<std::pair<std::string, v1::VaultEntry>>& entries) {
  absl::MutexLock l(&mu_);
  for (const auto& [p, e] : entries) vault_[VaultKey(domain, p)] = e;
  return absl::OkStatus();
}

absl::StatusOr<v1::VaultEntry> MemoryPseudonymisationStore::GetVaultEntry(
    const std::string& domain, const std::string& pseudonym) const {
  absl::MutexLock l(&mu_);
  auto it = vault_.find(VaultKey(domain, pseudonym));
  if (it == vault_.end()) return absl::NotFoundError("pseudonym not found in the vault");
  return it->second;
}

absl::Status MemoryPseudonymisationStore::PutReidRequest(const v1::ReidentificationRequest& r) {
  absl::MutexLock l(&mu_);
  reid_[r.name()] = r;
  return absl::OkStatus();
}

absl::StatusOr<v1::ReidentificationRequest> MemoryPseudonymisationStore::GetReidRequest(
    const std::string& name) const {
  absl::MutexLock l(&mu_);
  auto it = reid_.find(name);
  if (it == reid_.end()) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return it->second;
}

absl::StatusOr<std::vector<v1::ReidentificationRequest>>
MemoryPseudonymisationStore::ListReidRequests(const std::string& after, int limit) const {
  absl::MutexLock l(&mu_);
  std::vector<v1::ReidentificationRequest> out;
  for (auto it = reid_.upper_bound(after); it != reid_.end() && static_cast<int>(out.size()) < limit;
       ++it) {
    out.push_back(it->second);
  }
  return out;
}

}  // namespace datalab::pseudonymisation
