#include "services/gateway/forwarder.h"

#include <algorithm>
#include <functional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/auth/auth_processor.h"
#include "common/auth/policy.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"
#include "common/status/status_macros.h"

namespace datalab::gateway {

// One forwarded call: the caller's half (the gateway's server stream) and the
// backend's half (a client stream opened on the same completion queue), so
// every step of it runs on one thread and needs no lock. Each operation in
// flight is counted; the call deletes itself when none is left and the
// caller's half has finished.
//
// The pump: caller -> backend one message at a time (read, write, read
// again; half-close when the caller half-closes), backend -> caller the same
// way; when the backend's stream ends its status finishes the caller's half.
// A method whose caller sends one message (unary, server streaming) is sent
// on with the half-close in the same write; one whose backend answers with
// one message is answered with that message and the status in one step.
class Forwarder::Call {
 public:
  Call(Forwarder* forwarder, int index) : forwarder_(forwarder), index_(index) {
    for (int op = 0; op < kOps; ++op) tags_[op] = {this, static_cast<Op>(op)};
  }

  // Stands ready for the next call on this queue.
  void Request() {
    grpc::ServerCompletionQueue* cq = forwarder_->queues_[index_].get();
    ctx_.AsyncNotifyWhenDone(Tag(kDone));  // fires only if a call arrives
    ++pending_;
    forwarder_->service_.RequestCall(&ctx_, &stream_, cq, cq, Tag(kNew));
  }

  // One completed operation, on its call's queue thread.
  static void Proceed(void* tag, bool ok) {
    const TagSlot* slot = static_cast<const TagSlot*>(tag);
    slot->call->Step(slot->op, ok);
  }

 private:
  enum Op {
    kNew, kDone, kServerRead, kServerWrite, kServerFinish,
    kClientStart, kClientRead, kClientWrite, kClientWritesDone, kClientFinish, kOps
  };
  struct TagSlot {
    Call* call;
    Op op;
  };
  void* Tag(Op op) { return &tags_[op]; }

  void Step(Op op, bool ok) {
    --pending_;
    switch (op) {
      case kNew: OnNew(ok); break;
      case kClientStart: OnClientStart(ok); break;
      case kServerRead: OnServerRead(ok); break;
      case kClientWrite: OnClientWrite(ok); break;
      case kClientRead: OnClientRead(ok); break;
      case kServerWrite: OnServerWrite(ok); break;
      case kClientFinish: OnClientFinish(); break;
      case kServerFinish: server_finished_ = true; break;
      case kDone:
        // Cancellation already reaches the backend (the backend call is a
        // child of this one); this only ends what the gateway still waits on.
        if (ctx_.IsCancelled()) CancelBackend();
        break;
      default: break;  // kClientWritesDone: nothing follows
    }
    if (pending_ == 0 && (server_finished_ || !arrived_)) delete this;
  }

  ~Call() {
    if (admission_.on_finish) admission_.on_finish();  // normally done in OnClientFinish
    forwarder_->live_calls_.fetch_sub(1, std::memory_order_release);
  }

  void OnNew(bool ok) {
    if (!ok) return;  // the server is shutting down: no call, and no more asked for
    arrived_ = true;
    ++pending_;  // kDone, asked for in Request()
    forwarder_->RequestCall(index_);
    absl::StatusOr<Admission> admission = forwarder_->Admit(ctx_);
    if (!admission.ok()) {
      FinishServer(ToGrpcStatus(admission.status()));
      return;
    }
    admission_ = std::move(*admission);
    // A caller that sends one message sends it first: the backend call's
    // metadata is corked and goes out with it, one operation fewer
    // (StartCall then completes nothing). A streaming caller's backend may
    // answer before the first message, so that call starts at once, and
    // the caller is read once it has started (a write must not overlap
    // the start).
    const bool corked = !admission_.client_streaming;
    admission_.client_context->set_initial_metadata_corked(corked);
    backend_ = admission_.backend->PrepareCall(admission_.client_context.get(), ctx_.method(),
                                               forwarder_->queues_[index_].get());
    if (backend_ == nullptr) {
      FinishServer(grpc::Status(grpc::StatusCode::INTERNAL, "cannot open the backend call"));
      return;
    }
    if (corked) {
      backend_->StartCall(nullptr);
      ReadCaller();
    } else {
      ++pending_;
      backend_->StartCall(Tag(kClientStart));
      downstream_started_ = true;
      ReadBackend();
    }
  }
  void OnClientStart(bool ok) {
    if (!ok) {
      upstream_closed_ = true;  // the call never started; its status follows
      return;
    }
    if (!backend_finishing_ && !server_finishing_) ReadCaller();
  }

