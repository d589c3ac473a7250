#include "common/audit_client/grpc_audit_client.h"

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"

namespace datalab::audit_client {
namespace {

constexpr char kOutbox[] = "outbox";
constexpr char kDead[] = "dead";

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

common::v1::AuditEvent Prepared(const common::v1::AuditEvent& event) {
  common::v1::AuditEvent e = event;
  if (e.event_id().empty()) e.set_event_id(NewEventId());
  if (e.time_unix_ms() == 0) e.set_time_unix_ms(NowMs());
  return e;
}

std::chrono::system_clock::time_point Deadline(absl::Duration d) {
  return std::chrono::system_clock::now() +
         std::chrono::milliseconds(absl::ToInt64Milliseconds(d));
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcAuditClient>> GrpcAuditClient::Create(
    const GrpcAuditClientOptions& options) {
  if (options.outbox_dir.empty()) {
    return absl::InvalidArgumentError("the audit client needs an outbox directory");
  }
  std::shared_ptr<grpc::Channel> channel = options.channel;
  if (channel == nullptr) {
    if (options.target.empty()) {
      return absl::InvalidArgumentError("the audit client needs a channel or a target");
    }
    // Reconnects soon after audit comes back (see MakeChannel); the outbox
    // has its own backoff.
    auto made = server::MakeChannel(options.target, options.tls,
                                    {.server_name_override = options.server_name_override});
    if (!made.ok()) return made.status();
    channel = std::move(*made);
  }
  storage::KvStoreOptions ko;
  ko.path = options.outbox_dir;
  ko.column_families = {kOutbox, kDead};
  ko.sync_writes = true;
  ko.block_cache_bytes = 4 << 20;
  auto kv = storage::KvStore::Open(ko);
  if (!kv.ok()) return kv.status();
  uint64_t next_seq = 0, pending = 0;
  auto last = (*kv)->LastKeyWithPrefix(kOutbox, "");
  if (last.ok() && last->size() == 8) next_seq = storage::DecodeUint64(*last) + 1;
  absl::Status s = (*kv)->Scan(kOutbox, "", [&](std::string_view, std::string_view) {
    ++pending;
    return true;
  });
  if (!s.ok()) return s;
  return std::unique_ptr<GrpcAuditClient>(
      new GrpcAuditClient(options, std::move(channel), std::move(*kv), next_seq, pending));
}

GrpcAuditClient::GrpcAuditClient(const GrpcAuditClientOptions& options,
                                 std::shared_ptr<grpc::Channel> channel,
                                 std::unique_ptr<storage::KvStore> outbox, uint64_t next_seq,
                                 uint64_t pending)
    : options_(options),
      channel_(std::move(channel)),
      client_(server::NewClient<audit::v1::AuditService>(channel_)),
      outbox_(std::move(outbox)),
      next_seq_(next_seq),
      pending_(pending) {
  delivery_ = std::thread([this] { DeliveryLoop(); });
}

GrpcAuditClient::~GrpcAuditClient() { Close(); }

void GrpcAuditClient::Close() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (delivery_.joinable()) delivery_.join();
}

uint64_t GrpcAuditClient::pending() const {
  absl::MutexLock l(&mu_);
  return pending_;
}

absl::Status GrpcAuditClient::AppendSync(const common::v1::AuditEvent& event,
                                         absl::Time not_after) {
  audit::v1::AppendEventsRequest req;
  *req.add_events() = Prepared(event);
  const absl::Time deadline = std::min(absl::Now() + options_.sync_deadline, not_after);
  auto call = [&](bool wait_for_ready) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(deadline));
    ctx.set_wait_for_ready(wait_for_ready);
    audit::v1::AppendEventsResponse resp;
    return client_->AppendEvents(&ctx, req, &resp);
  };
  grpc::Status s = call(/*wait_for_ready=*/false);
  if (s.error_code() == grpc::StatusCode::UNAVAILABLE &&
      channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY) {
    // The channel's last attempt to connect failed, or its connection broke:
    // audit may be restarting. (On a ready channel the refusal is audit's
    // own, e.g. shutting down, and asking again would not help.) Say why here, the one place the cause is known
    // (gRPC's message names the address and the connect or TLS error, never
    // the event), then wait for audit until the deadline. The event keeps its
    // id, so if the first call did arrive, audit keeps one copy.
    log::Warning("audit is not reachable; waiting for it", {{"error", s.error_message()}});
    s = call(/*wait_for_ready=*/true);
  }
  if (s.ok()) return absl::OkStatus();
  absl::Status status = FromGrpcStatus(s);
  if (absl::IsInvalidArgument(status)) return status;
  log::Warning("audit sync append failed; the caller refuses",
               {{"code", absl::StatusCodeToString(status.code())},
                {"action", event.action()},
                {"error", s.error_message()}});
  return absl::UnavailableError(absl::StrCat("audit service unavailable: ", s.error_message()));
}

