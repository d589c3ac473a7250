#include "services/query/engine/column.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace datalab::engine {
namespace {

constexpr uint8_t kFormatVersion = 1;
constexpr uint8_t kFlagHasMissing = 1;

enum ValueEncoding : uint8_t {
  kEncFor = 1,    // INT64: frame of reference
  kEncRaw64 = 2,  // DOUBLE: raw IEEE-754
  kEncU8 = 3,     // CODE/SUBJECT narrowed
  kEncU16 = 4,
  kEncU32 = 5,
};

// Slicing-by-8 tables for the reflected Castagnoli polynomial.
struct Crc32cTables {
  uint32_t t[8][256];
  Crc32cTables() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xFF];
    }
  }
};

const Crc32cTables& Tables() {
  static const Crc32cTables* tables = new Crc32cTables();
  return *tables;
}

template <typename T>
void PutLE(std::string& out, T v) {
  // The lab runs on little-endian x86-64/arm64; memcpy is the LE encoding.
  static_assert(std::endian::native == std::endian::little);
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  out.append(buf, sizeof(T));
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool Read(void* dst, size_t n) {
    if (in_.size() - pos_ < n) return false;
    std::memcpy(dst, in_.data() + pos_, n);
    pos_ += n;
    return true;
  }
  const char* Take(size_t n) {
    if (in_.size() - pos_ < n) return nullptr;
    const char* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  bool AtEnd() const { return pos_ == in_.size(); }

 private:
  std::string_view in_;
  size_t pos_ = 0;
};

template <typename Narrow, typename Wide>
void PackNarrow(std::string& out, const Wide* v, size_t n, Wide base) {
  size_t at = out.size();
  out.resize(at + n * sizeof(Narrow));
  // The output offset may be unaligned for Narrow: store through memcpy.
  char* dst = out.data() + at;
  for (size_t i = 0; i < n; ++i) {
    const Narrow x = static_cast<Narrow>(v[i] - base);
    std::memcpy(dst + i * sizeof(Narrow), &x, sizeof(Narrow));
  }
}

template <typename Narrow, typename Wide>
void UnpackNarrow(const char* src, size_t n, Wide base, Wide* dst) {
  if constexpr (sizeof(Narrow) == sizeof(Wide)) {
    std::memcpy(dst, src, n * sizeof(Wide));
    if (base != 0) {
      for (size_t i = 0; i < n; ++i) dst[i] += base;
    }
  } else {
    // Copy out first: the source may be unaligned.
    std::vector<Narrow> tmp(n);
    std::memcpy(tmp.data(), src, n * sizeof(Narrow));
    for (size_t i = 0; i < n; ++i) {
      dst[i] = static_cast<Wide>(static_cast<Wide>(tmp[i]) + base);
    }
  }
}

absl::Status Corrupt(const std::string& what) {
  return absl::DataLossError(absl::StrCat("corrupt column chunk: ", what));
}

}  // namespace

const char* ColumnTypeName(ColumnType type) {
  switch (type) {
    case ColumnType::kInt64:
      return "INT64";
    case ColumnType::kDouble:
      return "DOUBLE";
    case ColumnType::kCode:
      return "CODE";
    case ColumnType::kSubject:
      return "SUBJECT";
  }
  return "UNKNOWN";
}

