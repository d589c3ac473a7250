// `datalab catalogue ...`, `datalab projects ...`, `datalab users ...` and
// `datalab floor ...`: the catalogue service through the gateway. Datasets,
// schemas and projects load from JSON or YAML files (the request messages of
// datalab.catalogue.v1; examples in services/catalogue/examples/). Output is
// an aligned table by default, the response as JSON with --json.
#include <google/protobuf/util/json_util.h>

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "services/catalogue/message_files.h"
#include "tools/cli/cli.h"

namespace datalab::cli {
namespace {

namespace cv1 = ::datalab::catalogue::v1;
namespace c = ::datalab::common::v1;
using Client = cv1::CatalogueService::Stub;  // gRPC's generated client

using Session = GatewaySession<cv1::CatalogueService>;

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

void Table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    if (width.size() < r.size()) width.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

// Prints the response as JSON, or calls `table` for the default view.
int Print(Session& s, const google::protobuf::Message& m, const std::function<void()>& table) {
  if (s.args.Has("json")) {
    s.out << Json(m) << "\n";
  } else {
    table();
  }
  return kOk;
}

std::string WithPrefix(const std::string& prefix, const std::string& v) {
  return absl::StartsWith(v, prefix) ? v : prefix + v;
}

absl::StatusOr<std::string> Positional(const Args& a, size_t i, const char* what) {
  if (a.positionals().size() <= i) {
    return UsageError(absl::StrCat("missing ", what));
  }
  return a.positionals()[i];
}

template <typename E>
absl::Status ParseEnum(const Args& a, const std::string& flag,
                       bool (*parse)(const std::string&, E*), E* out) {
  auto v = a.Get(flag);
  if (!v) return absl::OkStatus();
  if (!parse(absl::AsciiStrToUpper(*v), out)) {
    return UsageError(absl::StrCat("--", flag, ": unknown value '", *v, "'"));
  }
  return absl::OkStatus();
}

absl::Status IntFlag(const Args& a, const std::string& flag, int32_t* out) {
  absl::StatusOr<int> v = a.GetInt(flag, *out);
  if (!v.ok()) return v.status();
  *out = *v;
  return absl::OkStatus();
}

absl::Status DoubleFlag(const Args& a, const std::string& flag, double* out) {
  auto v = a.Get(flag);
  if (v && !absl::SimpleAtod(*v, out)) {
    return UsageError(absl::StrCat("--", flag, ": not a number"));
  }
  return absl::OkStatus();
}

// The body of a command: returns a status, or kOk after printing.
using Body = std::function<absl::StatusOr<int>(Session&)>;

std::function<int(const Args&, std::ostream&, std::ostream&)> Run(Body body) {
  return WithSession<cv1::CatalogueService>(std::move(body));
}

#define CLI_RETURN_IF_ERROR(expr)            \
  do {                                       \
    absl::Status st_ = (expr);               \
    if (!st_.ok()) return st_;               \
  } while (0)

// --- catalogue ---------------------------------------------------------------

template <typename Req>
absl::Status Filters(const Args& a, Req* r) {
  cv1::Topic topic = cv1::TOPIC_UNSPECIFIED;
  cv1::SourceSystem source = cv1::SOURCE_SYSTEM_UNSPECIFIED;
  c::SubjectKind kind = c::SUBJECT_KIND_UNSPECIFIED;
  CLI_RETURN_IF_ERROR(ParseEnum(a, "topic", &cv1::Topic_Parse, &topic));
  CLI_RETURN_IF_ERROR(ParseEnum(a, "source", &cv1::SourceSystem_Parse, &source));
  CLI_RETURN_IF_ERROR(ParseEnum(a, "subject-kind", &c::SubjectKind_Parse, &kind));
  r->set_topic(topic);
  r->set_source_system(source);
  r->set_subject_kind(kind);
  r->set_school(a.GetOr("school", ""));
  int32_t size = 0;
  CLI_RETURN_IF_ERROR(IntFlag(a, "page-size", &size));
  r->set_page_size(size);
  r->set_page_token(a.GetOr("page-token", ""));
  return absl::OkStatus();
}

void DatasetTable(Session& s, const cv1::ListDatasetsResponse& resp) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "TITLE", "TOPIC", "SOURCE", "SUBJECT",
                                                 "SCHEMA", "VERSION"}};
  for (const auto& d : resp.datasets()) {
    rows.push_back({d.name(), d.title(), cv1::Topic_Name(d.topic()),
                    cv1::SourceSystem_Name(d.source_system()),
                    c::SubjectKind_Name(d.subject_kind()), absl::StrCat(d.current_schema_version()),
                    absl::StrCat(d.latest_version())});
  }
  Table(s.out, rows);
  if (!resp.next_page_token().empty()) {
    s.out << "more: --page-token " << resp.next_page_token() << "\n";
  }
}

