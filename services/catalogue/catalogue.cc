#include "services/catalogue/catalogue.h"

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"
#include "services/catalogue/quality.h"

namespace datalab::catalogue {
namespace {

using common::v1::Decision;
using common::v1::DisclosureSettings;
using common::v1::Role;

constexpr char kDatasets[] = "datasets/";
constexpr char kProjects[] = "projects/";
constexpr char kUsers[] = "users/";

bool HasRole(const Principal& p, Role r) {
  return std::find(p.roles().begin(), p.roles().end(), r) != p.roles().end();
}

// "datasets/{id}" -> id, or INVALID_ARGUMENT naming `field`.
absl::StatusOr<std::string> IdFromName(const std::string& name, std::string_view collection,
                                       std::string_view field) {
  if (!absl::StartsWith(name, absl::string_view(collection.data(), collection.size()))) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": must be ", std::string(collection), "{id}"));
  }
  std::string id = name.substr(collection.size());
  const bool ok = collection == kUsers ? IsValidUserId(id) : IsLowerSnakeCase(id);
  if (!ok) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": malformed ", std::string(collection), "{id}"));
  }
  return id;
}

// "datasets/{id}/{kind}/{n}" -> (id, n); `allow_latest` maps "latest" to 0.
absl::StatusOr<std::pair<std::string, int32_t>> VersionedName(const std::string& name,
                                                              std::string_view kind,
                                                              bool allow_latest) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  int32_t n = 0;
  if (parts.size() != 4 || parts[0] != "datasets" || !IsLowerSnakeCase(parts[1]) ||
      parts[2] != kind ||
      !((allow_latest && parts[3] == "latest") || (absl::SimpleAtoi(parts[3], &n) && n > 0))) {
    return absl::InvalidArgumentError(absl::StrCat("name: must be datasets/{dataset}/",
                                                   std::string(kind), "/{number}",
                                                   allow_latest ? " or .../latest" : ""));
  }
  return std::make_pair(parts[1], n);
}

// Opaque page tokens: a version tag, a fingerprint of the request's filters
// (a token is only valid for the listing it came from) and the last name
// returned.
uint64_t Fingerprint(std::string_view s) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

std::string EncodeToken(const std::string& filters, const std::string& after) {
  return absl::WebSafeBase64Escape(absl::StrCat("c1\n", Fingerprint(filters), "\n", after));
}

absl::StatusOr<std::string> DecodeToken(const std::string& token, const std::string& filters) {
  if (token.empty()) return std::string();
  std::string raw;
  const absl::Status bad =
      absl::InvalidArgumentError("page_token: invalid, or from a different listing");
  if (!absl::WebSafeBase64Unescape(token, &raw)) return bad;
  std::vector<std::string> parts = absl::StrSplit(raw, absl::MaxSplits('\n', 2));
  if (parts.size() != 3 || parts[0] != "c1" ||
      parts[1] != absl::StrCat(Fingerprint(filters)) || parts[2].empty()) {
    return bad;
  }
  return parts[2];
}

absl::StatusOr<int> PageSize(int32_t requested) {
  if (requested < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  if (requested == 0) return Catalogue::kDefaultPageSize;
  return std::min<int>(requested, Catalogue::kMaxPageSize);
}

// One page of `items` (sorted by name) after the token's position.
template <typename T, typename Add>
absl::StatusOr<std::string> Paginate(const std::vector<T>& items, int32_t page_size,
                                     const std::string& token, const std::string& filters,
                                     Add add) {
  ASSIGN_OR_RETURN(int size, PageSize(page_size));
  ASSIGN_OR_RETURN(std::string after, DecodeToken(token, filters));
  int taken = 0;
  std::string last;
  for (size_t i = 0; i < items.size(); ++i) {
    if (!after.empty() && items[i].name() <= after) continue;
    if (taken == size) return EncodeToken(filters, last);
    add(items[i]);
    last = items[i].name();
    ++taken;
  }
  return std::string();
}

// Lower-case words of free text; snake_case words also yield their parts.
void AddWords(std::string_view text, std::set<std::string>& words) {
  std::string lower = absl::AsciiStrToLower(std::string(text));
  for (absl::string_view w : absl::StrSplit(lower, absl::ByAnyChar(" \t\n\r.,;:!?()[]{}'\"/-"),
                                            absl::SkipEmpty())) {
    words.insert(std::string(w));
    if (absl::StrContains(w, '_')) {
      for (absl::string_view part : absl::StrSplit(w, '_', absl::SkipEmpty())) {
        words.insert(std::string(part));
      }
    }
  }
}

std::set<std::string> UpdateMask(const google::protobuf::RepeatedPtrField<std::string>& mask) {
  std::set<std::string> out;
  for (const std::string& m : mask) {
    for (absl::string_view f : absl::StrSplit(m, ',', absl::SkipEmpty())) {
      out.insert(std::string(absl::StripAsciiWhitespace(f)));
    }
  }
  return out;
}

absl::Status CheckMask(const std::set<std::string>& mask, const std::set<std::string>& allowed) {
  if (mask.empty()) return absl::InvalidArgumentError("update_mask: required");
  for (const std::string& f : mask) {
    if (allowed.count(f) == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "update_mask: field '", f, "' cannot be updated (allowed: ", absl::StrJoin(allowed, ", "),
          ")"));
    }
  }
  return absl::OkStatus();
}

bool IsMember(const cv1::Project& p, const std::string& user) {
  return p.lead() == user ||
         std::find(p.members().begin(), p.members().end(), user) != p.members().end();
}

std::string StateName(cv1::Project::State s) { return cv1::Project::State_Name(s); }

}  // namespace

absl::StatusOr<std::unique_ptr<Catalogue>> Catalogue::Create(const Options& options) {
  if (options.store == nullptr || options.audit == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("Catalogue: store, audit and clock are required");
  }
  return std::unique_ptr<Catalogue>(new Catalogue(options));
}

// ---------------------------------------------------------------------------
// Audit and commit.

absl::Status Catalogue::Audit(const Principal& actor, const std::string& action,
                              const std::vector<std::string>& resources, Decision decision,
                              const std::string& reason, const std::string& project,
                              const std::map<std::string, std::string>& details) {
  common::v1::AuditEvent e;
  e.set_event_id(audit_client::NewEventId());
  e.set_time_unix_ms(Now());
  e.set_service("catalogue");
  *e.mutable_actor() = actor;
  e.set_action(action);
  for (const auto& r : resources) e.add_resources(r);
  e.set_project(project);
  e.set_decision(decision);
  e.set_reason(reason);
  for (const auto& [k, v] : details) (*e.mutable_details())[k] = v;
  return audit_->Append(e);
}

template <typename T>
absl::StatusOr<T> Catalogue::Commit(const Principal& caller, const std::string& action,
                                    const std::vector<std::string>& resources,
                                    absl::StatusOr<Planned<T>> plan, const std::string& project) {
  if (!plan.ok()) {
    // Best effort: the refusal stands whether or not its record is written.
    Audit(caller, action, resources, common::v1::DENY, std::string(plan.status().message()),
          project)
        .IgnoreError();
    return plan.status();
  }
  absl::Status audited = Audit(caller, action, resources, common::v1::ALLOW, "", project);
  if (!audited.ok()) {
    return absl::UnavailableError(
        absl::StrCat("audit log unavailable, nothing changed: ", audited.message()));
  }
  absl::Status written = store_->Apply(plan->write);
  if (!written.ok()) {
    Audit(caller, action, resources, common::v1::ERROR, std::string(written.message()), project)
        .IgnoreError();
    return written;
  }
  return std::move(plan->result);
}

