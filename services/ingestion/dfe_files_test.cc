// Every real DfE file in shared/data/dfe loads through the ingestion
// pipeline with its example schema from dfe_schemas/ (the JSON the catalogue
// CLI loads): no invalid rows, and the expected counts of rows, summary rows
// and missing-value markers. The expectations were counted independently of
// this code (a Python csv pass over the same columns).
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/csv/encoding.h"
#include "common/testing/paths.h"
#include "common/testing/status_matchers.h"
#include "google/protobuf/util/json_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingestion/pipeline.h"
#include "services/ingestion/testing_fakes.h"

namespace datalab::ingestion {
namespace {

using ::datalab::testing::IsOk;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct DfeCase {
  const char* file;
  const char* schema;
  int64_t rows;     // data rows loaded (summary rows excluded)
  int64_t summary;  // summary rows recognised and skipped
  std::map<std::string, int64_t> markers;  // marker -> count over all columns
  const char* encoding = "utf-8";
};

void PrintTo(const DfeCase& c, std::ostream* os) { *os << c.file; }

const DfeCase kCases[] = {
    {"england_abs.csv", "england_abs.json", 21214, 3, {{"SUPP", 864}}},
    {"england_census.csv", "england_census.json", 23939, 3, {{"NA", 19181}}},
    {"england_ks2final.csv", "england_ks2final.json", 16355, 153,
     {{"(blank)", 10756}, {"LOWCOV", 44}, {"SUPP", 2787}}},
    {"england_ks4final.csv", "england_ks4final.json", 5516, 157,
     {{"(blank)", 7003}, {"LOWCOV", 10}, {"NE", 1869}, {"NP", 1308}, {"SUPP", 1914}}},
    {"england_ks4provisional.csv", "england_ks4provisional.json", 5495, 157,
     {{"(blank)", 3493}, {"LOWCOV", 49}, {"NA", 24768}, {"NE", 4655}, {"SUPP", 2070}}},
    {"gias_edubasealldata_sample.csv", "gias_edubasealldata_sample.json", 2, 0,
     {{"(blank)", 11}}},
    {"la_and_region_codes_meta.csv", "la_and_region_codes_meta.json", 151, 0, {}},
    {"pupil-premium-2019-2020.csv", "pupil_premium_2019_2020.json", 21567, 0, {}},
    {"school_data_sql.csv", "school_data_sql.json", 26346, 0, {}, "windows-1252"},
    {"SFR35_2017_National_characteristics.csv", "sfr35_2017_national_characteristics.json", 3789,
     0, {{".", 261}, {"x", 1426}}},
    {"SFR35_2017_reason_for_exclusion.csv", "sfr35_2017_reason_for_exclusion.json", 5927, 440,
     {{"x", 19035}}},
};

class DfeFilesTest : public ::testing::TestWithParam<DfeCase> {};

TEST_P(DfeFilesTest, LoadsWithItsSchema) {
  const DfeCase& c = GetParam();
  const std::string data = Slurp(datalab::testing::SharedDir() + "/data/dfe/" + c.file);
  ASSERT_FALSE(data.empty()) << c.file;
  catalogue::v1::CreateDatasetRequest req;
  const std::string json =
      Slurp(datalab::testing::SourceDir() + "/services/ingestion/dfe_schemas/" + c.schema);
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &req).ok()) << c.schema;
  EXPECT_EQ(req.dataset().name(), "datasets/" + req.dataset_id());
  auto schema = CompiledSchema::Create(req.dataset(), req.schema());
  ASSERT_THAT(schema, IsOk());

  // As the service does: whole-file encoding detection over staged chunks.
  csv::EncodingDetector detector;
  constexpr size_t kChunk = 64 * 1024;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    detector.Feed(std::string_view(data).substr(off, kChunk));
  }
  PipelineOptions o;
  o.policy = v1::REJECT;
  o.encoding = detector.Finish();
  o.school = "trust-wide";
  o.period = "2019";
  testing::FakePseudonymiser pseudo;
  testing::CollectingSink sink;
  auto p = RowPipeline::Create(schema->get(), o, &pseudo, &sink);
  ASSERT_THAT(p, IsOk());
  for (size_t off = 0; off < data.size(); off += kChunk) {
    ASSERT_THAT((*p)->Feed(std::string_view(data).substr(off, kChunk)), IsOk());
  }
  ASSERT_THAT((*p)->Finish(), IsOk());
  const v1::ValidationReport& r = (*p)->report();
  for (const auto& e : r.errors()) {
    ADD_FAILURE() << c.file << " row " << e.row() << " line " << e.line() << " " << e.column()
                  << " " << e.rule() << ": " << e.reason();
    break;
  }
  EXPECT_FALSE((*p)->rejected()) << (*p)->reject_reason();
  EXPECT_EQ(r.rows_total(), c.rows);
  EXPECT_EQ(r.rows_valid(), c.rows);
  EXPECT_EQ(r.rows_invalid(), 0);
  EXPECT_EQ(r.rows_summary_skipped(), c.summary);
  EXPECT_EQ(r.missing_headers_size(), 0);
  EXPECT_EQ(r.encoding_detected(), c.encoding);
  EXPECT_EQ(sink.rows, c.rows);
  std::map<std::string, int64_t> markers;
  for (const auto& m : r.missing_markers()) markers[m.marker()] += m.count();
  EXPECT_EQ(markers, c.markers);
  // Dropped columns never reach the store.
  for (const auto& col : (*schema)->stored_columns()) {
    EXPECT_NE(col.name(), "head_last_name");
    EXPECT_NE(col.name(), "telephone");
  }
}

INSTANTIATE_TEST_SUITE_P(AllFiles, DfeFilesTest, ::testing::ValuesIn(kCases),
                         [](const auto& info) {
                           std::string n = info.param.file;
                           for (char& ch : n) {
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n;
                         });

TEST(DfeFilesTest, EveryFileHasASchema) {
  // A new file in shared/data/dfe must come with a schema and a case above.
  std::ifstream probe(datalab::testing::SharedDir() + "/data/dfe/england_abs.csv");
  ASSERT_TRUE(probe.good());
  EXPECT_EQ(std::size(kCases), 11u);
}

}  // namespace
}  // namespace datalab::ingestion