absl::StatusOr<int> CatalogueSearch(Session& s) {
  cv1::SearchDatasetsRequest r;
  r.set_query(absl::StrJoin(s.args.positionals(), " "));
  CLI_RETURN_IF_ERROR(Filters(s.args, &r));
  cv1::ListDatasetsResponse resp;
  CLI_RETURN_IF_ERROR(s.Call(&Client::SearchDatasets, r, &resp));
  return Print(s, resp, [&] { DatasetTable(s, resp); });
}

absl::StatusOr<int> CatalogueList(Session& s) {
  cv1::ListDatasetsRequest r;
  CLI_RETURN_IF_ERROR(Filters(s.args, &r));
  cv1::ListDatasetsResponse resp;
  CLI_RETURN_IF_ERROR(s.Call(&Client::ListDatasets, r, &resp));
  return Print(s, resp, [&] { DatasetTable(s, resp); });
}

void SchemaTable(Session& s, const cv1::Schema& schema) {
  s.out << schema.name() << "\n";
  std::vector<std::vector<std::string>> rows = {
      {"COLUMN", "TYPE", "CLASSIFICATION", "TREATMENT", "KEY", "REQUIRED", "CODES"}};
  for (const auto& col : schema.columns()) {
    std::vector<std::string> codes;
    for (const auto& code : col.codes()) codes.push_back(code.code());
    std::string key = col.subject_key() ? "subject" : (col.period_key() ? "period" : "");
    rows.push_back({col.name(), c::ColumnType_Name(col.type()),
                    c::Classification_Name(col.classification()),
                    c::Treatment_Name(col.treatment()), key, col.required() ? "yes" : "",
                    absl::StrJoin(codes, ",")});
  }
  Table(s.out, rows);
}

absl::StatusOr<int> CatalogueShow(Session& s) {
  auto id = Positional(s.args, 0, "DATASET");
  if (!id.ok()) return id.status();
  cv1::GetDatasetRequest g;
  g.set_name(WithPrefix("datasets/", *id));
  cv1::Dataset d;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetDataset, g, &d));
  cv1::GetSchemaRequest gs;
  gs.set_name(d.name() + "/schemas/latest");
  cv1::Schema schema;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetSchema, gs, &schema));
  if (s.args.Has("json")) {
    s.out << Json(d) << "\n" << Json(schema) << "\n";
    return kOk;
  }
  Table(s.out, {{"name", d.name()},
                {"title", d.title()},
                {"description", d.description()},
                {"owner", d.owner()},
                {"source", cv1::SourceSystem_Name(d.source_system())},
                {"topic", cv1::Topic_Name(d.topic())},
                {"tags", absl::StrJoin(d.tags(), ", ")},
                {"subject", c::SubjectKind_Name(d.subject_kind())},
                {"identifier domain", d.identifier_domain()},
                {"lawful basis", d.lawful_basis()},
                {"special category", d.special_category() ? "yes" : "no"},
                {"retention days", absl::StrCat(d.retention_days())},
                {"latest version", absl::StrCat(d.latest_version())}});
  s.out << "\n";
  SchemaTable(s, schema);
  return kOk;
}

