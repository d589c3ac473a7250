#include "common/auth/policy.h"

#include "common/auth/auth_processor.h"
#include "common/testing/status_matchers.h"
#include "datalab/audit/v1/audit.grpc.pb.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
#include "datalab/gateway/v1/gateway.grpc.pb.h"
#include "datalab/ingestion/v1/ingestion.grpc.pb.h"
#include "datalab/pseudonymisation/v1/pseudonymisation.grpc.pb.h"
#include "datalab/query/v1/query.grpc.pb.h"
#include "google/protobuf/descriptor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::auth {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
namespace v1 = ::datalab::common::v1;

Principal User(std::initializer_list<Role> roles) {
  Principal p;
  p.set_kind(Principal::USER);
  p.set_subject("users/u");
  for (Role r : roles) p.add_roles(r);
  return p;
}

Principal Service(const std::string& name) {
  Principal p;
  p.set_kind(Principal::SERVICE);
  p.set_subject(name);
  return p;
}

// Generated descriptors live in static libraries: touching one message of
// each file makes the linker keep it, so its services are in the pool.
void LinkAllServices() {
  (void)catalogue::v1::Dataset::descriptor();
  (void)query::v1::QueryResult::descriptor();
  (void)audit::v1::SignedTreeHead::descriptor();
  (void)pseudonymisation::v1::Domain::descriptor();
  (void)ingestion::v1::Job::descriptor();
  (void)gateway::v1::LabStatus::descriptor();
}

TEST(Policy, ReadsDeclaredPermissionFromTheProto) {
  LinkAllServices();
  EXPECT_THAT(DeclaredPermission("/datalab.catalogue.v1.CatalogueService/GetDataset"),
              IsOkAndHolds(v1::CATALOGUE_READ));
  EXPECT_THAT(DeclaredPermission("/datalab.query.v1.QueryService/RunQuery"),
              IsOkAndHolds(v1::QUERY_RUN));
  EXPECT_THAT(DeclaredPermission("/datalab.audit.v1.AuditService/AppendEvents"),
              IsOkAndHolds(v1::INTERNAL_AUDIT_APPEND));
}

