#include "tools/synth/csv_file.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace datalab::synth {

absl::StatusOr<std::unique_ptr<CsvFile>> CsvFile::Create(
    const std::string& path, size_t buffer_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return absl::InternalError(
        absl::StrCat("cannot create ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<CsvFile>(new CsvFile(f, path, buffer_bytes));
}

CsvFile::CsvFile(std::FILE* f, std::string path, size_t buffer_bytes)
    : file_(f), path_(std::move(path)), buffer_limit_(buffer_bytes) {
  buffer_.reserve(buffer_limit_ + 4096);
}

CsvFile::~CsvFile() {
  if (file_ != nullptr) std::fclose(file_);
}

void CsvFile::Header(std::initializer_list<std::string_view> names) {
  for (std::string_view n : names) Field(n);
  buffer_ += '\n';
  at_row_start_ = true;
}

void CsvFile::Separator() {
  if (!at_row_start_) buffer_ += ',';
  at_row_start_ = false;
}

void CsvFile::Field(std::string_view value) {
  Separator();
  if (value.find_first_of(",\"\r\n") == std::string_view::npos) {
    buffer_.append(value.data(), value.size());
    return;
  }
  buffer_ += '"';
  for (char c : value) {
    if (c == '"') buffer_ += '"';
    buffer_ += c;
  }
  buffer_ += '"';
}

void CsvFile::Field(int64_t value) {
  Separator();
  char tmp[24];
  const auto r = std::to_chars(tmp, tmp + sizeof(tmp), value);
  buffer_.append(tmp, r.ptr);
}

void CsvFile::Field(double value, int decimals) {
  Separator();
  char tmp[352];  // fixed notation of any finite double fits
  const auto r = std::to_chars(tmp, tmp + sizeof(tmp), value, std::chars_format::fixed, decimals);
  if (r.ec != std::errc()) {
    buffer_ += "NaN";
    return;
  }
  // A negative value that rounds to zero prints as "0.00", not "-0.00".
  const char* begin = tmp;
  if (*begin == '-' && std::all_of(begin + 1, static_cast<const char*>(r.ptr),
                                   [](char c) { return c == '0' || c == '.'; })) {
    ++begin;
  }
  buffer_.append(begin, static_cast<size_t>(r.ptr - begin));
}

void CsvFile::EndRow() {
  buffer_ += '\n';
  at_row_start_ = true;
  ++rows_;
  if (buffer_.size() >= buffer_limit_) FlushBuffer();
}

void CsvFile::FlushBuffer() {
  if (buffer_.empty() || file_ == nullptr) return;
  if (status_.ok() &&
      std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size()) {
    status_ = absl::InternalError(
        absl::StrCat("write to ", path_, " failed: ", std::strerror(errno)));
  }
  buffer_.clear();
}

absl::Status CsvFile::Close() {
  FlushBuffer();
  if (file_ != nullptr) {
    if (std::fclose(file_) != 0 && status_.ok()) {
      status_ = absl::InternalError(
          absl::StrCat("close of ", path_, " failed: ", std::strerror(errno)));
    }
    file_ = nullptr;
  }
  return status_;
}

}  // namespace datalab::synth
