#include "tools/synth/synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/time/civil_time.h"
#include "common/identifiers/upn.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace datalab::synth {
namespace {

namespace fs = std::filesystem;
using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;

using Row = std::vector<std::string>;

struct Table {
  Row header;
  std::vector<Row> rows;
  int Col(const std::string& name) const {
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == name) return static_cast<int>(i);
    }
    ADD_FAILURE() << "no column " << name;
    return 0;
  }
};

std::string Slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Minimal RFC 4180 reader (quoted fields, doubled quotes, LF records).
Table ReadCsv(const fs::path& path) {
  const std::string text = Slurp(path);
  std::vector<Row> records;
  Row row;
  std::string field;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
        field += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        field += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      row.push_back(field);
      field.clear();
    } else if (c == '\n') {
      row.push_back(field);
      field.clear();
      records.push_back(row);
      row.clear();
    } else {
      field += c;
    }
  }
  EXPECT_TRUE(row.empty() && field.empty()) << "file does not end in a newline";
  Table t;
  if (!records.empty()) {
    t.header = records[0];
    t.rows.assign(records.begin() + 1, records.end());
  }
  for (const Row& r : t.rows) EXPECT_EQ(r.size(), t.header.size()) << path;
  return t;
}

bool ValidDate(const std::string& s) {
  int y, m, d;
  if (s.size() != 10 || std::sscanf(s.c_str(), "%4d-%2d-%2d", &y, &m, &d) != 3) return false;
  const absl::CivilDay day(y, m, d);
  return day.year() == y && day.month() == m && day.day() == d;
}

const std::set<std::string>& EthnicityCodes() {
  static const auto* codes = new std::set<std::string>{
      "WBRI", "WIRI", "WOTH", "WROM", "WIRT", "MWBC", "MWBA", "MWAS", "MOTH", "AIND",
      "APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT"};
  return *codes;
}

const std::set<std::string>& ReasonCodes() {
  static const auto* codes = new std::set<std::string>{
      "PP", "PA", "VP", "VA", "BU", "RA", "SM", "DA", "DM", "TH", "PD", "OT"};
  return *codes;
}

bool ValidGrade(const std::string& g) {
  return g.empty() || g == "U" || (g.size() == 1 && g[0] >= '1' && g[0] <= '9');
}

// Which defect (if any) a row carries, judged only from the file itself.
std::optional<Defect> Detect(const std::string& dataset, const Table& t, const Row& r) {
  const std::string& upn = r[t.Col("upn")];
  if (upn.empty()) return Defect::kMissingRequired;
  if (!identifiers::IsValidUpn(upn)) return Defect::kBadCheckLetter;
  if (dataset == "census") {
    if (!ValidDate(r[t.Col("date_of_birth")])) return Defect::kImpossibleDate;
    const std::string& g = r[t.Col("gender")];
    if ((g != "M" && g != "F") || !EthnicityCodes().count(r[t.Col("ethnicity")])) {
      return Defect::kUnknownCode;
    }
  } else if (dataset == "attendance") {
    static const std::regex term("(autumn|spring|summer) [0-9]{4}");
    if (!std::regex_match(r[t.Col("term")], term)) return Defect::kUnknownCode;
  } else if (dataset == "ks2") {
    for (const char* col : {"reading_scaled_score", "maths_scaled_score", "gps_scaled_score"}) {
      const std::string& v = r[t.Col(col)];
      int score;
      const bool marker = v == "A" || v == "B" || v == "M" || v == "N" || v == "T";
      const bool in_range = absl::SimpleAtoi(v, &score) && score >= 80 && score <= 120;
      if (!marker && !in_range) return Defect::kUnknownCode;
    }
  } else if (dataset == "ks4") {
    for (const char* col : {"english_language", "english_literature", "maths"}) {
      if (!ValidGrade(r[t.Col(col)])) return Defect::kUnknownCode;
    }
  } else if (dataset == "suspensions") {
    if (!ValidDate(r[t.Col("start_date")])) return Defect::kImpossibleDate;
    if (!ReasonCodes().count(r[t.Col("reason_code")])) return Defect::kUnknownCode;
  }
  return std::nullopt;
}

TrustOptions Small(const std::string& dir) {
  TrustOptions o;
  o.out_dir = dir;
  o.schools = 6;
  o.seed = 1234;
  return o;
}

