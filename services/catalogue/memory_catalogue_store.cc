#include "services/catalogue/memory_catalogue_store.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace datalab::catalogue {

absl::Status MemoryCatalogueStore::WriteRaw(const std::vector<RawPut>& puts) {
  absl::MutexLock l(&mu_);
  for (const RawPut& p : puts) tables_[static_cast<int>(p.table)][p.key] = p.value;
  return absl::OkStatus();
}

absl::StatusOr<std::string> MemoryCatalogueStore::GetRaw(Table table,
                                                         std::string_view key) const {
  absl::MutexLock l(&mu_);
  const auto& t = tables_[static_cast<int>(table)];
  auto it = t.find(key);
  if (it == t.end()) {
    return absl::NotFoundError(absl::StrCat("no such ", std::string(TableName(table)), " record"));
  }
  return it->second;
}

absl::Status MemoryCatalogueStore::ScanRaw(
    Table table, std::string_view prefix,
    const std::function<void(std::string_view, std::string_view)>& visit) const {
  // Copy out under the lock so visitors may call back into the store.
  std::vector<std::pair<std::string, std::string>> rows;
  {
    absl::MutexLock l(&mu_);
    const auto& t = tables_[static_cast<int>(table)];
    for (auto it = t.lower_bound(prefix); it != t.end(); ++it) {
      if (!absl::StartsWith(it->first, absl::string_view(prefix.data(), prefix.size()))) break;
      rows.emplace_back(it->first, it->second);
    }
  }
  for (const auto& [k, v] : rows) visit(k, v);
  return absl::OkStatus();
}

}  // namespace datalab::catalogue
