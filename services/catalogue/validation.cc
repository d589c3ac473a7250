#include "services/catalogue/validation.h"

#include <cmath>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/identifiers/domain_id.h"

namespace datalab::catalogue {
namespace {

using commonv1::Classification;
using commonv1::ColumnType;
using commonv1::Treatment;

std::string P(std::string_view prefix, std::string_view field) {
  return absl::StrCat(std::string(prefix), ".", std::string(field));
}

std::string Idx(std::string_view prefix, std::string_view field, int i) {
  return absl::StrCat(std::string(prefix), ".", std::string(field), "[", i, "]");
}

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(std::string(s)); }

bool IsNumeric(ColumnType t) {
  return t == commonv1::INTEGER || t == commonv1::DECIMAL || t == commonv1::PERCENTAGE;
}

}  // namespace

void FieldErrors::Add(std::string_view path, std::string_view rule) {
  errors_.push_back(absl::StrCat(std::string(path), ": ", std::string(rule)));
}

absl::Status FieldErrors::ToStatus() const {
  if (errors_.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(errors_, "; "));
}

namespace {
// `domains/{id}` with the id rule of the pseudonymisation service, which
// owns domains (common/identifiers/domain_id.h).
constexpr char kDomainNameRule[] =
    "domains/{id}, the id of lower-case letters, digits and '-', starting with a letter";
bool IsDomainName(std::string_view name) {
  return name.substr(0, 8) == "domains/" && identifiers::ValidateDomainId(name.substr(8)).ok();
}
}  // namespace

bool IsLowerSnakeCase(std::string_view id) {
  if (id.empty() || id.size() > 63) return false;
  if (!(id[0] >= 'a' && id[0] <= 'z')) return false;
  for (char c : id) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

bool IsValidUserId(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= ' ' || c > '~' || c == '/') return false;
  }
  return true;
}

absl::StatusOr<absl::CivilDay> ParseDate(std::string_view text, std::string_view field) {
  absl::CivilDay day;
  // Exactly YYYY-MM-DD: ParseCivilTime alone would also accept normalised
  // dates such as 2024-02-30.
  if (text.size() != 10 || !absl::ParseCivilTime(absl::string_view(text.data(), text.size()), &day) ||
      absl::FormatCivilTime(day) != std::string(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ": not a valid date YYYY-MM-DD"));
  }
  return day;
}

