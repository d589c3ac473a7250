// Throughput of the ingestion pipeline in process: a CSV file through
// RowPipeline (parse, validate, treat, batch) with the bench's 10-column
// pupil schema, an in-memory pseudonymiser and a sink that drops batches.
// Prints the wall time, the parsing thread's CPU time and rows/s; asserts
// nothing (timing is not a test).
// Usage: datalab-ingest-bench FILE.csv [--runs N]
// (bench/run.sh writes FILE as ~/.cache/datalab-bench/data/pupils-s1.csv.)
#include <time.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "services/ingestion/compiled_schema.h"
#include "services/ingestion/pipeline.h"
#include "services/ingestion/testing_fakes.h"

namespace {

namespace cv1 = ::datalab::common::v1;
namespace cat = ::datalab::catalogue::v1;
using datalab::ingestion::BatchSink;
using datalab::ingestion::CompiledSchema;
using datalab::ingestion::PipelineOptions;
using datalab::ingestion::RowPipeline;

class DropSink : public BatchSink {
 public:
  absl::Status Write(datalab::query::v1::RowBatch* batch) override {
    rows += batch->rows();
    return absl::OkStatus();
  }
  int64_t rows = 0;
};

cat::Column Col(const char* name, cv1::ColumnType type, cv1::Treatment t = cv1::KEEP) {
  cat::Column c;
  c.set_name(name);
  c.set_type(type);
  c.set_treatment(t);
  return c;
}

cat::Column Coded(const char* name, std::initializer_list<const char*> codes) {
  cat::Column c = Col(name, cv1::CODE);
  for (const char* code : codes) c.add_codes()->set_code(code);
  return c;
}

// The schema of bench/run.sh's bench_pupils dataset.
void BenchSchema(cat::Dataset* d, cat::Schema* s) {
  d->set_name("datasets/bench_pupils");
  d->set_subject_kind(cv1::PUPIL);
  d->set_identifier_domain("domains/pupil");
  d->set_current_schema_version(1);
  s->set_version(1);
  cat::Column id = Col("pupil_id", cv1::STRING, cv1::PSEUDONYMISE);
  id.set_subject_key(true);
  id.set_required(true);
  *s->add_columns() = id;
  cat::Column urn = Col("school_urn", cv1::STRING);
  urn.set_required(true);
  *s->add_columns() = urn;
  *s->add_columns() =
      Coded("nc_year", {"R", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13"});
  *s->add_columns() = Coded("gender", {"M", "F"});
  *s->add_columns() = Coded("fsm", {"Y", "N"});
  *s->add_columns() = Coded("sen", {"N", "K", "E"});
  *s->add_columns() = Col("ethnicity", cv1::STRING);
  cat::Column att = Col("attendance_pct", cv1::DECIMAL);
  att.set_has_range(true);
  att.set_min_value(0);
  att.set_max_value(100);
  *s->add_columns() = att;
  *s->add_columns() = Col("grade_maths", cv1::INTEGER);
  *s->add_columns() = Col("grade_english", cv1::INTEGER);
}

double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: datalab-ingest-bench FILE.csv [--runs N]\n");
    return 2;
  }
  int runs = 3;
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0) runs = std::atoi(argv[i + 1]);
  }
  std::ifstream in(argv[1], std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", argv[1]);
    return 1;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string file = ss.str();

  cat::Dataset dataset;
  cat::Schema schema;
  BenchSchema(&dataset, &schema);
  auto compiled = CompiledSchema::Create(dataset, schema);
  if (!compiled.ok()) {
    std::fprintf(stderr, "schema: %s\n", std::string(compiled.status().message()).c_str());
    return 1;
  }
  for (int run = 0; run < runs; ++run) {
    datalab::ingestion::testing::FakePseudonymiser pseudo;
    DropSink sink;
    PipelineOptions o;
    o.school = "trust-wide";
    o.job = "jobs/bench";
    auto p = RowPipeline::Create(compiled->get(), o, &pseudo, &sink);
    if (!p.ok()) return 1;
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = ThreadCpuSeconds();
    absl::Status s;
    constexpr size_t kChunk = 1 << 20;  // as the CLI sends it
    for (size_t off = 0; off < file.size() && s.ok(); off += kChunk) {
      s = (*p)->Feed(std::string_view(file).substr(off, kChunk));
    }
    if (s.ok()) s = (*p)->Finish();
    const double cpu = ThreadCpuSeconds() - c0;
    const double wall =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!s.ok() || (*p)->rejected()) {
      std::fprintf(stderr, "failed: %s %s\n", std::string(s.message()).c_str(),
                   (*p)->reject_reason().c_str());
      return 1;
    }
    std::printf("run %d: %lld rows in %.3f s wall (%.0f rows/s), parsing thread %.3f s CPU "
                "(%.0f ns/row)\n",
                run + 1, static_cast<long long>(sink.rows), wall,
                static_cast<double>(sink.rows) / wall, cpu,
                cpu * 1e9 / static_cast<double>(sink.rows));
  }
  return 0;
}