TEST(Policy, UnknownAndMalformedMethodsAreNotFound) {
  EXPECT_THAT(DeclaredPermission("/datalab.catalogue.v1.CatalogueService/Nope"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DeclaredPermission("garbage"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DeclaredPermission("/a/b/c"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(DeclaredPermission(""), StatusIs(absl::StatusCode::kNotFound));
}

// Every RPC of every service declares a permission: nothing is open by accident.
TEST(Policy, EveryRpcDeclaresAPermission) {
  LinkAllServices();
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  std::vector<const google::protobuf::ServiceDescriptor*> services;
  for (const char* name :
       {"datalab.catalogue.v1.CatalogueService", "datalab.query.v1.QueryService",
        "datalab.audit.v1.AuditService", "datalab.pseudonymisation.v1.PseudonymisationService",
        "datalab.ingestion.v1.IngestionService", "datalab.gateway.v1.GatewayService"}) {
    services.push_back(pool->FindServiceByName(name));
    ASSERT_NE(services.back(), nullptr) << name;
  }
  int methods = 0;
  for (const auto* s : services) {
    for (int i = 0; i < s->method_count(); ++i) {
      std::string path = "/" + s->full_name() + "/" + s->method(i)->name();
      EXPECT_THAT(DeclaredPermission(path), IsOk()) << path;
      ++methods;
    }
  }
  EXPECT_GT(methods, 50);
}

TEST(Policy, PublicMethodsAreOnlyHealthAndReflection) {
  EXPECT_TRUE(IsPublicMethod("/grpc.health.v1.Health/Check"));
  EXPECT_TRUE(IsPublicMethod("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"));
  EXPECT_FALSE(IsPublicMethod("/datalab.catalogue.v1.CatalogueService/GetDataset"));
  EXPECT_FALSE(IsPublicMethod("/grpc.health.v1.HealthX/Check"));
}

TEST(Policy, SeparationOfDuties) {
  // admin runs the system but reads no pupil data and cannot re-identify.
  EXPECT_FALSE(Authorize(User({v1::ADMIN}), v1::QUERY_RUN).ok());
  EXPECT_FALSE(Authorize(User({v1::ADMIN}), v1::UPLOAD_WRITE).ok());
  EXPECT_FALSE(Authorize(User({v1::ADMIN}), v1::REID_REQUEST).ok());
  EXPECT_FALSE(Authorize(User({v1::ADMIN}), v1::REID_APPROVE).ok());
  EXPECT_FALSE(Authorize(User({v1::ADMIN}), v1::AUDIT_READ).ok());
  EXPECT_THAT(Authorize(User({v1::ADMIN}), v1::KEY_ROTATE), IsOk());
  // dpo reads audit but cannot query data.
  EXPECT_THAT(Authorize(User({v1::DPO}), v1::AUDIT_READ), IsOk());
  EXPECT_FALSE(Authorize(User({v1::DPO}), v1::QUERY_RUN).ok());
  // researchers query but do not approve or upload.
  EXPECT_THAT(Authorize(User({v1::RESEARCHER}), v1::QUERY_RUN), IsOk());
  EXPECT_FALSE(Authorize(User({v1::RESEARCHER}), v1::PROJECT_APPROVE).ok());
  EXPECT_FALSE(Authorize(User({v1::RESEARCHER}), v1::UPLOAD_WRITE).ok());
  EXPECT_FALSE(Authorize(User({v1::RESEARCHER}), v1::AUDIT_READ).ok());
  // No role at all holds nothing.
  EXPECT_FALSE(Authorize(User({}), v1::AUTHENTICATED).ok());
}

TEST(Policy, InternalPermissionsAreNeverGrantedToARole) {
  const auto* e = v1::Permission_descriptor();
  const auto* r = v1::Role_descriptor();
  for (int i = 0; i < e->value_count(); ++i) {
    auto p = static_cast<Permission>(e->value(i)->number());
    if (!IsInternalPermission(p)) continue;
    for (int j = 0; j < r->value_count(); ++j) {
      EXPECT_FALSE(RoleHasPermission(static_cast<Role>(r->value(j)->number()), p))
          << e->value(i)->name() << " granted to " << r->value(j)->name();
    }
  }
  // Nobody holds PERMISSION_UNSPECIFIED.
  EXPECT_FALSE(Authorize(User({v1::ADMIN, v1::DPO}), v1::PERMISSION_UNSPECIFIED).ok());
  EXPECT_FALSE(Authorize(Service("ingestion"), v1::PERMISSION_UNSPECIFIED).ok());
}

TEST(Policy, ServicesHoldOnlyTheirDataFlowEdges) {
  EXPECT_THAT(Authorize(Service("ingestion"), v1::INTERNAL_PSEUDONYMISE), IsOk());
  EXPECT_THAT(Authorize(Service("ingestion"), v1::INTERNAL_STORE_WRITE), IsOk());
  EXPECT_FALSE(Authorize(Service("query"), v1::INTERNAL_PSEUDONYMISE).ok());
  EXPECT_FALSE(Authorize(Service("gateway"), v1::INTERNAL_STORE_WRITE).ok());
  EXPECT_FALSE(Authorize(Service("gateway"), v1::QUERY_RUN).ok());
  EXPECT_FALSE(Authorize(Service("mallory"), v1::INTERNAL_AUDIT_APPEND).ok());
  EXPECT_THAT(Authorize(User({v1::RESEARCHER}), v1::AUDIT_READ),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("AUDIT_READ")));
}

TEST(Policy, RoleClaims) {
  EXPECT_THAT(RoleFromClaim("researcher"), IsOkAndHolds(v1::RESEARCHER));
  EXPECT_THAT(RoleFromClaim("DPO"), IsOkAndHolds(v1::DPO));
  EXPECT_FALSE(RoleFromClaim("root").ok());
  EXPECT_FALSE(RoleFromClaim("role_unspecified").ok());
  EXPECT_FALSE(RoleFromClaim("").ok());
  EXPECT_EQ(RoleClaimName(v1::PROJECT_APPROVER), "project_approver");
}

class FakeAuthenticator : public Authenticator {
 public:
  absl::StatusOr<Principal> Authenticate(const CallInfo& call) override {
    ++calls;
    auto it = call.headers.find("authorization");
    if (it == call.headers.end()) return absl::UnauthenticatedError("no token");
    if (it->second == "researcher") return User({v1::RESEARCHER});
    if (it->second == "broken") return absl::InternalError("backend");
    return absl::UnauthenticatedError("bad token");
  }
  int calls = 0;
};

TEST(Decide, AllowsDeniesAndRefusesUndeclaredMethods) {
  LinkAllServices();
  FakeAuthenticator a;
  CallInfo call;
  call.method = "/datalab.query.v1.QueryService/RunQuery";
  EXPECT_THAT(Decide(a, call), StatusIs(absl::StatusCode::kUnauthenticated));
  call.headers["authorization"] = "researcher";
  EXPECT_THAT(Decide(a, call), IsOk());
  call.method = "/datalab.audit.v1.AuditService/SearchEvents";
  EXPECT_THAT(Decide(a, call), StatusIs(absl::StatusCode::kPermissionDenied));
  call.headers["authorization"] = "broken";
  // Authenticator failures never turn into an allow.
  EXPECT_THAT(Decide(a, call), StatusIs(absl::StatusCode::kUnauthenticated));
  int before = a.calls;
  call.method = "/datalab.query.v1.QueryService/DropTables";
  EXPECT_THAT(Decide(a, call), StatusIs(absl::StatusCode::kPermissionDenied));
  // An unknown method is refused before any credential is looked at.
  EXPECT_EQ(a.calls, before);
}

}  // namespace
}  // namespace datalab::auth
