#include "services/query/kv_query_store.h"

#include <openssl/rand.h>
#include <roaring/roaring.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <optional>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/encoding.h"
#include "google/protobuf/io/coded_stream.h"
#include "common/crypto/sha256.h"
#include "common/rowbatch/string_column.h"
#include "common/status/status_macros.h"
#include "services/query/sdc/population_index.h"
#include "services/query/sdc/subject_set.h"

namespace datalab::query {
namespace {

namespace c = ::datalab::common::v1;

// Subject dictionary. Older stores hold one key per subject ("s/" +
// pseudonym -> id); new subjects are written as a log, one entry per batch of
// new subjects with consecutive ids: "u/" + big-endian first id -> for each
// subject in id order, varint length + pseudonym. One RocksDB write per batch
// instead of one per pupil (2M random memtable inserts were most of a 2M-row
// load). Both forms are read at open; the map lives in memory.
constexpr char kSubjectPrefix[] = "s/";
constexpr char kSubjectLogPrefix[] = "u/";
constexpr char kVersionPrefix[] = "v/";
constexpr char kIdemPrefix[] = "i/";
constexpr char kStagingPrefix[] = "g/";
constexpr char kReleasePrefix[] = "r/";
constexpr char kHistoryPrefix[] = "h/";
constexpr char kLedgerPrefix[] = "l/";
constexpr char kEpsilonPrefix[] = "e/";
constexpr char kRoundingKey[] = "k";

std::string VersionKeyPrefix(const std::string& dataset) {
  return absl::StrCat(kVersionPrefix, dataset, std::string(1, '\0'));
}
std::string VersionKey(const std::string& dataset, int64_t v) {
  return VersionKeyPrefix(dataset) + BigEndian64(static_cast<uint64_t>(v));
}
std::string ChunkPrefix(const std::string& load_id) { return absl::StrCat("c/", load_id, "/"); }
std::string ChunkKey(const std::string& load_id, uint32_t col, uint32_t chunk) {
  return ChunkPrefix(load_id) + BigEndian32(col) + "k" + BigEndian32(chunk);
}
std::string DictKey(const std::string& load_id, uint32_t col) {
  return ChunkPrefix(load_id) + BigEndian32(col) + "d";
}

std::string RandomHex(int bytes) {
  std::string b(bytes, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(b.data()), bytes);
  return crypto::HexEncode(b);
}

std::string EncodeDictionary(const std::vector<std::string>& dict) {
  std::string out = BigEndian32(static_cast<uint32_t>(dict.size()));
  for (const auto& s : dict) {
    out += BigEndian32(static_cast<uint32_t>(s.size()));
    out += s;
  }
  return out;
}
absl::StatusOr<std::vector<std::string>> DecodeDictionary(std::string_view in) {
  if (in.size() < 4) return absl::DataLossError("dictionary truncated");
  uint32_t n = ReadBigEndian32(in);
  in.remove_prefix(4);
  std::vector<std::string> out;
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    if (in.size() < 4) return absl::DataLossError("dictionary truncated");
    uint32_t len = ReadBigEndian32(in);
    in.remove_prefix(4);
    if (in.size() < len) return absl::DataLossError("dictionary truncated");
    out.emplace_back(in.substr(0, len));
    in.remove_prefix(len);
  }
  return out;
}

absl::StatusOr<engine::ColumnType> EngineType(const qv1::StoredColumn& c) {
  if (c.subject()) {
    if (c.type() != c::STRING && c.type() != c::CODE) {
      return absl::InvalidArgumentError(
          absl::StrCat("column ", c.name(), ": the subject column must be a STRING of pseudonyms"));
    }
    return engine::ColumnType::kSubject;
  }
  switch (c.type()) {
    case c::STRING:
    case c::CODE:
      return engine::ColumnType::kCode;
    case c::INTEGER:
    case c::DATE:
    case c::BOOLEAN:
      return engine::ColumnType::kInt64;
    case c::DECIMAL:
    case c::PERCENTAGE:
      return engine::ColumnType::kDouble;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("column ", c.name(), ": type is unspecified"));
  }
}

size_t ChunkBytes(const engine::Chunk& ch) {
  return ch.i64.size() * 8 + ch.f64.size() * 8 + ch.u32.size() * 4 + ch.missing.size() + 64;
}

// ---------------------------------------------------------------------------
// Ledgers over the backend.

// Durable in the backend; the populations of each project are also kept
// decoded in memory (loaded on first use) so the differencing check does not
// deserialise the ledger once per cell.
class KvReleaseLedger : public sdc::ReleaseLedger {
 public:
  explicit KvReleaseLedger(StoreBackend* b) : b_(b) {}
  absl::Status ForEachSketchedInCardinalityRange(
      std::string_view project, uint64_t min_c, uint64_t max_c,
      absl::FunctionRef<bool(const sdc::SubjectSet&, const sdc::PopulationSketch&)> visit)
      const override {
    return WithHeld(project, [&](const Held& held) {
      held.index.ForEachInCardinalityRange(min_c, max_c, visit);
    });
  }
  absl::Status ForEachNear(
      std::string_view project, const sdc::SubjectSet& a, uint64_t max_difference,
      absl::FunctionRef<bool(const sdc::SubjectSet&, const sdc::PopulationSketch&)> visit)
      const override {
    return WithHeld(project, [&](const Held& held) { held.index.ForEachNear(a, max_difference, visit); });
  }
  absl::Status ForEachWithSmallest(
      std::string_view project, uint32_t smallest_id, uint64_t cardinality,
      absl::FunctionRef<bool(const sdc::SubjectSet&, const sdc::PopulationSketch&)> visit)
      const override {
    return WithHeld(project, [&](const Held& held) {
      held.index.ForEachWithSmallest(smallest_id, cardinality, visit);
    });
  }
  absl::Status Record(std::string_view project, std::string_view release_id,
                      const std::vector<sdc::SubjectSet>& populations) override {
    Batch batch;
    const std::string p(project);
    const std::string prefix = absl::StrCat(kLedgerPrefix, p, std::string(1, '\0'));
    uint32_t i = 0;
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(Held* held, LoadLocked(p));
    // The new populations, each once, and only those the ledger does not
    // hold already (the same query run again adds nothing to the check).
    std::deque<sdc::SubjectSet> fresh_sets;
    sdc::PopulationIndex fresh;
    std::vector<sdc::PopulationSketch> sketches;
    for (const auto& pop : populations) {
      if (pop.IsEmpty()) continue;
      sdc::PopulationSketch sketch = sdc::PopulationSketch::Of(pop);
      if (held->index.Contains(pop, sketch) || fresh.Contains(pop, sketch)) continue;
      fresh_sets.push_back(pop);
      fresh.Add(&fresh_sets.back(), sketch);
      sketches.push_back(sketch);
      batch.Put(Space::kMeta,
                prefix + BigEndian64(pop.Cardinality()) + std::string(release_id) + BigEndian32(i++),
                pop.Serialize());
    }
    if (batch.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(b_->Write(batch, /*sync=*/true));
    for (size_t k = 0; k < fresh_sets.size(); ++k) {
      held->sets.push_back(std::move(fresh_sets[k]));
      held->index.Add(&held->sets.back(), sketches[k]);
    }
    return absl::OkStatus();
  }

 private:
  // One project's ledger in memory: the sets (stable addresses) and their
  // index. Loaded on first use, then kept in step with every Record.
  struct Held {
    std::deque<sdc::SubjectSet> sets;
    sdc::PopulationIndex index;
  };
  absl::StatusOr<Held*> LoadLocked(const std::string& project) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = cache_.find(project);
    if (it != cache_.end()) return it->second.get();
    auto held = std::make_unique<Held>();
    absl::Status bad;
    const std::string prefix = absl::StrCat(kLedgerPrefix, project, std::string(1, '\0'));
    RETURN_IF_ERROR(b_->Scan(Space::kMeta, prefix, [&](std::string_view, std::string_view v) {
      auto set = sdc::SubjectSet::Deserialize(v);
      if (!set.ok()) {
        bad = absl::DataLossError("release ledger entry is unreadable");
        return false;
      }
      held->sets.push_back(std::move(*set));
      held->index.Add(&held->sets.back(), sdc::PopulationSketch::Of(held->sets.back()));
      return true;
    }));
    RETURN_IF_ERROR(bad);
    Held* out = held.get();
    cache_[project] = std::move(held);
    return out;
  }

