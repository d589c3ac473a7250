#include "services/pseudonymisation/pseudonymisation.h"

#include <algorithm>
#include <set>
#include <utility>

#include <grpcpp/client_context.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/aead.h"
#include "common/crypto/encoding.h"
#include "common/identifiers/domain_id.h"
#include "common/rowbatch/string_column.h"
#include "common/status/grpc_status.h"
#include "common/status/status_macros.h"
#include "services/pseudonymisation/normalise.h"

namespace datalab::pseudonymisation {
namespace {

using common::v1::ALLOW;
using common::v1::DENY;
using common::v1::ERROR;

constexpr char kService[] = "pseudonymisation";
constexpr char kDomainPrefix[] = "domains/";
constexpr char kReidPrefix[] = "reidentificationRequests/";
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxReasonLength = 2000;
constexpr size_t kMaxReferenceLength = 128;

std::string VaultAad(const std::string& domain, std::string_view pseudonym) {
  return absl::StrCat("datalab.pseudonymisation.vault|", domain, "|",
                      absl::string_view(pseudonym.data(), pseudonym.size()));
}

int PageSize(int requested) {
  if (requested <= 0) return kDefaultPageSize;
  return std::min(requested, kMaxPageSize);
}

// Public view of a stored domain: key metadata only.
v1::Domain PublicDomain(const v1::StoredDomain& stored) {
  v1::Domain d = stored.domain();
  d.clear_keys();
  for (const v1::WrappedKey& w : stored.versions()) {
    v1::KeyVersion* k = d.add_keys();
    k->set_version(w.version());
    k->set_create_time_unix_ms(w.create_time_unix_ms());
    k->set_kek_id(w.kek_id());
    k->set_current(w.version() == d.current_key_version());
  }
  return d;
}

bool HasRole(const common::v1::Principal& p, common::v1::Role r) {
  return std::find(p.roles().begin(), p.roles().end(), r) != p.roles().end();
}

absl::Status ValidateProject(std::string_view project) {
  if (!absl::StartsWith(absl::string_view(project.data(), project.size()), "projects/") ||
      project.size() <= 9 || project.size() > 128) {
    return absl::InvalidArgumentError("project must be a resource name projects/{project}");
  }
  for (char c : project.substr(9)) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      return absl::InvalidArgumentError(
          "project id must contain only lower-case letters, digits and '-'");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateReference(std::string_view ref) {
  if (ref.empty()) return absl::InvalidArgumentError("reference (the DPO's case reference) is required");
  if (ref.size() > kMaxReferenceLength) {
    return absl::InvalidArgumentError(
        absl::StrCat("reference must be at most ", kMaxReferenceLength, " characters"));
  }
  for (char c : ref) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '_' || c == '/' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(
          "reference may contain only letters, digits, '-', '_', '/' and '.'");
    }
  }
  return absl::OkStatus();
}

// "3", "v3" or "datasets/x/versions/3" -> 3; 0 when there is no number.
int32_t TrailingVersion(const std::string& s) {
  size_t slash = s.find_last_of('/');
  std::string tail = slash == std::string::npos ? s : s.substr(slash + 1);
  if (!tail.empty() && (tail[0] == 'v' || tail[0] == 'V')) tail = tail.substr(1);
  int32_t v = 0;
  return absl::SimpleAtoi(tail, &v) ? v : 0;
}

}  // namespace

std::string DomainName(std::string_view domain_id) {
  return absl::StrCat(kDomainPrefix, absl::string_view(domain_id.data(), domain_id.size()));
}