  // Caller -> backend.
  void ReadCaller() {
    ++pending_;
    stream_.Read(&up_, Tag(kServerRead));
  }
  void OnServerRead(bool ok) {
    if (upstream_closed_ || backend_finishing_) return;
    ++pending_;
    if (!ok) {  // the caller half-closed, or the call is over
      upstream_closed_ = true;
      backend_->WritesDone(Tag(kClientWritesDone));
    } else if (!admission_.client_streaming) {
      upstream_closed_ = true;  // one message: send it with the half-close
      backend_->WriteLast(up_, grpc::WriteOptions(), Tag(kClientWrite));
    } else {
      backend_->Write(up_, Tag(kClientWrite));
    }
    // A corked call's answer is read once the call is on its way.
    if (!downstream_started_) {
      downstream_started_ = true;
      ReadBackend();
    }
  }
  void OnClientWrite(bool ok) {
    if (!ok) {
      upstream_closed_ = true;  // the backend has ended the call; its status follows
      return;
    }
    if (!upstream_closed_ && !backend_finishing_) ReadCaller();
  }

  // Backend -> caller.
  void ReadBackend() {
    ++pending_;
    backend_->Read(&down_, Tag(kClientRead));
  }
  void OnClientRead(bool ok) {
    if (!ok || !admission_.server_streaming) {
      // The backend's stream ended (or its one answer came): its status next.
      have_answer_ = ok;
      FinishBackend();
      return;
    }
    ++pending_;
    stream_.Write(down_, Tag(kServerWrite));
  }
  void OnServerWrite(bool ok) {
    if (!ok) {  // the caller has gone
      CancelBackend();
      FinishBackend();
      return;
    }
    ReadBackend();
  }

  // Ends.
  void FinishBackend() {
    if (backend_finishing_) return;
    backend_finishing_ = true;
    ++pending_;
    backend_->Finish(&status_, Tag(kClientFinish));
  }
  void OnClientFinish() {
    backend_finished_ = true;
    // The backend is done with the call: free a query slot before the
    // caller hears the outcome, so its next query is not refused.
    if (admission_.on_finish) {
      admission_.on_finish();
      admission_.on_finish = nullptr;
    }
    if (have_answer_ && status_.ok()) {
      server_finishing_ = true;
      ++pending_;
      stream_.WriteAndFinish(down_, grpc::WriteOptions(), status_, Tag(kServerFinish));
    } else {
      FinishServer(status_);
    }
  }
  void FinishServer(const grpc::Status& status) {
    if (server_finishing_) return;
    server_finishing_ = true;
    ++pending_;
    stream_.Finish(status, Tag(kServerFinish));
  }
  void CancelBackend() {
    if (backend_ != nullptr && !backend_finished_) admission_.client_context->TryCancel();
  }

  Forwarder* forwarder_;
  const int index_;
  TagSlot tags_[kOps];
  grpc::GenericServerContext ctx_;
  grpc::GenericServerAsyncReaderWriter stream_{&ctx_};
  Admission admission_;
  std::unique_ptr<grpc::GenericClientAsyncReaderWriter> backend_;
  grpc::ByteBuffer up_;    // caller -> backend
  grpc::ByteBuffer down_;  // backend -> caller
  grpc::Status status_;    // the backend's
  int pending_ = 0;        // operations in flight
  bool arrived_ = false;
  bool upstream_closed_ = false;
  bool downstream_started_ = false;
  bool have_answer_ = false;
  bool backend_finishing_ = false;
  bool backend_finished_ = false;
  bool server_finishing_ = false;
  bool server_finished_ = false;
};

namespace {

auth::CallInfo CallInfoOf(const grpc::GenericServerContext& ctx) {
  auth::CallInfo call;
  call.method = ctx.method();
  for (const auto& [k, v] : ctx.client_metadata()) {
    call.headers[std::string_view(k.data(), k.size())] = std::string_view(v.data(), v.size());
  }
  return call;
}

}  // namespace

Forwarder::Forwarder(std::shared_ptr<auth::Authenticator> authenticator,
                     std::shared_ptr<const auth::AssertionSigner> signer,
                     std::shared_ptr<RateLimiter> limiter,
                     std::map<std::string, std::shared_ptr<grpc::Channel>> backends,
                     ForwarderOptions options)
    : authenticator_(std::move(authenticator)), signer_(std::move(signer)),
      limiter_(std::move(limiter)), options_(options) {
  for (auto& [package, channel] : backends) {
    backends_[package] = std::make_unique<Backend>(channel);
  }
}

Forwarder::~Forwarder() { Stop(); }

std::string Forwarder::PackageOf(const std::string& method) {
  // "/datalab.query.v1.QueryService/RunQuery"
  if (method.size() < 3 || method[0] != '/') return "";
  size_t slash = method.find('/', 1);
  if (slash == std::string::npos) return "";
  std::string service = method.substr(1, slash - 1);
  size_t dot = service.rfind('.');
  if (dot == std::string::npos) return "";
  return service.substr(0, dot);
}

void Forwarder::Register(grpc::ServerBuilder& builder) {
  builder.RegisterAsyncGenericService(&service_);
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    queues_.push_back(builder.AddCompletionQueue());
  }
}

