// The one shared enforcement point: a grpc::AuthMetadataProcessor installed on
// every server's TLS credentials. For each call it
//   1. lets health checking and reflection through (public),
//   2. reads the method's declared permission (deny when none),
//   3. authenticates the caller through the server's Authenticator,
//   4. authorises the principal against the reviewed role table,
// and only then lets the call reach a handler. gRPC server interceptors cannot
// refuse a call, the metadata processor can, which is why enforcement lives
// here. Handlers learn who is calling with PrincipalFromContext(), which
// authenticates the call's own metadata again through the same Authenticator
// (cached): the processor's AuthContext is shared by every call on a
// connection, so it must never carry a per-call identity.
//
// Thread-safe; IsBlocking() is false, so the checks run on the transport
// thread: keep Authenticate fast (signature checks are cached by callers).
#ifndef DATALAB_COMMON_AUTH_AUTH_PROCESSOR_H_
#define DATALAB_COMMON_AUTH_AUTH_PROCESSOR_H_

#include <functional>
#include <memory>
#include <string>

#include <grpcpp/security/auth_metadata_processor.h>
#include <grpcpp/server_context.h>

#include "absl/status/statusor.h"
#include "common/auth/authenticator.h"
#include "common/auth/policy.h"

namespace datalab::auth {

// A refused call, reported so the wiring can write a deny audit event.
struct Denial {
  std::string method;
  std::string subject;   // empty when the caller was not identified
  absl::Status status;   // UNAUTHENTICATED or PERMISSION_DENIED
  common::v1::Permission permission = common::v1::PERMISSION_UNSPECIFIED;
};

// The pure decision, separate from gRPC types so it can be unit tested.
// Returns the principal to attach, or the status to refuse with.
absl::StatusOr<common::v1::Principal> Decide(Authenticator& authenticator,
                                             const CallInfo& call);

class AuthProcessor : public grpc::AuthMetadataProcessor {
 public:
  using DenialSink = std::function<void(const Denial&)>;
  AuthProcessor(std::shared_ptr<Authenticator> authenticator, DenialSink on_deny);

  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  std::shared_ptr<Authenticator> authenticator_;
  DenialSink on_deny_;
};

// The authenticated principal of the current call, from its own metadata and
// peer certificate. UNAUTHENTICATED when the caller cannot be identified.
absl::StatusOr<common::v1::Principal> PrincipalFromContext(
    Authenticator& authenticator, const grpc::ServerContextBase& context);

// Common name of the verified peer certificate of a call, empty if none.
std::string PeerCommonName(const grpc::AuthContext& context);

}  // namespace datalab::auth

#endif  // DATALAB_COMMON_AUTH_AUTH_PROCESSOR_H_
