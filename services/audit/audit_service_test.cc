// The audit service end to end over real TLS on loopback: every RPC once,
// through the shared AuthProcessor, and an export verified offline.
#include "services/audit/audit_service.h"

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <optional>
#include <sstream>

#include "common/auth/policy.h"
#include "common/server/server.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/memory_audit_store.h"
#include "services/audit/witness.h"
#include "services/audit/merkle/verify.h"
#include "services/audit/verifier.h"

namespace datalab::audit {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::TempDir;
using ::datalab::testing::TestCa;
using ::datalab::testing::WriteFileOrDie;
namespace cv1 = ::datalab::common::v1;

// Remembers heads in memory; Store fails while `failing` is set.
class SwitchableWitness : public TreeHeadWitness {
 public:
  absl::StatusOr<std::optional<TreeHead>> Load() const override { return head_; }
  absl::Status Store(const TreeHead& head) override {
    if (failing) return absl::UnavailableError("witness unwritable (test)");
    head_ = head;
    return absl::OkStatus();
  }
  std::atomic<bool> failing{false};

 private:
  std::optional<TreeHead> head_;
};

// "Bearer <role>" for users; lab services by certificate name.
class FakeAuthenticator : public auth::Authenticator {
 public:
  absl::StatusOr<cv1::Principal> Authenticate(const auth::CallInfo& call) override {
    cv1::Principal p;
    auto it = call.headers.find("authorization");
    if (it != call.headers.end()) {
      auto role = auth::RoleFromClaim(it->second.substr(7));
      if (!role.ok()) return absl::UnauthenticatedError("bad token");
      p.set_kind(cv1::Principal::USER);
      p.set_subject("users/" + std::string(it->second.substr(7)));
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

class AuditServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server_pair = ca_.Issue("audit");
    WriteFileOrDie(dir_.Sub("ca.pem"), ca_.cert_pem());
    WriteFileOrDie(dir_.Sub("server.pem"), server_pair.cert);
    WriteFileOrDie(dir_.Sub("server.key"), server_pair.key);
    auto client = ca_.Issue("query");
    WriteFileOrDie(dir_.Sub("client.pem"), client.cert);
    WriteFileOrDie(dir_.Sub("client.key"), client.key);

    AuditLogOptions o;
    o.store = &store_;
    o.witness = &witness_;
    o.signing_key = *crypto::Ed25519PrivateKey::FromSeed(std::string(32, 's'));
    auto log = AuditLog::Create(std::move(o));
    ASSERT_THAT(log, IsOk());
    log_ = std::move(*log);
    service_ = std::make_unique<AuditServiceImpl>(log_.get(), authenticator_);

    server::ServerOptions so;
    so.service_name = "audit";
    so.tls = {dir_.Sub("server.pem"), dir_.Sub("server.key"), dir_.Sub("ca.pem")};
    so.metrics_address = "";
    auto s = server::Server::Start(so, {service_.get()}, authenticator_);
    ASSERT_THAT(s, IsOk());
    server_ = std::move(*s);
    auto ch = server::MakeChannel("127.0.0.1:" + std::to_string(server_->port()),
                                  {dir_.Sub("client.pem"), dir_.Sub("client.key"), dir_.Sub("ca.pem")},
                                  {.server_name_override = "localhost"});
    ASSERT_THAT(ch, IsOk());
    audit_ = v1::AuditService::NewStub(*ch);
  }

  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  std::unique_ptr<grpc::ClientContext> Ctx(const std::string& role = "") {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!role.empty()) ctx->AddMetadata("authorization", "Bearer " + role);
    return ctx;
  }

  // ExportLog of the whole log, written as JSON Lines and verified.
  VerifyReport ExportAndVerify() {
    std::stringstream jsonl;
    auto ctx = Ctx("dpo");
    auto reader = audit_->ExportLog(ctx.get(), v1::ExportLogRequest());
    v1::ExportLogChunk chunk;
    bool first = true;
    while (reader->Read(&chunk)) {
      if (first) {
        EXPECT_EQ(chunk.public_key().size(), 32u);
        jsonl << ExportHeaderLine(chunk.public_key(), "") << "\n";
        first = false;
      }
      for (const v1::LogEntry& e : chunk.entries()) {
        ExportEntry x;
        x.index = static_cast<uint64_t>(e.index());
        x.pruned = e.pruned();
        if (!e.pruned()) x.entry = e.entry();
        merkle::Hash h;
        std::copy(e.leaf_hash().begin(), e.leaf_hash().end(), h.begin());
        x.leaf_hash = h;
        jsonl << ExportEntryLine(x) << "\n";
      }
      for (const v1::SignedTreeHead& h : chunk.tree_heads()) jsonl << ExportHeadLine(FromProto(h)) << "\n";
    }
    grpc::Status fs = reader->Finish();
    EXPECT_TRUE(fs.ok()) << fs.error_message();
    return VerifyJsonLines(jsonl);
  }

