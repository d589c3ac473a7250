// `datalab audit ...`: what the DPO uses to answer "who looked at what, when,
// why, and what left the lab", and to prove the record was not altered.
//   search   events by subject, role, project, dataset, action, decision, time
//   report   access report grouped by subject, project, action and decision
//   export   the log as verifiable JSON Lines (entries + signed heads + key),
//            or as CSV / JSON Lines of decoded events for spreadsheets
//   verify   offline verification of an export (no lab needed)
//   head     the latest signed tree head
#include <fstream>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/auth/policy.h"
#include "common/crypto/encoding.h"
#include "common/log/log.h"
#include "datalab/audit/v1/audit.grpc.pb.h"
#include "services/audit/verifier.h"
#include "tools/cli/cli.h"

namespace datalab::cli {
namespace {

namespace av1 = ::datalab::audit::v1;
namespace cv1 = ::datalab::common::v1;

// Accepts RFC 3339 ("2026-11-23T09:00:00Z"), a date ("2026-11-23") or unix ms.
absl::StatusOr<int64_t> ParseTimeArg(const std::string& flag, const std::string& v) {
  int64_t ms = 0;
  if (absl::SimpleAtoi(v, &ms)) return ms;
  absl::Time t;
  std::string err;
  if (absl::ParseTime(absl::RFC3339_full, v, &t, &err) ||
      absl::ParseTime("%Y-%m-%d", v, absl::UTCTimeZone(), &t, &err)) {
    return absl::ToUnixMillis(t);
  }
  return UsageError(
      absl::StrCat("--", flag, " must be a date (2026-11-23), an RFC 3339 time or unix milliseconds"));
}

std::string FormatMs(int64_t ms) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(ms), absl::UTCTimeZone());
}

