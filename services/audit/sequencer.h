// Sequencer: turns concurrent append requests into group-committed leaves.
//
// Callers of Append() / AppendAsync() first prepare their events on their
// own thread (stamp time_unix_ms when it is zero, serialise
// deterministically: those bytes are the Merkle leaf; leaf hash; search
// terms; look the event_id up in the store), then queue them. Append()
// blocks until the group commits; AppendAsync() returns at once and is
// answered by the writer thread, so a server needs no thread per waiting
// caller. One writer thread takes up to
// `group_commit_max` queued events (whole requests; at least one request),
// finishes deduplication (within the group, and against leaves committed
// since the caller's lookup, kept in a small in-memory map), extends the
// Merkle compact range, and writes everything (entries, leaf hashes,
// completed subtree hashes, indexes, new frontier) in ONE atomic
// AuditStore::Append (one fsync for RocksDB). Only then are all requests of
// the group acknowledged. So: acknowledged means durable, and a request is
// never half applied. Keeping the writer to the work that must be serial is
// what lets one fsync carry hundreds of events.
//
// If the store write fails every request of the group gets UNAVAILABLE and
// the in-memory tree state is reloaded from the store, so a retry (same
// event ids) is safe whether or not the failed write reached the disk.
//
// After each commit the group's secondary-index records (times, search
// terms) go to an indexer thread, which writes them without fsync; at
// startup Create() first rebuilds any index suffix a crash lost. Readers
// that need the index call WaitIndexed().
//
// Thread safety: Append(), AppendAsync() and Committed() may be called from
// any thread.
// Events must already have passed CheckEvent().
#ifndef DATALAB_SERVICES_AUDIT_SEQUENCER_H_
#define DATALAB_SERVICES_AUDIT_SEQUENCER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "datalab/common/v1/audit_event.pb.h"
#include "services/audit/audit_store.h"
#include "services/audit/clock.h"
#include "services/audit/merkle/compact_range.h"

namespace datalab::audit {

struct AppendResult {
  std::vector<int64_t> indexes;  // one per event, the existing one for a duplicate
  uint64_t tree_size = 0;        // committed size after this request's group
};

struct CommittedTree {
  uint64_t size = 0;
  merkle::Hash root = merkle::EmptyRoot();
};

struct SequencerStats {
  uint64_t groups = 0;
  uint64_t leaves = 0;
  uint64_t duplicates = 0;
  uint64_t largest_group = 0;
};

class Sequencer {
 public:
  struct Options {
    AuditStore* store = nullptr;  // required; must outlive the sequencer
    const Clock* clock = nullptr;  // required
    size_t group_commit_max = 2048;
  };

  // Loads the tree state from the store and starts the writer thread.
  static absl::StatusOr<std::unique_ptr<Sequencer>> Create(const Options& options);
  ~Sequencer();  // drains queued requests, then stops the writer

  // Must not throw. One that runs on the writer thread must not wait on the
  // sequencer (Append(), Stop(), destruction): the writer would wait for
  // itself.
  using AppendCallback = std::function<void(absl::StatusOr<AppendResult>)>;
  // Events of one request, read only while AppendAsync() runs: a gRPC
  // handler passes the request's own events, without copying them.
  using EventRefs = absl::Span<const common::v1::AuditEvent* const>;

  absl::StatusOr<AppendResult> Append(EventRefs events);
  // The same, answered through `done` exactly once: on the calling thread
  // when the request fails before it is queued (a store error during the
  // lookups, or shutdown), otherwise on the writer thread once its group is
  // durable or has failed.
  void AppendAsync(EventRefs events, AppendCallback done);

  // The latest committed tree (size and root).
  CommittedTree Committed() const;
  // Blocks until the secondary index covers the first `size` leaves, at most
  // `timeout`; returns whether it does.
  bool WaitIndexed(uint64_t size, absl::Duration timeout) const;
  SequencerStats Stats() const;

  // Stops accepting appends, drains the queue, joins the writer. Idempotent.
  void Stop();

 private:
  struct Prepared {
    LeafRecord leaf;
    std::optional<uint64_t> existing;  // found in the store by the caller
  };
  struct Request {
    std::vector<Prepared> events;
    uint64_t checked_size = 0;  // committed size before the caller's lookups
    std::vector<int64_t> indexes;
    AppendCallback done;
  };

  Sequencer(const Options& options, merkle::CompactRange range);
  void WriterLoop();
  void IndexerLoop();
  void CommitGroup(std::vector<std::unique_ptr<Request>>& group, uint64_t floor);
  // Adds a committed leaf's id to recent_ids_ / recent_order_.
  void Remember(uint64_t index, std::string event_id);
  // Drops a request's lookup point from outstanding_: its group is
  // committed (or failed), or it was never queued.
  void ReleaseOutstanding(uint64_t checked_size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !queue_.empty() || stopping_;
  }
  bool HasIndexWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return !index_queue_.empty() || writer_done_;
  }

  const Options options_;
  // Writer-thread only.
  merkle::CompactRange range_;
  // Leaves committed at index >= the oldest outstanding checked_size, for
  // deduplication against commits the callers' lookups could not see. The
  // deque owns the ids (its elements never move); the map views them.
  absl::flat_hash_map<std::string_view, uint64_t> recent_ids_;
  std::deque<std::pair<uint64_t, std::string>> recent_order_;

  mutable absl::Mutex mu_;
  std::deque<std::unique_ptr<Request>> queue_ ABSL_GUARDED_BY(mu_);
  // The checked_size of every request from the moment it takes it (before
  // its lookups) until its group is committed: queued or not yet queued. The writer
  // keeps recent ids at or above the smallest; counting only queued
  // requests let a caller still preparing lose an id committed after its
  // lookup, and append a duplicate.
  std::multiset<uint64_t> outstanding_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  CommittedTree committed_ ABSL_GUARDED_BY(mu_);
  SequencerStats stats_ ABSL_GUARDED_BY(mu_);
  std::vector<IndexRecord> index_queue_ ABSL_GUARDED_BY(mu_);
  uint64_t indexed_through_ ABSL_GUARDED_BY(mu_) = 0;
  bool writer_done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
  std::thread indexer_;
};

// Serialises an event with deterministic map ordering: the stored leaf bytes.
std::string SerializeEventDeterministic(const common::v1::AuditEvent& event);

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_SEQUENCER_H_