nlohmann::json Manifest(const std::string& dir) {
  return nlohmann::json::parse(Slurp(fs::path(dir) / "manifest.json"));
}

std::vector<std::string> AllFiles(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(fs::relative(e.path(), dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

// ---------------------------------------------------------------------------

TEST(SynthTest, SameSeedGivesByteIdenticalFiles) {
  testing::TempDir a, b, c;
  TrustOptions o = Small(a.path());
  o.bad_rows_fraction = 0.03;
  ASSERT_THAT(GenerateTrust(o), IsOk());
  o.out_dir = b.path();
  ASSERT_THAT(GenerateTrust(o), IsOk());
  const auto files = AllFiles(a.path());
  ASSERT_EQ(files, AllFiles(b.path()));
  EXPECT_GT(files.size(), 20u);
  for (const std::string& f : files) {
    EXPECT_EQ(Slurp(fs::path(a.path()) / f), Slurp(fs::path(b.path()) / f)) << f;
  }
  // A different seed gives a different trust.
  o.out_dir = c.path();
  o.seed = 1235;
  ASSERT_THAT(GenerateTrust(o), IsOk());
  EXPECT_NE(Slurp(fs::path(a.path()) / "schools.csv"), Slurp(fs::path(c.path()) / "schools.csv"));
}

TEST(SynthTest, SchoolsFileDescribesAMixedTrust) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 12;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  const Table t = ReadCsv(fs::path(dir.path()) / "schools.csv");
  EXPECT_EQ(t.header, (Row{"urn", "name", "phase", "la_code", "establishment_number"}));
  ASSERT_EQ(t.rows.size(), 12u);
  std::set<std::string> urns, names, phases;
  for (const Row& r : t.rows) {
    EXPECT_TRUE(std::regex_match(r[0], std::regex("[1-9][0-9]{5}"))) << r[0];
    EXPECT_TRUE(std::regex_match(r[3], std::regex("[0-9]{3}"))) << r[3];
    EXPECT_TRUE(std::regex_match(r[4], std::regex("[0-9]{4}"))) << r[4];
    urns.insert(r[0]);
    names.insert(r[1]);
    phases.insert(r[2]);
    // Each school has the datasets of its phase.
    const fs::path root(dir.path());
    EXPECT_TRUE(fs::exists(root / "census" / (r[0] + ".csv")));
    EXPECT_TRUE(fs::exists(root / "attendance" / (r[0] + ".csv")));
    EXPECT_TRUE(fs::exists(root / "suspensions" / (r[0] + ".csv")));
    EXPECT_EQ(fs::exists(root / "ks2" / (r[0] + ".csv")), r[2] == "primary");
    EXPECT_EQ(fs::exists(root / "ks4" / (r[0] + ".csv")), r[2] == "secondary");
  }
  EXPECT_EQ(urns.size(), 12u);
  EXPECT_EQ(names.size(), 12u);
  EXPECT_EQ(phases, (std::set<std::string>{"primary", "secondary"}));
}

TEST(SynthTest, EveryUpnIsValidUniqueAndFromItsSchool) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 10;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  const fs::path root(dir.path());
  std::map<std::string, std::set<std::string>> upns_by_term;
  int temporary = 0;
  for (const SchoolInfo& s : report->schools) {
    char prefix[16];
    std::snprintf(prefix, sizeof prefix, "%03d%04d", s.la_code, s.establishment);
    const Table census = ReadCsv(root / "census" / (std::to_string(s.urn) + ".csv"));
    std::set<std::string> school_upns;
    for (const Row& r : census.rows) {
      const std::string& upn = r[census.Col("upn")];
      auto v = identifiers::ValidateUpn(upn);
      ASSERT_THAT(v, IsOk());
      EXPECT_EQ(v->normalised, upn);
      if (v->kind == identifiers::UpnKind::kTemporary) ++temporary;
      EXPECT_EQ(upn.substr(1, 7), prefix);
      EXPECT_TRUE(upns_by_term[r[census.Col("term")]].insert(upn).second)
          << "duplicate UPN in a term";
      school_upns.insert(upn);
    }
    for (const char* ds : {"attendance", "ks2", "ks4", "suspensions"}) {
      const fs::path p = root / ds / (std::to_string(s.urn) + ".csv");
      if (!fs::exists(p)) continue;
      const Table t = ReadCsv(p);
      for (const Row& r : t.rows) {
        EXPECT_TRUE(school_upns.count(r[t.Col("upn")])) << ds << " UPN not in census";
      }
    }
  }
  EXPECT_EQ(upns_by_term.size(), 3u);
  EXPECT_GT(temporary, 0);  // a few temporary UPNs, as in real returns
}

TEST(SynthTest, CensusValuesArePlausible) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 20;
  o.terms = 1;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  const fs::path root(dir.path());
  int64_t n = 0, fsm = 0, sen_k = 0, sen_e = 0, eal = 0, male = 0, disadvantaged = 0;
  const std::regex postcode("[A-Z]{1,2}[0-9]{1,2} [0-9][A-Z]{2}");
  for (const SchoolInfo& s : report->schools) {
    const Table t = ReadCsv(root / "census" / (std::to_string(s.urn) + ".csv"));
    EXPECT_EQ(t.header, (Row{"upn", "forename", "surname", "date_of_birth", "gender",
                             "postcode", "nc_year", "fsm", "disadvantaged", "sen_provision",
                             "eal", "ethnicity", "term"}));
    for (const Row& r : t.rows) {
      ++n;
      EXPECT_TRUE(ValidDate(r[3]));
      EXPECT_TRUE(std::regex_match(r[5], postcode)) << r[5];
      EXPECT_TRUE(EthnicityCodes().count(r[11]));
      EXPECT_EQ(r[12], "autumn 2025");
      const std::string& nc = r[6];
      if (s.phase == Phase::kPrimary) {
        EXPECT_TRUE(nc == "R" || (nc.size() == 1 && nc[0] >= '1' && nc[0] <= '6')) << nc;
      } else {
        int y = 0;
        EXPECT_TRUE(absl::SimpleAtoi(nc, &y) && y >= 7 && y <= 11) << nc;
        // Year 7 in 2025/26 were born 2013-09-01 .. 2014-08-31.
        if (y == 7) {
          EXPECT_TRUE(r[3] >= "2013-09-01" && r[3] <= "2014-08-31") << r[3];
        }
      }
      male += r[4] == "M";
      fsm += r[7] == "Y";
      disadvantaged += r[8] == "Y";
      sen_k += r[9] == "K";
      sen_e += r[9] == "E";
      eal += r[10] == "Y";
      if (r[7] == "Y") {
        EXPECT_EQ(r[8], "Y") << "FSM pupils are disadvantaged";
      }
    }
  }
  ASSERT_GT(n, 5000);
  EXPECT_NEAR(double(male) / n, 0.51, 0.03);
  EXPECT_NEAR(double(fsm) / n, 0.24, 0.08);
  EXPECT_GT(disadvantaged, fsm);
  EXPECT_NEAR(double(sen_k) / n, 0.13, 0.03);
  EXPECT_NEAR(double(sen_e) / n, 0.04, 0.015);
  EXPECT_GT(double(eal) / n, 0.03);
  EXPECT_LT(double(eal) / n, 0.45);
}

