#include "services/pseudonymisation/rocksdb_pseudonymisation_store.h"

#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"

namespace datalab::pseudonymisation {
namespace {

constexpr char kDomains[] = "domains";
constexpr char kMeta[] = "meta";
constexpr char kVault[] = "vault";
constexpr char kReid[] = "reid";
constexpr char kKekKey[] = "kek";

std::string VaultKey(const std::string& domain, const std::string& pseudonym) {
  std::string k = domain;
  k.push_back('\0');
  k += pseudonym;
  return k;
}

template <typename T>
absl::StatusOr<T> Parse(std::string_view bytes, std::string_view what) {
  T msg;
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("unparsable stored ", std::string(what)));
  }
  return msg;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RocksDbPseudonymisationStore>> RocksDbPseudonymisationStore::Open(
    const Options& options) {
  storage::KvStoreOptions o;
  o.path = options.path;
  o.column_families = {kDomains, kMeta, kVault, kReid};
  ASSIGN_OR_RETURN(std::unique_ptr<storage::KvStore> kv, storage::KvStore::Open(o));
  return std::unique_ptr<RocksDbPseudonymisationStore>(
      new RocksDbPseudonymisationStore(std::move(kv)));
}

absl::Status RocksDbPseudonymisationStore::CreateDomain(const v1::StoredDomain& domain) {
  absl::MutexLock l(&create_mu_);
  const std::string& name = domain.domain().name();
  absl::StatusOr<std::string> existing = kv_->Get(kDomains, name);
  if (existing.ok()) return absl::AlreadyExistsError(absl::StrCat(name, " already exists"));
  if (!absl::IsNotFound(existing.status())) return existing.status();
  storage::WriteBatch batch(kv_.get());
  batch.PutProto(kDomains, name, domain);
  return kv_->WriteSync(batch);
}

absl::Status RocksDbPseudonymisationStore::UpdateDomain(const v1::StoredDomain& domain) {
  absl::MutexLock l(&create_mu_);
  const std::string& name = domain.domain().name();
  RETURN_IF_ERROR(kv_->Get(kDomains, name).status());
  storage::WriteBatch batch(kv_.get());
  batch.PutProto(kDomains, name, domain);
  return kv_->WriteSync(batch);
}

absl::StatusOr<v1::StoredDomain> RocksDbPseudonymisationStore::GetDomain(
    const std::string& name) const {
  absl::StatusOr<std::string> v = kv_->Get(kDomains, name);
  if (absl::IsNotFound(v.status())) return absl::NotFoundError(absl::StrCat(name, " not found"));
  if (!v.ok()) return v.status();
  return Parse<v1::StoredDomain>(*v, "domain");
}

absl::StatusOr<std::vector<v1::StoredDomain>> RocksDbPseudonymisationStore::ListDomains() const {
  std::vector<v1::StoredDomain> out;
  absl::Status parse_error;
  RETURN_IF_ERROR(kv_->Scan(kDomains, "", [&](std::string_view, std::string_view value) {
    absl::StatusOr<v1::StoredDomain> d = Parse<v1::StoredDomain>(value, "domain");
    if (!d.ok()) {
      parse_error = d.status();
      return false;
    }
    out.push_back(std::move(*d));
    return true;
  }));
  RETURN_IF_ERROR(parse_error);
  return out;
}

absl::StatusOr<v1::KekState> RocksDbPseudonymisationStore::GetKekState() const {
  absl::StatusOr<std::string> v = kv_->Get(kMeta, kKekKey);
  if (absl::IsNotFound(v.status())) return absl::NotFoundError("no KEK state recorded");
  if (!v.ok()) return v.status();
  return Parse<v1::KekState>(*v, "KEK state");
}

absl::Status RocksDbPseudonymisationStore::PutKekState(const v1::KekState& state) {
  storage::WriteBatch batch(kv_.get());
  batch.PutProto(kMeta, kKekKey, state);
  return kv_->WriteSync(batch);
}

absl::Status RocksDbPseudonymisationStore::ReplaceKeysAndKek(
    const std::vector<v1::StoredDomain>& domains, const v1::KekState& state) {
  absl::MutexLock l(&create_mu_);
  storage::WriteBatch batch(kv_.get());
  for (const auto& d : domains) {
    RETURN_IF_ERROR(kv_->Get(kDomains, d.domain().name()).status());
    batch.PutProto(kDomains, d.domain().name(), d);
  }
  batch.PutProto(kMeta, kKekKey, state);
  RETURN_IF_ERROR(batch.status());
  return kv_->WriteSync(batch);
}

absl::Status RocksDbPseudonymisationStore::PutVaultEntries(
    const std::string& domain, const std::vector<std::pair<std::string, v1::VaultEntry>>& entries) {
  if (entries.empty()) return absl::OkStatus();
  storage::WriteBatch batch(kv_.get());
  for (const auto& [p, e] : entries) batch.PutProto(kVault, VaultKey(domain, p), e);
  RETURN_IF_ERROR(batch.status());
  return kv_->Write(batch);
}

absl::StatusOr<v1::VaultEntry> RocksDbPseudonymisationStore::GetVaultEntry(
    const std::string& domain, const std::string& pseudonym) const {
  absl::StatusOr<std::string> v = kv_->Get(kVault, VaultKey(domain, pseudonym));
  if (absl::IsNotFound(v.status())) return absl::NotFoundError("pseudonym not found in the vault");
  if (!v.ok()) return v.status();
  return Parse<v1::VaultEntry>(*v, "vault entry");
}

absl::Status RocksDbPseudonymisationStore::PutReidRequest(const v1::ReidentificationRequest& r) {
  storage::WriteBatch batch(kv_.get());
  batch.PutProto(kReid, r.name(), r);
  return kv_->WriteSync(batch);
}

absl::StatusOr<v1::ReidentificationRequest> RocksDbPseudonymisationStore::GetReidRequest(
    const std::string& name) const {
  absl::StatusOr<std::string> v = kv_->Get(kReid, name);
  if (absl::IsNotFound(v.status())) return absl::NotFoundError(absl::StrCat(name, " not found"));
  if (!v.ok()) return v.status();
  return Parse<v1::ReidentificationRequest>(*v, "re-identification request");
}

absl::StatusOr<std::vector<v1::ReidentificationRequest>>
RocksDbPseudonymisationStore::ListReidRequests(const std::string& after, int limit) const {
  std::vector<v1::ReidentificationRequest> out;
  absl::Status parse_error;
  std::string start = after;
  if (!start.empty()) start.push_back('\0');  // strictly after
  RETURN_IF_ERROR(kv_->Scan(
      kReid, "",
      [&](std::string_view, std::string_view value) {
        if (static_cast<int>(out.size()) >= limit) return false;
        absl::StatusOr<v1::ReidentificationRequest> r =
            Parse<v1::ReidentificationRequest>(value, "re-identification request");
        if (!r.ok()) {
          parse_error = r.status();
          return false;
        }
        out.push_back(std::move(*r));
        return true;
      },
      start));
  RETURN_IF_ERROR(parse_error);
  return out;
}

}  // namespace datalab::pseudonymisation
