// datalab-bench-client: the load and latency client bench/run.sh uses to
// measure the lab through its real network path. It prints one
// `name value unit` line per figure (nothing is asserted here).
//
//   calls mode (default): authenticated catalogue reads
//     --target=HOST:PORT --ca=ca.pem --token_file=F     through the gateway
//     --target=HOST:PORT --ca=ca.pem --cert=gateway.pem --key=gateway.key
//       --assertion_key=assertion.key                   straight to the catalogue,
//                                                       as the gateway would call it
//     --method=trust_floor|list_datasets --threads=N --inflight=K --seconds=S --channels=C
//                           each thread keeps K calls in flight on its own
//                           completion queue, so the load costs the two
//                           cores little of what it measures
//     --latency_samples=K   sequential calls on one thread first (p50/p95)
//     --name=PREFIX         prefix of the printed figures
//
//   --mode=query: QueryService.RunQuery through the gateway
//     --target --ca --token_file --project=projects/P --sql=TEXT
//     --runs=20 --warmup=1 --name=PREFIX
//
//   --mode=pseudonymise: PseudonymisationService.PseudonymiseStream straight
//     to the service, as ingestion calls it (mTLS with ingestion's identity)
//     --target --ca --cert=ingestion.pem --key=ingestion.key
//     --domain=domains/D --ids=1000000 --batch=4096 --name=PREFIX
//     valid UPNs, packed responses, one stream; prints PREFIX_ids_per_second
//
//   --mode=audit: AuditService.AppendEvents straight to the audit service,
//     as every service's audit client calls it (mTLS with a service identity)
//     --target --ca --cert=query.pem --key=query.key --clients=32
//     --events_per_call=N --seconds=S --name=PREFIX
//     each client has its own connection and one call in flight at a time,
//     and waits for the acknowledgement (the events are fsynced) before the
//     next; prints PREFIX_events_per_second and the call latency p50/p99
//
// Direct mode re-uses one identity assertion (re-signed every 20 s), as the
// gateway does for a caller (for half the assertion's ttl), so it measures
// what the backend itself costs.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/auth/authenticator.h"
#include "common/auth/identity_assertion.h"
#include "common/crypto/ed25519.h"
#include "common/server/client.h"
#include "common/server/server.h"
#include "common/server/tls.h"
#include "datalab/audit/v1/audit.grpc.pb.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "common/identifiers/upn.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.grpc.pb.h"
#include "datalab/query/v1/query.grpc.pb.h"
#include "services/audit/bench_event.h"

ABSL_FLAG(std::string, mode, "calls", "calls | query | pseudonymise | audit");
ABSL_FLAG(std::string, target, "", "host:port of the gateway (or the catalogue in direct mode)");
ABSL_FLAG(std::string, ca, "", "CA bundle that signed the server certificate");
ABSL_FLAG(std::string, token_file, "", "file holding a bearer token (gateway mode)");
ABSL_FLAG(std::string, cert, "", "client certificate (direct mode: the gateway's)");
ABSL_FLAG(std::string, key, "", "client key (direct mode)");
ABSL_FLAG(std::string, assertion_key, "", "Ed25519 PEM key signing identity assertions (direct mode)");
ABSL_FLAG(std::string, subject, "users/bench-researcher", "principal subject in direct mode");
ABSL_FLAG(std::string, method, "trust_floor", "trust_floor | list_datasets");
ABSL_FLAG(int, threads, 2, "client threads in the throughput phase");
ABSL_FLAG(int, inflight, 8, "calls each client thread keeps in flight in the throughput phase");
ABSL_FLAG(int, channels, 4, "channels (connections) shared by the callers");
ABSL_FLAG(double, seconds, 10, "duration of the throughput phase (0 skips it)");
ABSL_FLAG(int, latency_samples, 2000, "sequential calls for p50/p95 (0 skips)");
ABSL_FLAG(std::string, name, "gateway", "prefix of the printed figures");
ABSL_FLAG(std::string, project, "", "projects/{p} for --mode=query");
ABSL_FLAG(std::string, sql, "", "query text for --mode=query");
ABSL_FLAG(int, runs, 20, "timed runs for --mode=query");
ABSL_FLAG(int, warmup, 1, "untimed runs before timing");
ABSL_FLAG(int, deadline_seconds, 120, "per-call deadline");
ABSL_FLAG(std::string, domain, "domains/pupil", "domain for --mode=pseudonymise");
ABSL_FLAG(int64_t, ids, 1000000, "identifiers for --mode=pseudonymise");
ABSL_FLAG(int, batch, 4096, "identifiers per stream message for --mode=pseudonymise");
ABSL_FLAG(int, clients, 32, "concurrent clients (one connection each) for --mode=audit");
ABSL_FLAG(int, events_per_call, 1, "events per AppendEvents call for --mode=audit");

