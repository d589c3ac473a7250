// In-memory CatalogueStore for unit tests. Thread-safe (one mutex); Apply is
// atomic because it runs under the mutex and cannot fail part way.
#ifndef DATALAB_SERVICES_CATALOGUE_MEMORY_CATALOGUE_STORE_H_
#define DATALAB_SERVICES_CATALOGUE_MEMORY_CATALOGUE_STORE_H_

#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "services/catalogue/catalogue_store.h"

namespace datalab::catalogue {

class MemoryCatalogueStore : public CatalogueStore {
 protected:
  absl::Status WriteRaw(const std::vector<RawPut>& puts) override;
  absl::StatusOr<std::string> GetRaw(Table table, std::string_view key) const override;
  absl::Status ScanRaw(Table table, std::string_view prefix,
                       const std::function<void(std::string_view, std::string_view)>& visit)
      const override;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::string, std::less<>> tables_[6] ABSL_GUARDED_BY(mu_);
};

}  // namespace datalab::catalogue

#endif  // DATALAB_SERVICES_CATALOGUE_MEMORY_CATALOGUE_STORE_H_
