#include "services/query/release.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/status/status_macros.h"

namespace datalab::query {
namespace {

void U32(std::string* out, uint32_t v) {
  for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void Str(std::string* out, const std::string& s) {
  U32(out, static_cast<uint32_t>(s.size()));
  out->append(s);
}
void I64(std::string* out, int64_t v) {
  const uint64_t u = static_cast<uint64_t>(v);
  for (int i = 7; i >= 0; --i) out->push_back(static_cast<char>((u >> (8 * i)) & 0xff));
}
void Repeated(std::string* out, const google::protobuf::RepeatedPtrField<std::string>& r) {
  U32(out, static_cast<uint32_t>(r.size()));
  for (const auto& s : r) Str(out, s);
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  return "\"" + absl::StrReplaceAll(s, {{"\"", "\"\""}}) + "\"";
}

}  // namespace

std::string CanonicalReleaseBytes(const common::v1::ReleaseRecord& r) {
  std::string out = "datalab.release-record.v1\n";
  U32(&out, 1); Str(&out, r.release());
  U32(&out, 2); Str(&out, r.query_text());
  U32(&out, 3); Repeated(&out, r.dataset_versions());
  U32(&out, 4); Repeated(&out, r.dataset_version_hashes());
  U32(&out, 5); Str(&out, r.rules());
  U32(&out, 6); Str(&out, r.engine_version());
  U32(&out, 7); Str(&out, r.output_sha256());
  U32(&out, 8); I64(&out, r.cells_released());
  U32(&out, 9); I64(&out, r.cells_suppressed());
  return out;
}

absl::Status SignReleaseRecord(const crypto::Ed25519PrivateKey& key, const std::string& key_id,
                               common::v1::ReleaseRecord* record) {
  ASSIGN_OR_RETURN(auto sig, key.Sign(CanonicalReleaseBytes(*record)));
  record->set_signature(std::string(sig.begin(), sig.end()));
  record->set_signing_key_id(key_id);
  return absl::OkStatus();
}

absl::Status VerifyReleaseRecord(const crypto::Ed25519PublicKey& key,
                                 const common::v1::ReleaseRecord& record) {
  return key.Verify(CanonicalReleaseBytes(record), record.signature());
}

std::string FormatCell(const query::v1::Cell& cell) {
  if (cell.status() == query::v1::Cell::SUPPRESSED) return "[c]";
  if (cell.value_case() == query::v1::Cell::kText) return cell.text();
  if (cell.value_case() == query::v1::Cell::kNumber) {
    return absl::StrFormat("%.*f", std::max(0, std::min(cell.decimals(), 12)), cell.number());
  }
  return "";
}

std::string ExportCsv(const query::v1::QueryResult& result) {
  std::string out;
  for (int i = 0; i < result.columns_size(); ++i) {
    if (i > 0) out += ",";
    out += CsvField(result.columns(i).name());
  }
  out += "\r\n";
  for (const auto& row : result.rows()) {
    for (int i = 0; i < row.cells_size(); ++i) {
      if (i > 0) out += ",";
      out += CsvField(FormatCell(row.cells(i)));
    }
    out += "\r\n";
  }
  return out;
}

std::string ExportJson(const query::v1::QueryResult& result) {
  nlohmann::ordered_json j;
  j["release"] = result.release();
  j["query"] = result.query_text();
  j["dataset_versions"] = std::vector<std::string>(result.dataset_versions().begin(),
                                                   result.dataset_versions().end());
  j["output_sha256"] = result.output_sha256();
  nlohmann::ordered_json cols = nlohmann::ordered_json::array();
  for (const auto& c : result.columns()) cols.push_back(c.name());
  j["columns"] = cols;
  nlohmann::ordered_json rows = nlohmann::ordered_json::array();
  for (const auto& row : result.rows()) {
    nlohmann::ordered_json r = nlohmann::ordered_json::array();
    for (const auto& cell : row.cells()) {
      nlohmann::ordered_json c;
      if (cell.status() == query::v1::Cell::SUPPRESSED) {
        c["value"] = nullptr;
      } else if (cell.value_case() == query::v1::Cell::kText) {
        c["value"] = cell.text();
      } else {
        c["value"] = cell.number();
      }
      c["status"] = query::v1::Cell::Status_Name(cell.status());
      if (!cell.rule().empty()) c["rule"] = cell.rule();
      r.push_back(c);
    }
    rows.push_back(r);
  }
  j["rows"] = rows;
  nlohmann::ordered_json notes = nlohmann::ordered_json::array();
  for (const auto& n : result.notes()) {
    notes.push_back({{"rule", n.rule()}, {"cells", n.cells()}, {"explanation", n.explanation()}});
  }
  j["notes"] = notes;
  return j.dump(2) + "\n";
}

}  // namespace datalab::query