Pseudonymisation::Pseudonymisation(PseudonymisationOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<Pseudonymisation>> Pseudonymisation::Create(
    PseudonymisationOptions options) {
  if (options.store == nullptr || options.audit == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("store, audit and clock are required");
  }
  if (!options.kek.has_value()) {
    return absl::InvalidArgumentError("a key-encryption key is required");
  }
  std::unique_ptr<Pseudonymisation> p(new Pseudonymisation(std::move(options)));
  RETURN_IF_ERROR(p->Load());
  return p;
}

const Kek* Pseudonymisation::KekById(const std::string& id) const {
  for (const Kek& k : keks_) {
    if (k.id() == id) return &k;
  }
  return nullptr;
}

absl::Status Pseudonymisation::Load() {
  absl::MutexLock l(&mu_);
  keks_.push_back(std::move(*options_.kek));
  if (options_.new_kek.has_value()) {
    if (options_.new_kek->id() != keks_.front().id()) keks_.push_back(std::move(*options_.new_kek));
  }
  options_.kek.reset();
  options_.new_kek.reset();

  ASSIGN_OR_RETURN(std::vector<v1::StoredDomain> stored, options_.store->ListDomains());
  absl::StatusOr<v1::KekState> state = options_.store->GetKekState();
  if (absl::IsNotFound(state.status())) {
    if (!stored.empty()) {
      return absl::DataLossError("the store holds domains but no KEK state");
    }
    v1::KekState fresh;
    fresh.set_kek_id(keks_.front().id());
    fresh.set_update_time_unix_ms(options_.clock->NowUnixMs());
    RETURN_IF_ERROR(options_.store->PutKekState(fresh));
    state = fresh;
  }
  if (!state.ok()) return state.status();
  if (KekById(state->kek_id()) == nullptr) {
    std::string given;
    for (const Kek& k : keks_) absl::StrAppend(&given, given.empty() ? "" : ", ", k.id());
    return absl::FailedPreconditionError(absl::StrCat(
        "stored keys are wrapped under KEK ", state->kek_id(),
        ", which is not among the KEKs given (", given,
        "): pass it with --kek_file or --new_kek_file"));
  }
  active_kek_id_ = state->kek_id();
  for (v1::StoredDomain& d : stored) {
    const std::string name = d.domain().name();
    ASSIGN_OR_RETURN(std::shared_ptr<const DomainState> s, BuildState(std::move(d)));
    domains_[name] = std::move(s);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<const Pseudonymisation::DomainState>> Pseudonymisation::BuildState(
    v1::StoredDomain stored) const {
  auto s = std::make_shared<DomainState>();
  const std::string& name = stored.domain().name();
  const Kek* kek = KekById(stored.linkage_key().kek_id());
  if (kek == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "linkage key of ", name, " is wrapped under KEK ", stored.linkage_key().kek_id(),
        ", which was not given"));
  }
  ASSIGN_OR_RETURN(crypto::SecureBytes linkage, UnwrapKey(*kek, stored.linkage_key(), name));
  ASSIGN_OR_RETURN(s->pseudonymiser, Pseudonymiser::Create(linkage));
  for (const v1::WrappedKey& w : stored.versions()) {
    const Kek* k = KekById(w.kek_id());
    if (k == nullptr) {
      return absl::FailedPreconditionError(absl::StrCat("key ", w.version(), " of ", name,
                                                        " is wrapped under KEK ", w.kek_id(),
                                                        ", which was not given"));
    }
    ASSIGN_OR_RETURN(crypto::SecureBytes key, UnwrapKey(*k, w, name));
    s->domain_keys[w.version()] = std::move(key);
  }
  auto cur = s->domain_keys.find(stored.domain().current_key_version());
  if (cur == s->domain_keys.end()) {
    return absl::DataLossError(absl::StrCat(name, " has no key for its current version"));
  }
  s->current_vault_key = DeriveVaultKey(cur->second);
  s->stored = std::move(stored);
  return std::shared_ptr<const DomainState>(std::move(s));
}

absl::StatusOr<std::shared_ptr<const Pseudonymisation::DomainState>> Pseudonymisation::State(
    const std::string& name) const {
  {
    absl::ReaderMutexLock l(&mu_);
    auto it = domains_.find(name);
    if (it != domains_.end()) return it->second;
  }
  if (!absl::StartsWith(name, kDomainPrefix)) {
    return absl::InvalidArgumentError("domain must be a resource name domains/{domain}");
  }
  return absl::NotFoundError(absl::StrCat(name, " not found"));
}

absl::StatusOr<crypto::SecureBytes> Pseudonymisation::VaultKeyFor(const DomainState& s,
                                                                 int version) const {
  auto it = s.domain_keys.find(version);
  if (it == s.domain_keys.end()) return absl::DataLossError("vault entry names an unknown key version");
  return DeriveVaultKey(it->second);
}

std::string Pseudonymisation::active_kek_id() const {
  absl::ReaderMutexLock l(&mu_);
  return active_kek_id_;
}

void Pseudonymisation::Audit(const Principal& who, std::string_view action,
                             std::vector<std::string> resources, common::v1::Decision decision,
                             absl::string_view reason,
                             std::map<std::string, std::string> details) const {
  common::v1::AuditEvent e;
  e.set_event_id(audit_client::NewEventId());
  e.set_time_unix_ms(options_.clock->NowUnixMs());
  e.set_service(kService);
  *e.mutable_actor() = who;
  e.set_action(std::string(action));
  for (auto& r : resources) e.add_resources(std::move(r));
  e.set_decision(decision);
  e.set_reason(std::string(reason));
  for (auto& [k, v] : details) (*e.mutable_details())[k] = v;
  // Append goes to a durable outbox; it fails only when even that cannot
  // take the event, and the operation itself has already been decided.
  (void)options_.audit->Append(e);
}

absl::Status Pseudonymisation::Deny(const Principal& who, std::string_view action,
                                    std::vector<std::string> resources,
                                    absl::Status status) const {
  Audit(who, action, std::move(resources), DENY, status.message());
  return status;
}

// ---------------------------------------------------------------- Domains

absl::StatusOr<v1::Domain> Pseudonymisation::CreateDomain(const Principal& who,
                                                          const v1::CreateDomainRequest& req) {
  constexpr char kAction[] = "pseudonymisation.domain.create";
  const std::string name = DomainName(req.domain_id());
  if (absl::Status s = identifiers::ValidateDomainId(req.domain_id()); !s.ok()) {
    return Deny(who, kAction, {name}, s);
  }
  const v1::IdentifierKind kind = req.domain().kind();
  if (kind == v1::IDENTIFIER_KIND_UNSPECIFIED || !v1::IdentifierKind_IsValid(kind)) {
    return Deny(who, kAction, {name},
                absl::InvalidArgumentError(
                    "domain.kind must be UPN, ULN, URN, STAFF_NUMBER or FREE_TEXT"));
  }
  if (req.domain().description().size() > 1024) {
    return Deny(who, kAction, {name},
                absl::InvalidArgumentError("domain.description must be at most 1024 bytes"));
  }
  const int64_t now = options_.clock->NowUnixMs();
  ASSIGN_OR_RETURN(crypto::SecureBytes linkage, NewDomainKey());
  ASSIGN_OR_RETURN(crypto::SecureBytes k1, NewDomainKey());

  absl::MutexLock l(&mu_);
  if (domains_.count(name)) {
    return Deny(who, kAction, {name}, absl::AlreadyExistsError(absl::StrCat(name, " already exists")));
  }
  const Kek* kek = KekById(active_kek_id_);
  v1::StoredDomain stored;
  v1::Domain* d = stored.mutable_domain();
  d->set_name(name);
  d->set_kind(kind);
  d->set_reversible(req.domain().reversible());
  d->set_description(req.domain().description());
  d->set_current_key_version(1);
  d->set_create_time_unix_ms(now);
  ASSIGN_OR_RETURN(*stored.mutable_linkage_key(), WrapKey(*kek, linkage, name, 0, now));
  ASSIGN_OR_RETURN(*stored.add_versions(), WrapKey(*kek, k1, name, 1, now));
  ASSIGN_OR_RETURN(std::shared_ptr<const DomainState> state, BuildState(stored));
  RETURN_IF_ERROR(options_.store->CreateDomain(stored));
  domains_[name] = state;
  Audit(who, kAction, {name}, ALLOW, "domain created",
        {{"kind", v1::IdentifierKind_Name(kind)},
         {"reversible", req.domain().reversible() ? "true" : "false"}});
  return PublicDomain(stored);
}

absl::StatusOr<v1::Domain> Pseudonymisation::GetDomain(const std::string& name) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const DomainState> s, State(name));
  return PublicDomain(s->stored);
}