TEST(SynthTest, PersistentAbsenceIsAboutAFifthAndConcentratedInFsm) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 20;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  const fs::path root(dir.path());
  int64_t pupils = 0, persistent = 0, fsm = 0, fsm_persistent = 0;
  for (const SchoolInfo& s : report->schools) {
    const std::string file = std::to_string(s.urn) + ".csv";
    const Table census = ReadCsv(root / "census" / file);
    std::map<std::string, bool> is_fsm;
    for (const Row& r : census.rows) is_fsm[r[0]] = r[7] == "Y";
    const Table att = ReadCsv(root / "attendance" / file);
    EXPECT_EQ(att.rows.size(), census.rows.size());
    std::map<std::string, std::pair<int64_t, int64_t>> totals;  // possible, missed
    for (const Row& r : att.rows) {
      int possible = 0, auth = 0, unauth = 0;
      ASSERT_TRUE(absl::SimpleAtoi(r[2], &possible));
      ASSERT_TRUE(absl::SimpleAtoi(r[3], &auth));
      ASSERT_TRUE(absl::SimpleAtoi(r[4], &unauth));
      EXPECT_GE(auth, 0);
      EXPECT_GE(unauth, 0);
      EXPECT_LE(auth + unauth, possible);
      EXPECT_LE(possible, 160);
      totals[r[0]].first += possible;
      totals[r[0]].second += auth + unauth;
    }
    for (const auto& [upn, t] : totals) {
      const bool pa = t.second * 10 >= t.first;
      ++pupils;
      persistent += pa;
      if (is_fsm[upn]) {
        ++fsm;
        fsm_persistent += pa;
      }
    }
  }
  ASSERT_GT(pupils, 3000);
  const double rate = double(persistent) / pupils;
  EXPECT_GT(rate, 0.13);
  EXPECT_LT(rate, 0.28);
  EXPECT_GT(double(fsm_persistent) / fsm, 1.4 * rate);
}