// ---------------------------------------------------------------------------
// Datasets and schemas.

absl::StatusOr<cv1::Dataset> Catalogue::CreateDataset(const Principal& caller,
                                                      const cv1::CreateDatasetRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.dataset.create", {absl::StrCat(kDatasets, req.dataset_id())},
                PlanCreateDataset(caller, req));
}

absl::StatusOr<Catalogue::Planned<cv1::Dataset>> Catalogue::PlanCreateDataset(
    const Principal& caller, const cv1::CreateDatasetRequest& req) {
  FieldErrors errors;
  if (!IsLowerSnakeCase(req.dataset_id())) {
    errors.Add("dataset_id", "must be lower_snake_case, 1-63 characters");
  }
  ValidateDataset(req.dataset(), "dataset", errors);
  ValidateSchema(req.schema(), req.dataset().subject_kind(), "schema", errors);
  RETURN_IF_ERROR(errors.ToStatus());
  if (store_->GetDataset(req.dataset_id()).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("dataset_id: datasets/", req.dataset_id(), " already exists"));
  }
  Planned<cv1::Dataset> out;
  cv1::Dataset d = req.dataset();
  d.set_name(absl::StrCat(kDatasets, req.dataset_id()));
  if (d.owner().empty() && caller.kind() == Principal::USER) d.set_owner(caller.subject());
  d.set_current_schema_version(1);
  d.set_latest_version(0);
  d.set_create_time_unix_ms(Now());
  d.set_update_time_unix_ms(Now());
  d.set_archived(false);
  cv1::Schema s = req.schema();
  s.set_name(absl::StrCat(d.name(), "/schemas/1"));
  s.set_version(1);
  s.set_create_time_unix_ms(Now());
  out.write.datasets.push_back(d);
  out.write.schemas.push_back(s);
  out.result = d;
  return out;
}

absl::StatusOr<cv1::Dataset> Catalogue::GetDataset(const std::string& name) const {
  ASSIGN_OR_RETURN(std::string id, IdFromName(name, kDatasets, "name"));
  auto d = store_->GetDataset(id);
  if (absl::IsNotFound(d.status())) {
    return absl::NotFoundError(absl::StrCat(name, " not found"));
  }
  return d;
}

namespace {

// Datasets passing the shared filters; `schools` is consulted lazily.
template <typename Req>
absl::StatusOr<bool> PassesFilters(const CatalogueStore& store, const cv1::Dataset& d,
                                   const Req& req) {
  if (req.topic() != cv1::TOPIC_UNSPECIFIED && d.topic() != req.topic()) return false;
  if (req.source_system() != cv1::SOURCE_SYSTEM_UNSPECIFIED &&
      d.source_system() != req.source_system()) {
    return false;
  }
  if (req.subject_kind() != common::v1::SUBJECT_KIND_UNSPECIFIED &&
      d.subject_kind() != req.subject_kind()) {
    return false;
  }
  if (!req.school().empty()) {
    ASSIGN_OR_RETURN(auto versions, store.ListVersions(d.name().substr(9)));
    for (const auto& v : versions) {
      for (const auto& s : v.schools()) {
        if (s == req.school()) return true;
      }
    }
    return false;
  }
  return true;
}

template <typename Req>
std::string FilterKey(const Req& req, const std::string& extra) {
  return absl::StrCat(extra, "|", req.topic(), "|", req.source_system(), "|", req.subject_kind(),
                      "|", req.school());
}

}  // namespace

absl::StatusOr<cv1::ListDatasetsResponse> Catalogue::ListDatasets(
    const cv1::ListDatasetsRequest& req) const {
  ASSIGN_OR_RETURN(auto all, store_->ListDatasets());
  std::vector<cv1::Dataset> matched;
  for (auto& d : all) {
    ASSIGN_OR_RETURN(bool pass, PassesFilters(*store_, d, req));
    if (pass) matched.push_back(std::move(d));
  }
  cv1::ListDatasetsResponse resp;
  ASSIGN_OR_RETURN(std::string next,
                   Paginate(matched, req.page_size(), req.page_token(), FilterKey(req, "list"),
                            [&](const cv1::Dataset& d) { *resp.add_datasets() = d; }));
  resp.set_next_page_token(next);
  return resp;
}

absl::StatusOr<cv1::ListDatasetsResponse> Catalogue::SearchDatasets(
    const cv1::SearchDatasetsRequest& req) const {
  // Whole query words must match; snake_case parts are only added on the
  // documents' side, so "provision" finds sen_provision.
  std::set<std::string> query_words;
  for (absl::string_view w :
       absl::StrSplit(absl::AsciiStrToLower(req.query()),
                      absl::ByAnyChar(" \t\n\r.,;:!?()[]{}'\"/-"), absl::SkipEmpty())) {
    query_words.insert(std::string(w));
  }
  if (req.query().size() > 1000) return absl::InvalidArgumentError("query: longer than 1000 characters");
  ASSIGN_OR_RETURN(auto all, store_->ListDatasets());
  std::vector<cv1::Dataset> matched;
  for (auto& d : all) {
    if (d.archived()) continue;
    ASSIGN_OR_RETURN(bool pass, PassesFilters(*store_, d, req));
    if (!pass) continue;
    std::set<std::string> words;
    AddWords(d.title(), words);
    AddWords(d.description(), words);
    for (const auto& t : d.tags()) AddWords(t, words);
    auto schema = store_->GetSchema(d.name().substr(9), d.current_schema_version());
    if (schema.ok()) {
      for (const auto& c : schema->columns()) AddWords(c.name(), words);
    }
    bool all_found = true;
    for (const auto& w : query_words) all_found = all_found && words.count(w) > 0;
    if (all_found) matched.push_back(std::move(d));
  }
  cv1::ListDatasetsResponse resp;
  ASSIGN_OR_RETURN(std::string next,
                   Paginate(matched, req.page_size(), req.page_token(),
                            FilterKey(req, absl::StrCat("search|", absl::StrJoin(query_words, " "))),
                            [&](const cv1::Dataset& d) { *resp.add_datasets() = d; }));
  resp.set_next_page_token(next);
  return resp;
}

absl::StatusOr<cv1::Dataset> Catalogue::UpdateDataset(const Principal& caller,
                                                      const cv1::UpdateDatasetRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.dataset.update", {req.dataset().name()},
                PlanUpdateDataset(req));
}

absl::StatusOr<Catalogue::Planned<cv1::Dataset>> Catalogue::PlanUpdateDataset(
    const cv1::UpdateDatasetRequest& req) {
  ASSIGN_OR_RETURN(cv1::Dataset d, GetDataset(req.dataset().name()));
  const std::set<std::string> mask = UpdateMask(req.update_mask());
  // subject_kind and identifier_domain are fixed: schemas and loaded
  // versions depend on them.
  RETURN_IF_ERROR(CheckMask(mask, {"title", "description", "owner", "source_system", "topic",
                                   "tags", "lawful_basis", "special_category", "retention_days",
                                   "archived"}));
  const cv1::Dataset& in = req.dataset();
  if (mask.count("title")) d.set_title(in.title());
  if (mask.count("description")) d.set_description(in.description());
  if (mask.count("owner")) d.set_owner(in.owner());
  if (mask.count("source_system")) d.set_source_system(in.source_system());
  if (mask.count("topic")) d.set_topic(in.topic());
  if (mask.count("tags")) *d.mutable_tags() = in.tags();
  if (mask.count("lawful_basis")) d.set_lawful_basis(in.lawful_basis());
  if (mask.count("special_category")) d.set_special_category(in.special_category());
  if (mask.count("retention_days")) d.set_retention_days(in.retention_days());
  if (mask.count("archived")) d.set_archived(in.archived());
  FieldErrors errors;
  ValidateDataset(d, "dataset", errors);
  RETURN_IF_ERROR(errors.ToStatus());
  d.set_update_time_unix_ms(Now());
  Planned<cv1::Dataset> out;
  out.write.datasets.push_back(d);
  out.result = d;
  return out;
}

