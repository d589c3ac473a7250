#include "common/csv/csv_reader.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/csv/string_util.h"
#include "common/status/status_macros.h"

namespace datalab::csv {

absl::StatusOr<std::unique_ptr<CsvReader>> CsvReader::Create(
    const CsvOptions& options) {
  if (options.max_field_bytes == 0 || options.max_fields_per_record == 0 ||
      options.max_record_bytes == 0) {
    return absl::InvalidArgumentError("CSV limits must be positive");
  }
  const char d = options.delimiter;
  if (d == '"' || d == '\r' || d == '\n' || d == '\0') {
    return absl::InvalidArgumentError(
        "CSV delimiter must not be a quote, CR, LF or NUL");
  }
  return std::unique_ptr<CsvReader>(new CsvReader(options));
}

CsvReader::CsvReader(const CsvOptions& options)
    : options_(options), decoder_(options.encoding) {
  for (unsigned char c : {static_cast<unsigned char>(options.delimiter),
                          static_cast<unsigned char>('"'),
                          static_cast<unsigned char>('\r'),
                          static_cast<unsigned char>('\n'),
                          static_cast<unsigned char>('\0')}) {
    special_[c] = true;
  }
  for (unsigned char c : {'"', '\r', '\n', '\0'}) quoted_special_[c] = true;
}

absl::Status CsvReader::Feed(std::string_view chunk) {
  if (!error_.ok()) return error_;
  if (finished_) {
    return absl::FailedPreconditionError("CSV input fed after Finish");
  }
  Compact();
  decoder_.Feed(chunk, &buf_);
  return absl::OkStatus();
}

absl::Status CsvReader::Finish() {
  if (!error_.ok()) return error_;
  if (finished_) return absl::OkStatus();
  finished_ = true;
  Compact();
  decoder_.Finish(&buf_);
  return absl::OkStatus();
}

// Drops the text of records already returned. Only the unfinished record
// moves, so the cost per chunk is bounded by one record, not the buffer.
void CsvReader::Compact() {
  const size_t drop = record_start_;
  if (drop == 0) return;
  buf_.erase(0, drop);
  base_ += drop;
  pos_ -= drop;
  record_start_ = 0;
  if (state_ == State::kRecordStart) {
    field_start_ = write_ = 0;
  } else {
    field_start_ -= drop;
    write_ -= drop;
    for (auto& s : spans_) {
      s.first -= drop;
      s.second -= drop;
    }
  }
}

size_t CsvReader::ColumnOf(size_t pos) const {
  return static_cast<size_t>(base_ + pos - line_start_abs_ + 1);
}

void CsvReader::NewLine(size_t next_line_start) {
  ++line_;
  line_start_abs_ = base_ + next_line_start;
}

absl::Status CsvReader::Fail(absl::Status status) {
  error_ = status;
  return status;
}

absl::Status CsvReader::ErrorAt(size_t pos, std::string_view what) {
  return Fail(absl::InvalidArgumentError(absl::StrCat(
      internal::ToAbsl(what), " at record ", record_count_ + 1, ", line ", line_, ", column ",
      ColumnOf(pos), " (field ", spans_.size() + 1, ")")));
}

// Names where the field starts: a quoted field may span lines, and its
// content no longer lines up with the raw bytes once quotes are unescaped.
absl::Status CsvReader::FieldTooLong() {
  return Fail(absl::InvalidArgumentError(absl::StrCat(
      "field ", spans_.size() + 1, " of record ", record_count_ + 1,
      " starting at line ", field_quoted_ ? quote_line_ : line_, ", column ",
      field_quoted_ ? quote_column_ : ColumnOf(field_start_),
      " is longer than the limit of ", options_.max_field_bytes, " bytes")));
}

absl::Status CsvReader::EndField(size_t begin, size_t end) {
  // The scan loop checks sizes as runs grow (bounding the buffer); this
  // catches the last byte or two a run can add just before input ends.
  if (end - begin > options_.max_field_bytes) return FieldTooLong();
  if (spans_.size() >= options_.max_fields_per_record) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "record ", record_count_ + 1, " starting at line ", record_line_,
        " has more than ", options_.max_fields_per_record, " fields")));
  }
  spans_.emplace_back(begin, end);
  return absl::OkStatus();
}

