#include "services/catalogue/rocksdb_catalogue_store.h"

#include "common/status/status_macros.h"

namespace datalab::catalogue {

absl::StatusOr<std::unique_ptr<RocksDbCatalogueStore>> RocksDbCatalogueStore::Open(
    const Options& options) {
  storage::KvStoreOptions kv;
  kv.path = options.path;
  for (Table t : kAllTables) kv.column_families.emplace_back(TableName(t));
  // Governance changes are few and precious: fsync each one.
  kv.sync_writes = true;
  kv.block_cache_bytes = 8 << 20;
  ASSIGN_OR_RETURN(auto store, storage::KvStore::Open(kv));
  return std::unique_ptr<RocksDbCatalogueStore>(new RocksDbCatalogueStore(std::move(store)));
}

absl::Status RocksDbCatalogueStore::WriteRaw(const std::vector<RawPut>& puts) {
  storage::WriteBatch batch(kv_.get());
  for (const RawPut& p : puts) batch.Put(TableName(p.table), p.key, p.value);
  RETURN_IF_ERROR(batch.status());
  return kv_->Write(batch);
}

absl::StatusOr<std::string> RocksDbCatalogueStore::GetRaw(Table table,
                                                          std::string_view key) const {
  return kv_->Get(TableName(table), key);
}

absl::Status RocksDbCatalogueStore::ScanRaw(
    Table table, std::string_view prefix,
    const std::function<void(std::string_view, std::string_view)>& visit) const {
  return kv_->Scan(TableName(table), prefix, [&](std::string_view k, std::string_view v) {
    visit(k, v);
    return true;
  });
}

}  // namespace datalab::catalogue
