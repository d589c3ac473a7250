#include "services/audit/sequencer.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "services/audit/search_terms.h"

namespace datalab::audit {

std::string SerializeEventDeterministic(const common::v1::AuditEvent& event) {
  // Sized first and written in place: a growing string costs more than the
  // encoding itself. The bytes are the same as from any other stream.
  const size_t size = event.ByteSizeLong();
  std::string out(size, '\0');
  {
    // The stream holds the last bytes until it is destroyed: close it
    // before `out` is returned.
    google::protobuf::io::ArrayOutputStream aos(out.data(), static_cast<int>(size));
    google::protobuf::io::CodedOutputStream cos(&aos);
    cos.SetSerializationDeterministic(true);
    event.SerializeWithCachedSizes(&cos);
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Sequencer>> Sequencer::Create(const Options& options) {
  if (options.store == nullptr || options.clock == nullptr) {
    return absl::InvalidArgumentError("sequencer needs a store and a clock");
  }
  if (options.group_commit_max == 0) {
    return absl::InvalidArgumentError("group_commit_max must be at least 1");
  }
  ASSIGN_OR_RETURN(TreeState state, options.store->LoadTreeState());
  ASSIGN_OR_RETURN(merkle::CompactRange range,
                   merkle::CompactRange::FromFrontier(state.size, state.frontier));
  // Rebuild the index suffix a crash may have lost.
  ASSIGN_OR_RETURN(uint64_t indexed, options.store->IndexedThrough());
  while (indexed < state.size) {
    const uint64_t end = std::min(state.size, indexed + 4096);
    std::vector<IndexRecord> records;
    absl::Status parse;
    RETURN_IF_ERROR(options.store->ScanEntries(indexed, end, [&](const StoredEntry& e) {
      if (!e.entry.has_value() || e.pruned) return true;
      common::v1::AuditEvent ev;
      if (!ev.ParseFromString(*e.entry)) {
        parse = absl::DataLossError(absl::StrCat("stored entry ", e.index, " does not parse"));
        return false;
      }
      records.push_back({e.index, ev.time_unix_ms(), SearchTerms(ev)});
      return true;
    }));
    RETURN_IF_ERROR(parse);
    RETURN_IF_ERROR(options.store->WriteIndex(records, end));
    indexed = end;
  }
  auto seq = std::unique_ptr<Sequencer>(new Sequencer(options, std::move(range)));
  absl::MutexLock l(&seq->mu_);
  seq->indexed_through_ = std::max(indexed, state.size);
  return seq;
}

bool Sequencer::WaitIndexed(uint64_t size, absl::Duration timeout) const {
  absl::MutexLock l(&mu_);
  auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return indexed_through_ >= size || writer_done_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  return indexed_through_ >= size;
}

void Sequencer::IndexerLoop() {
  std::vector<IndexRecord> records;
  while (true) {
    uint64_t through = 0;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(this, &Sequencer::HasIndexWorkOrStopping));
      if (index_queue_.empty()) return;  // writer finished and drained
      // Let records accumulate briefly: fewer, larger index writes interleave
      // less with the fsynced appends in RocksDB's single write queue.
      auto enough = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return index_queue_.size() >= 4096 || writer_done_;
      };
      mu_.AwaitWithTimeout(absl::Condition(&enough), absl::Milliseconds(5));
      records.swap(index_queue_);
      through = committed_.size;
    }
    // Retry until written: the index must not skip a record. On shutdown
    // an unwritten suffix is rebuilt by the next Create().
    absl::Status s = options_.store->WriteIndex(records, through);
    if (!s.ok()) {
      log::Error("audit index write failed", {{"error", std::string(s.message())}});
      absl::MutexLock l(&mu_);
      if (writer_done_) return;
      index_queue_.insert(index_queue_.begin(), records.begin(), records.end());
      records.clear();
      mu_.AwaitWithTimeout(absl::Condition(&writer_done_), absl::Milliseconds(100));
      continue;
    }
    records.clear();
    absl::MutexLock l(&mu_);
    indexed_through_ = std::max(indexed_through_, through);
  }
}

Sequencer::Sequencer(const Options& options, merkle::CompactRange range)
    : options_(options), range_(std::move(range)) {
  committed_.size = range_.size();
  committed_.root = range_.Root();
  writer_ = std::thread([this] { WriterLoop(); });
  indexer_ = std::thread([this] { IndexerLoop(); });
}