uint32_t Crc32c(std::string_view data, uint32_t crc) {
  const auto& t = Tables().t;
  const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
  size_t n = data.size();
  crc = ~crc;
  while (n >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    w ^= crc;
    crc = t[7][w & 0xFF] ^ t[6][(w >> 8) & 0xFF] ^ t[5][(w >> 16) & 0xFF] ^
          t[4][(w >> 24) & 0xFF] ^ t[3][(w >> 32) & 0xFF] ^
          t[2][(w >> 40) & 0xFF] ^ t[1][(w >> 48) & 0xFF] ^ t[0][w >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ t[0][(crc ^ *p++) & 0xFF];
  return ~crc;
}

std::string EncodeChunk(const Chunk& chunk) {
  std::string out;
  const size_t n = chunk.num_rows;
  out.reserve(16 + n * 9);
  out.push_back(static_cast<char>(kFormatVersion));
  out.push_back(static_cast<char>(chunk.type));
  const size_t enc_pos = out.size();
  out.push_back(0);
  out.push_back(static_cast<char>(chunk.has_missing() ? kFlagHasMissing : 0));
  PutLE<uint32_t>(out, static_cast<uint32_t>(n));
  switch (chunk.type) {
    case ColumnType::kInt64: {
      out[enc_pos] = static_cast<char>(kEncFor);
      int64_t lo = 0, hi = 0;
      if (n > 0) {
        auto [mn, mx] = std::minmax_element(chunk.i64.begin(), chunk.i64.begin() + n);
        lo = *mn;
        hi = *mx;
      }
      // Unsigned range cannot overflow.
      uint64_t range = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
      uint8_t width = range == 0 ? 0 : range <= 0xFF ? 1 : range <= 0xFFFF ? 2
                                    : range <= 0xFFFFFFFFull ? 4 : 8;
      PutLE<int64_t>(out, lo);
      out.push_back(static_cast<char>(width));
      const uint64_t* v = reinterpret_cast<const uint64_t*>(chunk.i64.data());
      uint64_t base = static_cast<uint64_t>(lo);
      if (width == 1) PackNarrow<uint8_t>(out, v, n, base);
      if (width == 2) PackNarrow<uint16_t>(out, v, n, base);
      if (width == 4) PackNarrow<uint32_t>(out, v, n, base);
      if (width == 8) PackNarrow<uint64_t>(out, v, n, base);
      break;
    }
    case ColumnType::kDouble: {
      out[enc_pos] = static_cast<char>(kEncRaw64);
      out.append(reinterpret_cast<const char*>(chunk.f64.data()), n * sizeof(double));
      break;
    }
    case ColumnType::kCode:
    case ColumnType::kSubject: {
      uint32_t hi = 0;
      for (size_t i = 0; i < n; ++i) hi = std::max(hi, chunk.u32[i]);
      const uint32_t* v = chunk.u32.data();
      if (hi <= 0xFF) {
        out[enc_pos] = static_cast<char>(kEncU8);
        PackNarrow<uint8_t>(out, v, n, 0u);
      } else if (hi <= 0xFFFF) {
        out[enc_pos] = static_cast<char>(kEncU16);
        PackNarrow<uint16_t>(out, v, n, 0u);
      } else {
        out[enc_pos] = static_cast<char>(kEncU32);
        out.append(reinterpret_cast<const char*>(v), n * sizeof(uint32_t));
      }
      break;
    }
  }
  if (chunk.has_missing()) {
    out.append(reinterpret_cast<const char*>(chunk.missing.data()), n);
  }
  PutLE<uint32_t>(out, Crc32c(out));
  return out;
}

absl::StatusOr<Chunk> DecodeChunk(std::string_view bytes) {
  if (bytes.size() < 12) return Corrupt("truncated header");
  uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + bytes.size() - 4, 4);
  std::string_view body = bytes.substr(0, bytes.size() - 4);
  if (Crc32c(body) != stored_crc) return Corrupt("checksum mismatch");
  Reader r(body);
  uint8_t version, type, enc, flags;
  uint32_t n;
  r.Read(&version, 1);
  r.Read(&type, 1);
  r.Read(&enc, 1);
  r.Read(&flags, 1);
  r.Read(&n, 4);
  if (version != kFormatVersion) {
    return Corrupt(absl::StrCat("unknown format version ", version));
  }
  if (n > kChunkRows) return Corrupt(absl::StrCat("row count ", n, " exceeds chunk size"));
  if ((flags & ~kFlagHasMissing) != 0) return Corrupt("unknown flags");
  Chunk c;
  c.num_rows = n;
  switch (static_cast<ColumnType>(type)) {
    case ColumnType::kInt64: {
      c.type = ColumnType::kInt64;
      int64_t lo;
      uint8_t width;
      if (enc != kEncFor || !r.Read(&lo, 8) || !r.Read(&width, 1)) {
        return Corrupt("bad INT64 header");
      }
      c.i64.resize(n);
      uint64_t* dst = reinterpret_cast<uint64_t*>(c.i64.data());
      uint64_t base = static_cast<uint64_t>(lo);
      if (width == 0) {
        std::fill(dst, dst + n, base);
        break;
      }
      if (width != 1 && width != 2 && width != 4 && width != 8) {
        return Corrupt("bad INT64 width");
      }
      const char* src = r.Take(size_t{n} * width);
      if (src == nullptr) return Corrupt("truncated INT64 values");
      if (width == 1) UnpackNarrow<uint8_t>(src, n, base, dst);
      if (width == 2) UnpackNarrow<uint16_t>(src, n, base, dst);
      if (width == 4) UnpackNarrow<uint32_t>(src, n, base, dst);
      if (width == 8) UnpackNarrow<uint64_t>(src, n, base, dst);
      break;
    }
    case ColumnType::kDouble: {
      c.type = ColumnType::kDouble;
      if (enc != kEncRaw64) return Corrupt("bad DOUBLE encoding");
      c.f64.resize(n);
      if (!r.Read(c.f64.data(), size_t{n} * 8)) return Corrupt("truncated DOUBLE values");
      break;
    }
    case ColumnType::kCode:
    case ColumnType::kSubject: {
      c.type = static_cast<ColumnType>(type);
      c.u32.resize(n);
      size_t width = enc == kEncU8 ? 1 : enc == kEncU16 ? 2 : enc == kEncU32 ? 4 : 0;
      if (width == 0) return Corrupt("bad code encoding");
      const char* src = r.Take(n * width);
      if (src == nullptr) return Corrupt("truncated codes");
      if (width == 1) UnpackNarrow<uint8_t>(src, n, 0u, c.u32.data());
      if (width == 2) UnpackNarrow<uint16_t>(src, n, 0u, c.u32.data());
      if (width == 4) UnpackNarrow<uint32_t>(src, n, 0u, c.u32.data());
      break;
    }
    default:
      return Corrupt(absl::StrCat("unknown column type ", type));
  }
  if (flags & kFlagHasMissing) {
    c.missing.resize(n);
    if (!r.Read(c.missing.data(), n)) return Corrupt("truncated missing codes");
    for (uint8_t m : c.missing) {
      if (m > kMaxMissingReason) return Corrupt("invalid missing reason code");
    }
  }
  if (!r.AtEnd()) return Corrupt("trailing bytes");
  return c;
}

absl::StatusOr<std::shared_ptr<const Column>> Column::Create(
    std::string name, ColumnType type, std::vector<std::string> dictionary,
    std::vector<Chunk> chunks) {
  auto col = std::shared_ptr<Column>(new Column());
  if (type != ColumnType::kCode && !dictionary.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("column '", name, "': only CODE columns have a dictionary"));
  }
  if (dictionary.size() > std::numeric_limits<uint32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("column '", name, "': dictionary too large"));
  }
  int64_t lo = std::numeric_limits<int64_t>::max();
  int64_t hi = std::numeric_limits<int64_t>::min();
  for (size_t k = 0; k < chunks.size(); ++k) {
    const Chunk& c = chunks[k];
    auto bad = [&](const std::string& what) {
      return absl::InvalidArgumentError(
          absl::StrCat("column '", name, "' chunk ", k, ": ", what));
    };
    if (c.type != type) return bad("type differs from the column's");
    if (c.num_rows > kChunkRows || (k + 1 < chunks.size() && c.num_rows != kChunkRows)) {
      return bad(absl::StrCat("has ", c.num_rows, " rows; all but the last chunk need ",
                              kChunkRows));
    }
    size_t want_i64 = type == ColumnType::kInt64 ? c.num_rows : 0;
    size_t want_f64 = type == ColumnType::kDouble ? c.num_rows : 0;
    size_t want_u32 =
        (type == ColumnType::kCode || type == ColumnType::kSubject) ? c.num_rows : 0;
    if (c.i64.size() != want_i64 || c.f64.size() != want_f64 || c.u32.size() != want_u32) {
      return bad("value array length differs from num_rows");
    }
    if (!c.missing.empty() && c.missing.size() != c.num_rows) {
      return bad("missing array length differs from num_rows");
    }
    bool chunk_missing = false;
    for (uint8_t m : c.missing) {
      if (m > kMaxMissingReason) return bad("invalid missing reason code");
      chunk_missing |= m != kPresent;
    }
    col->has_missing_ |= chunk_missing;
    for (uint32_t i = 0; i < c.num_rows; ++i) {
      if (c.IsMissing(i)) continue;
      int64_t v;
      if (type == ColumnType::kInt64) {
        v = c.i64[i];
      } else if (type == ColumnType::kDouble) {
        continue;
      } else {
        v = c.u32[i];
        if (type == ColumnType::kCode && c.u32[i] >= dictionary.size()) {
          return bad(absl::StrCat("row ", i, ": code outside the dictionary"));
        }
      }
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      col->any_present_ = true;
    }
    if (type == ColumnType::kDouble) {
      for (uint32_t i = 0; i < c.num_rows && !col->any_present_; ++i) {
        col->any_present_ = !c.IsMissing(i);
      }
    }
    col->num_rows_ += c.num_rows;
  }
  if (col->any_present_ && type != ColumnType::kDouble) {
    col->min_ = lo;
    col->max_ = hi;
  }
  col->name_ = std::move(name);
  col->type_ = type;
  col->dictionary_ = std::move(dictionary);
  col->chunks_ = std::move(chunks);
  // Drop all-present missing arrays so "has_missing() == has any" holds.
  for (Chunk& c : col->chunks_) {
    if (!c.missing.empty() &&
        std::all_of(c.missing.begin(), c.missing.end(), [](uint8_t m) { return m == 0; })) {
      c.missing.clear();
      c.missing.shrink_to_fit();
    }
  }
  return std::shared_ptr<const Column>(std::move(col));
}