absl::StatusOr<v1::ListDomainsResponse> Pseudonymisation::ListDomains(
    const v1::ListDomainsRequest& req) const {
  if (req.page_size() < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (!req.page_token().empty() && !absl::StartsWith(req.page_token(), kDomainPrefix)) {
    return absl::InvalidArgumentError("page_token is not one this service issued");
  }
  std::vector<std::shared_ptr<const DomainState>> all;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const auto& [name, s] : domains_) {
      if (name > req.page_token()) all.push_back(s);
    }
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a->stored.domain().name() < b->stored.domain().name();
  });
  const size_t page = PageSize(req.page_size());
  v1::ListDomainsResponse resp;
  for (size_t i = 0; i < all.size() && i < page; ++i) {
    *resp.add_domains() = PublicDomain(all[i]->stored);
  }
  if (all.size() > page) resp.set_next_page_token(resp.domains().rbegin()->name());
  return resp;
}

// ------------------------------------------------------------ Pseudonyms

absl::Status Pseudonymisation::Pseudonymise(const v1::PseudonymiseRequest& req,
                                            v1::PseudonymiseResponse* resp,
                                            BatchCounts* counts) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const DomainState> s, State(req.domain()));
  const v1::Domain& domain = s->stored.domain();
  if (req.vault() && !domain.reversible()) {
    return absl::FailedPreconditionError(
        absl::StrCat(domain.name(), " is not reversible: vault must be false"));
  }
  // A reversible domain keeps every identifier it pseudonymises in its vault:
  // re-identification under dual control must work whoever loaded the data.
  const bool keep_in_vault = domain.reversible();
  const bool packed_in =
      !req.packed_identifiers().empty() || req.packed_identifier_ends_size() > 0;
  if (packed_in && req.identifiers_size() > 0) {
    return absl::InvalidArgumentError(
        "send identifiers or packed_identifiers with packed_identifier_ends, not both");
  }
  const int n = packed_in ? req.packed_identifier_ends_size() : req.identifiers_size();
  if (n > kMaxBatchItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("identifiers: at most ", kMaxBatchItems, " per message, found ", n));
  }
  if (packed_in) {
    if (absl::Status e = rowbatch::CheckPackedEnds(req.packed_identifier_ends(),
                                                   req.packed_identifiers().size());
        !e.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("packed_identifier_ends: ", e.message()));
    }
  }
  // Identifier i of either form.
  auto identifier = [&req, packed_in](int i) -> std::string_view {
    if (!packed_in) return req.identifiers(i);
    return rowbatch::PackedAt(req.packed_identifiers(), req.packed_identifier_ends(),
                              static_cast<size_t>(i));
  };
  // Clear() keeps the allocated PseudonymResult objects for reuse.
  resp->mutable_results()->Clear();
  resp->clear_packed_pseudonyms();
  resp->mutable_errors()->Clear();
  resp->clear_temporary_indexes();
  resp->set_key_version(domain.current_key_version());

  const Pseudonymiser& ps = *s->pseudonymiser;
  NormalisedIdentifier norm;
  norm.value.reserve(64);
  std::vector<std::pair<std::string, v1::VaultEntry>> vault;
  if (keep_in_vault) vault.reserve(static_cast<size_t>(n));
  const int64_t now = options_.clock->NowUnixMs();

  char* packed = nullptr;
  if (req.packed_response()) {
    std::string* p = resp->mutable_packed_pseudonyms();
    p->resize(static_cast<size_t>(n) * kPseudonymChars);
    packed = p->data();
  }
  char buf[kPseudonymChars];
  for (int i = 0; i < n; ++i) {
    const std::string_view raw = identifier(i);
    absl::Status valid = NormaliseIdentifier(domain.kind(), raw, &norm);
    char* out = packed ? packed + static_cast<size_t>(i) * kPseudonymChars : buf;
    v1::PseudonymResult* r = packed ? nullptr : resp->add_results();
    if (!valid.ok()) {
      ++counts->invalid;
      const std::string reason = absl::StrCat("item ", i, ": ", valid.message());
      if (packed) {
        std::fill(out, out + kPseudonymChars, '-');
        v1::PackedError* e = resp->add_errors();
        e->set_index(i);
        e->set_error(reason);
      } else {
        r->set_error(reason);
      }
      continue;
    }
    RETURN_IF_ERROR(ps.Compute(norm.value, out));
    ++counts->valid;
    if (norm.temporary) {
      ++counts->temporary;
      if (packed) resp->add_temporary_indexes(i);
    }
    if (!packed) {
      r->mutable_pseudonym()->assign(out, kPseudonymChars);
      r->set_temporary(norm.temporary);
    }
    if (keep_in_vault) {
      std::string pseudonym(out, kPseudonymChars);
      ASSIGN_OR_RETURN(std::string sealed,
                       crypto::Aead::Seal(s->current_vault_key, norm.value,
                                          VaultAad(domain.name(), pseudonym)));
      v1::VaultEntry entry;
      entry.set_key_version(domain.current_key_version());
      entry.set_sealed(std::move(sealed));
      entry.set_create_time_unix_ms(now);
      vault.emplace_back(std::move(pseudonym), std::move(entry));
    }
  }
  if (!vault.empty()) {
    RETURN_IF_ERROR(options_.store->PutVaultEntries(domain.name(), vault));
    counts->vaulted += static_cast<int64_t>(vault.size());
  }
  return absl::OkStatus();
}