namespace datalab::bench {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "datalab-bench-client: %s\n", what.c_str());
  std::exit(1);
}

std::string ReadTrimmed(const std::string& path) {
  std::ifstream in(path);
  if (!in) Die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return std::string(absl::StripAsciiWhitespace(ss.str()));
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  // Nearest-rank percentile, the same definition bench/run.sh uses for the peers.
  size_t rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
  if (rank == 0) rank = 1;
  return v[std::min(rank, v.size()) - 1];
}

// Attaches credentials to each call: a bearer token, or a (cached) assertion.
class CallAuth {
 public:
  CallAuth() {
    if (!absl::GetFlag(FLAGS_assertion_key).empty()) {
      auto pem = server::ReadFileToString(absl::GetFlag(FLAGS_assertion_key));
      if (!pem.ok()) Die(std::string(pem.status().message()));
      auto key = crypto::Ed25519PrivateKey::FromPem(*pem);
      if (!key.ok()) Die("invalid assertion key");
      signer_ = std::make_unique<auth::AssertionSigner>(*key);
      principal_.set_kind(common::v1::Principal::USER);
      principal_.set_subject(absl::GetFlag(FLAGS_subject));
      principal_.add_roles(common::v1::RESEARCHER);
    } else {
      if (absl::GetFlag(FLAGS_token_file).empty()) Die("--token_file or --assertion_key is required");
      bearer_ = "Bearer " + ReadTrimmed(absl::GetFlag(FLAGS_token_file));
    }
  }

  void Apply(grpc::ClientContext& ctx) {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(absl::GetFlag(FLAGS_deadline_seconds)));
    if (!signer_) {
      ctx.AddMetadata(std::string(auth::kAuthorizationHeader), bearer_);
      return;
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto now = Clock::now();
    if (assertion_.empty() || now - signed_at_ > std::chrono::seconds(20)) {
      auto a = signer_->Sign(principal_);
      if (!a.ok()) Die("cannot sign assertion");
      assertion_ = *a;
      signed_at_ = now;
    }
    ctx.AddMetadata(auth::kAssertionHeader, assertion_);
  }

 private:
  std::string bearer_;
  std::unique_ptr<auth::AssertionSigner> signer_;
  common::v1::Principal principal_;
  std::mutex mu_;
  std::string assertion_;
  Clock::time_point signed_at_;
};

std::shared_ptr<grpc::Channel> Channel(int index) {
  server::TlsFiles files{absl::GetFlag(FLAGS_cert), absl::GetFlag(FLAGS_key), absl::GetFlag(FLAGS_ca)};
  grpc::ChannelArguments args;
  // Distinct channel args keep gRPC from sharing one subchannel (connection).
  args.SetInt("datalab.bench.channel", index);
  args.SetMaxReceiveMessageSize(64 << 20);
  auto creds = server::MakeChannelCredentials(files);
  if (!creds.ok()) Die(std::string(creds.status().message()));
  return grpc::CreateCustomChannel(absl::GetFlag(FLAGS_target), *creds, args);
}

grpc::Status OneRead(catalogue::v1::CatalogueService::Stub& stub, CallAuth& auth, bool list) {
  grpc::ClientContext ctx;
  auth.Apply(ctx);
  if (list) {
    catalogue::v1::ListDatasetsRequest req;
    req.set_page_size(10);
    catalogue::v1::ListDatasetsResponse resp;
    return stub.ListDatasets(&ctx, req, &resp);
  }
  catalogue::v1::GetTrustFloorRequest req;
  catalogue::v1::TrustFloor resp;
  return stub.GetTrustFloor(&ctx, req, &resp);
}