  // Runs `fn` on the project's ledger under a shared lock (checks of one
  // release run on several threads), loading it first if needed.
  absl::Status WithHeld(std::string_view project,
                        absl::FunctionRef<void(const Held&)> fn) const {
    const std::string p(project);
    {
      absl::ReaderMutexLock l(&mu_);
      auto it = cache_.find(p);
      if (it != cache_.end()) {
        fn(*it->second);
        return absl::OkStatus();
      }
    }
    absl::MutexLock l(&mu_);
    ASSIGN_OR_RETURN(const Held* held, LoadLocked(p));
    fn(*held);
    return absl::OkStatus();
  }

  StoreBackend* b_;
  // Readers share it; Record and the first load of a project hold it alone,
  // so a walk never sees a half-added population.
  mutable absl::Mutex mu_;
  mutable std::map<std::string, std::unique_ptr<Held>> cache_ ABSL_GUARDED_BY(mu_);
};

absl::StatusOr<std::pair<int64_t, int64_t>> ReadBudget(const StoreBackend& b,
                                                       const std::string& project) {
  auto v = b.Get(Space::kMeta, absl::StrCat(kEpsilonPrefix, project));
  if (!v.ok()) return v.status();
  std::vector<std::string> parts = absl::StrSplit(*v, ' ');
  int64_t total = 0, spent = 0;
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &total) ||
      !absl::SimpleAtoi(parts[1], &spent)) {
    return absl::DataLossError("epsilon ledger entry is unreadable");
  }
  return std::make_pair(total, spent);
}

class KvEpsilonLedger : public sdc::EpsilonLedger {
 public:
  explicit KvEpsilonLedger(StoreBackend* b) : b_(b) {}
  absl::Status Debit(std::string_view project, int64_t micros) override {
    if (micros <= 0) return absl::InvalidArgumentError("epsilon debit must be positive");
    absl::MutexLock l(&mu_);
    const std::string p(project);
    auto budget = ReadBudget(*b_, p);
    if (absl::IsNotFound(budget.status()) || (budget.ok() && budget->first <= 0)) {
      return absl::FailedPreconditionError("the project has no differential privacy budget");
    }
    if (!budget.ok()) return budget.status();
    if (budget->second + micros > budget->first) {
      return absl::ResourceExhaustedError("the project's epsilon budget is spent");
    }
    Batch batch;
    batch.Put(Space::kMeta, absl::StrCat(kEpsilonPrefix, p),
              absl::StrCat(budget->first, " ", budget->second + micros));
    return b_->Write(batch, /*sync=*/true);
  }
  absl::Status SetTotal(const std::string& project, int64_t total) {
    absl::MutexLock l(&mu_);
    auto budget = ReadBudget(*b_, project);
    int64_t spent = 0;
    if (budget.ok()) {
      if (budget->first == total) return absl::OkStatus();
      spent = budget->second;
    } else if (!absl::IsNotFound(budget.status())) {
      return budget.status();
    }
    Batch batch;
    batch.Put(Space::kMeta, absl::StrCat(kEpsilonPrefix, project), absl::StrCat(total, " ", spent));
    return b_->Write(batch, /*sync=*/true);
  }

 private:
  StoreBackend* b_;
  absl::Mutex mu_;
};

}  // namespace

absl::StatusOr<std::pair<std::string, int64_t>> ParseVersionName(const std::string& name) {
  std::vector<std::string> parts = absl::StrSplit(name, '/');
  int64_t v = 0;
  if (parts.size() != 4 || parts[0] != "datasets" || parts[1].empty() || parts[2] != "versions" ||
      !absl::SimpleAtoi(parts[3], &v) || v < 1) {
    return absl::InvalidArgumentError(
        "dataset_version must be datasets/{dataset}/versions/{n} with n >= 1");
  }
  for (char ch : parts[1]) {
    if (ch == '\0') return absl::InvalidArgumentError("dataset name contains a NUL byte");
  }
  return std::make_pair("datasets/" + parts[1], v);
}

std::string VersionName(const std::string& dataset, int64_t version) {
  return absl::StrCat(dataset, "/versions/", version);
}

// ---------------------------------------------------------------------------
// The writer.

class KvVersionWriter : public VersionWriter {
 public:
  struct Col {
    qv1::StoredColumn spec;
    engine::ColumnType type;
    engine::Chunk cur;
    std::vector<std::string> dict;
    absl::flat_hash_map<std::string, uint32_t> intern;
    uint32_t chunks = 0;
    std::optional<crypto::Sha256Hasher> hasher;
  };

  KvVersionWriter(KvQueryStore* store, qv1::VersionSpec spec, std::string load_id)
      : store_(store), spec_(std::move(spec)), load_id_(std::move(load_id)) {
    subjects_ = roaring_bitmap_create();
  }
  ~KvVersionWriter() override {
    roaring_bitmap_free(subjects_);
    if (!done_) {
      // Best effort; Open() collects whatever is left after a crash.
      Batch b;
      b.DeleteRange(Space::kChunks, ChunkPrefix(load_id_), PrefixSuccessor(ChunkPrefix(load_id_)));
      b.Delete(Space::kMeta, kStagingPrefix + load_id_);
      (void)store_->backend_->Write(b, false);
    }
  }

  absl::Status Init(std::shared_ptr<const LoadedVersion> base, std::vector<uint32_t> exclude,
                    std::string supersedes) {
    supersedes_ = std::move(supersedes);
    absl::flat_hash_set<std::string> names;
    for (const auto& c : spec_.columns()) {
      if (c.name().empty()) return absl::InvalidArgumentError("a column has an empty name");
      if (!names.insert(absl::AsciiStrToLower(c.name())).second) {
        return absl::InvalidArgumentError(absl::StrCat("column ", c.name(), " appears twice"));
      }
      Col col;
      col.spec = c;
      ASSIGN_OR_RETURN(col.type, EngineType(c));
      if (col.type == engine::ColumnType::kSubject) {
        if (subject_col_ >= 0) {
          return absl::InvalidArgumentError("more than one subject column");
        }
        subject_col_ = static_cast<int>(cols_.size());
      }
      col.cur.type = col.type;
      ASSIGN_OR_RETURN(auto h, crypto::Sha256Hasher::Create());
      col.hasher.emplace(std::move(h));
      cols_.push_back(std::move(col));
    }
    if (cols_.empty()) return absl::InvalidArgumentError("the version has no columns");
    exclude_ = absl::flat_hash_set<uint32_t>(exclude.begin(), exclude.end());
    if (base != nullptr) RETURN_IF_ERROR(CopyBase(*base));
    return absl::OkStatus();
  }

