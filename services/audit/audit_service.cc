#include "services/audit/audit_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/audit_client/audit_client.h"
#include "common/auth/auth_processor.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "google/protobuf/arena.h"

namespace datalab::audit {
namespace {

std::string HashBytes(const merkle::Hash& h) {
  return std::string(reinterpret_cast<const char*>(h.data()), h.size());
}

constexpr int64_t kMaxIndex = int64_t{1} << 62;

grpc::Status CheckNonNegative(std::initializer_list<std::pair<const char*, int64_t>> fields) {
  for (const auto& [name, v] : fields) {
    if (v < 0 || v > kMaxIndex) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat(name, " is out of range"));
    }
  }
  return grpc::Status::OK;
}

class ArenaMessages final
    : public grpc::MessageHolder<v1::AppendEventsRequest, v1::AppendEventsResponse> {
 public:
  ArenaMessages() : arena_(Options()) {
    set_request(google::protobuf::Arena::CreateMessage<v1::AppendEventsRequest>(&arena_));
    set_response(google::protobuf::Arena::CreateMessage<v1::AppendEventsResponse>(&arena_));
  }
  void Release() override { delete this; }

 private:
  static google::protobuf::ArenaOptions Options() {
    google::protobuf::ArenaOptions o;
    o.start_block_size = 4096;    // one event and its reply
    o.max_block_size = 64 << 10;  // a batch of 256 events in a few blocks
    return o;
  }
  google::protobuf::Arena arena_;
};

}  // namespace

void ToProto(const TreeHead& head, v1::SignedTreeHead* out) {
  out->set_tree_size(static_cast<int64_t>(head.tree_size));
  out->set_root_hash(HashBytes(head.root_hash));
  out->set_timestamp_unix_ms(head.timestamp_unix_ms);
  out->set_signature(head.signature);
  out->set_key_id(head.key_id);
}

TreeHead FromProto(const v1::SignedTreeHead& p) {
  TreeHead h;
  h.tree_size = static_cast<uint64_t>(p.tree_size());
  if (p.root_hash().size() == h.root_hash.size()) {
    std::copy(p.root_hash().begin(), p.root_hash().end(), h.root_hash.begin());
  }
  h.timestamp_unix_ms = p.timestamp_unix_ms();
  h.signature = p.signature();
  h.key_id = p.key_id();
  return h;
}

void ToProto(const StoredEntry& e, v1::LogEntry* out) {
  out->set_index(static_cast<int64_t>(e.index));
  if (e.entry.has_value() && !e.pruned) out->set_entry(*e.entry);
  out->set_pruned(e.pruned);
  if (e.leaf_hash.has_value()) out->set_leaf_hash(HashBytes(*e.leaf_hash));
}

grpc::MessageHolder<v1::AppendEventsRequest, v1::AppendEventsResponse>*
AuditServiceImpl::ArenaAllocator::AllocateMessages() {
  return new ArenaMessages();
}

AuditServiceImpl::AuditServiceImpl(AuditLog* log,
                                   std::shared_ptr<auth::Authenticator> authenticator)
    : log_(log), authenticator_(std::move(authenticator)) {
  SetMessageAllocatorFor_AppendEvents(&append_allocator_);
}

