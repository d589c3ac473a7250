// Who is calling: the interface each server's credential check implements.
// The gateway authenticates OIDC JWTs; backends authenticate the gateway's
// signed identity assertion or a lab service's mTLS certificate.
#ifndef DATALAB_COMMON_AUTH_AUTHENTICATOR_H_
#define DATALAB_COMMON_AUTH_AUTHENTICATOR_H_

#include <string>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "datalab/common/v1/identity.pb.h"

namespace datalab::auth {

// Metadata keys the lab uses.
inline constexpr char kAuthorizationHeader[] = "authorization";
inline constexpr char kAssertionHeader[] = "x-datalab-assertion";
inline constexpr char kRequestIdHeader[] = "x-request-id";

// What the transport tells us about one incoming call.
struct CallInfo {
  std::string_view method;  // "/pkg.Service/Method"
  // Request headers (lower-case keys; the last value wins for repeated keys).
  absl::flat_hash_map<std::string_view, std::string_view> headers;
  // Common name of the peer's verified client certificate; empty without one.
  std::string peer_common_name;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // UNAUTHENTICATED with a short, safe reason when the caller cannot be
  // identified. Must be thread-safe: called concurrently from transport threads.
  virtual absl::StatusOr<common::v1::Principal> Authenticate(const CallInfo& call) = 0;
};

}  // namespace datalab::auth

#endif  // DATALAB_COMMON_AUTH_AUTHENTICATOR_H_