  absl::Status Write(const qv1::RowBatch& batch) override {
    if (done_) return absl::FailedPreconditionError("the version was already committed");
    RETURN_IF_ERROR(CheckNotFailed());
    if (batch.rows() < 0 || batch.rows() > (int64_t{1} << 24)) {
      return absl::InvalidArgumentError("batch rows out of range");
    }
    if (batch.columns_size() != static_cast<int>(cols_.size())) {
      return absl::InvalidArgumentError(absl::StrCat("batch has ", batch.columns_size(),
                                                     " columns, the version has ", cols_.size()));
    }
    const int64_t n = batch.rows();
    // Check the whole batch before appending any of it.
    std::vector<std::optional<rowbatch::StringColumn>> strings(cols_.size());
    for (size_t i = 0; i < cols_.size(); ++i) {
      const auto& v = batch.columns(static_cast<int>(i));
      const Col& col = cols_[i];
      int64_t have = 0;
      switch (col.type) {
        case engine::ColumnType::kInt64: have = v.ints_size(); break;
        case engine::ColumnType::kDouble: have = v.doubles_size(); break;
        default: {
          ASSIGN_OR_RETURN(strings[i], rowbatch::StringColumn::Open(v, n, col.spec.name()));
          have = n;
        }
      }
      if (have != n) {
        return absl::InvalidArgumentError(absl::StrCat("column ", col.spec.name(), ": ", have,
                                                       " values for ", n, " rows"));
      }
      if (!v.missing().empty()) {
        if (static_cast<int64_t>(v.missing().size()) != n) {
          return absl::InvalidArgumentError(
              absl::StrCat("column ", col.spec.name(), ": missing has the wrong length"));
        }
        for (int64_t r = 0; r < n; ++r) {
          if (static_cast<uint8_t>(v.missing()[r]) > engine::kMaxMissingReason) {
            return absl::InvalidArgumentError(absl::StrCat(
                "column ", col.spec.name(), ", batch row ", r + 1, ": unknown missing reason"));
          }
        }
      }
    }
    // Subject ids for the batch (assigning new ones): one per distinct
    // pseudonym in use, then per row.
    std::vector<uint32_t> ids;
    std::vector<bool> keep;  // empty: every row
    if (subject_col_ >= 0) {
      const auto& sc = *strings[subject_col_];
      const std::string& miss = batch.columns(subject_col_).missing();
      auto present = [&](int64_t r) { return miss.empty() || miss[r] == 0; };
      ids.assign(n, 0);
      if (sc.coded()) {
        std::vector<uint32_t> slot(sc.dictionary_size(), UINT32_MAX);
        std::vector<std::string_view> ps;
        for (int64_t r = 0; r < n; ++r) {
          if (!present(r)) continue;
          uint32_t& s = slot[sc.code(r)];
          if (s == UINT32_MAX) {
            s = static_cast<uint32_t>(ps.size());
            ps.push_back(sc.entry(sc.code(r)));
          }
        }
        std::vector<uint32_t> assigned;
        RETURN_IF_ERROR(store_->AssignSubjectIds(ps, &assigned));
        for (int64_t r = 0; r < n; ++r) {
          if (present(r)) ids[r] = assigned[slot[sc.code(r)]];
        }
      } else {
        std::vector<std::string_view> ps;
        ps.reserve(n);
        for (int64_t r = 0; r < n; ++r) ps.push_back(present(r) ? sc.at(r) : std::string_view());
        RETURN_IF_ERROR(store_->AssignSubjectIds(ps, &ids));
      }
      if (!exclude_.empty()) {
        keep.assign(n, true);
        for (int64_t r = 0; r < n; ++r) {
          if (present(r) && !sc.at(r).empty() && exclude_.contains(ids[r])) keep[r] = false;
        }
      }
    }
    // Column by column; every column gets the same rows, so chunks still
    // end at the same row in every column. A failure part-way (a chunk
    // write) leaves the columns uneven: the writer then refuses the rest.
    failed_ = true;
    int64_t kept = 0;
    for (size_t i = 0; i < cols_.size(); ++i) {
      const auto& v = batch.columns(static_cast<int>(i));
      const std::string& miss = v.missing();
      Col& col = cols_[i];
      kept = 0;
      auto each_row = [&](auto&& append) -> absl::Status {
        for (int64_t r = 0; r < n; ++r) {
          if (!keep.empty() && !keep[r]) continue;
          append(r, miss.empty() ? uint8_t{0} : static_cast<uint8_t>(miss[r]));
          ++kept;
          if (col.cur.num_rows == engine::kChunkRows) RETURN_IF_ERROR(FlushChunk(col));
        }
        return absl::OkStatus();
      };
      switch (col.type) {
        case engine::ColumnType::kInt64:
          RETURN_IF_ERROR(each_row([&](int64_t r, uint8_t reason) {
            AppendInt(col, v.ints(static_cast<int>(r)), reason);
          }));
          break;
        case engine::ColumnType::kDouble:
          RETURN_IF_ERROR(each_row([&](int64_t r, uint8_t reason) {
            AppendDouble(col, v.doubles(static_cast<int>(r)), reason);
          }));
          break;
        case engine::ColumnType::kCode: {
          const auto& sc = *strings[i];
          if (sc.coded()) {
            // The batch's dictionary maps to the version's once per entry
            // in use (an entry no row uses is never added).
            std::vector<uint32_t> map(sc.dictionary_size(), UINT32_MAX);
            RETURN_IF_ERROR(each_row([&](int64_t r, uint8_t reason) {
              if (reason != 0) return AppendU32(col, 0, reason);
              uint32_t& m = map[sc.code(r)];
              if (m == UINT32_MAX) m = Intern(col, sc.entry(sc.code(r)));
              AppendU32(col, m, 0);
            }));
          } else {
            RETURN_IF_ERROR(each_row([&](int64_t r, uint8_t reason) {
              AppendU32(col, reason ? 0 : Intern(col, sc.at(r)), reason);
            }));
          }
          break;
        }
        case engine::ColumnType::kSubject: {
          const auto& sc = *strings[i];
          RETURN_IF_ERROR(each_row([&](int64_t r, uint8_t reason) {
            if (reason == 0 && sc.at(r).empty()) reason = engine::kBlank;
            AppendU32(col, ids[r], reason);
          }));
          break;
        }
      }
    }
    failed_ = false;
    rows_ += kept;
    sent_rows_ += n;
    return absl::OkStatus();
  }