absl::CivilDay DayOf(int64_t unix_ms) {
  return absl::ToCivilDay(absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

void ValidateDataset(const cv1::Dataset& d, std::string_view prefix, FieldErrors& errors) {
  if (d.title().empty()) errors.Add(P(prefix, "title"), "required");
  if (d.title().size() > 200) errors.Add(P(prefix, "title"), "longer than 200 characters");
  if (d.source_system() == cv1::SOURCE_SYSTEM_UNSPECIFIED ||
      !cv1::SourceSystem_IsValid(d.source_system())) {
    errors.Add(P(prefix, "source_system"), "required: one of SIMS, ARBOR, BROMCOM, CPOMS, EPM, "
                                           "DFE_OPEN_DATA, OTHER_SOURCE");
  }
  if (d.topic() == cv1::TOPIC_UNSPECIFIED || !cv1::Topic_IsValid(d.topic())) {
    errors.Add(P(prefix, "topic"), "required: a known topic");
  }
  if (d.subject_kind() == commonv1::SUBJECT_KIND_UNSPECIFIED ||
      !commonv1::SubjectKind_IsValid(d.subject_kind())) {
    errors.Add(P(prefix, "subject_kind"), "required: PUPIL, STAFF, SCHOOL or AGGREGATE");
  }
  if (d.lawful_basis().empty()) errors.Add(P(prefix, "lawful_basis"), "required");
  if (d.retention_days() <= 0) errors.Add(P(prefix, "retention_days"), "must be positive");
  if (d.subject_kind() == commonv1::PUPIL || d.subject_kind() == commonv1::STAFF) {
    std::string_view dom = d.identifier_domain();
    if (!IsDomainName(dom)) {
      errors.Add(P(prefix, "identifier_domain"),
                 absl::StrCat("required for pupil and staff datasets: ", kDomainNameRule));
    }
  } else if (!d.identifier_domain().empty() && !IsDomainName(d.identifier_domain())) {
    errors.Add(P(prefix, "identifier_domain"), absl::StrCat("must be ", kDomainNameRule));
  }
  std::set<std::string> tags;
  for (int i = 0; i < d.tags_size(); ++i) {
    const std::string& t = d.tags(i);
    if (t.empty() || t.size() > 63) errors.Add(Idx(prefix, "tags", i), "must be 1-63 characters");
    if (!tags.insert(Lower(t)).second) {
      errors.Add(Idx(prefix, "tags", i), absl::StrCat("duplicate tag '", t, "'"));
    }
  }
  if (!d.owner().empty() && (d.owner().rfind("users/", 0) != 0 ||
                             !IsValidUserId(std::string_view(d.owner()).substr(6)))) {
    errors.Add(P(prefix, "owner"), "must be users/{user}");
  }
}

void ValidateSchema(const cv1::Schema& s, commonv1::SubjectKind kind, std::string_view prefix,
                    FieldErrors& errors) {
  if (s.columns_size() == 0) errors.Add(P(prefix, "columns"), "at least one column is required");
  std::set<std::string> names;    // lower-cased column names
  std::set<std::string> headers;  // lower-cased names and aliases
  int subject_keys = 0;
  bool has_urn = false;
  for (int i = 0; i < s.columns_size(); ++i) {
    const cv1::Column& c = s.columns(i);
    const std::string at = Idx(prefix, "columns", i);
    if (!IsLowerSnakeCase(c.name())) {
      errors.Add(P(at, "name"), "must be lower_snake_case, 1-63 characters");
    }
    if (!names.insert(Lower(c.name())).second) {
      errors.Add(P(at, "name"), absl::StrCat("duplicate column name '", c.name(), "'"));
    }
    headers.insert(Lower(c.name()));
    if (c.name() == "urn") has_urn = true;
    if (c.type() == commonv1::COLUMN_TYPE_UNSPECIFIED || !commonv1::ColumnType_IsValid(c.type())) {
      errors.Add(P(at, "type"), "unknown column type: one of STRING, INTEGER, DECIMAL, DATE, "
                                "BOOLEAN, CODE, PERCENTAGE");
    }
    if (c.classification() == commonv1::CLASSIFICATION_UNSPECIFIED ||
        !commonv1::Classification_IsValid(c.classification())) {
      errors.Add(P(at, "classification"), "required: DIRECT_IDENTIFIER, QUASI_IDENTIFIER, "
                                          "SPECIAL_CATEGORY or NON_IDENTIFYING");
    }
    if (c.treatment() == commonv1::TREATMENT_UNSPECIFIED ||
        !commonv1::Treatment_IsValid(c.treatment())) {
      errors.Add(P(at, "treatment"), "required: KEEP, PSEUDONYMISE, DROP, "
                                     "GENERALISE_DOB_YEAR_MONTH or GENERALISE_POSTCODE_DISTRICT");
    }
    // Treatments valid for the classification and type.
    const bool identifier = c.subject_key() || c.classification() == commonv1::DIRECT_IDENTIFIER;
    if (c.classification() == commonv1::DIRECT_IDENTIFIER &&
        c.treatment() != commonv1::DROP && c.treatment() != commonv1::PSEUDONYMISE) {
      errors.Add(P(at, "treatment"), "a DIRECT_IDENTIFIER must be DROP or PSEUDONYMISE");
    }
    if (c.treatment() == commonv1::PSEUDONYMISE && !identifier) {
      errors.Add(P(at, "treatment"),
                 "PSEUDONYMISE only applies to the subject key or a DIRECT_IDENTIFIER column");
    }
    if (c.treatment() == commonv1::GENERALISE_DOB_YEAR_MONTH && c.type() != commonv1::DATE) {
      errors.Add(P(at, "treatment"), "GENERALISE_DOB_YEAR_MONTH needs a DATE column");
    }
    if (c.treatment() == commonv1::GENERALISE_POSTCODE_DISTRICT && c.type() != commonv1::STRING) {
      errors.Add(P(at, "treatment"), "GENERALISE_POSTCODE_DISTRICT needs a STRING column");
    }
    if (c.subject_key()) {
      ++subject_keys;
      if (!c.required()) errors.Add(P(at, "required"), "the subject key must be required");
      if ((kind == commonv1::PUPIL || kind == commonv1::STAFF) &&
          c.treatment() != commonv1::PSEUDONYMISE) {
        errors.Add(P(at, "treatment"),
                   "the subject key of a pupil or staff dataset must be PSEUDONYMISE");
      }
      if (c.treatment() == commonv1::DROP) {
        errors.Add(P(at, "treatment"), "the subject key cannot be dropped");
      }
    }
    // Codes.
    if (c.type() == commonv1::CODE) {
      if (c.codes_size() == 0) errors.Add(P(at, "codes"), "a CODE column needs a code list");
    } else if (c.codes_size() > 0) {
      errors.Add(P(at, "codes"), "a code list is only allowed on CODE columns");
    }
    std::set<std::string> codes;
    for (int k = 0; k < c.codes_size(); ++k) {
      const std::string& code = c.codes(k).code();
      if (code.empty()) {
        errors.Add(Idx(at, "codes", k), "empty code");
      } else if (!codes.insert(code).second) {
        errors.Add(P(at, "codes"), absl::StrCat("duplicate code '", code, "'"));
      }
    }
    // Range.
    if (c.has_range()) {
      if (!IsNumeric(c.type())) {
        errors.Add(P(at, "has_range"), "a range is only allowed on numeric columns");
      }
      if (!std::isfinite(c.min_value()) || !std::isfinite(c.max_value())) {
        errors.Add(P(at, "min_value"), "range bounds must be finite");
      } else if (c.min_value() > c.max_value()) {
        errors.Add(P(at, "min_value"), "min_value must not exceed max_value");
      }
    }
    // Missing markers.
    std::set<std::string> markers;
    for (int k = 0; k < c.missing_markers_size(); ++k) {
      const std::string& m = c.missing_markers(k);
      if (m.empty()) {
        errors.Add(Idx(at, "missing_markers", k), "must be a non-empty string");
      } else if (!markers.insert(m).second) {
        errors.Add(Idx(at, "missing_markers", k), absl::StrCat("duplicate marker '", m, "'"));
      }
    }
    if (c.period_key() && c.subject_key()) {
      errors.Add(P(at, "period_key"), "a column cannot be both subject key and period key");
    }
  }
  // Aliases may not collide with any column name or another alias.
  for (int i = 0; i < s.columns_size(); ++i) {
    const cv1::Column& c = s.columns(i);
    for (int k = 0; k < c.aliases_size(); ++k) {
      const std::string at = Idx(Idx(prefix, "columns", i), "aliases", k);
      const std::string& a = c.aliases(k);
      if (a.empty()) {
        errors.Add(at, "must be a non-empty header name");
      } else if (Lower(a) != Lower(c.name()) && !headers.insert(Lower(a)).second) {
        errors.Add(at, absl::StrCat("alias '", a, "' already names another column or alias"));
      }
    }
  }
  if (kind == commonv1::PUPIL || kind == commonv1::STAFF) {
    if (subject_keys != 1) {
      errors.Add(P(prefix, "columns"),
                 absl::StrCat("a pupil or staff dataset needs exactly one subject_key column, has ",
                              subject_keys));
    }
  } else if (kind == commonv1::SCHOOL) {
    if (subject_keys > 1) {
      errors.Add(P(prefix, "columns"), "at most one subject_key column");
    } else if (subject_keys == 0 && !has_urn) {
      errors.Add(P(prefix, "columns"),
                 "a school dataset is keyed by URN: add a 'urn' column or mark a subject_key");
    }
  }
  if (s.unique_subject_per_period() && subject_keys == 0) {
    errors.Add(P(prefix, "unique_subject_per_period"), "needs a subject_key column");
  }
  if (!s.summary_row_column().empty()) {
    if (names.count(Lower(s.summary_row_column())) == 0) {
      errors.Add(P(prefix, "summary_row_column"),
                 absl::StrCat("no column named '", s.summary_row_column(), "'"));
    }
    if (s.summary_row_values_size() == 0) {
      errors.Add(P(prefix, "summary_row_values"), "required with summary_row_column");
    }
  } else if (s.summary_row_values_size() > 0) {
    errors.Add(P(prefix, "summary_row_column"), "required with summary_row_values");
  }
}

commonv1::DisclosureSettings DefaultFloor() {
  commonv1::DisclosureSettings s;
  s.set_threshold(10);
  s.set_rounding_base(5);
  s.set_dominance_n(2);
  s.set_dominance_k_percent(90);
  s.set_p_percent(10);
  return s;
}

namespace {

void ValidateInternal(const commonv1::DisclosureSettings& s, std::string_view prefix,
                      FieldErrors& errors) {
  if (s.threshold() < 1) errors.Add(P(prefix, "threshold"), "must be at least 1");
  if (s.rounding_base() < 1) errors.Add(P(prefix, "rounding_base"), "must be at least 1");
  if (s.dominance_n() < 1) errors.Add(P(prefix, "dominance_n"), "must be at least 1");
  if (!(s.dominance_k_percent() > 0 && s.dominance_k_percent() <= 100)) {
    errors.Add(P(prefix, "dominance_k_percent"), "must be in (0, 100]");
  }
  if (!(s.p_percent() >= 0 && s.p_percent() <= 100)) {
    errors.Add(P(prefix, "p_percent"), "must be in [0, 100]");
  }
  if (!(std::isfinite(s.epsilon_budget()) && s.epsilon_budget() >= 0)) {
    errors.Add(P(prefix, "epsilon_budget"), "must be zero (off) or positive");
  }
  if (!(std::isfinite(s.epsilon_per_query()) && s.epsilon_per_query() >= 0)) {
    errors.Add(P(prefix, "epsilon_per_query"), "must be zero or positive");
  } else if (s.epsilon_budget() == 0 && s.epsilon_per_query() != 0) {
    errors.Add(P(prefix, "epsilon_per_query"), "must be zero when epsilon_budget is zero (off)");
  } else if (s.epsilon_budget() > 0 &&
             (s.epsilon_per_query() <= 0 || s.epsilon_per_query() > s.epsilon_budget())) {
    errors.Add(P(prefix, "epsilon_per_query"), "must be in (0, epsilon_budget]");
  }
}

}  // namespace

void ValidateFloor(const commonv1::DisclosureSettings& s, std::string_view prefix,
                   FieldErrors& errors) {
  ValidateInternal(s, prefix, errors);
}

void ValidateProjectDisclosure(const commonv1::DisclosureSettings& s,
                               const commonv1::DisclosureSettings& floor,
                               std::string_view prefix, FieldErrors& errors) {
  ValidateInternal(s, prefix, errors);
  if (s.threshold() < floor.threshold()) {
    errors.Add(P(prefix, "threshold"),
               absl::StrCat("below the trust floor (", floor.threshold(), ")"));
  }
  if (s.rounding_base() < floor.rounding_base()) {
    errors.Add(P(prefix, "rounding_base"),
               absl::StrCat("below the trust floor (", floor.rounding_base(), ")"));
  }
  if (s.dominance_n() < floor.dominance_n()) {
    errors.Add(P(prefix, "dominance_n"),
               absl::StrCat("below the trust floor (", floor.dominance_n(), ")"));
  }
  if (s.dominance_k_percent() > floor.dominance_k_percent()) {
    errors.Add(P(prefix, "dominance_k_percent"),
               absl::StrCat("above the trust floor (", floor.dominance_k_percent(), ")"));
  }
  if (s.p_percent() < floor.p_percent()) {
    errors.Add(P(prefix, "p_percent"),
               absl::StrCat("below the trust floor (", floor.p_percent(), ")"));
  }
  if (floor.epsilon_budget() > 0 && s.epsilon_budget() > floor.epsilon_budget()) {
    errors.Add(P(prefix, "epsilon_budget"),
               absl::StrCat("above the trust floor's cap (", floor.epsilon_budget(), ")"));
  }
  if (floor.epsilon_per_query() > 0 && s.epsilon_per_query() > floor.epsilon_per_query()) {
    errors.Add(P(prefix, "epsilon_per_query"),
               absl::StrCat("above the trust floor's cap (", floor.epsilon_per_query(), ")"));
  }
}

commonv1::DisclosureSettings EffectiveSettings(const commonv1::DisclosureSettings& project,
                                               const commonv1::DisclosureSettings& floor) {
  commonv1::DisclosureSettings e = project;
  e.set_threshold(std::max(project.threshold(), floor.threshold()));
  e.set_rounding_base(std::max(project.rounding_base(), floor.rounding_base()));
  e.set_dominance_n(std::max(project.dominance_n(), floor.dominance_n()));
  e.set_dominance_k_percent(project.dominance_k_percent() > 0
                                ? std::min(project.dominance_k_percent(),
                                           floor.dominance_k_percent())
                                : floor.dominance_k_percent());
  e.set_p_percent(std::max(project.p_percent(), floor.p_percent()));
  // Structural zeros are a per-project approval, not a floor matter.
  if (project.epsilon_budget() > 0) {
    if (floor.epsilon_budget() > 0) {
      e.set_epsilon_budget(std::min(project.epsilon_budget(), floor.epsilon_budget()));
    }
    if (floor.epsilon_per_query() > 0) {
      e.set_epsilon_per_query(std::min(project.epsilon_per_query(), floor.epsilon_per_query()));
    }
    e.set_epsilon_per_query(std::min(e.epsilon_per_query(), e.epsilon_budget()));
  }
  return e;
}

bool HasAccreditation(const cv1::Accreditation& a) {
  return !a.scheme().empty() || !a.training_date().empty() || !a.expiry_date().empty();
}

void ValidateAccreditation(const cv1::Accreditation& a, absl::CivilDay today,
                           std::string_view prefix, FieldErrors& errors) {
  if (a.scheme().empty()) errors.Add(P(prefix, "scheme"), "required");
  auto training = ParseDate(a.training_date(), P(prefix, "training_date"));
  if (!training.ok()) errors.Add(P(prefix, "training_date"), "not a valid date YYYY-MM-DD");
  auto expiry = ParseDate(a.expiry_date(), P(prefix, "expiry_date"));
  if (!expiry.ok()) {
    errors.Add(P(prefix, "expiry_date"), "not a valid date YYYY-MM-DD");
    return;
  }
  if (training.ok() && *training > *expiry) {
    errors.Add(P(prefix, "training_date"), "must not be after expiry_date");
  }
  if (training.ok() && *training > today) {
    errors.Add(P(prefix, "training_date"), "is in the future");
  }
  if (*expiry < today) errors.Add(P(prefix, "expiry_date"), "accreditation already expired");
}

bool AccreditationCurrent(const cv1::Accreditation& a, absl::CivilDay today) {
  auto expiry = ParseDate(a.expiry_date(), "expiry_date");
  return !a.scheme().empty() && expiry.ok() && *expiry >= today;
}

}  // namespace datalab::catalogue
