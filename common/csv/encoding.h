// Character encodings for uploaded CSV extracts.
//
// Files reach the lab in two encodings in practice: UTF-8 (often with a byte
// order mark, as Excel writes it) and Windows-1252 ("ANSI", what SIMS and
// older DfE exports write). StreamDecoder turns a byte stream that arrives in
// chunks of any size into UTF-8, so everything after it (the CSV parser,
// value parsing, storage) only ever sees valid UTF-8.
//
// How "auto" decides (and why it is sound for streaming):
//   * A leading UTF-8 BOM (EF BB BF) means UTF-8; it is stripped.
//   * Otherwise the decoder holds back the first kSniffBytes (64 KiB) of the
//     stream, or the whole stream if shorter, and checks it as UTF-8. Valid ->
//     the file is decoded as UTF-8; invalid -> the WHOLE file is decoded as
//     Windows-1252. The decision is made once per file and never changes.
//   * If the file was judged UTF-8 and an invalid sequence shows up after
//     the sniff window, decoding stops with an error that says where and
//     asks the uploader to re-send the file declaring windows-1252.
//   Where the whole file is available before parsing (ingestion stages
//   uploads), EncodingDetector below decides on the entire file instead.
//   Deciding per byte sequence ("treat anything that is not valid UTF-8 as
//   Windows-1252") is deliberately NOT done: a Windows-1252 file can contain
//   byte pairs that happen to be valid UTF-8 (e.g. "Ã©"), so a per-sequence
//   guess silently produces a mixture of two decodings. One decision per
//   file from a bounded window keeps memory bounded and either decodes the
//   file consistently or fails loudly.
//
// Windows-1252 is decoded with the full table: 0x80-0x9F map to the
// typographic characters (0x92 -> U+2019, 0x80 -> U+20AC, ...). The five
// bytes Windows-1252 leaves undefined (0x81 0x8D 0x8F 0x90 0x9D) map to the
// C1 control with the same value, as Windows' own converter and the WHATWG
// Encoding Standard do, so decoding never fails. "iso-8859-1"/"latin1" are
// accepted as names for windows-1252 for the same reason browsers do: files
// labelled Latin-1 are in practice Windows-1252.
//
// Thread safety: StreamDecoder is a stateful, single-threaded object. The
// free functions are thread-safe.
#ifndef DATALAB_COMMON_CSV_ENCODING_H_
#define DATALAB_COMMON_CSV_ENCODING_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datalab::csv {

enum class Encoding {
  kAuto,         // UTF-8 if the sniff window is valid UTF-8, else Windows-1252
  kUtf8,         // UTF-8, BOM optional; invalid bytes are an error
  kWindows1252,  // single-byte Windows-1252; a UTF-8 BOM is an error
};

// Parses a declared encoding name, case-insensitively: "auto" or "" -> kAuto;
// "utf-8"/"utf8" -> kUtf8; "windows-1252"/"cp1252"/"iso-8859-1"/"latin1" ->
// kWindows1252. Anything else is INVALID_ARGUMENT.
absl::StatusOr<Encoding> ParseEncodingName(std::string_view name);

// Canonical name ("auto", "utf-8", "windows-1252").
std::string_view EncodingName(Encoding encoding);

// Returns the length of the longest prefix of `data` that is valid UTF-8
// (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). When the
// remainder is a sequence that is valid so far but cut short by the end of
// `data`, *truncated (if non-null) is set to true.
size_t ValidUtf8Prefix(std::string_view data, bool* truncated = nullptr);

inline bool IsValidUtf8(std::string_view data) {
  return ValidUtf8Prefix(data) == data.size();
}

// Appends the UTF-8 encoding of Windows-1252 `data` to *out. Never fails.
void AppendWindows1252AsUtf8(std::string_view data, std::string* out);

// The Unicode code point Windows-1252 byte `b` stands for.
uint32_t Windows1252ToCodePoint(uint8_t b);

// Incremental decoder: raw bytes in, UTF-8 out. See the file comment for
// the auto-detection contract.
class StreamDecoder {
 public:
  // Size of the window "auto" inspects before deciding.
  static constexpr size_t kSniffBytes = 64 * 1024;

  enum class Failure {
    kNone,
    kInvalidUtf8,     // invalid UTF-8 in a stream decoded as UTF-8
    kBomWithWindows1252,  // UTF-8 BOM but windows-1252 was declared
  };

  explicit StreamDecoder(Encoding declared) : declared_(declared) {}

  // Decodes `in` and appends the UTF-8 result to *out. Bytes may be held
  // back (an incomplete multi-byte sequence, a possible BOM, the auto sniff
  // window) until more input or Finish(). After a failure, *out holds all
  // text before the first offending byte and further input is ignored.
  void Feed(std::string_view in, std::string* out);

  // Signals end of input and flushes held-back bytes to *out. A multi-byte
  // sequence cut off by the end of the stream is a kInvalidUtf8 failure.
  void Finish(std::string* out);

  Failure failure() const { return failure_; }
  bool failed() const { return failure_ != Failure::kNone; }

  // The encoding actually in use: kAuto until auto has decided.
  Encoding resolved() const { return resolved_; }
  Encoding declared() const { return declared_; }
  bool bom_stripped() const { return bom_stripped_; }

  // Human-readable reason for the failure, without any file content. The
  // caller adds the location (it knows lines; the decoder does not).
  std::string FailureReason() const;

 private:
  void Resolve(bool at_end, std::string* out);
  void Process(std::string_view in, std::string* out);
  void ProcessUtf8(std::string_view in, std::string* out);

  const Encoding declared_;
  Encoding resolved_ = Encoding::kAuto;
  Failure failure_ = Failure::kNone;
  bool head_done_ = false;  // BOM question settled
  bool bom_stripped_ = false;
  bool finished_ = false;
  std::string pending_;  // raw bytes held until the encoding is settled
  char carry_[4] = {};   // incomplete UTF-8 sequence from the last chunk
  size_t carry_len_ = 0;
};

// Whole-file detection, for callers that see every chunk before parsing
// (ingestion stages the upload before it parses it). Feed it all chunks;
// Finish() returns kUtf8 when the file starts with a UTF-8 BOM or is valid
// UTF-8 from end to end, else kWindows1252. Pass the result to the reader
// as the declared encoding. Unlike the reader's streaming "auto", this
// cannot be fooled by a file whose first non-ASCII byte is past the sniff
// window (school_data_sql.csv: line 21965). Memory is constant.
class EncodingDetector {
 public:
  void Feed(std::string_view chunk);
  Encoding Finish();

 private:
  StreamDecoder decoder_{Encoding::kUtf8};
  std::string scratch_;  // decoder output, discarded
};

}  // namespace datalab::csv

#endif  // DATALAB_COMMON_CSV_ENCODING_H_
