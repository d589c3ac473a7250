// Parses every real DfE file in shared/data/dfe (see shared/data/README.md)
// and checks row/column counts, encodings and the quirks each file is there
// to exercise.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/csv/csv_reader.h"
#include "common/csv/header_matcher.h"
#include "common/csv/value_parser.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::csv {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::filesystem::path DfeDir() {
  if (const char* s = std::getenv("DATALAB_SHARED_DIR"); s && *s) {
    return std::filesystem::path(s) / "data" / "dfe";
  }
  if (const char* s = std::getenv("DATALAB_SOURCE_DIR"); s && *s) {
    return std::filesystem::path(s) / ".." / "shared" / "data" / "dfe";
  }
  return "/work/shared/data/dfe";
}

std::string ReadFile(const std::string& name) {
  std::ifstream in(DfeDir() / name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Reads `data` as an upload would arrive: gRPC-sized chunks (or the given
// sizes, cycled), calling `on_record` for every record.
absl::Status ReadChunked(std::string_view data, const CsvOptions& options,
                         const std::vector<size_t>& chunks,
                         const std::function<void(const CsvRecord&)>& on_record,
                         Encoding* resolved = nullptr, bool* bom = nullptr) {
  auto reader_or = CsvReader::Create(options);
  if (!reader_or.ok()) return reader_or.status();
  CsvReader& reader = **reader_or;
  CsvRecord rec;
  auto drain = [&]() -> absl::Status {
    while (true) {
      absl::StatusOr<bool> got = reader.Next(&rec);
      if (!got.ok()) return got.status();
      if (!*got) return absl::OkStatus();
      on_record(rec);
    }
  };
  size_t off = 0;
  for (size_t k = 0; off < data.size(); ++k) {
    const size_t n = chunks[k % chunks.size()];
    if (absl::Status s = reader.Feed(data.substr(off, n)); !s.ok()) return s;
    off += n;
    if (absl::Status s = drain(); !s.ok()) return s;
  }
  if (absl::Status s = reader.Finish(); !s.ok()) return s;
  if (absl::Status s = drain(); !s.ok()) return s;
  if (resolved) *resolved = reader.encoding();
  if (bom) *bom = reader.bom_stripped();
  return absl::OkStatus();
}

constexpr size_t kGrpcChunk = 64 * 1024;

struct FileSpec {
  const char* name;
  int64_t rows;  // excluding the header
  size_t cols;
  Encoding encoding;  // what the file is
  bool bom;
  // What the uploader declares. school_data_sql.csv's only non-UTF-8 byte
  // is on line 21965, far past the 64 KiB auto sniff window, so it must be
  // declared (or detected over the whole staged file, EncodingDetector).
  Encoding declared = Encoding::kAuto;
};

// Counts from shared/data/README.md.
const FileSpec kFiles[] = {
    {"england_ks4final.csv", 5673, 14, Encoding::kUtf8, false},
    {"england_ks4provisional.csv", 5652, 25, Encoding::kUtf8, true},
    {"england_ks2final.csv", 16508, 14, Encoding::kUtf8, false},
    {"england_census.csv", 23942, 22, Encoding::kUtf8, true},
    {"england_abs.csv", 21217, 5, Encoding::kUtf8, true},
    {"school_data_sql.csv", 26346, 5, Encoding::kWindows1252, false,
     Encoding::kWindows1252},
    {"SFR35_2017_National_characteristics.csv", 3789, 15, Encoding::kUtf8, false},
    {"SFR35_2017_reason_for_exclusion.csv", 6367, 34, Encoding::kUtf8, false},
    {"pupil-premium-2019-2020.csv", 21567, 19, Encoding::kUtf8, false},
    {"la_and_region_codes_meta.csv", 151, 4, Encoding::kUtf8, false},
    {"gias_edubasealldata_sample.csv", 2, 135, Encoding::kUtf8, false},
};

void PrintTo(const FileSpec& spec, std::ostream* os) { *os << spec.name; }

class DfeFileTest : public ::testing::TestWithParam<FileSpec> {};

TEST_P(DfeFileTest, RowAndColumnCountsMatchTheReadme) {
  const FileSpec& spec = GetParam();
  const std::string data = ReadFile(spec.name);
  ASSERT_FALSE(data.empty()) << "missing " << (DfeDir() / spec.name);
  int64_t records = 0;
  size_t header_cols = 0;
  bool all_valid_width = true;
  Encoding resolved = Encoding::kAuto;
  bool bom = false;
  CsvOptions options;  // strict quotes, field-count check on
  options.encoding = spec.declared;
  ASSERT_THAT(ReadChunked(data, options, {kGrpcChunk},
                          [&](const CsvRecord& r) {
                            if (records++ == 0) header_cols = r.fields.size();
                            all_valid_width &= r.fields.size() == spec.cols;
                          },
                          &resolved, &bom),
              IsOk());
  EXPECT_EQ(records - 1, spec.rows);
  EXPECT_EQ(header_cols, spec.cols);
  EXPECT_TRUE(all_valid_width);
  EXPECT_EQ(resolved, spec.encoding);
  EXPECT_EQ(bom, spec.bom);
}

TEST_P(DfeFileTest, SameRecordsInRandomChunkSizes) {
  const FileSpec& spec = GetParam();
  const std::string data = ReadFile(spec.name);
  ASSERT_FALSE(data.empty());
  // A digest of every field and its record/line position.
  auto digest = [&](const std::vector<size_t>& chunks) {
    std::hash<std::string_view> h;
    uint64_t d = 0;
    int64_t n = 0;
    CsvOptions options;
    options.encoding = spec.declared;
    EXPECT_THAT(ReadChunked(data, options, chunks,
                            [&](const CsvRecord& r) {
                              ++n;
                              d = d * 1000003 + r.line_number;
                              for (auto f : r.fields) d = d * 31 + h(f);
                            }),
                IsOk());
    return std::make_pair(d, n);
  };
  const auto whole = digest({data.size()});
  EXPECT_EQ(whole.second - 1, spec.rows);
  std::mt19937 rng(static_cast<uint32_t>(spec.rows));
  std::vector<size_t> sizes;
  for (int i = 0; i < 64; ++i) sizes.push_back(1 + rng() % 3000);
  EXPECT_EQ(digest(sizes), whole);
  EXPECT_EQ(digest({kGrpcChunk}), whole);
}

INSTANTIATE_TEST_SUITE_P(AllFiles, DfeFileTest, ::testing::ValuesIn(kFiles),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& c : n) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return n;
                         });

// Every cell of the given columns, as owned strings, plus the header.
struct Table {
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  int Col(std::string_view name) const {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return static_cast<int>(i);
    }
    ADD_FAILURE() << "no column " << name;
    return 0;
  }
};