void Pseudonymisation::AuditPseudonymise(const Principal& who, const std::string& domain,
                                         const std::string& job, const BatchCounts& counts,
                                         const absl::Status& status, bool stream) const {
  std::vector<std::string> resources = {domain};
  if (!job.empty()) resources.push_back(job);
  Audit(who, stream ? "pseudonymisation.pseudonymise_stream" : "pseudonymisation.pseudonymise",
        std::move(resources), status.ok() ? ALLOW : ERROR,
        status.ok() ? "pseudonymised" : status.message(),
        {{"valid", absl::StrCat(counts.valid)},
         {"invalid", absl::StrCat(counts.invalid)},
         {"temporary", absl::StrCat(counts.temporary)},
         {"vaulted", absl::StrCat(counts.vaulted)}});
}

absl::StatusOr<v1::DeriveProjectPseudonymsResponse> Pseudonymisation::DeriveProjectPseudonyms(
    const Principal& who, const v1::DeriveProjectPseudonymsRequest& req) const {
  constexpr char kAction[] = "pseudonymisation.project_pseudonyms.derive";
  absl::StatusOr<std::shared_ptr<const DomainState>> st = State(req.domain());
  if (!st.ok()) return Deny(who, kAction, {req.domain()}, st.status());
  const DomainState& s = **st;
  if (absl::Status v = ValidateProject(req.project()); !v.ok()) {
    return Deny(who, kAction, {req.domain()}, v);
  }
  if (req.pseudonyms_size() > kMaxBatchItems) {
    return Deny(who, kAction, {req.domain(), req.project()},
                absl::InvalidArgumentError("pseudonyms: too many in one request"));
  }
  for (int i = 0; i < req.pseudonyms_size(); ++i) {
    if (!IsWellFormedPseudonym(req.pseudonyms(i))) {
      return Deny(who, kAction, {req.domain(), req.project()},
                  absl::InvalidArgumentError(absl::StrCat(
                      "pseudonyms[", i, "] is not a 26-character lower-case base32 pseudonym")));
    }
  }
  const int version =
      req.key_version() == 0 ? s.stored.domain().current_key_version() : req.key_version();
  auto key = s.domain_keys.find(version);
  if (key == s.domain_keys.end()) {
    return Deny(who, kAction, {req.domain(), req.project()},
                absl::NotFoundError(absl::StrCat("key_version ", version, " does not exist")));
  }
  crypto::SecureBytes project_key = DeriveProjectKey(key->second, req.project());
  ASSIGN_OR_RETURN(crypto::HmacSha256 mac, crypto::HmacSha256::Create(project_key));
  v1::DeriveProjectPseudonymsResponse resp;
  resp.set_key_version(version);
  resp.mutable_project_pseudonyms()->Reserve(req.pseudonyms_size());
  for (const std::string& p : req.pseudonyms()) {
    ASSIGN_OR_RETURN(std::string pp, ProjectPseudonym(mac, p));
    resp.add_project_pseudonyms(std::move(pp));
  }
  Audit(who, kAction, {req.domain(), req.project()}, ALLOW, "derived",
        {{"count", absl::StrCat(req.pseudonyms_size())}, {"key_version", absl::StrCat(version)}});
  return resp;
}

