#include "common/csv/encoding.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/csv/string_util.h"

namespace datalab::csv {
namespace {

// Windows-1252 0x80-0x9F. The five undefined bytes map to the C1 control of
// the same value (see header).
constexpr uint16_t kCp1252High[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F,
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

constexpr char kBom[3] = {'\xEF', '\xBB', '\xBF'};

inline bool AllAscii8(const unsigned char* p) {
  uint64_t w;
  std::memcpy(&w, p, 8);
  return (w & 0x8080808080808080ULL) == 0;
}

// Length of the UTF-8 sequence led by `b`, 0 when `b` cannot lead one.
inline int LeadLength(unsigned char b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

// Allowed range of the second byte given the lead (RFC 3629 table).
inline bool SecondOk(unsigned char lead, unsigned char b) {
  switch (lead) {
    case 0xE0: return b >= 0xA0 && b <= 0xBF;
    case 0xED: return b >= 0x80 && b <= 0x9F;
    case 0xF0: return b >= 0x90 && b <= 0xBF;
    case 0xF4: return b >= 0x80 && b <= 0x8F;
    default: return b >= 0x80 && b <= 0xBF;
  }
}

inline void AppendCodePoint(uint32_t cp, std::string* out) {
  char buf[3];
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    buf[0] = static_cast<char>(0xC0 | (cp >> 6));
    buf[1] = static_cast<char>(0x80 | (cp & 0x3F));
    out->append(buf, 2);
  } else {
    buf[0] = static_cast<char>(0xE0 | (cp >> 12));
    buf[1] = static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<char>(0x80 | (cp & 0x3F));
    out->append(buf, 3);
  }
}

}  // namespace

absl::StatusOr<Encoding> ParseEncodingName(std::string_view name) {
  std::string n = absl::AsciiStrToLower(internal::ToAbsl(internal::StripWs(name)));
  if (n.empty() || n == "auto") return Encoding::kAuto;
  if (n == "utf-8" || n == "utf8") return Encoding::kUtf8;
  if (n == "windows-1252" || n == "cp1252" || n == "cp-1252" ||
      n == "iso-8859-1" || n == "latin1" || n == "latin-1") {
    return Encoding::kWindows1252;
  }
  return absl::InvalidArgumentError(
      "unsupported encoding name; use utf-8, windows-1252 or auto");
}

std::string_view EncodingName(Encoding encoding) {
  switch (encoding) {
    case Encoding::kAuto: return "auto";
    case Encoding::kUtf8: return "utf-8";
    case Encoding::kWindows1252: return "windows-1252";
  }
  return "unknown";
}

size_t ValidUtf8Prefix(std::string_view data, bool* truncated) {
  if (truncated != nullptr) *truncated = false;
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  size_t i = 0;
  while (i < n) {
    // ASCII dominates real files: skip it eight bytes at a time.
    while (i + 8 <= n && AllAscii8(p + i)) i += 8;
    if (i >= n) break;
    const unsigned char lead = p[i];
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const int len = LeadLength(lead);
    if (len == 0) return i;
    const size_t avail = n - i;
    // Check the bytes we have; an incomplete but so-far-valid tail is
    // "truncated" rather than invalid.
    if (avail >= 2 && !SecondOk(lead, p[i + 1])) return i;
    for (int k = 2; k < len && static_cast<size_t>(k) < avail; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return i;
    }
    if (avail < static_cast<size_t>(len)) {
      if (truncated != nullptr) *truncated = true;
      return i;
    }
    i += len;
  }
  return n;
}

uint32_t Windows1252ToCodePoint(uint8_t b) {
  if (b >= 0x80 && b <= 0x9F) return kCp1252High[b - 0x80];
  return b;
}

void AppendWindows1252AsUtf8(std::string_view data, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const size_t n = data.size();
  out->reserve(out->size() + n + n / 8);
  size_t i = 0;
  while (i < n) {
    size_t run = i;
    while (run + 8 <= n && AllAscii8(p + run)) run += 8;
    while (run < n && p[run] < 0x80) ++run;
    if (run > i) out->append(data.data() + i, run - i);
    i = run;
    while (i < n && p[i] >= 0x80) {
      AppendCodePoint(Windows1252ToCodePoint(p[i]), out);
      ++i;
    }
  }
}

void StreamDecoder::Feed(std::string_view in, std::string* out) {
  if (failed() || finished_ || in.empty()) return;
  if (!head_done_ || resolved_ == Encoding::kAuto) {
    pending_.append(in.data(), in.size());
    Resolve(/*at_end=*/false, out);
    return;
  }
  Process(in, out);
}

void StreamDecoder::Finish(std::string* out) {
  if (failed() || finished_) return;
  finished_ = true;
  if (!head_done_ || resolved_ == Encoding::kAuto) Resolve(/*at_end=*/true, out);
  if (failed()) return;
  if (carry_len_ > 0) failure_ = Failure::kInvalidUtf8;
}

void StreamDecoder::Resolve(bool at_end, std::string* out) {
  if (!head_done_) {
    const size_t k = std::min<size_t>(3, pending_.size());
    if (std::memcmp(pending_.data(), kBom, k) != 0) {
      head_done_ = true;
    } else if (pending_.size() >= 3) {
      head_done_ = true;
      bom_stripped_ = true;
      pending_.erase(0, 3);
    } else if (at_end) {
      head_done_ = true;  // a lone "EF" or "EF BB" is data, not a BOM
    } else {
      return;  // could still become a BOM
    }
    if (bom_stripped_) {
      if (declared_ == Encoding::kWindows1252) {
        failure_ = Failure::kBomWithWindows1252;
        pending_.clear();
        return;
      }
      resolved_ = Encoding::kUtf8;
    } else if (declared_ != Encoding::kAuto) {
      resolved_ = declared_;
    }
  }
  if (resolved_ == Encoding::kAuto) {
    if (pending_.size() < kSniffBytes && !at_end) return;
    bool truncated = false;
    const size_t valid = ValidUtf8Prefix(pending_, &truncated);
    const bool is_utf8 =
        valid == pending_.size() || (truncated && !at_end);
    resolved_ = is_utf8 ? Encoding::kUtf8 : Encoding::kWindows1252;
  }
  std::string held;
  held.swap(pending_);
  Process(held, out);
}

void StreamDecoder::Process(std::string_view in, std::string* out) {
  if (resolved_ == Encoding::kWindows1252) {
    AppendWindows1252AsUtf8(in, out);
  } else {
    ProcessUtf8(in, out);
  }
}

void StreamDecoder::ProcessUtf8(std::string_view in, std::string* out) {
  if (carry_len_ > 0) {
    // Complete the sequence split across chunks. A sequence is at most four
    // bytes, so at most 4 - carry_len_ bytes of `in` can belong to it.
    char tmp[8];
    std::memcpy(tmp, carry_, carry_len_);
    const size_t take = std::min<size_t>(4 - carry_len_, in.size());
    std::memcpy(tmp + carry_len_, in.data(), take);
    bool truncated = false;
    const size_t valid =
        ValidUtf8Prefix(std::string_view(tmp, carry_len_ + take), &truncated);
    if (valid == 0) {
      if (truncated) {
        std::memcpy(carry_ + carry_len_, in.data(), take);
        carry_len_ += take;
        return;
      }
      failure_ = Failure::kInvalidUtf8;
      return;
    }
    const size_t len = LeadLength(static_cast<unsigned char>(carry_[0]));
    out->append(tmp, len);
    in.remove_prefix(len - carry_len_);
    carry_len_ = 0;
  }
  bool truncated = false;
  const size_t valid = ValidUtf8Prefix(in, &truncated);
  out->append(in.data(), valid);
  if (valid == in.size()) return;
  if (truncated) {
    carry_len_ = in.size() - valid;
    std::memcpy(carry_, in.data() + valid, carry_len_);
    return;
  }
  failure_ = Failure::kInvalidUtf8;
}

std::string StreamDecoder::FailureReason() const {
  switch (failure_) {
    case Failure::kNone:
      return "";
    case Failure::kBomWithWindows1252:
      return "file starts with a UTF-8 byte order mark but encoding "
             "windows-1252 was declared; re-send it declaring utf-8 or auto";
    case Failure::kInvalidUtf8:
      if (declared_ == Encoding::kAuto && !bom_stripped_) {
        return absl::StrCat(
            "invalid UTF-8 byte sequence after the first ", kSniffBytes / 1024,
            " KiB had been judged UTF-8; if the file is Windows-1252 (ANSI) "
            "encoded, re-send it declaring encoding windows-1252");
      }
      return "invalid UTF-8 byte sequence; if the file is Windows-1252 (ANSI) "
             "encoded, re-send it declaring encoding windows-1252";
  }
  return "";
}

void EncodingDetector::Feed(std::string_view chunk) {
  if (decoder_.failed()) return;
  scratch_.clear();
  decoder_.Feed(chunk, &scratch_);
}

Encoding EncodingDetector::Finish() {
  scratch_.clear();
  decoder_.Finish(&scratch_);
  if (decoder_.bom_stripped() || !decoder_.failed()) return Encoding::kUtf8;
  return Encoding::kWindows1252;
}

}  // namespace datalab::csv
