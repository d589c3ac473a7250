#include "services/audit/audit_log.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/audit_client/audit_client.h"
#include "common/crypto/encoding.h"
#include "common/log/log.h"
#include "common/status/status_macros.h"
#include "services/audit/event_checks.h"
#include "services/audit/merkle/proof_builder.h"
#include "services/audit/merkle/verify.h"
#include "services/audit/search_terms.h"

namespace datalab::audit {
namespace {

using common::v1::AuditEvent;

constexpr uint64_t kMaxGetEntries = 1000;
constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kPruneChunk = 10'000;
// How long a reader waits for the index to catch up with the committed log
// (it is normally milliseconds behind) before answering from what is there.
constexpr absl::Duration kIndexWait = absl::Seconds(2);

// The store seen as the merkle library's sources, frozen at `size` leaves so
// that a proof is computed over one tree even while appends continue.
class LeafSource : public merkle::LeafHashSource {
 public:
  LeafSource(const AuditStore* store, uint64_t size) : store_(store), size_(size) {}
  absl::StatusOr<merkle::Hash> LeafHash(uint64_t index) const override {
    if (index >= size_) {
      return absl::OutOfRangeError(absl::StrCat("leaf ", index, " is beyond tree size ", size_));
    }
    auto h = store_->GetLeafHash(index);
    if (absl::IsNotFound(h.status())) {
      return absl::DataLossError(absl::StrCat("leaf hash ", index, " is missing from the store"));
    }
    return h;
  }
  uint64_t Size() const override { return size_; }

 private:
  const AuditStore* store_;
  uint64_t size_;
};

class NodeSource : public merkle::SubtreeHashStore {
 public:
  explicit NodeSource(const AuditStore* store) : store_(store) {}
  absl::StatusOr<std::optional<merkle::Hash>> Get(const merkle::NodeId& id) const override {
    // Not stored (stores written before kMinStoredNodeLevel have them, but
    // skipping the read keeps a miss from costing one per node below).
    if (id.level < kMinStoredNodeLevel) return std::optional<merkle::Hash>();
    return store_->GetNode(id);
  }
  absl::Status Put(const merkle::NodeId&, const merkle::Hash&) override {
    return absl::UnimplementedError("subtree hashes are written by the sequencer only");
  }

 private:
  const AuditStore* store_;
};

std::string NormaliseDataset(const std::string& d) {
  if (absl::StartsWith(d, "datasets/")) return std::string(DatasetOfResource(d));
  return d;
}

bool ActionMatches(const std::string& pattern, const std::string& action) {
  if (pattern.empty()) return true;
  if (pattern.back() == '*') {
    return absl::StartsWith(action, pattern.substr(0, pattern.size() - 1));
  }
  return action == pattern;
}

bool Matches(const SearchQuery& q, const std::string& dataset, const AuditEvent& e) {
  if (!q.subject.empty() && e.actor().subject() != q.subject) return false;
  if (q.role != 0 && std::find(e.actor().roles().begin(), e.actor().roles().end(), q.role) ==
                         e.actor().roles().end()) {
    return false;
  }
  if (!q.project.empty() && e.project() != q.project) return false;
  if (!dataset.empty()) {
    bool found = false;
    for (const std::string& r : e.resources()) found = found || DatasetOfResource(r) == dataset;
    if (!found) return false;
  }
  if (!ActionMatches(q.action, e.action())) return false;
  if (q.decision != 0 && static_cast<int>(e.decision()) != q.decision) return false;
  if (q.start_time_unix_ms != 0 && e.time_unix_ms() < q.start_time_unix_ms) return false;
  if (q.end_time_unix_ms != 0 && e.time_unix_ms() >= q.end_time_unix_ms) return false;
  return true;
}

}  // namespace

std::string EncodePageToken(uint64_t next_index) {
  std::string raw;
  AppendBe64(raw, next_index);
  return crypto::Base64Encode(raw);
}

absl::StatusOr<uint64_t> DecodePageToken(std::string_view token) {
  auto raw = crypto::Base64Decode(token);
  if (!raw.ok() || raw->size() != 8) return absl::InvalidArgumentError("page_token is malformed");
  return ReadBe64(*raw);
}

absl::StatusOr<std::unique_ptr<AuditLog>> AuditLog::Create(AuditLogOptions options) {
  if (options.store == nullptr) return absl::InvalidArgumentError("audit log needs a store");
  if (!options.signing_key.has_value()) {
    return absl::InvalidArgumentError("audit log needs a signing key");
  }
  ASSIGN_OR_RETURN(crypto::Ed25519PublicKey pub, options.signing_key->PublicKey());
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(options), std::move(pub)));
  ASSIGN_OR_RETURN(TreeState state, log->options_.store->LoadTreeState());
  RETURN_IF_ERROR(log->CheckStartupState(state));
  Sequencer::Options so;
  so.store = log->options_.store;
  so.clock = log->clock_;
  so.group_commit_max = log->options_.group_commit_max;
  ASSIGN_OR_RETURN(log->sequencer_, Sequencer::Create(so));
  if (log->options_.sign_interval > absl::ZeroDuration()) {
    log->signer_ = std::thread([l = log.get()] { l->SignerLoop(); });
  }
  return log;
}

