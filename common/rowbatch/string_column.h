// The string columns of a RowBatch (query::v1::ColumnValues), in either of
// their two wire forms:
//   plain   one `strings` entry per row;
//   coded   a dictionary (dictionary_data cut at dictionary_ends) and one
//           code per row. Ingestion sends this form: a batch of 65,536 rows
//           is then a few packed fields instead of 65,536 string messages,
//           and neither side allocates per cell.
//
// StringColumn reads either form after checking it (Open); the query store
// uses it. StringColumnBuilder writes the coded form; ingestion uses it.
//
// Thread safety: a StringColumn is a read-only view; a builder is used by one
// thread at a time.
#ifndef DATALAB_COMMON_ROWBATCH_STRING_COLUMN_H_
#define DATALAB_COMMON_ROWBATCH_STRING_COLUMN_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "datalab/query/v1/query.pb.h"

namespace datalab::rowbatch {

// Strings packed as one blob and the end of each: string i is
// data[ends[i-1], ends[i]) with ends[-1] = 0. Dictionary-coded columns and
// packed pseudonymisation requests both travel so.
//
// OK when the ends never decrease and the last is the blob's size (no ends
// and an empty blob is zero strings); otherwise INVALID_ARGUMENT saying
// which entry or the size is wrong, never any content.
absl::Status CheckPackedEnds(absl::Span<const uint32_t> ends, size_t data_size);
// String i of a checked packing.
inline std::string_view PackedAt(std::string_view data, absl::Span<const uint32_t> ends,
                                 size_t i) {
  const uint32_t begin = i == 0 ? 0 : ends[i - 1];
  return data.substr(begin, ends[i] - begin);
}

class StringColumn {
 public:
  // Checks that `v` holds `rows` strings in exactly one well-formed form:
  // dictionary ends ascending and ending at the data's size, one code per
  // row, and every code of a row that is not missing inside the dictionary.
  // INVALID_ARGUMENT naming `column` (and the batch row) otherwise.
  static absl::StatusOr<StringColumn> Open(const query::v1::ColumnValues& v, int64_t rows,
                                           const std::string& column);

  bool coded() const { return coded_; }
  int64_t rows() const { return rows_; }
  // Coded form only.
  size_t dictionary_size() const { return static_cast<size_t>(v_->dictionary_ends_size()); }
  std::string_view entry(size_t i) const {
    return PackedAt(v_->dictionary_data(), v_->dictionary_ends(), i);
  }
  uint32_t code(int64_t r) const { return v_->codes(static_cast<int>(r)); }
  // The row's string; "" for a missing row whose code is out of range.
  std::string_view at(int64_t r) const {
    if (!coded_) return v_->strings(static_cast<int>(r));
    const uint32_t c = code(r);
    return c < dictionary_size() ? entry(c) : std::string_view();
  }

 private:
  explicit StringColumn(const query::v1::ColumnValues* v, int64_t rows, bool coded)
      : v_(v), rows_(rows), coded_(coded) {}
  const query::v1::ColumnValues* v_;
  int64_t rows_;
  bool coded_;
};

// Builds one coded string column. Entries live only in the dictionary's
// bytes (the index holds codes), so Wipe() leaves no copy of any entry in
// the builder: ingestion interns raw identifiers here before they are
// replaced by pseudonyms. Not copyable or movable (the index points at it).
class StringColumnBuilder {
 public:
  StringColumnBuilder();
  ~StringColumnBuilder() { Wipe(); }
  StringColumnBuilder(const StringColumnBuilder&) = delete;
  StringColumnBuilder& operator=(const StringColumnBuilder&) = delete;

  // Room for `rows` rows and, for columns of mostly distinct values built
  // with AppendEntry (identifiers), `distinct` entries of `entry_bytes`
  // bytes each, so a batch does not regrow as it fills. (Intern's index
  // grows as it needs: columns that intern have few distinct values.)
  void Reserve(size_t rows, size_t distinct = 0, size_t entry_bytes = 0);
  // The code of `s`, adding it to the dictionary when new.
  uint32_t Intern(std::string_view s);
  void Append(std::string_view s) { codes_.push_back(Intern(s)); }
  // Appends a row whose string becomes a new entry without looking for an
  // equal one: for columns of mostly distinct values (identifiers), where
  // the look-up costs more than the odd repeat saves. The dictionary may
  // then hold a string more than once, which StringColumn and the query
  // store accept; Intern does not find entries added so.
  void AppendEntry(std::string_view s) { codes_.push_back(AddEntry(s)); }
  void AppendCode(uint32_t code) { codes_.push_back(code); }
  void AppendMissing() { codes_.push_back(0); }
  // `n` rows of the same string.
  void AppendRepeated(std::string_view s, size_t n);

  size_t rows() const { return codes_.size(); }
  size_t dictionary_size() const { return ends_.size(); }
  std::string_view entry(size_t i) const {
    const uint32_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(data_).substr(begin, ends_[i] - begin);
  }
  std::vector<std::string_view> entries() const;
  const std::vector<uint32_t>& codes() const { return codes_; }

  // Replaces every entry at once (same count, same order): entry i becomes
  // `data` cut at `ends`. The old bytes are zeroed first. The index is
  // dropped: Intern must not be called afterwards.
  void ReplaceDictionary(std::string data, std::vector<uint32_t> ends);
  // Keeps the rows whose keep[r] is true.
  void KeepRows(const std::vector<bool>& keep);
  // Moves the column into `out` (dictionary_data, dictionary_ends, codes)
  // and resets the builder.
  void MoveTo(query::v1::ColumnValues* out);
  // Zeroes the dictionary's bytes and resets the builder.
  void Wipe();

 private:
  struct Hash {
    using is_transparent = void;
    const StringColumnBuilder* b;
    // absl's own string hash (Abseil here does not alias std::string_view,
    // and hashing one goes through std::hash and then absl's mixing).
    size_t operator()(std::string_view s) const {
      return absl::Hash<absl::string_view>()(absl::string_view(s.data(), s.size()));
    }
    size_t operator()(uint32_t code) const { return (*this)(b->entry(code)); }
  };
  struct Eq {
    using is_transparent = void;
    const StringColumnBuilder* b;
    bool operator()(uint32_t x, uint32_t y) const { return x == y; }
    bool operator()(std::string_view s, uint32_t c) const { return s == b->entry(c); }
    bool operator()(uint32_t c, std::string_view s) const { return s == b->entry(c); }
  };
  // Adds `s` as the next entry and returns its code (the index is the
  // caller's).
  uint32_t AddEntry(std::string_view s);
  void Reset();

  std::string data_;
  std::vector<uint32_t> ends_;
  std::vector<uint32_t> codes_;
  absl::flat_hash_set<uint32_t, Hash, Eq> index_;
  uint32_t last_ = UINT32_MAX;  // the code Intern returned last
};

}  // namespace datalab::rowbatch

#endif  // DATALAB_COMMON_ROWBATCH_STRING_COLUMN_H_