// ------------------------------------------------------------------ Keys

absl::StatusOr<v1::Domain> Pseudonymisation::RotateDomainKey(const Principal& who,
                                                             const std::string& name) {
  constexpr char kAction[] = "pseudonymisation.key.rotate";
  ASSIGN_OR_RETURN(crypto::SecureBytes fresh, NewDomainKey());
  absl::MutexLock l(&mu_);
  auto it = domains_.find(name);
  if (it == domains_.end()) {
    return Deny(who, kAction, {name}, absl::NotFoundError(absl::StrCat(name, " not found")));
  }
  v1::StoredDomain stored = it->second->stored;
  const int next = stored.domain().current_key_version() + 1;
  const int64_t now = options_.clock->NowUnixMs();
  ASSIGN_OR_RETURN(*stored.add_versions(),
                   WrapKey(*KekById(active_kek_id_), fresh, name, next, now));
  stored.mutable_domain()->set_current_key_version(next);
  ASSIGN_OR_RETURN(std::shared_ptr<const DomainState> state, BuildState(stored));
  RETURN_IF_ERROR(options_.store->UpdateDomain(stored));
  it->second = std::move(state);
  Audit(who, kAction, {name, absl::StrCat(name, "/keys/", next)}, ALLOW, "domain key rotated",
        {{"key_version", absl::StrCat(next)}});
  return PublicDomain(stored);
}

absl::StatusOr<v1::RotateKekResponse> Pseudonymisation::RotateKek(const Principal& who,
                                                                  Kek new_kek) {
  constexpr char kAction[] = "pseudonymisation.kek.rotate";
  absl::MutexLock l(&mu_);
  v1::RotateKekResponse resp;
  resp.set_kek_id(new_kek.id());
  if (new_kek.id() == active_kek_id_) {
    Audit(who, kAction, {}, ALLOW, "already wrapped under this KEK",
          {{"kek_id", new_kek.id()}, {"keys_rewrapped", "0"}});
    return resp;
  }
  // Re-wrap from the stored blobs: plain keys are unwrapped only for the
  // moment it takes to wrap them again.
  std::vector<v1::StoredDomain> rewrapped;
  std::vector<std::string> names;
  int count = 0;
  for (const auto& [name, state] : domains_) {
    v1::StoredDomain d = state->stored;
    std::vector<v1::WrappedKey*> keys = {d.mutable_linkage_key()};
    for (v1::WrappedKey& w : *d.mutable_versions()) keys.push_back(&w);
    for (v1::WrappedKey* w : keys) {
      const Kek* old = KekById(w->kek_id());
      if (old == nullptr) return absl::InternalError("a loaded key names an unknown KEK");
      ASSIGN_OR_RETURN(crypto::SecureBytes plain, UnwrapKey(*old, *w, name));
      ASSIGN_OR_RETURN(v1::WrappedKey again,
                       WrapKey(new_kek, plain, name, w->version(), w->create_time_unix_ms()));
      *w = std::move(again);
      ++count;
    }
    names.push_back(name);
    rewrapped.push_back(std::move(d));
  }
  v1::KekState kek_state;
  kek_state.set_kek_id(new_kek.id());
  kek_state.set_update_time_unix_ms(options_.clock->NowUnixMs());
  if (options_.crash_hook) options_.crash_hook("kek_rotation:rewrapped");
  if (absl::Status s = options_.store->ReplaceKeysAndKek(rewrapped, kek_state); !s.ok()) {
    Audit(who, kAction, {}, ERROR, s.message(), {{"kek_id", new_kek.id()}});
    return s;
  }
  if (options_.crash_hook) options_.crash_hook("kek_rotation:written");
  // The store is now entirely under the new KEK; mirror it in memory. The
  // plain keys did not change, so the pseudonymisers stay as they are.
  const std::string new_id = new_kek.id();
  if (KekById(new_id) == nullptr) keks_.push_back(std::move(new_kek));
  for (v1::StoredDomain& d : rewrapped) {
    auto it = domains_.find(d.domain().name());
    auto copy = std::make_shared<DomainState>();
    copy->pseudonymiser = it->second->pseudonymiser;
    for (const auto& [v, k] : it->second->domain_keys) copy->domain_keys[v] = k.Clone();
    copy->current_vault_key = it->second->current_vault_key.Clone();
    copy->stored = std::move(d);
    it->second = std::move(copy);
  }
  active_kek_id_ = new_id;
  resp.set_keys_rewrapped(count);
  Audit(who, kAction, std::move(names), ALLOW, "every key re-wrapped in one atomic write",
        {{"kek_id", new_id}, {"keys_rewrapped", absl::StrCat(count)}});
  return resp;
}