AuditLog::AuditLog(AuditLogOptions options, crypto::Ed25519PublicKey public_key)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : &system_clock_),
      public_key_(std::move(public_key)),
      key_id_(KeyIdOf(public_key_)) {}

AuditLog::~AuditLog() { Close(); }

void AuditLog::Close() {
  absl::MutexLock l(&close_mu_);
  if (closed_) return;
  closed_ = true;
  if (!stop_signer_.HasBeenNotified()) stop_signer_.Notify();
  if (signer_.joinable()) signer_.join();
  if (sequencer_) sequencer_->Stop();
}

absl::Status AuditLog::CheckStartupState(const TreeState& state) {
  ASSIGN_OR_RETURN(std::optional<TreeHead> latest, options_.store->LatestTreeHead());
  if (latest.has_value()) {
    if (latest->tree_size > state.size) {
      return absl::FailedPreconditionError(absl::StrCat(
          "rollback: the store holds ", state.size, " entries but its latest signed head covers ",
          latest->tree_size));
    }
    LeafSource leaves(options_.store, state.size);
    NodeSource nodes(options_.store);
    ASSIGN_OR_RETURN(merkle::Hash root, merkle::ProofBuilder(&leaves, &nodes).RootAt(latest->tree_size));
    if (root != latest->root_hash) {
      return absl::DataLossError(absl::StrCat(
          "the stored tree does not reproduce the signed head of size ", latest->tree_size));
    }
    if (latest->key_id == key_id_ && !VerifyTreeHeadSignature(public_key_, *latest).ok()) {
      return absl::DataLossError(absl::StrCat("the signature of the stored head of size ",
                                              latest->tree_size, " does not verify"));
    }
  }
  if (options_.witness != nullptr) {
    ASSIGN_OR_RETURN(std::optional<TreeHead> w, options_.witness->Load());
    if (w.has_value()) {
      if (!latest.has_value() || latest->tree_size < w->tree_size) {
        return absl::FailedPreconditionError(absl::StrCat(
            "rollback: this service signed a head of size ", w->tree_size,
            " but the store's latest head covers ", latest.has_value() ? latest->tree_size : 0));
      }
      ASSIGN_OR_RETURN(std::optional<TreeHead> same, options_.store->GetTreeHead(w->tree_size));
      if (!same.has_value() || same->root_hash != w->root_hash) {
        return absl::FailedPreconditionError(absl::StrCat(
            "rollback: the store's head of size ", w->tree_size,
            " differs from the one this service signed"));
      }
    }
  }
  return absl::OkStatus();
}

