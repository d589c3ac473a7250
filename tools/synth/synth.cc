#include "tools/synth/synth.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "common/identifiers/upn.h"
#include "common/status/status_macros.h"
#include "nlohmann/json.hpp"
#include "tools/synth/csv_file.h"
#include "tools/synth/reference_data.h"
#include "tools/synth/rng.h"

namespace datalab::synth {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Small helpers

std::string Str(std::string_view s) { return std::string(s); }

std::string TwoDigits(int v) {
  std::string s = std::to_string(v);
  return s.size() < 2 ? "0" + s : s;
}

std::string FormatDay(absl::CivilDay d) {
  return absl::StrCat(d.year(), "-", TwoDigits(d.month()), "-", TwoDigits(d.day()));
}

bool IsWeekday(absl::CivilDay d) {
  const absl::Weekday w = absl::GetWeekday(d);
  return w != absl::Weekday::saturday && w != absl::Weekday::sunday;
}

absl::CivilDay NextWeekday(absl::CivilDay d) {
  while (!IsWeekday(d)) ++d;
  return d;
}

int CountWeekdays(absl::CivilDay first, absl::CivilDay last) {
  int n = 0;
  for (absl::CivilDay d = first; d <= last; ++d) n += IsWeekday(d) ? 1 : 0;
  return n;
}

std::string NcYearLabel(int nc) { return nc == 0 ? "R" : std::to_string(nc); }

// ---------------------------------------------------------------------------
// Terms

struct Term {
  int academic_offset;  // 0 = the --year academic year
  int season;           // 0 autumn, 1 spring, 2 summer
  std::string label;    // "autumn 2025"
  absl::CivilDay first;
  absl::CivilDay last;
  int sessions;         // sessions possible for a pupil on roll all term
};

std::vector<Term> MakeTerms(int year, int count) {
  static constexpr std::string_view kSeason[] = {"autumn", "spring", "summer"};
  std::vector<Term> terms;
  for (int t = 0; t < count; ++t) {
    Term term;
    term.academic_offset = t / 3;
    term.season = t % 3;
    const int y = year + term.academic_offset;
    int closures = 5;  // half-term week
    switch (term.season) {
      case 0:
        term.first = NextWeekday(absl::CivilDay(y, 9, 3));
        term.last = absl::CivilDay(y, 12, 19);
        break;
      case 1:
        term.first = NextWeekday(absl::CivilDay(y + 1, 1, 5));
        term.last = absl::CivilDay(y + 1, 3, 27);
        break;
      default:
        term.first = NextWeekday(absl::CivilDay(y + 1, 4, 14));
        term.last = absl::CivilDay(y + 1, 7, 21);
        closures += 1;  // early May bank holiday
        break;
    }
    term.sessions = 2 * (CountWeekdays(term.first, term.last) - closures);
    term.label = absl::StrCat(Str(kSeason[term.season]), " ",
                              term.season == 0 ? y : y + 1);
    terms.push_back(std::move(term));
  }
  return terms;
}

// ---------------------------------------------------------------------------
// UPN allocation

// The establishment numbers of one LA. Schools' own numbers are reserved up
// front; a school that exhausts the 1000 serials of an (establishment, year)
// borrows an unused number of its LA, so UPNs stay unique at any size.
class LaUpnSpace {
 public:
  void Reserve(int estab) { used_.insert(estab); }
  absl::StatusOr<int> Borrow() {
    while (next_borrow_ >= 0 && used_.count(next_borrow_)) --next_borrow_;
    if (next_borrow_ < 0) {
      return absl::ResourceExhaustedError(
          "UPN space of an LA is exhausted; use more schools or fewer rows");
    }
    used_.insert(next_borrow_);
    return next_borrow_--;
  }

 private:
  std::set<int> used_;
  int next_borrow_ = 9999;
};

class SchoolUpnAllocator {
 public:
  SchoolUpnAllocator(int la, int estab, LaUpnSpace* space)
      : la_(la), estabs_{estab}, space_(space) {}

  absl::StatusOr<std::string> Permanent(int year2) {
    Cursor& c = permanent_[year2];
    if (c.next == 1000) {
      ++c.estab_index;
      c.next = 0;
    }
    ASSIGN_OR_RETURN(const int estab, EstabAt(c.estab_index));
    return identifiers::MakeUpn(la_, estab, year2, c.next++);
  }

  // Temporary UPNs: 2-digit serial and a letter, 2300 per (estab, year).
  absl::StatusOr<std::string> Temporary(int year2) {
    Cursor& c = temporary_[year2];
    if (c.next == 2300) {
      ++c.estab_index;
      c.next = 0;
    }
    ASSIGN_OR_RETURN(const int estab, EstabAt(c.estab_index));
    const int k = c.next++;
    return identifiers::MakeTemporaryUpn(la_, estab, year2, k / 23,
                                         identifiers::kUpnAlphabet[k % 23]);
  }

 private:
  struct Cursor {
    size_t estab_index = 0;
    int next = 0;
  };
  absl::StatusOr<int> EstabAt(size_t i) {
    while (i >= estabs_.size()) {
      ASSIGN_OR_RETURN(const int e, space_->Borrow());
      estabs_.push_back(e);
    }
    return estabs_[i];
  }