Table Load(const std::string& name, Encoding encoding = Encoding::kAuto) {
  Table t;
  const std::string data = ReadFile(name);
  CsvOptions options;
  options.encoding = encoding;
  EXPECT_THAT(ReadChunked(data, options, {kGrpcChunk},
                          [&](const CsvRecord& r) {
                            std::vector<std::string> row(r.fields.begin(),
                                                         r.fields.end());
                            if (r.record_number == 1) {
                              t.header = std::move(row);
                            } else {
                              t.rows.push_back(std::move(row));
                            }
                          }),
              IsOk());
  return t;
}

TEST(DfeQuirksTest, Ks4FinalMarkersPercentagesAndQuotedCommas) {
  const Table t = Load("england_ks4final.csv");
  std::map<std::string, int> markers;
  for (const auto& row : t.rows) {
    for (const auto& cell : row) {
      if (cell == "SUPP" || cell == "NE" || cell == "NP" || cell == "LOWCOV") {
        ++markers[cell];
      }
    }
  }
  // Stable counts for this copy of the file.
  EXPECT_EQ(markers["SUPP"], 1914);
  EXPECT_EQ(markers["NE"], 1869);
  EXPECT_EQ(markers["NP"], 1308);
  EXPECT_EQ(markers["LOWCOV"], 10);

  int quoted_commas = 0;
  for (const auto& row : t.rows) {
    if (row[t.Col("SCHNAME")].find(',') != std::string::npos) ++quoted_commas;
  }
  EXPECT_GT(quoted_commas, 0);

  // Numeric columns parse to values or typed missing markers, never errors.
  ColumnParseOptions dec;
  dec.type = ColumnType::kDecimal;
  dec.markers = MissingMarkers::Dfe();
  dec.decimal.allow_percent = true;
  const ValueParser parser(dec);
  std::map<std::string, int> missing;
  int percents = 0;
  for (const char* col : {"P8MEA", "ATT8SCR", "PTL2BASICS_95", "EBACCAPS",
                          "PTEBACC_E_PTQ_EE"}) {
    const int c = t.Col(col);
    for (const auto& row : t.rows) {
      ParsedValue v = parser.Parse(row[c]);
      ASSERT_FALSE(v.is_error()) << col << ": " << v.ErrorMessage();
      if (v.is_missing()) ++missing[std::string(v.marker)];
      if (v.is_value() && v.percent) ++percents;
    }
  }
  EXPECT_GT(missing["SUPP"], 0);
  EXPECT_GT(missing["NE"], 0);
  EXPECT_GT(missing[""], 0);  // LA summary rows are almost empty
  EXPECT_GT(percents, 0);
  // Percentages are rejected where not allowed.
  ColumnParseOptions strict = dec;
  strict.decimal.allow_percent = false;
  int rejected = 0;
  for (const auto& row : t.rows) {
    ParsedValue v = ValueParser(strict).Parse(row[t.Col("PTL2BASICS_95")]);
    if (v.is_error()) {
      EXPECT_EQ(v.error, ValueError::kPercentNotAllowed);
      ++rejected;
    }
  }
  EXPECT_GT(rejected, 0);
}

