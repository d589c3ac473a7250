// Streaming RFC 4180 CSV reader for uploaded extracts.
//
// Input arrives in chunks of any size (gRPC upload chunks are ~64 KiB); a
// field or a record may span any number of chunks. The reader decodes the
// bytes (see encoding.h: BOM stripping, UTF-8 validation, Windows-1252
// transcoding) and splits them into records:
//
//   ASSIGN_OR_RETURN(auto reader, CsvReader::Create(options));
//   for (each chunk) {
//     RETURN_IF_ERROR(reader->Feed(chunk));
//     CsvRecord rec;
//     while (true) {
//       ASSIGN_OR_RETURN(bool got, reader->Next(&rec));
//       if (!got) break;
//       ... use rec.fields ...
//     }
//   }
//   RETURN_IF_ERROR(reader->Finish());
//   ... drain Next() once more: the last record may end without a newline.
//
// Or, for a whole buffer, ReadCsv(data, options, sink).
//
// Grammar: fields separated by `delimiter`; records end at CRLF, LF or a lone
// CR; a field starting with '"' is quoted and may contain delimiters, CR/LF
// and doubled quotes ("" -> "). The last record may end without a newline.
// Completely empty lines are skipped (they still count as lines) because
// spreadsheet exports leave them at the end of files; a line holding only a
// quoted empty field ("") is a record with one empty field.
//
// Ownership: CsvRecord::fields are views into the reader's internal buffer
// and stay valid only until the next call to Feed, Next or Finish. Quoted
// fields are unescaped in place, so no field is allocated separately.
//
// Errors (all INVALID_ARGUMENT, except misuse which is FAILED_PRECONDITION)
// name the record, the physical line and the column, never the content:
//   * a field longer than max_field_bytes, a record with more than
//     max_fields_per_record fields or longer than max_record_bytes;
//   * a quote inside an unquoted field, or text after a closing quote
//     (strict mode; lenient_quotes keeps such quotes as literal text);
//   * a NUL byte; an unterminated quoted field at end of input (reported at
//     the line and column where the quote opened);
//   * a record whose field count differs from the first record (the header)
//     when check_field_count is on;
//   * invalid UTF-8 (see encoding.h), reported after every record before
//     the offending byte has been returned, so errors come in file order.
// Errors are sticky: once Next has failed, every later call fails the same
// way.
//
// Lines and columns are 1-based. "column" is the byte offset within the
// physical line of the decoded UTF-8 text (BOM excluded), which is what
// editors show for ASCII files; "field" is the 1-based field index.
//
// Thread safety: a CsvReader is single-threaded; use one per stream.
#ifndef DATALAB_COMMON_CSV_CSV_READER_H_
#define DATALAB_COMMON_CSV_CSV_READER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/csv/encoding.h"

namespace datalab::csv {

struct CsvOptions {
  Encoding encoding = Encoding::kAuto;
  char delimiter = ',';
  size_t max_field_bytes = 1 << 20;       // 1 MiB
  size_t max_fields_per_record = 4096;
  size_t max_record_bytes = 16 << 20;     // 16 MiB
  // Keep stray quotes in unquoted fields (a"b) and text after a closing
  // quote ("a"b -> ab) instead of failing.
  bool lenient_quotes = false;
  // Every record must have as many fields as the first one (the header).
  bool check_field_count = true;
};

struct CsvRecord {
  std::vector<std::string_view> fields;
  int64_t record_number = 0;  // 1-based; the header, if any, is record 1
  int64_t line_number = 0;    // physical line where the record starts
};

class CsvReader {
 public:
  // Fails with INVALID_ARGUMENT on nonsensical options (zero limits, a
  // delimiter that is a quote, CR, LF or NUL).
  static absl::StatusOr<std::unique_ptr<CsvReader>> Create(
      const CsvOptions& options);

  CsvReader(const CsvReader&) = delete;
  CsvReader& operator=(const CsvReader&) = delete;

  // Appends the next chunk of raw input. FAILED_PRECONDITION after Finish;
  // returns the sticky error if the reader has failed. Call Next until it
  // returns false after every Feed, or the buffer grows.
  absl::Status Feed(std::string_view chunk);

  // Marks the end of input. The final record (even without a trailing
  // newline) becomes available from Next.
  absl::Status Finish();

  // Fills *record with the next complete record and returns true; returns
  // false when more input is needed (or, after Finish, at the end).
  absl::StatusOr<bool> Next(CsvRecord* record);

  // Number of records returned so far.
  int64_t records_read() const { return record_count_; }
  // Field count of the first record (0 before it has been read).
  size_t expected_fields() const { return expected_fields_; }
  // Encoding in use (kAuto until auto-detection has decided).
  Encoding encoding() const { return decoder_.resolved(); }
  bool bom_stripped() const { return decoder_.bom_stripped(); }

 private:
  explicit CsvReader(const CsvOptions& options);

  enum class State : uint8_t {
    kRecordStart,  // nothing of the current record seen yet
    kFieldStart,   // just after a delimiter
    kUnquoted,     // inside an unquoted field
    kQuoted,       // inside a quoted field
    kQuoteInQuoted,  // saw '"' inside a quoted field: closing or doubled?
    kAfterQuoted,  // lenient: text after the closing quote
  };

  // Scans buffered input; returns true when a record is complete.
  absl::StatusOr<bool> Scan();
  absl::Status Fail(absl::Status status);
  absl::Status ErrorAt(size_t pos, std::string_view what);
  absl::Status EndField(size_t begin, size_t end);
  absl::Status FieldTooLong();
  void NewLine(size_t next_line_start);
  void Compact();
  size_t ColumnOf(size_t pos) const;
  absl::Status CheckRecordSize(size_t pos);

  const CsvOptions options_;
  StreamDecoder decoder_;
  bool special_[256] = {};         // bytes that stop an unquoted run
  bool quoted_special_[256] = {};  // bytes that stop a quoted run

  std::string buf_;        // decoded text not yet released
  size_t pos_ = 0;         // next byte of buf_ to scan
  size_t record_start_ = 0;
  size_t field_start_ = 0;  // where the current field's content begins
  size_t write_ = 0;        // in-place unescape cursor for quoted fields
  State state_ = State::kRecordStart;
  bool field_quoted_ = false;  // the current field started with a quote
  bool skip_lf_ = false;    // last byte was a CR; a following LF joins it
  bool finished_ = false;
  absl::Status error_;

  // Spans of the completed fields of the current record, as offsets into
  // buf_ (the buffer may move when it grows).
  std::vector<std::pair<size_t, size_t>> spans_;

  // Position bookkeeping. Absolute offsets count decoded bytes from the
  // start of the stream; buf_[0] is at absolute offset base_.
  uint64_t base_ = 0;
  int64_t line_ = 1;
  uint64_t line_start_abs_ = 0;
  int64_t record_line_ = 1;
  int64_t quote_line_ = 0;
  size_t quote_column_ = 0;

  int64_t record_count_ = 0;
  size_t expected_fields_ = 0;
};

// Reads a whole buffer, calling `sink` for every record. Stops at the first
// error (from the input or from `sink`).
absl::Status ReadCsv(std::string_view data, const CsvOptions& options,
                     absl::FunctionRef<absl::Status(const CsvRecord&)> sink);

}  // namespace datalab::csv

#endif  // DATALAB_COMMON_CSV_CSV_READER_H_
