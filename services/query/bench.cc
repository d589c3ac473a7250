// datalab-query-bench: loads N synthetic pupil-term rows into a query store
// in-process and times the canonical queries end to end (store -> engine ->
// disclosure control -> signed release), printing "name value unit" lines.
//
//   datalab-query-bench [--rows=20000000] [--backend=memory|rocksdb]
//                       [--dir=/tmp/qbench] [--repeat=5] [--threads=2]
//                       [--schools=400]   (groups of GROUP BY school, fsm: 2x)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "services/query/kv_query_store.h"
#include "services/query/query_runner.h"
#include "services/query/testing_support.h"

namespace {

using namespace datalab;  // NOLINT: bench driver
using Clock = std::chrono::steady_clock;

std::string Flag(int argc, char** argv, const std::string& name, const std::string& def) {
  const std::string p = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind(p, 0) == 0) return a.substr(p.size());
  }
  return def;
}

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Pupil-term rows: 6 terms per pupil, `schools` schools, fsm ~ 25%.
absl::Status Load(query::QueryStore& store, const std::string& version, int64_t rows, uint32_t seed,
                  bool second_dataset, int64_t schools) {
  query::v1::VersionSpec spec;
  spec.set_dataset_version(version);
  spec.set_idempotency_key(version);
  auto add = [&](const char* n, common::v1::ColumnType t, bool subject = false) {
    auto* c = spec.add_columns();
    c->set_name(n);
    c->set_type(t);
    c->set_subject(subject);
  };
  add("upn", common::v1::STRING, true);
  add("school", common::v1::CODE);
  add("fsm", common::v1::BOOLEAN);
  add("term", common::v1::INTEGER);
  add(second_dataset ? "absence" : "score", common::v1::DECIMAL);
  auto w = store.BeginVersion(spec);
  if (!w.ok()) return w.status();
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> score(0, 100);
  const int64_t pupils = std::max<int64_t>(1, rows / 6);
  const int64_t kBatch = 65536;
  for (int64_t start = 0; start < rows; start += kBatch) {
    const int64_t n = std::min(kBatch, rows - start);
    query::v1::RowBatch b;
    b.set_rows(n);
    for (int i = 0; i < 5; ++i) b.add_columns();
    for (int64_t r = start; r < start + n; ++r) {
      const int64_t pupil = r % pupils;
      b.mutable_columns(0)->add_strings(absl::StrCat("p", pupil));
      b.mutable_columns(1)->add_strings(absl::StrCat("URN", 100000 + pupil % schools));
      b.mutable_columns(2)->add_ints(pupil % 4 == 0);
      b.mutable_columns(3)->add_ints(r / pupils);
      b.mutable_columns(4)->add_doubles(std::round(score(rng) * 10) / 10);
    }
    absl::Status s = (*w)->Write(b);
    if (!s.ok()) return s;
  }
  query::v1::CommitVersion c;
  c.set_total_rows(rows);
  return (*w)->Commit(c).status();
}

}  // namespace

int main(int argc, char** argv) {
  // As the services (server::InitMain): no lock-order graph in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  int64_t rows = 20000000;
  int repeat = 5, threads = 2;
  int64_t schools = 400;
  (void)absl::SimpleAtoi(Flag(argc, argv, "rows", "20000000"), &rows);
  (void)absl::SimpleAtoi(Flag(argc, argv, "repeat", "5"), &repeat);
  (void)absl::SimpleAtoi(Flag(argc, argv, "threads", "2"), &threads);
  (void)absl::SimpleAtoi(Flag(argc, argv, "schools", "400"), &schools);
  schools = std::max<int64_t>(1, schools);
  const std::string backend_kind = Flag(argc, argv, "backend", "memory");
  const std::string dir = Flag(argc, argv, "dir", "/tmp/datalab-query-bench");

  std::shared_ptr<query::StoreBackend> backend;
  if (backend_kind == "rocksdb") {
    std::filesystem::remove_all(dir);
    auto b = query::OpenRocksDbBackend(dir);
    if (!b.ok()) {
      std::fprintf(stderr, "error: %s\n", std::string(b.status().message()).c_str());
      return 1;
    }
    backend = std::move(*b);
  } else {
    backend = query::NewMemoryBackend();
  }
  query::KvQueryStore::Options so;
  so.backend = backend;
  auto store = query::KvQueryStore::Open(so);
  if (!store.ok()) return 1;

  auto t = Clock::now();
  absl::Status s = Load(**store, "datasets/terms/versions/1", rows, 1, false, schools);
  if (!s.ok()) {
    std::fprintf(stderr, "error: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  std::printf("load_rows %lld rows\n", static_cast<long long>(rows));
  std::printf("load_seconds %.3f s\n", Since(t));
  const int64_t join_rows = std::min<int64_t>(rows / 4, 5000000);
  s = Load(**store, "datasets/absence/versions/1", join_rows, 2, true, schools);
  if (!s.ok()) return 1;

  query::testing::FakeCatalogue catalogue;
  audit_client::FakeAuditClient audit;
  auto key = crypto::Ed25519PrivateKey::Generate();
  query::QueryRunner::Options o;
  o.store = store->get();
  o.catalogue = catalogue.Start();
  o.audit = &audit;
  o.signing_key = &*key;
  o.threads = threads;
  auto runner = query::QueryRunner::Create(o);
  if (!runner.ok()) return 1;
  common::v1::Principal caller;
  caller.set_kind(common::v1::Principal::USER);
  caller.set_subject("users/bench");

  const std::vector<std::pair<std::string, std::string>> queries = {
      {"group_school_fsm",
       "SELECT school, fsm, COUNT(*), AVG(score), MEDIAN(score) FROM terms GROUP BY school, fsm"},
      {"join_pupil",
       "SELECT t.fsm, COUNT(DISTINCT pupil), AVG(absence) FROM terms t JOIN absence a USING (pupil, term) "
       "GROUP BY t.fsm"},
  };
  for (const auto& [name, sql] : queries) {
    query::v1::RunQueryRequest req;
    req.set_project("projects/bench");
    req.set_sql(sql);
    std::vector<double> total;
    query::QueryTimings last;
    for (int i = 0; i <= repeat; ++i) {
      query::QueryTimings timings;
      auto t0 = Clock::now();
      auto r = (*runner)->Run(caller, req, {}, &timings);
      const double secs = Since(t0);
      if (!r.ok()) {
        std::fprintf(stderr, "error: %s: %s\n", name.c_str(), std::string(r.status().message()).c_str());
        return 1;
      }
      if (i == 0) {
        std::printf("%s_cold_seconds %.4f s\n", name.c_str(), secs);
        continue;
      }
      total.push_back(secs);
      last = timings;
    }
    std::sort(total.begin(), total.end());
    std::printf("%s_median_seconds %.4f s\n", name.c_str(), total[total.size() / 2]);
    std::printf("%s_execute_seconds %.4f s\n", name.c_str(), last.execute);
    std::printf("%s_sdc_seconds %.4f s\n", name.c_str(), last.sdc);
    std::printf("%s_release_seconds %.4f s\n", name.c_str(), last.release);
  }
  return 0;
}