TEST(DfeQuirksTest, Ks2FloatWrittenDatesAndSingleSpaceCells) {
  const Table t = Load("england_ks2final.csv");
  const int dt = t.Col("INSPECTIONDT");
  int dates = 0, blanks = 0;
  for (const auto& row : t.rows) {
    auto r = ParseDate(row[dt], MissingMarkers::Dfe());
    ASSERT_FALSE(r.is_error()) << r.ErrorMessage();
    if (r.is_value()) {
      ++dates;
      EXPECT_GE(r.value.year(), 2000);
    } else {
      ++blanks;
    }
  }
  EXPECT_GT(dates, 10000);
  EXPECT_GT(blanks, 0);
  int single_space = 0;
  for (const auto& row : t.rows) {
    for (const auto& cell : row) single_space += cell == " ";
  }
  EXPECT_GT(single_space, 0);
  // A single-space cell is the blank marker, not an error or zero.
  auto r = ParseDecimal(" ", MissingMarkers::Dfe());
  EXPECT_TRUE(r.is_missing());
}

TEST(DfeQuirksTest, Sfr35ThousandsSeparatorsAndXSuppression) {
  const Table t = Load("SFR35_2017_National_characteristics.csv");
  const MissingMarkers x({"x"}, /*blank_is_missing=*/true);
  int with_commas = 0, suppressed = 0;
  for (const char* col : {"headcount", "perm_excl", "fixed_excl",
                          "one_plus_fixed"}) {
    const int c = t.Col(col);
    for (const auto& row : t.rows) {
      auto r = ParseInteger(row[c], x);
      ASSERT_FALSE(r.is_error()) << col << ": " << r.ErrorMessage();
      if (r.is_missing()) ++suppressed;
      if (row[c].find(',') != std::string::npos) {
        ++with_commas;
        EXPECT_GT(r.value, 999);
      }
    }
  }
  EXPECT_GT(with_commas, 0);
  EXPECT_GT(suppressed, 0);
  // Rates also use "." (DfE's "not applicable", not in the README): an
  // error unless the column declares it, then a typed missing value.
  const MissingMarkers x_dot({"x", "."}, /*blank_is_missing=*/true);
  int dots = 0, not_numbers = 0;
  for (const char* col : {"perm_excl_rate", "fixed_excl_rate"}) {
    const int c = t.Col(col);
    for (const auto& row : t.rows) {
      auto strict = ParseDecimal(row[c], x);
      if (strict.is_error()) {
        EXPECT_EQ(strict.ErrorMessage(), "not a number");
        ++not_numbers;
      }
      auto r = ParseDecimal(row[c], x_dot);
      ASSERT_FALSE(r.is_error()) << col << ": " << r.ErrorMessage();
      dots += r.is_missing() && r.marker == ".";
    }
  }
  EXPECT_EQ(dots, 174);
  EXPECT_EQ(not_numbers, dots);
}

