// Reference tables behind the synthetic trust: real LA codes grouped by
// region with their postcode areas, DfE ethnicity codes with national
// shares, suspension reason codes, name pools and GCSE subjects.
//
// Shares are rounded approximations of published national statistics
// (school census; suspensions by reason, SFR35/2017 national figures in
// /work/shared/data/dfe). They make the data look plausible; they are not a
// statistical model of any real school. All tables are immutable statics;
// safe to read from any thread.
#ifndef DATALAB_TOOLS_SYNTH_REFERENCE_DATA_H_
#define DATALAB_TOOLS_SYNTH_REFERENCE_DATA_H_

#include <string_view>
#include <vector>

namespace datalab::synth {

struct LocalAuthority {
  int code;                      // DfE LA code, e.g. 383
  std::string_view name;         // e.g. "Leeds"
  std::string_view postcode_area;  // e.g. "LS"
  std::vector<int> districts;    // postcode districts in the LA
};

struct Region {
  std::string_view name;
  double diversity;     // scales the share of pupils outside WBRI
  double fsm_factor;    // scales free-school-meal eligibility
  std::vector<LocalAuthority> las;
};

const std::vector<Region>& Regions();

enum class NamePool { kGeneral, kSouthAsian, kAfrican, kEasternEuropean, kChinese };

struct Ethnicity {
  std::string_view code;   // DfE ethnicity code, e.g. "WBRI"
  double national_share;   // approximate share of pupils in England
  double eal_probability;  // chance a pupil of this group has EAL
  double fsm_multiplier;   // relative FSM eligibility
  NamePool names;
};

const std::vector<Ethnicity>& Ethnicities();

struct ReasonCode {
  std::string_view code;  // e.g. "PD"
  double secondary_weight;
  double primary_weight;
};

// Suspension reason codes with national relative frequencies.
const std::vector<ReasonCode>& SuspensionReasons();

// Name pools: forenames by pool and sex, surnames by pool.
const std::vector<std::string_view>& Forenames(NamePool pool, bool male);
const std::vector<std::string_view>& Surnames(NamePool pool);

// Stems for school names ("Oakwood", "St Mary's" ...).
const std::vector<std::string_view>& SchoolNameStems();

struct Subject {
  std::string_view name;  // column value, e.g. "history"
  double difficulty;      // grade offset relative to the pupil's level
  bool ebacc;             // counts in the EBacc slots of Attainment 8
};

// GCSE subjects other than English, maths and science.
const std::vector<Subject>& OtherSubjects();

}  // namespace datalab::synth

#endif  // DATALAB_TOOLS_SYNTH_REFERENCE_DATA_H_