absl::StatusOr<cv1::Schema> Catalogue::CreateSchemaVersion(
    const Principal& caller, const cv1::CreateSchemaVersionRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.schema.create", {req.parent()}, PlanCreateSchema(req));
}

absl::StatusOr<Catalogue::Planned<cv1::Schema>> Catalogue::PlanCreateSchema(
    const cv1::CreateSchemaVersionRequest& req) {
  ASSIGN_OR_RETURN(std::string id, IdFromName(req.parent(), kDatasets, "parent"));
  ASSIGN_OR_RETURN(cv1::Dataset d, GetDataset(req.parent()));
  FieldErrors errors;
  ValidateSchema(req.schema(), d.subject_kind(), "schema", errors);
  RETURN_IF_ERROR(errors.ToStatus());
  const int32_t version = d.current_schema_version() + 1;
  cv1::Schema s = req.schema();
  s.set_name(absl::StrCat(d.name(), "/schemas/", version));
  s.set_version(version);
  s.set_create_time_unix_ms(Now());
  d.set_current_schema_version(version);
  d.set_update_time_unix_ms(Now());
  Planned<cv1::Schema> out;
  out.write.schemas.push_back(s);
  out.write.datasets.push_back(d);
  out.result = s;
  return out;
}

absl::StatusOr<cv1::Schema> Catalogue::GetSchema(const std::string& name) const {
  ASSIGN_OR_RETURN(auto parsed, VersionedName(name, "schemas", /*allow_latest=*/true));
  ASSIGN_OR_RETURN(cv1::Dataset d, GetDataset(absl::StrCat(kDatasets, parsed.first)));
  const int32_t v = parsed.second == 0 ? d.current_schema_version() : parsed.second;
  auto s = store_->GetSchema(parsed.first, v);
  if (absl::IsNotFound(s.status())) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return s;
}

absl::StatusOr<cv1::ListSchemaVersionsResponse> Catalogue::ListSchemaVersions(
    const cv1::ListSchemaVersionsRequest& req) const {
  ASSIGN_OR_RETURN(std::string id, IdFromName(req.parent(), kDatasets, "parent"));
  RETURN_IF_ERROR(GetDataset(req.parent()).status());
  ASSIGN_OR_RETURN(auto all, store_->ListSchemas(id));
  cv1::ListSchemaVersionsResponse resp;
  // Names sort by version because version numbers are not zero-padded in
  // names: page by position in the (version-ordered) list instead.
  ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  ASSIGN_OR_RETURN(std::string after, DecodeToken(req.page_token(), "schemas|" + id));
  int32_t after_version = 0;
  if (!after.empty() && !absl::SimpleAtoi(after, &after_version)) {
    return absl::InvalidArgumentError("page_token: invalid, or from a different listing");
  }
  for (const auto& s : all) {
    if (s.version() <= after_version) continue;
    if (resp.schemas_size() == size) {
      resp.set_next_page_token(
          EncodeToken("schemas|" + id, absl::StrCat(resp.schemas(size - 1).version())));
      break;
    }
    *resp.add_schemas() = s;
  }
  return resp;
}

// ---------------------------------------------------------------------------
// Dataset versions and quality.

absl::StatusOr<cv1::DatasetVersion> Catalogue::RegisterDatasetVersion(
    const Principal& caller, const cv1::RegisterDatasetVersionRequest& req) {
  absl::MutexLock l(&mu_);
  auto id = IdFromName(req.parent(), kDatasets, "parent");
  if (!id.ok()) return id.status();
  if (req.request_id().empty() || req.request_id().size() > 128) {
    return absl::InvalidArgumentError("request_id: required, at most 128 characters");
  }
  // Idempotent: a retried registration returns what the first one made.
  ASSIGN_OR_RETURN(auto seen, store_->GetRequest(req.request_id()));
  if (seen.has_value()) return GetDatasetVersion(*seen);
  auto plan = PlanRegisterVersion(req, *id);
  std::vector<std::string> resources = {req.parent()};
  if (plan.ok()) resources.push_back(plan->result.name());
  return Commit(caller, "catalogue.version.register", resources, std::move(plan));
}

absl::StatusOr<Catalogue::Planned<cv1::DatasetVersion>> Catalogue::PlanRegisterVersion(
    const cv1::RegisterDatasetVersionRequest& req, const std::string& dataset_id) {
  ASSIGN_OR_RETURN(cv1::Dataset d, GetDataset(req.parent()));
  const cv1::DatasetVersion& in = req.version();
  FieldErrors errors;
  if (in.schema_version() < 1 || in.schema_version() > d.current_schema_version()) {
    errors.Add("version.schema_version",
               absl::StrCat("no schema version ", in.schema_version(), " for ", d.name()));
  }
  if (in.row_count() < 0) errors.Add("version.row_count", "must not be negative");
  if (in.distinct_subjects() < 0 || in.distinct_subjects() > std::max<int64_t>(in.row_count(), 0)) {
    errors.Add("version.distinct_subjects", "must be between 0 and row_count");
  }
  auto start = ParseDate(in.period().start_date(), "version.period.start_date");
  auto end = ParseDate(in.period().end_date(), "version.period.end_date");
  if (!start.ok()) errors.Add("version.period.start_date", "not a valid date YYYY-MM-DD");
  if (!end.ok()) errors.Add("version.period.end_date", "not a valid date YYYY-MM-DD");
  if (start.ok() && end.ok() && *end < *start) {
    errors.Add("version.period.end_date", "before start_date");
  }
  if (in.source_extracts_size() == 0) {
    errors.Add("version.source_extracts", "at least one source extract is required");
  }
  for (int i = 0; i < in.schools_size(); ++i) {
    const std::string& urn = in.schools(i);
    if (urn.size() != 6 || !std::all_of(urn.begin(), urn.end(), ::isdigit)) {
      errors.Add(absl::StrCat("version.schools[", i, "]"), "must be a 6-digit URN");
    }
  }
  // The store names the version; ingestion proposes that number. It may
  // skip numbers the store used without registering them (an erasure writes
  // a version without the erased subjects), never go back.
  if (in.version() != 0 && in.version() <= d.latest_version()) {
    errors.Add("version.version", absl::StrCat("must be after the latest version ",
                                               d.latest_version(), " of ", d.name()));
  }
  RETURN_IF_ERROR(errors.ToStatus());
  ASSIGN_OR_RETURN(cv1::QualityRating rating, ComputeRating(in.quality(), "version.quality"));
  cv1::DatasetVersion v = in;
  const int32_t number = in.version() != 0 ? in.version() : d.latest_version() + 1;
  v.set_name(absl::StrCat(d.name(), "/versions/", number));
  v.set_version(number);
  *v.mutable_quality() = rating;
  v.set_commit_time_unix_ms(Now());
  d.set_latest_version(number);
  d.set_update_time_unix_ms(Now());
  Planned<cv1::DatasetVersion> out;
  out.write.versions.push_back(v);
  out.write.datasets.push_back(d);
  out.write.request_ids.emplace_back(req.request_id(), v.name());
  out.result = v;
  (void)dataset_id;
  return out;
}