TEST(SynthTest, SmallGroupsExistForDisclosureControl) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 8;
  o.terms = 1;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  int small_groups = 0;
  for (const SchoolInfo& s : report->schools) {
    const Table t = ReadCsv(fs::path(dir.path()) / "census" / (std::to_string(s.urn) + ".csv"));
    std::map<std::string, int> counts;
    for (const Row& r : t.rows) ++counts[r[11]];
    for (const auto& [code, c] : counts) small_groups += (c >= 1 && c <= 5);
  }
  EXPECT_GE(small_groups, 8);
}

TEST(SynthTest, Ks2AndKs4AreConsistent) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 20;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  const fs::path root(dir.path());
  int ks2_rows = 0;
  double p8_dis = 0, p8_non = 0, p8_all = 0;
  int n_dis = 0, n_non = 0;
  for (const SchoolInfo& s : report->schools) {
    const std::string file = std::to_string(s.urn) + ".csv";
    const Table census = ReadCsv(root / "census" / file);
    std::map<std::string, std::string> year_of, disadvantaged;
    for (const Row& r : census.rows) {
      year_of[r[0]] = r[6];
      disadvantaged[r[0]] = r[8];
    }
    if (s.phase == Phase::kPrimary) {
      const Table t = ReadCsv(root / "ks2" / file);
      for (const Row& r : t.rows) {
        ++ks2_rows;
        EXPECT_EQ(year_of[r[0]], "6");
        EXPECT_EQ(r[1], "2026");
        EXPECT_FALSE(Detect("ks2", t, r).has_value());
      }
      continue;
    }
    const Table t = ReadCsv(root / "ks4" / file);
    EXPECT_GT(t.rows.size(), 50u);
    for (const Row& r : t.rows) {
      EXPECT_EQ(year_of[r[0]], "11");
      EXPECT_FALSE(Detect("ks4", t, r).has_value());
      double a8 = 0;
      ASSERT_TRUE(absl::SimpleAtod(r[t.Col("attainment8")], &a8));
      EXPECT_GE(a8, 0);
      EXPECT_LE(a8, 90);
      const std::string& type = r[t.Col("science_type")];
      EXPECT_TRUE(type == "combined" || type == "triple");
      EXPECT_EQ(type == "combined", !r[t.Col("combined_science")].empty());
      EXPECT_EQ(type == "triple", !r[t.Col("physics")].empty());
      const std::string& prior = r[t.Col("ks2_prior_average")];
      const std::string& p8s = r[t.Col("progress8")];
      EXPECT_EQ(prior.empty(), p8s.empty());
      if (prior.empty()) continue;
      double ks2 = 0, p8 = 0;
      ASSERT_TRUE(absl::SimpleAtod(prior, &ks2));
      ASSERT_TRUE(absl::SimpleAtod(p8s, &p8));
      EXPECT_NEAR(p8, (a8 - ExpectedAttainment8(ks2)) / 10.0, 0.0101);
      p8_all += p8;
      if (disadvantaged[r[0]] == "Y") {
        p8_dis += p8;
        ++n_dis;
      } else {
        p8_non += p8;
        ++n_non;
      }
    }
  }
  EXPECT_GT(ks2_rows, 100);
  ASSERT_GT(n_dis, 100);
  ASSERT_GT(n_non, 100);
  const double gap = p8_dis / n_dis - p8_non / n_non;
  EXPECT_GT(gap, -0.9);
  EXPECT_LT(gap, -0.25);
  EXPECT_NEAR(p8_all / (n_dis + n_non), 0.0, 0.3);
}

