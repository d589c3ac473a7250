#include "common/storage/kv_store.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "rocksdb/table.h"
#include "rocksdb/cache.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"

namespace datalab::storage {

namespace {

// RocksDB messages name files by absolute path; callers (and, through a
// service, researchers) get the file name only, not the server's layout.
std::string RedactPaths(const std::string& in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    const bool starts_token = i == 0 || in[i - 1] == ' ' || in[i - 1] == '\'' ||
                              in[i - 1] == '"' || in[i - 1] == '(' || in[i - 1] == '=';
    if (in[i] == '/' && starts_token) {
      size_t end = in.find_first_of(" :'\"),", i);
      if (end == std::string::npos) end = in.size();
      const std::string_view token(in.data() + i, end - i);
      out += "…/";
      out += token.substr(token.rfind('/') + 1);
      i = end;
      continue;
    }
    out += in[i++];
  }
  return out;
}

}  // namespace

absl::Status ToAbslStatus(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  // The RocksDB message names files (redacted to their names); it never
  // holds user data.
  std::string msg = absl::StrCat(std::string(context), ": ", RedactPaths(s.ToString()));
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(msg);
  switch (s.code()) {
    case rocksdb::Status::kNotFound:
      return absl::NotFoundError(msg);
    case rocksdb::Status::kCorruption:
      return absl::DataLossError(msg);
    case rocksdb::Status::kInvalidArgument:
    case rocksdb::Status::kNotSupported:
      return absl::InvalidArgumentError(msg);
    case rocksdb::Status::kBusy:
    case rocksdb::Status::kTryAgain:
      return absl::AbortedError(msg);
    case rocksdb::Status::kTimedOut:
      return absl::DeadlineExceededError(msg);
    case rocksdb::Status::kIncomplete:
    case rocksdb::Status::kShutdownInProgress:
    case rocksdb::Status::kIOError:
    case rocksdb::Status::kAborted:
    default:
      return absl::UnavailableError(msg);
  }
}

void WriteBatch::Put(std::string_view cf, std::string_view key, std::string_view value) {
  auto h = store_->Handle(cf);
  if (!h.ok()) {
    status_.Update(h.status());
    return;
  }
  batch_.Put(*h, rocksdb::Slice(key.data(), key.size()),
             rocksdb::Slice(value.data(), value.size()));
}

void WriteBatch::PutProto(std::string_view cf, std::string_view key,
                          const google::protobuf::MessageLite& msg) {
  std::string bytes;
  if (!msg.SerializeToString(&bytes)) {
    status_.Update(absl::InternalError("failed to serialize record"));
    return;
  }
  Put(cf, key, bytes);
}

void WriteBatch::Delete(std::string_view cf, std::string_view key) {
  auto h = store_->Handle(cf);
  if (!h.ok()) {
    status_.Update(h.status());
    return;
  }
  batch_.Delete(*h, rocksdb::Slice(key.data(), key.size()));
}

void WriteBatch::DeleteRange(std::string_view cf, std::string_view begin,
                             std::string_view end) {
  auto h = store_->Handle(cf);
  if (!h.ok()) {
    status_.Update(h.status());
    return;
  }
  batch_.DeleteRange(*h, rocksdb::Slice(begin.data(), begin.size()),
                     rocksdb::Slice(end.data(), end.size()));
}