  int la_;
  std::vector<int> estabs_;
  LaUpnSpace* space_;
  std::map<int, Cursor> permanent_;
  std::map<int, Cursor> temporary_;
};

// ---------------------------------------------------------------------------
// Schools

struct SchoolPlan {
  SchoolInfo info;
  const LocalAuthority* la = nullptr;
  std::vector<int> catchment;  // postcode districts most pupils live in
  double fsm_rate = 0.24;
  double attainment_effect = 0;
  double progress_effect = 0;
  double absence_factor = 1;
  double suspension_factor = 1;
  std::vector<double> eth_cumulative;
  int target_pupils = 0;
};

bool IsChurchStem(std::string_view stem) {
  return stem.substr(0, 3) == "St " || stem == "All Saints" ||
         stem == "Holy Trinity" || stem == "Christ Church";
}

std::string SchoolName(std::string_view stem, Phase phase, Rng& rng) {
  static constexpr std::string_view kPrimary[] = {
      "Primary Academy", "Primary School", "Community Primary School",
      "Junior and Infant School"};
  static constexpr std::string_view kSecondary[] = {"Academy", "High School",
                                                    "School", "College"};
  static constexpr std::string_view kChurchPrimary[] = {
      "Church of England Primary Academy", "Catholic Primary School"};
  static constexpr std::string_view kChurchSecondary[] = {
      "Church of England Academy", "Catholic High School"};
  std::string_view suffix;
  if (IsChurchStem(stem)) {
    suffix = phase == Phase::kPrimary ? kChurchPrimary[rng.Below(2)]
                                      : kChurchSecondary[rng.Below(2)];
  } else {
    suffix = phase == Phase::kPrimary ? kPrimary[rng.Below(4)] : kSecondary[rng.Below(4)];
  }
  return absl::StrCat(Str(stem), " ", Str(suffix));
}

// Every LA of every region, in a fixed order.
const std::vector<const LocalAuthority*>& AllLas() {
  static const std::vector<const LocalAuthority*>* const kAll = [] {
    auto* all = new std::vector<const LocalAuthority*>();
    for (const Region& r : Regions()) {
      for (const LocalAuthority& la : r.las) all->push_back(&la);
    }
    return all;
  }();
  return *kAll;
}

std::vector<SchoolPlan> PlanSchools(int n, uint64_t seed, int pupils_per_school) {
  Rng rng(MixSeed(seed, 0));
  const Region& region = Regions()[rng.Below(Regions().size())];
  const size_t home_la = rng.Below(region.las.size());

  // About 30% secondary, at least one of each phase when there are two or
  // more schools.
  int secondaries = static_cast<int>(std::lround(n * 0.3));
  if (n == 1) secondaries = rng.Bernoulli(0.3) ? 1 : 0;
  if (n >= 2) secondaries = std::clamp(secondaries, 1, n - 1);
  std::vector<Phase> phases(n, Phase::kPrimary);
  for (int i = 0; i < secondaries; ++i) phases[i] = Phase::kSecondary;
  for (int i = n - 1; i > 0; --i) std::swap(phases[i], phases[rng.Below(i + 1)]);

  std::set<int> urns;
  std::set<std::pair<int, int>> la_estabs;
  std::set<std::string> names;
  const auto& stems = SchoolNameStems();
  std::vector<SchoolPlan> plans;
  plans.reserve(n);
  for (int i = 0; i < n; ++i) {
    SchoolPlan s;
    s.info.phase = phases[i];
    // Academy URNs (converters since 2010) sit in 136000-149999.
    do {
      s.info.urn = 136000 + static_cast<int>(rng.Below(14000));
    } while (!urns.insert(s.info.urn).second);
    s.la = &region.las[rng.Bernoulli(0.4) ? home_la : rng.Below(region.las.size())];
    s.info.la_code = s.la->code;
    // Academy establishment numbers: 2xxx primary, 4xxx secondary.
    const int base = s.info.phase == Phase::kPrimary ? 2000 : 4000;
    // An LA has 1000 numbers per phase; a trust (or benchmark file) with
    // more schools than its region has numbers for spills into the next LA.
    for (int attempt = 1;; ++attempt) {
      s.info.establishment = base + static_cast<int>(rng.Below(1000));
      if (la_estabs.insert({s.info.la_code, s.info.establishment}).second) break;
      if (attempt % 5000 == 0) {
        const auto& all = AllLas();
        size_t at = 0;
        while (all[at] != s.la) ++at;
        s.la = all[(at + 1) % all.size()];
        s.info.la_code = s.la->code;
      }
    }
    std::string name;
    for (int attempt = 0;; ++attempt) {
      name = SchoolName(stems[rng.Below(stems.size())], s.info.phase, rng);
      if (attempt >= 50) name = absl::StrCat(name, " ", attempt);
      if (names.insert(name).second) break;
    }
    s.info.name = std::move(name);

    const auto& districts = s.la->districts;
    const size_t first = rng.Below(districts.size());
    for (size_t k = 0; k < std::min<size_t>(3, districts.size()); ++k) {
      s.catchment.push_back(districts[(first + k) % districts.size()]);
    }
    s.fsm_rate = std::clamp(0.20 * region.fsm_factor * std::exp(0.35 * rng.Normal()), 0.03, 0.70);
    const double diversity = region.diversity * std::exp(0.7 * rng.Normal());
    std::vector<double> weights;
    for (const Ethnicity& e : Ethnicities()) {
      weights.push_back(e.code == "WBRI"
                            ? e.national_share
                            : e.national_share * diversity * std::exp(0.8 * rng.Normal()));
    }
    s.eth_cumulative = Cumulative(weights);
    s.attainment_effect = 0.2 * rng.Normal();
    s.progress_effect = 0.25 * rng.Normal();
    s.absence_factor = std::exp(0.2 * rng.Normal());
    s.suspension_factor = std::exp(0.5 * rng.Normal());
    if (pupils_per_school > 0) {
      s.target_pupils = pupils_per_school;
    } else if (s.info.phase == Phase::kPrimary) {
      s.target_pupils = static_cast<int>(std::clamp(rng.Normal(250, 80), 90.0, 630.0));
    } else {
      s.target_pupils = static_cast<int>(std::clamp(rng.Normal(1000, 250), 450.0, 1900.0));
    }
    plans.push_back(std::move(s));
  }
  return plans;
}

int LowestYear(Phase p) { return p == Phase::kPrimary ? 0 : 7; }
int HighestYear(Phase p) { return p == Phase::kPrimary ? 6 : 11; }

// ---------------------------------------------------------------------------
// Pupils

struct PupilCore {
  bool male = false;
  int eth = 0;
  bool eal = false;
  bool fsm = false;
  bool disadvantaged = false;
  char sen = 'N';
  double ability = 0;  // latent attainment, in standard deviations
  double absence = 0;  // latent share of sessions missed
};

PupilCore MakeCore(const SchoolPlan& s, Rng& rng) {
  PupilCore c;
  c.male = rng.Bernoulli(0.51);
  c.eth = static_cast<int>(rng.Pick(s.eth_cumulative));
  const Ethnicity& e = Ethnicities()[c.eth];
  c.eal = rng.Bernoulli(e.eal_probability);
  c.fsm = rng.Bernoulli(std::min(0.95, s.fsm_rate * e.fsm_multiplier));
  // Pupil premium also covers FSM in the last six years and children looked
  // after, so "disadvantaged" is a superset of current FSM.
  c.disadvantaged = c.fsm || rng.Bernoulli(0.07);
  // SEN support (K) ~13% and EHC plans (E) ~4% nationally, about twice as
  // common among boys and more common among FSM pupils.
  const double pk = 0.13 * (c.male ? 1.35 : 0.65) * (c.fsm ? 1.45 : 0.86);
  const double pe = 0.04 * (c.male ? 1.45 : 0.55) * (c.fsm ? 1.40 : 0.87);
  const double u = rng.Uniform();
  c.sen = u < pe ? 'E' : (u < pe + pk ? 'K' : 'N');
  c.ability = rng.Normal() + s.attainment_effect - (c.disadvantaged ? 0.35 : 0.0) -
              (c.sen == 'K' ? 0.8 : (c.sen == 'E' ? 1.7 : 0.0));
  // Log-normal absence with a median near 4%; about a fifth of pupils miss
  // 10% or more (persistent absence), concentrated among FSM and SEN pupils.
  const double median = 0.036 * (c.fsm ? 1.8 : 1.0) *
                        (c.sen == 'K' ? 1.35 : (c.sen == 'E' ? 1.6 : 1.0)) *
                        s.absence_factor *
                        (s.info.phase == Phase::kSecondary ? 1.15 : 0.9);
  c.absence = std::min(0.9, median * std::exp(0.8 * rng.Normal()));
  return c;
}

struct Pupil {
  PupilCore core;
  std::string upn;
  std::string_view forename;
  std::string_view surname;
  std::string postcode;
  absl::CivilDay dob;
  int y0 = 0;  // NC year (0 = reception) in the first academic year
  int first_term = 0;
  int last_term = 0;
  double first_fraction = 1.0;  // share of the first term on roll (joiners)
  double last_fraction = 1.0;   // share of the last term on roll (leavers)
  double ks2_prior = -1;        // secondary: KS2 average scaled score, -1 none
};

bool OnRoll(const Pupil& p, int t, const Term& term, Phase phase) {
  const int nc = p.y0 + term.academic_offset;
  return t >= p.first_term && t <= p.last_term && nc >= LowestYear(phase) &&
         nc <= HighestYear(phase);
}

std::string MakePostcode(const SchoolPlan& s, Rng& rng) {
  static constexpr std::string_view kInward = "ABDEFGHJLNPQRSTUWXYZ";
  const int district = rng.Bernoulli(0.85)
                           ? s.catchment[rng.Below(s.catchment.size())]
                           : s.la->districts[rng.Below(s.la->districts.size())];
  std::string pc = absl::StrCat(Str(s.la->postcode_area), district, " ",
                                static_cast<int>(rng.Below(10)));
  pc += kInward[rng.Below(kInward.size())];
  pc += kInward[rng.Below(kInward.size())];
  return pc;
}

// ---------------------------------------------------------------------------
// Defects

// Chooses exactly round(fraction x rows) rows of a file by selection
// sampling (Knuth's Algorithm S) and gives each a defect kind, cycling
// through the kinds that apply so every kind appears. Draws from its own
// stream so the clean data does not depend on the fraction.
class DefectPlanner {
 public:
  DefectPlanner(int64_t rows, double fraction, std::vector<Defect> kinds,
                uint64_t seed)
      : rng_(seed),
        remaining_(rows),
        needed_(static_cast<int64_t>(std::llround(fraction * static_cast<double>(rows)))),
        kinds_(std::move(kinds)) {
    offset_ = kinds_.empty() ? 0 : rng_.Below(kinds_.size());
    if (kinds_.empty()) needed_ = 0;
  }