TEST(DfeQuirksTest, SchoolDataIsWindows1252) {
  const Table t = Load("school_data_sql.csv", Encoding::kWindows1252);
  int curly = 0;
  for (const auto& row : t.rows) {
    curly += row[t.Col("SchoolName")].find("\xE2\x80\x99") != std::string::npos;
  }
  EXPECT_EQ(curly, 1);  // the one 0x92 byte, as U+2019
  const std::string data = ReadFile("school_data_sql.csv");
  // Declared UTF-8, or auto (the first 64 KiB are plain ASCII), the file
  // fails at the byte, after 21964 good records, asking for windows-1252.
  for (Encoding e : {Encoding::kUtf8, Encoding::kAuto}) {
    CsvOptions o;
    o.encoding = e;
    int64_t good = 0;
    EXPECT_THAT(ReadChunked(data, o, {kGrpcChunk},
                            [&](const CsvRecord&) { ++good; }),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         AllOf(HasSubstr("invalid UTF-8"),
                               HasSubstr("line 21965, column 32"),
                               HasSubstr("declaring encoding windows-1252"))));
    EXPECT_EQ(good, 21964);
  }
  // Whole-file detection over the staged chunks gets it right up front.
  EncodingDetector detector;
  for (size_t off = 0; off < data.size(); off += kGrpcChunk) {
    detector.Feed(std::string_view(data).substr(off, kGrpcChunk));
  }
  EXPECT_EQ(detector.Finish(), Encoding::kWindows1252);
  for (const char* utf8_file : {"england_ks4provisional.csv",
                                "pupil-premium-2019-2020.csv"}) {
    EncodingDetector d;
    d.Feed(ReadFile(utf8_file));
    EXPECT_EQ(d.Finish(), Encoding::kUtf8) << utf8_file;
  }
}

TEST(DfeQuirksTest, GiasQuotedFieldsAndDdMmYyyyDates) {
  const Table t = Load("gias_edubasealldata_sample.csv");
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_EQ(t.rows[0][t.Col("LA (code)")], "201");
  EXPECT_EQ(t.rows[0][t.Col("TypeOfEstablishment (code)")], "02");  // zero kept
  auto close = ParseDate(t.rows[1][t.Col("CloseDate")], MissingMarkers::Dfe());
  ASSERT_TRUE(close.is_value()) << close.ErrorMessage();
  EXPECT_EQ(close.value, absl::CivilDay(1992, 8, 31));
  EXPECT_TRUE(ParseDate(t.rows[0][t.Col("CloseDate")], MissingMarkers::Dfe())
                  .is_missing());
}

TEST(DfeQuirksTest, LaCodesQuotedCommas) {
  const Table t = Load("la_and_region_codes_meta.csv");
  std::set<std::string> names;
  for (const auto& row : t.rows) names.insert(row[1]);
  EXPECT_TRUE(names.count("Kingston Upon Hull, City of"));
  EXPECT_TRUE(names.count("Bournemouth, Christchurch and Poole"));
}

