// Persistence of the catalogue: datasets, schema versions, dataset versions,
// projects, users, the trust floor and ingestion idempotency keys.
//
// CatalogueStore is the interface the domain (catalogue.h) uses. Its typed
// methods are implemented once here on top of a small raw key/value contract
// (GetRaw / ScanRaw / WriteRaw) that each backend provides:
//   MemoryCatalogueStore   (memory_catalogue_store.h)  tests
//   RocksDbCatalogueStore  (rocksdb_catalogue_store.h) production
// One conformance suite (catalogue_store_conformance_test.cc) runs against
// both. Records are stored as serialized protobufs.
//
// Apply() is atomic: every record of a CatalogueWrite lands or none does.
// The store does not validate: the domain validates fully before writing.
// Lookups of absent records return NOT_FOUND; unparsable stored records
// DATA_LOSS. Thread-safe.
#ifndef DATALAB_SERVICES_CATALOGUE_CATALOGUE_STORE_H_
#define DATALAB_SERVICES_CATALOGUE_CATALOGUE_STORE_H_

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datalab/catalogue/v1/catalogue.pb.h"

namespace datalab::catalogue {

namespace cv1 = ::datalab::catalogue::v1;

// Logical tables; the RocksDB store keeps one column family per table.
enum class Table { kDatasets, kSchemas, kVersions, kProjects, kUsers, kMeta };
inline constexpr Table kAllTables[] = {Table::kDatasets, Table::kSchemas, Table::kVersions,
                                       Table::kProjects, Table::kUsers,   Table::kMeta};
std::string_view TableName(Table t);

// One atomic change. Records are keyed by their `name` (resource name).
struct CatalogueWrite {
  std::vector<cv1::Dataset> datasets;
  std::vector<cv1::Schema> schemas;
  std::vector<cv1::DatasetVersion> versions;
  std::vector<cv1::Project> projects;
  std::vector<cv1::User> users;
  std::optional<cv1::TrustFloor> floor;
  // Ingestion request ids -> the dataset version name they created.
  std::vector<std::pair<std::string, std::string>> request_ids;
};

class CatalogueStore {
 public:
  virtual ~CatalogueStore() = default;

  absl::Status Apply(const CatalogueWrite& write);

  // `id` is the last segment of the resource name.
  absl::StatusOr<cv1::Dataset> GetDataset(std::string_view id) const;
  absl::StatusOr<std::vector<cv1::Dataset>> ListDatasets() const;  // by id
  absl::StatusOr<cv1::Schema> GetSchema(std::string_view dataset_id, int32_t version) const;
  // Oldest first.
  absl::StatusOr<std::vector<cv1::Schema>> ListSchemas(std::string_view dataset_id) const;
  absl::StatusOr<cv1::DatasetVersion> GetVersion(std::string_view dataset_id,
                                                 int32_t version) const;
  // Oldest first.
  absl::StatusOr<std::vector<cv1::DatasetVersion>> ListVersions(
      std::string_view dataset_id) const;
  absl::StatusOr<cv1::Project> GetProject(std::string_view id) const;
  absl::StatusOr<std::vector<cv1::Project>> ListProjects() const;  // by id
  absl::StatusOr<cv1::User> GetUser(std::string_view id) const;
  absl::StatusOr<std::vector<cv1::User>> ListUsers() const;  // by id
  // std::nullopt until an admin first sets it.
  absl::StatusOr<std::optional<cv1::TrustFloor>> GetTrustFloor() const;
  // The dataset version name a request id created, std::nullopt if unseen.
  absl::StatusOr<std::optional<std::string>> GetRequest(std::string_view request_id) const;

 protected:
  struct RawPut {
    Table table;
    std::string key;
    std::string value;
  };
  // All puts or none.
  virtual absl::Status WriteRaw(const std::vector<RawPut>& puts) = 0;
  // NOT_FOUND when absent.
  virtual absl::StatusOr<std::string> GetRaw(Table table, std::string_view key) const = 0;
  // Keys with `prefix` in byte order.
  virtual absl::Status ScanRaw(
      Table table, std::string_view prefix,
      const std::function<void(std::string_view key, std::string_view value)>& visit) const = 0;
};

// Keys (exposed for the backends' tests).
std::string VersionedKey(std::string_view dataset_id, int32_t version);

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_CATALOGUE_STORE_H_