absl::StatusOr<cv1::DatasetVersion> Catalogue::GetDatasetVersion(const std::string& name) const {
  ASSIGN_OR_RETURN(auto parsed, VersionedName(name, "versions", /*allow_latest=*/false));
  auto v = store_->GetVersion(parsed.first, parsed.second);
  if (absl::IsNotFound(v.status())) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return v;
}

absl::StatusOr<cv1::ListDatasetVersionsResponse> Catalogue::ListDatasetVersions(
    const cv1::ListDatasetVersionsRequest& req) const {
  ASSIGN_OR_RETURN(std::string id, IdFromName(req.parent(), kDatasets, "parent"));
  RETURN_IF_ERROR(GetDataset(req.parent()).status());
  ASSIGN_OR_RETURN(auto all, store_->ListVersions(id));
  ASSIGN_OR_RETURN(int size, PageSize(req.page_size()));
  ASSIGN_OR_RETURN(std::string after, DecodeToken(req.page_token(), "versions|" + id));
  int32_t after_version = 0;
  if (!after.empty() && !absl::SimpleAtoi(after, &after_version)) {
    return absl::InvalidArgumentError("page_token: invalid, or from a different listing");
  }
  cv1::ListDatasetVersionsResponse resp;
  for (const auto& v : all) {
    if (v.version() <= after_version) continue;
    if (resp.versions_size() == size) {
      resp.set_next_page_token(
          EncodeToken("versions|" + id, absl::StrCat(resp.versions(size - 1).version())));
      break;
    }
    *resp.add_versions() = v;
  }
  return resp;
}

absl::StatusOr<cv1::QualityTrend> Catalogue::GetQualityTrend(
    const cv1::GetQualityTrendRequest& req) const {
  ASSIGN_OR_RETURN(std::string id, IdFromName(req.dataset(), kDatasets, "dataset"));
  RETURN_IF_ERROR(GetDataset(req.dataset()).status());
  ASSIGN_OR_RETURN(auto all, store_->ListVersions(id));  // oldest first (key order)
  cv1::QualityTrend trend;
  trend.set_dataset(req.dataset());
  for (auto& v : all) *trend.add_versions() = std::move(v);
  return trend;
}

// ---------------------------------------------------------------------------
// Projects.

cv1::Project Catalogue::View(cv1::Project p) const {
  if (p.state() == cv1::Project::APPROVED) {
    auto end = ParseDate(p.dates().end_date(), "end_date");
    if (end.ok() && DayOf(Now()) > *end) {
      p.set_state(cv1::Project::EXPIRED);
      p.set_state_reason("the project's end date has passed");
    }
  }
  return p;
}

bool Catalogue::SeesAllProjects(const Principal& caller) const {
  return caller.kind() == Principal::SERVICE || HasRole(caller, common::v1::PROJECT_APPROVER) ||
         HasRole(caller, common::v1::DPO) || HasRole(caller, common::v1::ADMIN);
}

bool Catalogue::Visible(const Principal& caller, const cv1::Project& p) const {
  return SeesAllProjects(caller) || IsMember(p, caller.subject());
}

void Catalogue::ValidateProject(const cv1::Project& p, const DisclosureSettings& floor,
                                FieldErrors& errors) const {
  if (p.title().empty()) errors.Add("project.title", "required");
  if (p.purpose().empty()) errors.Add("project.purpose", "required");
  if (p.lawful_basis().empty()) errors.Add("project.lawful_basis", "required");
  // Lead and members.
  auto lead_id = IdFromName(p.lead(), kUsers, "project.lead");
  if (!lead_id.ok()) {
    errors.Add("project.lead", "must be users/{user}");
  } else {
    auto lead = store_->GetUser(*lead_id);
    if (!lead.ok()) {
      errors.Add("project.lead", absl::StrCat(p.lead(), " is not a registered user"));
    } else if (!lead->active()) {
      errors.Add("project.lead", absl::StrCat(p.lead(), " is not an active user"));
    }
  }
  std::set<std::string> members;
  for (int i = 0; i < p.members_size(); ++i) {
    const std::string at = absl::StrCat("project.members[", i, "]");
    const std::string& m = p.members(i);
    auto id = IdFromName(m, kUsers, at);
    if (!id.ok()) {
      errors.Add(at, "must be users/{user}");
      continue;
    }
    if (!store_->GetUser(*id).ok()) errors.Add(at, absl::StrCat(m, " is not a registered user"));
    if (m == p.lead()) errors.Add(at, "the lead is a member already");
    if (!members.insert(m).second) errors.Add(at, absl::StrCat("duplicate member ", m));
  }
  // Dates: the end strictly after the start.
  auto start = ParseDate(p.dates().start_date(), "project.dates.start_date");
  auto end = ParseDate(p.dates().end_date(), "project.dates.end_date");
  if (!start.ok()) errors.Add("project.dates.start_date", "not a valid date YYYY-MM-DD");
  if (!end.ok()) errors.Add("project.dates.end_date", "not a valid date YYYY-MM-DD");
  if (start.ok() && end.ok() && !(*end > *start)) {
    errors.Add("project.dates.end_date", "must be after start_date");
  }
  // Datasets and columns, against each dataset's current schema.
  std::set<std::string> datasets;
  for (int i = 0; i < p.datasets_size(); ++i) {
    const cv1::ApprovedDataset& a = p.datasets(i);
    const std::string at = absl::StrCat("project.datasets[", i, "]");
    if (!datasets.insert(a.dataset()).second) {
      errors.Add(at + ".dataset", absl::StrCat("duplicate dataset ", a.dataset()));
      continue;
    }
    auto id = IdFromName(a.dataset(), kDatasets, at + ".dataset");
    if (!id.ok()) {
      errors.Add(at + ".dataset", "must be datasets/{dataset}");
      continue;
    }
    auto d = store_->GetDataset(*id);
    if (!d.ok()) {
      errors.Add(at + ".dataset", absl::StrCat(a.dataset(), " does not exist"));
      continue;
    }
    auto schema = store_->GetSchema(*id, d->current_schema_version());
    if (!schema.ok()) {
      errors.Add(at + ".dataset", absl::StrCat(a.dataset(), " has no schema"));
      continue;
    }
    if (a.columns_size() == 0) errors.Add(at + ".columns", "at least one column is required");
    std::set<std::string> seen;
    for (int k = 0; k < a.columns_size(); ++k) {
      const std::string& col = a.columns(k);
      const std::string cat = absl::StrCat(at, ".columns[", k, "]");
      if (!seen.insert(col).second) {
        errors.Add(cat, absl::StrCat("duplicate column '", col, "'"));
        continue;
      }
      const cv1::Column* found = nullptr;
      for (const auto& c : schema->columns()) {
        if (c.name() == col) found = &c;
      }
      if (found == nullptr) {
        errors.Add(cat, absl::StrCat("column '", col, "' does not exist in ", a.dataset(),
                                     " (schema version ", schema->version(), ")"));
      } else if (found->treatment() == common::v1::DROP) {
        errors.Add(cat, absl::StrCat("column '", col, "' of ", a.dataset(),
                                     " is dropped on ingest and cannot be approved"));
      }
    }
  }
  ValidateProjectDisclosure(p.disclosure(), floor, "project.disclosure", errors);
}

