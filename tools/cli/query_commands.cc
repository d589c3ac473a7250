// `datalab query`, `datalab history` and `datalab release show|export`: the
// query service through the gateway. Results print as an aligned table with
// the disclosure notes underneath (default), or as CSV / JSON.
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "datalab/query/v1/query.grpc.pb.h"
#include "services/query/release.h"
#include "tools/cli/cli.h"

namespace datalab::cli {
namespace {

namespace qv1 = ::datalab::query::v1;
using Client = qv1::QueryService::Stub;  // gRPC's generated client

using QSession = GatewaySession<qv1::QueryService>;

std::function<int(const Args&, std::ostream&, std::ostream&)> QRun(
    std::function<absl::StatusOr<int>(QSession&)> body) {
  return WithSession<qv1::QueryService>(std::move(body));
}

std::string ProjectName(const std::string& p) {
  return p.rfind("projects/", 0) == 0 ? p : "projects/" + p;
}

void AlignedTable(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
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

void PrintResult(QSession& s, const qv1::QueryResult& r) {
  if (s.args.Has("json")) {
    s.out << query::ExportJson(r);
    return;
  }
  if (s.args.Has("csv")) {
    s.out << query::ExportCsv(r);
  } else {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> header;
    for (const auto& c : r.columns()) header.push_back(c.name());
    rows.push_back(header);
    for (const auto& row : r.rows()) {
      std::vector<std::string> cells;
      for (const auto& c : row.cells()) cells.push_back(query::FormatCell(c));
      rows.push_back(std::move(cells));
    }
    AlignedTable(s.out, rows);
  }
  // Notes go under the table (stderr for CSV so the file stays clean).
  std::ostream& notes = s.args.Has("csv") ? s.err : s.out;
  if (!r.notes().empty()) notes << "\n";
  for (const auto& n : r.notes()) notes << "note: " << n.explanation() << "\n";
  if (!r.release().empty()) notes << "release: " << r.release() << "\n";
}

absl::StatusOr<int> QueryCmd(QSession& s) {
  auto project = s.args.Get("project");
  if (!project.has_value()) return UsageError("--project is required");
  std::string sql;
  if (auto file = s.args.Get("file")) {
    std::ifstream in(*file);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", *file));
    std::stringstream ss;
    ss << in.rdbuf();
    sql = ss.str();
  } else {
    sql = absl::StrJoin(s.args.positionals(), " ");
  }
  if (sql.empty()) return UsageError("give the SQL as an argument or with --file");
  qv1::RunQueryRequest req;
  req.set_project(ProjectName(*project));
  req.set_sql(sql);
  req.set_purpose(s.args.GetOr("purpose", ""));
  qv1::QueryResult r;
  auto st = s.Call(&Client::RunQuery, req, &r);
  if (!st.ok()) return st;
  PrintResult(s, r);
  return kOk;
}

absl::StatusOr<int> HistoryCmd(QSession& s) {
  auto project = s.args.Get("project");
  if (!project.has_value()) return UsageError("--project is required");
  qv1::ListQueryHistoryRequest req;
  req.set_project(ProjectName(*project));
  req.set_page_size(100);
  qv1::ListQueryHistoryResponse resp;
  auto st = s.Call(&Client::ListQueryHistory, req, &resp);
  if (!st.ok()) return st;
  if (s.args.Has("json")) {
    s.out << "[\n";
    for (int i = 0; i < resp.entries_size(); ++i) {
      const auto& e = resp.entries(i);
      s.out << "  {\"name\": \"" << e.name() << "\", \"time_unix_ms\": " << e.time_unix_ms()
            << ", \"status\": \"" << e.status() << "\", \"release\": \"" << e.release() << "\"}"
            << (i + 1 < resp.entries_size() ? "," : "") << "\n";
    }
    s.out << "]\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows = {{"time", "status", "release", "query"}};
  for (const auto& e : resp.entries()) {
    rows.push_back({absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(e.time_unix_ms()),
                                     absl::UTCTimeZone()),
                    e.status(), e.release().empty() ? e.reason() : e.release(), e.query_text()});
  }
  AlignedTable(s.out, rows);
  return kOk;
}

absl::StatusOr<int> ReleaseShow(QSession& s) {
  if (s.args.positionals().size() != 1) return UsageError("give one release name");
  qv1::GetReleaseRequest req;
  req.set_name(s.args.positionals()[0]);
  qv1::QueryResult r;
  auto st = s.Call(&Client::GetRelease, req, &r);
  if (!st.ok()) return st;
  PrintResult(s, r);
  return kOk;
}

absl::StatusOr<int> ReleaseExport(QSession& s) {
  if (s.args.positionals().size() != 1) return UsageError("give one release name");
  qv1::ExportReleaseRequest req;
  req.set_name(s.args.positionals()[0]);
  req.set_format(s.args.Has("json") ? qv1::JSON : qv1::CSV);
  qv1::ExportReleaseResponse resp;
  auto st = s.Call(&Client::ExportRelease, req, &resp);
  if (!st.ok()) return st;
  if (auto out = s.args.Get("out")) {
    std::ofstream f(*out, std::ios::binary);
    f << resp.content();
    if (!f) return absl::UnknownError(absl::StrCat("cannot write ", *out));
  } else {
    s.out << resp.content();
  }
  return kOk;
}

}  // namespace

void RegisterQueryCommands(Registry& r) {
  r.Add({"query", "run an aggregate query in a project (disclosure-controlled)",
         "usage: datalab query --project P \"SELECT ...\" | --file q.sql [--csv|--json] [--purpose TEXT]\n"
         "Suppressed cells print as [c]; the disclosure notes follow the table.",
         QRun(QueryCmd)});
  r.Add({"history", "your queries in a project", "usage: datalab history --project P [--json]",
         QRun(HistoryCmd)});
  r.Add({"release show", "a released output", "usage: datalab release show NAME [--csv|--json]",
         QRun(ReleaseShow)});
  r.Add({"release export", "download a released output as CSV (default) or JSON",
         "usage: datalab release export NAME [--csv|--json] [--out FILE]", QRun(ReleaseExport)});
}

}  // namespace datalab::cli