TEST(SynthTest, BadRowsFractionHonouredAndEveryDefectKindAppears) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.bad_rows_fraction = 0.05;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  std::array<int64_t, kDefectKinds> seen{};
  for (const FileReport& f : report->files) {
    if (f.dataset == "schools") continue;
    EXPECT_EQ(f.bad_rows, std::llround(0.05 * f.rows)) << f.path;
    const Table t = ReadCsv(fs::path(dir.path()) / f.path);
    ASSERT_EQ(static_cast<int64_t>(t.rows.size()), f.rows);
    std::array<int64_t, kDefectKinds> detected{};
    int64_t bad = 0;
    for (const Row& r : t.rows) {
      if (auto d = Detect(f.dataset, t, r)) {
        ++bad;
        ++detected[static_cast<int>(*d)];
        ++seen[static_cast<int>(*d)];
      }
    }
    EXPECT_EQ(bad, f.bad_rows) << f.path;
    EXPECT_EQ(detected, f.defects) << f.path;
  }
  for (int k = 0; k < kDefectKinds; ++k) {
    EXPECT_GT(seen[k], 0) << DefectName(static_cast<Defect>(k));
  }
}

TEST(SynthTest, BadRowsAlterACleanRunInPlace) {
  testing::TempDir clean_dir, bad_dir;
  TrustOptions o = Small(clean_dir.path());
  ASSERT_THAT(GenerateTrust(o), IsOk());
  o.out_dir = bad_dir.path();
  o.bad_rows_fraction = 0.1;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  for (const FileReport& f : report->files) {
    const Table clean = ReadCsv(fs::path(clean_dir.path()) / f.path);
    const Table bad = ReadCsv(fs::path(bad_dir.path()) / f.path);
    ASSERT_EQ(clean.rows.size(), bad.rows.size()) << f.path;
    int64_t differing = 0;
    for (size_t i = 0; i < clean.rows.size(); ++i) differing += clean.rows[i] != bad.rows[i];
    EXPECT_EQ(differing, f.bad_rows) << f.path;
  }
}

TEST(SynthTest, ManifestMatchesTheFilesOnDisk) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.bad_rows_fraction = 0.02;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  const nlohmann::json m = Manifest(dir.path());
  EXPECT_EQ(m["seed"].get<uint64_t>(), 1234u);
  std::set<std::string> listed;
  int64_t total = 0, total_bad = 0;
  for (const auto& f : m["files"]) {
    const std::string path = f["path"].get<std::string>();
    listed.insert(path);
    const Table t = ReadCsv(fs::path(dir.path()) / path);
    EXPECT_EQ(static_cast<int64_t>(t.rows.size()), f["rows"].get<int64_t>()) << path;
    int64_t by_kind = 0;
    for (const auto& [kind, count] : f["defects"].items()) by_kind += count.get<int64_t>();
    EXPECT_EQ(by_kind, f["bad_rows"].get<int64_t>()) << path;
    total += f["rows"].get<int64_t>();
    total_bad += f["bad_rows"].get<int64_t>();
  }
  EXPECT_EQ(total, m["total_rows"].get<int64_t>());
  EXPECT_EQ(total_bad, m["total_bad_rows"].get<int64_t>());
  EXPECT_GT(total_bad, 0);
  std::set<std::string> on_disk;
  for (const std::string& f : AllFiles(dir.path())) {
    if (f != "manifest.json") on_disk.insert(f);
  }
  EXPECT_EQ(listed, on_disk);
}

TEST(SynthTest, SeveralTermsAgePupilsAndAddCohorts) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 4;
  o.terms = 6;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  const fs::path root(dir.path());
  for (const SchoolInfo& s : report->schools) {
    const std::string file = std::to_string(s.urn) + ".csv";
    const Table census = ReadCsv(root / "census" / file);
    std::set<std::string> terms;
    std::map<std::string, std::set<std::string>> years_of;
    for (const Row& r : census.rows) {
      terms.insert(r[12]);
      years_of[r[0]].insert(r[12].substr(0, 6) + r[6]);
    }
    EXPECT_EQ(terms, (std::set<std::string>{"autumn 2025", "spring 2026", "summer 2026",
                                            "autumn 2026", "spring 2027", "summer 2027"}));
    const char* ks = s.phase == Phase::kPrimary ? "ks2" : "ks4";
    const Table t = ReadCsv(root / ks / file);
    std::set<std::string> exam_years;
    for (const Row& r : t.rows) exam_years.insert(r[1]);
    EXPECT_EQ(exam_years, (std::set<std::string>{"2026", "2027"}));
  }
}