  std::optional<Defect> Next() {
    if (remaining_ <= 0) return std::nullopt;
    const bool pick = needed_ > 0 &&
                      rng_.Below(static_cast<uint64_t>(remaining_)) <
                          static_cast<uint64_t>(needed_);
    --remaining_;
    if (!pick) return std::nullopt;
    --needed_;
    const Defect d = kinds_[(offset_ + chosen_++) % kinds_.size()];
    return d;
  }

  Rng& rng() { return rng_; }

 private:
  Rng rng_;
  int64_t remaining_;
  int64_t needed_;
  std::vector<Defect> kinds_;
  uint64_t offset_ = 0;
  uint64_t chosen_ = 0;
};

std::string WrongCheckLetter(const std::string& upn, Rng& rng) {
  std::string bad = upn;
  const int v = identifiers::UpnLetterValue(bad[0]);
  bad[0] = identifiers::kUpnAlphabet[(v + 1 + static_cast<int>(rng.Below(22))) % 23];
  return bad;
}

std::string ImpossibleDate(int year, Rng& rng) {
  static constexpr std::string_view kDays[] = {"02-30", "02-31", "04-31",
                                               "06-31", "09-31", "11-31"};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  const size_t options = leap ? 6 : 7;
  const size_t i = rng.Below(options);
  return absl::StrCat(year, "-", i < 6 ? Str(kDays[i]) : std::string("02-29"));
}

// Tracks a file's counts for the manifest.
struct FileCounter {
  FileReport report;
  void Row(std::optional<Defect> d) {
    ++report.rows;
    if (d) {
      ++report.bad_rows;
      ++report.defects[static_cast<int>(*d)];
    }
  }
};

// ---------------------------------------------------------------------------
// KS4

struct Ks4Result {
  int grade_lang = -1;  // -1 not entered; 0 = U
  int grade_lit = -1;
  int grade_maths = -1;
  bool triple = false;
  int combined = -1;    // sum of the two grades, 0..18
  int bio = -1, chem = -1, phys = -1;
  std::vector<std::pair<std::string_view, int>> others;
  double attainment8 = 0;
  std::optional<double> progress8;
};

// Best-of-slots selection inflates Attainment 8 over the pupil's typical
// grade; subtracting this keeps the mean Progress 8 near zero.
constexpr double kBestOfUplift = 0.05;

int Grade(double level, Rng& rng) {
  return static_cast<int>(std::clamp(std::lround(level + 0.7 * rng.Normal()), 0L, 9L));
}

Ks4Result MakeKs4(const Pupil& p, const SchoolPlan& s, Rng& rng) {
  const PupilCore& c = p.core;
  Ks4Result r;
  double level;
  double p8 = s.progress_effect + 0.8 * rng.Normal() + (c.disadvantaged ? -0.42 : 0.13) +
              (c.eal ? 0.35 : 0.0) + (c.sen == 'E' ? -0.9 : (c.sen == 'K' ? -0.4 : 0.0));
  if (p.ks2_prior > 0) {
    level = ExpectedAttainment8(p.ks2_prior) / 10.0 + p8 - kBestOfUplift;
  } else {
    level = 4.6 + 1.5 * c.ability + p8 - kBestOfUplift;
  }
  r.grade_maths = Grade(level, rng);
  r.grade_lang = Grade(level + 0.15, rng);
  if (rng.Bernoulli(c.sen == 'E' ? 0.75 : 0.96)) r.grade_lit = Grade(level + 0.1, rng);
  const double triple_p = level >= 6 ? 0.6 : (level >= 5 ? 0.25 : 0.05);
  r.triple = rng.Bernoulli(triple_p);
  if (r.triple) {
    r.bio = Grade(level, rng);
    r.chem = Grade(level - 0.1, rng);
    r.phys = Grade(level - 0.1, rng);
  } else {
    r.combined = static_cast<int>(
        std::clamp(std::lround(2 * (level - 0.1) + 1.2 * rng.Normal()), 0L, 18L));
  }
  // Other subjects: up to four, usually a humanity, often a language.
  int wanted = 4;
  const double u = rng.Uniform();
  if (u < 0.03) {
    wanted = 1;
  } else if (u < 0.10) {
    wanted = 2;
  } else if (u < 0.30) {
    wanted = 3;
  }
  if (c.sen == 'E') wanted = std::max(1, wanted - 2);
  const auto& subjects = OtherSubjects();
  std::vector<size_t> chosen;
  auto take = [&](size_t i) {
    if (static_cast<int>(chosen.size()) < wanted &&
        std::find(chosen.begin(), chosen.end(), i) == chosen.end()) {
      chosen.push_back(i);
    }
  };
  if (rng.Bernoulli(0.85)) take(rng.Below(2));  // history or geography
  if (rng.Bernoulli(level > 5 ? 0.6 : 0.3)) take(2 + rng.Below(3));  // a language
  if (rng.Bernoulli(level > 5 ? 0.25 : 0.08)) take(5);  // computer science
  for (int guard = 0; static_cast<int>(chosen.size()) < wanted && guard < 100; ++guard) {
    take(6 + rng.Below(subjects.size() - 6));
  }
  for (size_t i : chosen) {
    r.others.emplace_back(subjects[i].name, Grade(level + subjects[i].difficulty, rng));
  }

  // Attainment 8 (DfE rules, simplified to whole qualifications): maths
  // double weighted; the better English double weighted when both were
  // taken (the other can fill an open slot); best three EBacc subjects
  // (sciences, computing, humanities, languages); best three of the rest.
  double a8 = 2.0 * r.grade_maths;
  std::vector<double> ebacc, open;
  if (r.grade_lit >= 0) {
    a8 += 2.0 * std::max(r.grade_lang, r.grade_lit);
    open.push_back(std::min(r.grade_lang, r.grade_lit));
  } else {
    a8 += r.grade_lang;
  }
  if (r.triple) {
    ebacc.insert(ebacc.end(), {double(r.bio), double(r.chem), double(r.phys)});
  } else {
    // Combined science is a double award: two slots at the mean grade.
    ebacc.insert(ebacc.end(), {r.combined / 2.0, r.combined / 2.0});
  }
  for (size_t k = 0; k < chosen.size(); ++k) {
    (subjects[chosen[k]].ebacc ? ebacc : open).push_back(r.others[k].second);
  }
  std::sort(ebacc.rbegin(), ebacc.rend());
  for (size_t k = 0; k < ebacc.size(); ++k) {
    if (k < 3) {
      a8 += ebacc[k];
    } else {
      open.push_back(ebacc[k]);
    }
  }
  std::sort(open.rbegin(), open.rend());
  for (size_t k = 0; k < open.size() && k < 3; ++k) a8 += open[k];
  r.attainment8 = a8;
  if (p.ks2_prior > 0) {
    r.progress8 = (a8 - ExpectedAttainment8(p.ks2_prior)) / 10.0;
  }
  return r;
}

std::string GradeText(int g) { return g < 0 ? "" : (g == 0 ? "U" : std::to_string(g)); }

std::string CombinedText(int sum) {
  if (sum < 0) return "";
  if (sum < 2) return "U";
  return absl::StrCat((sum + 1) / 2, "-", sum / 2);
}

// ---------------------------------------------------------------------------
// One school

struct Suspension {
  int pupil;
  int term;
  absl::CivilDay date;
  int sessions;
  int reason;
};

constexpr int kDatasetCensus = 0;
constexpr int kDatasetAttendance = 1;
constexpr int kDatasetKs2 = 2;
constexpr int kDatasetKs4 = 3;
constexpr int kDatasetSuspensions = 4;
constexpr std::string_view kDatasetNames[] = {"census", "attendance", "ks2", "ks4",
                                              "suspensions"};

class SchoolWriter {
 public:
  SchoolWriter(const TrustOptions& o, const SchoolPlan& s, int index,
               const std::vector<Term>& terms, LaUpnSpace* space)
      : o_(o),
        s_(s),
        index_(index),
        terms_(terms),
        rng_(MixSeed(o.seed, 1000 + static_cast<uint64_t>(index))),
        upns_(s.info.la_code, s.info.establishment, space) {}