// One catalogue read in flight on a completion queue; Start again for the
// next once its tag (the object itself) comes back.
struct AsyncRead {
  using Client = server::ClientOf<catalogue::v1::CatalogueService>;
  Client* client = nullptr;
  std::unique_ptr<grpc::ClientContext> ctx;
  catalogue::v1::ListDatasetsResponse list_resp;
  catalogue::v1::TrustFloor floor_resp;
  std::unique_ptr<grpc::ClientAsyncResponseReader<catalogue::v1::ListDatasetsResponse>> list_call;
  std::unique_ptr<grpc::ClientAsyncResponseReader<catalogue::v1::TrustFloor>> floor_call;
  grpc::Status status;

  void Start(Client& c, CallAuth& auth, bool list, grpc::CompletionQueue& cq) {
    client = &c;
    // The readers live in the previous call's arena, which goes with its
    // context: they go first.
    list_call.reset();
    floor_call.reset();
    ctx = std::make_unique<grpc::ClientContext>();
    auth.Apply(*ctx);
    if (list) {
      catalogue::v1::ListDatasetsRequest req;
      req.set_page_size(10);
      list_call = client->AsyncListDatasets(ctx.get(), req, &cq);
      list_call->Finish(&list_resp, &status, this);
    } else {
      floor_call = client->AsyncGetTrustFloor(ctx.get(), catalogue::v1::GetTrustFloorRequest(), &cq);
      floor_call->Finish(&floor_resp, &status, this);
    }
  }
};

