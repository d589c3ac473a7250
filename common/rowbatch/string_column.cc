#include "common/rowbatch/string_column.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"

namespace datalab::rowbatch {

absl::Status CheckPackedEnds(absl::Span<const uint32_t> ends, size_t data_size) {
  uint32_t previous = 0;
  for (size_t i = 0; i < ends.size(); ++i) {
    if (ends[i] < previous) {
      return absl::InvalidArgumentError(absl::StrCat("entry ", i, " (", ends[i],
                                                     ") is before entry ", i - 1, " (",
                                                     previous, ")"));
    }
    previous = ends[i];
  }
  if (previous != data_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("the last end is ", previous, " but the data holds ", data_size, " bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<StringColumn> StringColumn::Open(const query::v1::ColumnValues& v, int64_t rows,
                                                const std::string& column) {
  const bool coded = v.codes_size() > 0 || v.dictionary_ends_size() > 0 ||
                     !v.dictionary_data().empty();
  if (!coded) {
    if (v.strings_size() != rows) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", column, ": ", v.strings_size(), " values for ", rows, " rows"));
    }
    return StringColumn(&v, rows, false);
  }
  if (v.strings_size() > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", column, ": both plain strings and dictionary codes"));
  }
  if (v.codes_size() != rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", column, ": ", v.codes_size(), " codes for ", rows, " rows"));
  }
  if (absl::Status s = CheckPackedEnds(v.dictionary_ends(), v.dictionary_data().size());
      !s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", column, ": dictionary_ends: ", s.message()));
  }
  const uint32_t size = static_cast<uint32_t>(v.dictionary_ends_size());
  const std::string& missing = v.missing();
  if (!missing.empty() && static_cast<int64_t>(missing.size()) != rows) {
    return absl::InvalidArgumentError(
        absl::StrCat("column ", column, ": missing has the wrong length"));
  }
  for (int r = 0; r < v.codes_size(); ++r) {
    if (v.codes(r) < size) continue;
    if (!missing.empty() && missing[r] != 0) continue;
    return absl::InvalidArgumentError(absl::StrCat("column ", column, ", batch row ", r + 1,
                                                   ": code outside the dictionary"));
  }
  return StringColumn(&v, rows, true);
}

StringColumnBuilder::StringColumnBuilder() : index_(0, Hash{this}, Eq{this}) {}

void StringColumnBuilder::Reserve(size_t rows, size_t distinct, size_t entry_bytes) {
  codes_.reserve(rows);
  if (distinct == 0) return;
  ends_.reserve(distinct);
  const size_t bytes = distinct * entry_bytes;
  if (bytes > data_.capacity()) {
    // As in Intern: the old buffer is zeroed before it is freed.
    std::string grown;
    grown.reserve(bytes);
    grown.append(data_);
    std::fill(data_.begin(), data_.end(), '\0');
    data_.swap(grown);
  }
}

uint32_t StringColumnBuilder::Intern(std::string_view s) {
  // Sorted or grouped files repeat a value over many rows in a row (a
  // school's URN): compare with the last value before hashing.
  if (last_ < ends_.size() && entry(last_) == s) return last_;
  auto it = index_.find(s);
  if (it != index_.end()) {
    last_ = *it;
    return last_;
  }
  last_ = AddEntry(s);
  index_.insert(last_);
  return last_;
}

uint32_t StringColumnBuilder::AddEntry(std::string_view s) {
  const uint32_t code = static_cast<uint32_t>(ends_.size());
  if (data_.size() + s.size() > data_.capacity()) {
    // Grow by hand so the old buffer is zeroed before it is freed: the
    // entries may be raw identifiers.
    std::string grown;
    grown.reserve(std::max(data_.capacity() * 2, data_.size() + s.size() + 64));
    grown.append(data_);
    std::fill(data_.begin(), data_.end(), '\0');
    data_.swap(grown);
  }
  data_.append(s.data(), s.size());
  ends_.push_back(static_cast<uint32_t>(data_.size()));
  return code;
}

void StringColumnBuilder::AppendRepeated(std::string_view s, size_t n) {
  codes_.resize(codes_.size() + n, Intern(s));
}

std::vector<std::string_view> StringColumnBuilder::entries() const {
  std::vector<std::string_view> out;
  out.reserve(ends_.size());
  for (size_t i = 0; i < ends_.size(); ++i) out.push_back(entry(i));
  return out;
}

void StringColumnBuilder::ReplaceDictionary(std::string data, std::vector<uint32_t> ends) {
  index_.clear();
  last_ = UINT32_MAX;
  std::fill(data_.begin(), data_.end(), '\0');
  data_ = std::move(data);
  ends_ = std::move(ends);
}

void StringColumnBuilder::KeepRows(const std::vector<bool>& keep) {
  size_t w = 0;
  for (size_t r = 0; r < codes_.size() && r < keep.size(); ++r) {
    if (keep[r]) codes_[w++] = codes_[r];
  }
  codes_.resize(w);
}

void StringColumnBuilder::MoveTo(query::v1::ColumnValues* out) {
  out->clear_strings();
  out->set_dictionary_data(std::move(data_));
  out->mutable_dictionary_ends()->Assign(ends_.begin(), ends_.end());
  out->mutable_codes()->Assign(codes_.begin(), codes_.end());
  Reset();
}

void StringColumnBuilder::Wipe() {
  std::fill(data_.begin(), data_.end(), '\0');
  Reset();
}

void StringColumnBuilder::Reset() {
  index_.clear();
  last_ = UINT32_MAX;
  data_.clear();
  ends_.clear();
  codes_.clear();
}

}  // namespace datalab::rowbatch