  absl::Status Run(std::vector<FileReport>& files) {
    RETURN_IF_ERROR(MakePupils());
    MakeSuspensions();
    RETURN_IF_ERROR(WriteCensus(files));
    RETURN_IF_ERROR(WriteAttendance(files));
    if (s_.info.phase == Phase::kPrimary) {
      RETURN_IF_ERROR(WriteKs2(files));
    } else {
      RETURN_IF_ERROR(WriteKs4(files));
    }
    return WriteSuspensions(files);
  }

 private:
  Phase phase() const { return s_.info.phase; }
  int T() const { return static_cast<int>(terms_.size()); }

  absl::Status MakePupils() {
    const int lo = LowestYear(phase());
    const int hi = HighestYear(phase());
    const int years = (T() + 2) / 3;
    const int groups = hi - lo + 1;
    int cohort_index = 0;
    for (int y0 = lo - (years - 1); y0 <= hi; ++y0, ++cohort_index) {
      int size;
      if (o_.pupils_per_school > 0) {
        size = o_.pupils_per_school / groups +
               ((cohort_index % groups) < o_.pupils_per_school % groups ? 1 : 0);
      } else {
        size = static_cast<int>(std::lround(s_.target_pupils / double(groups) *
                                            rng_.Uniform(0.88, 1.12)));
      }
      for (int k = 0; k < size; ++k) RETURN_IF_ERROR(MakePupil(y0));
    }
    return absl::OkStatus();
  }

  absl::Status MakePupil(int y0) {
    Pupil p;
    p.core = MakeCore(s_, rng_);
    p.y0 = y0;
    p.first_term = 0;
    p.last_term = T() - 1;
    if (T() > 1 && rng_.Bernoulli(0.03)) {
      p.first_term = rng_.Int(1, T() - 1);
      p.first_fraction = rng_.Uniform(0.2, 1.0);
    }
    if (T() > 1 && rng_.Bernoulli(0.03)) {
      const int last = rng_.Int(0, T() - 2);
      if (last >= p.first_term) {
        p.last_term = last;
        p.last_fraction = rng_.Uniform(0.2, 1.0);
      }
    }
    const bool temporary = rng_.Bernoulli(0.004);
    const Ethnicity& eth = Ethnicities()[p.core.eth];
    const auto& forenames = Forenames(eth.names, p.core.male);
    const auto& surnames = Surnames(eth.names);
    p.forename = forenames[rng_.Below(forenames.size())];
    p.surname = surnames[rng_.Below(surnames.size())];
    // Born in the academic year that puts the pupil in NC year y0 now.
    const absl::CivilDay born_from(o_.year - 5 - y0, 9, 1);
    const absl::CivilDay born_to(o_.year - 4 - y0, 8, 31);
    p.dob = born_from + static_cast<int>(rng_.Below(born_to - born_from + 1));
    p.postcode = MakePostcode(s_, rng_);
    if (phase() == Phase::kSecondary) {
      if (!rng_.Bernoulli(p.core.eal ? 0.15 : 0.03)) {
        const double latent = 0.85 * p.core.ability;
        const int reading = static_cast<int>(std::clamp(
            std::lround(104.5 + 6.5 * (latent + 0.5 * rng_.Normal())), 80L, 120L));
        const int maths = static_cast<int>(std::clamp(
            std::lround(104.0 + 6.8 * (latent + 0.5 * rng_.Normal())), 80L, 120L));
        p.ks2_prior = (reading + maths) / 2.0;
      }
    }
    bool ever = false;
    for (int t = 0; t < T(); ++t) ever = ever || OnRoll(p, t, terms_[t], phase());
    if (!ever) return absl::OkStatus();
    // The UPN is allocated in the year the pupil joined the school's lowest
    // year group.
    const int entry_year = o_.year + (LowestYear(phase()) - y0);
    const int year2 = ((entry_year % 100) + 100) % 100;
    ASSIGN_OR_RETURN(p.upn, temporary ? upns_.Temporary(year2) : upns_.Permanent(year2));
    pupils_.push_back(std::move(p));
    return absl::OkStatus();
  }