int RunCalls() {
  const std::string name = absl::GetFlag(FLAGS_name);
  const bool list = absl::GetFlag(FLAGS_method) == "list_datasets";
  CallAuth auth;
  const int nchan = std::max(1, absl::GetFlag(FLAGS_channels));
  std::vector<std::unique_ptr<AsyncRead::Client>> clients;
  for (int i = 0; i < nchan; ++i) clients.push_back(server::NewClient<catalogue::v1::CatalogueService>(Channel(i)));

  // Sanity: one call must succeed, or nothing else is worth timing.
  grpc::Status first = OneRead(*clients[0], auth, list);
  if (!first.ok()) {
    Die("first call failed: code " + std::to_string(first.error_code()) + ": " + first.error_message());
  }

  const int samples = absl::GetFlag(FLAGS_latency_samples);
  if (samples > 0) {
    for (int i = 0; i < std::min(200, samples); ++i) (void)OneRead(*clients[0], auth, list);
    std::vector<double> us;
    us.reserve(samples);
    for (int i = 0; i < samples; ++i) {
      auto t0 = Clock::now();
      grpc::Status s = OneRead(*clients[0], auth, list);
      if (!s.ok()) Die("call failed: " + s.error_message());
      us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::printf("%s_latency_p50 %.1f us\n", name.c_str(), Percentile(us, 50));
    std::printf("%s_latency_p95 %.1f us\n", name.c_str(), Percentile(us, 95));
    std::fflush(stdout);
  }

  const double seconds = absl::GetFlag(FLAGS_seconds);
  if (seconds > 0) {
    const int threads = std::max(1, absl::GetFlag(FLAGS_threads));
    const int inflight = std::max(1, absl::GetFlag(FLAGS_inflight));
    std::atomic<bool> stop{false};
    std::atomic<int64_t> ok{0}, failed{0};
    std::atomic<int> last_code{0};
    std::vector<std::thread> pool;
    auto t0 = Clock::now();
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        grpc::CompletionQueue cq;
        std::vector<std::unique_ptr<AsyncRead>> slots;
        for (int i = 0; i < inflight; ++i) {
          slots.push_back(std::make_unique<AsyncRead>());
          // Spread each thread's calls over the channels.
          slots.back()->Start(*clients[(t * inflight + i) % nchan], auth, list, cq);
        }
        int64_t mine = 0, bad = 0;
        int outstanding = inflight;
        void* tag;
        bool got;
        while (outstanding > 0 && cq.Next(&tag, &got)) {
          auto* slot = static_cast<AsyncRead*>(tag);
          if (got && slot->status.ok()) {
            ++mine;
          } else {
            ++bad;
            last_code = slot->status.error_code();
          }
          if (stop.load(std::memory_order_relaxed)) {
            --outstanding;
          } else {
            slot->Start(*slot->client, auth, list, cq);
          }
        }
        server::ShutdownAndDrain(cq);  // every call has come back
        ok += mine;
        failed += bad;
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    stop = true;
    for (auto& th : pool) th.join();
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("%s_calls_per_second %.0f calls/s\n", name.c_str(), static_cast<double>(ok) / secs);
    if (failed > 0) {
      std::fprintf(stderr, "%s: %lld calls failed (last code %d)\n", name.c_str(),
                   static_cast<long long>(failed.load()), last_code.load());
      std::printf("%s_failed_calls %lld calls\n", name.c_str(), static_cast<long long>(failed.load()));
    }
  }
  return 0;
}

int RunQueries() {
  const std::string name = absl::GetFlag(FLAGS_name);
  CallAuth auth;
  auto stub = query::v1::QueryService::NewStub(Channel(0));
  query::v1::RunQueryRequest req;
  req.set_project(absl::GetFlag(FLAGS_project));
  req.set_sql(absl::GetFlag(FLAGS_sql));
  req.set_purpose("benchmark");
  auto once = [&](query::v1::QueryResult* out) {
    grpc::ClientContext ctx;
    auth.Apply(ctx);
    grpc::Status s = stub->RunQuery(&ctx, req, out);
    if (!s.ok()) Die(name + ": code " + std::to_string(s.error_code()) + ": " + s.error_message());
  };
  query::v1::QueryResult result;
  for (int i = 0; i < absl::GetFlag(FLAGS_warmup); ++i) once(&result);
  std::vector<double> ms;
  for (int i = 0; i < absl::GetFlag(FLAGS_runs); ++i) {
    result.Clear();
    auto t0 = Clock::now();
    once(&result);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  std::printf("%s_p50 %.2f ms\n", name.c_str(), Percentile(ms, 50));
  std::printf("%s_p95 %.2f ms\n", name.c_str(), Percentile(ms, 95));
  std::printf("%s_rows %d rows\n", name.c_str(), result.rows_size());
  return 0;
}

int RunPseudonymise() {
  namespace pv1 = pseudonymisation::v1;
  const std::string name = absl::GetFlag(FLAGS_name);
  const int64_t n = std::max<int64_t>(1, absl::GetFlag(FLAGS_ids));
  const int batch = std::clamp(absl::GetFlag(FLAGS_batch), 1, 65536);
  // Valid UPNs (the service validates every one), generated before timing.
  std::vector<std::string> upns;
  upns.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    auto u = identifiers::MakeUpn(801 + static_cast<int>(i / 1000 % 150), 2000 + static_cast<int>(i / 150000 % 7000),
                                  static_cast<int>(10 + i / 1000000 % 15), static_cast<int>(i % 1000));
    if (!u.ok()) Die("cannot make a UPN: " + std::string(u.status().message()));
    upns.push_back(*std::move(u));
  }
  std::vector<pv1::PseudonymiseRequest> requests;
  for (int64_t start = 0; start < n; start += batch) {
    pv1::PseudonymiseRequest r;
    if (start == 0) {
      r.set_domain(absl::GetFlag(FLAGS_domain));
      r.set_job("jobs/bench");
    }
    r.set_packed_response(true);
    for (int64_t i = start; i < std::min(n, start + batch); ++i) r.add_identifiers(upns[i]);
    requests.push_back(std::move(r));
  }
  auto stub = pv1::PseudonymisationService::NewStub(Channel(0));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() +
                   std::chrono::seconds(absl::GetFlag(FLAGS_deadline_seconds)));
  const auto t0 = Clock::now();
  auto stream = stub->PseudonymiseStream(&ctx);
  // Writes from another thread so requests and responses overlap (the
  // service answers each message in order).
  std::thread writer([&] {
    for (const auto& r : requests) {
      if (!stream->Write(r)) break;
    }
    stream->WritesDone();
  });
  pv1::PseudonymiseResponse resp;
  int64_t answered = 0, errors = 0;
  while (stream->Read(&resp)) {
    const int64_t in_message = resp.results_size() > 0
                                   ? resp.results_size()
                                   : static_cast<int64_t>(resp.packed_pseudonyms().size() / 26);
    answered += in_message;
    errors += resp.errors_size();
  }
  writer.join();
  grpc::Status s = stream->Finish();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  if (!s.ok()) Die(name + ": code " + std::to_string(s.error_code()) + ": " + s.error_message());
  if (answered != n) Die(name + ": " + std::to_string(answered) + " answers for " + std::to_string(n));
  std::printf("%s_ids_per_second %.0f ids/s\n", name.c_str(), static_cast<double>(n) / secs);
  std::printf("%s_seconds %.3f s\n", name.c_str(), secs);
  if (errors > 0) std::printf("%s_invalid_ids %lld ids\n", name.c_str(), static_cast<long long>(errors));
  return 0;
}

