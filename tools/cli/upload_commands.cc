// `datalab upload`, `datalab jobs list|show|cancel` and `datalab report`:
// the ingestion service through the gateway.
//
// upload: hashes the file (SHA-256) and sends a header-only Upload call,
// which opens a session (or answers at once that the same file is already
// loaded), then streams 1 MiB chunks with their offsets in a resume call.
// When the connection drops it asks GetUploadSession for the acknowledged
// offset and resumes from there (up to --retries times, with backoff). Then
// it polls the job until it ends and prints the validation report summary.
// Progress goes to stderr; results to stdout (--json for machine output).
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/crypto/encoding.h"
#include "common/crypto/sha256.h"
#include "datalab/ingestion/v1/ingestion.grpc.pb.h"
#include "tools/cli/cli.h"

namespace datalab::cli {
namespace {

namespace iv1 = ::datalab::ingestion::v1;
constexpr size_t kChunk = 1 << 20;

std::string Json(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  o.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

void Table(std::ostream& out, const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows) {
    if (w.size() < r.size()) w.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    out << line << "\n";
  }
}

std::string JobName(const std::string& s) {
  return absl::StartsWith(s, "jobs/") ? s : "jobs/" + s;
}
std::string DatasetName(const std::string& s) {
  return absl::StartsWith(s, "datasets/") ? s : "datasets/" + s;
}

bool Terminal(iv1::Job::State s) {
  return s == iv1::Job::COMMITTED || s == iv1::Job::REJECTED || s == iv1::Job::FAILED ||
         s == iv1::Job::CANCELLED;
}

std::string Bytes(int64_t n) {
  if (n >= (int64_t{1} << 30)) return absl::StrFormat("%.1f GiB", n / double(int64_t{1} << 30));
  if (n >= (1 << 20)) return absl::StrFormat("%.1f MiB", n / double(1 << 20));
  if (n >= 1024) return absl::StrFormat("%.1f KiB", n / 1024.0);
  return absl::StrCat(n, " B");
}

void Bar(std::ostream& err, const std::string& label, int64_t done, int64_t total) {
  const int width = 30;
  int filled = total > 0 ? static_cast<int>(width * std::min<double>(1.0, double(done) / total)) : 0;
  err << "\r" << label << " [" << std::string(filled, '#') << std::string(width - filled, '.')
      << "] " << Bytes(done) << " / " << Bytes(total) << "   " << std::flush;
}

using Ctx = GatewaySession<iv1::IngestionService>;

absl::Status GetJob(Ctx& c, const std::string& name, iv1::Job* job) {
  iv1::GetJobRequest req;
  req.set_name(name);
  return c.Call(&Ctx::Client::GetJob, req, job, 30);
}

absl::Status GetReport(Ctx& c, const std::string& job, iv1::ValidationReport* r) {
  iv1::GetValidationReportRequest req;
  req.set_job(job);
  return c.Call(&Ctx::Client::GetValidationReport, req, r, 30);
}

void JobView(std::ostream& out, const iv1::Job& j) {
  const auto& p = j.progress();
  Table(out, {{"job", j.name()},
              {"state", iv1::Job::State_Name(j.state())},
              {"dataset", j.dataset()},
              {"version", j.dataset_version().empty() ? "-" : j.dataset_version()},
              {"upload", j.upload()},
              {"uploader", j.uploader()},
              {"rows parsed", absl::StrCat(p.rows_parsed())},
              {"rows validated", absl::StrCat(p.rows_validated())},
              {"rows treated", absl::StrCat(p.rows_treated())},
              {"rows loaded", absl::StrCat(p.rows_loaded())},
              {"rows quarantined", absl::StrCat(p.rows_quarantined())},
              {"summary rows skipped", absl::StrCat(p.rows_summary_skipped())},
              {"error", j.error().empty() ? "-" : j.error()}});
}

void ReportView(std::ostream& out, const iv1::ValidationReport& r, size_t max_errors) {
  Table(out, {{"rows", absl::StrCat(r.rows_total())},
              {"valid", absl::StrCat(r.rows_valid())},
              {"invalid", absl::StrCat(r.rows_invalid())},
              {"summary rows skipped", absl::StrCat(r.rows_summary_skipped())},
              {"encoding", r.encoding_detected()}});
  if (r.missing_headers_size() > 0) {
    out << "\nmissing required columns:";
    for (const auto& h : r.missing_headers()) out << " " << h;
    out << "\n";
  }
  if (r.unknown_headers_size() > 0) {
    out << "\nignored columns (not in the schema):";
    for (const auto& h : r.unknown_headers()) out << " \"" << h << "\"";
    out << "\n";
  }
  if (r.totals_size() > 0) {
    out << "\nerrors by rule and column:\n";
    std::vector<std::vector<std::string>> rows = {{"RULE", "COLUMN", "COUNT"}};
    for (const auto& t : r.totals()) {
      rows.push_back({t.rule(), t.column().empty() ? "-" : t.column(), absl::StrCat(t.count())});
    }
    Table(out, rows);
  }
  if (r.errors_size() > 0) {
    out << "\nfirst errors:\n";
    std::vector<std::vector<std::string>> rows = {{"ROW", "LINE", "COLUMN", "RULE", "REASON"}};
    for (int i = 0; i < r.errors_size() && static_cast<size_t>(i) < max_errors; ++i) {
      const auto& e = r.errors(i);
      rows.push_back({absl::StrCat(e.row()), absl::StrCat(e.line()),
                      e.column().empty() ? "-" : e.column(), e.rule(), e.reason()});
    }
    Table(out, rows);
    if (static_cast<size_t>(r.errors_size()) > max_errors || r.errors_truncated()) {
      out << "(more errors: datalab report " << r.job() << ")\n";
    }
  }
  if (r.missing_markers_size() > 0) {
    out << "\nmissing-value markers:\n";
    std::vector<std::vector<std::string>> rows = {{"COLUMN", "MARKER", "COUNT"}};
    for (const auto& m : r.missing_markers()) {
      rows.push_back({m.column(), m.marker(), absl::StrCat(m.count())});
    }
    Table(out, rows);
  }
}

// Streams chunks from `offset` on a resume call. Returns the server's
// response or the error the stream ended with.
absl::Status SendFrom(Ctx& c, const std::string& path, const std::string& upload, int64_t offset,
                      int64_t total, std::ostream& err, iv1::UploadResponse* resp) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  in.seekg(offset);
  auto ctx = c.env().Context(24 * 3600);
  if (!ctx.ok()) return ctx.status();
  auto w = c.client()->Upload(ctx->get(), resp);
  iv1::UploadRequest first;
  first.set_resume(upload);
  bool ok = w->Write(first);
  std::string buf(kChunk, '\0');
  while (ok && offset < total) {
    in.read(buf.data(), static_cast<std::streamsize>(std::min<int64_t>(kChunk, total - offset)));
    const std::streamsize n = in.gcount();
    if (n <= 0) return absl::DataLossError(absl::StrCat(path, " changed while uploading"));
    iv1::UploadRequest chunk;
    chunk.set_offset(offset);
    chunk.set_chunk(buf.data(), static_cast<size_t>(n));
    ok = w->Write(chunk);
    if (ok) offset += n;
    Bar(err, "uploading", offset, total);
  }
  w->WritesDone();
  return FromGrpc(w->Finish());
}

bool Retryable(const absl::Status& s) {
  return absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s) || absl::IsCancelled(s) ||
         absl::IsAborted(s) || absl::IsInternal(s) || absl::IsUnknown(s);
}

