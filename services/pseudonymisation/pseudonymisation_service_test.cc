// Every RPC over real TLS on loopback through the shared AuthProcessor:
// users via a fake bearer authenticator ("Bearer <role>:<user>"), the
// ingestion service via its mTLS certificate; the streaming RPC with
// several messages; denials by permission and by business rule.
#include "services/pseudonymisation/pseudonymisation_service.h"

#include <grpcpp/grpcpp.h>

#include "common/auth/policy.h"
#include "common/server/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/pseudonymisation/memory_pseudonymisation_store.h"

namespace datalab::pseudonymisation {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;
namespace cv1 = ::datalab::common::v1;

constexpr char kUpn[] = "B801200005001";

class FakeAuthenticator : public auth::Authenticator {
 public:
  absl::StatusOr<cv1::Principal> Authenticate(const auth::CallInfo& call) override {
    cv1::Principal p;
    auto it = call.headers.find("authorization");
    if (it != call.headers.end()) {
      std::string token(it->second.substr(7));  // "Bearer "
      size_t colon = token.find(':');
      if (colon == std::string::npos) return absl::UnauthenticatedError("bad token");
      auto role = auth::RoleFromClaim(token.substr(0, colon));
      if (!role.ok()) return absl::UnauthenticatedError("bad token");
      p.set_kind(cv1::Principal::USER);
      p.set_subject("users/" + token.substr(colon + 1));
      p.add_roles(*role);
      return p;
    }
    if (auth::IsKnownService(call.peer_common_name)) {
      p.set_kind(cv1::Principal::SERVICE);
      p.set_subject(call.peer_common_name);
      return p;
    }
    return absl::UnauthenticatedError("no credentials");
  }
};

Kek FixedKek(char fill) {
  return std::move(*Kek::FromBytes(crypto::SecureBytes(crypto::ByteView(std::string(32, fill)))));
}

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server_pair = ca_.Issue("pseudonymisation");
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());
    WriteFileOrDie(dir_.Sub("server.pem"), server_pair.cert);
    WriteFileOrDie(dir_.Sub("server.key"), server_pair.key);
    for (const char* cn : {"ingestion", "gateway"}) {
      auto pair = ca_.Issue(cn);
      WriteFileOrDie(dir_.Sub(std::string(cn) + ".pem"), pair.cert);
      WriteFileOrDie(dir_.Sub(std::string(cn) + ".key"), pair.key);
    }
    PseudonymisationOptions o;
    o.store = &store_;
    o.audit = &audit_;
    o.clock = &clock_;
    o.kek = FixedKek('A');
    auto d = Pseudonymisation::Create(std::move(o));
    ASSERT_THAT(d, IsOk());
    domain_ = std::move(*d);
    service_ = std::make_unique<PseudonymisationService>(
        domain_.get(), authn_, [this]() -> absl::StatusOr<Kek> { return FixedKek(next_kek_); });
    server::ServerOptions so;
    so.service_name = "pseudonymisation";
    so.tls = {dir_.Sub("server.pem"), dir_.Sub("server.key"), dir_.Sub("ca.pem")};
    so.metrics_address = "";
    auto s = server::Server::Start(so, {service_.get()}, authn_);
    ASSERT_THAT(s, IsOk());
    server_ = std::move(*s);
  }

  // As a user through the gateway's certificate, or as the ingestion service.
  std::unique_ptr<v1::PseudonymisationService::Stub> Stub(const std::string& cn) {
    server::TlsFiles t{dir_.Sub(cn + ".pem"), dir_.Sub(cn + ".key"), dir_.Sub("ca.pem")};
    auto ch = server::MakeChannel("127.0.0.1:" + std::to_string(server_->port()), t,
                                  {.server_name_override = "localhost"});
    EXPECT_THAT(ch, IsOk());
    return v1::PseudonymisationService::NewStub(*ch);
  }
  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& bearer = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!bearer.empty()) ctx->AddMetadata("authorization", "Bearer " + bearer);
    return ctx;
  }
  grpc::Status CreateDomain(const std::string& bearer, const std::string& id, bool reversible) {
    v1::CreateDomainRequest req;
    req.set_domain_id(id);
    req.mutable_domain()->set_kind(v1::UPN);
    req.mutable_domain()->set_reversible(reversible);
    v1::Domain out;
    return Stub("gateway")->CreateDomain(Ctx(bearer).get(), req, &out);
  }

  TempDir dir_;
  TestCa ca_;
  std::shared_ptr<FakeAuthenticator> authn_ = std::make_shared<FakeAuthenticator>();
  MemoryPseudonymisationStore store_;
  audit_client::FakeAuditClient audit_;
  FakeClock clock_;
  std::unique_ptr<Pseudonymisation> domain_;
  std::unique_ptr<PseudonymisationService> service_;
  std::unique_ptr<server::Server> server_;
  char next_kek_ = 'B';
};

