// datalab-engine-bench: times the execution engine on synthetic pupil data
// shaped like the PEERS.md benchmark file (see /work/shared/PEERS.md).
//
//   datalab-engine-bench [--rows=20000000] [--join_rows=5000000]
//                        [--threads=2] [--reps=5] [--shuffle_subjects]
//                        [--group_only=1]
//
// Reports wall milliseconds (min and median over reps, after one warm-up)
// for GROUP BY school_urn, fsm with COUNT(*), AVG and MEDIAN of
// attendance_pct, and for a join of two join_rows datasets on pupil.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/resource.h>
#include <numeric>
#include <string>
#include <vector>

#include "services/query/engine/column.h"
#include "services/query/engine/executor.h"
#include "services/query/engine/plan.h"

namespace datalab::engine {
namespace {

struct Rng {
  uint64_t s;
  uint64_t Next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>((Next() >> 32) * n >> 32); }
  double Unit() { return (Next() >> 11) * 0x1.0p-53; }
};

std::vector<std::string> Dict(const char* prefix, int n, int start = 0) {
  std::vector<std::string> d;
  for (int i = 0; i < n; ++i) d.push_back(std::string(prefix) + std::to_string(start + i));
  return d;
}

std::shared_ptr<const Column> Must(absl::StatusOr<std::shared_ptr<const Column>> c) {
  if (!c.ok()) {
    std::fprintf(stderr, "column: %s\n", std::string(c.status().message()).c_str());
    std::exit(1);
  }
  return *c;
}

// The PEERS.md file's columns: pupil_id, school_urn, nc_year, gender, fsm,
// sen, ethnicity, attendance_pct, grade_maths, grade_english.
std::shared_ptr<const Table> MakePupils(size_t rows, uint64_t seed, bool shuffle) {
  Rng rng{seed};
  std::vector<uint32_t> ids(rows);
  std::iota(ids.begin(), ids.end(), 0u);
  if (shuffle) {
    for (size_t i = rows; i > 1; --i) std::swap(ids[i - 1], ids[rng.Below(static_cast<uint32_t>(i))]);
  }
  ColumnBuilder pupil("pupil_id", ColumnType::kSubject), school("school_urn", ColumnType::kCode),
      year("nc_year", ColumnType::kInt64), gender("gender", ColumnType::kCode),
      fsm("fsm", ColumnType::kInt64), sen("sen", ColumnType::kCode),
      eth("ethnicity", ColumnType::kCode), att("attendance_pct", ColumnType::kDouble),
      maths("grade_maths", ColumnType::kInt64), english("grade_english", ColumnType::kInt64);
  school.SetDictionary(Dict("1", 3000, 100000));
  gender.SetDictionary({"F", "M"});
  sen.SetDictionary({"N", "K", "E"});
  eth.SetDictionary(Dict("E", 18));
  for (size_t r = 0; r < rows; ++r) {
    pupil.AppendSubject(ids[r]);
    school.AppendCode(rng.Below(3000));
    year.AppendInt64(7 + rng.Below(5));
    gender.AppendCode(rng.Below(2));
    fsm.AppendInt64(rng.Below(100) < 23 ? 1 : 0);
    sen.AppendCode(rng.Below(100) < 85 ? 0 : 1 + rng.Below(2));
    eth.AppendCode(rng.Below(18));
    if (rng.Below(200) == 0) {
      att.AppendMissing(kBlank);
    } else {
      att.AppendDouble(60 + 40 * rng.Unit());
    }
    if (rng.Below(50) == 0) maths.AppendMissing(kNE); else maths.AppendInt64(1 + rng.Below(9));
    if (rng.Below(50) == 0) english.AppendMissing(kNE); else english.AppendInt64(1 + rng.Below(9));
  }
  std::vector<std::shared_ptr<const Column>> cols;
  for (ColumnBuilder* b : {&pupil, &school, &year, &gender, &fsm, &sen, &eth, &att, &maths, &english}) {
    cols.push_back(Must(b->Finish()));
  }
  auto t = Table::Create("pupils", std::move(cols));
  if (!t.ok()) std::exit(1);
  return *t;
}

template <typename Fn>
void Time(const char* name, int reps, Fn fn) {
  fn();  // warm-up (and sanity)
  std::vector<double> ms, cpu;
  auto cpu_ms = [] {
    rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
  };
  for (int i = 0; i < reps; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    double c0 = cpu_ms();
    fn();
    cpu.push_back(cpu_ms() - c0);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  std::sort(cpu.begin(), cpu.end());
  std::printf("%-56s wall min %7.1f ms median %7.1f ms | cpu min %7.1f ms\n", name, ms.front(),
              ms[ms.size() / 2], cpu.front());
  std::fflush(stdout);
}

size_t FlagValue(int argc, char** argv, const char* name, size_t def) {
  std::string prefix = std::string("--") + name + "=";
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], prefix.c_str(), prefix.size()) == 0) {
      return std::strtoull(argv[i] + prefix.size(), nullptr, 10);
    }
  }
  return def;
}

