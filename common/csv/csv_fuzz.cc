// libFuzzer entry point for the CSV reader and value parsers.
//
// The first input byte chooses the chunking (so the fuzzer explores chunk
// boundaries inside quotes, CRLF pairs, UTF-8 sequences and the BOM) and the
// options; the rest is the file. Every field of every record is also run
// through the value parsers. Built only with -DDATALAB_FUZZ=ON (clang):
//   cmake -S . -B build-fuzz -G Ninja -DDATALAB_FUZZ=ON
//         -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang
//   cmake --build build-fuzz --target csv_fuzz
//   build-fuzz/fuzz/csv_fuzz common/csv/fuzz_corpus
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/csv/csv_reader.h"
#include "common/csv/header_matcher.h"
#include "common/csv/value_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace datalab::csv;
  if (size == 0) return 0;
  const uint8_t control = data[0];
  std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  CsvOptions options;
  options.encoding = static_cast<Encoding>((control >> 6) % 3);
  options.lenient_quotes = (control & 0x20) != 0;
  options.check_field_count = (control & 0x10) != 0;
  options.max_field_bytes = 64 + (control & 0x0F) * 64;  // small limits get hit
  options.max_fields_per_record = 8 + (control & 0x07) * 8;
  options.max_record_bytes = 4096;
  // Chunk size 1..16, from the low bits, so boundaries land everywhere.
  const size_t chunk = 1 + (control & 0x0F);

  auto reader = CsvReader::Create(options);
  if (!reader.ok()) __builtin_trap();
  static const MissingMarkers kDfe = MissingMarkers::Dfe();
  CsvRecord rec;
  auto drain = [&]() -> bool {
    while (true) {
      auto got = (*reader)->Next(&rec);
      if (!got.ok()) return false;
      if (!*got) return true;
      if (rec.fields.empty() || rec.record_number <= 0 || rec.line_number <= 0) {
        __builtin_trap();  // a record always has at least one field
      }
      for (std::string_view f : rec.fields) {
        if (f.size() > options.max_field_bytes) __builtin_trap();
        (void)ParseInteger(f, kDfe);
        (void)ParseDecimal(f, kDfe, {true, true});
        (void)ParseDate(f, kDfe);
        (void)ParseBoolean(f, kDfe);
        (void)HeaderKey(f, {true});
      }
    }
  };
  for (size_t off = 0; off < input.size(); off += chunk) {
    if (!(*reader)->Feed(input.substr(off, chunk)).ok()) return 0;
    if (!drain()) return 0;
  }
  if (!(*reader)->Finish().ok()) return 0;
  drain();
  return 0;
}