TEST(SynthTest, PupilsPerSchoolIsExactWithOneTerm) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 3;
  o.terms = 1;
  o.pupils_per_school = 123;
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  for (const FileReport& f : report->files) {
    if (f.dataset == "census") {
      EXPECT_EQ(f.rows, 123) << f.path;
    }
  }
}

TEST(SynthTest, LargeSchoolsBorrowEstablishmentNumbersAndStayUnique) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 1;
  o.terms = 1;
  o.pupils_per_school = 12000;  // > 1000 per cohort year
  auto report = GenerateTrust(o);
  ASSERT_THAT(report, IsOk());
  const Table t = ReadCsv(fs::path(dir.path()) / "census" /
                          (std::to_string(report->schools[0].urn) + ".csv"));
  ASSERT_EQ(t.rows.size(), 12000u);
  std::set<std::string> upns;
  for (const Row& r : t.rows) {
    EXPECT_TRUE(identifiers::IsValidUpn(r[0]));
    EXPECT_TRUE(upns.insert(r[0]).second);
  }
}

TEST(SynthTest, RejectsBadOptions) {
  testing::TempDir dir;
  const auto invalid = absl::StatusCode::kInvalidArgument;
  TrustOptions o = Small(dir.path());
  o.out_dir = "";
  EXPECT_THAT(GenerateTrust(o), StatusIs(invalid, ::testing::HasSubstr("--out")));
  o = Small(dir.path());
  o.schools = 0;
  EXPECT_THAT(GenerateTrust(o), StatusIs(invalid, ::testing::HasSubstr("--schools")));
  o = Small(dir.path());
  o.pupils_per_school = 5;
  EXPECT_THAT(GenerateTrust(o), StatusIs(invalid, ::testing::HasSubstr("--pupils_per_school")));
  o = Small(dir.path());
  o.bad_rows_fraction = 1.5;
  EXPECT_THAT(GenerateTrust(o), StatusIs(invalid, ::testing::HasSubstr("--bad_rows_fraction")));
  o.bad_rows_fraction = std::nan("");
  EXPECT_THAT(GenerateTrust(o), StatusIs(invalid, ::testing::HasSubstr("--bad_rows_fraction")));
  o = Small(dir.path());
  o.terms = 0;
  EXPECT_THAT(GenerateTrust(o), StatusIs(invalid, ::testing::HasSubstr("--terms")));
  o = Small(dir.path());
  o.year = 1999;
  EXPECT_THAT(GenerateTrust(o), StatusIs(invalid, ::testing::HasSubstr("--year")));
  EXPECT_TRUE(fs::is_empty(dir.path()));  // nothing written on a bad option

  FlatOptions f;
  EXPECT_THAT(GenerateFlat(f), StatusIs(invalid, ::testing::HasSubstr("--flat")));
  f.path = dir.Sub("x.csv");
  f.rows = 0;
  EXPECT_THAT(GenerateFlat(f), StatusIs(invalid, ::testing::HasSubstr("--rows")));
  f.rows = 10;
  f.schools = 0;
  EXPECT_THAT(GenerateFlat(f), StatusIs(invalid, ::testing::HasSubstr("--schools")));
  f.schools = 1;
  f.year = 3000;
  EXPECT_THAT(GenerateFlat(f), StatusIs(invalid, ::testing::HasSubstr("--year")));
}

TEST(SynthTest, RefusesNonEmptyDirectoryUnlessOverwrite) {
  testing::TempDir dir;
  TrustOptions o = Small(dir.path());
  o.schools = 3;
  ASSERT_THAT(GenerateTrust(o), IsOk());
  EXPECT_THAT(GenerateTrust(o), StatusIs(absl::StatusCode::kFailedPrecondition,
                                         ::testing::HasSubstr("--overwrite")));
  // A stale extract from an earlier, larger run disappears on overwrite.
  std::ofstream(fs::path(dir.path()) / "census" / "999999.csv") << "stale\n";
  o.overwrite = true;
  o.schools = 2;
  ASSERT_THAT(GenerateTrust(o), IsOk());
  EXPECT_FALSE(fs::exists(fs::path(dir.path()) / "census" / "999999.csv"));
  EXPECT_EQ(Manifest(dir.path())["schools"].get<int>(), 2);
}