absl::StatusOr<cv1::Project> Catalogue::CreateProject(const Principal& caller,
                                                      const cv1::CreateProjectRequest& req) {
  absl::MutexLock l(&mu_);
  const std::string name = absl::StrCat(kProjects, req.project_id());
  return Commit(caller, "catalogue.project.create", {name}, PlanCreateProject(caller, req), name);
}

absl::StatusOr<Catalogue::Planned<cv1::Project>> Catalogue::PlanCreateProject(
    const Principal& caller, const cv1::CreateProjectRequest& req) {
  if (!IsLowerSnakeCase(req.project_id())) {
    return absl::InvalidArgumentError("project_id: must be lower_snake_case, 1-63 characters");
  }
  if (store_->GetProject(req.project_id()).ok()) {
    return absl::AlreadyExistsError(
        absl::StrCat("project_id: projects/", req.project_id(), " already exists"));
  }
  ASSIGN_OR_RETURN(cv1::TrustFloor floor, GetTrustFloor());
  cv1::Project p = req.project();
  p.set_name(absl::StrCat(kProjects, req.project_id()));
  if (p.lead().empty() && caller.kind() == Principal::USER) p.set_lead(caller.subject());
  // A proposal without settings starts at the floor.
  if (!p.has_disclosure()) *p.mutable_disclosure() = floor.settings();
  p.set_state(cv1::Project::PROPOSED);
  p.clear_approved_by();
  p.clear_approve_time_unix_ms();
  p.clear_state_reason();
  p.set_create_time_unix_ms(Now());
  p.set_update_time_unix_ms(Now());
  FieldErrors errors;
  ValidateProject(p, floor.settings(), errors);
  RETURN_IF_ERROR(errors.ToStatus());
  Planned<cv1::Project> out;
  out.write.projects.push_back(p);
  out.result = View(p);
  return out;
}

absl::StatusOr<cv1::Project> Catalogue::GetProject(const Principal& caller,
                                                   const std::string& name) {
  ASSIGN_OR_RETURN(std::string id, IdFromName(name, kProjects, "name"));
  auto p = store_->GetProject(id);
  if (absl::IsNotFound(p.status())) return absl::NotFoundError(absl::StrCat(name, " not found"));
  RETURN_IF_ERROR(p.status());
  if (!Visible(caller, *p)) {
    absl::Status denied = absl::PermissionDeniedError(
        absl::StrCat("only the project's lead, its members and approvers may read ", name));
    Audit(caller, "catalogue.project.get", {name}, common::v1::DENY,
          std::string(denied.message()), name)
        .IgnoreError();
    return denied;
  }
  return View(*std::move(p));
}

absl::StatusOr<cv1::ListProjectsResponse> Catalogue::ListProjects(
    const Principal& caller, const cv1::ListProjectsRequest& req) const {
  if (!cv1::Project::State_IsValid(req.state())) {
    return absl::InvalidArgumentError("state: unknown project state");
  }
  ASSIGN_OR_RETURN(auto all, store_->ListProjects());
  std::vector<cv1::Project> matched;
  for (auto& stored : all) {
    cv1::Project p = View(std::move(stored));
    if (!Visible(caller, p)) continue;
    if (req.state() != cv1::Project::STATE_UNSPECIFIED && p.state() != req.state()) continue;
    if (!req.member().empty() && !IsMember(p, req.member())) continue;
    matched.push_back(std::move(p));
  }
  cv1::ListProjectsResponse resp;
  ASSIGN_OR_RETURN(std::string next,
                   Paginate(matched, req.page_size(), req.page_token(),
                            absl::StrCat("projects|", caller.subject(), "|", req.state(), "|",
                                         req.member()),
                            [&](const cv1::Project& p) { *resp.add_projects() = p; }));
  resp.set_next_page_token(next);
  return resp;
}

absl::StatusOr<cv1::Project> Catalogue::UpdateProject(const Principal& caller,
                                                      const cv1::UpdateProjectRequest& req) {
  absl::MutexLock l(&mu_);
  const std::string& name = req.project().name();
  return Commit(caller, "catalogue.project.update", {name}, PlanUpdateProject(caller, req), name);
}

absl::StatusOr<Catalogue::Planned<cv1::Project>> Catalogue::PlanUpdateProject(
    const Principal& caller, const cv1::UpdateProjectRequest& req) {
  ASSIGN_OR_RETURN(std::string id, IdFromName(req.project().name(), kProjects, "project.name"));
  auto stored = store_->GetProject(id);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat(req.project().name(), " not found"));
  }
  RETURN_IF_ERROR(stored.status());
  cv1::Project p = *std::move(stored);
  const std::set<std::string> mask = UpdateMask(req.update_mask());
  // Membership goes through Add/RemoveProjectMember (an approver's call);
  // state through the lifecycle methods.
  RETURN_IF_ERROR(CheckMask(mask, {"title", "purpose", "lawful_basis", "dpia_reference",
                                   "ethics_reference", "datasets", "dates", "disclosure"}));
  if (caller.subject() != p.lead()) {
    return absl::PermissionDeniedError("only the project's lead may edit it");
  }
  if (p.state() != cv1::Project::PROPOSED && p.state() != cv1::Project::APPROVED) {
    return absl::FailedPreconditionError(
        absl::StrCat("a ", StateName(p.state()), " project cannot be edited"));
  }
  const cv1::Project& in = req.project();
  if (mask.count("title")) p.set_title(in.title());
  if (mask.count("purpose")) p.set_purpose(in.purpose());
  if (mask.count("lawful_basis")) p.set_lawful_basis(in.lawful_basis());
  if (mask.count("dpia_reference")) p.set_dpia_reference(in.dpia_reference());
  if (mask.count("ethics_reference")) p.set_ethics_reference(in.ethics_reference());
  if (mask.count("datasets")) *p.mutable_datasets() = in.datasets();
  if (mask.count("dates")) *p.mutable_dates() = in.dates();
  if (mask.count("disclosure")) *p.mutable_disclosure() = in.disclosure();
  ASSIGN_OR_RETURN(cv1::TrustFloor floor, GetTrustFloor());
  FieldErrors errors;
  ValidateProject(p, floor.settings(), errors);
  RETURN_IF_ERROR(errors.ToStatus());
  // What the panel approved must not change without the panel.
  const bool material = mask.count("purpose") || mask.count("lawful_basis") ||
                        mask.count("datasets") || mask.count("dates") ||
                        mask.count("disclosure");
  if (p.state() == cv1::Project::APPROVED && material) {
    p.set_state(cv1::Project::PROPOSED);
    p.clear_approved_by();
    p.clear_approve_time_unix_ms();
    p.set_state_reason("changed after approval; needs re-approval");
  }
  p.set_update_time_unix_ms(Now());
  Planned<cv1::Project> out;
  out.write.projects.push_back(p);
  out.result = View(p);
  return out;
}

absl::StatusOr<cv1::Project> Catalogue::ApproveProject(const Principal& caller,
                                                       const cv1::ApproveProjectRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.project.approve", {req.name()}, PlanApprove(caller, req),
                req.name());
}