int RunUpload(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.positionals().size() != 1) {
    return Fail(err, UsageError("usage: datalab upload FILE --dataset D --school URN|trust-wide"));
  }
  const std::string path = args.positionals()[0];
  // Checked before anything is sent: bad input uploads nothing.
  int wait_timeout = 1800;
  if (auto t = args.Get("wait-timeout");
      t.has_value() && (!absl::SimpleAtoi(*t, &wait_timeout) || wait_timeout < 1)) {
    return Fail(err, UsageError("--wait-timeout must be a positive number of seconds"));
  }
  absl::StatusOr<int> retries_arg = args.GetInt("retries", 8);
  if (!retries_arg.ok()) return Fail(err, retries_arg.status());
  const int retries = *retries_arg;
  if (retries < 0) return Fail(err, UsageError("--retries must be 0 or more"));
  auto dataset = args.Get("dataset");
  auto school = args.Get("school");
  if (!dataset || !school) {
    return Fail(err, UsageError("--dataset and --school are required"));
  }
  iv1::UploadHeader h;
  h.set_dataset(DatasetName(*dataset));
  h.set_school_urn(*school);
  h.set_source_system(args.GetOr("source", "OTHER"));
  h.set_extract_date(args.GetOr("extract-date", ""));
  h.set_encoding(absl::AsciiStrToLower(args.GetOr("encoding", "auto")));
  h.set_period(args.GetOr("period", ""));
  h.set_allow_duplicate(args.Has("allow-duplicate") && args.GetOr("allow-duplicate", "") != "false");
  const std::string policy = absl::AsciiStrToLower(args.GetOr("policy", "reject"));
  if (policy != "reject" && policy != "quarantine") {
    return Fail(err, UsageError("--policy must be reject or quarantine"));
  }
  h.set_error_policy(policy == "quarantine" ? iv1::QUARANTINE : iv1::REJECT);
  const std::string mode = absl::AsciiStrToLower(args.GetOr("mode", "append"));
  if (mode != "append" && mode != "replace") {
    return Fail(err, UsageError("--mode must be append or replace"));
  }
  h.set_mode(mode == "replace" ? iv1::REPLACE : iv1::APPEND);
  size_t slash = path.find_last_of('/');
  h.set_file_name(slash == std::string::npos ? path : path.substr(slash + 1));

  // Size and SHA-256 first: the service checks both, and the hash makes a
  // re-sent file idempotent.
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Fail(err, absl::NotFoundError(absl::StrCat("cannot read ", path)));
    auto hasher = crypto::Sha256Hasher::Create();
    if (!hasher.ok()) return Fail(err, hasher.status());
    std::string buf(kChunk, '\0');
    int64_t total = 0;
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const std::streamsize n = in.gcount();
      if (n <= 0) break;
      hasher->Update(std::string_view(buf.data(), static_cast<size_t>(n)));
      total += n;
    }
    auto digest = hasher->Finish();
    if (!digest.ok()) return Fail(err, digest.status());
    h.set_sha256(crypto::HexEncode(*digest));
    h.set_total_bytes(total);
  }
  Ctx c(args, out, err);
  if (absl::Status st = c.Connect(); !st.ok()) return Fail(err, st);

  // 1. Open the session with a header-only call.
  iv1::UploadResponse resp;
  {
    auto ctx = c.env().Context(60);
    if (!ctx.ok()) return Fail(err, ctx.status());
    auto w = c.client()->Upload(ctx->get(), &resp);
    iv1::UploadRequest first;
    *first.mutable_header() = h;
    w->Write(first);
    w->WritesDone();
    absl::Status s = FromGrpc(w->Finish());
    if (!s.ok()) return Fail(err, s);
  }
  // --quiet: no progress lines (upload name, bar, job state); errors and
  // the final report are still printed.
  std::ostream null_stream(nullptr);
  const bool quiet = args.Has("quiet") && args.GetOr("quiet", "") != "false";
  std::ostream& progress = quiet ? null_stream : err;
  std::string job = resp.job();
  if (resp.duplicate_of_existing()) {
    err << "this file was already loaded as " << job
        << " (pass --allow-duplicate=true to load it again)\n";
  } else {
    progress << "upload " << resp.upload() << " (" << Bytes(h.total_bytes()) << ")\n";
    // 2. Stream, resuming from the acknowledged offset after a drop.
    int64_t offset = resp.bytes_received();
    for (int attempt = 0;; ++attempt) {
      iv1::UploadResponse r;
      absl::Status s = SendFrom(c, path, resp.upload(), offset, h.total_bytes(), progress, &r);
      if (s.ok() && r.complete()) {
        job = r.job();
        break;
      }
      if (!s.ok() && (!Retryable(s) || attempt >= retries)) {
        err << "\n";
        return Fail(err, s);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(10000, 500 << attempt)));
      iv1::GetUploadSessionRequest gs;
      gs.set_name(resp.upload());
      iv1::UploadSession session;
      absl::Status gs_status = c.Call(&Ctx::Client::GetUploadSession, gs, &session, 30);
      if (!gs_status.ok()) {
        if (Retryable(gs_status) && attempt < retries) continue;
        return Fail(err, gs_status);
      }
      if (session.complete()) {
        job = session.job();
        break;
      }
      offset = session.bytes_received();
      progress << "\nconnection lost; resuming at " << Bytes(offset) << "\n";
    }
    progress << "\n";
  }

  // 3. Follow the job, for at most --wait-timeout seconds: a job left
  // waiting (e.g. for a service that is down) is reported, not waited on forever.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(wait_timeout);
  iv1::Job j;
  const auto started = std::chrono::steady_clock::now();
  while (true) {
    absl::Status s = GetJob(c, job, &j);
    if (!s.ok()) return Fail(err, s);
    if (!Terminal(j.state()) && std::chrono::steady_clock::now() > give_up) {
      err << "\n" << job << " is still " << iv1::Job::State_Name(j.state()) << " after "
          << wait_timeout << " s" << (j.error().empty() ? "" : " (" + j.error() + ")")
          << "; it carries on in the lab: follow it with `datalab jobs show " << job << "`\n";
      return kUnavailable;
    }
    const auto& p = j.progress();
    progress << "\r" << iv1::Job::State_Name(j.state()) << ": parsed " << p.rows_parsed()
        << ", validated " << p.rows_validated() << ", loaded " << p.rows_loaded()
        << ", quarantined " << p.rows_quarantined() << "      " << std::flush;
    if (Terminal(j.state())) break;
    // Often at first (most jobs end within seconds: every 50 ms for 10 s,
    // a cheap read), every 200 ms to 30 s, then once a second.
    const auto since = std::chrono::steady_clock::now() - started;
    std::this_thread::sleep_for(since < std::chrono::seconds(10)   ? std::chrono::milliseconds(50)
                                : since < std::chrono::seconds(30) ? std::chrono::milliseconds(200)
                                                                   : std::chrono::seconds(1));
  }
  progress << "\n";
  iv1::ValidationReport report;
  absl::Status rs = GetReport(c, job, &report);
  if (args.Has("json")) {
    out << Json(j) << "\n";
    if (rs.ok()) out << Json(report) << "\n";
  } else {
    JobView(out, j);
    if (rs.ok()) {
      out << "\n";
      ReportView(out, report, 10);
    }
  }
  switch (j.state()) {
    case iv1::Job::COMMITTED: return kOk;
    case iv1::Job::REJECTED: return kInvalid;
    default: return kError;
  }
}