  void MakeSuspensions() {
    const auto& reasons = SuspensionReasons();
    std::vector<double> weights;
    for (const ReasonCode& r : reasons) {
      weights.push_back(phase() == Phase::kSecondary ? r.secondary_weight : r.primary_weight);
    }
    const std::vector<double> cumulative = Cumulative(weights);
    suspended_sessions_.assign(pupils_.size() * T(), 0);
    const int years = (T() + 2) / 3;
    for (size_t i = 0; i < pupils_.size(); ++i) {
      const Pupil& p = pupils_[i];
      const PupilCore& c = p.core;
      const double base = phase() == Phase::kSecondary ? 0.075 : 0.009;
      const double q =
          std::min(0.6, base * s_.suspension_factor * (c.fsm ? 2.2 : 0.62) *
                            (c.sen == 'K' ? 2.0 : (c.sen == 'E' ? 1.6 : 0.85)) *
                            (c.male ? 1.5 : 0.48));
      for (int a = 0; a < years; ++a) {
        std::vector<int> on_roll;
        for (int t = 3 * a; t < std::min(T(), 3 * a + 3); ++t) {
          if (OnRoll(p, t, terms_[t], phase())) on_roll.push_back(t);
        }
        if (on_roll.empty() || !rng_.Bernoulli(q)) continue;
        const int count = 1 + rng_.Poisson(phase() == Phase::kSecondary ? 1.6 : 1.0);
        for (int k = 0; k < count; ++k) {
          Suspension sus;
          sus.pupil = static_cast<int>(i);
          sus.term = on_roll[rng_.Below(on_roll.size())];
          const Term& term = terms_[sus.term];
          do {
            sus.date = term.first + static_cast<int>(rng_.Below(term.last - term.first + 1));
          } while (!IsWeekday(sus.date));
          const double u = rng_.Uniform();
          const int days = u < 0.45 ? 1 : u < 0.65 ? 2 : u < 0.80 ? 3 : u < 0.86 ? 4 : u < 0.96 ? 5 : 0;
          sus.sessions = days == 0 ? 1 : 2 * days;
          sus.reason = static_cast<int>(rng_.Pick(cumulative));
          suspended_sessions_[i * T() + sus.term] += sus.sessions;
          suspensions_.push_back(sus);
        }
      }
    }
    std::stable_sort(suspensions_.begin(), suspensions_.end(),
                     [](const Suspension& a, const Suspension& b) { return a.date < b.date; });
  }

  uint64_t DefectSeed(int dataset) const {
    return MixSeed(o_.seed, 1'000'000 + 8 * static_cast<uint64_t>(index_) + dataset);
  }

  absl::StatusOr<std::unique_ptr<CsvFile>> Open(int dataset, FileCounter& counter) {
    const std::string dir = Str(kDatasetNames[dataset]);
    counter.report.dataset = dir;
    counter.report.urn = s_.info.urn;
    counter.report.path = absl::StrCat(dir, "/", s_.info.urn, ".csv");
    return CsvFile::Create((fs::path(o_.out_dir) / counter.report.path).string());
  }

  absl::Status Finish(CsvFile& f, FileCounter& counter, std::vector<FileReport>& files) {
    RETURN_IF_ERROR(f.Close());
    files.push_back(std::move(counter.report));
    return absl::OkStatus();
  }

  int64_t CensusRows() const {
    int64_t n = 0;
    for (const Pupil& p : pupils_) {
      for (int t = 0; t < T(); ++t) n += OnRoll(p, t, terms_[t], phase()) ? 1 : 0;
    }
    return n;
  }

  absl::Status WriteCensus(std::vector<FileReport>& files) {
    FileCounter counter;
    ASSIGN_OR_RETURN(auto f, Open(kDatasetCensus, counter));
    f->Header({"upn", "forename", "surname", "date_of_birth", "gender", "postcode", "nc_year",
               "fsm", "disadvantaged", "sen_provision", "eal", "ethnicity", "term"});
    DefectPlanner planner(CensusRows(), o_.bad_rows_fraction,
                          {Defect::kBadCheckLetter, Defect::kImpossibleDate,
                           Defect::kUnknownCode, Defect::kMissingRequired},
                          DefectSeed(kDatasetCensus));
    for (int t = 0; t < T(); ++t) {
      const Term& term = terms_[t];
      for (const Pupil& p : pupils_) {
        if (!OnRoll(p, t, term, phase())) continue;
        const std::optional<Defect> d = planner.Next();
        std::string upn = p.upn;
        std::string dob = FormatDay(p.dob);
        std::string_view gender = p.core.male ? "M" : "F";
        std::string_view ethnicity = Ethnicities()[p.core.eth].code;
        if (d == Defect::kBadCheckLetter) upn = WrongCheckLetter(upn, planner.rng());
        if (d == Defect::kMissingRequired) upn.clear();
        if (d == Defect::kImpossibleDate) dob = ImpossibleDate(static_cast<int>(p.dob.year()), planner.rng());
        if (d == Defect::kUnknownCode) {
          if (planner.rng().Bernoulli(0.5)) {
            ethnicity = "ZZZZ";
          } else {
            gender = "Q";
          }
        }
        f->Field(upn);
        f->Field(p.forename);
        f->Field(p.surname);
        f->Field(dob);
        f->Field(gender);
        f->Field(p.postcode);
        f->Field(NcYearLabel(p.y0 + term.academic_offset));
        f->Field(p.core.fsm ? "Y" : "N");
        f->Field(p.core.disadvantaged ? "Y" : "N");
        f->Field(std::string_view(&p.core.sen, 1));
        f->Field(p.core.eal ? "Y" : "N");
        f->Field(ethnicity);
        f->Field(term.label);
        f->EndRow();
        counter.Row(d);
      }
    }
    return Finish(*f, counter, files);
  }