absl::StatusOr<std::unique_ptr<KvStore>> KvStore::Open(const KvStoreOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("store path is empty");
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create store directory ", options.path, ": ", ec.message()));
  }

  rocksdb::Options db_options;
  db_options.create_if_missing = options.create_if_missing;
  db_options.create_missing_column_families = true;
  db_options.IncreaseParallelism(2);
  db_options.keep_log_file_num = 5;
  db_options.max_manifest_file_size = 64 << 20;

  rocksdb::ColumnFamilyOptions cf_options;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = options.compress ? rocksdb::kLZ4Compression : rocksdb::kNoCompression;
  cf_options.bottommost_compression =
      options.compress ? rocksdb::kZSTD : rocksdb::kNoCompression;
  auto tuned = [&](const std::string& cf) {
    rocksdb::ColumnFamilyOptions o = cf_options;
    auto listed = [&](const std::vector<std::string>& names) {
      return std::find(names.begin(), names.end(), cf) != names.end();
    };
    if (listed(options.ascending_key_families)) {
      o.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
      // A compaction that changes the compression cannot be a trivial move.
      o.bottommost_compression = o.compression;
    }
    if (listed(options.point_lookup_families)) {
      o.memtable_whole_key_filtering = true;
      o.memtable_prefix_bloom_size_ratio = 0.05;
    }
    return o;
  };
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, tuned(rocksdb::kDefaultColumnFamilyName));
  for (const auto& cf : options.column_families) {
    if (cf == rocksdb::kDefaultColumnFamilyName) continue;
    descriptors.emplace_back(cf, tuned(cf));
  }
  // Column families that exist on disk but are not asked for must still be
  // opened (RocksDB requires it); keep them so an older binary can open a
  // store a newer one wrote.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok()) {
    for (const auto& name : existing) {
      bool known = false;
      for (const auto& d : descriptors) known |= d.name == name;
      if (!known) descriptors.emplace_back(name, cf_options);
    }
  }

  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return ToAbslStatus(s, absl::StrCat("opening store ", options.path));
  std::unique_ptr<rocksdb::DB> db(raw);
  std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> by_name;
  for (size_t i = 0; i < handles.size(); ++i) by_name[descriptors[i].name] = handles[i];
  return std::unique_ptr<KvStore>(new KvStore(options, std::move(db), std::move(by_name)));
}

KvStore::KvStore(KvStoreOptions options, std::unique_ptr<rocksdb::DB> db,
                 std::map<std::string, rocksdb::ColumnFamilyHandle*, std::less<>> handles)
    : options_(std::move(options)), db_(std::move(db)), handles_(std::move(handles)) {}

KvStore::~KvStore() {
  for (auto& [name, h] : handles_) db_->DestroyColumnFamilyHandle(h);
  handles_.clear();
  db_->Close().PermitUncheckedError();
}

absl::StatusOr<rocksdb::ColumnFamilyHandle*> KvStore::Handle(std::string_view cf) const {
  if (cf.empty()) cf = rocksdb::kDefaultColumnFamilyName;
  auto it = handles_.find(cf);
  if (it == handles_.end()) {
    return absl::InvalidArgumentError(absl::StrCat("unknown column family '", std::string(cf), "'"));
  }
  return it->second;
}

absl::Status KvStore::Put(std::string_view cf, std::string_view key, std::string_view value) {
  WriteBatch b(this);
  b.Put(cf, key, value);
  return Write(b);
}

absl::Status KvStore::PutProto(std::string_view cf, std::string_view key,
                               const google::protobuf::MessageLite& msg) {
  WriteBatch b(this);
  b.PutProto(cf, key, msg);
  return Write(b);
}

absl::StatusOr<std::string> KvStore::Get(std::string_view cf, std::string_view key) const {
  auto h = Handle(cf);
  if (!h.ok()) return h.status();
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), *h,
                               rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return absl::NotFoundError("not found");
  if (!s.ok()) return ToAbslStatus(s, "read");
  return value;
}

absl::Status KvStore::GetProto(std::string_view cf, std::string_view key,
                               google::protobuf::MessageLite* msg) const {
  auto v = Get(cf, key);
  if (!v.ok()) return v.status();
  if (!msg->ParseFromString(*v)) {
    return absl::DataLossError(absl::StrCat("stored record in '", std::string(cf), "' is not a valid ",
                                            msg->GetTypeName()));
  }
  return absl::OkStatus();
}

absl::Status KvStore::Delete(std::string_view cf, std::string_view key) {
  WriteBatch b(this);
  b.Delete(cf, key);
  return Write(b);
}

absl::Status KvStore::Write(WriteBatch& batch) {
  if (!batch.status().ok()) return batch.status();
  rocksdb::WriteOptions wo;
  wo.sync = options_.sync_writes;
  return GuardedWrite(wo, batch);
}

absl::Status KvStore::WriteSync(WriteBatch& batch) {
  if (!batch.status().ok()) return batch.status();
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return GuardedWrite(wo, batch);
}

absl::Status KvStore::GuardedWrite(const rocksdb::WriteOptions& wo, WriteBatch& batch) {
  if (absl::Status space = CheckFreeSpace(); !space.ok()) return space;
  return ToAbslStatus(db_->Write(wo, &batch.batch_), "write");
}