int RunAudit() {
  namespace av1 = audit::v1;
  const std::string name = absl::GetFlag(FLAGS_name);
  const int clients = std::max(1, absl::GetFlag(FLAGS_clients));
  const int per_call = std::clamp(absl::GetFlag(FLAGS_events_per_call), 1, 4096);
  const double seconds = std::max(0.5, absl::GetFlag(FLAGS_seconds));
  std::vector<std::unique_ptr<av1::AuditService::Stub>> stubs;
  for (int i = 0; i < clients; ++i) stubs.push_back(av1::AuditService::NewStub(Channel(i)));
  // Each client keeps one request and gives its events new ids and times
  // before every call, as a service's outbox reuses its buffers: what is
  // measured is the audit service, not building protobufs here. The ids have
  // the services' layout (BenchEventId), seeded apart for each run and client.
  const uint64_t run_seed = static_cast<uint64_t>(::getpid()) << 32 ^
                            static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  std::vector<av1::AppendEventsRequest> requests(clients);
  for (int c = 0; c < clients; ++c) {
    for (int k = 0; k < per_call; ++k) {
      *requests[c].add_events() = audit::BenchEvent("", static_cast<uint64_t>(c * per_call + k));
    }
  }
  auto call = [&](int client, int64_t& seq, std::vector<double>* us) {
    av1::AppendEventsRequest& req = requests[client];
    const int64_t now_ms = absl::ToUnixMillis(absl::Now());
    for (common::v1::AuditEvent& e : *req.mutable_events()) {
      *e.mutable_event_id() = audit::BenchEventId(
          now_ms, run_seed + static_cast<uint64_t>(client) * 0x100000000ull +
                      static_cast<uint64_t>(seq++));
      e.set_time_unix_ms(now_ms);  // stamped when made, as the services' audit client does
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(absl::GetFlag(FLAGS_deadline_seconds)));
    av1::AppendEventsResponse resp;
    const auto t0 = Clock::now();
    grpc::Status s = stubs[client]->AppendEvents(&ctx, req, &resp);
    if (us != nullptr) us->push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (!s.ok()) Die(name + ": code " + std::to_string(s.error_code()) + ": " + s.error_message());
    if (resp.indexes_size() != per_call) Die(name + ": acknowledgement does not cover the call");
  };
  // Connect every client (and check it is allowed to append) before timing.
  std::vector<int64_t> seqs(clients, 0);
  for (int c = 0; c < clients; ++c) call(c, seqs[c], nullptr);

  std::atomic<bool> stop{false};
  std::atomic<int64_t> events{0};
  std::vector<std::vector<double>> latencies(clients);
  std::vector<std::thread> pool;
  const auto t0 = Clock::now();
  for (int c = 0; c < clients; ++c) {
    pool.emplace_back([&, c] {
      int64_t mine = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        call(c, seqs[c], &latencies[c]);
        mine += per_call;
      }
      events += mine;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : pool) t.join();
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::printf("%s_events_per_second %.0f events/s\n", name.c_str(), static_cast<double>(events) / secs);
  std::printf("%s_calls_per_second %.0f calls/s\n", name.c_str(),
              static_cast<double>(all.size()) / secs);
  std::printf("%s_call_latency_p50 %.1f us\n", name.c_str(), Percentile(all, 50));
  std::printf("%s_call_latency_p99 %.1f us\n", name.c_str(), Percentile(all, 99));
  return 0;
}

}  // namespace
}  // namespace datalab::bench

int main(int argc, char** argv) {
  // As the services (server::InitMain): no lock-order graph in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::ParseCommandLine(argc, argv);
  if (absl::GetFlag(FLAGS_target).empty() || absl::GetFlag(FLAGS_ca).empty()) {
    datalab::bench::Die("--target and --ca are required");
  }
  if (absl::GetFlag(FLAGS_mode) == "query") return datalab::bench::RunQueries();
  if (absl::GetFlag(FLAGS_mode) == "calls") return datalab::bench::RunCalls();
  if (absl::GetFlag(FLAGS_mode) == "pseudonymise") return datalab::bench::RunPseudonymise();
  if (absl::GetFlag(FLAGS_mode) == "audit") return datalab::bench::RunAudit();
  datalab::bench::Die("--mode must be calls, query, pseudonymise or audit");
}
