// The declared permission of every RPC, read from the `datalab.common.v1.policy`
// method option in the generated descriptor pool, and the one reviewed table
// that maps roles and service identities to permissions.
//
// Deny by default: a method without a declared permission, an unknown method,
// and a permission no role holds are all refused. Only gRPC health checking
// and server reflection are public (probes and grpcurl need them).
#ifndef DATALAB_COMMON_AUTH_POLICY_H_
#define DATALAB_COMMON_AUTH_POLICY_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "datalab/common/v1/annotations.pb.h"
#include "datalab/common/v1/identity.pb.h"
#include "google/protobuf/descriptor.h"

namespace datalab::auth {

using common::v1::Permission;
using common::v1::Principal;
using common::v1::Role;

// True for methods anyone may call without credentials (health, reflection).
bool IsPublicMethod(std::string_view path);

// The generated descriptor of a full method path ("/pkg.Service/Method"):
// its declared permission, and whether it streams. NOT_FOUND when the path is
// malformed or the method unknown to this binary.
absl::StatusOr<const google::protobuf::MethodDescriptor*> FindMethod(std::string_view path);

// The permission declared for a full method path ("/pkg.Service/Method").
// NOT_FOUND when the method is unknown to this binary; PERMISSION_DENIED when
// it declares none (closed by default).
absl::StatusOr<Permission> DeclaredPermission(std::string_view path);
// The same for a method already found.
absl::StatusOr<Permission> DeclaredPermission(const google::protobuf::MethodDescriptor& method);

// The reviewed table. Internal permissions are never granted to a role.
bool RoleHasPermission(Role role, Permission permission);
// Lab services authenticated by their mTLS certificate name.
bool ServiceHasPermission(std::string_view service, Permission permission);
bool IsKnownService(std::string_view service);
bool IsInternalPermission(Permission permission);

// OK when the principal holds `permission`, PERMISSION_DENIED otherwise with
// a message naming the permission (never the caller's data).
absl::Status Authorize(const Principal& principal, Permission permission);

// Every permission the principal holds, as enum names, for WhoAmI and the CLI.
std::vector<std::string> PermissionsOf(const Principal& principal);

// "researcher" <-> RESEARCHER, as used in token claims.
absl::StatusOr<Role> RoleFromClaim(std::string_view claim);
std::string RoleClaimName(Role role);

}  // namespace datalab::auth

#endif  // DATALAB_COMMON_AUTH_POLICY_H_