TEST(SynthTest, FlatFileHasValidUniqueUpnsAndIsDeterministic) {
  testing::TempDir dir;
  FlatOptions f;
  f.path = dir.Sub("a.csv");
  f.rows = 20000;
  f.schools = 7;
  f.seed = 99;
  auto report = GenerateFlat(f);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->rows, 20000);
  const Table t = ReadCsv(f.path);
  EXPECT_EQ(t.header, (Row{"pupil_id", "school_urn", "nc_year", "gender", "fsm", "sen",
                           "ethnicity", "attendance_pct", "grade_maths", "grade_english"}));
  ASSERT_EQ(t.rows.size(), 20000u);
  std::set<std::string> ids, urns;
  for (const SchoolInfo& s : report->schools) urns.insert(std::to_string(s.urn));
  std::set<std::string> seen_urns;
  for (const Row& r : t.rows) {
    EXPECT_TRUE(identifiers::IsValidUpn(r[0]));
    EXPECT_TRUE(ids.insert(r[0]).second);
    EXPECT_TRUE(urns.count(r[1]));
    seen_urns.insert(r[1]);
    EXPECT_TRUE(EthnicityCodes().count(r[6]));
    double pct = 0;
    ASSERT_TRUE(absl::SimpleAtod(r[7], &pct));
    EXPECT_GE(pct, 0);
    EXPECT_LE(pct, 100);
    EXPECT_TRUE(r[8].size() == 1 && r[8][0] >= '1' && r[8][0] <= '9');
  }
  EXPECT_EQ(seen_urns, urns);
  f.path = dir.Sub("b.csv");
  ASSERT_THAT(GenerateFlat(f), IsOk());
  EXPECT_EQ(Slurp(dir.Sub("a.csv")), Slurp(dir.Sub("b.csv")));
}

// Runs the real binary when ctest says where it is (DATALAB_BIN_DIR).
TEST(SynthBinaryTest, WritesATrustAndRejectsBadFlags) {
  // DATALAB_BIN_DIR, else build/bin next to build/tests where this runs.
  const char* env = std::getenv("DATALAB_BIN_DIR");
  std::error_code ec;
  const fs::path bin_dir = env != nullptr
                               ? fs::path(env)
                               : fs::read_symlink("/proc/self/exe", ec).parent_path().parent_path() / "bin";
  if (!fs::exists(bin_dir / "datalab-synth")) {
    GTEST_SKIP() << "datalab-synth binary not available";
  }
  const std::string bin = (bin_dir / "datalab-synth").string();
  testing::TempDir dir;
  const std::string out = dir.Sub("trust");
  auto run = [](const std::string& cmd) {
    const int rc = std::system((cmd + " 2>/dev/null").c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  };
  EXPECT_EQ(run(bin + " --out " + out + " --schools 2 --seed 5 --bad_rows_fraction 0.1"), 0);
  const nlohmann::json m = Manifest(out);
  EXPECT_EQ(m["schools"].get<int>(), 2);
  EXPECT_GT(m["total_bad_rows"].get<int64_t>(), 0);
  EXPECT_EQ(run(bin + " --out " + out + " --schools 2"), 2);  // not empty
  EXPECT_EQ(run(bin + " --schools 2"), 2);                    // no --out
  EXPECT_EQ(run(bin + " --out " + dir.Sub("x") + " --terms 0"), 2);
  EXPECT_EQ(run(bin + " --flat " + dir.Sub("flat.csv") + " --rows 500 --schools 3"), 0);
  EXPECT_EQ(ReadCsv(dir.Sub("flat.csv")).rows.size(), 500u);
}

TEST(SynthTest, ExpectedAttainment8RisesWithPriorAttainment) {
  double last = -1;
  for (double ks2 = 80; ks2 <= 120; ks2 += 0.5) {
    const double e = ExpectedAttainment8(ks2);
    EXPECT_GE(e, last);
    EXPECT_GE(e, 0);
    EXPECT_LE(e, 90);
    last = e;
  }
}

}  // namespace
}  // namespace datalab::synth
