#include "services/catalogue/catalogue_store.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status/status_macros.h"

namespace datalab::catalogue {
namespace {

constexpr char kFloorKey[] = "floor";
constexpr char kRequestPrefix[] = "request/";

// The last segment of "datasets/x", "datasets/x/schemas/3", "users/u", ...
std::string LastSegment(const std::string& name) {
  size_t slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

// "datasets/{id}/..." -> id.
std::string DatasetIdOf(const std::string& name) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  return parts.size() >= 2 ? parts[1] : std::string();
}

// "users/{sub}" -> sub (the subject may itself contain '/').
std::string AfterCollection(const std::string& name) {
  size_t slash = name.find('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

template <typename T>
absl::StatusOr<T> Parse(std::string_view bytes, std::string_view what) {
  T msg;
  if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    return absl::DataLossError(absl::StrCat("catalogue store: unparsable ", std::string(what)));
  }
  return msg;
}

}  // namespace

std::string_view TableName(Table t) {
  switch (t) {
    case Table::kDatasets: return "datasets";
    case Table::kSchemas: return "schemas";
    case Table::kVersions: return "versions";
    case Table::kProjects: return "projects";
    case Table::kUsers: return "users";
    case Table::kMeta: return "meta";
  }
  return "meta";
}

std::string VersionedKey(std::string_view dataset_id, int32_t version) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%010d", version);
  return absl::StrCat(std::string(dataset_id), "/", buf);
}

absl::Status CatalogueStore::Apply(const CatalogueWrite& w) {
  std::vector<RawPut> puts;
  for (const auto& d : w.datasets) {
    puts.push_back({Table::kDatasets, LastSegment(d.name()), d.SerializeAsString()});
  }
  for (const auto& s : w.schemas) {
    puts.push_back({Table::kSchemas, VersionedKey(DatasetIdOf(s.name()), s.version()),
                    s.SerializeAsString()});
  }
  for (const auto& v : w.versions) {
    puts.push_back({Table::kVersions, VersionedKey(DatasetIdOf(v.name()), v.version()),
                    v.SerializeAsString()});
  }
  for (const auto& p : w.projects) {
    puts.push_back({Table::kProjects, AfterCollection(p.name()), p.SerializeAsString()});
  }
  for (const auto& u : w.users) {
    puts.push_back({Table::kUsers, AfterCollection(u.name()), u.SerializeAsString()});
  }
  if (w.floor.has_value()) {
    puts.push_back({Table::kMeta, kFloorKey, w.floor->SerializeAsString()});
  }
  for (const auto& [id, version] : w.request_ids) {
    puts.push_back({Table::kMeta, absl::StrCat(kRequestPrefix, id), version});
  }
  if (puts.empty()) return absl::OkStatus();
  return WriteRaw(puts);
}

absl::StatusOr<cv1::Dataset> CatalogueStore::GetDataset(std::string_view id) const {
  ASSIGN_OR_RETURN(std::string raw, GetRaw(Table::kDatasets, id));
  return Parse<cv1::Dataset>(raw, "dataset");
}

absl::StatusOr<std::vector<cv1::Dataset>> CatalogueStore::ListDatasets() const {
  std::vector<cv1::Dataset> out;
  absl::Status parse = absl::OkStatus();
  RETURN_IF_ERROR(ScanRaw(Table::kDatasets, "", [&](std::string_view, std::string_view v) {
    auto d = Parse<cv1::Dataset>(v, "dataset");
    if (!d.ok()) parse = d.status(); else out.push_back(*std::move(d));
  }));
  RETURN_IF_ERROR(parse);
  return out;
}

absl::StatusOr<cv1::Schema> CatalogueStore::GetSchema(std::string_view dataset_id,
                                                      int32_t version) const {
  ASSIGN_OR_RETURN(std::string raw, GetRaw(Table::kSchemas, VersionedKey(dataset_id, version)));
  return Parse<cv1::Schema>(raw, "schema");
}

absl::StatusOr<std::vector<cv1::Schema>> CatalogueStore::ListSchemas(
    std::string_view dataset_id) const {
  std::vector<cv1::Schema> out;
  absl::Status parse = absl::OkStatus();
  RETURN_IF_ERROR(ScanRaw(Table::kSchemas, absl::StrCat(std::string(dataset_id), "/"),
                          [&](std::string_view, std::string_view v) {
                            auto s = Parse<cv1::Schema>(v, "schema");
                            if (!s.ok()) parse = s.status(); else out.push_back(*std::move(s));
                          }));
  RETURN_IF_ERROR(parse);
  return out;
}

absl::StatusOr<cv1::DatasetVersion> CatalogueStore::GetVersion(std::string_view dataset_id,
                                                               int32_t version) const {
  ASSIGN_OR_RETURN(std::string raw, GetRaw(Table::kVersions, VersionedKey(dataset_id, version)));
  return Parse<cv1::DatasetVersion>(raw, "dataset version");
}

absl::StatusOr<std::vector<cv1::DatasetVersion>> CatalogueStore::ListVersions(
    std::string_view dataset_id) const {
  std::vector<cv1::DatasetVersion> out;
  absl::Status parse = absl::OkStatus();
  RETURN_IF_ERROR(ScanRaw(Table::kVersions, absl::StrCat(std::string(dataset_id), "/"),
                          [&](std::string_view, std::string_view v) {
                            auto s = Parse<cv1::DatasetVersion>(v, "dataset version");
                            if (!s.ok()) parse = s.status(); else out.push_back(*std::move(s));
                          }));
  RETURN_IF_ERROR(parse);
  return out;
}

absl::StatusOr<cv1::Project> CatalogueStore::GetProject(std::string_view id) const {
  ASSIGN_OR_RETURN(std::string raw, GetRaw(Table::kProjects, id));
  return Parse<cv1::Project>(raw, "project");
}

absl::StatusOr<std::vector<cv1::Project>> CatalogueStore::ListProjects() const {
  std::vector<cv1::Project> out;
  absl::Status parse = absl::OkStatus();
  RETURN_IF_ERROR(ScanRaw(Table::kProjects, "", [&](std::string_view, std::string_view v) {
    auto p = Parse<cv1::Project>(v, "project");
    if (!p.ok()) parse = p.status(); else out.push_back(*std::move(p));
  }));
  RETURN_IF_ERROR(parse);
  return out;
}

absl::StatusOr<cv1::User> CatalogueStore::GetUser(std::string_view id) const {
  ASSIGN_OR_RETURN(std::string raw, GetRaw(Table::kUsers, id));
  return Parse<cv1::User>(raw, "user");
}

absl::StatusOr<std::vector<cv1::User>> CatalogueStore::ListUsers() const {
  std::vector<cv1::User> out;
  absl::Status parse = absl::OkStatus();
  RETURN_IF_ERROR(ScanRaw(Table::kUsers, "", [&](std::string_view, std::string_view v) {
    auto u = Parse<cv1::User>(v, "user");
    if (!u.ok()) parse = u.status(); else out.push_back(*std::move(u));
  }));
  RETURN_IF_ERROR(parse);
  return out;
}

absl::StatusOr<std::optional<cv1::TrustFloor>> CatalogueStore::GetTrustFloor() const {
  auto raw = GetRaw(Table::kMeta, kFloorKey);
  if (absl::IsNotFound(raw.status())) return std::optional<cv1::TrustFloor>();
  RETURN_IF_ERROR(raw.status());
  ASSIGN_OR_RETURN(cv1::TrustFloor f, Parse<cv1::TrustFloor>(*raw, "trust floor"));
  return std::optional<cv1::TrustFloor>(std::move(f));
}

absl::StatusOr<std::optional<std::string>> CatalogueStore::GetRequest(
    std::string_view request_id) const {
  auto raw = GetRaw(Table::kMeta, absl::StrCat(kRequestPrefix, std::string(request_id)));
  if (absl::IsNotFound(raw.status())) return std::optional<std::string>();
  RETURN_IF_ERROR(raw.status());
  return std::optional<std::string>(*std::move(raw));
}

}  // namespace datalab::catalogue
