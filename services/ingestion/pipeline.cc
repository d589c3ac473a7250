#include "services/ingestion/pipeline.h"

#include <algorithm>
#include <functional>
#include <tuple>
#include <utility>

#include "absl/hash/hash.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/crypto/bytes.h"
#include "common/identifiers/uln.h"
#include "common/identifiers/upn.h"
#include "common/identifiers/urn.h"
#include "common/status/status_macros.h"

namespace datalab::ingestion {
namespace {

namespace cv1 = ::datalab::common::v1;

// Room reserved per row of an identifier column's dictionary (a UPN is 13
// characters, a ULN 10); only a hint, longer values still fit.
constexpr size_t kIdentifierBytes = 16;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Validates and normalises an identifier; the error reason never holds it.
absl::StatusOr<std::string> CheckIdentifier(IdentifierCheck check, std::string_view text) {
  switch (check) {
    case IdentifierCheck::kUpn: {
      auto u = identifiers::ValidateUpn(text);
      if (!u.ok()) return u.status();
      return u->normalised;
    }
    case IdentifierCheck::kUln:
      return identifiers::ValidateUln(text);
    case IdentifierCheck::kUrn: {
      auto u = identifiers::ParseUrn(text);
      if (!u.ok()) return absl::InvalidArgumentError("not a valid URN");
      return std::to_string(*u);
    }
    case IdentifierCheck::kNone:
      break;
  }
  return std::string(Trim(text));
}

const char* IdentifierRule(IdentifierCheck check) {
  switch (check) {
    case IdentifierCheck::kUpn: return "upn_check_letter";
    case IdentifierCheck::kUln: return "uln_check_digit";
    case IdentifierCheck::kUrn: return "urn";
    default: return "identifier";
  }
}

// A reason that never repeats the cell: date errors from the parser may
// echo the day and month, and a date of birth is pupil data.
std::string TypeReason(cv1::ColumnType type, const csv::ParsedValue& v) {
  switch (type) {
    case cv1::DATE: return "not a valid date";
    case cv1::BOOLEAN: return "not a yes/no value";
    case cv1::INTEGER:
    case cv1::DECIMAL:
    case cv1::PERCENTAGE:
      return v.ErrorMessage();  // "not an integer", "not a number", ...
    default:
      return "not a valid value";
  }
}

// Removes rows whose keep[i] is false from one column.
void CompactColumn(query::v1::ColumnValues* c, const std::vector<bool>& keep) {
  auto compact = [&](auto* field) {
    if (field->size() != static_cast<int>(keep.size())) return;
    int w = 0;
    for (int r = 0; r < field->size(); ++r) {
      if (!keep[r]) continue;
      if (w != r) {
        using std::swap;
        swap((*field)[w], (*field)[r]);
      }
      ++w;
    }
    field->Truncate(w);
  };
  compact(c->mutable_ints());
  compact(c->mutable_doubles());
  auto* s = c->mutable_strings();
  if (s->size() == static_cast<int>(keep.size())) {
    int w = 0;
    for (int r = 0; r < s->size(); ++r) {
      if (!keep[r]) continue;
      if (w != r) s->Mutable(w)->swap(*s->Mutable(r));
      ++w;
    }
    while (s->size() > w) s->RemoveLast();
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<RowPipeline>> RowPipeline::Create(
    const CompiledSchema* schema, const PipelineOptions& options,
    Pseudonymiser* pseudonymiser, BatchSink* sink) {
  if (options.batch_rows <= 0 || options.batch_rows > kMaxBatchRows) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch_rows must be between 1 and ", kMaxBatchRows, ", not ",
                     options.batch_rows));
  }
  std::unique_ptr<RowPipeline> p(new RowPipeline(schema, options, pseudonymiser, sink));
  csv::CsvOptions co;
  co.encoding = options.encoding;
  co.check_field_count = false;  // a short row is a row error, not a file error
  auto reader = csv::CsvReader::Create(co);
  if (!reader.ok()) return reader.status();
  p->reader_ = std::move(*reader);
  return p;
}

RowPipeline::RowPipeline(const CompiledSchema* schema, const PipelineOptions& options,
                         Pseudonymiser* pseudonymiser, BatchSink* sink)
    : schema_(schema),
      options_(options),
      pseudonymiser_(pseudonymiser),
      sink_(sink) {
  row_.resize(schema_->columns().size());
  stats_.resize(schema_->columns().size());
  markers_.resize(schema_->columns().size());
  for (size_t i = 0; i < schema_->columns().size(); ++i) {
    const std::string& n = schema_->columns()[i].column.name();
    if (n == "urn" || n == "school_urn") school_urn_column_ = static_cast<int>(i);
  }
  subject_key_.reserve(256);
  ResetBatch();
}

RowPipeline::~RowPipeline() {
  Abandon();
  crypto::WipeString(&subject_key_);
}

void RowPipeline::ResetBatch() {
  const auto& stored = schema_->stored_columns();
  const size_t n = stored.size();
  pending_ = std::make_unique<Pending>();
  Pending& p = *pending_;
  p.strings.resize(n);
  // Room for a full batch up front, so columns do not regrow as it fills.
  const auto rows = static_cast<size_t>(options_.batch_rows);
  for (size_t i = 0; i < n; ++i) {
    query::v1::ColumnValues* col = p.batch.add_columns();
    switch (stored[i].type()) {
      case cv1::INTEGER:
      case cv1::DATE:
      case cv1::BOOLEAN:
        col->mutable_ints()->Reserve(static_cast<int>(rows));
        break;
      case cv1::DECIMAL:
      case cv1::PERCENTAGE:
        col->mutable_doubles()->Reserve(static_cast<int>(rows));
        break;
      default:
        p.strings[i] = std::make_unique<rowbatch::StringColumnBuilder>();
    }
  }
  for (const CompiledColumn& cc : schema_->columns()) {
    if (cc.stored_index < 0 || p.strings[cc.stored_index] == nullptr) continue;
    rowbatch::StringColumnBuilder& b = *p.strings[cc.stored_index];
    // An identifier column's dictionary holds one entry per row (see
    // AppendRow).
    if (cc.treatment == cv1::PSEUDONYMISE) {
      b.Reserve(rows, rows, kIdentifierBytes);
    } else {
      b.Reserve(rows);
    }
    if (cc.type == cv1::CODE && cc.treatment == cv1::KEEP) {
      for (const std::string& code : cc.code_list) b.Intern(code);
    }
  }
  p.missing.assign(n, std::string());  // filled from a column's first missing cell
}

v1::JobProgress RowPipeline::progress() const {
  v1::JobProgress p;
  p.set_rows_parsed(parsed_.load());
  p.set_rows_validated(validated_.load());
  p.set_rows_treated(treated_.load());
  p.set_rows_loaded(loaded_.load());
  p.set_rows_quarantined(quarantined_.load());
  p.set_rows_summary_skipped(summary_.load());
  return p;
}

void RowPipeline::AddError(int64_t row, int64_t line, const std::string& column,
                           const std::string& rule, const std::string& reason) {
  ++totals_[absl::StrCat(rule, "\x1f", column)];
  if (report_.errors_size() + static_cast<int>(unsealed_errors_.size()) >=
      options_.max_reported_errors) {
    report_.set_errors_truncated(true);
    return;
  }
  v1::RowError& e = unsealed_errors_.emplace_back();
  e.set_row(row);
  e.set_line(line);
  e.set_column(column);
  e.set_rule(rule);
  e.set_reason(reason);
}

void RowPipeline::ListError(v1::RowError e) {
  ++totals_[absl::StrCat(e.rule(), "\x1f", e.column())];
  if (report_.errors_size() >= options_.max_reported_errors) {
    report_.set_errors_truncated(true);
    return;
  }
  *report_.add_errors() = std::move(e);
}

void RowPipeline::SealErrors() {
  for (v1::RowError& e : unsealed_errors_) {
    if (report_.errors_size() >= options_.max_reported_errors) {
      report_.set_errors_truncated(true);
      break;
    }
    *report_.add_errors() = std::move(e);
  }
  unsealed_errors_.clear();
}

void RowPipeline::Abandon() {
  if (in_treatment_.valid()) in_treatment_.wait();
  // No treatment runs now: the write chain is this thread's to wait on.
  if (writing_.valid()) writing_.wait();
}

void RowPipeline::Reject(const std::string& reason) {
  if (!rejected_) {
    rejected_ = true;
    reject_reason_ = reason;
  }
  ResetBatch();  // nothing more is treated or written
}

absl::Status RowPipeline::Feed(std::string_view chunk) {
  if (reader_failed_) return absl::OkStatus();
  if (absl::Status s = reader_->Feed(chunk); !s.ok()) {
    reader_failed_ = true;
    AddError(0, 0, "", "csv", std::string(s.message()));
    Reject(absl::StrCat("the file is not well-formed CSV: ", s.message()));
    return absl::OkStatus();
  }
  return Drain();
}

absl::Status RowPipeline::Drain() {
  csv::CsvRecord rec;
  while (!reader_failed_) {
    absl::StatusOr<bool> got = reader_->Next(&rec);
    if (!got.ok()) {
      reader_failed_ = true;
      AddError(0, 0, "", "csv", std::string(got.status().message()));
      Reject(absl::StrCat("the file is not well-formed CSV: ", got.status().message()));
      return absl::OkStatus();
    }
    if (!*got) break;
    if (!header_seen_) {
      OnHeader(rec);
      continue;
    }
    if (absl::Status s = OnRow(rec); !s.ok()) return s;
  }
  return absl::OkStatus();
}

void RowPipeline::OnHeader(const csv::CsvRecord& rec) {
  header_seen_ = true;
  header_fields_ = rec.fields.size();
  csv::HeaderMapping m = schema_->matcher().Match(rec.fields);
  field_for_column_ = m.field_for_column;
  // Header names are the uploader's text, not pupil data, but a file sent
  // without a header row has data there: report positions for unknown
  // headers only when they look like header text (no digits-only cells).
  for (int f : m.unknown_fields) {
    std::string_view h = Trim(rec.fields[f]);
    bool looks_like_data = h.empty() || std::all_of(h.begin(), h.end(), [](char c) {
                             return absl::ascii_isdigit(static_cast<unsigned char>(c));
                           });
    report_.add_unknown_headers(looks_like_data ? absl::StrCat("column ", f + 1)
                                                : std::string(h.substr(0, 200)));
  }
  for (int c : m.missing_required) {
    report_.add_missing_headers(schema_->columns()[c].column.name());
  }
  for (int f : m.duplicate_fields) {
    AddError(0, rec.line_number, "", "duplicate_header",
             absl::StrCat("header in column ", f + 1, " repeats an earlier header"));
  }
  if (!m.missing_required.empty()) {
    Reject(absl::StrCat(m.missing_required.size(),
                        " required column(s) missing from the header row"));
  } else if (!m.duplicate_fields.empty()) {
    Reject("the header row repeats a column");
  }
}

absl::Status RowPipeline::OnRow(const csv::CsvRecord& rec) {
  const int64_t row_no = rec.record_number - 1;
  const int64_t line = rec.line_number;
  parsed_.fetch_add(1, std::memory_order_relaxed);
  const auto& cols = schema_->columns();

  // Summary rows (national / LA) are recognised, counted and skipped.
  if (schema_->summary_column() >= 0) {
    int f = field_for_column_[schema_->summary_column()];
    if (f >= 0 && static_cast<size_t>(f) < rec.fields.size() &&
        schema_->IsSummaryValue(Trim(rec.fields[f]))) {
      summary_.fetch_add(1, std::memory_order_relaxed);
      return absl::OkStatus();
    }
  }
  report_.set_rows_total(report_.rows_total() + 1);

  bool bad = false;
  const bool short_row = rec.fields.size() != header_fields_;
  if (short_row) {
    AddError(row_no, line, "", "field_count",
             absl::StrCat("has ", rec.fields.size(), " fields, the header has ", header_fields_));
    bad = true;
  }
  std::string_view school_of_row = options_.school;
  std::string school_number;  // an integer URN column's text
  // Sizes read once (stores through the cells below would make the
  // compiler reload them on every column).
  const size_t ncols = short_row ? 0 : cols.size();
  const size_t nfields = rec.fields.size();
  for (size_t c = 0; c < ncols; ++c) {
    const CompiledColumn& cc = cols[c];
    Cell& cell = row_[c];
    cell.kind = Cell::kMissing;
    cell.missing = cv1::BLANK;
    cell.coded = false;
    ColumnStats& st = stats_[c];
    ++st.cells;
    const int f = field_for_column_[c];
    std::string_view text =
        f >= 0 && static_cast<size_t>(f) < nfields ? rec.fields[f] : std::string_view();
    const std::string& name = cc.column.name();
    csv::ParsedValue v = cc.parser.Parse(text);
    if (v.is_error()) {
      AddError(row_no, line, name, "type", TypeReason(cc.type, v));
      bad = true;
      continue;
    }
    if (v.is_missing()) {
      if (v.marker.empty() && cc.blank_is_error) {
        AddError(row_no, line, name, "required", "a value is required");
        bad = true;
        continue;
      }
      cell.missing = static_cast<uint8_t>(MissingReasonForMarker(v.marker));
      const std::string_view marker = v.marker.empty() ? std::string_view("(blank)") : v.marker;
      auto& counts = markers_[c];
      if (auto it = counts.find(absl::string_view(marker.data(), marker.size())); it != counts.end()) {
        ++it->second;
      } else {
        counts.emplace(std::string(marker), 1);
      }
      continue;
    }
    ++st.present;
    // Value checks.
    uint32_t code = 0;
    if (cc.type == cv1::CODE) {
      auto it = cc.codes.find(absl::string_view(v.string_value.data(), v.string_value.size()));
      if (it == cc.codes.end()) {
        AddError(row_no, line, name, "code_list", "not one of the column's codes");
        bad = true;
        continue;
      }
      code = it->second;
    }
    if (cc.column.has_range()) {
      double x = v.type == csv::ColumnType::kInteger ? static_cast<double>(v.int_value)
                                                     : v.decimal_value;
      if ((v.type == csv::ColumnType::kInteger || v.type == csv::ColumnType::kDecimal) &&
          (x < cc.column.min_value() || x > cc.column.max_value())) {
        AddError(row_no, line, name, "range",
                 absl::StrCat("outside the allowed range ", cc.column.min_value(), " to ",
                              cc.column.max_value()));
        bad = true;
        continue;
      }
    }
    // Fill the cell with the treated (or, for PSEUDONYMISE, normalised) value.
    if (cc.identifier_check != IdentifierCheck::kNone) {
      auto id = CheckIdentifier(cc.identifier_check, v.string_value.empty()
                                                         ? Trim(text)
                                                         : v.string_value);
      if (!id.ok()) {
        AddError(row_no, line, name, IdentifierRule(cc.identifier_check),
                 std::string(id.status().message()));
        bad = true;
        continue;
      }
      cell.kind = Cell::kString;
      cell.s = std::move(*id);
      cell.text = cell.s;
    } else {
      switch (v.type) {
        case csv::ColumnType::kInteger:
          cell.kind = Cell::kInt;
          cell.i = v.int_value;
          break;
        case csv::ColumnType::kDecimal:
          cell.kind = Cell::kDouble;
          cell.d = v.decimal_value;
          break;
        case csv::ColumnType::kBoolean:
          cell.kind = Cell::kInt;
          cell.i = v.bool_value ? 1 : 0;
          break;
        case csv::ColumnType::kDate:
          if (cc.treatment == cv1::GENERALISE_DOB_YEAR_MONTH) {
            cell.kind = Cell::kString;
            cell.s = absl::StrFormat("%04d-%02d", v.date_value.year(), v.date_value.month());
            cell.text = cell.s;
          } else {
            cell.kind = Cell::kInt;
            cell.i = v.date_value - absl::CivilDay(1970, 1, 1);
          }
          break;
        case csv::ColumnType::kString:
          cell.kind = Cell::kString;
          if (cc.treatment == cv1::GENERALISE_POSTCODE_DISTRICT) {
            cell.s = PostcodeDistrict(v.string_value);
            cell.text = cell.s;
            if (cell.s.empty()) {
              AddError(row_no, line, name, "postcode", "not a UK postcode");
              bad = true;
              continue;
            }
          } else {
            cell.text = v.string_value;  // the record's bytes: no copy
            cell.coded = cc.type == cv1::CODE && cc.treatment == cv1::KEEP;
            cell.code = code;
          }
          break;
      }
    }
    ++st.valid;
    if (static_cast<int>(c) == school_urn_column_ && cell.kind != Cell::kMissing) {
      if (cell.kind == Cell::kString) {
        school_of_row = cell.text;
      } else {
        school_number = std::to_string(cell.i);
        school_of_row = school_number;
      }
    }
  }

  // One record per subject per period.
  if (!bad && schema_->schema().unique_subject_per_period() && schema_->subject_column() >= 0 &&
      row_[schema_->subject_column()].kind == Cell::kString) {
    // Built in a scratch string that keeps its capacity from row to row
    // (room for any normal key is reserved up front, so it does not leave
    // copies behind as it grows; it is wiped when the job ends).
    std::string& key = subject_key_;
    const std::string_view subject = row_[schema_->subject_column()].text;
    key.assign(subject.data(), subject.size());
    const std::vector<int>& periods = schema_->period_columns();
    if (periods.empty()) {
      absl::StrAppend(&key, "\x1f", options_.period);
    }
    for (int pc : periods) {
      const Cell& p = row_[pc];
      if (p.kind == Cell::kString) {
        absl::StrAppend(&key, "\x1f", absl::string_view(p.text.data(), p.text.size()));
      } else if (p.kind == Cell::kInt) {
        absl::StrAppend(&key, "\x1f", p.i);
      } else if (p.kind == Cell::kDouble) {
        absl::StrAppend(&key, "\x1f", p.d);
      } else {
        key.push_back('\x1f');
      }
    }
    const uint64_t h = absl::Hash<absl::string_view>()(absl::string_view(key.data(), key.size()));
    if (!seen_.insert(h).second) {
      ++duplicate_subject_rows_;
      AddError(row_no, line, schema_->columns()[schema_->subject_column()].column.name(),
               "duplicate_subject", "more than one record for this subject in the period");
      bad = true;
    }
  }

  // A row with the wrong number of fields has no cells of its own (row_
  // still holds the last row's): it is counted nowhere, as in stats_.
  if (school_urn_column_ >= 0 && options_.school == "trust-wide" && !short_row) {
    CountSchool(school_of_row);
  }

  validated_.fetch_add(1, std::memory_order_relaxed);
  if (bad) {
    report_.set_rows_invalid(report_.rows_invalid() + 1);
    if (options_.policy == v1::QUARANTINE) {
      quarantined_.fetch_add(1, std::memory_order_relaxed);
    } else {
      Reject("the upload has invalid rows and its error policy is REJECT");
    }
    return absl::OkStatus();
  }
  report_.set_rows_valid(report_.rows_valid() + 1);
  if (rejected_) return absl::OkStatus();
  AppendRow();
  pending_->rows_at.emplace_back(row_no, line);
  if (++pending_->count >= options_.batch_rows) return Flush();
  return absl::OkStatus();
}

void RowPipeline::CountSchool(std::string_view school) {
  if (last_slot_ == SIZE_MAX || school != last_school_) {
    auto it = school_slot_.find(absl::string_view(school.data(), school.size()));
    if (it == school_slot_.end()) {
      if (school_slot_.size() >= 5000) return;  // bounded memory
      it = school_slot_.emplace(std::string(school), school_counts_.size()).first;
      school_counts_.emplace_back();
      school_counts_.back().present.assign(row_.size(), 0);
    }
    last_school_.assign(school.data(), school.size());
    last_slot_ = it->second;
  }
  SchoolCounts& counts = school_counts_[last_slot_];
  ++counts.rows;  // every column has a cell in every row
  int64_t* present = counts.present.data();
  for (size_t c = 0; c < row_.size(); ++c) present[c] += row_[c].kind != Cell::kMissing ? 1 : 0;
}

void RowPipeline::AppendRow() {
  const auto& cols = schema_->columns();
  Pending& p = *pending_;
  for (size_t c = 0; c < cols.size(); ++c) {
    const CompiledColumn& cc = cols[c];
    if (cc.stored_index < 0) continue;
    Cell& cell = row_[c];
    // A column's missing bytes start at its first missing cell, with a
    // zero for each row before it; most columns never have one.
    std::string& miss = p.missing[cc.stored_index];
    if (cell.kind == Cell::kMissing) {
      if (miss.empty()) miss.assign(static_cast<size_t>(p.count), '\0');
      miss.push_back(static_cast<char>(cell.missing));
    } else if (!miss.empty()) {
      miss.push_back('\0');
    }
    switch (cc.stored_type) {
      case cv1::INTEGER:
      case cv1::DATE:
      case cv1::BOOLEAN:
        p.batch.mutable_columns(cc.stored_index)->add_ints(cell.kind == Cell::kInt ? cell.i : 0);
        break;
      case cv1::DECIMAL:
      case cv1::PERCENTAGE:
        p.batch.mutable_columns(cc.stored_index)
            ->add_doubles(cell.kind == Cell::kDouble ? cell.d : 0.0);
        break;
      default: {
        rowbatch::StringColumnBuilder& b = *p.strings[cc.stored_index];
        if (cell.coded) {
          b.AppendCode(cell.code);  // the builder starts with the code list
        } else if (cell.kind == Cell::kMissing) {
          b.AppendMissing();
        } else {
          auto append = [&](std::string_view text) {
            if (cc.treatment == cv1::PSEUDONYMISE) {
              // Identifiers are mostly distinct: each row's is a new entry,
              // without a look-up (a repeat within the batch is
              // pseudonymised twice, to the same pseudonym). A raw
              // identifier is kept only in the batch's dictionary.
              b.AppendEntry(text);
              std::fill(cell.s.begin(), cell.s.end(), '\0');
            } else {
              b.Append(text);
            }
          };
          if (cell.kind == Cell::kString) {
            append(cell.text);
          } else {
            // A number in a column stored as text (e.g. a numeric staff id
            // that is pseudonymised): its canonical text.
            append(cell.kind == Cell::kInt ? std::to_string(cell.i) : absl::StrCat(cell.d));
          }
        }
      }
    }
  }
}

absl::Status RowPipeline::Flush() {
  if (rejected_ || pending_->count == 0) {
    // Errors wait behind a batch still in treatment (its rows come first).
    if (!in_treatment_.valid()) SealErrors();
    ResetBatch();
    return absl::OkStatus();
  }
  // One batch in treatment at a time: merge the previous one's outcome
  // first (it may reject the upload, and then this batch is not written),
  // then this batch's parse errors, so the list stays in file order.
  absl::Status collected = Collect();
  SealErrors();
  RETURN_IF_ERROR(collected);
  if (rejected_) {
    ResetBatch();
    return absl::OkStatus();
  }
  std::shared_ptr<Pending> p(pending_.release());
  in_treatment_ = std::async(std::launch::async, [this, p] { return Treat(p); });
  ResetBatch();
  return absl::OkStatus();
}

absl::Status RowPipeline::Collect() {
  if (!in_treatment_.valid()) return absl::OkStatus();
  Treated t = in_treatment_.get();
  for (v1::RowError& e : t.errors) ListError(std::move(e));
  if (t.dropped > 0) {
    report_.set_rows_invalid(report_.rows_invalid() + t.dropped);
    report_.set_rows_valid(report_.rows_valid() - t.dropped);
    if (t.reject) {
      Reject("the upload has invalid identifiers and its error policy is REJECT");
    } else {
      quarantined_.fetch_add(t.dropped, std::memory_order_relaxed);
    }
  }
  return t.status;
}

RowPipeline::Treated RowPipeline::Treat(std::shared_ptr<Pending> p) {
  Treated out;
  const auto& cols = schema_->columns();
  std::vector<bool> keep(p->count, true);
  for (const CompiledColumn& cc : cols) {
    if (cc.treatment != cv1::PSEUDONYMISE || cc.stored_index < 0) continue;
    rowbatch::StringColumnBuilder& b = *p->strings[cc.stored_index];
    if (b.dictionary_size() == 0) continue;
    // Each identifier entry of the batch (one per row, see AppendRow).
    PseudonymBatch got;
    {
      std::vector<std::string_view> ids = b.entries();
      out.status = pseudonymiser_->Pseudonymise(schema_->dataset().identifier_domain(),
                                                options_.job, ids, &got);
    }
    if (!out.status.ok()) {
      b.Wipe();
      return out;
    }
    const size_t n = b.dictionary_size();
    if (got.data.size() != n * got.width || got.width == 0) {
      b.Wipe();
      out.status = absl::InternalError("pseudonymisation returned the wrong number of results");
      return out;
    }
    // The new dictionary: entry i is identifier i's pseudonym, or empty
    // when it was refused (no row keeps such an entry).
    std::vector<std::string> refused(n);
    std::string data;
    std::vector<uint32_t> ends(n);
    data.reserve(got.data.size());
    size_t e = 0;
    for (size_t i = 0; i < n; ++i) {
      if (e < got.errors.size() && got.errors[e].first == i) {
        refused[i] = got.errors[e].second.empty() ? "no pseudonym returned" : got.errors[e].second;
        ++e;
      } else {
        data.append(got.data, i * got.width, got.width);
      }
      ends[i] = static_cast<uint32_t>(data.size());
    }
    if (e != got.errors.size()) {
      b.Wipe();
      out.status = absl::InternalError("pseudonymisation: error indexes out of order or range");
      return out;
    }
    b.ReplaceDictionary(std::move(data), std::move(ends));
    const std::string& miss = p->missing[cc.stored_index];
    const std::vector<uint32_t>& codes = b.codes();
    for (int64_t r = 0; r < p->count; ++r) {
      if ((!miss.empty() && miss[r] != 0) || refused[codes[r]].empty() || !keep[r]) continue;
      keep[r] = false;
      ++out.dropped;
      v1::RowError* err = &out.errors.emplace_back();
      err->set_row(p->rows_at[r].first);
      err->set_line(p->rows_at[r].second);
      err->set_column(cc.column.name());
      err->set_rule("pseudonymise");
      err->set_reason(refused[codes[r]]);
    }
  }
  if (out.dropped > 0 && options_.policy != v1::QUARANTINE) {
    out.reject = true;
    return out;
  }
  int64_t rows = p->count;
  const size_t n = schema_->stored_columns().size();
  if (out.dropped > 0) {
    for (size_t i = 0; i < n; ++i) {
      if (p->strings[i] != nullptr) {
        p->strings[i]->KeepRows(keep);
      } else {
        CompactColumn(p->batch.mutable_columns(static_cast<int>(i)), keep);
      }
      if (p->missing[i].empty()) continue;  // no missing cell (or _school, _period)
      std::string m;
      for (size_t r = 0; r < keep.size(); ++r) {
        if (keep[r]) m.push_back(p->missing[i][r]);
      }
      p->missing[i] = std::move(m);
    }
    rows -= out.dropped;
  }
  treated_.fetch_add(rows, std::memory_order_relaxed);
  if (rows == 0) return out;
  p->strings[n - 2]->AppendRepeated(options_.school, static_cast<size_t>(rows));
  p->strings[n - 1]->AppendRepeated(options_.period, static_cast<size_t>(rows));
  for (size_t i = 0; i < n; ++i) {
    auto* col = p->batch.mutable_columns(static_cast<int>(i));
    if (p->strings[i] != nullptr) p->strings[i]->MoveTo(col);
    if (i + 2 < n && !p->missing[i].empty()) col->set_missing(std::move(p->missing[i]));
  }
  p->batch.set_rows(rows);
  // The write of the batch before this one must end first (batches reach
  // the sink in order, one at a time); then this one is written on its own
  // thread while the next batch is pseudonymised.
  if (writing_.valid()) {
    out.status = writing_.get();
    if (!out.status.ok()) return out;
  }
  writing_ = std::async(std::launch::async, [this, p, rows] {
    absl::Status s = sink_->Write(&p->batch);
    if (s.ok()) loaded_.fetch_add(rows, std::memory_order_relaxed);
    return s;
  });
  out.written = rows;
  return out;
}

absl::Status RowPipeline::Finish() {
  if (!reader_failed_) {
    if (absl::Status s = reader_->Finish(); !s.ok()) {
      reader_failed_ = true;
      AddError(0, 0, "", "csv", std::string(s.message()));
      Reject(absl::StrCat("the file is not well-formed CSV: ", s.message()));
    } else if (absl::Status d = Drain(); !d.ok()) {
      return d;
    }
  }
  if (!header_seen_ && !rejected_) Reject("the file is empty: no header row");
  if (header_seen_ && !rejected_ && report_.rows_total() == 0) {
    Reject("the file has a header row but no data rows");
  }
  if (!rejected_ && report_.rows_valid() == 0) {
    Reject("no valid rows to load");
  }
  if (absl::Status s = Flush(); !s.ok()) return s;
  absl::Status collected = Collect();
  SealErrors();
  if (!collected.ok()) return collected;
  // Every batch written before the caller commits.
  if (writing_.valid()) {
    if (absl::Status w = writing_.get(); !w.ok()) return w;
  }
  if (!rejected_ && report_.rows_valid() == 0) Reject("no valid rows to load");
  for (const auto& [school, slot] : school_slot_) {
    const SchoolCounts& counts = school_counts_[slot];
    for (size_t c = 0; c < stats_.size(); ++c) {
      stats_[c].by_school[school] = {counts.rows, counts.present[c]};
    }
  }
  report_.set_encoding_detected(std::string(csv::EncodingName(reader_->encoding())));
  report_.set_rows_summary_skipped(summary_.load());
  std::vector<std::pair<std::string, int64_t>> totals(totals_.begin(), totals_.end());
  std::sort(totals.begin(), totals.end());
  for (const auto& [k, n] : totals) {
    std::vector<std::string> parts = absl::StrSplit(k, '\x1f');
    auto* t = report_.add_totals();
    t->set_rule(parts[0]);
    t->set_column(parts.size() > 1 ? parts[1] : "");
    t->set_count(n);
  }
  std::vector<std::tuple<std::string, std::string, int64_t>> markers;
  for (size_t c = 0; c < markers_.size(); ++c) {
    for (const auto& [marker, n] : markers_[c]) {
      markers.emplace_back(schema_->columns()[c].column.name(), marker, n);
    }
  }
  std::sort(markers.begin(), markers.end());
  for (const auto& [column, marker, n] : markers) {
    auto* m = report_.add_missing_markers();
    m->set_column(column);
    m->set_marker(marker);
    m->set_count(n);
  }
  return absl::OkStatus();
}

}  // namespace datalab::ingestion