  absl::Status WriteAttendance(std::vector<FileReport>& files) {
    FileCounter counter;
    ASSIGN_OR_RETURN(auto f, Open(kDatasetAttendance, counter));
    f->Header({"upn", "term", "sessions_possible", "sessions_authorised_absence",
               "sessions_unauthorised_absence"});
    DefectPlanner planner(CensusRows(), o_.bad_rows_fraction,
                          {Defect::kBadCheckLetter, Defect::kUnknownCode,
                           Defect::kMissingRequired},
                          DefectSeed(kDatasetAttendance));
    for (int t = 0; t < T(); ++t) {
      const Term& term = terms_[t];
      for (size_t i = 0; i < pupils_.size(); ++i) {
        const Pupil& p = pupils_[i];
        if (!OnRoll(p, t, term, phase())) continue;
        double share = 1.0;
        if (t == p.first_term) share *= p.first_fraction;
        if (t == p.last_term) share *= p.last_fraction;
        const int possible = std::max(2, static_cast<int>(std::lround(term.sessions * share)));
        // Term-to-term variation around the pupil's latent rate; binomial
        // count by its normal approximation.
        const double rate =
            std::clamp(p.core.absence * std::exp(0.3 * rng_.Normal() - 0.045), 0.0, 0.95);
        const double mean = possible * rate;
        const double sd = std::sqrt(possible * rate * (1 - rate));
        int missed = static_cast<int>(
            std::clamp(std::lround(mean + sd * rng_.Normal()), 0L, static_cast<long>(possible)));
        // Unauthorised share rises with the amount missed and with FSM.
        const double unauth_share =
            std::clamp(0.22 + (rate >= 0.1 ? 0.2 : 0.0) + (p.core.fsm ? 0.1 : 0.0) +
                           0.08 * rng_.Normal(),
                       0.02, 0.9);
        int unauthorised = static_cast<int>(std::lround(missed * unauth_share));
        int authorised = missed - unauthorised;
        // Suspensions are recorded as authorised absence.
        authorised = std::min(possible - unauthorised,
                              authorised + suspended_sessions_[i * T() + t]);
        const std::optional<Defect> d = planner.Next();
        std::string upn = p.upn;
        std::string term_label = term.label;
        if (d == Defect::kBadCheckLetter) upn = WrongCheckLetter(upn, planner.rng());
        if (d == Defect::kMissingRequired) upn.clear();
        if (d == Defect::kUnknownCode) {
          term_label = absl::StrCat("winter ", term.first.year());
        }
        f->Field(upn);
        f->Field(term_label);
        f->Field(possible);
        f->Field(authorised);
        f->Field(unauthorised);
        f->EndRow();
        counter.Row(d);
      }
    }
    return Finish(*f, counter, files);
  }

  // Pupils in `nc` during academic year `a` and on roll in at least one of
  // its terms.
  std::vector<std::pair<int, size_t>> Cohort(int nc) const {
    std::vector<std::pair<int, size_t>> out;
    const int years = (T() + 2) / 3;
    for (int a = 0; a < years; ++a) {
      for (size_t i = 0; i < pupils_.size(); ++i) {
        const Pupil& p = pupils_[i];
        if (p.y0 + a != nc) continue;
        bool on = false;
        for (int t = 3 * a; t < std::min(T(), 3 * a + 3); ++t) {
          on = on || OnRoll(p, t, terms_[t], phase());
        }
        if (on) out.emplace_back(a, i);
      }
    }
    return out;
  }

  absl::Status WriteKs2(std::vector<FileReport>& files) {
    FileCounter counter;
    ASSIGN_OR_RETURN(auto f, Open(kDatasetKs2, counter));
    f->Header({"upn", "ks2_year", "reading_scaled_score", "maths_scaled_score",
               "gps_scaled_score"});
    const auto cohort = Cohort(6);
    DefectPlanner planner(static_cast<int64_t>(cohort.size()), o_.bad_rows_fraction,
                          {Defect::kBadCheckLetter, Defect::kUnknownCode,
                           Defect::kMissingRequired},
                          DefectSeed(kDatasetKs2));
    struct Spec {
      double mean, sd;
    };
    static constexpr Spec kSpecs[] = {{105.0, 7.0}, {104.0, 7.0}, {105.5, 7.5}};
    for (const auto& [a, i] : cohort) {
      const Pupil& p = pupils_[i];
      const PupilCore& c = p.core;
      std::string scores[3];
      // Markers as in DfE KS2 results: A absent, B working below the
      // standard of the test, T unable to access, M missing, N no scaled
      // score awarded (too few marks).
      const bool absent = rng_.Bernoulli(0.015);
      const bool below = c.sen == 'E' ? rng_.Bernoulli(0.45) : c.sen == 'K' && rng_.Bernoulli(0.04);
      const bool no_access = c.sen == 'E' && rng_.Bernoulli(0.05);
      for (int k = 0; k < 3; ++k) {
        const double latent = 0.75 * c.ability + 0.66 * rng_.Normal();
        const long score = std::lround(kSpecs[k].mean + kSpecs[k].sd * latent);
        if (absent) {
          scores[k] = "A";
        } else if (no_access) {
          scores[k] = "T";
        } else if (below) {
          scores[k] = "B";
        } else if (rng_.Bernoulli(0.003)) {
          scores[k] = "M";
        } else if (score < 80) {
          scores[k] = "N";
        } else {
          scores[k] = std::to_string(std::min(120L, score));
        }
      }
      const std::optional<Defect> d = planner.Next();
      std::string upn = p.upn;
      if (d == Defect::kBadCheckLetter) upn = WrongCheckLetter(upn, planner.rng());
      if (d == Defect::kMissingRequired) upn.clear();
      if (d == Defect::kUnknownCode) scores[planner.rng().Below(3)] = "Q";
      f->Field(upn);
      f->Field(o_.year + a + 1);
      for (const std::string& sc : scores) f->Field(sc);
      f->EndRow();
      counter.Row(d);
    }
    return Finish(*f, counter, files);
  }

