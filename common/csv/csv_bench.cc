// Throughput of the CSV reader on synthetic data, single core, fed in 64 KiB
// chunks like gRPC uploads. Prints MB/s; asserts nothing (timing is not a
// test). Usage: datalab-csv-bench [megabytes] [file.csv ...]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>

#include "common/csv/csv_reader.h"

namespace {

using datalab::csv::CsvOptions;
using datalab::csv::CsvReader;
using datalab::csv::CsvRecord;
using datalab::csv::Encoding;

std::string Synthetic(size_t bytes, bool quoted) {
  std::mt19937 rng(1);
  std::string out = "URN,LA,ESTAB,SCHNAME,NOR,PNORG,P8MEA,ATT8SCR\r\n";
  while (out.size() < bytes) {
    out += std::to_string(100000 + rng() % 900000) + "," +
           std::to_string(200 + rng() % 700) + "," +
           std::to_string(1000 + rng() % 9000) + ",";
    out += quoted ? "\"St Mary's, \"\"Church\"\" School\"" : "St Marys Church School";
    out += "," + std::to_string(rng() % 2000) + ",49.5,-0.25,SUPP\r\n";
  }
  return out;
}

void Run(const char* label, const std::string& data, Encoding encoding) {
  CsvOptions o;
  o.encoding = encoding;
  auto reader = CsvReader::Create(o);
  if (!reader.ok()) std::abort();
  CsvRecord rec;
  size_t fields = 0;
  const auto start = std::chrono::steady_clock::now();
  auto drain = [&] {
    while (true) {
      auto got = (*reader)->Next(&rec);
      if (!got.ok()) {
        std::fprintf(stderr, "%s: %s\n", label, got.status().ToString().c_str());
        std::exit(1);
      }
      if (!*got) break;
      fields += rec.fields.size();
    }
  };
  constexpr size_t kChunk = 64 * 1024;
  for (size_t off = 0; off < data.size(); off += kChunk) {
    if (!(*reader)->Feed(std::string_view(data).substr(off, kChunk)).ok()) std::exit(1);
    drain();
  }
  if (!(*reader)->Finish().ok()) std::exit(1);
  drain();
  const double secs = std::chrono::duration<double>(
                          std::chrono::steady_clock::now() - start).count();
  std::printf("%-28s %8.1f MB  %10zu fields  %8.1f MB/s\n", label,
              data.size() / 1e6, fields, data.size() / 1e6 / secs);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 100;
  const std::string plain = Synthetic(mb << 20, false);
  Run("plain, utf-8", plain, Encoding::kUtf8);
  Run("plain, auto", plain, Encoding::kAuto);
  Run("plain, windows-1252", plain, Encoding::kWindows1252);
  Run("quoted, utf-8", Synthetic(mb << 20, true), Encoding::kUtf8);
  for (int i = 2; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    Run(argv[i], ss.str(), Encoding::kAuto);
  }
  return 0;
}
