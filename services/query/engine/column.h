// Column model of the analytic store's execution engine.
//
// A dataset version is a Table: named Columns of equal length, each stored as
// decoded Chunks of kChunkRows rows (the last chunk may be shorter). Values
// are typed (INT64, DOUBLE, CODE, SUBJECT); a missing value carries a reason
// code, kept per chunk in a byte array only when that chunk has any missing
// value. Missing slots hold an unspecified (but defined) value.
//
// EncodeChunk/DecodeChunk turn one chunk into a compact, checksummed,
// little-endian byte string (the store keeps these in RocksDB).
//
// Ownership and thread safety: Columns and Tables are immutable once built
// (ColumnBuilder::Finish / Column::Create validate them) and are shared as
// std::shared_ptr<const Column>; any number of threads may read them.
#ifndef DATALAB_SERVICES_QUERY_ENGINE_COLUMN_H_
#define DATALAB_SERVICES_QUERY_ENGINE_COLUMN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datalab::engine {

// Rows per chunk. Fixed so a row number maps to (chunk, offset) with shifts.
inline constexpr uint32_t kChunkShift = 16;
inline constexpr uint32_t kChunkRows = 1u << kChunkShift;

enum class ColumnType : uint8_t {
  kInt64 = 1,    // integers, dates (days since epoch), booleans (0/1)
  kDouble = 2,   // decimals
  kCode = 3,     // dictionary-encoded strings: uint32 codes into dictionary
  kSubject = 4,  // dense lab-internal subject (pupil) id, uint32
};

const char* ColumnTypeName(ColumnType type);

// Why a value is missing. 0 means present.
enum MissingReason : uint8_t {
  kPresent = 0,
  kBlank = 1,
  kSupp = 2,
  kNE = 3,
  kNP = 4,
  kNA = 5,
  kLowCov = 6,
  kX = 7,
  kOtherMissing = 8,
};
inline constexpr uint8_t kMaxMissingReason = kOtherMissing;

// One chunk of one column, decoded. Exactly one of i64/f64/u32 is used,
// according to `type` (u32 for CODE and SUBJECT).
struct Chunk {
  ColumnType type = ColumnType::kInt64;
  uint32_t num_rows = 0;
  std::vector<int64_t> i64;
  std::vector<double> f64;
  std::vector<uint32_t> u32;
  // Empty when no row is missing; otherwise num_rows reason codes.
  std::vector<uint8_t> missing;

  bool has_missing() const { return !missing.empty(); }
  bool IsMissing(uint32_t row) const {
    return !missing.empty() && missing[row] != kPresent;
  }
};

// Serialises a chunk. Layout (little-endian):
//   u8 format version (1), u8 type, u8 value encoding, u8 flags (bit0: has
//   missing), u32 num_rows, value payload, [missing payload], u32 CRC32C of
//   everything before it.
// Value encodings: INT64 frame of reference (i64 min, u8 byte width 0/1/2/4/8,
// then (v - min) in that width); DOUBLE raw; CODE/SUBJECT as u8/u16/u32 by
// the chunk's largest value. Missing payload: num_rows reason bytes.
std::string EncodeChunk(const Chunk& chunk);

// Parses EncodeChunk output. DATA_LOSS on a checksum mismatch, truncation,
// an unknown version/type/encoding or an invalid reason code.
absl::StatusOr<Chunk> DecodeChunk(std::string_view bytes);

// CRC32C (Castagnoli), as used by iSCSI/ext4/RocksDB. `crc` chains calls.
uint32_t Crc32c(std::string_view data, uint32_t crc = 0);

class Column {
 public:
  // Validates: chunk types match `type`; every chunk but the last has
  // kChunkRows rows; missing arrays are empty or num_rows long with valid
  // reason codes; CODE values index into `dictionary` (non-CODE columns must
  // have an empty dictionary). INVALID_ARGUMENT naming the column and chunk.
  static absl::StatusOr<std::shared_ptr<const Column>> Create(
      std::string name, ColumnType type, std::vector<std::string> dictionary,
      std::vector<Chunk> chunks);

  const std::string& name() const { return name_; }
  ColumnType type() const { return type_; }
  const std::vector<std::string>& dictionary() const { return dictionary_; }
  const std::vector<Chunk>& chunks() const { return chunks_; }
  size_t num_rows() const { return num_rows_; }
  bool has_missing() const { return has_missing_; }
  // Smallest/largest present value (INT64: value; CODE/SUBJECT: code/id).
  // Both 0 when no value is present.
  int64_t min_value() const { return min_; }
  int64_t max_value() const { return max_; }
  bool any_present() const { return any_present_; }

 private:
  Column() = default;
  std::string name_;
  ColumnType type_ = ColumnType::kInt64;
  std::vector<std::string> dictionary_;
  std::vector<Chunk> chunks_;
  size_t num_rows_ = 0;
  bool has_missing_ = false;
  bool any_present_ = false;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

// Appends values row by row and cuts chunks. Not thread-safe.
class ColumnBuilder {
 public:
  ColumnBuilder(std::string name, ColumnType type);

  void AppendInt64(int64_t v);     // INT64
  void AppendDouble(double v);     // DOUBLE
  void AppendCode(uint32_t code);  // CODE (code must index the dictionary)
  void AppendString(std::string_view s);  // CODE, interning s
  void AppendSubject(uint32_t id);        // SUBJECT
  // Any type. reason must be in 1..kMaxMissingReason.
  void AppendMissing(uint8_t reason);

  // Sets the dictionary for AppendCode use (replaces interned strings).
  void SetDictionary(std::vector<std::string> dictionary);

  absl::StatusOr<std::shared_ptr<const Column>> Finish();

 private:
  Chunk& Current();
  void MarkPresent(Chunk& c);

  std::string name_;
  ColumnType type_;
  std::vector<std::string> dictionary_;
  absl::flat_hash_map<std::string, uint32_t> intern_;
  std::vector<Chunk> chunks_;
};

// A dataset version: columns of equal length. Immutable once created.
class Table {
 public:
  // INVALID_ARGUMENT when lengths differ or names repeat.
  static absl::StatusOr<std::shared_ptr<const Table>> Create(
      std::string name, std::vector<std::shared_ptr<const Column>> columns);

  const std::string& name() const { return name_; }
  size_t num_rows() const { return num_rows_; }
  const std::vector<std::shared_ptr<const Column>>& columns() const {
    return columns_;
  }
  // nullptr when absent.
  const Column* Find(std::string_view column_name) const;

 private:
  Table() = default;
  std::string name_;
  size_t num_rows_ = 0;
  std::vector<std::shared_ptr<const Column>> columns_;
};

}  // namespace datalab::engine

#endif  // DATALAB_SERVICES_QUERY_ENGINE_COLUMN_H_