// -------------------------------------------------- Re-identification

absl::StatusOr<v1::ReidentificationRequest> Pseudonymisation::LoadRequestLocked(
    const std::string& name) {
  if (!absl::StartsWith(name, kReidPrefix)) {
    return absl::InvalidArgumentError(
        "name must be a resource name reidentificationRequests/{request}");
  }
  ASSIGN_OR_RETURN(v1::ReidentificationRequest r, options_.store->GetReidRequest(name));
  const bool open = r.state() == v1::ReidentificationRequest::PENDING ||
                    r.state() == v1::ReidentificationRequest::APPROVED;
  if (open && options_.clock->NowUnixMs() >= r.expire_time_unix_ms()) {
    r.set_state(v1::ReidentificationRequest::EXPIRED);
    RETURN_IF_ERROR(options_.store->PutReidRequest(r));
  }
  return r;
}

absl::StatusOr<v1::ReidentificationRequest> Pseudonymisation::CreateReidentificationRequest(
    const Principal& who, const v1::CreateReidentificationRequestRequest& req) {
  constexpr char kAction[] = "pseudonymisation.reid.request";
  if (who.kind() != common::v1::Principal::USER || !HasRole(who, common::v1::DPO)) {
    return Deny(who, kAction, {req.domain()},
                absl::PermissionDeniedError("only a person with the dpo role may request "
                                            "re-identification"));
  }
  absl::StatusOr<std::shared_ptr<const DomainState>> st = State(req.domain());
  if (!st.ok()) return Deny(who, kAction, {req.domain()}, st.status());
  if (!(*st)->stored.domain().reversible()) {
    return Deny(who, kAction, {req.domain()},
                absl::FailedPreconditionError(
                    absl::StrCat(req.domain(), " is not reversible: no re-identification")));
  }
  if (req.reason().empty() || req.reason().size() > kMaxReasonLength) {
    return Deny(who, kAction, {req.domain()},
                absl::InvalidArgumentError(absl::StrCat(
                    "reason is required (at most ", kMaxReasonLength, " bytes)")));
  }
  if (!IsWellFormedPseudonym(req.pseudonym())) {
    return Deny(who, kAction, {req.domain()},
                absl::InvalidArgumentError(
                    "pseudonym must be a 26-character lower-case base32 pseudonym"));
  }
  absl::StatusOr<v1::VaultEntry> entry =
      options_.store->GetVaultEntry(req.domain(), req.pseudonym());
  if (absl::IsNotFound(entry.status())) {
    return Deny(who, kAction, {req.domain()},
                absl::NotFoundError("pseudonym is not in the vault of this domain"));
  }
  if (!entry.ok()) return entry.status();

  ASSIGN_OR_RETURN(crypto::SecureBytes id_bytes, crypto::RandomBytes(10));
  const int64_t now = options_.clock->NowUnixMs();
  v1::ReidentificationRequest r;
  r.set_name(absl::StrCat(kReidPrefix, crypto::HexEncode(id_bytes)));
  r.set_domain(req.domain());
  r.set_pseudonym(req.pseudonym());
  r.set_reason(req.reason());
  r.set_requester(who.subject());
  r.set_state(v1::ReidentificationRequest::PENDING);
  r.set_create_time_unix_ms(now);
  r.set_expire_time_unix_ms(now + absl::ToInt64Milliseconds(kReidRequestLifetime));
  absl::MutexLock l(&reid_mu_);
  RETURN_IF_ERROR(options_.store->PutReidRequest(r));
  Audit(who, kAction, {r.name(), req.domain()}, ALLOW, "re-identification requested");
  return r;
}

