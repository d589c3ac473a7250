// GrpcAuditClient: the AuditClient every service uses in production, talking
// to datalab.audit.v1.AuditService over mTLS.
//
//   AppendSync(e): an AppendEvents call with a deadline (sync_deadline, or
//     the caller's own if sooner). OK only when the audit service
//     acknowledged (fsynced) the event. If audit cannot be reached at once
//     (restarting, or the channel is between connection attempts), the cause
//     is logged and the call waits for audit until the deadline. Any failure
//     comes back as UNAVAILABLE (INVALID_ARGUMENT for an event the log
//     refuses), and the caller fails closed.
//   Append(e): writes the event to a durable local outbox (a RocksDB store,
//     e.g. <data_dir>/audit-outbox, fsynced) and returns. A background thread
//     delivers outbox events in batches, at least once, with exponential
//     backoff while audit is unreachable, deleting them once acknowledged.
//     Events left in the outbox by a crashed process are delivered by the
//     next instance opened on the same directory. The audit service
//     deduplicates by event_id, so redelivery is harmless.
//   An event the audit service refuses as INVALID_ARGUMENT can never be
//   delivered; it is moved to the outbox's "dead" column family (kept for
//   the operator, counted in dead_letters()) so it does not block the rest.
//
// Both paths assign an event_id (random) and time_unix_ms (now) when the
// caller left them empty, so retries dedupe and outbox delay does not shift
// event times.
//
// Thread-safe. Close() (or the destructor) stops delivery; undelivered
// events stay in the outbox.
#ifndef DATALAB_COMMON_AUDIT_CLIENT_GRPC_AUDIT_CLIENT_H_
#define DATALAB_COMMON_AUDIT_CLIENT_GRPC_AUDIT_CLIENT_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/audit_client/audit_client.h"
#include "common/server/client.h"
#include "common/server/tls.h"
#include "common/storage/kv_store.h"
#include "datalab/audit/v1/audit.grpc.pb.h"

namespace datalab::audit_client {

struct GrpcAuditClientOptions {
  // Either a ready channel, or target + tls (+ server_name_override) from
  // which one is made with a short reconnect backoff.
  std::shared_ptr<grpc::Channel> channel;
  std::string target;
  server::TlsFiles tls;
  std::string server_name_override;

  // Directory of the outbox store; required (Append needs it).
  std::string outbox_dir;

  absl::Duration sync_deadline = absl::Seconds(5);
  absl::Duration delivery_deadline = absl::Seconds(10);
  size_t batch_max = 256;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(10);
};

class GrpcAuditClient : public AuditClient {
 public:
  static absl::StatusOr<std::unique_ptr<GrpcAuditClient>> Create(
      const GrpcAuditClientOptions& options);
  ~GrpcAuditClient() override;

  absl::Status AppendSync(const common::v1::AuditEvent& event, absl::Time not_after) override;
  absl::Status Append(const common::v1::AuditEvent& event) override;

  // Waits until the outbox is empty: OK, or DEADLINE_EXCEEDED after
  // `timeout` (events stay queued), or FAILED_PRECONDITION after Close().
  absl::Status Flush(absl::Duration timeout);
  // Stops the delivery thread. Idempotent.
  void Close();

  uint64_t pending() const;
  uint64_t dead_letters() const { return dead_letters_.load(); }

 private:
  GrpcAuditClient(const GrpcAuditClientOptions& options, std::shared_ptr<grpc::Channel> channel,
                  std::unique_ptr<storage::KvStore> outbox, uint64_t next_seq, uint64_t pending);
  void DeliveryLoop();
  // Sends one batch; returns the status of the call.
  absl::Status Deliver(const std::vector<std::pair<std::string, common::v1::AuditEvent>>& batch);
  void Complete(const std::vector<std::string>& keys, bool dead);

  const GrpcAuditClientOptions options_;
  const std::shared_ptr<grpc::Channel> channel_;
  const std::unique_ptr<server::ClientOf<audit::v1::AuditService>> client_;
  std::unique_ptr<storage::KvStore> outbox_;

  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_);
  uint64_t pending_ ABSL_GUARDED_BY(mu_);
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> dead_letters_{0};
  std::thread delivery_;
};

}  // namespace datalab::audit_client

#endif  // DATALAB_COMMON_AUDIT_CLIENT_GRPC_AUDIT_CLIENT_H_