absl::StatusOr<std::string> FileFlag(const Args& a) {
  auto f = a.Get("file");
  if (!f) return UsageError("--file FILE (JSON or YAML) is required");
  return *f;
}

absl::StatusOr<int> CatalogueCreate(Session& s) {
  auto file = FileFlag(s.args);
  if (!file.ok()) return file.status();
  cv1::CreateDatasetRequest r;
  CLI_RETURN_IF_ERROR(catalogue::LoadMessageFile(*file, &r));
  cv1::Dataset d;
  CLI_RETURN_IF_ERROR(s.Call(&Client::CreateDataset, r, &d));
  return Print(s, d, [&] { s.out << "created " << d.name() << " (schema version 1)\n"; });
}

absl::StatusOr<int> SchemaShow(Session& s) {
  auto id = Positional(s.args, 0, "DATASET");
  if (!id.ok()) return id.status();
  cv1::GetSchemaRequest g;
  g.set_name(absl::StrCat(WithPrefix("datasets/", *id), "/schemas/",
                          s.args.GetOr("version", "latest")));
  cv1::Schema schema;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetSchema, g, &schema));
  return Print(s, schema, [&] { SchemaTable(s, schema); });
}

absl::StatusOr<int> SchemaCreate(Session& s) {
  auto id = Positional(s.args, 0, "DATASET");
  if (!id.ok()) return id.status();
  auto file = FileFlag(s.args);
  if (!file.ok()) return file.status();
  cv1::CreateSchemaVersionRequest r;
  r.set_parent(WithPrefix("datasets/", *id));
  CLI_RETURN_IF_ERROR(catalogue::LoadMessageFile(*file, r.mutable_schema()));
  cv1::Schema schema;
  CLI_RETURN_IF_ERROR(s.Call(&Client::CreateSchemaVersion, r, &schema));
  return Print(s, schema, [&] { s.out << "created " << schema.name() << "\n"; });
}

absl::StatusOr<int> SchemaList(Session& s) {
  auto id = Positional(s.args, 0, "DATASET");
  if (!id.ok()) return id.status();
  cv1::ListSchemaVersionsRequest r;
  r.set_parent(WithPrefix("datasets/", *id));
  cv1::ListSchemaVersionsResponse resp;
  CLI_RETURN_IF_ERROR(s.Call(&Client::ListSchemaVersions, r, &resp));
  return Print(s, resp, [&] {
    std::vector<std::vector<std::string>> rows = {{"SCHEMA", "COLUMNS"}};
    for (const auto& sc : resp.schemas()) rows.push_back({sc.name(), absl::StrCat(sc.columns_size())});
    Table(s.out, rows);
  });
}

absl::StatusOr<int> CatalogueQuality(Session& s) {
  auto id = Positional(s.args, 0, "DATASET");
  if (!id.ok()) return id.status();
  cv1::GetQualityTrendRequest r;
  r.set_dataset(WithPrefix("datasets/", *id));
  cv1::QualityTrend t;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetQualityTrend, r, &t));
  return Print(s, t, [&] {
    std::vector<std::vector<std::string>> rows = {
        {"VERSION", "PERIOD", "ROWS", "SUBJECTS", "RATING", "SCORE"}};
    for (const auto& v : t.versions()) {
      rows.push_back({v.name(), absl::StrCat(v.period().start_date(), "..", v.period().end_date()),
                      absl::StrCat(v.row_count()), absl::StrCat(v.distinct_subjects()),
                      v.quality().rating(), absl::StrCat(v.quality().score())});
    }
    Table(s.out, rows);
  });
}

absl::StatusOr<int> CatalogueRecords(Session& s) {
  cv1::GetRecordsOfProcessingRequest r;
  if (auto d = s.args.Get("dataset")) r.set_dataset(WithPrefix("datasets/", *d));
  if (auto p = s.args.Get("project")) r.set_project(WithPrefix("projects/", *p));
  cv1::RecordsOfProcessing rec;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetRecordsOfProcessing, r, &rec));
  return Print(s, rec, [&] {
    for (const auto& x : rec.records()) {
      Table(s.out, {{"resource", x.resource()},
                    {"purpose", x.purpose()},
                    {"lawful basis", x.lawful_basis()},
                    {"special category", x.special_category() ? "yes" : "no"},
                    {"categories", absl::StrJoin(x.data_categories(), "; ")},
                    {"recipients", absl::StrJoin(x.recipients(), "; ")},
                    {"retention days", absl::StrCat(x.retention_days())},
                    {"security", absl::StrJoin(x.security_measures(), "; ")}});
      s.out << "\n";
    }
  });
}

