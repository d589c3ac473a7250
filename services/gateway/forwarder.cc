#include "services/gateway/forwarder.h"

#include <atomic>
#include <mutex>

#include "absl/strings/match.h"
#include "common/auth/auth_processor.h"
#include "common/auth/policy.h"
#include "common/log/log.h"
#include "common/status/grpc_status.h"

namespace datalab::gateway {
namespace {

// Answers a call the gateway refuses itself.
class RefuseReactor : public grpc::ServerGenericBidiReactor {
 public:
  explicit RefuseReactor(grpc::Status s) { Finish(std::move(s)); }
  void OnDone() override { delete this; }
};

// One forwarded call: a server-side reactor towards the client and a
// client-side reactor towards the backend, sharing this object. It deletes
// itself when both sides are done.
//
// Rules that keep the two reactors safe:
//  - the backend call holds a hold (AddHold) while the client may still send
//    upstream, so the backend side cannot finish while we might start a
//    write on it; the hold is released exactly once (CloseUpstream) when the
//    client half-closes, the backend refuses a write, or the call is over;
//  - the backend call also holds a hold while a response is being written to
//    the client: the next backend read starts from the server side's
//    OnWriteDone, outside any backend reaction, and without the hold the
//    backend call could complete (and be freed) just before that StartRead;
//  - the client side is finished exactly once, after any write in flight.
class ProxyCall {
 public:
  ProxyCall(grpc::GenericCallbackServerContext* server_ctx,
            std::unique_ptr<grpc::ClientContext> client_ctx,
            std::function<void()> on_finish)
      : server_ctx_(server_ctx), client_ctx_(std::move(client_ctx)),
        on_finish_(std::move(on_finish)), server_(this), client_(this) {}

  grpc::ServerGenericBidiReactor* Start(grpc::GenericStub& stub) {
    stub.PrepareBidiStreamingCall(client_ctx_.get(), server_ctx_->method(),
                                  grpc::StubOptions(), &client_);
    client_.AddHold();
    client_.StartRead(&down_);
    client_.StartCall();
    server_.StartRead(&up_);
    return &server_;
  }

 private:
  class ServerSide : public grpc::ServerGenericBidiReactor {
   public:
    explicit ServerSide(ProxyCall* call) : call_(call) {}
    void OnReadDone(bool ok) override {
      {
        std::lock_guard<std::mutex> l(call_->mu_);
        if (call_->upstream_closed_) return;
      }
      if (ok) {
        call_->client_.StartWrite(&call_->up_);
      } else {
        call_->client_.StartWritesDone();
        call_->CloseUpstream();
      }
    }
    void OnWriteDone(bool ok) override {
      if (ok) {
        call_->client_.StartRead(&call_->down_);
      } else {
        call_->client_ctx_->TryCancel();
      }
      call_->client_.RemoveHold();  // taken in ClientSide::OnReadDone
    }
    void OnCancel() override { call_->client_ctx_->TryCancel(); }
    void OnDone() override {
      call_->CloseUpstream();
      call_->Unref();
    }

   private:
    ProxyCall* call_;
  };

  class ClientSide : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
   public:
    explicit ClientSide(ProxyCall* call) : call_(call) {}
    void OnWriteDone(bool ok) override {
      if (ok) {
        call_->server_.StartRead(&call_->up_);
      } else {
        // The backend has ended the call: stop sending; OnDone follows.
        call_->CloseUpstream();
      }
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;  // the backend finished sending; OnDone brings the status
      // Keeps the backend call alive until ServerSide::OnWriteDone has
      // started the next read (inside a reaction, so the call is not done).
      call_->client_.AddHold();
      call_->server_.StartWrite(&call_->down_);
    }
    void OnDone(const grpc::Status& s) override {
      // No write to the client is in flight here (see the hold above).
      call_->server_.Finish(s);
      call_->Unref();
    }

   private:
    ProxyCall* call_;
  };

  void CloseUpstream() {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (upstream_closed_) return;
      upstream_closed_ = true;
    }
    client_.RemoveHold();
  }

  void Unref() {
    if (refs_.fetch_sub(1) == 1) {
      if (on_finish_) on_finish_();
      delete this;
    }
  }

  grpc::GenericCallbackServerContext* server_ctx_;
  std::unique_ptr<grpc::ClientContext> client_ctx_;
  std::function<void()> on_finish_;
  ServerSide server_;
  ClientSide client_;
  grpc::ByteBuffer up_;    // client -> backend
  grpc::ByteBuffer down_;  // backend -> client
  std::mutex mu_;
  bool upstream_closed_ = false;
  std::atomic<int> refs_{2};
};

auth::CallInfo CallInfoOf(const grpc::GenericCallbackServerContext& ctx) {
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
    stubs_[package] = std::make_unique<grpc::GenericStub>(channel);
  }
}

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

grpc::ServerGenericBidiReactor* Forwarder::CreateReactor(grpc::GenericCallbackServerContext* ctx) {
  const std::string& method = ctx->method();
  auto permission = auth::DeclaredPermission(method);
  if (!permission.ok() || auth::IsInternalPermission(*permission)) {
    // Never reached for unknown methods (the processor refuses them first).
    return new RefuseReactor(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                          "this method is not available through the gateway"));
  }
  auto stub = stubs_.find(PackageOf(method));
  if (stub == stubs_.end()) {
    return new RefuseReactor(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                                          "no backend serves this method"));
  }
  auth::CallInfo call = CallInfoOf(*ctx);
  auto principal = authenticator_->Authenticate(call);
  if (!principal.ok()) return new RefuseReactor(ToGrpcStatus(principal.status()));

  absl::Status admitted = limiter_->Admit(principal->subject());
  if (!admitted.ok()) return new RefuseReactor(ToGrpcStatus(admitted));
  bool is_query = absl::StartsWith(method, "/datalab.query.v1.QueryService/RunQuery");
  if (is_query) {
    absl::Status slot = limiter_->BeginQuery(principal->subject());
    if (!slot.ok()) return new RefuseReactor(ToGrpcStatus(slot));
  }

  auto assertion = signer_->Sign(*principal);
  if (!assertion.ok()) {
    if (is_query) limiter_->EndQuery(principal->subject());
    log::Error("cannot sign identity assertion", {{"error", std::string(assertion.status().message())}});
    return new RefuseReactor(grpc::Status(grpc::StatusCode::INTERNAL, "gateway signing failed"));
  }
  auto client_ctx = grpc::ClientContext::FromCallbackServerContext(*ctx);
  if (ctx->deadline() == std::chrono::system_clock::time_point::max()) {
    bool upload = absl::StartsWith(method, "/datalab.ingestion.v1.IngestionService/Upload");
    client_ctx->set_deadline(std::chrono::system_clock::now() +
                             absl::ToChronoSeconds(upload ? options_.upload_deadline
                                                          : options_.default_deadline));
  }
  client_ctx->AddMetadata(auth::kAssertionHeader, *assertion);
  if (!principal->request_id().empty()) {
    client_ctx->AddMetadata(auth::kRequestIdHeader, principal->request_id());
  }
  std::function<void()> on_finish;
  if (is_query) {
    std::string subject = principal->subject();
    std::shared_ptr<RateLimiter> limiter = limiter_;
    on_finish = [limiter, subject] { limiter->EndQuery(subject); };
  }
  auto* proxy = new ProxyCall(ctx, std::move(client_ctx), std::move(on_finish));
  return proxy->Start(*stub->second);
}

}  // namespace datalab::gateway