TEST(DfeQuirksTest, PupilPremiumHeadersMatchWithFootnoteStripping) {
  const Table t = Load("pupil-premium-2019-2020.csv");
  HeaderNormalizeOptions strip;
  strip.strip_footnotes = true;
  auto m = HeaderMatcher::Create(
      {{"urn", {}, true},
       {"la_estab", {"LAEstab"}, true},
       {"school_name", {}, true},
       {"pupils_on_roll", {"Number of pupils on roll"}, true},
       {"secondary_on_roll", {"Number of Secondary pupils on roll"}, true},
       {"primary_allocation", {"Deprivation Pupil Premium Allocation"}, false}},
      strip);
  ASSERT_THAT(m, IsOk());
  std::vector<std::string_view> headers(t.header.begin(), t.header.end());
  HeaderMapping map = (*m)->Match(headers);
  EXPECT_THAT(map.missing_required, ::testing::IsEmpty());
  EXPECT_EQ(map.field_for_column[4], t.Col("Number of  Secondary pupils on roll (10)"));
  // "Deprivation Pupil Premium Allocation (11)" (primary) and "(12)"
  // (secondary) share a key once footnotes go: the second is reported as a
  // duplicate, by position. Footnotes are sometimes all that tells columns
  // apart, which is why stripping them is opt-in.
  EXPECT_THAT((*m)->Check(map),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("duplicate header at column(s) 17")));
  auto plain = HeaderMatcher::Create(
      {{"secondary_on_roll", {"Number of Secondary pupils on roll (10)"}, true},
       {"primary_allocation", {"Deprivation Pupil Premium Allocation (11)"}, true},
       {"secondary_allocation", {"Deprivation Pupil Premium Allocation (12)"}, true}});
  ASSERT_THAT(plain, IsOk());
  HeaderMapping exact = (*plain)->Match(headers);
  EXPECT_THAT((*plain)->Check(exact), IsOk());
  EXPECT_EQ(exact.field_for_column[2], 16);
  // Fractional pupil counts parse as decimals.
  const int roll = t.Col("Number of pupils on roll (7)");
  for (const auto& row : t.rows) {
    auto r = ParseDecimal(row[roll], MissingMarkers::Dfe());
    ASSERT_FALSE(r.is_error()) << r.ErrorMessage();
  }
}

TEST(DfeQuirksTest, CensusAndAbsenceNationalRows) {
  const Table census = Load("england_census.csv");
  EXPECT_EQ(census.header[0], "URN");  // BOM stripped
  int nat = 0;
  for (const auto& row : census.rows) {
    auto r = ParseInteger(row[0], MissingMarkers::Dfe());
    if (r.is_error()) {
      EXPECT_EQ(row[0], "NAT");  // text in the numeric key column
      ++nat;
    }
  }
  EXPECT_GT(nat, 0);
  const Table abs = Load("england_abs.csv");
  EXPECT_EQ(abs.header[0], "LA");
  int supp = 0;
  for (const auto& row : abs.rows) {
    auto r = ParseDecimal(row[abs.Col("PPERSABS10")], MissingMarkers::Dfe());
    supp += r.is_missing() && r.marker == "SUPP";
  }
  EXPECT_GT(supp, 0);
}

TEST(DfeQuirksTest, EveryFileInTheDirectoryIsCovered) {
  std::set<std::string> listed;
  for (const auto& f : kFiles) listed.insert(f.name);
  int seen = 0;
  for (const auto& e : std::filesystem::directory_iterator(DfeDir())) {
    if (e.path().extension() != ".csv") continue;
    ++seen;
    EXPECT_TRUE(listed.count(e.path().filename().string()))
        << e.path().filename() << " is not in kFiles";
  }
  EXPECT_EQ(seen, static_cast<int>(listed.size()));
}

}  // namespace
}  // namespace datalab::csv