  absl::Status CheckNotFailed() const {
    if (!failed_) return absl::OkStatus();
    return absl::FailedPreconditionError(
        "an earlier batch of this version failed part-way; write the version again");
  }

  absl::StatusOr<qv1::WriteDatasetVersionResponse> Commit(const qv1::CommitVersion& commit) override {
    if (done_) return absl::FailedPreconditionError("the version was already committed");
    RETURN_IF_ERROR(CheckNotFailed());
    if (commit.total_rows() != sent_rows_) {
      return absl::InvalidArgumentError(absl::StrCat("commit total_rows is ", commit.total_rows(),
                                                     " but ", sent_rows_, " rows were sent"));
    }
    for (auto& col : cols_) {
      if (col.cur.num_rows > 0 || col.chunks == 0) RETURN_IF_ERROR(FlushChunk(col));
    }
    // Content hash: per column name, type, dictionary and chunk hash.
    ASSIGN_OR_RETURN(auto total, crypto::Sha256Hasher::Create());
    Manifest m;
    m.set_dataset_version(spec_.dataset_version());
    m.set_load_id(load_id_);
    m.set_rows(rows_);
    m.set_distinct_subjects(static_cast<int64_t>(roaring_bitmap_get_cardinality(subjects_)));
    m.set_idempotency_key(spec_.idempotency_key());
    m.set_base_version(base_name_);
    int64_t decoded = 0;
    for (uint32_t i = 0; i < cols_.size(); ++i) {
      Col& col = cols_[i];
      auto* cm = m.add_columns();
      cm->set_name(col.spec.name());
      cm->set_type(col.spec.type());
      cm->set_subject(col.spec.subject());
      cm->set_engine_type(static_cast<int>(col.type));
      cm->set_chunks(static_cast<int>(col.chunks));
      ASSIGN_OR_RETURN(auto digest, col.hasher->Finish());
      std::string dict = EncodeDictionary(col.dict);
      total.Update(absl::StrCat(col.spec.name().size(), ":", col.spec.name(), ":",
                                static_cast<int>(col.type), ":"));
      total.Update(dict);
      total.Update(crypto::ByteView(digest));
      if (col.type == engine::ColumnType::kCode) pending_.Put(Space::kChunks, DictKey(load_id_, i), dict);
      decoded += rows_ * (col.type == engine::ColumnType::kInt64 || col.type == engine::ColumnType::kDouble ? 8 : 4);
    }
    m.set_decoded_bytes(decoded);
    ASSIGN_OR_RETURN(auto content, total.Finish());
    m.set_content_sha256(crypto::HexEncode(content));
    m.set_commit_time_unix_ms(store_->NowMs());
    RETURN_IF_ERROR(store_->backend_->Write(pending_, false));
    pending_ = Batch();

    ASSIGN_OR_RETURN(auto parsed, ParseVersionName(spec_.dataset_version()));
    absl::MutexLock l(&store_->commit_mu_);
    qv1::WriteDatasetVersionResponse resp;
    resp.set_dataset_version(spec_.dataset_version());
    if (!spec_.idempotency_key().empty()) {
      auto prior = store_->backend_->Get(Space::kMeta, kIdemPrefix + spec_.idempotency_key());
      if (prior.ok()) {
        auto pm = store_->ResolveVersionLocked(*prior);
        if (!pm.ok()) return pm.status();
        resp.set_dataset_version(pm->dataset_version());
        resp.set_rows(pm->rows());
        resp.set_distinct_subjects(pm->distinct_subjects());
        resp.set_content_sha256(pm->content_sha256());
        resp.set_already_committed(true);
        return resp;  // the destructor drops our staging data
      }
      if (!absl::IsNotFound(prior.status())) return prior.status();
    }
    auto existing = store_->backend_->Get(Space::kMeta, VersionKey(parsed.first, parsed.second));
    if (existing.ok()) {
      return absl::AlreadyExistsError(absl::StrCat(spec_.dataset_version(),
                                                   " already exists with another idempotency key"));
    }
    Batch b;
    b.Put(Space::kMeta, VersionKey(parsed.first, parsed.second), m.SerializeAsString());
    if (!spec_.idempotency_key().empty()) {
      b.Put(Space::kMeta, kIdemPrefix + spec_.idempotency_key(), spec_.dataset_version());
    }
    b.Delete(Space::kMeta, kStagingPrefix + load_id_);
    if (!supersedes_.empty()) {
      ASSIGN_OR_RETURN(auto old, store_->ResolveVersionLocked(supersedes_));
      ASSIGN_OR_RETURN(auto op, ParseVersionName(supersedes_));
      old.set_superseded_by(spec_.dataset_version());
      b.Put(Space::kMeta, VersionKey(op.first, op.second), old.SerializeAsString());
    }
    RETURN_IF_ERROR(store_->backend_->Write(b, /*sync=*/true));
    done_ = true;
    resp.set_rows(rows_);
    resp.set_distinct_subjects(m.distinct_subjects());
    resp.set_content_sha256(m.content_sha256());
    return resp;
  }

  void set_base_name(std::string n) { base_name_ = std::move(n); }

 private:
  absl::Status CopyBase(const LoadedVersion& base) {
    const engine::Table& t = *base.table;
    // Rows of the replaced slice are dropped.
    const engine::Column* school = nullptr;
    const engine::Column* period = nullptr;
    int64_t school_code = -1, period_code = -1;
    const bool replacing = !spec_.replace_school().empty() || !spec_.replace_period().empty();
    if (replacing) {
      school = t.Find("_school");
      period = t.Find("_period");
      if (school == nullptr || school->type() != engine::ColumnType::kCode) {
        return absl::InvalidArgumentError("REPLACE needs a _school column in the base version");
      }
      auto find = [](const engine::Column* c, const std::string& v) -> int64_t {
        if (c == nullptr) return -2;
        const auto& d = c->dictionary();
        auto it = std::find(d.begin(), d.end(), v);
        return it == d.end() ? -1 : it - d.begin();
      };
      school_code = find(school, spec_.replace_school());
      period_code = find(period, spec_.replace_period());
    }
    // Base column for each spec column (by name), codes remapped through the
    // new dictionary (seeded from the base one, so usually the identity).
    std::vector<const engine::Column*> src(cols_.size(), nullptr);
    for (size_t i = 0; i < cols_.size(); ++i) {
      const engine::Column* bc = t.Find(cols_[i].spec.name());
      if (bc == nullptr) continue;
      const bool compatible =
          bc->type() == cols_[i].type;
      if (!compatible) {
        return absl::InvalidArgumentError(absl::StrCat(
            "column ", cols_[i].spec.name(), ": type differs from the base version"));
      }
      src[i] = bc;
      if (bc->type() == engine::ColumnType::kCode) {
        for (const auto& s : bc->dictionary()) Intern(cols_[i], s);
      }
    }
    const engine::Column* subj = base.subject_column.empty() ? nullptr : t.Find(base.subject_column);
    const size_t nchunks = t.num_rows() == 0 ? 0 : (t.num_rows() + engine::kChunkRows - 1) >> engine::kChunkShift;
    for (size_t ci = 0; ci < nchunks; ++ci) {
      const uint32_t rows = t.columns()[0]->chunks()[ci].num_rows;
      for (uint32_t r = 0; r < rows; ++r) {
        if (replacing) {
          const auto& sc = school->chunks()[ci];
          bool match_school = !sc.IsMissing(r) && static_cast<int64_t>(sc.u32[r]) == school_code;
          bool match_period;
          if (period == nullptr) {
            match_period = spec_.replace_period().empty();
          } else {
            const auto& pc = period->chunks()[ci];
            match_period = pc.IsMissing(r) ? spec_.replace_period().empty()
                                           : static_cast<int64_t>(pc.u32[r]) == period_code;
          }
          if (match_school && match_period) continue;
        }
        if (subj != nullptr && !exclude_.empty()) {
          const auto& sc = subj->chunks()[ci];
          if (!sc.IsMissing(r) && exclude_.contains(sc.u32[r])) continue;
        }
        for (size_t i = 0; i < cols_.size(); ++i) {
          Col& col = cols_[i];
          if (src[i] == nullptr) {
            AppendMissing(col, engine::kNA);
            continue;
          }
          const auto& ch = src[i]->chunks()[ci];
          const uint8_t reason = ch.has_missing() ? ch.missing[r] : 0;
          switch (col.type) {
            case engine::ColumnType::kInt64: AppendInt(col, ch.i64[r], reason); break;
            case engine::ColumnType::kDouble: AppendDouble(col, ch.f64[r], reason); break;
            case engine::ColumnType::kCode:
              AppendU32(col, reason ? 0 : ch.u32[r], reason);  // identity code mapping
              break;
            case engine::ColumnType::kSubject: AppendU32(col, ch.u32[r], reason); break;
          }
        }
        RETURN_IF_ERROR(EndRow());
      }
    }
    return absl::OkStatus();
  }