Sequencer::~Sequencer() { Stop(); }

void Sequencer::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  {
    absl::MutexLock l(&mu_);
    writer_done_ = true;
  }
  if (indexer_.joinable()) indexer_.join();
}

CommittedTree Sequencer::Committed() const {
  absl::MutexLock l(&mu_);
  return committed_;
}

SequencerStats Sequencer::Stats() const {
  absl::MutexLock l(&mu_);
  return stats_;
}

absl::StatusOr<AppendResult> Sequencer::Append(EventRefs events) {
  absl::Notification answered;
  absl::StatusOr<AppendResult> result;
  AppendAsync(events, [&](absl::StatusOr<AppendResult> r) {
    result = std::move(r);
    answered.Notify();
  });
  answered.WaitForNotification();
  return result;
}

void Sequencer::ReleaseOutstanding(uint64_t checked_size) {
  outstanding_.erase(outstanding_.find(checked_size));
}

void Sequencer::AppendAsync(EventRefs events, AppendCallback done) {
  auto req = std::make_unique<Request>();
  req->done = std::move(done);
  {
    absl::MutexLock l(&mu_);
    req->checked_size = committed_.size;
    outstanding_.insert(req->checked_size);
  }
  // Until the request is queued, its lookup point is released here on every
  // way out (an exception from an allocation included); once queued, by the
  // writer.
  struct Unqueued {
    Sequencer* s;
    uint64_t checked_size;
    bool queued = false;
    ~Unqueued() {
      if (queued) return;
      absl::MutexLock l(&s->mu_);
      s->ReleaseOutstanding(checked_size);
    }
  } unqueued{this, req->checked_size};
  auto fail = [&](absl::Status status) { req->done(std::move(status)); };
  const int64_t now = options_.clock->NowUnixMs();
  req->events.resize(events.size());
  common::v1::AuditEvent stamped;
  std::vector<std::string_view> ids;
  ids.reserve(events.size());
  for (const common::v1::AuditEvent* e : events) ids.push_back(e->event_id());
  absl::StatusOr<std::vector<std::optional<uint64_t>>> existing = options_.store->FindEventIds(ids);
  if (!existing.ok()) return fail(existing.status());
  for (size_t j = 0; j < events.size(); ++j) {
    const common::v1::AuditEvent* e = events[j];
    Prepared& p = req->events[j];
    p.existing = (*existing)[j];
    if (p.existing.has_value()) continue;
    if (e->time_unix_ms() == 0) {  // the log's time; the caller's event stays as it is
      stamped = *e;
      stamped.set_time_unix_ms(now);
      e = &stamped;
    }
    p.leaf.event_id = e->event_id();
    p.leaf.entry = SerializeEventDeterministic(*e);
    p.leaf.leaf_hash = merkle::LeafHash(p.leaf.entry);
    p.leaf.time_unix_ms = e->time_unix_ms();
    p.leaf.terms = SearchTerms(*e);
  }
  {
    absl::MutexLock l(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(req));
      unqueued.queued = true;
      return;
    }
  }
  fail(absl::UnavailableError("audit log is shutting down"));
}

void Sequencer::WriterLoop() {
  std::vector<std::unique_ptr<Request>> group;
  uint64_t floor = 0;
  while (true) {
    group.clear();
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(this, &Sequencer::HasWorkOrStopping));
      if (queue_.empty()) return;  // stopping and drained
      size_t events = 0;
      while (!queue_.empty() &&
             (group.empty() || events + queue_.front()->events.size() <= options_.group_commit_max)) {
        events += queue_.front()->events.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      // Every outstanding request, queued or still preparing (the group's
      // own are among them until it is committed).
      floor = outstanding_.empty() ? UINT64_MAX : *outstanding_.begin();
    }
    CommitGroup(group, floor);
  }
}

void Sequencer::Remember(uint64_t index, std::string event_id) {
  recent_order_.emplace_back(index, std::move(event_id));
  recent_ids_.emplace(recent_order_.back().second, index);
}

