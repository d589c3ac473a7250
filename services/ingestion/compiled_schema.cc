#include "services/ingestion/compiled_schema.h"

#include <cctype>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace datalab::ingestion {
namespace {

namespace v1 = ::datalab::common::v1;

IdentifierCheck CheckFor(const catalogue::v1::Column& c) {
  auto has = [&](absl::string_view word) {
    if (absl::StrContains(absl::AsciiStrToLower(c.name()), word)) return true;
    for (const auto& a : c.aliases()) {
      if (absl::StrContains(absl::AsciiStrToLower(a), word)) return true;
    }
    return false;
  };
  if (has("upn")) return IdentifierCheck::kUpn;
  if (has("uln")) return IdentifierCheck::kUln;
  if (has("urn")) return IdentifierCheck::kUrn;
  return IdentifierCheck::kNone;
}

}  // namespace

v1::MissingReason MissingReasonForMarker(std::string_view marker) {
  if (marker.empty()) return v1::BLANK;
  if (marker == "SUPP") return v1::SUPP;
  if (marker == "NE") return v1::NE;
  if (marker == "NP") return v1::NP;
  if (marker == "NA" || marker == ".") return v1::NA;
  if (marker == "LOWCOV") return v1::LOWCOV;
  if (marker == "x" || marker == "X") return v1::X;
  return v1::OTHER;
}

std::string PostcodeDistrict(std::string_view raw) {
  std::string s;
  for (char c : raw) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      s.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  // The inward code is always digit + two letters; the outward code is 2-4
  // characters starting with a letter.
  if (s.size() < 5 || s.size() > 7) return "";
  const std::string inward = s.substr(s.size() - 3);
  if (!std::isdigit(static_cast<unsigned char>(inward[0])) ||
      !std::isalpha(static_cast<unsigned char>(inward[1])) ||
      !std::isalpha(static_cast<unsigned char>(inward[2]))) {
    return "";
  }
  std::string outward = s.substr(0, s.size() - 3);
  if (!std::isalpha(static_cast<unsigned char>(outward[0]))) return "";
  for (char c : outward) {
    if (!std::isalnum(static_cast<unsigned char>(c))) return "";
  }
  return outward;
}

absl::StatusOr<std::unique_ptr<CompiledSchema>> CompiledSchema::Create(
    const catalogue::v1::Dataset& dataset, const catalogue::v1::Schema& schema) {
  if (schema.columns_size() == 0) {
    return absl::InvalidArgumentError("schema has no columns");
  }
  std::unique_ptr<CompiledSchema> s(new CompiledSchema());
  s->dataset_ = dataset;
  s->schema_ = schema;
  std::vector<csv::ColumnSpec> specs;
  for (int i = 0; i < schema.columns_size(); ++i) {
    const catalogue::v1::Column& c = schema.columns(i);
    if (c.name().empty()) {
      return absl::InvalidArgumentError(absl::StrCat("schema column ", i + 1, " has no name"));
    }
    CompiledColumn cc;
    cc.column = c;
    cc.type = c.type() == v1::COLUMN_TYPE_UNSPECIFIED ? v1::STRING : c.type();
    cc.treatment = c.treatment() == v1::TREATMENT_UNSPECIFIED ? v1::KEEP : c.treatment();
    csv::ColumnParseOptions po;
    switch (cc.type) {
      case v1::INTEGER: po.type = csv::ColumnType::kInteger; break;
      case v1::DECIMAL: po.type = csv::ColumnType::kDecimal; break;
      case v1::PERCENTAGE:
        po.type = csv::ColumnType::kDecimal;
        po.decimal.allow_percent = true;
        break;
      case v1::DATE: po.type = csv::ColumnType::kDate; break;
      case v1::BOOLEAN: po.type = csv::ColumnType::kBoolean; break;
      default: po.type = csv::ColumnType::kString; break;
    }
    std::vector<std::string> markers(c.missing_markers().begin(), c.missing_markers().end());
    cc.blank_is_error = c.required() || c.subject_key();
    po.markers = csv::MissingMarkers(markers, /*blank_is_missing=*/true);
    cc.parser = csv::ValueParser(std::move(po));
    for (const auto& code : c.codes()) {
      if (cc.codes.emplace(code.code(), static_cast<uint32_t>(cc.code_list.size())).second) {
        cc.code_list.push_back(code.code());
      }
    }
    if (cc.type == v1::CODE && cc.codes.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", c.name(), ": CODE column has no code list"));
    }
    if (cc.treatment == v1::PSEUDONYMISE && dataset.identifier_domain().empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "column ", c.name(), ": PSEUDONYMISE needs the dataset's identifier_domain"));
    }
    if (cc.treatment == v1::GENERALISE_DOB_YEAR_MONTH && cc.type != v1::DATE) {
      return absl::InvalidArgumentError(absl::StrCat(
          "column ", c.name(), ": GENERALISE_DOB_YEAR_MONTH needs a DATE column"));
    }
    if (cc.treatment == v1::GENERALISE_POSTCODE_DISTRICT && cc.type != v1::STRING) {
      return absl::InvalidArgumentError(absl::StrCat(
          "column ", c.name(), ": GENERALISE_POSTCODE_DISTRICT needs a STRING column"));
    }
    if (c.subject_key() || cc.treatment == v1::PSEUDONYMISE) {
      cc.identifier_check = CheckFor(c);
    }
    if (c.subject_key()) {
      if (s->subject_column_ >= 0) {
        return absl::InvalidArgumentError("schema has more than one subject_key column");
      }
      s->subject_column_ = i;
    }
    if (c.period_key()) s->period_columns_.push_back(i);
    if (!schema.summary_row_column().empty() && c.name() == schema.summary_row_column()) {
      s->summary_column_ = i;
    }
    if (cc.treatment != v1::DROP) {
      query::v1::StoredColumn sc;
      sc.set_name(c.name());
      switch (cc.treatment) {
        case v1::PSEUDONYMISE:
        case v1::GENERALISE_DOB_YEAR_MONTH:
        case v1::GENERALISE_POSTCODE_DISTRICT:
          sc.set_type(v1::STRING);
          break;
        default:
          sc.set_type(cc.type);
      }
      sc.set_subject(c.subject_key());
      cc.stored_type = sc.type();
      cc.stored_index = static_cast<int>(s->stored_.size());
      s->stored_.push_back(sc);
    }
    specs.push_back({c.name(), {c.aliases().begin(), c.aliases().end()}, c.required()});
    s->columns_.push_back(std::move(cc));
  }
  if (!schema.summary_row_column().empty() && s->summary_column_ < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "summary_row_column ", schema.summary_row_column(), " is not a schema column"));
  }
  for (const auto& v : schema.summary_row_values()) {
    s->summary_values_.insert(std::string(absl::StripAsciiWhitespace(v)));
  }
  for (const char* sys : {kSchoolColumn, kPeriodColumn}) {
    query::v1::StoredColumn sc;
    sc.set_name(sys);
    sc.set_type(v1::STRING);
    s->stored_.push_back(sc);
  }
  // Footnote markers are NOT stripped: in real files two columns can differ
  // only by theirs ("... Allocation (11)" and "... Allocation (12)" in the
  // pupil premium file), so a schema lists footnoted headers as aliases.
  csv::HeaderNormalizeOptions hopts;
  auto m = csv::HeaderMatcher::Create(std::move(specs), hopts);
  if (!m.ok()) return m.status();
  s->matcher_ = std::move(*m);
  return s;
}

}  // namespace datalab::ingestion