absl::Status KvStore::CheckFreeSpace() {
  if (options_.min_free_bytes == 0) return absl::OkStatus();
  // While there was room at the last look, look again at most every 250 ms;
  // while there was not, look every time (a refusal must end as soon as
  // space is freed, and statvfs costs about a microsecond).
  const int64_t now_ms = absl::ToUnixMillis(absl::Now());
  int64_t checked = space_checked_ms_.load(std::memory_order_relaxed);
  const bool low = free_bytes_.load(std::memory_order_relaxed) < 2 * options_.min_free_bytes;
  if (low || (now_ms - checked >= 250 && space_checked_ms_.compare_exchange_strong(
                                            checked, now_ms, std::memory_order_relaxed))) {
    struct statvfs st;
    if (statvfs(options_.path.c_str(), &st) == 0) {
      free_bytes_.store(static_cast<uint64_t>(st.f_bavail) * st.f_frsize,
                        std::memory_order_relaxed);
    }
  }
  const uint64_t free_bytes = free_bytes_.load(std::memory_order_relaxed);
  if (free_bytes >= options_.min_free_bytes) return absl::OkStatus();
  return absl::ResourceExhaustedError(absl::StrCat(
      "the data volume is nearly full (", free_bytes >> 20, " MiB free, ",
      options_.min_free_bytes >> 20, " MiB kept in reserve): nothing was written; free space "
      "and retry"));
}

absl::Status KvStore::Scan(
    std::string_view cf, std::string_view prefix,
    const std::function<bool(std::string_view, std::string_view)>& visit,
    std::string_view start) const {
  std::string end = PrefixEnd(prefix);
  std::string begin(start.empty() || start < prefix ? prefix : start);
  if (prefix.empty()) return ScanRange(cf, begin, {}, visit);
  return ScanRange(cf, begin, end, visit);
}

absl::Status KvStore::ScanRange(
    std::string_view cf, std::string_view begin, std::string_view end,
    const std::function<bool(std::string_view, std::string_view)>& visit) const {
  auto h = Handle(cf);
  if (!h.ok()) return h.status();
  rocksdb::ReadOptions ro;
  rocksdb::Slice upper(end.data(), end.size());
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, *h));
  for (it->Seek(rocksdb::Slice(begin.data(), begin.size())); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    rocksdb::Slice v = it->value();
    if (!visit(std::string_view(k.data(), k.size()), std::string_view(v.data(), v.size()))) {
      break;
    }
  }
  return ToAbslStatus(it->status(), "scan");
}

absl::StatusOr<std::string> KvStore::LastKeyWithPrefix(std::string_view cf,
                                                       std::string_view prefix) const {
  auto h = Handle(cf);
  if (!h.ok()) return h.status();
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), *h));
  std::string end = PrefixEnd(prefix);
  if (end.empty()) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(end);
    if (it->Valid() && it->key().ToString() == end) it->Prev();
  }
  if (!it->status().ok()) return ToAbslStatus(it->status(), "scan");
  if (!it->Valid() || !it->key().starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) {
    return absl::NotFoundError("no key with prefix");
  }
  return it->key().ToString();
}

absl::Status KvStore::Checkpoint(const std::string& dir) const {
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status s = rocksdb::Checkpoint::Create(db_.get(), &raw);
  if (!s.ok()) return ToAbslStatus(s, "checkpoint");
  std::unique_ptr<rocksdb::Checkpoint> cp(raw);
  return ToAbslStatus(cp->CreateCheckpoint(dir), "checkpoint");
}

absl::Status KvStore::Flush() {
  rocksdb::FlushOptions fo;
  for (auto& [name, h] : handles_) {
    absl::Status s = ToAbslStatus(db_->Flush(fo, h), "flush");
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

std::string EncodeUint64(uint64_t v) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  return s;
}

uint64_t DecodeUint64(std::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    unsigned char c = static_cast<unsigned char>(end.back());
    if (c != 0xff) {
      end.back() = static_cast<char>(c + 1);
      return end;
    }
    end.pop_back();
  }
  return end;  // empty: no upper bound
}

}  // namespace datalab::storage
