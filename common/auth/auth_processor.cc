#include "common/auth/auth_processor.h"

#include <utility>

#include "absl/strings/escaping.h"
#include "common/status/grpc_status.h"

namespace datalab::auth {
namespace {

std::string_view View(const grpc::string_ref& r) { return {r.data(), r.size()}; }

}  // namespace

absl::StatusOr<common::v1::Principal> Decide(Authenticator& authenticator,
                                             const CallInfo& call) {
  absl::StatusOr<common::v1::Permission> permission = DeclaredPermission(call.method);
  if (!permission.ok()) {
    // Unknown or undeclared methods are closed to everyone.
    return absl::PermissionDeniedError(permission.status().message());
  }
  absl::StatusOr<common::v1::Principal> principal = authenticator.Authenticate(call);
  if (!principal.ok()) {
    if (principal.status().code() == absl::StatusCode::kUnauthenticated ||
        principal.status().code() == absl::StatusCode::kPermissionDenied) {
      return principal.status();
    }
    return absl::UnauthenticatedError(principal.status().message());
  }
  absl::Status allowed = Authorize(*principal, *permission);
  if (!allowed.ok()) return allowed;
  return principal;
}

AuthProcessor::AuthProcessor(std::shared_ptr<Authenticator> authenticator,
                             DenialSink on_deny)
    : authenticator_(std::move(authenticator)), on_deny_(std::move(on_deny)) {}

grpc::Status AuthProcessor::Process(const InputMetadata& auth_metadata,
                                    grpc::AuthContext* context,
                                    OutputMetadata* consumed_auth_metadata,
                                    OutputMetadata* /*response_metadata*/) {
  CallInfo call;
  for (const auto& [k, v] : auth_metadata) {
    if (View(k) == ":path") {
      call.method = View(v);
    } else {
      call.headers[View(k)] = View(v);
    }
  }
  if (IsPublicMethod(call.method)) return grpc::Status::OK;
  call.peer_common_name = PeerCommonName(*context);

  absl::StatusOr<common::v1::Principal> principal = Decide(*authenticator_, call);
  if (!principal.ok()) {
    if (on_deny_) {
      Denial d;
      d.method = std::string(call.method);
      d.status = principal.status();
      if (principal.status().code() == absl::StatusCode::kPermissionDenied) {
        // Authenticated but not allowed: name who was refused.
        auto who = authenticator_->Authenticate(call);
        if (who.ok()) d.subject = who->subject();
      }
      auto perm = DeclaredPermission(call.method);
      if (perm.ok()) d.permission = *perm;
      on_deny_(d);
    }
    return ToGrpcStatus(principal.status());
  }
  (void)consumed_auth_metadata;
  return grpc::Status::OK;
}

absl::StatusOr<common::v1::Principal> PrincipalFromContext(
    Authenticator& authenticator, const grpc::ServerContextBase& context) {
  CallInfo call;
  for (const auto& [k, v] : context.client_metadata()) call.headers[View(k)] = View(v);
  auto auth = context.auth_context();
  if (auth != nullptr) call.peer_common_name = PeerCommonName(*auth);
  return authenticator.Authenticate(call);
}

std::string PeerCommonName(const grpc::AuthContext& context) {
  if (!context.IsPeerAuthenticated()) return "";
  auto cn = context.FindPropertyValues("x509_common_name");
  if (cn.empty()) return "";
  return std::string(cn.front().data(), cn.front().size());
}

}  // namespace datalab::auth