int RunJobsList(const Args& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<int> size = args.GetInt("page-size", 50);
  if (!size.ok()) return Fail(err, size.status());
  if (*size < 1) return Fail(err, UsageError("--page-size must be at least 1"));
  Ctx c(args, out, err);
  iv1::ListJobsRequest req;
  if (auto d = args.Get("dataset")) req.set_dataset(DatasetName(*d));
  req.set_page_size(*size);
  req.set_page_token(args.GetOr("page-token", ""));
  iv1::ListJobsResponse resp;
  absl::Status s = c.Call(&Ctx::Client::ListJobs, req, &resp, 30);
  if (!s.ok()) return Fail(err, s);
  if (args.Has("json")) {
    out << Json(resp) << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows = {
      {"JOB", "STATE", "DATASET", "VERSION", "LOADED", "QUARANTINED", "UPLOADER"}};
  for (const auto& j : resp.jobs()) {
    rows.push_back({j.name(), iv1::Job::State_Name(j.state()), j.dataset(),
                    j.dataset_version().empty() ? "-" : j.dataset_version(),
                    absl::StrCat(j.progress().rows_loaded()),
                    absl::StrCat(j.progress().rows_quarantined()), j.uploader()});
  }
  Table(out, rows);
  if (!resp.next_page_token().empty()) out << "next page: --page-token " << resp.next_page_token() << "\n";
  return kOk;
}

int RunJobsShow(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.positionals().size() != 1) {
    return Fail(err, UsageError("usage: datalab jobs show JOB"));
  }
  Ctx c(args, out, err);
  if (absl::Status st = c.Connect(); !st.ok()) return Fail(err, st);
  iv1::Job j;
  absl::Status s = GetJob(c, JobName(args.positionals()[0]), &j);
  if (!s.ok()) return Fail(err, s);
  if (args.Has("json")) {
    out << Json(j) << "\n";
  } else {
    JobView(out, j);
  }
  return kOk;
}

