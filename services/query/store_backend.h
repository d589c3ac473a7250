// The key-value backend under the query store: two keyspaces ("meta" for
// manifests, dictionaries, ledgers, releases and history; "chunks" for
// encoded column chunks), atomic batches and ordered prefix scans.
//
// Two implementations: RocksDB (common/storage KvStore, column families
// "meta" and "chunks") and an in-memory ordered map for tests. The query
// store logic is written once over this interface, so both backends run the
// same conformance suite.
//
// Fault injection: SetFailWrites(true) makes every later Write() fail with
// UNAVAILABLE without writing, to simulate a crash at that point.
//
// Thread safety: all methods may be called concurrently.
#ifndef DATALAB_SERVICES_QUERY_STORE_BACKEND_H_
#define DATALAB_SERVICES_QUERY_STORE_BACKEND_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace datalab::query {

enum class Space { kMeta = 0, kChunks = 1 };

struct Mutation {
  enum class Kind { kPut, kDelete, kDeleteRange };
  Kind kind = Kind::kPut;
  Space space = Space::kMeta;
  std::string key;
  std::string value;  // kPut: value; kDeleteRange: end key (exclusive)
};

class Batch {
 public:
  void Put(Space s, std::string key, std::string value) {
    m_.push_back({Mutation::Kind::kPut, s, std::move(key), std::move(value)});
  }
  void Delete(Space s, std::string key) {
    m_.push_back({Mutation::Kind::kDelete, s, std::move(key), {}});
  }
  void DeleteRange(Space s, std::string begin, std::string end) {
    m_.push_back({Mutation::Kind::kDeleteRange, s, std::move(begin), std::move(end)});
  }
  const std::vector<Mutation>& mutations() const { return m_; }
  bool empty() const { return m_.empty(); }

 private:
  std::vector<Mutation> m_;
};

using ScanVisitor = std::function<bool(std::string_view key, std::string_view value)>;

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // NOT_FOUND when absent.
  virtual absl::StatusOr<std::string> Get(Space s, std::string_view key) const = 0;
  // All or nothing. `sync`: fsync before returning (ledgers, manifests).
  virtual absl::Status Write(const Batch& batch, bool sync) = 0;
  // Keys in [begin, end) in order; the visitor returns false to stop.
  virtual absl::Status ScanRange(Space s, std::string_view begin, std::string_view end,
                                 const ScanVisitor& visit) const = 0;

  absl::Status Scan(Space s, std::string_view prefix, const ScanVisitor& visit) const;
  void SetFailWrites(bool fail) { fail_writes_ = fail; }

 protected:
  bool fail_writes() const { return fail_writes_; }

 private:
  std::atomic<bool> fail_writes_{false};
};

// The in-memory backend. `shared` lets a test "reopen" the same data.
std::unique_ptr<StoreBackend> NewMemoryBackend();

// RocksDB under `path` (created if missing).
absl::StatusOr<std::unique_ptr<StoreBackend>> OpenRocksDbBackend(const std::string& path);

// The smallest string greater than every string with `prefix`.
std::string PrefixSuccessor(std::string_view prefix);
// Big-endian fixed-width integers, so numeric keys sort numerically.
std::string BigEndian64(uint64_t v);
uint64_t ReadBigEndian64(std::string_view s);
std::string BigEndian32(uint32_t v);
uint32_t ReadBigEndian32(std::string_view s);

}  // namespace datalab::query

#endif  // DATALAB_SERVICES_QUERY_STORE_BACKEND_H_
