// A thin, typed layer over an embedded RocksDB database with column families.
//
// Each service owns one KvStore under its data directory. Values are usually
// serialized protobufs (PutProto/GetProto). Atomic multi-key changes go
// through a WriteBatch and Write(); a batch is all-or-nothing across column
// families. Checkpoint() makes a consistent, hard-linked copy for backups.
//
// Errors: rocksdb::Status never leaves this file's implementation; callers see
// absl::Status (NOT_FOUND for a missing key, DATA_LOSS for corruption or an
// unparsable stored record, RESOURCE_EXHAUSTED when the volume is (nearly)
// full, UNAVAILABLE for other I/O errors).
//
// A full disk: RocksDB puts a database whose WAL or flush write failed with
// ENOSPC into a read-only error state that only a reopen clears (and some
// builds assert on the next write). So writes are refused while the volume
// has less than `min_free_bytes` free, before RocksDB ever sees ENOSPC, and
// accepted again as soon as space is freed, without a restart.
//
// Thread safety: all methods are safe to call concurrently (RocksDB is).
#ifndef DATALAB_COMMON_STORAGE_KV_STORE_H_
#define DATALAB_COMMON_STORAGE_KV_STORE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"
#include "rocksdb/db.h"
#include "rocksdb/utilities/checkpoint.h"
#include "rocksdb/write_batch.h"

namespace datalab::storage {

// Converts a RocksDB status to the matching absl::Status code.
absl::Status ToAbslStatus(const rocksdb::Status& s, std::string_view context);

class KvStore;

// An atomic batch of writes across column families.
class WriteBatch {
 public:
  explicit WriteBatch(KvStore* store) : store_(store) {}
  void Put(std::string_view cf, std::string_view key, std::string_view value);
  void PutProto(std::string_view cf, std::string_view key,
                const google::protobuf::MessageLite& msg);
  void Delete(std::string_view cf, std::string_view key);
  // Deletes [begin, end) in one range tombstone.
  void DeleteRange(std::string_view cf, std::string_view begin, std::string_view end);
  size_t Count() const { return static_cast<size_t>(batch_.Count()); }
  // Status of the batch construction (an unknown column family is an error).
  const absl::Status& status() const { return status_; }

 private:
  friend class KvStore;
  KvStore* store_;
  rocksdb::WriteBatch batch_;
  absl::Status status_;
};

struct KvStoreOptions {
  std::string path;                          // directory, created if missing
  std::vector<std::string> column_families;  // besides "default"
  // fsync the WAL on every write (audit, release ledger). Otherwise writes
  // are durable against a process crash but not a power loss.
  bool sync_writes = false;
  size_t block_cache_bytes = 64 << 20;
  bool create_if_missing = true;
  // Compression for the bottommost data (column chunks benefit).
  bool compress = true;
  // Writes are refused (RESOURCE_EXHAUSTED) while the volume holding `path`
  // has less free space than this. 0 disables the check.
  uint64_t min_free_bytes = 32ull << 20;
  // Tuning per column family (names must also be in column_families):
  // keys written in (mostly) increasing order (an append-only log keyed by a
  // big-endian sequence, per leading byte): the memtable inserts each next
  // key from the previous one's position instead of searching from the top,
  // and the bottommost level keeps the flush's compression (LZ4, not ZSTD),
  // so table files whose key ranges do not overlap move down the levels
  // without being read and rewritten.
  std::vector<std::string> ascending_key_families;
  // Point lookups that usually miss (an idempotency index): a bloom filter
  // in front of the memtable answers most of them without a search.
  std::vector<std::string> point_lookup_families;
};

class KvStore {
 public:
  static absl::StatusOr<std::unique_ptr<KvStore>> Open(const KvStoreOptions& options);
  ~KvStore();
  KvStore(const KvStore&) = delete;
  KvStore& operator=(const KvStore&) = delete;

  absl::Status Put(std::string_view cf, std::string_view key, std::string_view value);
  absl::Status PutProto(std::string_view cf, std::string_view key,
                        const google::protobuf::MessageLite& msg);
  // NOT_FOUND when absent.
  absl::StatusOr<std::string> Get(std::string_view cf, std::string_view key) const;
  absl::Status GetProto(std::string_view cf, std::string_view key,
                        google::protobuf::MessageLite* msg) const;
  absl::Status Delete(std::string_view cf, std::string_view key);
  absl::Status Write(WriteBatch& batch);
  // Write with an explicit fsync regardless of options (fail-closed paths).
  absl::Status WriteSync(WriteBatch& batch);

  // Visits keys with the prefix in order, from `start` (>= prefix) if given.
  // The visitor returns false to stop. Values are only valid in the call.
  absl::Status Scan(std::string_view cf, std::string_view prefix,
                    const std::function<bool(std::string_view key, std::string_view value)>& visit,
                    std::string_view start = {}) const;
  // Visits keys in [begin, end) in order.
  absl::Status ScanRange(std::string_view cf, std::string_view begin, std::string_view end,
                         const std::function<bool(std::string_view key, std::string_view value)>& visit) const;
  // The last key with the prefix, NOT_FOUND if none.
  absl::StatusOr<std::string> LastKeyWithPrefix(std::string_view cf, std::string_view prefix) const;

  // A consistent on-disk copy at `dir` (must not exist), for backups.
  absl::Status Checkpoint(const std::string& dir) const;
  absl::Status Flush();

  const std::string& path() const { return options_.path; }
  rocksdb::DB* raw() { return db_.get(); }
  absl::StatusOr<rocksdb::ColumnFamilyHandle*> Handle(std::string_view cf) const;

 private:
  KvStore(KvStoreOptions options, std::unique_ptr<rocksdb::DB> db,
          std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> handles);
  absl::Status GuardedWrite(const rocksdb::WriteOptions& wo, WriteBatch& batch);
  // OK, or RESOURCE_EXHAUSTED while the volume is below min_free_bytes
  // (statvfs at most every 250 ms while there is room, every call near the
  // reserve).
  absl::Status CheckFreeSpace();

  KvStoreOptions options_;
  std::unique_ptr<rocksdb::DB> db_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> handles_;
  std::atomic<int64_t> space_checked_ms_{0};
  std::atomic<uint64_t> free_bytes_{UINT64_MAX};
};

// Big-endian fixed-width encoding so numeric keys sort in order.
std::string EncodeUint64(uint64_t v);
uint64_t DecodeUint64(std::string_view s);  // requires s.size() >= 8
// The smallest key greater than every key with `prefix`.
std::string PrefixEnd(std::string_view prefix);

}  // namespace datalab::storage

#endif  // DATALAB_COMMON_STORAGE_KV_STORE_H_