  uint32_t Intern(Col& col, std::string_view s) {
    auto it = col.intern.find(absl::string_view(s.data(), s.size()));
    if (it != col.intern.end()) return it->second;
    uint32_t code = static_cast<uint32_t>(col.dict.size());
    col.dict.emplace_back(s);
    col.intern.emplace(std::string(s), code);
    return code;
  }
  void MarkMissing(Col& col, uint8_t reason) {
    engine::Chunk& ch = col.cur;
    if (reason != 0 && ch.missing.empty()) ch.missing.assign(ch.num_rows, 0);
    if (!ch.missing.empty()) ch.missing.push_back(reason);
    ++ch.num_rows;
  }
  void AppendInt(Col& col, int64_t v, uint8_t reason) {
    col.cur.i64.push_back(reason ? 0 : v);
    MarkMissing(col, reason);
  }
  void AppendDouble(Col& col, double v, uint8_t reason) {
    col.cur.f64.push_back(reason ? 0.0 : v);
    MarkMissing(col, reason);
  }
  void AppendU32(Col& col, uint32_t v, uint8_t reason) {
    col.cur.u32.push_back(reason ? 0 : v);
    if (reason == 0 && col.type == engine::ColumnType::kSubject) roaring_bitmap_add(subjects_, v);
    MarkMissing(col, reason);
  }
  void AppendMissing(Col& col, uint8_t reason) {
    switch (col.type) {
      case engine::ColumnType::kInt64: AppendInt(col, 0, reason); break;
      case engine::ColumnType::kDouble: AppendDouble(col, 0, reason); break;
      default: AppendU32(col, 0, reason); break;
    }
  }
  absl::Status EndRow() {
    ++rows_;
    if (cols_[0].cur.num_rows == engine::kChunkRows) {
      for (auto& col : cols_) RETURN_IF_ERROR(FlushChunk(col));
    }
    return absl::OkStatus();
  }
  absl::Status FlushChunk(Col& col) {
    std::string bytes = engine::EncodeChunk(col.cur);
    col.hasher->Update(bytes);
    const uint32_t index = static_cast<uint32_t>(&col - cols_.data());
    pending_.Put(Space::kChunks, ChunkKey(load_id_, index, col.chunks++), std::move(bytes));
    engine::Chunk fresh;
    fresh.type = col.type;
    col.cur = std::move(fresh);
    if (++pending_chunks_ >= static_cast<int>(cols_.size()) * store_->options_.chunks_per_flush) {
      RETURN_IF_ERROR(store_->backend_->Write(pending_, false));
      pending_ = Batch();
      pending_chunks_ = 0;
    }
    return absl::OkStatus();
  }

  KvQueryStore* store_;
  qv1::VersionSpec spec_;
  std::string load_id_;
  std::string base_name_;
  std::string supersedes_;
  std::vector<Col> cols_;
  int subject_col_ = -1;
  absl::flat_hash_set<uint32_t> exclude_;
  roaring_bitmap_t* subjects_;
  Batch pending_;
  int pending_chunks_ = 0;
  int64_t rows_ = 0;
  int64_t sent_rows_ = 0;
  bool done_ = false;
  bool failed_ = false;
};

// ---------------------------------------------------------------------------