absl::StatusOr<v1::ReidentificationRequest> Pseudonymisation::ApproveReidentificationRequest(
    const Principal& who, const v1::ApproveReidentificationRequestRequest& req) {
  constexpr char kAction[] = "pseudonymisation.reid.approve";
  if (who.kind() != common::v1::Principal::USER ||
      !(HasRole(who, common::v1::DPO) || HasRole(who, common::v1::PROJECT_APPROVER))) {
    return Deny(who, kAction, {req.name()},
                absl::PermissionDeniedError(
                    "only a person with the dpo or project_approver role may approve"));
  }
  absl::MutexLock l(&reid_mu_);
  absl::StatusOr<v1::ReidentificationRequest> r = LoadRequestLocked(req.name());
  if (!r.ok()) return Deny(who, kAction, {req.name()}, r.status());
  if (r->requester() == who.subject()) {
    return Deny(who, kAction, {req.name()},
                absl::PermissionDeniedError(
                    "the requester cannot approve their own re-identification request"));
  }
  if (r->state() != v1::ReidentificationRequest::PENDING) {
    return Deny(who, kAction, {req.name()},
                absl::FailedPreconditionError(absl::StrCat(
                    "request is ", v1::ReidentificationRequest::State_Name(r->state()),
                    ", only a PENDING request can be approved")));
  }
  if (req.comment().size() > kMaxReasonLength) {
    return Deny(who, kAction, {req.name()},
                absl::InvalidArgumentError("comment is too long"));
  }
  r->set_state(v1::ReidentificationRequest::APPROVED);
  r->set_approver(who.subject());
  r->set_approve_time_unix_ms(options_.clock->NowUnixMs());
  r->set_approver_comment(req.comment());
  RETURN_IF_ERROR(options_.store->PutReidRequest(*r));
  Audit(who, kAction, {r->name(), r->domain()}, ALLOW, "re-identification approved");
  return *r;
}

absl::StatusOr<v1::CollectReidentificationResponse> Pseudonymisation::CollectReidentification(
    const Principal& who, const v1::CollectReidentificationRequest& req, absl::Time not_after) {
  constexpr char kAction[] = "pseudonymisation.reid.collect";
  absl::MutexLock l(&reid_mu_);
  absl::StatusOr<v1::ReidentificationRequest> r = LoadRequestLocked(req.name());
  if (!r.ok()) return Deny(who, kAction, {req.name()}, r.status());
  if (r->requester() != who.subject()) {
    return Deny(who, kAction, {req.name()},
                absl::PermissionDeniedError("only the requester may collect"));
  }
  switch (r->state()) {
    case v1::ReidentificationRequest::APPROVED:
      break;
    case v1::ReidentificationRequest::PENDING:
      return Deny(who, kAction, {req.name()},
                  absl::FailedPreconditionError("request has not been approved"));
    case v1::ReidentificationRequest::COLLECTED:
      return Deny(who, kAction, {req.name()},
                  absl::FailedPreconditionError("request was already collected"));
    default:
      return Deny(who, kAction, {req.name()},
                  absl::FailedPreconditionError(absl::StrCat(
                      "request is ", v1::ReidentificationRequest::State_Name(r->state()))));
  }
  ASSIGN_OR_RETURN(std::shared_ptr<const DomainState> s, State(r->domain()));
  ASSIGN_OR_RETURN(v1::VaultEntry entry, options_.store->GetVaultEntry(r->domain(), r->pseudonym()));
  ASSIGN_OR_RETURN(crypto::SecureBytes vault_key, VaultKeyFor(*s, entry.key_version()));
  absl::StatusOr<crypto::SecureBytes> identifier =
      crypto::Aead::Open(vault_key, entry.sealed(), VaultAad(r->domain(), r->pseudonym()));
  if (!identifier.ok()) return absl::DataLossError("vault entry does not decrypt");

  // Fail closed: nothing is returned unless the collection is durably audited.
  common::v1::AuditEvent e;
  e.set_event_id(audit_client::NewEventId());
  e.set_time_unix_ms(options_.clock->NowUnixMs());
  e.set_service(kService);
  *e.mutable_actor() = who;
  e.set_action(kAction);
  e.add_resources(r->name());
  e.add_resources(r->domain());
  e.set_decision(ALLOW);
  e.set_reason(absl::StrCat("collected; approved by ", r->approver()));
  if (absl::Status a = options_.audit->AppendSync(e, not_after); !a.ok()) {
    return absl::UnavailableError(
        "the audit log cannot record the collection right now; nothing was returned, try again");
  }
  r->set_state(v1::ReidentificationRequest::COLLECTED);
  r->set_collect_time_unix_ms(options_.clock->NowUnixMs());
  RETURN_IF_ERROR(options_.store->PutReidRequest(*r));
  v1::CollectReidentificationResponse resp;
  resp.set_identifier(std::string(identifier->AsStringView()));
  return resp;
}

absl::StatusOr<v1::ListReidentificationRequestsResponse>
Pseudonymisation::ListReidentificationRequests(
    const v1::ListReidentificationRequestsRequest& req) const {
  if (req.page_size() < 0) return absl::InvalidArgumentError("page_size must not be negative");
  if (!req.page_token().empty() && !absl::StartsWith(req.page_token(), kReidPrefix)) {
    return absl::InvalidArgumentError("page_token is not one this service issued");
  }
  const int page = PageSize(req.page_size());
  const int64_t now = options_.clock->NowUnixMs();
  v1::ListReidentificationRequestsResponse resp;
  std::string after = req.page_token();
  while (true) {
    ASSIGN_OR_RETURN(std::vector<v1::ReidentificationRequest> chunk,
                     options_.store->ListReidRequests(after, 256));
    if (chunk.empty()) break;
    for (v1::ReidentificationRequest& r : chunk) {
      after = r.name();
      const bool open = r.state() == v1::ReidentificationRequest::PENDING ||
                        r.state() == v1::ReidentificationRequest::APPROVED;
      if (open && now >= r.expire_time_unix_ms()) r.set_state(v1::ReidentificationRequest::EXPIRED);
      if (req.state() != v1::ReidentificationRequest::STATE_UNSPECIFIED && r.state() != req.state()) {
        continue;
      }
      if (resp.requests_size() == page) {
        resp.set_next_page_token(resp.requests().rbegin()->name());
        return resp;
      }
      *resp.add_requests() = std::move(r);
    }
  }
  return resp;
}