absl::Status AuditServiceImpl::RecordRead(const grpc::ServerContext& ctx, const std::string& action,
                                          const std::vector<std::string>& resources,
                                          int64_t results) {
  auto principal = auth::PrincipalFromContext(*authenticator_, ctx);
  if (!principal.ok()) return principal.status();
  common::v1::AuditEvent e;
  std::string id = audit_client::NewEventId();
  if (id.empty()) return absl::InternalError("cannot draw an audit event id: the CSPRNG failed");
  e.set_event_id(std::move(id));
  e.set_service("audit");
  *e.mutable_actor() = *principal;
  e.set_action(action);
  for (const std::string& r : resources) {
    if (!r.empty()) e.add_resources(r);
  }
  e.set_decision(common::v1::ALLOW);
  (*e.mutable_details())["results"] = std::to_string(results);
  std::vector<common::v1::AuditEvent> events;
  events.push_back(std::move(e));
  auto r = log_->Append(events);
  if (!r.ok()) {
    return absl::UnavailableError(
        absl::StrCat("the read could not be recorded in the audit log: ", std::string(r.status().message())));
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* AuditServiceImpl::AppendEvents(grpc::CallbackServerContext* ctx,
                                                          const v1::AppendEventsRequest* req,
                                                          v1::AppendEventsResponse* resp) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // The request's own events, read in place before AppendAsync returns.
  const Sequencer::EventRefs events(req->events().data(),
                                    static_cast<size_t>(req->events().size()));
  // gRPC keeps `resp` alive until Finish(), whenever the writer answers.
  log_->AppendAsync(events, [reactor, resp](absl::StatusOr<AppendResult> r) {
    if (!r.ok()) return reactor->Finish(ToGrpcStatus(r.status()));
    resp->mutable_indexes()->Reserve(static_cast<int>(r->indexes.size()));
    for (int64_t i : r->indexes) resp->add_indexes(i);
    resp->set_tree_size(static_cast<int64_t>(r->tree_size));
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::Status AuditServiceImpl::GetSignedTreeHead(grpc::ServerContext*,
                                                 const v1::GetSignedTreeHeadRequest* req,
                                                 v1::SignedTreeHead* resp) {
  if (auto s = CheckNonNegative({{"tree_size", req->tree_size()}}); !s.ok()) return s;
  auto h = log_->GetTreeHead(static_cast<uint64_t>(req->tree_size()));
  if (!h.ok()) return ToGrpcStatus(h.status());
  ToProto(*h, resp);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::SignTreeHead(grpc::ServerContext*, const v1::SignTreeHeadRequest*,
                                            v1::SignedTreeHead* resp) {
  auto h = log_->SignTreeHead();
  if (!h.ok()) return ToGrpcStatus(h.status());
  ToProto(*h, resp);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetInclusionProof(grpc::ServerContext*,
                                                 const v1::GetInclusionProofRequest* req,
                                                 v1::InclusionProof* resp) {
  if (auto s = CheckNonNegative({{"index", req->index()}, {"tree_size", req->tree_size()}}); !s.ok()) {
    return s;
  }
  auto p = log_->InclusionProof(static_cast<uint64_t>(req->index()),
                                static_cast<uint64_t>(req->tree_size()));
  if (!p.ok()) return ToGrpcStatus(p.status());
  resp->set_index(static_cast<int64_t>(p->index));
  resp->set_tree_size(static_cast<int64_t>(p->tree_size));
  resp->set_leaf_hash(HashBytes(p->leaf_hash));
  for (const merkle::Hash& h : p->hashes) resp->add_hashes(HashBytes(h));
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetConsistencyProof(grpc::ServerContext*,
                                                   const v1::GetConsistencyProofRequest* req,
                                                   v1::ConsistencyProof* resp) {
  if (auto s = CheckNonNegative({{"first_size", req->first_size()},
                                 {"second_size", req->second_size()}});
      !s.ok()) {
    return s;
  }
  uint64_t second = static_cast<uint64_t>(req->second_size());
  if (second == 0) {
    auto latest = log_->GetTreeHead(0);
    if (!latest.ok()) return ToGrpcStatus(latest.status());
    second = latest->tree_size;
  }
  auto p = log_->ConsistencyProof(static_cast<uint64_t>(req->first_size()), second);
  if (!p.ok()) return ToGrpcStatus(p.status());
  resp->set_first_size(req->first_size());
  resp->set_second_size(static_cast<int64_t>(second));
  for (const merkle::Hash& h : *p) resp->add_hashes(HashBytes(h));
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::GetEntries(grpc::ServerContext*, const v1::GetEntriesRequest* req,
                                          v1::GetEntriesResponse* resp) {
  if (auto s = CheckNonNegative({{"start", req->start()}, {"end", req->end()}}); !s.ok()) return s;
  auto entries = log_->GetEntries(static_cast<uint64_t>(req->start()),
                                  static_cast<uint64_t>(req->end()));
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  for (const StoredEntry& e : *entries) ToProto(e, resp->add_entries());
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::SearchEvents(grpc::ServerContext* ctx,
                                            const v1::SearchEventsRequest* req,
                                            v1::SearchEventsResponse* resp) {
  SearchQuery q;
  q.subject = req->subject();
  q.role = req->role();
  q.project = req->project();
  q.dataset = req->dataset();
  q.action = req->action();
  q.decision = req->decision();
  q.start_time_unix_ms = req->start_time_unix_ms();
  q.end_time_unix_ms = req->end_time_unix_ms();
  q.page_size = req->page_size();
  q.page_token = req->page_token();
  auto r = log_->Search(q);
  if (!r.ok()) return ToGrpcStatus(r.status());
  absl::Status rec = RecordRead(*ctx, "audit.search", {req->project()},
                                static_cast<int64_t>(r->events.size()));
  if (!rec.ok()) return ToGrpcStatus(rec);
  for (auto& e : r->events) *resp->add_events() = std::move(e);
  for (int64_t i : r->indexes) resp->add_indexes(i);
  resp->set_next_page_token(r->next_page_token);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::ExportLog(grpc::ServerContext* ctx, const v1::ExportLogRequest* req,
                                         grpc::ServerWriter<v1::ExportLogChunk>* writer) {
  if (auto s = CheckNonNegative({{"start", req->start()}, {"end", req->end()}}); !s.ok()) return s;
  absl::Status rec = RecordRead(*ctx, "audit.export", {}, 0);
  if (!rec.ok()) return ToGrpcStatus(rec);
  if (req->end() == 0) {
    // The whole log, as it stands: sign a head over it first (it has grown
    // at least by this export's own record). Without this an export taken
    // between two timed heads would leave out the newest entries. Each
    // export is itself an audited DPO read behind the gateway's rate
    // limits, so this adds at most one small head per export.
    auto head = log_->SignTreeHead();
    if (!head.ok()) {
      // A log that cannot be signed (its witness unwritable, or a tree that
      // no longer extends its last head) is exactly the one a DPO must be
      // able to export: export through the latest head; `verify` shows
      // what it covers.
      log::Error("audit export: could not sign a head over the whole log",
                 {{"code", absl::StatusCodeToString(head.status().code())},
                  {"error", std::string(head.status().message())}});
    }
  }
  bool first = true;
  const auto& raw = log_->public_key().Raw();
  auto start_chunk = [&](v1::ExportLogChunk& c) {
    if (first) c.set_public_key(std::string(reinterpret_cast<const char*>(raw.data()), raw.size()));
    first = false;
  };
  absl::Status s = log_->Export(
      static_cast<uint64_t>(req->start()), static_cast<uint64_t>(req->end()), 1000,
      [&](std::vector<StoredEntry> entries) {
        if (ctx->IsCancelled()) return absl::CancelledError("export cancelled");
        v1::ExportLogChunk c;
        start_chunk(c);
        for (const StoredEntry& e : entries) ToProto(e, c.add_entries());
        if (!writer->Write(c)) return absl::CancelledError("export stream closed");
        return absl::OkStatus();
      },
      [&](std::vector<TreeHead> heads) {
        v1::ExportLogChunk c;
        start_chunk(c);
        for (const TreeHead& h : heads) ToProto(h, c.add_tree_heads());
        if (!writer->Write(c)) return absl::CancelledError("export stream closed");
        return absl::OkStatus();
      });
  return ToGrpcStatus(s);
}

grpc::Status AuditServiceImpl::GetAccessReport(grpc::ServerContext* ctx,
                                               const v1::GetAccessReportRequest* req,
                                               v1::AccessReport* resp) {
  ReportQuery q;
  q.dataset = req->dataset();
  q.project = req->project();
  q.subject = req->subject();
  q.start_time_unix_ms = req->start_time_unix_ms();
  q.end_time_unix_ms = req->end_time_unix_ms();
  auto r = log_->Report(q);
  if (!r.ok()) return ToGrpcStatus(r.status());
  std::string dataset = req->dataset().empty() || req->dataset().rfind("datasets/", 0) == 0
                            ? req->dataset()
                            : "datasets/" + req->dataset();
  absl::Status rec = RecordRead(*ctx, "audit.report", {dataset, req->project()},
                                static_cast<int64_t>(r->lines.size()));
  if (!rec.ok()) return ToGrpcStatus(rec);
  for (const ReportLine& l : r->lines) {
    v1::AccessReportLine* out = resp->add_lines();
    out->set_subject(l.subject);
    out->set_project(l.project);
    out->set_action(l.action);
    out->set_decision(static_cast<common::v1::Decision>(l.decision));
    out->set_count(l.count);
    out->set_first_time_unix_ms(l.first_time_unix_ms);
    out->set_last_time_unix_ms(l.last_time_unix_ms);
  }
  resp->set_events_considered(r->events_considered);
  return grpc::Status::OK;
}

grpc::Status AuditServiceImpl::PruneEvents(grpc::ServerContext* ctx,
                                           const v1::PruneEventsRequest* req,
                                           v1::PruneEventsResponse* resp) {
  if (req->before_time_unix_ms() <= 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "before_time_unix_ms must be positive");
  }
  auto principal = auth::PrincipalFromContext(*authenticator_, *ctx);
  if (!principal.ok()) return ToGrpcStatus(principal.status());
  auto n = log_->Prune(req->before_time_unix_ms(), principal->subject());
  if (!n.ok()) return ToGrpcStatus(n.status());
  resp->set_pruned(*n);
  return grpc::Status::OK;
}

}  // namespace datalab::audit
