#include "common/auth/policy.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"

namespace datalab::auth {
namespace {

using P = Permission;

// The one reviewed table: which role holds which permission. Separation of
// duties (DESIGN.md section 3): admin runs the system but can read no pupil
// data (no QUERY_RUN, no UPLOAD_WRITE) and cannot re-identify; the DPO reads
// audit but cannot query data; approvers approve but do not query.
struct RoleGrant {
  Role role;
  std::vector<Permission> permissions;
};

const std::vector<RoleGrant>& RoleTable() {
  static const auto* table = new std::vector<RoleGrant>{
      {common::v1::RESEARCHER,
       {P::AUTHENTICATED, P::CATALOGUE_READ, P::PROJECT_READ, P::PROJECT_PROPOSE,
        P::QUERY_RUN, P::QUERY_HISTORY_READ}},
      {common::v1::DATA_STEWARD,
       {P::AUTHENTICATED, P::CATALOGUE_READ, P::CATALOGUE_WRITE, P::PROJECT_READ,
        P::UPLOAD_WRITE, P::UPLOAD_READ, P::DOMAIN_READ}},
      {common::v1::PROJECT_APPROVER,
       {P::AUTHENTICATED, P::CATALOGUE_READ, P::PROJECT_READ, P::PROJECT_APPROVE,
        P::USER_READ, P::REID_APPROVE}},
      {common::v1::DPO,
       {P::AUTHENTICATED, P::CATALOGUE_READ, P::PROJECT_READ, P::USER_READ,
        P::AUDIT_READ, P::PROCESSING_RECORDS_READ, P::REID_REQUEST, P::REID_APPROVE,
        P::SUBJECT_REQUEST, P::DOMAIN_READ, P::UPLOAD_READ}},
      {common::v1::ADMIN,
       {P::AUTHENTICATED, P::CATALOGUE_READ, P::PROJECT_READ, P::USER_READ,
        P::USER_ADMIN, P::TRUST_FLOOR_ADMIN, P::DOMAIN_READ, P::DOMAIN_ADMIN,
        P::KEY_ROTATE, P::AUDIT_ADMIN, P::UPLOAD_READ}},
  };
  return *table;
}

struct ServiceGrant {
  std::string_view service;
  std::vector<Permission> permissions;
};

// Lab services, by the name in their mTLS certificate. Each gets only the
// edges of the data flow in DESIGN.md section 2.
const std::vector<ServiceGrant>& ServiceTable() {
  static const auto* table = new std::vector<ServiceGrant>{
      {"gateway", {P::AUTHENTICATED, P::INTERNAL_AUDIT_APPEND}},
      {"catalogue", {P::AUTHENTICATED, P::INTERNAL_AUDIT_APPEND}},
      {"ingestion",
       {P::AUTHENTICATED, P::INTERNAL_AUDIT_APPEND, P::INTERNAL_PSEUDONYMISE,
        P::INTERNAL_STORE_WRITE, P::INTERNAL_VERSION_REGISTER, P::CATALOGUE_READ}},
      {"pseudonymisation",
       {P::AUTHENTICATED, P::INTERNAL_AUDIT_APPEND, P::INTERNAL_SUBJECT_RECORDS}},
      {"query",
       {P::AUTHENTICATED, P::INTERNAL_AUDIT_APPEND, P::INTERNAL_ACCESS_DECISION,
        P::CATALOGUE_READ}},
      {"audit", {P::AUTHENTICATED}},
  };
  return *table;
}

}  // namespace

bool IsPublicMethod(std::string_view path) {
  return path.starts_with("/grpc.health.v1.Health/") ||
         path.starts_with("/grpc.reflection.v1alpha.ServerReflection/") ||
         path.starts_with("/grpc.reflection.v1.ServerReflection/");
}

absl::StatusOr<const google::protobuf::MethodDescriptor*> FindMethod(std::string_view path) {
  // "/pkg.Service/Method" -> "pkg.Service.Method"
  if (path.size() < 4 || path[0] != '/') {
    return absl::NotFoundError("malformed method path");
  }
  std::string full(path.substr(1));
  size_t slash = full.find('/');
  if (slash == std::string::npos || full.find('/', slash + 1) != std::string::npos) {
    return absl::NotFoundError("malformed method path");
  }
  full[slash] = '.';
  const google::protobuf::MethodDescriptor* method =
      google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(full);
  if (method == nullptr) {
    return absl::NotFoundError(absl::StrCat("unknown method ", std::string(path)));
  }
  return method;
}

absl::StatusOr<Permission> DeclaredPermission(std::string_view path) {
  absl::StatusOr<const google::protobuf::MethodDescriptor*> found = FindMethod(path);
  if (!found.ok()) return found.status();
  return DeclaredPermission(**found);
}

absl::StatusOr<Permission> DeclaredPermission(const google::protobuf::MethodDescriptor& method) {
  const auto& policy = method.options().GetExtension(common::v1::policy);
  if (policy.permission() == P::PERMISSION_UNSPECIFIED) {
    return absl::PermissionDeniedError(absl::StrCat(
        "method /", method.service()->full_name(), "/", method.name(),
        " declares no permission and is closed"));
  }
  return policy.permission();
}

bool IsInternalPermission(Permission permission) {
  return static_cast<int>(permission) >= 100;
}

bool RoleHasPermission(Role role, Permission permission) {
  if (permission == P::PERMISSION_UNSPECIFIED || IsInternalPermission(permission)) {
    return false;
  }
  for (const auto& grant : RoleTable()) {
    if (grant.role != role) continue;
    return std::find(grant.permissions.begin(), grant.permissions.end(), permission) !=
           grant.permissions.end();
  }
  return false;
}

bool IsKnownService(std::string_view service) {
  for (const auto& grant : ServiceTable()) {
    if (grant.service == service) return true;
  }
  return false;
}

bool ServiceHasPermission(std::string_view service, Permission permission) {
  if (permission == P::PERMISSION_UNSPECIFIED) return false;
  for (const auto& grant : ServiceTable()) {
    if (grant.service != service) continue;
    return std::find(grant.permissions.begin(), grant.permissions.end(), permission) !=
           grant.permissions.end();
  }
  return false;
}

absl::Status Authorize(const Principal& principal, Permission permission) {
  bool allowed = false;
  switch (principal.kind()) {
    case Principal::USER:
      for (int r : principal.roles()) {
        allowed |= RoleHasPermission(static_cast<Role>(r), permission);
      }
      break;
    case Principal::SERVICE:
      allowed = ServiceHasPermission(principal.subject(), permission);
      break;
    default:
      break;
  }
  if (allowed) return absl::OkStatus();
  return absl::PermissionDeniedError(
      absl::StrCat("permission ", common::v1::Permission_Name(permission),
                   " is required and the caller's roles do not grant it"));
}

std::vector<std::string> PermissionsOf(const Principal& principal) {
  std::vector<std::string> out;
  const auto* e = common::v1::Permission_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    auto p = static_cast<Permission>(e->value(i)->number());
    if (Authorize(principal, p).ok()) out.push_back(e->value(i)->name());
  }
  return out;
}

absl::StatusOr<Role> RoleFromClaim(std::string_view claim) {
  std::string upper = absl::AsciiStrToUpper(std::string(claim));
  Role role;
  if (upper.empty() || upper == "ROLE_UNSPECIFIED" || !common::v1::Role_Parse(upper, &role)) {
    return absl::InvalidArgumentError("unknown role");
  }
  return role;
}

std::string RoleClaimName(Role role) {
  return absl::AsciiStrToLower(common::v1::Role_Name(role));
}

}  // namespace datalab::auth
