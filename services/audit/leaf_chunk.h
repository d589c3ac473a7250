// Leaf chunks: how RocksDbAuditStore keeps leaves, a run of consecutive
// leaves per record instead of two records per leaf.
//
// A group commit of 2,048 events used to put 4,096 entry and leaf-hash
// records into RocksDB's memtable (each a skiplist insert) and as many keys
// through every flush and compaction; as chunks of up to kLeavesPerChunk
// leaves it puts 8. Record layout (the value; the key is be64(first index)):
//
//   u8 version (1) | varint n (1..kLeavesPerChunk)
//   n x 32-byte leaf hash
//   n x (varint tag, bytes):  tag 0 = pruned entry, no bytes
//                             tag len+1 = entry of len bytes (len >= 1)
//
// The hashes come first so a leaf-hash read does not walk the entries.
// Stored events are never empty (an event id is required), so "pruned" and
// "present" cannot be confused.
//
// Decoding is defensive: a store whose bytes were changed must still be
// readable up to the change, so the verifier can say where it is. A chunk
// whose header or hash array is damaged decodes to nothing; one whose
// entries are damaged decodes to its hashes and the entries before the
// damage.
//
// Pure functions; thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_LEAF_CHUNK_H_
#define DATALAB_SERVICES_AUDIT_LEAF_CHUNK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "services/audit/merkle/merkle_hash.h"

namespace datalab::audit {

inline constexpr uint32_t kLeavesPerChunk = 256;

// Builds chunk records: Add() each leaf in index order, then Finish(), which
// returns the record and leaves the writer empty for the next one.
class LeafChunkWriter {
 public:
  explicit LeafChunkWriter(uint32_t expected_leaves);
  // `entry` empty = pruned.
  void Add(const merkle::Hash& leaf_hash, std::string_view entry);
  uint32_t size() const { return n_; }
  std::string Finish();

 private:
  uint32_t n_ = 0;
  std::string hashes_;
  std::string entries_;
};

// A decoded view over one chunk record (which must outlive it).
class LeafChunkReader {
 public:
  // Empty (size() == 0) when the header or the hash array is damaged.
  explicit LeafChunkReader(std::string_view record);
  uint32_t size() const { return n_; }
  merkle::Hash LeafHash(uint32_t k) const;  // requires k < size()

  // Walks the entries in order. Next() returns false after the last one or
  // at damage (then damaged() is true and the rest are unreadable).
  struct Entry {
    std::string_view bytes;
    bool pruned = false;
  };
  bool Next(Entry* out);
  bool damaged() const { return damaged_; }

 private:
  uint32_t n_ = 0;
  std::string_view hashes_;
  std::string_view rest_;
  uint32_t read_ = 0;
  bool damaged_ = false;
};

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_LEAF_CHUNK_H_