// --- projects ---------------------------------------------------------------------

void ProjectView(Session& s, const cv1::Project& p) {
  std::vector<std::vector<std::string>> rows = {
      {"name", p.name()},
      {"title", p.title()},
      {"state", cv1::Project::State_Name(p.state())},
      {"purpose", p.purpose()},
      {"lead", p.lead()},
      {"members", absl::StrJoin(p.members(), ", ")},
      {"dates", absl::StrCat(p.dates().start_date(), " .. ", p.dates().end_date())},
      {"lawful basis", p.lawful_basis()},
      {"approved by", p.approved_by()},
      {"disclosure", absl::StrCat("threshold ", p.disclosure().threshold(), ", rounding ",
                                  p.disclosure().rounding_base(), ", dominance n=",
                                  p.disclosure().dominance_n(), " k=",
                                  p.disclosure().dominance_k_percent(), "%, p=",
                                  p.disclosure().p_percent(), "%")}};
  for (const auto& a : p.datasets()) {
    rows.push_back({"dataset", absl::StrCat(a.dataset(), ": ", absl::StrJoin(a.columns(), ", "))});
  }
  if (!p.state_reason().empty()) rows.push_back({"reason", p.state_reason()});
  Table(s.out, rows);
}

absl::StatusOr<int> ProjectsCreate(Session& s) {
  auto file = FileFlag(s.args);
  if (!file.ok()) return file.status();
  cv1::CreateProjectRequest r;
  CLI_RETURN_IF_ERROR(catalogue::LoadMessageFile(*file, &r));
  cv1::Project p;
  CLI_RETURN_IF_ERROR(s.Call(&Client::CreateProject, r, &p));
  return Print(s, p, [&] { ProjectView(s, p); });
}

absl::StatusOr<int> ProjectsShow(Session& s) {
  auto id = Positional(s.args, 0, "PROJECT");
  if (!id.ok()) return id.status();
  cv1::GetProjectRequest r;
  r.set_name(WithPrefix("projects/", *id));
  cv1::Project p;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetProject, r, &p));
  return Print(s, p, [&] { ProjectView(s, p); });
}

absl::StatusOr<int> ProjectsList(Session& s) {
  cv1::ListProjectsRequest r;
  cv1::Project::State state = cv1::Project::STATE_UNSPECIFIED;
  CLI_RETURN_IF_ERROR(ParseEnum(s.args, "state", &cv1::Project::State_Parse, &state));
  r.set_state(state);
  if (auto m = s.args.Get("member")) r.set_member(WithPrefix("users/", *m));
  int32_t size = 0;
  CLI_RETURN_IF_ERROR(IntFlag(s.args, "page-size", &size));
  r.set_page_size(size);
  r.set_page_token(s.args.GetOr("page-token", ""));
  cv1::ListProjectsResponse resp;
  CLI_RETURN_IF_ERROR(s.Call(&Client::ListProjects, r, &resp));
  return Print(s, resp, [&] {
    std::vector<std::vector<std::string>> rows = {{"NAME", "TITLE", "STATE", "LEAD", "END"}};
    for (const auto& p : resp.projects()) {
      rows.push_back({p.name(), p.title(), cv1::Project::State_Name(p.state()), p.lead(),
                      p.dates().end_date()});
    }
    Table(s.out, rows);
    if (!resp.next_page_token().empty()) {
      s.out << "more: --page-token " << resp.next_page_token() << "\n";
    }
  });
}