absl::Status GrpcAuditClient::Append(const common::v1::AuditEvent& event) {
  common::v1::AuditEvent e = Prepared(event);
  std::string value = e.SerializeAsString();
  absl::MutexLock l(&mu_);
  // Written under the lock so sequence numbers reach the outbox in order.
  absl::Status s = outbox_->Put(kOutbox, storage::EncodeUint64(next_seq_), value);
  if (!s.ok()) {
    return absl::UnavailableError(
        absl::StrCat("audit outbox write failed: ", std::string(s.message())));
  }
  ++next_seq_;
  ++pending_;
  wake_ = true;
  return absl::OkStatus();
}

absl::Status GrpcAuditClient::Flush(absl::Duration timeout) {
  absl::MutexLock l(&mu_);
  wake_ = true;
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return pending_ == 0 || stopping_; };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  if (pending_ == 0) return absl::OkStatus();
  if (stopping_) return absl::FailedPreconditionError("the audit client is closed");
  return absl::DeadlineExceededError(
      absl::StrCat(pending_, " audit events are still waiting in the outbox"));
}

absl::Status GrpcAuditClient::Deliver(
    const std::vector<std::pair<std::string, common::v1::AuditEvent>>& batch) {
  audit::v1::AppendEventsRequest req;
  for (const auto& [key, e] : batch) *req.add_events() = e;
  audit::v1::AppendEventsResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(Deadline(options_.delivery_deadline));
  return FromGrpcStatus(client_->AppendEvents(&ctx, req, &resp));
}

void GrpcAuditClient::Complete(const std::vector<std::string>& keys, bool dead) {
  storage::WriteBatch wb(outbox_.get());
  for (const std::string& k : keys) {
    if (dead) {
      auto v = outbox_->Get(kOutbox, k);
      if (v.ok()) wb.Put(kDead, k, *v);
    }
    wb.Delete(kOutbox, k);
  }
  absl::Status s = outbox_->Write(wb);
  if (!s.ok()) {
    // Left in the outbox: delivered again later, deduplicated by audit.
    log::Warning("audit outbox cleanup failed", {{"error", std::string(s.message())}});
    return;
  }
  if (dead) dead_letters_.fetch_add(keys.size());
  absl::MutexLock l(&mu_);
  pending_ -= std::min<uint64_t>(pending_, keys.size());
}

void GrpcAuditClient::DeliveryLoop() {
  absl::Duration backoff = options_.initial_backoff;
  while (true) {
    {
      absl::MutexLock l(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || wake_ || pending_ > 0;
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      wake_ = false;
    }
    std::vector<std::pair<std::string, common::v1::AuditEvent>> batch;
    std::vector<std::string> corrupt;
    absl::Status s = outbox_->Scan(kOutbox, "", [&](std::string_view k, std::string_view v) {
      common::v1::AuditEvent e;
      if (!e.ParseFromArray(v.data(), static_cast<int>(v.size()))) {
        corrupt.emplace_back(k);
      } else {
        batch.emplace_back(std::string(k), std::move(e));
      }
      return batch.size() < options_.batch_max;
    });
    if (!corrupt.empty()) Complete(corrupt, /*dead=*/true);
    if (!s.ok() || batch.empty()) {
      absl::MutexLock l(&mu_);
      if (batch.empty() && s.ok() && corrupt.empty()) pending_ = 0;  // resync the count
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
      continue;
    }
    absl::Status d = Deliver(batch);
    if (d.ok()) {
      std::vector<std::string> keys;
      for (const auto& [k, e] : batch) keys.push_back(k);
      Complete(keys, /*dead=*/false);
      backoff = options_.initial_backoff;
      continue;
    }
    if (absl::IsInvalidArgument(d)) {
      // Some event is refused for good: deliver one by one, set the refused
      // ones aside.
      for (const auto& item : batch) {
        absl::Status one = Deliver({item});
        if (one.ok() || absl::IsInvalidArgument(one)) {
          if (!one.ok()) {
            log::Error("audit event refused by the audit service; moved to dead letters",
                       {{"error", std::string(one.message())}});
          }
          Complete({item.first}, /*dead=*/!one.ok());
        } else {
          break;  // audit went away: retry later
        }
      }
      continue;
    }
    log::Warning("audit delivery failed; will retry",
                 {{"code", absl::StatusCodeToString(d.code())},
                  {"backoff_ms", std::to_string(absl::ToInt64Milliseconds(backoff))}});
    {
      absl::MutexLock l(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
      if (stopping_) return;
    }
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace datalab::audit_client
