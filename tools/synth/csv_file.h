// Buffered CSV output for the synthetic generator.
//
// Rows are appended to an in-memory buffer that is written to the file in
// large blocks, never flushed per row, so tens of millions of rows stream
// at disk speed. Fields are quoted (RFC 4180) only when they contain a
// comma, a double quote, CR or LF. Lines end in LF.
//
// Write errors are sticky: the first failure is remembered and returned by
// Close(), which must be called (the destructor closes silently and drops
// any error). Not thread-safe; one writer per file.
#ifndef DATALAB_TOOLS_SYNTH_CSV_FILE_H_
#define DATALAB_TOOLS_SYNTH_CSV_FILE_H_

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datalab::synth {

class CsvFile {
 public:
  static absl::StatusOr<std::unique_ptr<CsvFile>> Create(
      const std::string& path, size_t buffer_bytes = size_t{1} << 20);
  ~CsvFile();
  CsvFile(const CsvFile&) = delete;
  CsvFile& operator=(const CsvFile&) = delete;

  // Writes a header line; it does not count as a data row.
  void Header(std::initializer_list<std::string_view> names);

  void Field(std::string_view value);
  void Field(int64_t value);
  void Field(int value) { Field(static_cast<int64_t>(value)); }
  // Fixed-point with `decimals` digits after the point.
  void Field(double value, int decimals);
  void EmptyField() { Field(std::string_view()); }
  void EndRow();

  // Data rows ended so far (the header excluded).
  int64_t rows() const { return rows_; }

  // Writes what is buffered and closes the file; returns the first error.
  absl::Status Close();

 private:
  CsvFile(std::FILE* f, std::string path, size_t buffer_bytes);
  void Separator();
  void FlushBuffer();

  std::FILE* file_;
  std::string path_;
  std::string buffer_;
  size_t buffer_limit_;
  bool at_row_start_ = true;
  int64_t rows_ = 0;
  absl::Status status_;
};

}  // namespace datalab::synth

#endif  // DATALAB_TOOLS_SYNTH_CSV_FILE_H_