absl::StatusOr<int> ProjectsApprove(Session& s) {
  auto id = Positional(s.args, 0, "PROJECT");
  if (!id.ok()) return id.status();
  cv1::ApproveProjectRequest r;
  r.set_name(WithPrefix("projects/", *id));
  r.set_comment(s.args.GetOr("comment", ""));
  cv1::Project p;
  CLI_RETURN_IF_ERROR(s.Call(&Client::ApproveProject, r, &p));
  return Print(s, p, [&] { ProjectView(s, p); });
}

absl::StatusOr<int> ProjectsSuspend(Session& s) {
  auto id = Positional(s.args, 0, "PROJECT");
  if (!id.ok()) return id.status();
  cv1::SuspendProjectRequest r;
  r.set_name(WithPrefix("projects/", *id));
  r.set_reason(s.args.GetOr("reason", ""));
  cv1::Project p;
  CLI_RETURN_IF_ERROR(s.Call(&Client::SuspendProject, r, &p));
  return Print(s, p, [&] { ProjectView(s, p); });
}

absl::StatusOr<int> ProjectsClose(Session& s) {
  auto id = Positional(s.args, 0, "PROJECT");
  if (!id.ok()) return id.status();
  cv1::CloseProjectRequest r;
  r.set_name(WithPrefix("projects/", *id));
  r.set_reason(s.args.GetOr("reason", ""));
  cv1::Project p;
  CLI_RETURN_IF_ERROR(s.Call(&Client::CloseProject, r, &p));
  return Print(s, p, [&] { ProjectView(s, p); });
}

absl::StatusOr<int> ProjectsMember(Session& s, bool add) {
  auto id = Positional(s.args, 0, "PROJECT");
  if (!id.ok()) return id.status();
  auto user = Positional(s.args, 1, "USER");
  if (!user.ok()) return user.status();
  cv1::Project p;
  if (add) {
    cv1::AddProjectMemberRequest r;
    r.set_name(WithPrefix("projects/", *id));
    r.set_member(WithPrefix("users/", *user));
    CLI_RETURN_IF_ERROR(s.Call(&Client::AddProjectMember, r, &p));
  } else {
    cv1::RemoveProjectMemberRequest r;
    r.set_name(WithPrefix("projects/", *id));
    r.set_member(WithPrefix("users/", *user));
    CLI_RETURN_IF_ERROR(s.Call(&Client::RemoveProjectMember, r, &p));
  }
  return Print(s, p, [&] { ProjectView(s, p); });
}

// --- users ----------------------------------------------------------------------------

void UserView(Session& s, const cv1::User& u) {
  std::vector<std::string> roles;
  for (int r : u.roles()) roles.push_back(absl::AsciiStrToLower(c::Role_Name(r)));
  Table(s.out, {{"name", u.name()},
                {"display name", u.display_name()},
                {"email", u.email()},
                {"organisation", u.organisation()},
                {"roles", absl::StrJoin(roles, ", ")},
                {"active", u.active() ? "yes" : "no"},
                {"accreditation", u.accreditation().scheme().empty()
                                      ? "none"
                                      : absl::StrCat(u.accreditation().scheme(), " (trained ",
                                                     u.accreditation().training_date(),
                                                     ", expires ", u.accreditation().expiry_date(),
                                                     ")")}});
}