absl::Status CsvReader::CheckRecordSize(size_t pos) {
  if (pos - record_start_ > options_.max_record_bytes) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "record ", record_count_ + 1, " starting at line ", record_line_,
        " is longer than the limit of ", options_.max_record_bytes,
        " bytes")));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> CsvReader::Scan() {
  char* d = buf_.data();
  const size_t n = buf_.size();
  const char delim = options_.delimiter;
  const size_t max_field = options_.max_field_bytes;
  size_t p = pos_;

  // Ends the record at the line break `c` found at d[p].
  auto end_record = [&](char c) -> absl::StatusOr<bool> {
    ++p;
    NewLine(p);
    skip_lf_ = (c == '\r');
    RETURN_IF_ERROR(CheckRecordSize(p));
    state_ = State::kRecordStart;
    pos_ = p;
    return true;
  };

  while (p < n) {
    if (skip_lf_) {
      // The LF of a CRLF split from its CR (possibly across chunks): same
      // line break, so no new line.
      skip_lf_ = false;
      if (d[p] == '\n') {
        if (state_ == State::kQuoted) {
          d[write_++] = '\n';
        } else {
          record_start_ = p + 1;
        }
        ++p;
        line_start_abs_ = base_ + p;
        continue;
      }
    }
    switch (state_) {
      case State::kRecordStart: {
        const char c = d[p];
        if (c == '\n' || c == '\r') {  // blank line: skipped
          ++p;
          NewLine(p);
          skip_lf_ = (c == '\r');
          record_start_ = p;
          continue;
        }
        record_start_ = p;
        record_line_ = line_;
        spans_.clear();
        state_ = State::kFieldStart;
        continue;
      }
      case State::kFieldStart: {
        if (d[p] == '"') {
          quote_line_ = line_;
          quote_column_ = ColumnOf(p);
          ++p;
          field_start_ = write_ = p;
          field_quoted_ = true;
          state_ = State::kQuoted;
          continue;
        }
        field_start_ = p;
        field_quoted_ = false;
        state_ = State::kUnquoted;
        continue;
      }
      case State::kUnquoted: {
        while (p < n && !special_[static_cast<unsigned char>(d[p])]) ++p;
        if (p - field_start_ > max_field) return FieldTooLong();
        if (p >= n) break;
        const char c = d[p];
        if (c == delim) {
          RETURN_IF_ERROR(EndField(field_start_, p));
          ++p;
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          RETURN_IF_ERROR(EndField(field_start_, p));
          return end_record(c);
        } else if (c == '"') {
          if (!options_.lenient_quotes) {
            return ErrorAt(p,
                           "quote inside an unquoted field (a field holding "
                           "quotes must be quoted, with inner quotes doubled)");
          }
          ++p;  // kept literally
        } else {  // NUL
          return ErrorAt(p, "NUL byte (the file may be binary, not CSV)");
        }
        continue;
      }
      case State::kQuoted: {
        size_t run = p;
        while (run < n && !quoted_special_[static_cast<unsigned char>(d[run])]) {
          ++run;
        }
        if (run > p) {
          if (write_ != p) std::memmove(d + write_, d + p, run - p);
          write_ += run - p;
          p = run;
        }
        if (write_ - field_start_ > max_field) return FieldTooLong();
        if (p >= n) break;
        const char c = d[p];
        if (c == '"') {
          ++p;
          state_ = State::kQuoteInQuoted;
        } else if (c == '\0') {
          return ErrorAt(p, "NUL byte (the file may be binary, not CSV)");
        } else {  // CR or LF inside quotes: part of the value, new line
          d[write_++] = c;
          ++p;
          NewLine(p);
          skip_lf_ = (c == '\r');
        }
        continue;
      }
      case State::kQuoteInQuoted: {
        const char c = d[p];
        if (c == '"') {  // doubled quote
          d[write_++] = '"';
          ++p;
          state_ = State::kQuoted;
        } else if (c == delim) {
          RETURN_IF_ERROR(EndField(field_start_, write_));
          ++p;
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          RETURN_IF_ERROR(EndField(field_start_, write_));
          return end_record(c);
        } else if (c == '\0') {
          return ErrorAt(p, "NUL byte (the file may be binary, not CSV)");
        } else if (!options_.lenient_quotes) {
          return ErrorAt(p, "unexpected text after the closing quote of a "
                            "quoted field");
        } else {
          state_ = State::kAfterQuoted;
        }
        continue;
      }
      case State::kAfterQuoted: {
        // Lenient only: text after the closing quote is appended literally,
        // quotes included, up to the next delimiter or line break.
        size_t run = p;
        while (run < n && !special_[static_cast<unsigned char>(d[run])]) ++run;
        if (run > p) {
          std::memmove(d + write_, d + p, run - p);
          write_ += run - p;
          p = run;
        }
        if (write_ - field_start_ > max_field) return FieldTooLong();
        if (p >= n) break;
        const char c = d[p];
        if (c == delim) {
          RETURN_IF_ERROR(EndField(field_start_, write_));
          ++p;
          state_ = State::kFieldStart;
        } else if (c == '\n' || c == '\r') {
          RETURN_IF_ERROR(EndField(field_start_, write_));
          return end_record(c);
        } else if (c == '"') {
          d[write_++] = '"';
          ++p;
        } else {
          return ErrorAt(p, "NUL byte (the file may be binary, not CSV)");
        }
        continue;
      }
    }
    break;  // reached only by `break` out of a state at end of input
  }
  pos_ = p;
  if (state_ != State::kRecordStart) RETURN_IF_ERROR(CheckRecordSize(p));
  return false;
}