void Sequencer::CommitGroup(std::vector<std::unique_ptr<Request>>& group, uint64_t floor) {
  // Leaves below every outstanding request's lookup point are visible to
  // those lookups already.
  while (!recent_order_.empty() && recent_order_.front().first < floor) {
    recent_ids_.erase(recent_order_.front().second);
    recent_order_.pop_front();
  }
  merkle::CompactRange range = range_;
  AppendBatch batch;
  batch.first_index = range.size();
  size_t total = 0;
  for (const std::unique_ptr<Request>& r : group) total += r->events.size();
  // Reserved so the leaves never move: in_group views their event ids.
  batch.leaves.reserve(total);
  absl::flat_hash_map<std::string_view, uint64_t> in_group;
  in_group.reserve(total);
  absl::Status status;
  uint64_t duplicates = 0;
  for (const std::unique_ptr<Request>& r : group) {
    r->indexes.resize(r->events.size());
    for (size_t j = 0; j < r->events.size() && status.ok(); ++j) {
      Prepared& p = r->events[j];
      if (p.existing.has_value()) {
        r->indexes[j] = static_cast<int64_t>(*p.existing);
        ++duplicates;
        continue;
      }
      if (auto it = in_group.find(p.leaf.event_id); it != in_group.end()) {
        r->indexes[j] = static_cast<int64_t>(it->second);
        ++duplicates;
        continue;
      }
      if (auto it = recent_ids_.find(p.leaf.event_id); it != recent_ids_.end()) {
        r->indexes[j] = static_cast<int64_t>(it->second);
        ++duplicates;
        continue;
      }
      const uint64_t index = range.size();
      status = range.Append(p.leaf.leaf_hash, [&](const merkle::NodeId& id, const merkle::Hash& h) {
        if (id.level >= kMinStoredNodeLevel) batch.nodes.emplace_back(id, h);
        return absl::OkStatus();
      });
      if (!status.ok()) break;
      r->indexes[j] = static_cast<int64_t>(index);
      batch.leaves.push_back(std::move(p.leaf));
      in_group.emplace(batch.leaves.back().event_id, index);
    }
  }
  if (status.ok() && !batch.leaves.empty()) {
    batch.frontier = range.frontier();
    status = options_.store->Append(batch);
  }
  if (status.ok()) {
    range_ = std::move(range);
  } else {
    log::Error("audit append failed", {{"code", absl::StatusCodeToString(status.code())},
                                       {"error", std::string(status.message())},
                                       {"events", std::to_string(batch.leaves.size())}});
    // The write may or may not have reached the disk: trust the store.
    auto state = options_.store->LoadTreeState();
    if (state.ok()) {
      auto reloaded = merkle::CompactRange::FromFrontier(state->size, state->frontier);
      if (reloaded.ok()) range_ = std::move(*reloaded);
    }
    status = absl::UnavailableError(
        absl::StrCat("audit store write failed: ", std::string(status.message())));
  }
  const CommittedTree committed = {range_.size(), range_.Root()};
  // The group is in the store (committed, or the failed write did reach the
  // disk): its ids are remembered and its index records queued.
  const bool landed = !batch.leaves.empty() &&
                      range_.size() == batch.first_index + batch.leaves.size();
  if (landed) {
    for (size_t k = 0; k < batch.leaves.size(); ++k) {
      Remember(batch.first_index + k, std::move(batch.leaves[k].event_id));
    }
  }
  absl::ReleasableMutexLock l(&mu_);
  committed_ = committed;
  if (landed) {
    for (size_t k = 0; k < batch.leaves.size(); ++k) {
      LeafRecord& leaf = batch.leaves[k];
      index_queue_.push_back({batch.first_index + k, leaf.time_unix_ms, std::move(leaf.terms)});
    }
  }
  if (status.ok()) {
    ++stats_.groups;
    stats_.leaves += batch.leaves.size();
    stats_.duplicates += duplicates;
    stats_.largest_group = std::max<uint64_t>(stats_.largest_group, batch.leaves.size());
  }
  for (const std::unique_ptr<Request>& r : group) ReleaseOutstanding(r->checked_size);
  l.Release();
  // Answer outside the lock: a callback may start the reply on this thread.
  for (const std::unique_ptr<Request>& r : group) {
    if (status.ok()) {
      r->done(AppendResult{std::move(r->indexes), committed.size});
    } else {
      r->done(status);
    }
  }
}

}  // namespace datalab::audit
