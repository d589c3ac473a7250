// KvQueryStore: the QueryStore implementation, written once over a
// StoreBackend (RocksDB in production, in-memory in tests).
//
// Key layout (meta keyspace unless noted):
//   s/<pseudonym>                         -> u32 subject id (big-endian)
//   v/<dataset>\0<u64 version>            -> VersionManifest
//   i/<idempotency key>                   -> dataset version name
//   g/<load id>                           -> staging marker (removed on commit)
//   r/<release name>                      -> StoredRelease
//   h/<project>\0<u64 ~time><release|id>  -> QueryHistoryEntry (newest first)
//   l/<project>\0<u64 |set|><release><u32> -> serialized SubjectSet (ledger)
//   e/<project>                           -> "total spent" ε in micros
//   k                                     -> rounding key
//   chunks: c/<load id>/<u32 col>k<u32 chunk> -> engine::EncodeChunk bytes
//           c/<load id>/<u32 col>d            -> CODE dictionary
// A version exists iff its manifest does; the manifest, the idempotency
// key, the dictionaries and the removal of the staging marker are one
// synced batch. Open() deletes the chunks of every remaining staging marker.
//
// Thread safety: as QueryStore. Commits serialise on one mutex; loads and
// scans run concurrently.
#ifndef DATALAB_SERVICES_QUERY_KV_QUERY_STORE_H_
#define DATALAB_SERVICES_QUERY_KV_QUERY_STORE_H_

#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "google/protobuf/arena.h"
#include "services/query/query_store.h"
#include "services/query/store_backend.h"

namespace datalab::query {

class KvQueryStore : public QueryStore {
 public:
  struct Options {
    std::shared_ptr<StoreBackend> backend;  // required
    size_t max_cached_bytes = size_t{4} << 30;
    std::function<int64_t()> now_ms;  // defaults to the system clock
    // Rows per staging flush while writing (bounded memory).
    int chunks_per_flush = 8;
  };
  // Loads the subject dictionary and garbage-collects orphan staging data.
  static absl::StatusOr<std::unique_ptr<KvQueryStore>> Open(const Options& options);
  ~KvQueryStore() override;

  absl::StatusOr<std::unique_ptr<VersionWriter>> BeginVersion(
      const qv1::VersionSpec& spec) override;
  absl::StatusOr<Manifest> ResolveVersion(const std::string& dataset,
                                          std::optional<int64_t> version) const override;
  absl::StatusOr<std::shared_ptr<const LoadedVersion>> Load(const Manifest& manifest) override;
  absl::StatusOr<std::vector<Manifest>> ListVersions(const std::string& dataset) const override;
  absl::StatusOr<std::vector<std::string>> ListDatasets() const override;
  absl::StatusOr<qv1::SubjectRecordsResponse> FindSubjectRecords(
      const std::vector<std::string>& pseudonyms) override;
  absl::StatusOr<qv1::SubjectRecordsResponse> EraseSubjectRecords(
      const std::vector<std::string>& pseudonyms) override;
  absl::Status PutRelease(const std::string& release_name, const qv1::StoredRelease& release,
                          const qv1::QueryHistoryEntry& entry) override;
  absl::Status PutHistory(const qv1::QueryHistoryEntry& entry) override;
  absl::StatusOr<qv1::StoredRelease> GetRelease(const std::string& release_name) const override;
  absl::StatusOr<std::vector<qv1::QueryHistoryEntry>> ListHistory(
      const std::string& project, const std::string& user, int page_size,
      const std::string& page_token, std::string* next_page_token) const override;
  sdc::ReleaseLedger& release_ledger() override { return *release_ledger_; }
  sdc::EpsilonLedger& epsilon_ledger() override { return *epsilon_ledger_; }
  absl::Status SetEpsilonBudget(const std::string& project, int64_t total_micros) override;
  absl::StatusOr<std::pair<int64_t, int64_t>> EpsilonBudget(
      const std::string& project) const override;
  absl::StatusOr<std::string> RoundingKey() override;

  // Staging markers left (tests: crash consistency).
  absl::StatusOr<int> CountStagingData() const;
  size_t cached_bytes() const;
  int64_t NowMs() const { return now_ms_(); }

 private:
  friend class KvVersionWriter;
  explicit KvQueryStore(const Options& options);
  absl::Status Init();
  // Ids for pseudonyms, assigning (and persisting) new ones.
  absl::Status AssignSubjectIds(const std::vector<std::string_view>& pseudonyms,
                                std::vector<uint32_t>* ids);
  std::optional<uint32_t> LookupSubject(const std::string& pseudonym) const;
  absl::StatusOr<std::unique_ptr<VersionWriter>> BeginInternal(
      const qv1::VersionSpec& spec, std::vector<uint32_t> exclude_subjects,
      std::string supersedes);
  absl::StatusOr<Manifest> GetManifest(const std::string& dataset, int64_t version) const;
  absl::StatusOr<Manifest> ResolveVersionLocked(const std::string& name) const;

  Options options_;
  std::shared_ptr<StoreBackend> backend_;
  std::function<int64_t()> now_ms_;
  std::unique_ptr<sdc::ReleaseLedger> release_ledger_;
  std::unique_ptr<sdc::EpsilonLedger> epsilon_ledger_;

  // A copy of `pseudonym` that lives as long as the store: one arena
  // instead of an allocation per pupil. Subjects are never forgotten; the
  // copies of ids rolled back after a failed write stay in the arena
  // (bytes, not pupils) until the store closes.
  absl::string_view KeepPseudonym(std::string_view pseudonym)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(subjects_mu_);

  mutable absl::Mutex subjects_mu_;
  static google::protobuf::ArenaOptions SubjectArenaOptions() {
    google::protobuf::ArenaOptions o;
    o.start_block_size = 1 << 16;
    o.max_block_size = 1 << 20;
    return o;
  }
  google::protobuf::Arena subject_arena_ ABSL_GUARDED_BY(subjects_mu_){SubjectArenaOptions()};
  absl::flat_hash_map<absl::string_view, uint32_t> subjects_ ABSL_GUARDED_BY(subjects_mu_);
  uint32_t next_subject_ ABSL_GUARDED_BY(subjects_mu_) = 0;

  absl::Mutex commit_mu_;  // serialises commits, erasures, ε debits, key creation

  struct CacheEntry {
    std::string key;
    std::shared_ptr<const LoadedVersion> version;
    size_t bytes = 0;
  };
  mutable absl::Mutex cache_mu_;
  std::list<CacheEntry> lru_ ABSL_GUARDED_BY(cache_mu_);  // front: most recent
  absl::flat_hash_map<std::string, std::list<CacheEntry>::iterator> cache_index_
      ABSL_GUARDED_BY(cache_mu_);
  size_t cached_bytes_ ABSL_GUARDED_BY(cache_mu_) = 0;
};

}  // namespace datalab::query

#endif  // DATALAB_SERVICES_QUERY_KV_QUERY_STORE_H_