// Fills `u` from flags; `mask` gets the field of every flag given.
absl::Status UserFlags(const Args& a, cv1::User* u, std::vector<std::string>* mask) {
  auto set = [&](const char* flag, const char* field, auto setter) {
    if (auto v = a.Get(flag)) {
      setter(*v);
      mask->push_back(field);
    }
  };
  set("display-name", "display_name", [&](const std::string& v) { u->set_display_name(v); });
  set("email", "email", [&](const std::string& v) { u->set_email(v); });
  set("organisation", "organisation", [&](const std::string& v) { u->set_organisation(v); });
  if (auto v = a.Get("roles")) {
    for (absl::string_view r : absl::StrSplit(*v, ',', absl::SkipEmpty())) {
      c::Role role;
      if (!c::Role_Parse(absl::AsciiStrToUpper(std::string(r)), &role)) {
        return UsageError(absl::StrCat("--roles: unknown role '", std::string(r), "'"));
      }
      u->add_roles(role);
    }
    mask->push_back("roles");
  }
  if (a.Has("scheme") || a.Has("training-date") || a.Has("expiry-date")) {
    u->mutable_accreditation()->set_scheme(a.GetOr("scheme", ""));
    u->mutable_accreditation()->set_training_date(a.GetOr("training-date", ""));
    u->mutable_accreditation()->set_expiry_date(a.GetOr("expiry-date", ""));
    mask->push_back("accreditation");
  }
  if (auto v = a.Get("active")) {
    if (*v != "true" && *v != "false") return UsageError("--active: true or false");
    u->set_active(*v == "true");
    mask->push_back("active");
  }
  return absl::OkStatus();
}

absl::StatusOr<int> UsersCreate(Session& s) {
  auto id = Positional(s.args, 0, "USER (the OIDC subject)");
  if (!id.ok()) return id.status();
  cv1::CreateUserRequest r;
  r.set_user_id(absl::StartsWith(*id, "users/") ? id->substr(6) : *id);
  r.mutable_user()->set_active(true);  // --active=false to create disabled
  std::vector<std::string> mask;
  CLI_RETURN_IF_ERROR(UserFlags(s.args, r.mutable_user(), &mask));
  cv1::User u;
  CLI_RETURN_IF_ERROR(s.Call(&Client::CreateUser, r, &u));
  return Print(s, u, [&] { UserView(s, u); });
}

absl::StatusOr<int> UsersShow(Session& s) {
  auto id = Positional(s.args, 0, "USER");
  if (!id.ok()) return id.status();
  cv1::GetUserRequest r;
  r.set_name(WithPrefix("users/", *id));
  cv1::User u;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetUser, r, &u));
  return Print(s, u, [&] { UserView(s, u); });
}

absl::StatusOr<int> UsersList(Session& s) {
  cv1::ListUsersRequest r;
  int32_t size = 0;
  CLI_RETURN_IF_ERROR(IntFlag(s.args, "page-size", &size));
  r.set_page_size(size);
  r.set_page_token(s.args.GetOr("page-token", ""));
  cv1::ListUsersResponse resp;
  CLI_RETURN_IF_ERROR(s.Call(&Client::ListUsers, r, &resp));
  return Print(s, resp, [&] {
    std::vector<std::vector<std::string>> rows = {
        {"NAME", "DISPLAY NAME", "ROLES", "ACTIVE", "ACCREDITED UNTIL"}};
    for (const auto& u : resp.users()) {
      std::vector<std::string> roles;
      for (int r : u.roles()) roles.push_back(absl::AsciiStrToLower(c::Role_Name(r)));
      rows.push_back({u.name(), u.display_name(), absl::StrJoin(roles, ","),
                      u.active() ? "yes" : "no", u.accreditation().expiry_date()});
    }
    Table(s.out, rows);
    if (!resp.next_page_token().empty()) {
      s.out << "more: --page-token " << resp.next_page_token() << "\n";
    }
  });
}

absl::StatusOr<int> UsersUpdate(Session& s) {
  auto id = Positional(s.args, 0, "USER");
  if (!id.ok()) return id.status();
  cv1::UpdateUserRequest r;
  r.mutable_user()->set_name(WithPrefix("users/", *id));
  std::vector<std::string> mask;
  CLI_RETURN_IF_ERROR(UserFlags(s.args, r.mutable_user(), &mask));
  if (mask.empty()) return UsageError("nothing to update: give at least one field flag");
  for (const auto& m : mask) r.add_update_mask(m);
  cv1::User u;
  CLI_RETURN_IF_ERROR(s.Call(&Client::UpdateUser, r, &u));
  return Print(s, u, [&] { UserView(s, u); });
}

// --- floor ------------------------------------------------------------------------------

