// datalab-audit-bench: in-process measurements of the audit log, printed as
// `name value unit` lines (bench/ collects them; nothing here is asserted).
//
//   append_events_per_second   32 threads, one event per Append, RocksDB
//                              store with fsync per group commit
//   verify_entries_per_second  ExportVerifier over --entries entries
//   verify_jsonl_seconds       the same through the JSON Lines reader
//   inclusion_proof_us         mean latency over a --entries RocksDB log
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <sstream>
#include <thread>
#include <time.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "common/crypto/ed25519.h"
#include "services/audit/audit_log.h"
#include "services/audit/bench_event.h"
#include "services/audit/memory_audit_store.h"
#include "services/audit/merkle/compact_range.h"
#include "services/audit/rocksdb_audit_store.h"
#include "services/audit/search_terms.h"
#include "services/audit/sequencer.h"
#include "services/audit/verifier.h"

ABSL_FLAG(std::string, dir, "/tmp", "directory for the temporary stores");
ABSL_FLAG(int, threads, 32, "concurrent appenders");
ABSL_FLAG(double, append_seconds, 5, "duration of the append phase");
ABSL_FLAG(int, group_commit_max, 2048, "most events per fsync");
ABSL_FLAG(int, events_per_call, 1, "events per Append call in the append phase");
ABSL_FLAG(bool, memory, false, "append phase against the in-memory store (no fsync)");
ABSL_FLAG(int64_t, entries, 1000000, "log size for the verify and proof phases");

namespace datalab::audit {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

common::v1::AuditEvent Event(uint64_t i) {
  const int64_t time_ms = 1'700'000'000'000 + static_cast<int64_t>(i);
  common::v1::AuditEvent e = BenchEvent(BenchEventId(time_ms, i), i);
  e.set_time_unix_ms(time_ms);
  return e;
}

std::unique_ptr<AuditLog> OpenLog(AuditStore* store, size_t group) {
  AuditLogOptions o;
  o.store = store;
  o.signing_key = *crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'b'));
  o.group_commit_max = group;
  auto log = AuditLog::Create(std::move(o));
  if (!log.ok()) {
    std::fprintf(stderr, "cannot open log: %s\n", std::string(log.status().message()).c_str());
    std::exit(1);
  }
  return std::move(*log);
}

void AppendPhase(const std::string& dir) {
  std::unique_ptr<AuditStore> store;
  if (absl::GetFlag(FLAGS_memory)) {
    store = std::make_unique<MemoryAuditStore>();
  } else {
    auto rocks = RocksDbAuditStore::Open(dir + "/append");
    if (!rocks.ok()) std::exit(1);
    store = std::move(*rocks);
  }
  auto log = OpenLog(store.get(), static_cast<size_t>(absl::GetFlag(FLAGS_group_commit_max)));
  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  const int per_call = std::max(1, absl::GetFlag(FLAGS_events_per_call));
  std::vector<std::thread> threads;
  auto start = Clock::now();
  for (int t = 0; t < absl::GetFlag(FLAGS_threads); ++t) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        std::vector<common::v1::AuditEvent> v;
        for (int k = 0; k < per_call; ++k) v.push_back(Event(next.fetch_add(1)));
        if (!log->Append(v).ok()) std::abort();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(absl::GetFlag(FLAGS_append_seconds)));
  stop.store(true);
  for (auto& t : threads) t.join();
  double secs = Seconds(start, Clock::now());
  SequencerStats s = log->Stats();
  std::printf("append_events_per_second %.0f events/s\n", static_cast<double>(s.leaves) / secs);
  std::printf("append_group_mean %.1f events\n",
              s.groups ? static_cast<double>(s.leaves) / static_cast<double>(s.groups) : 0.0);
  std::printf("append_fsyncs_per_second %.0f syncs/s\n", static_cast<double>(s.groups) / secs);
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// CPU cost of the writer's store write per event (thread CPU time, so it is
// meaningful on a loaded machine), with and without the index records.
void StoreCostPhase(const std::string& dir) {
  auto store = RocksDbAuditStore::Open(dir + "/storecost");
  if (!store.ok()) std::exit(1);
  merkle::CompactRange range;
  constexpr int kGroups = 200, kPerGroup = 256;
  double append_cpu = 0, index_cpu = 0, lookup_cpu = 0, prep_cpu = 0;
  uint64_t i = 0;
  for (int g = 0; g < kGroups; ++g) {
    AppendBatch b;
    b.first_index = range.size();
    double t0 = ThreadCpuSeconds();
    for (int k = 0; k < kPerGroup; ++k, ++i) {
      common::v1::AuditEvent e = Event(i);
      LeafRecord l;
      l.event_id = e.event_id();
      l.entry = SerializeEventDeterministic(e);
      l.leaf_hash = merkle::LeafHash(l.entry);
      l.time_unix_ms = e.time_unix_ms();
      l.terms = SearchTerms(e);
      (void)range.Append(l.leaf_hash, [&](const merkle::NodeId& id, const merkle::Hash& h) {
        if (id.level >= kMinStoredNodeLevel) b.nodes.emplace_back(id, h);
        return absl::OkStatus();
      });
      b.leaves.push_back(std::move(l));
    }
    double t1 = ThreadCpuSeconds();
    std::vector<std::string_view> ids;
    for (const LeafRecord& l : b.leaves) ids.push_back(l.event_id);
    (void)(*store)->FindEventIds(ids);
    double t2 = ThreadCpuSeconds();
    b.frontier = range.frontier();
    if (!(*store)->Append(b).ok()) std::abort();
    double t3 = ThreadCpuSeconds();
    std::vector<IndexRecord> records;
    for (uint64_t k = 0; k < b.leaves.size(); ++k) {
      records.push_back({b.first_index + k, b.leaves[k].time_unix_ms, b.leaves[k].terms});
    }
    if (!(*store)->WriteIndex(records, range.size()).ok()) std::abort();
    double t4 = ThreadCpuSeconds();
    prep_cpu += t1 - t0;
    lookup_cpu += t2 - t1;
    append_cpu += t3 - t2;
    index_cpu += t4 - t3;
  }
  const double n = kGroups * kPerGroup;
  std::printf("cpu_prepare_us_per_event %.2f us\n", prep_cpu / n * 1e6);
  std::printf("cpu_id_lookup_us_per_event %.2f us\n", lookup_cpu / n * 1e6);
  std::printf("cpu_store_append_us_per_event %.2f us\n", append_cpu / n * 1e6);
  std::printf("cpu_index_write_us_per_event %.2f us\n", index_cpu / n * 1e6);
}