  absl::Status WriteKs4(std::vector<FileReport>& files) {
    FileCounter counter;
    ASSIGN_OR_RETURN(auto f, Open(kDatasetKs4, counter));
    f->Header({"upn", "ks4_year", "ks2_prior_average", "english_language",
               "english_literature", "maths", "science_type", "combined_science", "biology",
               "chemistry", "physics", "other_subject_1", "other_grade_1", "other_subject_2",
               "other_grade_2", "other_subject_3", "other_grade_3", "other_subject_4",
               "other_grade_4", "attainment8", "progress8"});
    const auto cohort = Cohort(11);
    DefectPlanner planner(static_cast<int64_t>(cohort.size()), o_.bad_rows_fraction,
                          {Defect::kBadCheckLetter, Defect::kUnknownCode,
                           Defect::kMissingRequired},
                          DefectSeed(kDatasetKs4));
    for (const auto& [a, i] : cohort) {
      const Pupil& p = pupils_[i];
      const Ks4Result r = MakeKs4(p, s_, rng_);
      // Grade cells in column order, so a defect can replace one of them.
      std::vector<std::string> grades = {GradeText(r.grade_lang), GradeText(r.grade_lit),
                                         GradeText(r.grade_maths)};
      const std::optional<Defect> d = planner.Next();
      std::string upn = p.upn;
      if (d == Defect::kBadCheckLetter) upn = WrongCheckLetter(upn, planner.rng());
      if (d == Defect::kMissingRequired) upn.clear();
      if (d == Defect::kUnknownCode) grades[2] = "Z";
      f->Field(upn);
      f->Field(o_.year + a + 1);
      if (p.ks2_prior > 0) {
        f->Field(p.ks2_prior, 1);
      } else {
        f->EmptyField();
      }
      for (const std::string& g : grades) f->Field(g);
      f->Field(r.triple ? "triple" : "combined");
      f->Field(CombinedText(r.combined));
      f->Field(GradeText(r.bio));
      f->Field(GradeText(r.chem));
      f->Field(GradeText(r.phys));
      for (size_t k = 0; k < 4; ++k) {
        if (k < r.others.size()) {
          f->Field(r.others[k].first);
          f->Field(GradeText(r.others[k].second));
        } else {
          f->EmptyField();
          f->EmptyField();
        }
      }
      f->Field(r.attainment8, 1);
      if (r.progress8) {
        f->Field(*r.progress8, 2);
      } else {
        f->EmptyField();
      }
      f->EndRow();
      counter.Row(d);
    }
    return Finish(*f, counter, files);
  }

  absl::Status WriteSuspensions(std::vector<FileReport>& files) {
    FileCounter counter;
    ASSIGN_OR_RETURN(auto f, Open(kDatasetSuspensions, counter));
    f->Header({"upn", "start_date", "sessions", "reason_code"});
    DefectPlanner planner(static_cast<int64_t>(suspensions_.size()), o_.bad_rows_fraction,
                          {Defect::kBadCheckLetter, Defect::kImpossibleDate,
                           Defect::kUnknownCode, Defect::kMissingRequired},
                          DefectSeed(kDatasetSuspensions));
    for (const Suspension& sus : suspensions_) {
      const std::optional<Defect> d = planner.Next();
      std::string upn = pupils_[sus.pupil].upn;
      std::string date = FormatDay(sus.date);
      std::string_view reason = SuspensionReasons()[sus.reason].code;
      if (d == Defect::kBadCheckLetter) upn = WrongCheckLetter(upn, planner.rng());
      if (d == Defect::kMissingRequired) upn.clear();
      if (d == Defect::kImpossibleDate) date = ImpossibleDate(static_cast<int>(sus.date.year()), planner.rng());
      if (d == Defect::kUnknownCode) reason = "ZZ";
      f->Field(upn);
      f->Field(date);
      f->Field(sus.sessions);
      f->Field(reason);
      f->EndRow();
      counter.Row(d);
    }
    return Finish(*f, counter, files);
  }

  const TrustOptions& o_;
  const SchoolPlan& s_;
  int index_;
  const std::vector<Term>& terms_;
  Rng rng_;
  SchoolUpnAllocator upns_;
  std::vector<Pupil> pupils_;
  std::vector<Suspension> suspensions_;
  std::vector<int> suspended_sessions_;  // [pupil * T + term]
};

// ---------------------------------------------------------------------------
// Output directory and manifest

absl::Status PrepareOutDir(const TrustOptions& o) {
  std::error_code ec;
  const fs::path root(o.out_dir);
  if (fs::exists(root, ec)) {
    if (!fs::is_directory(root, ec)) {
      return absl::FailedPreconditionError(absl::StrCat("--out ", o.out_dir, " is not a directory"));
    }
    if (!fs::is_empty(root, ec)) {
      if (!o.overwrite) {
        return absl::FailedPreconditionError(absl::StrCat(
            "--out ", o.out_dir, " is not empty; pass --overwrite to replace a previous run"));
      }
      // Remove only what a run writes, so stale schools cannot linger.
      for (std::string_view d : kDatasetNames) fs::remove_all(root / Str(d), ec);
      fs::remove(root / "schools.csv", ec);
      fs::remove(root / "manifest.json", ec);
    }
  }
  for (std::string_view d : kDatasetNames) {
    fs::create_directories(root / Str(d), ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot create ", (root / Str(d)).string(), ": ", ec.message()));
    }
  }
  return absl::OkStatus();
}

absl::Status WriteManifest(const TrustOptions& o, const TrustReport& report) {
  nlohmann::ordered_json m;
  m["generator"] = "datalab-synth";
  m["format_version"] = 1;
  m["seed"] = o.seed;
  m["academic_year"] = o.year;
  m["terms"] = o.terms;
  m["schools"] = o.schools;
  m["pupils_per_school"] = o.pupils_per_school;
  m["bad_rows_fraction"] = o.bad_rows_fraction;
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const FileReport& f : report.files) {
    nlohmann::ordered_json j;
    j["path"] = f.path;
    j["dataset"] = f.dataset;
    if (f.urn != 0) j["urn"] = f.urn;
    j["rows"] = f.rows;
    j["bad_rows"] = f.bad_rows;
    nlohmann::ordered_json defects = nlohmann::ordered_json::object();
    for (int k = 0; k < kDefectKinds; ++k) {
      if (f.defects[k] > 0) defects[Str(DefectName(static_cast<Defect>(k)))] = f.defects[k];
    }
    j["defects"] = defects;
    files.push_back(std::move(j));
  }
  m["files"] = std::move(files);
  m["total_rows"] = report.total_rows;
  m["total_bad_rows"] = report.total_bad_rows;

  // Written last and renamed into place: a manifest means a complete run.
  const fs::path final_path = fs::path(o.out_dir) / "manifest.json";
  const fs::path tmp_path = fs::path(o.out_dir) / "manifest.json.tmp";
  {
    std::ofstream out(tmp_path, std::ios::binary | std::ios::trunc);
    out << m.dump(2) << "\n";
    out.close();
    if (!out) {
      return absl::InternalError(absl::StrCat("cannot write ", tmp_path.string()));
    }
  }
  std::error_code ec;
  fs::rename(tmp_path, final_path, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot rename manifest into place: ", ec.message()));
  }
  return absl::OkStatus();
}

void ReserveEstabs(const std::vector<SchoolPlan>& plans, std::map<int, LaUpnSpace>& spaces) {
  for (const SchoolPlan& s : plans) spaces[s.info.la_code].Reserve(s.info.establishment);
}

}  // namespace

std::string_view DefectName(Defect d) {
  switch (d) {
    case Defect::kBadCheckLetter:
      return "bad_check_letter";
    case Defect::kImpossibleDate:
      return "impossible_date";
    case Defect::kUnknownCode:
      return "unknown_code";
    case Defect::kMissingRequired:
      return "missing_required";
  }
  return "unknown";
}

std::string_view PhaseName(Phase p) {
  return p == Phase::kPrimary ? "primary" : "secondary";
}