  // `n` "query.run" events by users/r1 on projects/p1 and datasets/ks4,
  // ids prefix0.., one millisecond apart from 1000.
  static v1::AppendEventsRequest QueryRuns(const std::string& prefix, int n) {
    v1::AppendEventsRequest append;
    for (int i = 0; i < n; ++i) {
      cv1::AuditEvent* e = append.add_events();
      e->set_event_id(prefix + std::to_string(i));
      e->set_service("query");
      e->mutable_actor()->set_subject("users/r1");
      e->set_action("query.run");
      e->set_project("projects/p1");
      e->add_resources("datasets/ks4");
      e->set_decision(cv1::ALLOW);
      e->set_time_unix_ms(1000 + i);
    }
    return append;
  }

  TempDir dir_;
  TestCa ca_;
  SwitchableWitness witness_;
  MemoryAuditStore store_;
  std::unique_ptr<AuditLog> log_;
  std::shared_ptr<auth::Authenticator> authenticator_ = std::make_shared<FakeAuthenticator>();
  std::unique_ptr<AuditServiceImpl> service_;
  std::unique_ptr<server::Server> server_;
  std::unique_ptr<v1::AuditService::Stub> audit_;
};

TEST_F(AuditServiceTest, EveryRpcEndToEnd) {
  // AppendEvents, as the query service (mTLS identity).
  v1::AppendEventsRequest append = QueryRuns("ev", 10);
  v1::AppendEventsResponse appended;
  grpc::Status s = audit_->AppendEvents(Ctx().get(), append, &appended);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(appended.indexes_size(), 10);
  EXPECT_EQ(appended.indexes(9), 9);
  // A retry is idempotent.
  s = audit_->AppendEvents(Ctx().get(), append, &appended);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(appended.tree_size(), 10);
  // Identifier-shaped content is refused with the field named.
  v1::AppendEventsRequest bad;
  *bad.add_events() = append.events(0);
  bad.mutable_events(0)->set_event_id("bad");
  bad.mutable_events(0)->set_reason("A123456789012");
  s = audit_->AppendEvents(Ctx().get(), bad, &appended);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("field reason"));

  // SignTreeHead (admin) and GetSignedTreeHead (dpo).
  v1::SignedTreeHead sth;
  s = audit_->SignTreeHead(Ctx("admin").get(), v1::SignTreeHeadRequest(), &sth);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(sth.tree_size(), 10);
  EXPECT_THAT(VerifyTreeHeadSignature(log_->public_key(), FromProto(sth)), IsOk());
  v1::SignedTreeHead got;
  ASSERT_TRUE(audit_->GetSignedTreeHead(Ctx("dpo").get(), v1::GetSignedTreeHeadRequest(), &got).ok());
  EXPECT_EQ(got.SerializeAsString(), sth.SerializeAsString());

  // GetInclusionProof.
  v1::GetInclusionProofRequest ipr;
  ipr.set_index(4);
  v1::InclusionProof ip;
  ASSERT_TRUE(audit_->GetInclusionProof(Ctx("dpo").get(), ipr, &ip).ok());
  std::vector<merkle::Hash> path;
  for (const std::string& h : ip.hashes()) {
    merkle::Hash x;
    std::copy(h.begin(), h.end(), x.begin());
    path.push_back(x);
  }
  merkle::Hash leaf;
  std::copy(ip.leaf_hash().begin(), ip.leaf_hash().end(), leaf.begin());
  EXPECT_THAT(merkle::VerifyInclusion(leaf, 4, 10, path, FromProto(sth).root_hash), IsOk());
  ipr.set_index(-1);
  EXPECT_EQ(audit_->GetInclusionProof(Ctx("dpo").get(), ipr, &ip).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);

  // GetEntries.
  v1::GetEntriesRequest ger;
  ger.set_start(2);
  ger.set_end(5);
  v1::GetEntriesResponse entries;
  ASSERT_TRUE(audit_->GetEntries(Ctx("dpo").get(), ger, &entries).ok());
  ASSERT_EQ(entries.entries_size(), 3);
  cv1::AuditEvent e2;
  ASSERT_TRUE(e2.ParseFromString(entries.entries(0).entry()));
  EXPECT_EQ(e2.event_id(), "ev2");

  // SearchEvents records who searched.
  v1::SearchEventsRequest search;
  search.set_dataset("ks4");
  search.set_page_size(4);
  v1::SearchEventsResponse found;
  ASSERT_TRUE(audit_->SearchEvents(Ctx("dpo").get(), search, &found).ok());
  EXPECT_EQ(found.events_size(), 4);
  EXPECT_FALSE(found.next_page_token().empty());
  EXPECT_EQ(log_->Committed().size, 11u);
  auto last = log_->GetEntries(10, 11);
  cv1::AuditEvent read_event;
  ASSERT_TRUE(read_event.ParseFromString(*(*last)[0].entry));
  EXPECT_EQ(read_event.action(), "audit.search");
  EXPECT_EQ(read_event.actor().subject(), "users/dpo");