absl::StatusOr<Catalogue::Planned<cv1::Project>> Catalogue::PlanApprove(
    const Principal& caller, const cv1::ApproveProjectRequest& req) {
  ASSIGN_OR_RETURN(std::string id, IdFromName(req.name(), kProjects, "name"));
  auto stored = store_->GetProject(id);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat(req.name(), " not found"));
  }
  RETURN_IF_ERROR(stored.status());
  cv1::Project p = *std::move(stored);
  if (caller.kind() != Principal::USER || !HasRole(caller, common::v1::PROJECT_APPROVER)) {
    return absl::PermissionDeniedError("only a project_approver may approve a project");
  }
  if (IsMember(p, caller.subject())) {
    return absl::PermissionDeniedError(
        "self-approval refused: the approver must be neither the lead nor a member");
  }
  if (p.state() == cv1::Project::APPROVED) {
    return absl::FailedPreconditionError(absl::StrCat(req.name(), " is already approved"));
  }
  if (p.state() != cv1::Project::PROPOSED && p.state() != cv1::Project::SUSPENDED) {
    return absl::FailedPreconditionError(
        absl::StrCat("a ", StateName(p.state()), " project cannot be approved"));
  }
  auto end = ParseDate(p.dates().end_date(), "project.dates.end_date");
  if (end.ok() && DayOf(Now()) > *end) {
    return absl::FailedPreconditionError("the project's end date has passed; extend it first");
  }
  // Approve what is true now: users, datasets, columns and the floor may have
  // changed since the proposal.
  ASSIGN_OR_RETURN(cv1::TrustFloor floor, GetTrustFloor());
  FieldErrors errors;
  ValidateProject(p, floor.settings(), errors);
  if (!errors.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("project cannot be approved as it stands: ", errors.ToStatus().message()));
  }
  p.set_state(cv1::Project::APPROVED);
  p.set_approved_by(caller.subject());
  p.set_approve_time_unix_ms(Now());
  p.set_state_reason(req.comment());
  p.set_update_time_unix_ms(Now());
  Planned<cv1::Project> out;
  out.write.projects.push_back(p);
  out.result = View(p);
  return out;
}

absl::StatusOr<cv1::Project> Catalogue::SuspendProject(const Principal& caller,
                                                       const cv1::SuspendProjectRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.project.suspend", {req.name()},
                PlanTransition(caller, req.name(), req.reason(), /*close=*/false), req.name());
}

absl::StatusOr<cv1::Project> Catalogue::CloseProject(const Principal& caller,
                                                     const cv1::CloseProjectRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.project.close", {req.name()},
                PlanTransition(caller, req.name(), req.reason(), /*close=*/true), req.name());
}

absl::StatusOr<Catalogue::Planned<cv1::Project>> Catalogue::PlanTransition(
    const Principal& caller, const std::string& name, const std::string& reason, bool close) {
  ASSIGN_OR_RETURN(std::string id, IdFromName(name, kProjects, "name"));
  if (reason.empty()) return absl::InvalidArgumentError("reason: required");
  auto stored = store_->GetProject(id);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat(name, " not found"));
  }
  RETURN_IF_ERROR(stored.status());
  cv1::Project p = *std::move(stored);
  if (caller.kind() != Principal::USER || !HasRole(caller, common::v1::PROJECT_APPROVER)) {
    return absl::PermissionDeniedError("only a project_approver may suspend or close a project");
  }
  if (p.state() == cv1::Project::CLOSED) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is closed; closing is final"));
  }
  if (!close && p.state() != cv1::Project::APPROVED) {
    return absl::FailedPreconditionError(
        absl::StrCat("only an approved project can be suspended; ", name, " is ",
                     StateName(p.state())));
  }
  p.set_state(close ? cv1::Project::CLOSED : cv1::Project::SUSPENDED);
  p.set_state_reason(reason);
  p.set_update_time_unix_ms(Now());
  Planned<cv1::Project> out;
  out.write.projects.push_back(p);
  out.result = View(p);
  return out;
}

absl::StatusOr<cv1::Project> Catalogue::AddProjectMember(const Principal& caller,
                                                         const cv1::AddProjectMemberRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.project.add_member", {req.name(), req.member()},
                PlanMembership(caller, req.name(), req.member(), /*add=*/true), req.name());
}

absl::StatusOr<cv1::Project> Catalogue::RemoveProjectMember(
    const Principal& caller, const cv1::RemoveProjectMemberRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.project.remove_member", {req.name(), req.member()},
                PlanMembership(caller, req.name(), req.member(), /*add=*/false), req.name());
}

absl::StatusOr<Catalogue::Planned<cv1::Project>> Catalogue::PlanMembership(
    const Principal& caller, const std::string& name, const std::string& member, bool add) {
  ASSIGN_OR_RETURN(std::string id, IdFromName(name, kProjects, "name"));
  ASSIGN_OR_RETURN(std::string user_id, IdFromName(member, kUsers, "member"));
  auto stored = store_->GetProject(id);
  if (absl::IsNotFound(stored.status())) {
    return absl::NotFoundError(absl::StrCat(name, " not found"));
  }
  RETURN_IF_ERROR(stored.status());
  cv1::Project p = *std::move(stored);
  if (caller.kind() != Principal::USER || !HasRole(caller, common::v1::PROJECT_APPROVER)) {
    return absl::PermissionDeniedError("only a project_approver may change membership");
  }
  // Same separation of duties as approval: nobody approves their own access.
  if (IsMember(p, caller.subject()) || member == caller.subject()) {
    return absl::PermissionDeniedError(
        "self-approval refused: the approver must be neither the lead nor a member, nor the "
        "user being added");
  }
  if (p.state() == cv1::Project::CLOSED) {
    return absl::FailedPreconditionError(absl::StrCat(name, " is closed"));
  }
  if (member == p.lead()) {
    return absl::FailedPreconditionError("member: the lead's membership cannot change");
  }
  auto it = std::find(p.members().begin(), p.members().end(), member);
  if (add) {
    if (it != p.members().end()) {
      return absl::AlreadyExistsError(absl::StrCat("member: ", member, " is already a member"));
    }
    auto user = store_->GetUser(user_id);
    if (!user.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("member: ", member, " is not a registered user"));
    }
    if (!user->active()) {
      return absl::FailedPreconditionError(absl::StrCat("member: ", member, " is not active"));
    }
    p.add_members(member);
  } else {
    if (it == p.members().end()) {
      return absl::NotFoundError(absl::StrCat("member: ", member, " is not a member of ", name));
    }
    p.mutable_members()->erase(p.mutable_members()->begin() + (it - p.members().begin()));
  }
  p.set_update_time_unix_ms(Now());
  Planned<cv1::Project> out;
  out.write.projects.push_back(p);
  out.result = View(p);
  return out;
}

// ---------------------------------------------------------------------------
// Users.

namespace {

void ValidateUser(const cv1::User& u, absl::CivilDay today, bool check_accreditation,
                  FieldErrors& errors) {
  if (u.display_name().empty()) errors.Add("user.display_name", "required");
  if (!u.email().empty() && (!absl::StrContains(u.email(), '@') || u.email().size() > 254)) {
    errors.Add("user.email", "not an email address");
  }
  std::set<int> roles;
  for (int i = 0; i < u.roles_size(); ++i) {
    const int r = u.roles(i);
    const std::string at = absl::StrCat("user.roles[", i, "]");
    if (r == common::v1::ROLE_UNSPECIFIED || !common::v1::Role_IsValid(r)) {
      errors.Add(at, "unknown role");
    } else if (!roles.insert(r).second) {
      errors.Add(at, absl::StrCat("duplicate role ", common::v1::Role_Name(u.roles(i))));
    }
  }
  if (check_accreditation && HasAccreditation(u.accreditation())) {
    ValidateAccreditation(u.accreditation(), today, "user.accreditation", errors);
  }
}

}  // namespace