// ------------------------------------------------------ Subject requests

absl::StatusOr<std::vector<std::string>> Pseudonymisation::PseudonymsAcrossVersions(
    const std::string& domain, std::string_view identifier, int* versions) const {
  ASSIGN_OR_RETURN(std::shared_ptr<const DomainState> s, State(domain));
  NormalisedIdentifier norm;
  RETURN_IF_ERROR(NormaliseIdentifier(s->stored.domain().kind(), identifier, &norm));
  // Each key version's pseudonym of the identifier. With the stable linkage
  // key (README.md) every version maps to the same HMAC key, so the set has
  // one element; the loop keeps subject look-up correct should a future
  // scheme give versions their own pseudonyms.
  std::set<std::string> distinct;
  for (const v1::WrappedKey& w : s->stored.versions()) {
    (void)w;
    ASSIGN_OR_RETURN(std::string p, s->pseudonymiser->Compute(norm.value));
    distinct.insert(std::move(p));
  }
  if (versions != nullptr) *versions = s->stored.versions_size();
  return std::vector<std::string>(distinct.begin(), distinct.end());
}

absl::StatusOr<v1::SubjectRequestReport> Pseudonymisation::ProcessSubjectRequest(
    const Principal& who, const v1::ProcessSubjectRequestRequest& req) {
  const bool erase = req.kind() == v1::ProcessSubjectRequestRequest::ERASURE;
  const std::string action =
      erase ? "pseudonymisation.subject.erase" : "pseudonymisation.subject.access";
  if (req.kind() != v1::ProcessSubjectRequestRequest::ACCESS && !erase) {
    return Deny(who, action, {req.domain()},
                absl::InvalidArgumentError("kind must be ACCESS or ERASURE"));
  }
  if (absl::Status s = ValidateReference(req.reference()); !s.ok()) {
    return Deny(who, action, {req.domain()}, s);
  }
  int versions = 0;
  absl::StatusOr<std::vector<std::string>> pseudonyms =
      PseudonymsAcrossVersions(req.domain(), req.identifier(), &versions);
  if (!pseudonyms.ok()) {
    // The reason names the rule, never the identifier (normalise.h).
    return Deny(who, action, {req.domain()},
                absl::Status(pseudonyms.status().code(),
                             absl::StrCat("identifier: ", pseudonyms.status().message())));
  }
  if (options_.query == nullptr) {
    return absl::FailedPreconditionError("no query service configured (--query_target)");
  }
  query::v1::SubjectRecordsRequest qreq;
  for (const std::string& p : *pseudonyms) qreq.add_pseudonyms(p);
  qreq.set_reference(req.reference());
  query::v1::SubjectRecordsResponse qresp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::milliseconds(absl::ToInt64Milliseconds(options_.query_deadline)));
  grpc::Status gs = erase ? options_.query->EraseSubjectRecords(&ctx, qreq, &qresp)
                          : options_.query->FindSubjectRecords(&ctx, qreq, &qresp);
  if (!gs.ok()) {
    absl::Status s = FromGrpcStatus(gs);
    Audit(who, action, {req.domain()}, ERROR, absl::StrCat("query service: ", s.message()),
          {{"reference", req.reference()}});
    return absl::Status(s.code(), absl::StrCat("query service: ", s.message()));
  }
  v1::SubjectRequestReport report;
  report.set_reference(req.reference());
  report.set_key_versions_searched(versions);
  report.set_pseudonyms_searched(static_cast<int32_t>(pseudonyms->size()));
  int64_t total = 0;
  for (const query::v1::SubjectDatasetRecords& d : qresp.datasets()) {
    v1::SubjectRecordCount* c = report.add_records();
    c->set_dataset(d.dataset());
    c->set_records(d.records());
    total += d.records();
    for (const std::string& v : d.versions()) {
      c->add_versions(TrailingVersion(v));
      if (erase) report.add_new_versions(v);
    }
  }
  report.set_erased(erase);
  Audit(who, action, {req.domain()}, ALLOW, erase ? "subject erased" : "subject access report",
        {{"reference", req.reference()},
         {"key_versions_searched", absl::StrCat(versions)},
         {"datasets", absl::StrCat(qresp.datasets_size())},
         {"records", absl::StrCat(total)}});
  return report;
}

}  // namespace datalab::pseudonymisation