std::string DecisionName(cv1::Decision d) {
  switch (d) {
    case cv1::ALLOW: return "allow";
    case cv1::DENY: return "deny";
    case cv1::ERROR: return "error";
    default: return "-";
  }
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string EventJson(const cv1::AuditEvent& e, int64_t index) {
  std::string res;
  for (int i = 0; i < e.resources_size(); ++i) {
    absl::StrAppend(&res, i ? "," : "", "\"", log::JsonEscape(e.resources(i)), "\"");
  }
  std::string roles;
  for (int i = 0; i < e.actor().roles_size(); ++i) {
    absl::StrAppend(&roles, i ? "," : "", "\"", auth::RoleClaimName(e.actor().roles(i)), "\"");
  }
  return absl::StrCat(
      "{\"index\":", index, ",\"time\":\"", FormatMs(e.time_unix_ms()), "\",\"service\":\"",
      log::JsonEscape(e.service()), "\",\"actor\":\"", log::JsonEscape(e.actor().subject()),
      "\",\"roles\":[", roles, "],\"action\":\"", log::JsonEscape(e.action()),
      "\",\"project\":\"", log::JsonEscape(e.project()), "\",\"decision\":\"",
      DecisionName(e.decision()), "\",\"reason\":\"", log::JsonEscape(e.reason()),
      "\",\"resources\":[", res, "],\"release\":\"", log::JsonEscape(e.release().release()), "\"}");
}

std::string EventCsv(const cv1::AuditEvent& e, int64_t index) {
  return absl::StrCat(index, ",", FormatMs(e.time_unix_ms()), ",", CsvField(e.service()), ",",
                      CsvField(e.actor().subject()), ",", CsvField(e.action()), ",",
                      CsvField(e.project()), ",", DecisionName(e.decision()), ",",
                      CsvField(e.reason()), ",", CsvField(absl::StrJoin(e.resources(), " ")));
}

constexpr char kCsvHeader[] = "index,time_utc,service,actor,action,project,decision,reason,resources";

using AuditSession = GatewaySession<av1::AuditService>;

int Search(const Args& args, std::ostream& out, std::ostream& err) {
  av1::SearchEventsRequest req;
  req.set_subject(args.GetOr("subject", ""));
  req.set_project(args.GetOr("project", ""));
  req.set_dataset(args.GetOr("dataset", ""));
  req.set_action(args.GetOr("action", ""));
  if (auto r = args.Get("role")) {
    auto role = auth::RoleFromClaim(*r);
    if (!role.ok()) return Fail(err, UsageError("--role: unknown role"));
    req.set_role(*role);
  }
  if (auto d = args.Get("decision")) {
    if (*d == "allow") req.set_decision(cv1::ALLOW);
    else if (*d == "deny") req.set_decision(cv1::DENY);
    else return Fail(err, UsageError("--decision must be allow or deny"));
  }
  for (const char* f : {"since", "until"}) {
    if (auto v = args.Get(f)) {
      auto ms = ParseTimeArg(f, *v);
      if (!ms.ok()) return Fail(err, ms.status());
      if (std::string(f) == "since") req.set_start_time_unix_ms(*ms);
      else req.set_end_time_unix_ms(*ms);
    }
  }
  absl::StatusOr<int> limit_arg = args.GetInt("limit", 100);
  if (!limit_arg.ok()) return Fail(err, limit_arg.status());
  if (*limit_arg < 1) return Fail(err, UsageError("--limit must be at least 1"));
  const int limit = *limit_arg;
  // The arguments are sound: now the lab.
  AuditSession c(args, out, err);
  if (absl::Status st = c.Connect(); !st.ok()) return Fail(err, st);
  bool json = args.Has("json"), csv = args.Has("csv");
  if (csv) out << kCsvHeader << "\n";
  int shown = 0;
  std::string token = args.GetOr("page-token", "");
  do {
    req.set_page_token(token);
    req.set_page_size(std::min(limit - shown, 500));
    av1::SearchEventsResponse resp;
    if (absl::Status s = c.Call(&AuditSession::Client::SearchEvents, req, &resp, 60); !s.ok()) {
      return Fail(err, s);
    }
    for (int i = 0; i < resp.events_size(); ++i) {
      const auto& e = resp.events(i);
      int64_t idx = i < resp.indexes_size() ? resp.indexes(i) : -1;
      if (json) {
        out << EventJson(e, idx) << "\n";
      } else if (csv) {
        out << EventCsv(e, idx) << "\n";
      } else {
        if (shown == 0 && i == 0) {
          out << "INDEX   TIME (UTC)           ACTOR                 ACTION                         DECISION  REASON\n";
        }
        std::string actor = e.actor().subject();
        out << absl::StrCat(idx) << std::string(std::max<int>(1, 8 - absl::StrCat(idx).size()), ' ')
            << FormatMs(e.time_unix_ms()) << "  " << actor
            << std::string(std::max<int>(1, 22 - static_cast<int>(actor.size())), ' ') << e.action()
            << std::string(std::max<int>(1, 31 - static_cast<int>(e.action().size())), ' ')
            << DecisionName(e.decision()) << std::string(10 - DecisionName(e.decision()).size(), ' ')
            << e.reason() << "\n";
      }
    }
    shown += resp.events_size();
    token = resp.next_page_token();
  } while (!token.empty() && shown < limit);
  if (!json && !csv) {
    out << shown << " event(s)" << (token.empty() ? "" : absl::StrCat("; more with --page-token ", token)) << "\n";
  }
  return kOk;
}

int Report(const Args& args, std::ostream& out, std::ostream& err) {
  av1::GetAccessReportRequest req;
  req.set_dataset(args.GetOr("dataset", ""));
  req.set_project(args.GetOr("project", ""));
  req.set_subject(args.GetOr("subject", ""));
  for (const char* f : {"since", "until"}) {
    if (auto v = args.Get(f)) {
      auto ms = ParseTimeArg(f, *v);
      if (!ms.ok()) return Fail(err, ms.status());
      if (std::string(f) == "since") req.set_start_time_unix_ms(*ms);
      else req.set_end_time_unix_ms(*ms);
    }
  }
  AuditSession c(args, out, err);
  av1::AccessReport rep;
  if (absl::Status s = c.Call(&AuditSession::Client::GetAccessReport, req, &rep, 60); !s.ok()) {
    return Fail(err, s);
  }
  if (args.Has("csv")) {
    out << "subject,project,action,decision,count,first_utc,last_utc\n";
    for (const auto& l : rep.lines()) {
      out << CsvField(l.subject()) << "," << CsvField(l.project()) << "," << CsvField(l.action())
          << "," << DecisionName(l.decision()) << "," << l.count() << ","
          << FormatMs(l.first_time_unix_ms()) << "," << FormatMs(l.last_time_unix_ms()) << "\n";
    }
    return kOk;
  }
  out << "SUBJECT               PROJECT                 ACTION                         DECISION  COUNT  LAST (UTC)\n";
  for (const auto& l : rep.lines()) {
    auto pad = [](const std::string& s, size_t w) {
      return s + std::string(s.size() < w ? w - s.size() : 1, ' ');
    };
    out << pad(l.subject(), 22) << pad(l.project(), 24) << pad(l.action(), 31)
        << pad(DecisionName(l.decision()), 10) << pad(absl::StrCat(l.count()), 7)
        << FormatMs(l.last_time_unix_ms()) << "\n";
  }
  out << rep.events_considered() << " event(s) considered\n";
  return kOk;
}

audit::TreeHead HeadOf(const av1::SignedTreeHead& h) {
  audit::TreeHead t;
  t.tree_size = static_cast<uint64_t>(h.tree_size());
  t.timestamp_unix_ms = h.timestamp_unix_ms();
  if (h.root_hash().size() == t.root_hash.size()) {
    std::copy(h.root_hash().begin(), h.root_hash().end(), t.root_hash.begin());
  }
  t.signature = h.signature();
  t.key_id = h.key_id();
  return t;
}

int Export(const Args& args, std::ostream& out, std::ostream& err) {
  std::string path = args.GetOr("out", "");
  std::string format = args.GetOr("format", "verifiable");
  if (format != "verifiable" && format != "csv" && format != "jsonl") {
    return Fail(err, UsageError("--format must be verifiable, csv or jsonl"));
  }
  if (path.empty()) return Fail(err, UsageError("--out FILE is required"));
  // Connect before the file is created, so a lab that is not there leaves
  // no empty export behind.
  AuditSession c(args, out, err);
  if (absl::Status st = c.Connect(); !st.ok()) return Fail(err, st);
  std::ofstream file(path, std::ios::trunc);
  if (!file) return Fail(err, absl::UnknownError(absl::StrCat("cannot write ", path)));

  av1::ExportLogRequest req;
  auto ctx = c.env().Context(600);
  if (!ctx.ok()) return Fail(err, ctx.status());
  auto reader = c.client()->ExportLog(ctx->get(), req);
  av1::ExportLogChunk chunk;
  bool header = false;
  int64_t entries = 0, heads = 0;
  if (format == "csv") file << kCsvHeader << "\n";
  while (reader->Read(&chunk)) {
    if (format == "verifiable") {
      if (!header && !chunk.public_key().empty()) {
        file << audit::ExportHeaderLine(chunk.public_key(),
                                        chunk.tree_heads_size() ? chunk.tree_heads(0).key_id() : "")
             << "\n";
        header = true;
      }
      for (const auto& e : chunk.entries()) {
        audit::ExportEntry x;
        x.index = static_cast<uint64_t>(e.index());
        x.pruned = e.pruned();
        if (!e.pruned()) x.entry = e.entry();
        if (e.leaf_hash().size() == 32) {
          merkle::Hash h;
          std::copy(e.leaf_hash().begin(), e.leaf_hash().end(), h.begin());
          x.leaf_hash = h;
        }
        file << audit::ExportEntryLine(x) << "\n";
      }
      for (const auto& h : chunk.tree_heads()) file << audit::ExportHeadLine(HeadOf(h)) << "\n";
    } else {
      for (const auto& e : chunk.entries()) {
        cv1::AuditEvent ev;
        if (e.pruned() || !ev.ParseFromString(e.entry())) continue;
        file << (format == "csv" ? EventCsv(ev, e.index()) : EventJson(ev, e.index())) << "\n";
      }
    }
    entries += chunk.entries_size();
    heads += chunk.tree_heads_size();
  }
  grpc::Status s = reader->Finish();
  if (!s.ok()) return Fail(err, FromGrpc(s));
  file.close();
  if (!file) return Fail(err, absl::UnknownError(absl::StrCat("cannot write ", path)));
  out << "exported " << entries << " entries and " << heads << " signed tree heads to " << path
      << (format == "verifiable" ? " (check it with `datalab audit verify --export FILE`)" : "")
      << "\n";
  return kOk;
}

int Verify(const Args& args, std::ostream& out, std::ostream& err) {
  std::string path = args.GetOr("export", args.positionals().empty() ? "" : args.positionals()[0]);
  if (path.empty()) return Fail(err, UsageError("--export FILE is required"));
  std::ifstream in(path);
  if (!in) return Fail(err, absl::NotFoundError(absl::StrCat("cannot read ", path)));
  audit::VerifyReport r = audit::VerifyJsonLines(in);
  out << audit::FormatReport(r) << "\n";
  return r.ok ? kOk : kError;
}

int Head(const Args& args, std::ostream& out, std::ostream& err) {
  AuditSession c(args, out, err);
  av1::SignedTreeHead h;
  if (absl::Status s = c.Call(&AuditSession::Client::GetSignedTreeHead,
                              av1::GetSignedTreeHeadRequest(), &h, 60);
      !s.ok()) {
    return Fail(err, s);
  }
  out << "tree size   " << h.tree_size() << "\nroot        " << crypto::HexEncode(h.root_hash())
      << "\nsigned at   " << FormatMs(h.timestamp_unix_ms()) << " UTC\nkey         " << h.key_id()
      << "\n";
  return kOk;
}

constexpr char kFilters[] =
    "filters: --subject users/U --role R --project projects/P --dataset datasets/D\n"
    "         --action A (or prefix*) --decision allow|deny --since T --until T\n"
    "T: a date (2026-11-23), an RFC 3339 time, or unix milliseconds";

}  // namespace

void RegisterAuditCommands(Registry& r) {
  r.Add({"audit search", "search the audit log (DPO)",
         absl::StrCat("usage: datalab audit search [filters] [--limit N] [--json|--csv]\n", kFilters),
         Search});
  r.Add({"audit report", "access report: who did what, how often (DPO)",
         "usage: datalab audit report [--dataset D|--project P|--subject S] [--since T] [--until T] [--csv]",
         Report});
  r.Add({"audit export", "export the log: verifiable JSON Lines, or CSV/JSON Lines of events",
         "usage: datalab audit export --out FILE [--format verifiable|csv|jsonl]", Export});
  r.Add({"audit verify", "verify an export offline: every entry, every signed head",
         "usage: datalab audit verify --export FILE\n"
         "Checks each entry's hash, each tree head's Ed25519 signature, and that each head\n"
         "extends the one before. Exit 0 when the log verifies, 1 with the first bad entry otherwise.",
         Verify});
  r.Add({"audit head", "the latest signed tree head", "usage: datalab audit head", Head});
}

}  // namespace datalab::cli
