#include "services/audit/leaf_chunk.h"

#include <algorithm>
#include <cstring>

#include "google/protobuf/io/coded_stream.h"

namespace datalab::audit {
namespace {

constexpr char kVersion = 1;
using google::protobuf::io::CodedInputStream;
using google::protobuf::io::CodedOutputStream;

void AppendVarint(std::string& out, uint64_t v) {
  uint8_t buf[10];
  uint8_t* end = CodedOutputStream::WriteVarint64ToArray(v, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(end - buf));
}

// Reads a varint from the front of `in` and drops it; false if malformed.
bool ReadVarint(std::string_view& in, uint64_t* v) {
  CodedInputStream s(reinterpret_cast<const uint8_t*>(in.data()),
                     static_cast<int>(std::min<size_t>(in.size(), 10)));
  if (!s.ReadVarint64(v)) return false;
  in.remove_prefix(static_cast<size_t>(s.CurrentPosition()));
  return true;
}

}  // namespace

LeafChunkWriter::LeafChunkWriter(uint32_t expected_leaves) {
  hashes_.reserve(size_t{expected_leaves} * 32);
}

void LeafChunkWriter::Add(const merkle::Hash& leaf_hash, std::string_view entry) {
  hashes_.append(reinterpret_cast<const char*>(leaf_hash.data()), leaf_hash.size());
  AppendVarint(entries_, entry.empty() ? 0 : entry.size() + 1);
  entries_.append(entry);
  ++n_;
}

std::string LeafChunkWriter::Finish() {
  std::string out(1, kVersion);
  AppendVarint(out, n_);
  out.reserve(out.size() + hashes_.size() + entries_.size());
  out.append(hashes_);
  out.append(entries_);
  n_ = 0;
  hashes_.clear();
  entries_.clear();
  return out;
}

LeafChunkReader::LeafChunkReader(std::string_view record) {
  if (record.empty() || record[0] != kVersion) return;
  record.remove_prefix(1);
  uint64_t n = 0;
  if (!ReadVarint(record, &n) || n == 0 || n > kLeavesPerChunk || record.size() < n * 32) return;
  n_ = static_cast<uint32_t>(n);
  hashes_ = record.substr(0, n * 32);
  rest_ = record.substr(n * 32);
}

merkle::Hash LeafChunkReader::LeafHash(uint32_t k) const {
  merkle::Hash h;
  std::memcpy(h.data(), hashes_.data() + size_t{k} * 32, h.size());
  return h;
}

bool LeafChunkReader::Next(Entry* out) {
  if (damaged_ || read_ >= n_) return false;
  uint64_t tag = 0;
  if (!ReadVarint(rest_, &tag) || (tag > 0 && tag - 1 > rest_.size())) {
    damaged_ = true;
    return false;
  }
  out->pruned = tag == 0;
  out->bytes = tag == 0 ? std::string_view() : rest_.substr(0, tag - 1);
  rest_.remove_prefix(out->bytes.size());
  ++read_;
  return true;
}

}  // namespace datalab::audit