TEST_F(ServiceTest, DomainsAdminOnlyReadableByStewards) {
  EXPECT_EQ(CreateDomain("researcher:rita", "pupil", true).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CreateDomain("dpo:dora", "pupil", true).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(CreateDomain("admin:alice", "pupil", true).ok());
  EXPECT_EQ(CreateDomain("admin:alice", "pupil", true).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
  v1::GetDomainRequest get;
  get.set_name("domains/pupil");
  v1::Domain d;
  EXPECT_TRUE(Stub("gateway")->GetDomain(Ctx("data_steward:sam").get(), get, &d).ok());
  EXPECT_EQ(d.keys_size(), 1);
  EXPECT_EQ(Stub("gateway")->GetDomain(Ctx("researcher:rita").get(), get, &d).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListDomainsResponse list;
  EXPECT_TRUE(Stub("gateway")
                  ->ListDomains(Ctx("admin:alice").get(), v1::ListDomainsRequest(), &list)
                  .ok());
  EXPECT_EQ(list.domains_size(), 1);
}

TEST_F(ServiceTest, BatchAndStreamForIngestionOnly) {
  ASSERT_TRUE(CreateDomain("admin:alice", "pupil", true).ok());
  v1::PseudonymiseRequest req;
  req.set_domain("domains/pupil");
  req.add_identifiers(kUpn);
  req.add_identifiers("bad");
  v1::PseudonymiseResponse batch;
  // A person, even the admin, cannot pseudonymise.
  EXPECT_EQ(Stub("gateway")->Pseudonymise(Ctx("admin:alice").get(), req, &batch).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Stub("ingestion")->Pseudonymise(Ctx().get(), req, &batch).ok());
  ASSERT_EQ(batch.results_size(), 2);
  EXPECT_TRUE(IsWellFormedPseudonym(batch.results(0).pseudonym()));
  EXPECT_NE(batch.results(1).error(), "");

  auto stub = Stub("ingestion");
  auto ctx = Ctx();
  auto stream = stub->PseudonymiseStream(ctx.get());
  std::vector<v1::PseudonymiseResponse> got;
  for (int m = 0; m < 3; ++m) {
    v1::PseudonymiseRequest r;
    if (m == 0) r.set_domain("domains/pupil");  // later messages inherit it
    r.set_packed_response(m == 2);
    r.set_vault(true);
    for (int i = 0; i < 1000; ++i) r.add_identifiers(kUpn);
    ASSERT_TRUE(stream->Write(r));
    v1::PseudonymiseResponse resp;
    ASSERT_TRUE(stream->Read(&resp));
    got.push_back(resp);
  }
  stream->WritesDone();
  ASSERT_TRUE(stream->Finish().ok());
  ASSERT_EQ(got[0].results_size(), 1000);
  EXPECT_EQ(got[0].results(999).pseudonym(), batch.results(0).pseudonym());
  EXPECT_EQ(got[1].results(0).pseudonym(), batch.results(0).pseudonym());
  EXPECT_EQ(got[2].packed_pseudonyms().size(), 1000u * kPseudonymChars);
  EXPECT_EQ(got[2].packed_pseudonyms().substr(0, 26), batch.results(0).pseudonym());
  // One audit event for the stream, with counts.
  int stream_events = 0;
  for (const auto& e : audit_.events()) {
    if (e.action() == "pseudonymisation.pseudonymise_stream") {
      ++stream_events;
      EXPECT_EQ(e.details().at("valid"), "3000");
      EXPECT_EQ(e.details().at("vaulted"), "3000");
    }
  }
  EXPECT_EQ(stream_events, 1);
}

TEST_F(ServiceTest, StreamRefusesAnUnknownDomain) {
  auto stub = Stub("ingestion");
  auto ctx = Ctx();
  auto stream = stub->PseudonymiseStream(ctx.get());
  v1::PseudonymiseRequest r;
  r.set_domain("domains/nope");
  r.add_identifiers(kUpn);
  stream->Write(r);
  v1::PseudonymiseResponse resp;
  EXPECT_FALSE(stream->Read(&resp));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServiceTest, KeyRotationRpcs) {
  ASSERT_TRUE(CreateDomain("admin:alice", "pupil", false).ok());
  v1::RotateDomainKeyRequest rot;
  rot.set_name("domains/pupil");
  v1::Domain d;
  EXPECT_EQ(Stub("gateway")->RotateDomainKey(Ctx("dpo:dora").get(), rot, &d).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Stub("gateway")->RotateDomainKey(Ctx("admin:alice").get(), rot, &d).ok());
  EXPECT_EQ(d.current_key_version(), 2);
  v1::RotateKekResponse kr;
  ASSERT_TRUE(
      Stub("gateway")->RotateKek(Ctx("admin:alice").get(), v1::RotateKekRequest(), &kr).ok());
  EXPECT_EQ(kr.kek_id(), FixedKek('B').id());
  EXPECT_EQ(kr.keys_rewrapped(), 3);
  EXPECT_EQ(Stub("gateway")->RotateKek(Ctx("researcher:r").get(), v1::RotateKekRequest(), &kr)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(ServiceTest, ReidentificationAcrossPeople) {
  ASSERT_TRUE(CreateDomain("admin:alice", "pupil", true).ok());
  v1::PseudonymiseRequest req;
  req.set_domain("domains/pupil");
  req.add_identifiers(kUpn);
  req.set_vault(true);
  v1::PseudonymiseResponse batch;
  ASSERT_TRUE(Stub("ingestion")->Pseudonymise(Ctx().get(), req, &batch).ok());

  v1::CreateReidentificationRequestRequest c;
  c.set_domain("domains/pupil");
  c.set_pseudonym(batch.results(0).pseudonym());
  c.set_reason("court order");
  v1::ReidentificationRequest r;
  EXPECT_EQ(Stub("gateway")
                ->CreateReidentificationRequest(Ctx("admin:alice").get(), c, &r)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Stub("gateway")->CreateReidentificationRequest(Ctx("dpo:dora").get(), c, &r).ok());
  v1::ApproveReidentificationRequestRequest a;
  a.set_name(r.name());
  v1::ReidentificationRequest approved;
  EXPECT_EQ(Stub("gateway")
                ->ApproveReidentificationRequest(Ctx("dpo:dora").get(), a, &approved)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Stub("gateway")
                  ->ApproveReidentificationRequest(Ctx("project_approver:pat").get(), a, &approved)
                  .ok());
  v1::CollectReidentificationRequest col;
  col.set_name(r.name());
  v1::CollectReidentificationResponse out;
  EXPECT_EQ(Stub("gateway")->CollectReidentification(Ctx("dpo:dan").get(), col, &out).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  const absl::Time asked = absl::Now();
  ASSERT_TRUE(Stub("gateway")->CollectReidentification(Ctx("dpo:dora").get(), col, &out).ok());
  EXPECT_EQ(out.identifier(), kUpn);
  // The collection's audit record was bounded by the caller's 10 s deadline.
  ASSERT_FALSE(audit_.sync_deadlines().empty());
  EXPECT_GT(audit_.sync_deadlines().back(), asked);
  EXPECT_LE(audit_.sync_deadlines().back(), absl::Now() + absl::Seconds(10));
  EXPECT_EQ(Stub("gateway")->CollectReidentification(Ctx("dpo:dora").get(), col, &out).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::ListReidentificationRequestsResponse list;
  ASSERT_TRUE(Stub("gateway")
                  ->ListReidentificationRequests(Ctx("project_approver:pat").get(),
                                                 v1::ListReidentificationRequestsRequest(), &list)
                  .ok());
  EXPECT_EQ(list.requests_size(), 1);
}

TEST_F(ServiceTest, SubjectRequestNeedsDpoAndQuery) {
  ASSERT_TRUE(CreateDomain("admin:alice", "pupil", false).ok());
  v1::ProcessSubjectRequestRequest sar;
  sar.set_domain("domains/pupil");
  sar.set_identifier(kUpn);
  sar.set_kind(v1::ProcessSubjectRequestRequest::ACCESS);
  sar.set_reference("SAR-1");
  v1::SubjectRequestReport report;
  EXPECT_EQ(Stub("gateway")->ProcessSubjectRequest(Ctx("admin:alice").get(), sar, &report)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // No query service wired in this test: a clear precondition failure.
  EXPECT_EQ(
      Stub("gateway")->ProcessSubjectRequest(Ctx("dpo:dora").get(), sar, &report).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace datalab::pseudonymisation