int RunJobsCancel(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.positionals().size() != 1) {
    return Fail(err, UsageError("usage: datalab jobs cancel JOB"));
  }
  Ctx c(args, out, err);
  iv1::CancelJobRequest req;
  req.set_name(JobName(args.positionals()[0]));
  iv1::Job j;
  absl::Status s = c.Call(&Ctx::Client::CancelJob, req, &j, 30);
  if (!s.ok()) return Fail(err, s);
  out << j.name() << " " << iv1::Job::State_Name(j.state()) << "\n";
  return kOk;
}

int RunReport(const Args& args, std::ostream& out, std::ostream& err) {
  if (args.positionals().size() != 1) {
    return Fail(err, UsageError("usage: datalab report JOB [--json]"));
  }
  Ctx c(args, out, err);
  if (absl::Status st = c.Connect(); !st.ok()) return Fail(err, st);
  iv1::ValidationReport r;
  absl::Status s = GetReport(c, JobName(args.positionals()[0]), &r);
  if (!s.ok()) return Fail(err, s);
  if (args.Has("json")) {
    out << Json(r) << "\n";
  } else {
    ReportView(out, r, static_cast<size_t>(r.errors_size()));
  }
  return kOk;
}

}  // namespace

void RegisterUploadCommands(Registry& r) {
  r.Add({"upload", "upload an extract (CSV) into a dataset",
         "datalab upload FILE --dataset D --school URN|trust-wide\n"
         "    [--policy reject|quarantine] [--mode append|replace --period P]\n"
         "    [--encoding auto|utf-8|windows-1252] [--extract-date YYYY-MM-DD]\n"
         "    [--source SIMS|ARBOR|...] [--allow-duplicate=true] [--retries N]\n"
         "    [--wait-timeout SECONDS (default 1800)] [--quiet] [--json]\n"
         "Streams the file with a progress bar on stderr, resumes after a dropped\n"
         "connection, follows the job and prints the validation report summary.\n"
         "Exit 0 when committed, 7 when rejected (see the report), 6 when the job\n"
         "has not finished within --wait-timeout (it carries on; see `jobs show`).",
         RunUpload});
  r.Add({"jobs list", "list ingestion jobs",
         "datalab jobs list [--dataset D] [--page-size N] [--page-token T] [--json]", RunJobsList});
  r.Add({"jobs show", "show one ingestion job and its progress",
         "datalab jobs show JOB [--json]", RunJobsShow});
  r.Add({"jobs cancel", "cancel a queued or running ingestion job",
         "datalab jobs cancel JOB", RunJobsCancel});
  r.Add({"report", "the full validation report of an ingestion job",
         "datalab report JOB [--json]", RunReport});
}

}  // namespace datalab::cli