  // GetAccessReport.
  v1::GetAccessReportRequest rr;
  rr.set_project("projects/p1");
  v1::AccessReport report;
  ASSERT_TRUE(audit_->GetAccessReport(Ctx("dpo").get(), rr, &report).ok());
  ASSERT_EQ(report.lines_size(), 1);
  EXPECT_EQ(report.lines(0).count(), 10);
  EXPECT_EQ(report.lines(0).first_time_unix_ms(), 1000);
  EXPECT_EQ(report.lines(0).last_time_unix_ms(), 1009);

  // SignTreeHead again, then GetConsistencyProof.
  v1::SignedTreeHead sth2;
  ASSERT_TRUE(audit_->SignTreeHead(Ctx("admin").get(), v1::SignTreeHeadRequest(), &sth2).ok());
  v1::GetConsistencyProofRequest cpr;
  cpr.set_first_size(10);
  v1::ConsistencyProof cp;
  ASSERT_TRUE(audit_->GetConsistencyProof(Ctx("dpo").get(), cpr, &cp).ok());
  EXPECT_EQ(cp.second_size(), sth2.tree_size());
  std::vector<merkle::Hash> cproof;
  for (const std::string& h : cp.hashes()) {
    merkle::Hash x;
    std::copy(h.begin(), h.end(), x.begin());
    cproof.push_back(x);
  }
  EXPECT_THAT(merkle::VerifyConsistency(10, cp.second_size(), FromProto(sth).root_hash,
                                        FromProto(sth2).root_hash, cproof),
              IsOk());

  // PruneEvents (admin).
  v1::PruneEventsRequest prune;
  prune.set_before_time_unix_ms(1005);
  v1::PruneEventsResponse pruned;
  ASSERT_TRUE(audit_->PruneEvents(Ctx("admin").get(), prune, &pruned).ok());
  EXPECT_EQ(pruned.pruned(), 5);
  ASSERT_TRUE(audit_->SignTreeHead(Ctx("admin").get(), v1::SignTreeHeadRequest(), &sth2).ok());

  // ExportLog streams entries, heads and the key; the export verifies.
  VerifyReport vr = ExportAndVerify();
  EXPECT_TRUE(vr.ok) << vr.error;
  EXPECT_EQ(vr.pruned_entries, 5u);
  // The three heads signed above, and one the export signed over the reads
  // since (its own record included): the export covers the whole log.
  EXPECT_EQ(vr.heads_verified, 4u);
  v1::SignedTreeHead latest;
  ASSERT_TRUE(audit_->GetSignedTreeHead(Ctx("dpo").get(), v1::GetSignedTreeHeadRequest(), &latest).ok());
  EXPECT_GT(latest.tree_size(), sth2.tree_size());
  EXPECT_EQ(vr.entries, static_cast<uint64_t>(latest.tree_size()));
}

TEST_F(AuditServiceTest, AnExportStillRunsWhenNoHeadCanBeSigned) {
  v1::AppendEventsRequest append = QueryRuns("w", 4);
  v1::AppendEventsResponse appended;
  ASSERT_TRUE(audit_->AppendEvents(Ctx().get(), append, &appended).ok());
  v1::SignedTreeHead sth;
  ASSERT_TRUE(audit_->SignTreeHead(Ctx("admin").get(), v1::SignTreeHeadRequest(), &sth).ok());
  ASSERT_EQ(sth.tree_size(), 4);
  // More entries, and then the witness cannot be written, so signing a
  // head over the whole log fails. The DPO still gets the log, through the
  // latest head in the store, and it verifies (the export stream ends OK).
  append.mutable_events(0)->set_event_id("w4");
  append.mutable_events(1)->set_event_id("w5");
  ASSERT_TRUE(audit_->AppendEvents(Ctx().get(), append, &appended).ok());
  witness_.failing = true;
  VerifyReport vr = ExportAndVerify();
  EXPECT_TRUE(vr.ok) << vr.error;
  ASSERT_TRUE(vr.latest_head.has_value());
  EXPECT_GE(vr.latest_head->tree_size, 4u);
  EXPECT_EQ(vr.entries, vr.latest_head->tree_size);
  // With the witness back, an export covers the whole log again.
  witness_.failing = false;
  vr = ExportAndVerify();
  EXPECT_TRUE(vr.ok) << vr.error;
  EXPECT_GT(vr.latest_head->tree_size, 6u);  // the entries and the export records
  EXPECT_EQ(vr.entries, vr.latest_head->tree_size);
}

TEST_F(AuditServiceTest, DeniedCallsNeverReachTheLog) {
  v1::SearchEventsResponse found;
  EXPECT_EQ(audit_->SearchEvents(Ctx("researcher").get(), v1::SearchEventsRequest(), &found).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::SignedTreeHead sth;
  EXPECT_EQ(audit_->SignTreeHead(Ctx("dpo").get(), v1::SignTreeHeadRequest(), &sth).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::AppendEventsRequest append;
  append.add_events()->set_event_id("x");
  v1::AppendEventsResponse r;
  // A user may not append directly; only lab services may.
  EXPECT_EQ(audit_->AppendEvents(Ctx("admin").get(), append, &r).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(log_->Committed().size, 0u);
}

}  // namespace
}  // namespace datalab::audit