void VerifyPhase(uint64_t n) {
  auto key = *crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'b'));
  const auto& raw = key.PublicKey()->Raw();
  std::string pub(raw.begin(), raw.end());
  std::vector<std::string> entries;
  entries.reserve(n);
  merkle::CompactRange range;
  for (uint64_t i = 0; i < n; ++i) {
    entries.push_back(Event(i).SerializeAsString());
    range.Append(merkle::LeafHash(entries.back()));
  }
  TreeHead head;
  head.tree_size = n;
  head.timestamp_unix_ms = 1;
  head.root_hash = range.Root();
  (void)SignTreeHead(key, head);

  auto start = Clock::now();
  ExportVerifier v(pub);
  for (uint64_t i = 0; i < n; ++i) v.AddEntry({i, entries[i], false, std::nullopt});
  v.AddHead(head);
  VerifyReport r = v.Finish();
  double secs = Seconds(start, Clock::now());
  if (!r.ok) std::fprintf(stderr, "verify failed: %s\n", r.error.c_str());
  std::printf("verify_entries_per_second %.0f entries/s\n", static_cast<double>(n) / secs);
  std::printf("verify_seconds %.3f s\n", secs);

  std::stringstream jsonl;
  jsonl << ExportHeaderLine(pub, "") << "\n";
  for (uint64_t i = 0; i < n; ++i) {
    merkle::Hash h = merkle::LeafHash(entries[i]);
    jsonl << ExportEntryLine({i, entries[i], false, h}) << "\n";
  }
  jsonl << ExportHeadLine(head) << "\n";
  start = Clock::now();
  VerifyReport rj = VerifyJsonLines(jsonl);
  secs = Seconds(start, Clock::now());
  if (!rj.ok) std::fprintf(stderr, "jsonl verify failed: %s\n", rj.error.c_str());
  std::printf("verify_jsonl_seconds %.3f s\n", secs);
}

void ProofPhase(const std::string& dir, uint64_t n) {
  auto store = RocksDbAuditStore::Open(dir + "/proofs");
  if (!store.ok()) std::exit(1);
  auto log = OpenLog(store->get(), 8192);
  constexpr uint64_t kBatch = 4096;
  for (uint64_t i = 0; i < n; i += kBatch) {
    std::vector<common::v1::AuditEvent> v;
    for (uint64_t k = i; k < std::min(n, i + kBatch); ++k) v.push_back(Event(k));
    if (!log->Append(v).ok()) std::abort();
  }
  if (!log->SignTreeHead().ok()) std::abort();
  std::mt19937_64 rng(1);
  constexpr int kProofs = 2000;
  auto start = Clock::now();
  for (int i = 0; i < kProofs; ++i) {
    if (!log->InclusionProof(rng() % n, 0).ok()) std::abort();
  }
  double secs = Seconds(start, Clock::now());
  std::printf("inclusion_proof_us %.1f us\n", secs / kProofs * 1e6);
  start = Clock::now();
  for (int i = 0; i < kProofs; ++i) {
    uint64_t a = 1 + rng() % (n - 1);
    if (!log->ConsistencyProof(a, n).ok()) std::abort();
  }
  secs = Seconds(start, Clock::now());
  std::printf("consistency_proof_us %.1f us\n", secs / kProofs * 1e6);
}

}  // namespace
}  // namespace datalab::audit

int main(int argc, char** argv) {
  // As the services (server::InitMain): no lock-order graph in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::ParseCommandLine(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_dir) + "/datalab-audit-bench-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  const uint64_t n = static_cast<uint64_t>(std::max<int64_t>(2, absl::GetFlag(FLAGS_entries)));
  datalab::audit::StoreCostPhase(dir);
  datalab::audit::AppendPhase(dir);
  datalab::audit::VerifyPhase(n);
  datalab::audit::ProofPhase(dir, n);
  std::filesystem::remove_all(dir);
  return 0;
}
