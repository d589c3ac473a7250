// CatalogueStore over the service's RocksDB (common/storage KvStore), one
// column family per table. Apply() is one WriteBatch, so a change lands
// completely or not at all, and survives a process crash once it returns.
// Thread-safe (RocksDB is).
#ifndef DATALAB_SERVICES_CATALOGUE_ROCKSDB_CATALOGUE_STORE_H_
#define DATALAB_SERVICES_CATALOGUE_ROCKSDB_CATALOGUE_STORE_H_

#include <memory>
#include <string>

#include "common/storage/kv_store.h"
#include "services/catalogue/catalogue_store.h"

namespace datalab::catalogue {

class RocksDbCatalogueStore : public CatalogueStore {
 public:
  struct Options {
    std::string path;  // directory, created if missing
  };
  static absl::StatusOr<std::unique_ptr<RocksDbCatalogueStore>> Open(const Options& options);

 protected:
  absl::Status WriteRaw(const std::vector<RawPut>& puts) override;
  absl::StatusOr<std::string> GetRaw(Table table, std::string_view key) const override;
  absl::Status ScanRaw(Table table, std::string_view prefix,
                       const std::function<void(std::string_view, std::string_view)>& visit)
      const override;

 private:
  explicit RocksDbCatalogueStore(std::unique_ptr<storage::KvStore> kv) : kv_(std::move(kv)) {}
  std::unique_ptr<storage::KvStore> kv_;
};

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_ROCKSDB_CATALOGUE_STORE_H_