absl::StatusOr<cv1::User> Catalogue::CreateUser(const Principal& caller,
                                                const cv1::CreateUserRequest& req) {
  absl::MutexLock l(&mu_);
  if (!HasRole(caller, common::v1::ADMIN)) {
    absl::Status denied = absl::PermissionDeniedError("only an admin may create users");
    Audit(caller, "catalogue.user.create", {}, common::v1::DENY, std::string(denied.message()))
        .IgnoreError();
    return denied;
  }
  return Commit(caller, "catalogue.user.create", {absl::StrCat(kUsers, req.user_id())},
                PlanCreateUser(req));
}

absl::StatusOr<Catalogue::Planned<cv1::User>> Catalogue::PlanCreateUser(
    const cv1::CreateUserRequest& req) {
  FieldErrors errors;
  if (!IsValidUserId(req.user_id())) {
    errors.Add("user_id", "must be the OIDC subject: 1-128 printable characters, no '/'");
  }
  ValidateUser(req.user(), DayOf(Now()), /*check_accreditation=*/true, errors);
  RETURN_IF_ERROR(errors.ToStatus());
  if (store_->GetUser(req.user_id()).ok()) {
    return absl::AlreadyExistsError(absl::StrCat("user_id: users/", req.user_id(), " already exists"));
  }
  cv1::User u = req.user();
  u.set_name(absl::StrCat(kUsers, req.user_id()));
  u.set_create_time_unix_ms(Now());
  u.set_update_time_unix_ms(Now());
  Planned<cv1::User> out;
  out.write.users.push_back(u);
  out.result = u;
  return out;
}

absl::StatusOr<cv1::User> Catalogue::GetUser(const std::string& name) const {
  ASSIGN_OR_RETURN(std::string id, IdFromName(name, kUsers, "name"));
  auto u = store_->GetUser(id);
  if (absl::IsNotFound(u.status())) return absl::NotFoundError(absl::StrCat(name, " not found"));
  return u;
}

absl::StatusOr<cv1::ListUsersResponse> Catalogue::ListUsers(const cv1::ListUsersRequest& req) const {
  ASSIGN_OR_RETURN(auto all, store_->ListUsers());
  cv1::ListUsersResponse resp;
  ASSIGN_OR_RETURN(std::string next, Paginate(all, req.page_size(), req.page_token(), "users",
                                              [&](const cv1::User& u) { *resp.add_users() = u; }));
  resp.set_next_page_token(next);
  return resp;
}

absl::StatusOr<cv1::User> Catalogue::UpdateUser(const Principal& caller,
                                                const cv1::UpdateUserRequest& req) {
  absl::MutexLock l(&mu_);
  if (!HasRole(caller, common::v1::ADMIN)) {
    absl::Status denied = absl::PermissionDeniedError("only an admin may update users");
    Audit(caller, "catalogue.user.update", {req.user().name()}, common::v1::DENY,
          std::string(denied.message()))
        .IgnoreError();
    return denied;
  }
  return Commit(caller, "catalogue.user.update", {req.user().name()}, PlanUpdateUser(req));
}

absl::StatusOr<Catalogue::Planned<cv1::User>> Catalogue::PlanUpdateUser(
    const cv1::UpdateUserRequest& req) {
  ASSIGN_OR_RETURN(cv1::User u, GetUser(req.user().name()));
  const std::set<std::string> mask = UpdateMask(req.update_mask());
  RETURN_IF_ERROR(CheckMask(
      mask, {"display_name", "email", "organisation", "roles", "accreditation", "active"}));
  const cv1::User& in = req.user();
  if (mask.count("display_name")) u.set_display_name(in.display_name());
  if (mask.count("email")) u.set_email(in.email());
  if (mask.count("organisation")) u.set_organisation(in.organisation());
  if (mask.count("roles")) *u.mutable_roles() = in.roles();
  if (mask.count("accreditation")) *u.mutable_accreditation() = in.accreditation();
  if (mask.count("active")) u.set_active(in.active());
  FieldErrors errors;
  // An accreditation that lapsed since it was recorded does not block other
  // edits; a new one must be current.
  ValidateUser(u, DayOf(Now()), /*check_accreditation=*/mask.count("accreditation") > 0, errors);
  RETURN_IF_ERROR(errors.ToStatus());
  u.set_update_time_unix_ms(Now());
  Planned<cv1::User> out;
  out.write.users.push_back(u);
  out.result = u;
  return out;
}

// ---------------------------------------------------------------------------
// Trust floor.

absl::StatusOr<cv1::TrustFloor> Catalogue::GetTrustFloor() const {
  ASSIGN_OR_RETURN(auto stored, store_->GetTrustFloor());
  if (stored.has_value()) return *stored;
  cv1::TrustFloor f;
  *f.mutable_settings() = DefaultFloor();
  return f;
}

absl::StatusOr<cv1::TrustFloor> Catalogue::SetTrustFloor(const Principal& caller,
                                                         const cv1::SetTrustFloorRequest& req) {
  absl::MutexLock l(&mu_);
  return Commit(caller, "catalogue.floor.set", {"trust_floor"}, PlanSetFloor(caller, req));
}

absl::StatusOr<Catalogue::Planned<cv1::TrustFloor>> Catalogue::PlanSetFloor(
    const Principal& caller, const cv1::SetTrustFloorRequest& req) {
  if (caller.kind() != Principal::USER || !HasRole(caller, common::v1::ADMIN)) {
    return absl::PermissionDeniedError("only an admin may set the trust floor");
  }
  FieldErrors errors;
  ValidateFloor(req.floor().settings(), "floor.settings", errors);
  RETURN_IF_ERROR(errors.ToStatus());
  cv1::TrustFloor f;
  *f.mutable_settings() = req.floor().settings();
  f.set_updated_by(caller.subject());
  f.set_update_time_unix_ms(Now());
  Planned<cv1::TrustFloor> out;
  out.write.floor = f;
  out.result = f;
  return out;
}

// ---------------------------------------------------------------------------
// The access decision.

absl::StatusOr<cv1::CheckAccessResponse> Catalogue::CheckAccess(
    const Principal& caller, const cv1::CheckAccessRequest& req) {
  ASSIGN_OR_RETURN(cv1::CheckAccessResponse resp, Decide(req));
  // The decision is about the user; who asked is kept alongside.
  Principal subject;
  subject.set_kind(Principal::USER);
  subject.set_subject(req.principal());
  subject.set_request_id(caller.request_id());
  std::vector<std::string> resources = {req.project()};
  for (const auto& a : req.access()) resources.push_back(a.dataset());
  int columns = 0;
  for (const auto& a : req.access()) columns += a.columns_size();
  absl::Status audited =
      Audit(subject, "catalogue.access.check", resources,
            resp.allowed() ? common::v1::ALLOW : common::v1::DENY, resp.reason(), req.project(),
            {{"asked_by", caller.subject()}, {"columns", absl::StrCat(columns)}});
  if (!audited.ok()) {
    // Fail closed: an unrecorded decision is no decision.
    return absl::UnavailableError(
        absl::StrCat("audit log unavailable, no access decision made: ", audited.message()));
  }
  return resp;
}