absl::StatusOr<bool> CsvReader::Next(CsvRecord* record) {
  if (!error_.ok()) return error_;
  ASSIGN_OR_RETURN(bool complete, Scan());
  if (!complete) {
    if (decoder_.failed()) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          decoder_.FailureReason(), " at line ", line_, ", column ",
          ColumnOf(buf_.size()))));
    }
    if (!finished_) return false;
    switch (state_) {
      case State::kRecordStart:
        return false;
      case State::kQuoted:
        return Fail(absl::InvalidArgumentError(absl::StrCat(
            "unterminated quoted field: the quote opened at line ",
            quote_line_, ", column ", quote_column_, " (record ",
            record_count_ + 1, ", field ", spans_.size() + 1,
            ") is never closed")));
      case State::kFieldStart:  // "a,b," ends with an empty field
        field_quoted_ = false;
        field_start_ = pos_;
        RETURN_IF_ERROR(EndField(pos_, pos_));
        break;
      case State::kUnquoted:
        RETURN_IF_ERROR(EndField(field_start_, pos_));
        break;
      case State::kQuoteInQuoted:
      case State::kAfterQuoted:
        RETURN_IF_ERROR(EndField(field_start_, write_));
        break;
    }
    state_ = State::kRecordStart;
  }
  // The next record starts after this one's line break; everything before
  // it may be dropped at the next Feed.
  record_start_ = pos_;

  ++record_count_;
  if (options_.check_field_count) {
    if (record_count_ == 1) {
      expected_fields_ = spans_.size();
    } else if (spans_.size() != expected_fields_) {
      return Fail(absl::InvalidArgumentError(absl::StrCat(
          "record ", record_count_, " starting at line ", record_line_,
          " has ", spans_.size(), " fields, expected ", expected_fields_,
          " as in the header (record 1); the file may not be CSV or may "
          "use a different delimiter")));
    }
  } else if (record_count_ == 1) {
    expected_fields_ = spans_.size();
  }
  record->fields.clear();
  record->fields.reserve(spans_.size());
  const char* d = buf_.data();
  for (const auto& [b, e] : spans_) record->fields.emplace_back(d + b, e - b);
  record->record_number = record_count_;
  record->line_number = record_line_;
  spans_.clear();
  return true;
}

absl::Status ReadCsv(std::string_view data, const CsvOptions& options,
                     absl::FunctionRef<absl::Status(const CsvRecord&)> sink) {
  ASSIGN_OR_RETURN(std::unique_ptr<CsvReader> reader,
                   CsvReader::Create(options));
  CsvRecord record;
  auto drain = [&]() -> absl::Status {
    while (true) {
      ASSIGN_OR_RETURN(bool got, reader->Next(&record));
      if (!got) return absl::OkStatus();
      RETURN_IF_ERROR(sink(record));
    }
  };
  // Feed in slices so the reader's buffer stays small however big `data` is.
  constexpr size_t kSlice = 256 * 1024;
  for (size_t off = 0; off < data.size(); off += kSlice) {
    RETURN_IF_ERROR(reader->Feed(data.substr(off, kSlice)));
    RETURN_IF_ERROR(drain());
  }
  RETURN_IF_ERROR(reader->Finish());
  return drain();
}

}  // namespace datalab::csv