KvQueryStore::KvQueryStore(const Options& options)
    : options_(options), backend_(options.backend) {
  now_ms_ = options.now_ms ? options.now_ms : [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  release_ledger_ = std::make_unique<KvReleaseLedger>(backend_.get());
  epsilon_ledger_ = std::make_unique<KvEpsilonLedger>(backend_.get());
}

KvQueryStore::~KvQueryStore() = default;

absl::StatusOr<std::unique_ptr<KvQueryStore>> KvQueryStore::Open(const Options& options) {
  if (options.backend == nullptr) return absl::InvalidArgumentError("backend is required");
  std::unique_ptr<KvQueryStore> s(new KvQueryStore(options));
  RETURN_IF_ERROR(s->Init());
  return s;
}

absl::Status KvQueryStore::Init() {
  absl::Status bad;
  {
    absl::MutexLock l(&subjects_mu_);
    RETURN_IF_ERROR(backend_->Scan(Space::kMeta, kSubjectPrefix, [&](std::string_view k, std::string_view v) {
      if (v.size() != 4) {
        bad = absl::DataLossError("subject dictionary entry is unreadable");
        return false;
      }
      uint32_t id = ReadBigEndian32(v);
      subjects_.emplace(KeepPseudonym(k.substr(2)), id);
      next_subject_ = std::max(next_subject_, id + 1);
      return true;
    }));
    RETURN_IF_ERROR(bad);
    RETURN_IF_ERROR(backend_->Scan(Space::kMeta, kSubjectLogPrefix, [&](std::string_view k, std::string_view v) {
      if (k.size() != 6) {
        bad = absl::DataLossError("subject log key is unreadable");
        return false;
      }
      uint32_t id = ReadBigEndian32(k.substr(2));
      google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(v.data()),
                                                static_cast<int>(v.size()));
      while (static_cast<size_t>(in.CurrentPosition()) < v.size()) {
        uint32_t len = 0;
        if (!in.ReadVarint32(&len) || len == 0 ||
            len > v.size() - static_cast<size_t>(in.CurrentPosition())) {
          bad = absl::DataLossError("subject log entry is unreadable");
          return false;
        }
        subjects_.emplace(KeepPseudonym(v.substr(in.CurrentPosition(), len)), id);
        next_subject_ = std::max(next_subject_, id + 1);
        ++id;
        in.Skip(static_cast<int>(len));
      }
      return true;
    }));
  }
  RETURN_IF_ERROR(bad);
  // Orphan staging data of loads that never committed.
  std::vector<std::string> orphans;
  RETURN_IF_ERROR(backend_->Scan(Space::kMeta, kStagingPrefix, [&](std::string_view k, std::string_view) {
    orphans.emplace_back(k.substr(2));
    return true;
  }));
  if (!orphans.empty()) {
    Batch b;
    for (const auto& id : orphans) {
      b.DeleteRange(Space::kChunks, ChunkPrefix(id), PrefixSuccessor(ChunkPrefix(id)));
      b.Delete(Space::kMeta, kStagingPrefix + id);
    }
    RETURN_IF_ERROR(backend_->Write(b, true));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> KvQueryStore::CountStagingData() const {
  int n = 0;
  RETURN_IF_ERROR(backend_->Scan(Space::kMeta, kStagingPrefix, [&](std::string_view, std::string_view) {
    ++n;
    return true;
  }));
  // Chunks that no manifest references also count.
  absl::flat_hash_set<std::string> live;
  RETURN_IF_ERROR(backend_->Scan(Space::kMeta, kVersionPrefix, [&](std::string_view, std::string_view v) {
    Manifest m;
    if (m.ParseFromArray(v.data(), static_cast<int>(v.size()))) live.insert(m.load_id());
    return true;
  }));
  RETURN_IF_ERROR(backend_->Scan(Space::kChunks, "c/", [&](std::string_view k, std::string_view) {
    std::string_view rest = k.substr(2);
    std::string id(rest.substr(0, rest.find('/')));
    if (!live.contains(id)) ++n;
    return true;
  }));
  return n;
}

absl::string_view KvQueryStore::KeepPseudonym(std::string_view pseudonym) {
  char* p = google::protobuf::Arena::CreateArray<char>(&subject_arena_, pseudonym.size());
  std::memcpy(p, pseudonym.data(), pseudonym.size());
  return absl::string_view(p, pseudonym.size());
}

absl::Status KvQueryStore::AssignSubjectIds(const std::vector<std::string_view>& pseudonyms,
                                            std::vector<uint32_t>* ids) {
  ids->assign(pseudonyms.size(), 0);
  absl::MutexLock l(&subjects_mu_);
  const uint32_t first = next_subject_;
  std::string log;  // the new subjects, in id order
  std::vector<std::string_view> added;
  subjects_.reserve(subjects_.size() + pseudonyms.size());
  // The table outgrows the caches on a big load, so each look-up would wait
  // on memory: ask for the slots a few keys ahead while this one is handled.
  constexpr size_t kAhead = 8;
  for (size_t i = 0; i < pseudonyms.size() && i < kAhead; ++i) {
    subjects_.prefetch(absl::string_view(pseudonyms[i].data(), pseudonyms[i].size()));
  }
  for (size_t i = 0; i < pseudonyms.size(); ++i) {
    if (i + kAhead < pseudonyms.size()) {
      const std::string_view next = pseudonyms[i + kAhead];
      subjects_.prefetch(absl::string_view(next.data(), next.size()));
    }
    if (pseudonyms[i].empty()) continue;
    const absl::string_view key(pseudonyms[i].data(), pseudonyms[i].size());
    bool is_new = false;
    auto it = subjects_.lazy_emplace(key, [&](const auto& ctor) {
      is_new = true;
      ctor(KeepPseudonym(std::string_view(key.data(), key.size())), next_subject_);
    });
    if (!is_new) {
      (*ids)[i] = it->second;
      continue;
    }
    if (next_subject_ == UINT32_MAX) {
      subjects_.erase(it);
      for (std::string_view p : added) subjects_.erase(absl::string_view(p.data(), p.size()));
      next_subject_ = first;
      return absl::ResourceExhaustedError("subject ids exhausted");
    }
    const uint32_t id = next_subject_++;
    added.push_back(pseudonyms[i]);
    char len[5];  // a varint32 takes at most 5 bytes
    const uint8_t* end = google::protobuf::io::CodedOutputStream::WriteVarint32ToArray(
        static_cast<uint32_t>(pseudonyms[i].size()), reinterpret_cast<uint8_t*>(len));
    log.append(len, reinterpret_cast<const char*>(end) - len);
    log.append(pseudonyms[i].data(), pseudonyms[i].size());
    (*ids)[i] = id;
  }
  if (!added.empty()) {
    Batch b;
    b.Put(Space::kMeta, kSubjectLogPrefix + BigEndian32(first), std::move(log));
    absl::Status s = backend_->Write(b, false);
    if (!s.ok()) {
      // Keep memory and disk in step: forget the unsaved ids.
      for (std::string_view p : added) subjects_.erase(absl::string_view(p.data(), p.size()));
      next_subject_ = first;
      return s;
    }
  }
  return absl::OkStatus();
}

std::optional<uint32_t> KvQueryStore::LookupSubject(const std::string& pseudonym) const {
  absl::ReaderMutexLock l(&subjects_mu_);
  auto it = subjects_.find(absl::string_view(pseudonym));
  if (it == subjects_.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<Manifest> KvQueryStore::GetManifest(const std::string& dataset, int64_t version) const {
  auto v = backend_->Get(Space::kMeta, VersionKey(dataset, version));
  if (absl::IsNotFound(v.status())) {
    return absl::NotFoundError(absl::StrCat(VersionName(dataset, version), " does not exist"));
  }
  if (!v.ok()) return v.status();
  Manifest m;
  if (!m.ParseFromString(*v)) return absl::DataLossError("version manifest is unreadable");
  return m;
}

absl::StatusOr<Manifest> KvQueryStore::ResolveVersionLocked(const std::string& name) const {
  ASSIGN_OR_RETURN(auto p, ParseVersionName(name));
  return GetManifest(p.first, p.second);
}

absl::StatusOr<Manifest> KvQueryStore::ResolveVersion(const std::string& dataset,
                                                      std::optional<int64_t> version) const {
  if (version.has_value()) return GetManifest(dataset, *version);
  std::optional<Manifest> last;
  absl::Status bad;
  const std::string prefix = VersionKeyPrefix(dataset);
  RETURN_IF_ERROR(backend_->Scan(Space::kMeta, prefix, [&](std::string_view, std::string_view v) {
    Manifest m;
    if (!m.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = absl::DataLossError("version manifest is unreadable");
      return false;
    }
    last = std::move(m);
    return true;
  }));
  RETURN_IF_ERROR(bad);
  if (!last.has_value()) {
    return absl::NotFoundError(absl::StrCat(dataset, " has no stored version"));
  }
  return *last;
}

absl::StatusOr<std::vector<Manifest>> KvQueryStore::ListVersions(const std::string& dataset) const {
  std::vector<Manifest> out;
  absl::Status bad;
  RETURN_IF_ERROR(backend_->Scan(Space::kMeta, VersionKeyPrefix(dataset), [&](std::string_view, std::string_view v) {
    Manifest m;
    if (!m.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = absl::DataLossError("version manifest is unreadable");
      return false;
    }
    out.push_back(std::move(m));
    return true;
  }));
  RETURN_IF_ERROR(bad);
  return out;
}

absl::StatusOr<std::vector<std::string>> KvQueryStore::ListDatasets() const {
  std::vector<std::string> out;
  RETURN_IF_ERROR(backend_->Scan(Space::kMeta, kVersionPrefix, [&](std::string_view k, std::string_view) {
    std::string_view rest = k.substr(2);
    std::string d(rest.substr(0, rest.find('\0')));
    if (out.empty() || out.back() != d) out.push_back(std::move(d));
    return true;
  }));
  return out;
}

absl::StatusOr<std::unique_ptr<VersionWriter>> KvQueryStore::BeginVersion(const qv1::VersionSpec& spec) {
  return BeginInternal(spec, {}, "");
}

absl::StatusOr<std::unique_ptr<VersionWriter>> KvQueryStore::BeginInternal(
    const qv1::VersionSpec& spec, std::vector<uint32_t> exclude, std::string supersedes) {
  ASSIGN_OR_RETURN(auto target, ParseVersionName(spec.dataset_version()));
  std::shared_ptr<const LoadedVersion> base;
  std::string base_name;
  if (!spec.base_version().empty()) {
    ASSIGN_OR_RETURN(auto bp, ParseVersionName(spec.base_version()));
    if (bp.first != target.first) {
      return absl::InvalidArgumentError("base_version must be a version of the same dataset");
    }
    ASSIGN_OR_RETURN(Manifest bm, GetManifest(bp.first, bp.second));
    // A base superseded by an erasure is read through its successor, so an
    // append never brings erased subjects back.
    for (int hops = 0; !bm.superseded_by().empty() && hops < 1000; ++hops) {
      ASSIGN_OR_RETURN(bm, ResolveVersionLocked(bm.superseded_by()));
    }
    base_name = bm.dataset_version();
    ASSIGN_OR_RETURN(base, Load(bm));
  } else if (!spec.replace_school().empty() || !spec.replace_period().empty()) {
    return absl::InvalidArgumentError("replace_school/replace_period need a base_version");
  }
  if (!spec.idempotency_key().empty()) {
    auto prior = backend_->Get(Space::kMeta, kIdemPrefix + spec.idempotency_key());
    if (!prior.ok() && !absl::IsNotFound(prior.status())) return prior.status();
  }
  if (spec.idempotency_key().empty() || !backend_->Get(Space::kMeta, kIdemPrefix + spec.idempotency_key()).ok()) {
    auto existing = backend_->Get(Space::kMeta, VersionKey(target.first, target.second));
    if (existing.ok()) {
      return absl::AlreadyExistsError(
          absl::StrCat(spec.dataset_version(), " already exists with another idempotency key"));
    }
  }
  std::string load_id = RandomHex(12);
  Batch marker;
  marker.Put(Space::kMeta, kStagingPrefix + load_id, spec.dataset_version());
  RETURN_IF_ERROR(backend_->Write(marker, false));
  auto w = std::make_unique<KvVersionWriter>(this, spec, load_id);
  w->set_base_name(base_name);
  RETURN_IF_ERROR(w->Init(std::move(base), std::move(exclude), std::move(supersedes)));
  return std::unique_ptr<VersionWriter>(std::move(w));
}

absl::StatusOr<std::shared_ptr<const LoadedVersion>> KvQueryStore::Load(const Manifest& manifest) {
  const std::string key = manifest.dataset_version() + "#" + manifest.load_id();
  {
    absl::MutexLock l(&cache_mu_);
    auto it = cache_index_.find(key);
    if (it != cache_index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      return it->second->version;
    }
  }
  auto lv = std::make_shared<LoadedVersion>();
  lv->manifest = manifest;
  std::vector<std::shared_ptr<const engine::Column>> columns;
  size_t bytes = 0;
  for (int i = 0; i < manifest.columns_size(); ++i) {
    const auto& cm = manifest.columns(i);
    const auto type = static_cast<engine::ColumnType>(cm.engine_type());
    std::vector<engine::Chunk> chunks;
    chunks.reserve(cm.chunks());
    absl::Status bad;
    const std::string prefix = ChunkPrefix(manifest.load_id()) + BigEndian32(i) + "k";
    RETURN_IF_ERROR(backend_->Scan(Space::kChunks, prefix, [&](std::string_view, std::string_view v) {
      auto ch = engine::DecodeChunk(std::string_view(v.data(), v.size()));
      if (!ch.ok()) {
        bad = ch.status();
        return false;
      }
      bytes += ChunkBytes(*ch);
      chunks.push_back(std::move(*ch));
      return true;
    }));
    RETURN_IF_ERROR(bad);
    if (static_cast<int>(chunks.size()) != cm.chunks()) {
      return absl::DataLossError(absl::StrCat(manifest.dataset_version(), " column ", cm.name(),
                                              ": chunks are missing"));
    }
    // A zero-row version is stored as one empty chunk; the engine wants none.
    if (manifest.rows() == 0) chunks.clear();
    std::vector<std::string> dict;
    if (type == engine::ColumnType::kCode) {
      ASSIGN_OR_RETURN(std::string d, backend_->Get(Space::kChunks, DictKey(manifest.load_id(), i)));
      ASSIGN_OR_RETURN(dict, DecodeDictionary(d));
      for (const auto& s : dict) bytes += s.size() + 32;
    }
    if (cm.subject()) lv->subject_column = cm.name();
    ASSIGN_OR_RETURN(auto col, engine::Column::Create(cm.name(), type, std::move(dict), std::move(chunks)));
    columns.push_back(std::move(col));
  }
  ASSIGN_OR_RETURN(lv->table, engine::Table::Create(manifest.dataset_version(), std::move(columns)));
  std::shared_ptr<const LoadedVersion> out = lv;
  absl::MutexLock l(&cache_mu_);
  auto it = cache_index_.find(key);
  if (it != cache_index_.end()) return it->second->version;  // another thread won
  lru_.push_front({key, out, bytes});
  cache_index_[key] = lru_.begin();
  cached_bytes_ += bytes;
  while (cached_bytes_ > options_.max_cached_bytes && lru_.size() > 1) {
    auto& last = lru_.back();
    cached_bytes_ -= last.bytes;
    cache_index_.erase(last.key);
    lru_.pop_back();
  }
  return out;
}

size_t KvQueryStore::cached_bytes() const {
  absl::MutexLock l(&cache_mu_);
  return cached_bytes_;
}

namespace {
// Rows of `lv` whose subject is in `ids`.
int64_t CountSubjectRows(const LoadedVersion& lv, const absl::flat_hash_set<uint32_t>& ids) {
  if (lv.subject_column.empty()) return 0;
  const engine::Column* c = lv.table->Find(lv.subject_column);
  int64_t n = 0;
  for (const auto& ch : c->chunks()) {
    for (uint32_t r = 0; r < ch.num_rows; ++r) {
      if (!ch.IsMissing(r) && ids.contains(ch.u32[r])) ++n;
    }
  }
  return n;
}
}  // namespace

absl::StatusOr<qv1::SubjectRecordsResponse> KvQueryStore::FindSubjectRecords(
    const std::vector<std::string>& pseudonyms) {
  absl::flat_hash_set<uint32_t> ids;
  for (const auto& p : pseudonyms) {
    if (auto id = LookupSubject(p)) ids.insert(*id);
  }
  qv1::SubjectRecordsResponse resp;
  if (ids.empty()) return resp;
  ASSIGN_OR_RETURN(auto datasets, ListDatasets());
  for (const auto& d : datasets) {
    ASSIGN_OR_RETURN(auto versions, ListVersions(d));
    qv1::SubjectDatasetRecords rec;
    rec.set_dataset(d);
    for (const auto& m : versions) {
      ASSIGN_OR_RETURN(auto lv, Load(m));
      const int64_t n = CountSubjectRows(*lv, ids);
      if (n > 0) rec.add_versions(m.dataset_version());
      if (&m == &versions.back()) rec.set_records(n);
    }
    if (rec.versions_size() > 0) *resp.add_datasets() = std::move(rec);
  }
  return resp;
}

absl::StatusOr<qv1::SubjectRecordsResponse> KvQueryStore::EraseSubjectRecords(
    const std::vector<std::string>& pseudonyms) {
  absl::flat_hash_set<uint32_t> ids;
  for (const auto& p : pseudonyms) {
    if (auto id = LookupSubject(p)) ids.insert(*id);
  }
  qv1::SubjectRecordsResponse resp;
  if (ids.empty()) return resp;
  std::vector<uint32_t> exclude(ids.begin(), ids.end());
  ASSIGN_OR_RETURN(auto datasets, ListDatasets());
  for (const auto& d : datasets) {
    ASSIGN_OR_RETURN(Manifest latest, ResolveVersion(d, std::nullopt));
    ASSIGN_OR_RETURN(auto lv, Load(latest));
    const int64_t n = CountSubjectRows(*lv, ids);
    if (n == 0) continue;
    ASSIGN_OR_RETURN(auto parsed, ParseVersionName(latest.dataset_version()));
    qv1::VersionSpec spec;
    spec.set_dataset_version(VersionName(d, parsed.second + 1));
    spec.set_base_version(latest.dataset_version());
    spec.set_idempotency_key(absl::StrCat("erase:", RandomHex(12)));
    for (const auto& cm : latest.columns()) {
      auto* sc = spec.add_columns();
      sc->set_name(cm.name());
      sc->set_type(cm.type());
      sc->set_subject(cm.subject());
    }
    ASSIGN_OR_RETURN(auto writer, BeginInternal(spec, exclude, latest.dataset_version()));
    qv1::CommitVersion commit;
    ASSIGN_OR_RETURN(auto r, writer->Commit(commit));
    qv1::SubjectDatasetRecords rec;
    rec.set_dataset(d);
    rec.set_records(n);
    rec.add_versions(latest.dataset_version());
    rec.set_new_version(r.dataset_version());
    *resp.add_datasets() = std::move(rec);
  }
  return resp;
}

absl::Status KvQueryStore::PutRelease(const std::string& release_name,
                                      const qv1::StoredRelease& release,
                                      const qv1::QueryHistoryEntry& entry) {
  Batch b;
  b.Put(Space::kMeta, kReleasePrefix + release_name, release.SerializeAsString());
  std::string project = entry.name().substr(0, entry.name().find("/queries/"));
  b.Put(Space::kMeta,
        absl::StrCat(kHistoryPrefix, project, std::string(1, '\0'),
                     BigEndian64(~static_cast<uint64_t>(entry.time_unix_ms())), entry.name()),
        entry.SerializeAsString());
  return backend_->Write(b, /*sync=*/true);
}

absl::Status KvQueryStore::PutHistory(const qv1::QueryHistoryEntry& entry) {
  Batch b;
  std::string project = entry.name().substr(0, entry.name().find("/queries/"));
  b.Put(Space::kMeta,
        absl::StrCat(kHistoryPrefix, project, std::string(1, '\0'),
                     BigEndian64(~static_cast<uint64_t>(entry.time_unix_ms())), entry.name()),
        entry.SerializeAsString());
  return backend_->Write(b, /*sync=*/true);
}

absl::StatusOr<qv1::StoredRelease> KvQueryStore::GetRelease(const std::string& release_name) const {
  auto v = backend_->Get(Space::kMeta, kReleasePrefix + release_name);
  if (absl::IsNotFound(v.status())) return absl::NotFoundError(absl::StrCat(release_name, " not found"));
  if (!v.ok()) return v.status();
  qv1::StoredRelease r;
  if (!r.ParseFromString(*v)) return absl::DataLossError("stored release is unreadable");
  return r;
}

absl::StatusOr<std::vector<qv1::QueryHistoryEntry>> KvQueryStore::ListHistory(
    const std::string& project, const std::string& user, int page_size,
    const std::string& page_token, std::string* next_page_token) const {
  if (page_size <= 0 || page_size > 1000) page_size = 100;
  const std::string prefix = absl::StrCat(kHistoryPrefix, project, std::string(1, '\0'));
  std::string begin = prefix;
  if (!page_token.empty()) {
    auto raw = crypto::HexDecode(page_token);
    if (!raw.ok() || raw->rfind(prefix, 0) != 0) {
      return absl::InvalidArgumentError("page_token is not valid for this project");
    }
    begin = *raw + std::string(1, '\0');
  }
  std::vector<qv1::QueryHistoryEntry> out;
  next_page_token->clear();
  absl::Status bad;
  RETURN_IF_ERROR(backend_->ScanRange(Space::kMeta, begin, PrefixSuccessor(prefix),
                                      [&](std::string_view k, std::string_view v) {
    qv1::QueryHistoryEntry e;
    if (!e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
      bad = absl::DataLossError("history entry is unreadable");
      return false;
    }
    if (e.user() != user) return true;
    if (static_cast<int>(out.size()) == page_size) {
      return false;
    }
    out.push_back(std::move(e));
    if (static_cast<int>(out.size()) == page_size) *next_page_token = crypto::HexEncode(std::string(k));
    return true;
  }));
  RETURN_IF_ERROR(bad);
  return out;
}

absl::Status KvQueryStore::SetEpsilonBudget(const std::string& project, int64_t total_micros) {
  return static_cast<KvEpsilonLedger*>(epsilon_ledger_.get())->SetTotal(project, total_micros);
}

absl::StatusOr<std::pair<int64_t, int64_t>> KvQueryStore::EpsilonBudget(
    const std::string& project) const {
  auto b = ReadBudget(*backend_, project);
  if (absl::IsNotFound(b.status())) return std::make_pair(int64_t{0}, int64_t{0});
  return b;
}

absl::StatusOr<std::string> KvQueryStore::RoundingKey() {
  absl::MutexLock l(&commit_mu_);
  auto v = backend_->Get(Space::kMeta, kRoundingKey);
  if (v.ok()) return *v;
  if (!absl::IsNotFound(v.status())) return v.status();
  std::string key(32, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), 32) != 1) {
    return absl::InternalError("CSPRNG failed");
  }
  Batch b;
  b.Put(Space::kMeta, kRoundingKey, key);
  RETURN_IF_ERROR(backend_->Write(b, true));
  return key;
}

}  // namespace datalab::query