absl::StatusOr<cv1::CheckAccessResponse> Catalogue::Decide(
    const cv1::CheckAccessRequest& req) const {
  ASSIGN_OR_RETURN(std::string user_id, IdFromName(req.principal(), kUsers, "principal"));
  ASSIGN_OR_RETURN(std::string project_id, IdFromName(req.project(), kProjects, "project"));
  for (int i = 0; i < req.access_size(); ++i) {
    RETURN_IF_ERROR(
        IdFromName(req.access(i).dataset(), kDatasets, absl::StrCat("access[", i, "].dataset"))
            .status());
  }
  cv1::CheckAccessResponse resp;
  auto deny = [&](std::string reason) {
    resp.set_allowed(false);
    resp.set_reason(std::move(reason));
    return resp;
  };
  auto stored = store_->GetProject(project_id);
  if (absl::IsNotFound(stored.status())) return deny("unknown project");
  RETURN_IF_ERROR(stored.status());
  const cv1::Project p = View(*std::move(stored));
  ASSIGN_OR_RETURN(cv1::TrustFloor floor, GetTrustFloor());
  *resp.mutable_project() = p;
  *resp.mutable_disclosure() = EffectiveSettings(p.disclosure(), floor.settings());
  switch (p.state()) {
    case cv1::Project::APPROVED:
      break;
    case cv1::Project::EXPIRED:
      return deny("project expired: its end date has passed");
    case cv1::Project::SUSPENDED:
      return deny("project suspended");
    case cv1::Project::CLOSED:
      return deny("project closed");
    default:
      return deny("project not approved");
  }
  auto start = ParseDate(p.dates().start_date(), "start_date");
  if (start.ok() && DayOf(Now()) < *start) return deny("project not started: before its start date");
  if (!IsMember(p, req.principal())) return deny("not a member of the project");
  auto user = store_->GetUser(user_id);
  if (absl::IsNotFound(user.status())) return deny("unknown user");
  RETURN_IF_ERROR(user.status());
  if (!user->active()) return deny("user inactive");
  if (!HasAccreditation(user->accreditation())) return deny("accreditation missing");
  if (!AccreditationCurrent(user->accreditation(), DayOf(Now()))) {
    return deny("accreditation lapsed");
  }
  for (const auto& a : req.access()) {
    const cv1::ApprovedDataset* approved = nullptr;
    for (const auto& d : p.datasets()) {
      if (d.dataset() == a.dataset()) approved = &d;
    }
    if (approved == nullptr) {
      return deny(absl::StrCat("dataset not approved for the project: ", a.dataset()));
    }
    for (const auto& col : a.columns()) {
      if (std::find(approved->columns().begin(), approved->columns().end(), col) ==
          approved->columns().end()) {
        return deny(
            absl::StrCat("column not approved for the project: '", col, "' of ", a.dataset()));
      }
    }
  }
  resp.set_allowed(true);
  resp.set_reason("allowed");
  return resp;
}

// ---------------------------------------------------------------------------
// Records of processing (GDPR Art. 30).

absl::StatusOr<cv1::RecordsOfProcessing> Catalogue::GetRecordsOfProcessing(
    const cv1::GetRecordsOfProcessingRequest& req) const {
  if (!req.dataset().empty() && !req.project().empty()) {
    return absl::InvalidArgumentError("give one of dataset or project, or neither for all");
  }
  ASSIGN_OR_RETURN(auto projects, store_->ListProjects());
  std::vector<cv1::Dataset> datasets;
  if (!req.dataset().empty()) {
    ASSIGN_OR_RETURN(cv1::Dataset d, GetDataset(req.dataset()));
    datasets.push_back(std::move(d));
  } else if (req.project().empty()) {
    ASSIGN_OR_RETURN(datasets, store_->ListDatasets());
  }
  const std::vector<std::string> kMeasures = {
      "data held only inside the lab; researchers reach the gateway only",
      "OIDC authentication, role-based access, approved projects only",
      "mTLS between services with signed identity assertions",
      "tamper-evident audit log of every decision and change"};
  cv1::RecordsOfProcessing out;
  std::map<std::string, cv1::Dataset> by_name;
  for (const auto& d : datasets) {
    by_name[d.name()] = d;
    cv1::ProcessingRecord* r = out.add_records();
    r->set_resource(d.name());
    r->set_purpose(absl::StrCat("trust-held data for approved analysis: ", d.title()));
    r->set_lawful_basis(d.lawful_basis());
    r->set_special_category(d.special_category());
    r->set_retention_days(d.retention_days());
    auto schema = store_->GetSchema(d.name().substr(9), d.current_schema_version());
    if (schema.ok()) {
      std::map<std::string, std::vector<std::string>> categories;
      for (const auto& c : schema->columns()) {
        if (c.treatment() == common::v1::DROP) continue;
        std::string what = common::v1::Classification_Name(c.classification());
        if (c.treatment() != common::v1::KEEP) {
          absl::StrAppend(&what, " (", common::v1::Treatment_Name(c.treatment()), ")");
        }
        categories[what].push_back(c.name());
        if (c.classification() == common::v1::SPECIAL_CATEGORY) r->set_special_category(true);
      }
      for (const auto& [what, cols] : categories) {
        r->add_data_categories(absl::StrCat(what, ": ", absl::StrJoin(cols, ", ")));
      }
    }
    for (const auto& p : projects) {
      for (const auto& a : p.datasets()) {
        if (a.dataset() == d.name() && (p.state() == cv1::Project::APPROVED ||
                                        p.state() == cv1::Project::SUSPENDED)) {
          r->add_recipients(absl::StrCat("aggregate outputs to ", p.name()));
        }
      }
    }
    for (const auto& m : kMeasures) r->add_security_measures(m);
    r->add_security_measures(
        "direct identifiers dropped or replaced by keyed pseudonyms on ingest");
    r->add_security_measures("statistical disclosure control on every output");
  }
  for (const auto& p : projects) {
    if (!req.dataset().empty()) break;
    if (!req.project().empty() && p.name() != req.project()) continue;
    cv1::ProcessingRecord* r = out.add_records();
    r->set_resource(p.name());
    r->set_purpose(p.purpose());
    r->set_lawful_basis(p.lawful_basis());
    int32_t retention = 0;
    for (const auto& a : p.datasets()) {
      r->add_data_categories(absl::StrCat(a.dataset(), ": ", absl::StrJoin(a.columns(), ", ")));
      auto d = store_->GetDataset(a.dataset().substr(9));
      if (d.ok()) {
        retention = std::max(retention, d->retention_days());
        if (d->special_category()) r->set_special_category(true);
      }
    }
    r->set_retention_days(retention);
    r->add_recipients(absl::StrCat(p.lead(), " (lead)"));
    for (const auto& m : p.members()) r->add_recipients(m);
    for (const auto& m : kMeasures) r->add_security_measures(m);
    ASSIGN_OR_RETURN(cv1::TrustFloor floor, GetTrustFloor());
    const DisclosureSettings e = EffectiveSettings(p.disclosure(), floor.settings());
    r->add_security_measures(absl::StrCat(
        "aggregate outputs only: threshold ", e.threshold(), ", rounding to base ",
        e.rounding_base(), ", dominance n=", e.dominance_n(), " k=", e.dominance_k_percent(),
        "%, p=", e.p_percent(), "%"));
  }
  if (!req.project().empty() && out.records_size() == 0) {
    ASSIGN_OR_RETURN(std::string id, IdFromName(req.project(), kProjects, "project"));
    (void)id;
    return absl::NotFoundError(absl::StrCat(req.project(), " not found"));
  }
  out.set_generate_time_unix_ms(Now());
  return out;
}

}  // namespace datalab::catalogue