ColumnBuilder::ColumnBuilder(std::string name, ColumnType type)
    : name_(std::move(name)), type_(type) {}

Chunk& ColumnBuilder::Current() {
  if (chunks_.empty() || chunks_.back().num_rows == kChunkRows) {
    chunks_.emplace_back();
    chunks_.back().type = type_;
  }
  return chunks_.back();
}

void ColumnBuilder::MarkPresent(Chunk& c) {
  if (!c.missing.empty()) c.missing.push_back(kPresent);
  ++c.num_rows;
}

void ColumnBuilder::AppendInt64(int64_t v) {
  Chunk& c = Current();
  c.i64.push_back(v);
  MarkPresent(c);
}
void ColumnBuilder::AppendDouble(double v) {
  Chunk& c = Current();
  c.f64.push_back(v);
  MarkPresent(c);
}
void ColumnBuilder::AppendCode(uint32_t code) {
  Chunk& c = Current();
  c.u32.push_back(code);
  MarkPresent(c);
}
void ColumnBuilder::AppendSubject(uint32_t id) { AppendCode(id); }

void ColumnBuilder::AppendString(std::string_view s) {
  auto [it, inserted] = intern_.try_emplace(std::string(s), dictionary_.size());
  if (inserted) dictionary_.emplace_back(s);
  AppendCode(it->second);
}