void FloorView(Session& s, const cv1::TrustFloor& f) {
  const auto& d = f.settings();
  Table(s.out, {{"threshold", absl::StrCat(d.threshold())},
                {"rounding base", absl::StrCat(d.rounding_base())},
                {"dominance", absl::StrCat("n=", d.dominance_n(), " k=", d.dominance_k_percent(), "%")},
                {"p%", absl::StrCat(d.p_percent())},
                {"epsilon budget cap", d.epsilon_budget() > 0 ? absl::StrCat(d.epsilon_budget()) : "none"},
                {"updated by", f.updated_by().empty() ? "(defaults)" : f.updated_by()}});
}

absl::StatusOr<int> FloorShow(Session& s) {
  cv1::TrustFloor f;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetTrustFloor, cv1::GetTrustFloorRequest(), &f));
  return Print(s, f, [&] { FloorView(s, f); });
}

absl::StatusOr<int> FloorSet(Session& s) {
  // Start from the current floor so only the given fields change.
  cv1::TrustFloor current;
  CLI_RETURN_IF_ERROR(s.Call(&Client::GetTrustFloor, cv1::GetTrustFloorRequest(), &current));
  cv1::SetTrustFloorRequest r;
  auto* d = r.mutable_floor()->mutable_settings();
  *d = current.settings();
  int32_t v = 0;
  double x = 0;
  if (s.args.Has("threshold")) { CLI_RETURN_IF_ERROR(IntFlag(s.args, "threshold", &v)); d->set_threshold(v); }
  if (s.args.Has("rounding-base")) { CLI_RETURN_IF_ERROR(IntFlag(s.args, "rounding-base", &v)); d->set_rounding_base(v); }
  if (s.args.Has("dominance-n")) { CLI_RETURN_IF_ERROR(IntFlag(s.args, "dominance-n", &v)); d->set_dominance_n(v); }
  if (s.args.Has("dominance-k")) { CLI_RETURN_IF_ERROR(DoubleFlag(s.args, "dominance-k", &x)); d->set_dominance_k_percent(x); }
  if (s.args.Has("p-percent")) { CLI_RETURN_IF_ERROR(DoubleFlag(s.args, "p-percent", &x)); d->set_p_percent(x); }
  if (s.args.Has("epsilon-budget")) { CLI_RETURN_IF_ERROR(DoubleFlag(s.args, "epsilon-budget", &x)); d->set_epsilon_budget(x); }
  if (s.args.Has("epsilon-per-query")) { CLI_RETURN_IF_ERROR(DoubleFlag(s.args, "epsilon-per-query", &x)); d->set_epsilon_per_query(x); }
  cv1::TrustFloor f;
  CLI_RETURN_IF_ERROR(s.Call(&Client::SetTrustFloor, r, &f));
  return Print(s, f, [&] { FloorView(s, f); });
}

constexpr char kFilters[] =
    "  --topic T (census, attendance, attainment, exclusions, sen, safeguarding, finance,\n"
    "             workforce, school_reference)  --source S (sims, arbor, bromcom, cpoms, epm,\n"
    "             dfe_open_data, other_source)  --subject-kind K (pupil, staff, school)\n"
    "  --school URN  --page-size N (default 50, max 500)  --page-token T  --json";

}  // namespace