namespace {

// A request with any bad event is refused whole, naming the first.
absl::Status CheckEvents(Sequencer::EventRefs events) {
  if (events.empty()) return absl::InvalidArgumentError("events is empty");
  for (size_t i = 0; i < events.size(); ++i) {
    absl::Status s = CheckEvent(*events[i]);
    if (!s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("events[", i, "]: ", std::string(s.message())));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AppendResult> AuditLog::Append(const std::vector<AuditEvent>& events) {
  std::vector<const AuditEvent*> refs;
  refs.reserve(events.size());
  for (const AuditEvent& e : events) refs.push_back(&e);
  RETURN_IF_ERROR(CheckEvents(refs));
  return sequencer_->Append(refs);
}

void AuditLog::AppendAsync(Sequencer::EventRefs events, Sequencer::AppendCallback done) {
  if (absl::Status s = CheckEvents(events); !s.ok()) return done(std::move(s));
  sequencer_->AppendAsync(events, std::move(done));
}

absl::StatusOr<merkle::Hash> AuditLog::RootAt(uint64_t size) const {
  LeafSource leaves(options_.store, sequencer_->Committed().size);
  NodeSource nodes(options_.store);
  return merkle::ProofBuilder(&leaves, &nodes).RootAt(size);
}

absl::StatusOr<TreeHead> AuditLog::SignTreeHead() {
  absl::MutexLock l(&sign_mu_);
  CommittedTree now = sequencer_->Committed();
  ASSIGN_OR_RETURN(std::optional<TreeHead> latest, options_.store->LatestTreeHead());
  int64_t ts = clock_->NowUnixMs();
  if (latest.has_value()) {
    if (now.size < latest->tree_size) {
      return absl::FailedPreconditionError(absl::StrCat(
          "refusing to sign a tree of size ", now.size, " smaller than the signed head of size ",
          latest->tree_size));
    }
    if (now.size == latest->tree_size) {
      if (now.root != latest->root_hash) {
        return absl::DataLossError(absl::StrCat("the tree of size ", now.size,
                                                " no longer matches its signed head"));
      }
      return *latest;
    }
    // The new head must extend the previous one.
    ASSIGN_OR_RETURN(std::vector<merkle::Hash> proof,
                     ConsistencyProof(latest->tree_size, now.size));
    absl::Status c = merkle::VerifyConsistency(latest->tree_size, now.size, latest->root_hash,
                                               now.root, proof);
    if (!c.ok()) {
      return absl::DataLossError(absl::StrCat("the tree of size ", now.size,
                                              " does not extend the signed head of size ",
                                              latest->tree_size));
    }
    ts = std::max(ts, latest->timestamp_unix_ms);
  }
  TreeHead head;
  head.tree_size = now.size;
  head.timestamp_unix_ms = ts;
  head.root_hash = now.root;
  RETURN_IF_ERROR(::datalab::audit::SignTreeHead(*options_.signing_key, head));
  RETURN_IF_ERROR(options_.store->PutTreeHead(head));
  if (options_.witness != nullptr) RETURN_IF_ERROR(options_.witness->Store(head));
  return head;
}

absl::StatusOr<TreeHead> AuditLog::GetTreeHead(uint64_t tree_size) const {
  std::optional<TreeHead> head;
  if (tree_size == 0) {
    ASSIGN_OR_RETURN(head, options_.store->LatestTreeHead());
  } else {
    ASSIGN_OR_RETURN(head, options_.store->GetTreeHead(tree_size));
  }
  if (!head.has_value()) {
    return absl::NotFoundError(tree_size == 0 ? std::string("no tree head has been signed yet")
                                              : absl::StrCat("no signed head of size ", tree_size));
  }
  return *head;
}

absl::StatusOr<InclusionProofResult> AuditLog::InclusionProof(uint64_t index,
                                                              uint64_t tree_size) const {
  if (tree_size == 0) {
    ASSIGN_OR_RETURN(TreeHead latest, GetTreeHead(0));
    tree_size = latest.tree_size;
  }
  if (index >= tree_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("index ", index, " is not below tree_size ", tree_size));
  }
  const uint64_t committed = sequencer_->Committed().size;
  if (tree_size > committed) {
    return absl::OutOfRangeError(
        absl::StrCat("tree_size ", tree_size, " is beyond the log size ", committed));
  }
  LeafSource leaves(options_.store, tree_size);
  NodeSource nodes(options_.store);
  InclusionProofResult r;
  r.index = index;
  r.tree_size = tree_size;
  ASSIGN_OR_RETURN(r.leaf_hash, leaves.LeafHash(index));
  ASSIGN_OR_RETURN(r.hashes, merkle::ProofBuilder(&leaves, &nodes).InclusionProof(index, tree_size));
  return r;
}

absl::StatusOr<std::vector<merkle::Hash>> AuditLog::ConsistencyProof(uint64_t first_size,
                                                                     uint64_t second_size) const {
  if (second_size == 0) {
    ASSIGN_OR_RETURN(TreeHead latest, GetTreeHead(0));
    second_size = latest.tree_size;
  }
  if (first_size > second_size) {
    return absl::InvalidArgumentError(absl::StrCat("first_size ", first_size,
                                                   " is larger than second_size ", second_size));
  }
  const uint64_t committed = sequencer_->Committed().size;
  if (second_size > committed) {
    return absl::OutOfRangeError(
        absl::StrCat("second_size ", second_size, " is beyond the log size ", committed));
  }
  LeafSource leaves(options_.store, second_size);
  NodeSource nodes(options_.store);
  return merkle::ProofBuilder(&leaves, &nodes).ConsistencyProof(first_size, second_size);
}

absl::StatusOr<std::vector<StoredEntry>> AuditLog::GetEntries(uint64_t start, uint64_t end) const {
  if (end < start) {
    return absl::InvalidArgumentError(absl::StrCat("end ", end, " is before start ", start));
  }
  end = std::min({end, sequencer_->Committed().size, start + kMaxGetEntries});
  std::vector<StoredEntry> out;
  RETURN_IF_ERROR(options_.store->ScanEntries(start, end, [&](const StoredEntry& e) {
    out.push_back(e);
    return true;
  }));
  return out;
}

absl::StatusOr<std::optional<AuditEvent>> AuditLog::ReadEvent(uint64_t index) const {
  std::optional<AuditEvent> out;
  absl::Status parse;
  RETURN_IF_ERROR(options_.store->ScanEntries(index, index + 1, [&](const StoredEntry& e) {
    if (e.entry.has_value() && !e.pruned) {
      AuditEvent ev;
      if (!ev.ParseFromString(*e.entry)) {
        parse = absl::DataLossError(absl::StrCat("stored entry ", index, " does not parse"));
      } else {
        out = std::move(ev);
      }
    }
    return false;
  }));
  RETURN_IF_ERROR(parse);
  return out;
}

absl::StatusOr<SearchResult> AuditLog::Search(const SearchQuery& q) const {
  uint64_t next = 0;
  if (!q.page_token.empty()) {
    ASSIGN_OR_RETURN(next, DecodePageToken(q.page_token));
  }
  if (q.page_size < 0) return absl::InvalidArgumentError("page_size is negative");
  const size_t page = q.page_size == 0 ? kDefaultPageSize : std::min(q.page_size, kMaxPageSize);
  const std::string dataset = NormaliseDataset(q.dataset);
  const uint64_t size = sequencer_->Committed().size;
  sequencer_->WaitIndexed(size, kIndexWait);

  SearchResult result;
  uint64_t scanned = 0;
  bool more = false;
  absl::Status inner;
  // Returns false to stop the scan.
  auto consider = [&](uint64_t index, const AuditEvent& e) {
    if (Matches(q, dataset, e)) {
      result.events.push_back(e);
      result.indexes.push_back(static_cast<int64_t>(index));
    }
    ++scanned;
    if (result.events.size() >= page || scanned >= options_.max_search_scan) {
      more = index + 1 < size;
      next = index + 1;
      return false;
    }
    return true;
  };

  std::string term;
  if (!q.subject.empty()) term = SubjectTerm(q.subject);
  else if (!dataset.empty()) term = DatasetTerm(dataset);
  else if (!q.project.empty()) term = ProjectTerm(q.project);
  else if (q.role != 0) term = RoleTerm(q.role);

  if (!term.empty()) {
    RETURN_IF_ERROR(options_.store->ScanTerm(term, next, [&](uint64_t index) {
      if (index >= size) return false;
      auto e = ReadEvent(index);
      if (!e.ok()) {
        inner = e.status();
        return false;
      }
      if (!e->has_value()) return true;  // pruned meanwhile
      return consider(index, **e);
    }));
  } else {
    RETURN_IF_ERROR(options_.store->ScanEntries(next, size, [&](const StoredEntry& s) {
      if (!s.entry.has_value() || s.pruned) return true;
      AuditEvent e;
      if (!e.ParseFromString(*s.entry)) {
        inner = absl::DataLossError(absl::StrCat("stored entry ", s.index, " does not parse"));
        return false;
      }
      return consider(s.index, e);
    }));
  }
  RETURN_IF_ERROR(inner);
  if (more) result.next_page_token = EncodePageToken(next);
  return result;
}

absl::StatusOr<AccessReport> AuditLog::Report(const ReportQuery& q) const {
  const std::string dataset = NormaliseDataset(q.dataset);
  SearchQuery filter;
  filter.subject = q.subject;
  filter.project = q.project;
  filter.start_time_unix_ms = q.start_time_unix_ms;
  filter.end_time_unix_ms = q.end_time_unix_ms;
  const uint64_t size = sequencer_->Committed().size;
  sequencer_->WaitIndexed(size, kIndexWait);

  std::map<std::tuple<std::string, std::string, std::string, int>, ReportLine> groups;
  AccessReport report;
  absl::Status inner;
  auto consider = [&](uint64_t index) {
    if (index >= size) return true;
    if (static_cast<uint64_t>(report.events_considered) >= options_.max_report_scan) {
      report.truncated = true;
      return false;
    }
    auto e = ReadEvent(index);
    if (!e.ok()) {
      inner = e.status();
      return false;
    }
    if (!e->has_value()) return true;
    const AuditEvent& ev = **e;
    ++report.events_considered;
    if (!Matches(filter, dataset, ev)) return true;
    auto key = std::make_tuple(ev.actor().subject(), ev.project(), ev.action(),
                               static_cast<int>(ev.decision()));
    ReportLine& line = groups[key];
    if (line.count == 0) {
      line.subject = ev.actor().subject();
      line.project = ev.project();
      line.action = ev.action();
      line.decision = ev.decision();
      line.first_time_unix_ms = ev.time_unix_ms();
      line.last_time_unix_ms = ev.time_unix_ms();
    }
    ++line.count;
    line.first_time_unix_ms = std::min(line.first_time_unix_ms, ev.time_unix_ms());
    line.last_time_unix_ms = std::max(line.last_time_unix_ms, ev.time_unix_ms());
    return true;
  };

  std::string term;
  if (!q.subject.empty()) term = SubjectTerm(q.subject);
  else if (!dataset.empty()) term = DatasetTerm(dataset);
  else if (!q.project.empty()) term = ProjectTerm(q.project);
  if (!term.empty()) {
    RETURN_IF_ERROR(options_.store->ScanTerm(term, 0, consider));
  } else {
    int64_t begin = q.start_time_unix_ms != 0 ? q.start_time_unix_ms
                                              : std::numeric_limits<int64_t>::min();
    int64_t end = q.end_time_unix_ms != 0 ? q.end_time_unix_ms : std::numeric_limits<int64_t>::max();
    RETURN_IF_ERROR(options_.store->ScanTimes(begin, end, [&](int64_t, uint64_t index) {
      return consider(index);
    }));
  }
  RETURN_IF_ERROR(inner);
  for (auto& [key, line] : groups) report.lines.push_back(std::move(line));
  return report;
}

absl::Status AuditLog::Export(
    uint64_t start, uint64_t end, size_t chunk,
    const std::function<absl::Status(std::vector<StoredEntry>)>& on_entries,
    const std::function<absl::Status(std::vector<TreeHead>)>& on_heads) const {
  if (chunk == 0) chunk = 1000;
  if (end == 0) {
    ASSIGN_OR_RETURN(std::optional<TreeHead> latest, options_.store->LatestTreeHead());
    end = latest.has_value() ? latest->tree_size : 0;
  }
  end = std::min(end, sequencer_->Committed().size);
  if (start > end) {
    return absl::InvalidArgumentError(absl::StrCat("start ", start, " is beyond end ", end));
  }
  std::vector<StoredEntry> buf;
  absl::Status inner;
  RETURN_IF_ERROR(options_.store->ScanEntries(start, end, [&](const StoredEntry& e) {
    buf.push_back(e);
    if (buf.size() >= chunk) {
      inner = on_entries(std::move(buf));
      buf.clear();
      if (!inner.ok()) return false;
    }
    return true;
  }));
  RETURN_IF_ERROR(inner);
  if (!buf.empty()) RETURN_IF_ERROR(on_entries(std::move(buf)));
  std::vector<TreeHead> heads;
  RETURN_IF_ERROR(options_.store->ScanTreeHeads(end, [&](const TreeHead& h) {
    heads.push_back(h);
    return true;
  }));
  return on_heads(std::move(heads));
}

// Rounds of up to kPruneChunk leaves, each committed on its own; `total`
// counts what the committed rounds removed. A round that fails leaves the
// rounds before it done.
absl::Status AuditLog::PruneInRounds(int64_t before_unix_ms, int64_t& total) {
  std::optional<std::pair<int64_t, uint64_t>> previous_first;
  while (true) {
    std::vector<std::pair<int64_t, uint64_t>> found;
    RETURN_IF_ERROR(options_.store->ScanTimes(
        std::numeric_limits<int64_t>::min(), before_unix_ms, [&](int64_t t, uint64_t i) {
          found.emplace_back(t, i);
          return found.size() < kPruneChunk;
        }));
    if (found.empty()) break;
    // Each round removes what it found from the time index; finding the same
    // first leaf again means the index did not change, and looping would
    // never end.
    if (previous_first == found.front()) {
      return absl::DataLossError(absl::StrCat(
          "pruning made no progress at leaf ", found.front().second,
          ": the time index is damaged"));
    }
    previous_first = found.front();
    std::vector<IndexRecord> items;
    items.reserve(found.size());
    for (auto [t, i] : found) {
      IndexRecord p;
      p.index = i;
      p.time_unix_ms = t;
      ASSIGN_OR_RETURN(std::optional<AuditEvent> e, ReadEvent(i));
      if (e.has_value()) p.terms = SearchTerms(*e);
      items.push_back(std::move(p));
    }
    RETURN_IF_ERROR(options_.store->Prune(items));
    total += static_cast<int64_t>(items.size());
  }
  return absl::OkStatus();
}

absl::StatusOr<int64_t> AuditLog::Prune(int64_t before_unix_ms, const std::string& actor_subject) {
  absl::MutexLock l(&prune_mu_);
  sequencer_->WaitIndexed(sequencer_->Committed().size, kIndexWait);
  int64_t total = 0;
  absl::Status stopped = PruneInRounds(before_unix_ms, total);
  if (!stopped.ok() && total == 0) return stopped;
  AuditEvent record;
  record.set_event_id(audit_client::NewEventId());
  record.set_service("audit");
  record.mutable_actor()->set_subject(actor_subject);
  record.set_action("audit.prune");
  record.set_decision(common::v1::ALLOW);
  (*record.mutable_details())["before_unix_ms"] = std::to_string(before_unix_ms);
  (*record.mutable_details())["pruned"] = std::to_string(total);
  if (!stopped.ok()) {
    (*record.mutable_details())["stopped"] = absl::StatusCodeToString(stopped.code());
  }
  std::vector<AuditEvent> events;
  events.push_back(std::move(record));
  RETURN_IF_ERROR(Append(events).status());
  log::Info("audit entries pruned", {{"pruned", std::to_string(total)}});
  if (!stopped.ok()) {
    return absl::Status(stopped.code(),
                        absl::StrCat(stopped.message(), "; ", total,
                                     " entries were pruned before it, and that prune is recorded"));
  }
  return total;
}

void AuditLog::SignerLoop() {
  uint64_t last_signed = 0;
  bool first = true;
  // The first head is signed at once, so a tree recovered after a crash is
  // committed to without waiting for the interval.
  absl::Duration wait = absl::ZeroDuration();
  while (!stop_signer_.WaitForNotificationWithTimeout(wait)) {
    wait = options_.sign_interval;
    if (!first && sequencer_->Committed().size == last_signed) continue;
    auto head = SignTreeHead();
    if (head.ok()) {
      last_signed = head->tree_size;
      first = false;
    } else {
      log::Error("signing a tree head failed",
                 {{"code", absl::StatusCodeToString(head.status().code())},
                  {"error", std::string(head.status().message())}});
    }
  }
}

}  // namespace datalab::audit