void Forwarder::Start() {
  for (int i = 0; i < static_cast<int>(queues_.size()); ++i) {
    for (int n = 0; n < std::max(1, options_.ready_calls_per_thread); ++n) RequestCall(i);
    threads_.emplace_back([this, i] { Poll(i); });
  }
}

void Forwarder::RequestCall(int index) {
  live_calls_.fetch_add(1, std::memory_order_relaxed);
  (new Call(this, index))->Request();
}

void Forwarder::Poll(int index) {
  void* tag = nullptr;
  bool ok = false;
  while (queues_[index]->Next(&tag, &ok)) Call::Proceed(tag, ok);
}

void Forwarder::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (threads_.empty()) {  // never started: nothing was asked of the queues
    for (auto& q : queues_) server::ShutdownAndDrain(*q);
    return;
  }
  // The server has shut down: every call has finished or been cancelled, and
  // the calls it was ready for are returned unused. Wait until each has run
  // its last step before the queues stop taking them (an operation started
  // on a queue that is shut down would abort the process). Called before
  // the server is shut down, this would wait for ever: Server::Shutdown
  // calls it after.
  const absl::Time start = absl::Now();
  bool said = false;
  while (live_calls_.load(std::memory_order_acquire) > 0) {
    if (!said && absl::Now() - start > absl::Seconds(10)) {
      said = true;
      log::Warning("waiting for gateway calls to end before stopping",
                {{"calls", std::to_string(live_calls_.load())}});
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  for (auto& q : queues_) q->Shutdown();
  for (auto& t : threads_) t.join();
}

absl::StatusOr<Forwarder::Admission> Forwarder::Admit(grpc::GenericServerContext& ctx) {
  const std::string& method = ctx.method();
  absl::StatusOr<const google::protobuf::MethodDescriptor*> descriptor = auth::FindMethod(method);
  absl::StatusOr<common::v1::Permission> permission =
      descriptor.ok() ? auth::DeclaredPermission(**descriptor) : descriptor.status();
  if (!permission.ok() || auth::IsInternalPermission(*permission)) {
    // Never reached for unknown methods (the processor refuses them first).
    return absl::PermissionDeniedError("this method is not available through the gateway");
  }
  const std::string package = PackageOf(method);
  auto backend = backends_.find(package);
  if (backend == backends_.end()) {
    // A gateway started without this service's backend (main requires
    // them all; a partial configuration is the only way here).
    return absl::UnavailableError(absl::StrCat("no backend is configured for ", package));
  }
  auth::CallInfo call = CallInfoOf(ctx);
  ASSIGN_OR_RETURN(common::v1::Principal principal, authenticator_->Authenticate(call));
  RETURN_IF_ERROR(limiter_->Admit(principal.subject()));
  Admission a;
  const bool is_query = absl::StartsWith(method, "/datalab.query.v1.QueryService/RunQuery");
  if (is_query) {
    RETURN_IF_ERROR(limiter_->BeginQuery(principal.subject()));
    std::shared_ptr<RateLimiter> limiter = limiter_;
    a.on_finish = [limiter, subject = principal.subject()] { limiter->EndQuery(subject); };
  }
  auto assertion = signer_->Sign(principal);
  if (!assertion.ok()) {
    if (a.on_finish) a.on_finish();  // the query slot
    log::Error("cannot sign identity assertion",
               {{"error", std::string(assertion.status().message())}});
    return absl::InternalError("gateway signing failed");
  }
  a.backend = backend->second.get();
  a.client_streaming = (*descriptor)->client_streaming();
  a.server_streaming = (*descriptor)->server_streaming();
  a.client_context = grpc::ClientContext::FromServerContext(ctx);
  if (ctx.deadline() == std::chrono::system_clock::time_point::max()) {
    bool upload = absl::StartsWith(method, "/datalab.ingestion.v1.IngestionService/Upload");
    a.client_context->set_deadline(std::chrono::system_clock::now() +
                                   absl::ToChronoSeconds(upload ? options_.upload_deadline
                                                                : options_.default_deadline));
  }
  a.client_context->AddMetadata(auth::kAssertionHeader, *assertion);
  if (!principal.request_id().empty()) {
    a.client_context->AddMetadata(auth::kRequestIdHeader, principal.request_id());
  }
  return a;
}

}  // namespace datalab::gateway