void RegisterCatalogueCommands(Registry& r) {
  r.Add({"catalogue search", "search datasets by words in titles, descriptions, tags, columns",
         absl::StrCat("usage: datalab catalogue search WORDS... [filters]\n", kFilters),
         Run(CatalogueSearch)});
  r.Add({"catalogue list", "list datasets", absl::StrCat("usage: datalab catalogue list [filters]\n", kFilters),
         Run(CatalogueList)});
  r.Add({"catalogue show", "a dataset and its current schema",
         "usage: datalab catalogue show DATASET [--json]", Run(CatalogueShow)});
  r.Add({"catalogue create", "register a dataset and its first schema from a JSON/YAML file",
         "usage: datalab catalogue create --file FILE.yaml|FILE.json [--json]\n"
         "The file is a CreateDatasetRequest: dataset_id, dataset, schema\n"
         "(see services/catalogue/examples/census.yaml).",
         Run(CatalogueCreate)});
  r.Add({"catalogue schema show", "a schema version (default: the latest)",
         "usage: datalab catalogue schema show DATASET [--version N] [--json]", Run(SchemaShow)});
  r.Add({"catalogue schema create", "a new schema version from a JSON/YAML Schema file",
         "usage: datalab catalogue schema create DATASET --file FILE [--json]", Run(SchemaCreate)});
  r.Add({"catalogue schema list", "the schema versions of a dataset",
         "usage: datalab catalogue schema list DATASET [--json]", Run(SchemaList)});
  r.Add({"catalogue quality", "quality ratings of a dataset's versions, oldest first",
         "usage: datalab catalogue quality DATASET [--json]", Run(CatalogueQuality)});
  r.Add({"catalogue records", "GDPR Art. 30 records of processing",
         "usage: datalab catalogue records [--dataset D | --project P] [--json]",
         Run(CatalogueRecords)});

  r.Add({"projects create", "propose a project from a JSON/YAML file",
         "usage: datalab projects create --file FILE [--json]\n"
         "The file is a CreateProjectRequest: project_id, project (see\n"
         "services/catalogue/examples/project_disadvantage_gap.yaml).",
         Run(ProjectsCreate)});
  r.Add({"projects show", "a project", "usage: datalab projects show PROJECT [--json]",
         Run(ProjectsShow)});
  r.Add({"projects list", "projects you may see",
         "usage: datalab projects list [--state proposed|approved|suspended|closed|expired]\n"
         "  [--member USER] [--page-size N] [--page-token T] [--json]",
         Run(ProjectsList)});
  r.Add({"projects approve", "approve (or re-approve) a project",
         "usage: datalab projects approve PROJECT [--comment TEXT] [--json]\n"
         "Needs project_approver; the lead and members cannot approve.",
         Run(ProjectsApprove)});
  r.Add({"projects suspend", "suspend an approved project",
         "usage: datalab projects suspend PROJECT --reason TEXT [--json]", Run(ProjectsSuspend)});
  r.Add({"projects close", "close a project (final)",
         "usage: datalab projects close PROJECT --reason TEXT [--json]", Run(ProjectsClose)});
  r.Add({"projects add-member", "add a member to a project",
         "usage: datalab projects add-member PROJECT USER [--json]",
         Run([](Session& s) { return ProjectsMember(s, true); })});
  r.Add({"projects remove-member", "remove a member from a project",
         "usage: datalab projects remove-member PROJECT USER [--json]",
         Run([](Session& s) { return ProjectsMember(s, false); })});

  constexpr char kUserFlags[] =
      "  --display-name N --email E --organisation O --roles researcher,data_steward,...\n"
      "  --scheme S --training-date YYYY-MM-DD --expiry-date YYYY-MM-DD --active=true|false";
  r.Add({"users create", "register a user (USER is the OIDC subject)",
         absl::StrCat("usage: datalab users create USER --display-name N [fields] [--json]\n",
                      kUserFlags),
         Run(UsersCreate)});
  r.Add({"users show", "a user", "usage: datalab users show USER [--json]", Run(UsersShow)});
  r.Add({"users list", "users", "usage: datalab users list [--page-size N] [--page-token T] [--json]",
         Run(UsersList)});
  r.Add({"users update", "change a user's fields (only the flags given)",
         absl::StrCat("usage: datalab users update USER [fields] [--json]\n", kUserFlags),
         Run(UsersUpdate)});

  r.Add({"floor show", "the trust-wide disclosure floor", "usage: datalab floor show [--json]",
         Run(FloorShow)});
  r.Add({"floor set", "raise or change the trust floor (admin)",
         "usage: datalab floor set [--threshold N] [--rounding-base N] [--dominance-n N]\n"
         "  [--dominance-k PCT] [--p-percent PCT] [--epsilon-budget E] [--epsilon-per-query E]\n"
         "Fields not given keep their current value.",
         Run(FloorSet)});
}

}  // namespace datalab::cli