void ColumnBuilder::AppendMissing(uint8_t reason) {
  Chunk& c = Current();
  switch (type_) {
    case ColumnType::kInt64:
      c.i64.push_back(0);
      break;
    case ColumnType::kDouble:
      c.f64.push_back(0);
      break;
    default:
      c.u32.push_back(0);
  }
  if (c.missing.empty()) c.missing.assign(c.num_rows, kPresent);
  c.missing.push_back(reason == kPresent ? uint8_t{kOtherMissing} : reason);
  ++c.num_rows;
}

void ColumnBuilder::SetDictionary(std::vector<std::string> dictionary) {
  intern_.clear();
  dictionary_ = std::move(dictionary);
  for (size_t i = 0; i < dictionary_.size(); ++i) intern_.emplace(dictionary_[i], i);
}

absl::StatusOr<std::shared_ptr<const Column>> ColumnBuilder::Finish() {
  return Column::Create(std::move(name_), type_, std::move(dictionary_), std::move(chunks_));
}

absl::StatusOr<std::shared_ptr<const Table>> Table::Create(
    std::string name, std::vector<std::shared_ptr<const Column>> columns) {
  auto t = std::shared_ptr<Table>(new Table());
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("table '", name, "': column ", i, " is null"));
    }
    if (columns[i]->num_rows() != columns[0]->num_rows()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "table '", name, "': column '", columns[i]->name(), "' has ", columns[i]->num_rows(),
          " rows but column '", columns[0]->name(), "' has ", columns[0]->num_rows()));
    }
    for (size_t j = 0; j < i; ++j) {
      if (columns[j]->name() == columns[i]->name()) {
        return absl::InvalidArgumentError(
            absl::StrCat("table '", name, "': column name '", columns[i]->name(), "' repeats"));
      }
    }
  }
  if (!columns.empty() && columns[0]->num_rows() > std::numeric_limits<uint32_t>::max() - 1) {
    return absl::InvalidArgumentError(absl::StrCat("table '", name, "': too many rows"));
  }
  t->num_rows_ = columns.empty() ? 0 : columns[0]->num_rows();
  t->name_ = std::move(name);
  t->columns_ = std::move(columns);
  return std::shared_ptr<const Table>(std::move(t));
}

const Column* Table::Find(std::string_view column_name) const {
  for (const auto& c : columns_) {
    if (c->name() == column_name) return c.get();
  }
  return nullptr;
}

}  // namespace datalab::engine
