// AuditLog: the audit service's domain object, no gRPC in it. It owns the
// sequencer (group-committed appends), signs tree heads (on demand and at an
// interval), builds inclusion and consistency proofs, and answers the DPO's
// searches, access reports, exports and retention.
//
// Invariants it keeps:
//  - A signed head always extends the previous one: it is never signed for a
//    smaller tree, and before signing a larger tree the previous head's root
//    is checked against the stored tree (consistency proof, verified).
//  - Startup refuses a rolled-back store: the store's tree must contain its
//    own latest signed head and the head remembered by the witness
//    (FAILED_PRECONDITION "rollback ..."), and the tree must reproduce that
//    head's root (DATA_LOSS otherwise).
//  - Events are checked (CheckEvent) before they are queued: a request with
//    any bad event is refused whole.
//
// Thread-safe: every method may be called concurrently. The store, witness
// and clock must outlive the log.
#ifndef DATALAB_SERVICES_AUDIT_AUDIT_LOG_H_
#define DATALAB_SERVICES_AUDIT_AUDIT_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/crypto/ed25519.h"
#include "datalab/common/v1/audit_event.pb.h"
#include "services/audit/audit_store.h"
#include "services/audit/clock.h"
#include "services/audit/sequencer.h"
#include "services/audit/tree_head.h"
#include "services/audit/witness.h"

namespace datalab::audit {

struct SearchQuery {
  std::string subject;
  int role = 0;             // 0: any
  std::string project;
  std::string dataset;      // dataset id, or "datasets/{d}"
  std::string action;       // exact, or prefix ending in '*'
  int decision = 0;         // 0: any
  int64_t start_time_unix_ms = 0;  // inclusive; 0: unbounded
  int64_t end_time_unix_ms = 0;    // exclusive; 0: unbounded
  int page_size = 0;        // 0: 100; capped at 1000
  std::string page_token;   // opaque (base64 of the next index to examine)
};

struct SearchResult {
  std::vector<common::v1::AuditEvent> events;
  std::vector<int64_t> indexes;
  std::string next_page_token;  // empty: nothing further
};

struct ReportQuery {
  std::string dataset;
  std::string project;
  std::string subject;
  int64_t start_time_unix_ms = 0;
  int64_t end_time_unix_ms = 0;
};

struct ReportLine {
  std::string subject;
  std::string project;
  std::string action;
  int decision = 0;
  int64_t count = 0;
  int64_t first_time_unix_ms = 0;
  int64_t last_time_unix_ms = 0;
};

struct AccessReport {
  std::vector<ReportLine> lines;  // sorted by subject, project, action, decision
  int64_t events_considered = 0;
  bool truncated = false;         // the scan bound was reached
};

struct InclusionProofResult {
  uint64_t index = 0;
  uint64_t tree_size = 0;
  merkle::Hash leaf_hash{};
  std::vector<merkle::Hash> hashes;
};

struct AuditLogOptions {
  AuditStore* store = nullptr;                      // required
  std::optional<crypto::Ed25519PrivateKey> signing_key;  // required
  TreeHeadWitness* witness = nullptr;               // optional (recommended)
  const Clock* clock = nullptr;                     // default: system clock
  size_t group_commit_max = 2048;
  absl::Duration sign_interval = absl::ZeroDuration();  // zero: on demand only
  // Bounds on the work of one search page / one report.
  uint64_t max_search_scan = 100'000;
  uint64_t max_report_scan = 2'000'000;
};

class AuditLog {
 public:
  static absl::StatusOr<std::unique_ptr<AuditLog>> Create(AuditLogOptions options);
  ~AuditLog();

  // Checks, sequences and durably stores `events` (see Sequencer).
  absl::StatusOr<AppendResult> Append(const std::vector<common::v1::AuditEvent>& events);
  // The same without blocking: `done` runs exactly once, on this thread when
  // the request is refused before it is queued (a bad event), otherwise as
  // Sequencer::AppendAsync says. `events` are read only during the call.
  void AppendAsync(Sequencer::EventRefs events, Sequencer::AppendCallback done);

  // Signs the current tree if it grew since the latest head; otherwise
  // returns the latest head. Never signs a smaller tree.
  absl::StatusOr<TreeHead> SignTreeHead();
  // tree_size 0: the latest signed head. NOT_FOUND when none exists.
  absl::StatusOr<TreeHead> GetTreeHead(uint64_t tree_size) const;

  // tree_size 0: the latest signed head's size.
  absl::StatusOr<InclusionProofResult> InclusionProof(uint64_t index, uint64_t tree_size) const;
  absl::StatusOr<std::vector<merkle::Hash>> ConsistencyProof(uint64_t first_size,
                                                             uint64_t second_size) const;

  // Entries [start, end) clamped to the committed size, at most 1000.
  absl::StatusOr<std::vector<StoredEntry>> GetEntries(uint64_t start, uint64_t end) const;

  absl::StatusOr<SearchResult> Search(const SearchQuery& query) const;
  absl::StatusOr<AccessReport> Report(const ReportQuery& query) const;

  // Streams entries [start, end) in chunks of up to `chunk` (end 0: through
  // the latest signed head), then every signed head with size <= end.
  absl::Status Export(uint64_t start, uint64_t end, size_t chunk,
                      const std::function<absl::Status(std::vector<StoredEntry>)>& on_entries,
                      const std::function<absl::Status(std::vector<TreeHead>)>& on_heads) const;

  // Removes entry bodies with time < before (leaf hashes stay), then appends
  // an "audit.prune" event naming `actor_subject`. Returns how many entries
  // were pruned.
  absl::StatusOr<int64_t> Prune(int64_t before_unix_ms, const std::string& actor_subject);

  const crypto::Ed25519PublicKey& public_key() const { return public_key_; }
  const std::string& key_id() const { return key_id_; }
  CommittedTree Committed() const { return sequencer_->Committed(); }
  SequencerStats Stats() const { return sequencer_->Stats(); }

  // Stops the signer and the sequencer. Idempotent; called by the destructor.
  void Close();

 private:
  AuditLog(AuditLogOptions options, crypto::Ed25519PublicKey public_key);
  absl::Status CheckStartupState(const TreeState& state);
  absl::Status PruneInRounds(int64_t before_unix_ms, int64_t& total)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(prune_mu_);
  absl::StatusOr<merkle::Hash> RootAt(uint64_t size) const;
  absl::StatusOr<std::optional<common::v1::AuditEvent>> ReadEvent(uint64_t index) const;
  void SignerLoop();

  AuditLogOptions options_;
  SystemClock system_clock_;
  const Clock* clock_;
  crypto::Ed25519PublicKey public_key_;
  std::string key_id_;
  std::unique_ptr<Sequencer> sequencer_;

  absl::Mutex sign_mu_;    // serialises signing
  absl::Mutex prune_mu_;   // serialises pruning
  absl::Notification stop_signer_;
  std::thread signer_;
  absl::Mutex close_mu_;
  bool closed_ ABSL_GUARDED_BY(close_mu_) = false;
};

// Page tokens: base64 of the next index to examine (be64).
std::string EncodePageToken(uint64_t next_index);
absl::StatusOr<uint64_t> DecodePageToken(std::string_view token);

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_AUDIT_LOG_H_