double ExpectedAttainment8(double ks2_average) {
  return std::clamp(47.0 + 2.7 * (ks2_average - 104.5), 8.0, 85.0);
}

absl::Status ValidateTrustOptions(const TrustOptions& o) {
  if (o.out_dir.empty()) return absl::InvalidArgumentError("--out is required");
  if (o.schools < 1 || o.schools > 1000) {
    return absl::InvalidArgumentError("--schools must be in 1..1000");
  }
  if (o.pupils_per_school != 0 && (o.pupils_per_school < 10 || o.pupils_per_school > 100000)) {
    return absl::InvalidArgumentError("--pupils_per_school must be 0 (default) or 10..100000");
  }
  if (!(o.bad_rows_fraction >= 0.0 && o.bad_rows_fraction <= 1.0)) {
    return absl::InvalidArgumentError("--bad_rows_fraction must be in 0..1");
  }
  if (o.terms < 1 || o.terms > 9) return absl::InvalidArgumentError("--terms must be in 1..9");
  if (o.year < 2000 || o.year > 2090) {
    return absl::InvalidArgumentError("--year must be in 2000..2090");
  }
  return absl::OkStatus();
}

absl::StatusOr<TrustReport> GenerateTrust(const TrustOptions& o) {
  RETURN_IF_ERROR(ValidateTrustOptions(o));
  RETURN_IF_ERROR(PrepareOutDir(o));
  const std::vector<SchoolPlan> plans = PlanSchools(o.schools, o.seed, o.pupils_per_school);
  const std::vector<Term> terms = MakeTerms(o.year, o.terms);
  std::map<int, LaUpnSpace> spaces;
  ReserveEstabs(plans, spaces);

  TrustReport report;
  {
    FileReport schools_file;
    schools_file.path = "schools.csv";
    schools_file.dataset = "schools";
    ASSIGN_OR_RETURN(auto f, CsvFile::Create((fs::path(o.out_dir) / "schools.csv").string()));
    f->Header({"urn", "name", "phase", "la_code", "establishment_number"});
    for (const SchoolPlan& s : plans) {
      f->Field(s.info.urn);
      f->Field(s.info.name);
      f->Field(PhaseName(s.info.phase));
      f->Field(s.info.la_code);
      f->Field(s.info.establishment);
      f->EndRow();
      report.schools.push_back(s.info);
    }
    RETURN_IF_ERROR(f->Close());
    schools_file.rows = f->rows();
    report.files.push_back(std::move(schools_file));
  }
  for (size_t i = 0; i < plans.size(); ++i) {
    SchoolWriter writer(o, plans[i], static_cast<int>(i), terms, &spaces[plans[i].info.la_code]);
    RETURN_IF_ERROR(writer.Run(report.files));
  }
  for (const FileReport& f : report.files) {
    report.total_rows += f.rows;
    report.total_bad_rows += f.bad_rows;
  }
  RETURN_IF_ERROR(WriteManifest(o, report));
  return report;
}

absl::Status ValidateFlatOptions(const FlatOptions& o) {
  if (o.path.empty()) return absl::InvalidArgumentError("--flat needs a file path");
  if (o.rows < 1 || o.rows > 2'000'000'000) {
    return absl::InvalidArgumentError("--rows must be in 1..2000000000");
  }
  // A flat benchmark file spreads rows over up to every school in England.
  if (o.schools < 1 || o.schools > 10000) {
    return absl::InvalidArgumentError("--schools must be in 1..10000 with --flat");
  }
  if (o.year < 2000 || o.year > 2090) {
    return absl::InvalidArgumentError("--year must be in 2000..2090");
  }
  return absl::OkStatus();
}

absl::StatusOr<FlatReport> GenerateFlat(const FlatOptions& o) {
  RETURN_IF_ERROR(ValidateFlatOptions(o));
  const std::vector<SchoolPlan> plans = PlanSchools(o.schools, o.seed, 0);
  std::map<int, LaUpnSpace> spaces;
  ReserveEstabs(plans, spaces);

  // Rows shared out in proportion to school size (largest remainder).
  double total_target = 0;
  for (const SchoolPlan& s : plans) total_target += s.target_pupils;
  std::vector<int64_t> rows(plans.size());
  std::vector<std::pair<double, size_t>> remainders;
  int64_t assigned = 0;
  for (size_t i = 0; i < plans.size(); ++i) {
    const double exact = static_cast<double>(o.rows) * plans[i].target_pupils / total_target;
    rows[i] = static_cast<int64_t>(std::floor(exact));
    assigned += rows[i];
    remainders.emplace_back(-(exact - std::floor(exact)), i);
  }
  std::sort(remainders.begin(), remainders.end());
  for (size_t k = 0; assigned < o.rows; ++k, ++assigned) ++rows[remainders[k % plans.size()].second];

  ASSIGN_OR_RETURN(auto f, CsvFile::Create(o.path, size_t{4} << 20));
  f->Header({"pupil_id", "school_urn", "nc_year", "gender", "fsm", "sen", "ethnicity",
             "attendance_pct", "grade_maths", "grade_english"});
  FlatReport report;
  for (size_t i = 0; i < plans.size(); ++i) {
    const SchoolPlan& s = plans[i];
    report.schools.push_back(s.info);
    Rng rng(MixSeed(o.seed, 1000 + i));
    SchoolUpnAllocator upns(s.info.la_code, s.info.establishment, &spaces[s.info.la_code]);
    const int lo = LowestYear(s.info.phase);
    const int hi = HighestYear(s.info.phase);
    for (int64_t r = 0; r < rows[i]; ++r) {
      const int nc = rng.Int(lo, hi);
      const PupilCore c = MakeCore(s, rng);
      const int entry_year = o.year - (nc - lo);
      ASSIGN_OR_RETURN(const std::string upn, upns.Permanent(entry_year % 100));
      const double missed = std::clamp(c.absence * std::exp(0.3 * rng.Normal() - 0.045), 0.0, 1.0);
      // Current working-at grade on the 9-1 scale.
      const double level = 4.7 + 1.5 * c.ability;
      f->Field(upn);
      f->Field(s.info.urn);
      f->Field(NcYearLabel(nc));
      f->Field(c.male ? "M" : "F");
      f->Field(c.fsm ? "Y" : "N");
      f->Field(std::string_view(&c.sen, 1));
      f->Field(Ethnicities()[c.eth].code);
      f->Field(100.0 * (1.0 - missed), 1);
      f->Field(static_cast<int>(std::clamp(std::lround(level + 0.7 * rng.Normal()), 1L, 9L)));
      f->Field(static_cast<int>(std::clamp(std::lround(level + 0.15 + 0.7 * rng.Normal()), 1L, 9L)));
      f->EndRow();
    }
  }
  RETURN_IF_ERROR(f->Close());
  report.rows = f->rows();
  return report;
}

}  // namespace datalab::synth
