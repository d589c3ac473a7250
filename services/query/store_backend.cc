#include "services/query/store_backend.h"

#include <map>
#include <mutex>

#include "absl/synchronization/mutex.h"
#include "common/storage/kv_store.h"

namespace datalab::query {

std::string PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    unsigned char c = static_cast<unsigned char>(s.back());
    if (c != 0xff) {
      s.back() = static_cast<char>(c + 1);
      return s;
    }
    s.pop_back();
  }
  return std::string(64, '\xff');  // no successor: effectively "the end"
}

std::string BigEndian64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}
uint64_t ReadBigEndian64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8 && i < static_cast<int>(s.size()); ++i) {
    v = (v << 8) | static_cast<unsigned char>(s[i]);
  }
  return v;
}
std::string BigEndian32(uint32_t v) {
  std::string s(4, '\0');
  for (int i = 3; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}
uint32_t ReadBigEndian32(std::string_view s) {
  uint32_t v = 0;
  for (int i = 0; i < 4 && i < static_cast<int>(s.size()); ++i) {
    v = (v << 8) | static_cast<unsigned char>(s[i]);
  }
  return v;
}

absl::Status StoreBackend::Scan(Space s, std::string_view prefix,
                                const ScanVisitor& visit) const {
  return ScanRange(s, prefix, PrefixSuccessor(prefix), visit);
}

namespace {

class MemoryBackend : public StoreBackend {
 public:
  absl::StatusOr<std::string> Get(Space s, std::string_view key) const override {
    absl::ReaderMutexLock l(&mu_);
    const auto& m = maps_[static_cast<int>(s)];
    auto it = m.find(key);
    if (it == m.end()) return absl::NotFoundError("key not found");
    return it->second;
  }
  absl::Status Write(const Batch& batch, bool) override {
    if (fail_writes()) return absl::UnavailableError("injected write failure");
    absl::MutexLock l(&mu_);
    for (const auto& m : batch.mutations()) {
      auto& map = maps_[static_cast<int>(m.space)];
      switch (m.kind) {
        case Mutation::Kind::kPut:
          map[m.key] = m.value;
          break;
        case Mutation::Kind::kDelete:
          map.erase(m.key);
          break;
        case Mutation::Kind::kDeleteRange:
          map.erase(map.lower_bound(m.key), map.lower_bound(m.value));
          break;
      }
    }
    return absl::OkStatus();
  }
  absl::Status ScanRange(Space s, std::string_view begin, std::string_view end,
                         const ScanVisitor& visit) const override {
    // Copy out under the lock so visitors may call back into the backend.
    std::vector<std::pair<std::string, std::string>> rows;
    {
      absl::ReaderMutexLock l(&mu_);
      const auto& m = maps_[static_cast<int>(s)];
      for (auto it = m.lower_bound(begin); it != m.end() && it->first < end; ++it) {
        rows.emplace_back(it->first, it->second);
      }
    }
    for (const auto& [k, v] : rows) {
      if (!visit(k, v)) break;
    }
    return absl::OkStatus();
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string, std::less<>> maps_[2];
};

constexpr const char* kSpaceNames[2] = {"meta", "chunks"};

class RocksDbBackend : public StoreBackend {
 public:
  explicit RocksDbBackend(std::unique_ptr<storage::KvStore> kv) : kv_(std::move(kv)) {}
  absl::StatusOr<std::string> Get(Space s, std::string_view key) const override {
    return kv_->Get(kSpaceNames[static_cast<int>(s)], key);
  }
  absl::Status Write(const Batch& batch, bool sync) override {
    if (fail_writes()) return absl::UnavailableError("injected write failure");
    storage::WriteBatch wb(kv_.get());
    for (const auto& m : batch.mutations()) {
      const char* cf = kSpaceNames[static_cast<int>(m.space)];
      switch (m.kind) {
        case Mutation::Kind::kPut:
          wb.Put(cf, m.key, m.value);
          break;
        case Mutation::Kind::kDelete:
          wb.Delete(cf, m.key);
          break;
        case Mutation::Kind::kDeleteRange:
          wb.DeleteRange(cf, m.key, m.value);
          break;
      }
    }
    if (!wb.status().ok()) return wb.status();
    return sync ? kv_->WriteSync(wb) : kv_->Write(wb);
  }
  absl::Status ScanRange(Space s, std::string_view begin, std::string_view end,
                         const ScanVisitor& visit) const override {
    return kv_->ScanRange(kSpaceNames[static_cast<int>(s)], begin, end, visit);
  }

 private:
  std::unique_ptr<storage::KvStore> kv_;
};

}  // namespace

std::unique_ptr<StoreBackend> NewMemoryBackend() { return std::make_unique<MemoryBackend>(); }

absl::StatusOr<std::unique_ptr<StoreBackend>> OpenRocksDbBackend(const std::string& path) {
  storage::KvStoreOptions o;
  o.path = path;
  o.column_families = {"meta", "chunks"};
  o.sync_writes = false;  // manifests and ledgers ask for sync per write
  o.compress = true;
  auto kv = storage::KvStore::Open(o);
  if (!kv.ok()) return kv.status();
  return std::unique_ptr<StoreBackend>(new RocksDbBackend(std::move(*kv)));
}

}  // namespace datalab::query