int Main(int argc, char** argv) {
  const size_t rows = FlagValue(argc, argv, "rows", 20000000);
  const size_t join_rows = FlagValue(argc, argv, "join_rows", 5000000);
  Options opt;
  opt.threads = static_cast<int>(FlagValue(argc, argv, "threads", 2));
  const int reps = static_cast<int>(FlagValue(argc, argv, "reps", 5));
  bool shuffle = false;
  for (int i = 1; i < argc; ++i) shuffle |= std::strcmp(argv[i], "--shuffle_subjects") == 0;

  auto t0 = std::chrono::steady_clock::now();
  auto pupils = MakePupils(rows, 42, shuffle);
  std::printf("generated %zu rows in %.0f ms (threads=%d, subjects %s)\n", rows,
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count(),
              opt.threads, shuffle ? "shuffled" : "in row order");

  Plan group;
  group.inputs = {{"pupil_id", {}}};
  group.group_keys = {KeyColumn("school_urn", 0, "school_urn"), KeyColumn("fsm", 0, "fsm")};
  group.aggregates = {
      {Aggregate::Kind::kCountStar, "n", nullptr, nullptr, 0.5, false},
      {Aggregate::Kind::kAvg, "avg_att", Col(0, "attendance_pct"), nullptr, 0.5, false},
      {Aggregate::Kind::kMedian, "med_att", Col(0, "attendance_pct"), nullptr, 0.5, false},
  };
  const Table* one[] = {pupils.get()};
  size_t groups = 0;
  ExecStats last;
  Time("GROUP BY school_urn, fsm: COUNT, AVG, MEDIAN", reps, [&] {
    auto r = Execute(group, one, opt);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
      std::exit(1);
    }
    groups = r->rows.size();
    last = r->stats;
  });
  std::printf("  groups: %zu (last run: scan %.1f ms, finalize %.1f ms)\n", groups,
              last.scan_seconds * 1e3, last.finalize_seconds * 1e3);

  if (FlagValue(argc, argv, "group_only", 0)) return 0;
  Plan count_avg = group;
  count_avg.aggregates.pop_back();
  Time("GROUP BY school_urn, fsm: COUNT, AVG", reps, [&] { (void)Execute(count_avg, one, opt); });

  Plan filtered = group;
  filtered.filter = And({Ge(Col(0, "nc_year"), Lit(int64_t{9})), Eq(Col(0, "gender"), Lit("F"))});
  Time("WHERE nc_year>=9 AND gender='F' GROUP BY ... (3 aggs)", reps,
       [&] { (void)Execute(filtered, one, opt); });

  // Join: two datasets of join_rows pupils; the second in a different order.
  auto left = MakePupils(join_rows, 7, false);
  auto right = MakePupils(join_rows, 8, true);
  Plan join;
  join.inputs = {{"pupil_id", {}}, {"pupil_id", {}}};
  join.group_keys = {KeyColumn("school_urn", 0, "school_urn")};
  join.aggregates = {
      {Aggregate::Kind::kCountStar, "n", nullptr, nullptr, 0.5, false},
      {Aggregate::Kind::kAvg, "avg_maths", Col(1, "grade_maths"), nullptr, 0.5, false},
  };
  const Table* two[] = {left.get(), right.get()};
  size_t joined_rows = 0;
  Time("JOIN 5M x 5M USING(pupil) GROUP BY school: COUNT, AVG", reps, [&] {
    auto r = Execute(join, two, opt);
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", std::string(r.status().message()).c_str());
      std::exit(1);
    }
    last = r->stats;
    joined_rows = 0;
    for (const auto& row : r->rows) joined_rows += row.rows;
  });
  std::printf("  joined rows: %zu (last run: join %.1f ms, scan %.1f ms, finalize %.1f ms)\n",
              joined_rows, last.join_seconds * 1e3, last.scan_seconds * 1e3,
              last.finalize_seconds * 1e3);
  Plan join_count = join;
  join_count.group_keys.clear();
  join_count.aggregates.resize(1);
  Time("JOIN 5M x 5M USING(pupil): COUNT(*)", reps, [&] { (void)Execute(join_count, two, opt); });
  return 0;
}

}  // namespace
}  // namespace datalab::engine

int main(int argc, char** argv) { return datalab::engine::Main(argc, argv); }
