// Domain tests with the in-memory store (and RocksDB for restarts), a fake
// clock, the fake audit client and a fake query service behind the real
// generated stub (in-process channel).
#include "services/pseudonymisation/pseudonymisation.h"

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/pseudonymisation/memory_pseudonymisation_store.h"
#include "services/pseudonymisation/rocksdb_pseudonymisation_store.h"

namespace datalab::pseudonymisation {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::datalab::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using Principal = common::v1::Principal;
using R = v1::ReidentificationRequest;

constexpr char kUpn[] = "B801200005001";

Kek FixedKek(char fill) {
  auto k = Kek::FromBytes(crypto::SecureBytes(crypto::ByteView(std::string(32, fill))));
  EXPECT_THAT(k, IsOk());
  return std::move(*k);
}

Principal User(const std::string& name, common::v1::Role role) {
  Principal p;
  p.set_kind(Principal::USER);
  p.set_subject("users/" + name);
  p.add_roles(role);
  return p;
}

Principal Service(const std::string& name) {
  Principal p;
  p.set_kind(Principal::SERVICE);
  p.set_subject(name);
  return p;
}

// Records the pseudonyms it was asked about; answers with one dataset.
class FakeQuery : public query::v1::QueryService::Service {
 public:
  grpc::Status FindSubjectRecords(grpc::ServerContext*, const query::v1::SubjectRecordsRequest* req,
                                  query::v1::SubjectRecordsResponse* resp) override {
    return Answer(*req, resp, false);
  }
  grpc::Status EraseSubjectRecords(grpc::ServerContext*, const query::v1::SubjectRecordsRequest* req,
                                   query::v1::SubjectRecordsResponse* resp) override {
    return Answer(*req, resp, true);
  }
  std::vector<std::string> last_pseudonyms() {
    absl::MutexLock l(&mu_);
    return last_;
  }
  // Pseudonyms that "have records": the fake reports a count for each hit.
  void Hold(const std::string& pseudonym, int records) {
    absl::MutexLock l(&mu_);
    held_[pseudonym] += records;
  }

 private:
  grpc::Status Answer(const query::v1::SubjectRecordsRequest& req,
                      query::v1::SubjectRecordsResponse* resp, bool erase) {
    absl::MutexLock l(&mu_);
    last_.assign(req.pseudonyms().begin(), req.pseudonyms().end());
    int64_t n = 0;
    for (const auto& p : req.pseudonyms()) n += held_[p];
    if (n > 0) {
      auto* d = resp->add_datasets();
      d->set_dataset("datasets/census");
      d->set_records(n);
      d->add_versions(erase ? "datasets/census/versions/4" : "datasets/census/versions/3");
    }
    return grpc::Status::OK;
  }
  absl::Mutex mu_;
  std::vector<std::string> last_;
  std::map<std::string, int64_t> held_;
};

class PseudonymisationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder b;
    b.RegisterService(&fake_query_);
    query_server_ = b.BuildAndStart();
    query_stub_ = query::v1::QueryService::NewStub(query_server_->InProcessChannel({}));
    store_ = std::make_unique<MemoryPseudonymisationStore>();
    domain_ = Build(store_.get(), FixedKek('A'), std::nullopt);
  }
  void TearDown() override { query_server_->Shutdown(); }

  std::unique_ptr<Pseudonymisation> Build(PseudonymisationStore* store, Kek kek,
                                          std::optional<Kek> new_kek) {
    auto d = TryBuild(store, std::move(kek), std::move(new_kek));
    EXPECT_THAT(d, IsOk());
    return d.ok() ? std::move(*d) : nullptr;
  }
  absl::StatusOr<std::unique_ptr<Pseudonymisation>> TryBuild(PseudonymisationStore* store, Kek kek,
                                                             std::optional<Kek> new_kek) {
    PseudonymisationOptions o;
    o.store = store;
    o.audit = &audit_;
    o.clock = &clock_;
    o.query = query_stub_.get();
    o.kek = std::move(kek);
    o.new_kek = std::move(new_kek);
    return Pseudonymisation::Create(std::move(o));
  }

  v1::Domain MakeDomain(Pseudonymisation& d, const std::string& id, v1::IdentifierKind kind,
                        bool reversible) {
    v1::CreateDomainRequest req;
    req.set_domain_id(id);
    req.mutable_domain()->set_kind(kind);
    req.mutable_domain()->set_reversible(reversible);
    auto out = d.CreateDomain(admin_, req);
    EXPECT_THAT(out, IsOk());
    return out.ok() ? *out : v1::Domain();
  }

  absl::StatusOr<v1::PseudonymiseResponse> Run(Pseudonymisation& d, const std::string& domain,
                                               std::vector<std::string> ids, bool vault = false,
                                               bool packed = false) {
    v1::PseudonymiseRequest req;
    req.set_domain(domain);
    for (auto& i : ids) req.add_identifiers(i);
    req.set_vault(vault);
    req.set_packed_response(packed);
    v1::PseudonymiseResponse resp;
    BatchCounts counts;
    absl::Status s = d.Pseudonymise(req, &resp, &counts);
    if (!s.ok()) return s;
    return resp;
  }

  std::string PseudonymOf(Pseudonymisation& d, const std::string& domain, const std::string& id,
                          bool vault = false) {
    auto r = Run(d, domain, {id}, vault);
    EXPECT_THAT(r, IsOk());
    if (!r.ok() || r->results_size() != 1) return "";
    EXPECT_EQ(r->results(0).error(), "");
    return r->results(0).pseudonym();
  }

  int CountDenials(const std::string& action) {
    int n = 0;
    for (const auto& e : audit_.events()) {
      if (e.action() == action && e.decision() == common::v1::DENY) ++n;
    }
    return n;
  }

  // No audit event may carry an identifier.
  void ExpectAuditClean(const std::vector<std::string>& secrets) {
    for (const auto& e : audit_.events()) {
      const std::string text = e.DebugString();
      for (const auto& s : secrets) EXPECT_THAT(text, Not(HasSubstr(s))) << e.action();
    }
  }

  FakeQuery fake_query_;
  std::unique_ptr<grpc::Server> query_server_;
  std::unique_ptr<query::v1::QueryService::Stub> query_stub_;
  audit_client::FakeAuditClient audit_;
  FakeClock clock_;
  std::unique_ptr<MemoryPseudonymisationStore> store_;
  std::unique_ptr<Pseudonymisation> domain_;
  Principal admin_ = User("alice", common::v1::ADMIN);
  Principal dpo_ = User("dora", common::v1::DPO);
  Principal dpo2_ = User("dan", common::v1::DPO);
  Principal approver_ = User("pat", common::v1::PROJECT_APPROVER);
  Principal researcher_ = User("rita", common::v1::RESEARCHER);
  Principal ingestion_ = Service("ingestion");
};

TEST_F(PseudonymisationTest, CreateDomainValidatesAndRecordsKeyMetadataOnly) {
  v1::CreateDomainRequest req;
  req.set_domain_id("Pupil");
  req.mutable_domain()->set_kind(v1::UPN);
  EXPECT_THAT(domain_->CreateDomain(admin_, req), StatusIs(absl::StatusCode::kInvalidArgument));
  req.set_domain_id("pupil");
  req.mutable_domain()->set_kind(v1::IDENTIFIER_KIND_UNSPECIFIED);
  EXPECT_THAT(domain_->CreateDomain(admin_, req), StatusIs(absl::StatusCode::kInvalidArgument));
  v1::Domain d = MakeDomain(*domain_, "pupil", v1::UPN, true);
  EXPECT_EQ(d.name(), "domains/pupil");
  EXPECT_EQ(d.current_key_version(), 1);
  ASSERT_EQ(d.keys_size(), 1);
  EXPECT_EQ(d.keys(0).kek_id(), FixedKek('A').id());
  EXPECT_TRUE(d.keys(0).current());
  req.mutable_domain()->set_kind(v1::UPN);
  EXPECT_THAT(domain_->CreateDomain(admin_, req), StatusIs(absl::StatusCode::kAlreadyExists));
  EXPECT_EQ(CountDenials("pseudonymisation.domain.create"), 3);
  EXPECT_THAT(domain_->GetDomain("domains/nobody"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(domain_->GetDomain("pupil"), StatusIs(absl::StatusCode::kInvalidArgument));

  MakeDomain(*domain_, "staff", v1::STAFF_NUMBER, false);
  MakeDomain(*domain_, "school", v1::URN, false);
  v1::ListDomainsRequest list;
  list.set_page_size(2);
  auto page1 = domain_->ListDomains(list);
  ASSERT_THAT(page1, IsOk());
  ASSERT_EQ(page1->domains_size(), 2);
  EXPECT_EQ(page1->domains(0).name(), "domains/pupil");
  list.set_page_token(page1->next_page_token());
  auto page2 = domain_->ListDomains(list);
  ASSERT_THAT(page2, IsOk());
  ASSERT_EQ(page2->domains_size(), 1);
  EXPECT_EQ(page2->domains(0).name(), "domains/staff");
  EXPECT_EQ(page2->next_page_token(), "");
}

TEST_F(PseudonymisationTest, BatchGivesPerItemErrorsWithoutIdentifiers) {
  MakeDomain(*domain_, "pupil", v1::UPN, false);
  auto resp = Run(*domain_, "domains/pupil", {kUpn, "A801200005001", " b801200005001 ", "junk"});
  ASSERT_THAT(resp, IsOk());
  ASSERT_EQ(resp->results_size(), 4);
  EXPECT_TRUE(IsWellFormedPseudonym(resp->results(0).pseudonym()));
  EXPECT_EQ(resp->results(0).error(), "");
  EXPECT_EQ(resp->results(1).pseudonym(), "");
  EXPECT_THAT(resp->results(1).error(), HasSubstr("item 1"));
  EXPECT_THAT(resp->results(1).error(), HasSubstr("check letter"));
  EXPECT_THAT(resp->results(1).error(), Not(HasSubstr("801200005001")));
  EXPECT_EQ(resp->results(2).pseudonym(), resp->results(0).pseudonym());  // normalised
  EXPECT_THAT(resp->results(3).error(), Not(HasSubstr("junk")));
  EXPECT_EQ(resp->key_version(), 1);

  auto packed = Run(*domain_, "domains/pupil", {kUpn, "A801200005001", " b801200005001 "},
                    false, true);
  ASSERT_THAT(packed, IsOk());
  EXPECT_EQ(packed->results_size(), 0);
  ASSERT_EQ(packed->packed_pseudonyms().size(), 3 * kPseudonymChars);
  EXPECT_EQ(packed->packed_pseudonyms().substr(0, 26), resp->results(0).pseudonym());
  EXPECT_EQ(packed->packed_pseudonyms().substr(26, 26), std::string(26, '-'));
  ASSERT_EQ(packed->errors_size(), 1);
  EXPECT_EQ(packed->errors(0).index(), 1);

  EXPECT_THAT(Run(*domain_, "domains/pupil", {kUpn}, /*vault=*/true),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Run(*domain_, "domains/none", {kUpn}), StatusIs(absl::StatusCode::kNotFound));
}

// Identifiers sent packed (one blob and its ends) get the same answers as
// one protobuf string each; a malformed packing is refused whole.
TEST_F(PseudonymisationTest, PackedIdentifiersGetTheSameAnswers) {
  MakeDomain(*domain_, "pupil", v1::UPN, false);
  const std::vector<std::string> ids = {kUpn, "A801200005001", " b801200005001 ", "", "junk"};
  auto plain = Run(*domain_, "domains/pupil", ids, false, true);
  ASSERT_THAT(plain, IsOk());

  auto packed_request = [&](const std::vector<std::string>& items) {
    v1::PseudonymiseRequest req;
    req.set_domain("domains/pupil");
    req.set_packed_response(true);
    for (const auto& i : items) {
      req.mutable_packed_identifiers()->append(i);
      req.add_packed_identifier_ends(static_cast<uint32_t>(req.packed_identifiers().size()));
    }
    return req;
  };
  auto call = [&](const v1::PseudonymiseRequest& req) -> absl::StatusOr<v1::PseudonymiseResponse> {
    v1::PseudonymiseResponse resp;
    BatchCounts counts;
    absl::Status s = domain_->Pseudonymise(req, &resp, &counts);
    if (!s.ok()) return s;
    return resp;
  };
  auto packed = call(packed_request(ids));
  ASSERT_THAT(packed, IsOk());
  EXPECT_EQ(packed->packed_pseudonyms(), plain->packed_pseudonyms());
  ASSERT_EQ(packed->errors_size(), plain->errors_size());
  for (int i = 0; i < packed->errors_size(); ++i) {
    EXPECT_EQ(packed->errors(i).index(), plain->errors(i).index());
    EXPECT_EQ(packed->errors(i).error(), plain->errors(i).error());
  }

  // Both forms at once.
  v1::PseudonymiseRequest both = packed_request(ids);
  both.add_identifiers(kUpn);
  EXPECT_THAT(call(both), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not both")));
  // Ends that go backwards, stop short of the blob, or run past it.
  v1::PseudonymiseRequest backwards = packed_request(ids);
  backwards.set_packed_identifier_ends(1, 3);
  EXPECT_THAT(call(backwards),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("is before entry 0")));
  v1::PseudonymiseRequest short_ends = packed_request(ids);
  short_ends.mutable_packed_identifiers()->append("X");
  EXPECT_THAT(call(short_ends),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("the last end")));
  v1::PseudonymiseRequest past = packed_request(ids);
  past.set_packed_identifier_ends(4, 1000);
  EXPECT_THAT(call(past), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("1000")));
  v1::PseudonymiseRequest no_ends;
  no_ends.set_domain("domains/pupil");
  no_ends.set_packed_identifiers(kUpn);
  EXPECT_THAT(call(no_ends), StatusIs(absl::StatusCode::kInvalidArgument));
  // No refusal names an identifier.
  for (const auto* r : {&both, &backwards, &short_ends, &past, &no_ends}) {
    auto s = call(*r);
    EXPECT_THAT(std::string(s.status().message()), Not(HasSubstr("801200005001")));
  }
}

TEST_F(PseudonymisationTest, ReusedResponseObjectIsResetBetweenBatches) {
  MakeDomain(*domain_, "pupil", v1::UPN, false);
  v1::PseudonymiseRequest req;
  req.set_domain("domains/pupil");
  req.add_identifiers("junk");
  req.add_identifiers(kUpn);
  v1::PseudonymiseResponse resp;
  BatchCounts counts;
  ASSERT_THAT(domain_->Pseudonymise(req, &resp, &counts), IsOk());
  req.clear_identifiers();
  req.add_identifiers(kUpn);
  ASSERT_THAT(domain_->Pseudonymise(req, &resp, &counts), IsOk());
  ASSERT_EQ(resp.results_size(), 1);
  EXPECT_EQ(resp.results(0).error(), "");
  EXPECT_EQ(counts.valid, 2);
  EXPECT_EQ(counts.invalid, 1);
}

// The linkage proof: a pupil loaded before a domain key rotation links with
// the same pupil loaded after it, and the subject look-up finds both loads.
TEST_F(PseudonymisationTest, RotationKeepsLinkageAndSubjectLookupSpansVersions) {
  MakeDomain(*domain_, "pupil", v1::UPN, true);
  const std::string before = PseudonymOf(*domain_, "domains/pupil", kUpn, /*vault=*/true);
  fake_query_.Hold(before, 3);  // the autumn census, loaded under version 1
  auto rotated = domain_->RotateDomainKey(admin_, "domains/pupil");
  ASSERT_THAT(rotated, IsOk());
  EXPECT_EQ(rotated->current_key_version(), 2);
  ASSERT_EQ(rotated->keys_size(), 2);
  EXPECT_FALSE(rotated->keys(0).current());
  EXPECT_TRUE(rotated->keys(1).current());
  const std::string after = PseudonymOf(*domain_, "domains/pupil", " b801200005001", true);
  EXPECT_EQ(before, after);
  fake_query_.Hold(after, 2);  // the spring census, loaded under version 2

  v1::ProcessSubjectRequestRequest sar;
  sar.set_domain("domains/pupil");
  sar.set_identifier(kUpn);
  sar.set_kind(v1::ProcessSubjectRequestRequest::ACCESS);
  sar.set_reference("SAR-2026-017");
  auto report = domain_->ProcessSubjectRequest(dpo_, sar);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->key_versions_searched(), 2);
  EXPECT_EQ(report->reference(), "SAR-2026-017");
  EXPECT_THAT(fake_query_.last_pseudonyms(), ElementsAre(before));
  ASSERT_EQ(report->records_size(), 1);
  EXPECT_EQ(report->records(0).records(), 5);
  EXPECT_THAT(report->records(0).versions(), ElementsAre(3));
  EXPECT_FALSE(report->erased());

  int versions = 0;
  auto across = domain_->PseudonymsAcrossVersions("domains/pupil", kUpn, &versions);
  ASSERT_THAT(across, IsOk());
  EXPECT_THAT(*across, ElementsAre(before));
  EXPECT_EQ(versions, 2);

  sar.set_kind(v1::ProcessSubjectRequestRequest::ERASURE);
  auto erased = domain_->ProcessSubjectRequest(dpo_, sar);
  ASSERT_THAT(erased, IsOk());
  EXPECT_TRUE(erased->erased());
  EXPECT_THAT(erased->new_versions(), ElementsAre("datasets/census/versions/4"));

  // Vault entries sealed under version 1 and version 2 both still open.
  for (const std::string& p : {before}) {
    v1::CreateReidentificationRequestRequest c;
    c.set_domain("domains/pupil");
    c.set_pseudonym(p);
    c.set_reason("safeguarding referral 77");
    auto r = domain_->CreateReidentificationRequest(dpo_, c);
    ASSERT_THAT(r, IsOk());
    v1::ApproveReidentificationRequestRequest a;
    a.set_name(r->name());
    ASSERT_THAT(domain_->ApproveReidentificationRequest(approver_, a), IsOk());
    v1::CollectReidentificationRequest col;
    col.set_name(r->name());
    auto got = domain_->CollectReidentification(dpo_, col);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->identifier(), kUpn);
  }
  ExpectAuditClean({kUpn, "801200005001", before});
}

TEST_F(PseudonymisationTest, SubjectRequestDenials) {
  MakeDomain(*domain_, "pupil", v1::UPN, false);
  v1::ProcessSubjectRequestRequest sar;
  sar.set_domain("domains/pupil");
  sar.set_identifier("A801200005001");
  sar.set_kind(v1::ProcessSubjectRequestRequest::ACCESS);
  sar.set_reference("SAR-1");
  auto bad = domain_->ProcessSubjectRequest(dpo_, sar);
  EXPECT_THAT(bad, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("check letter")));
  EXPECT_THAT(std::string(bad.status().message()), Not(HasSubstr("801200005001")));
  sar.set_identifier(kUpn);
  sar.set_reference("");
  EXPECT_THAT(domain_->ProcessSubjectRequest(dpo_, sar),
              StatusIs(absl::StatusCode::kInvalidArgument));
  sar.set_reference("SAR 1; drop");
  EXPECT_THAT(domain_->ProcessSubjectRequest(dpo_, sar),
              StatusIs(absl::StatusCode::kInvalidArgument));
  sar.set_reference("SAR-1");
  sar.set_kind(v1::ProcessSubjectRequestRequest::KIND_UNSPECIFIED);
  EXPECT_THAT(domain_->ProcessSubjectRequest(dpo_, sar),
              StatusIs(absl::StatusCode::kInvalidArgument));
  sar.set_kind(v1::ProcessSubjectRequestRequest::ACCESS);
  sar.set_domain("domains/none");
  EXPECT_THAT(domain_->ProcessSubjectRequest(dpo_, sar), StatusIs(absl::StatusCode::kNotFound));
  ExpectAuditClean({"801200005001"});
}

TEST_F(PseudonymisationTest, ProjectPseudonymsAreUnlinkableAndVersioned) {
  MakeDomain(*domain_, "pupil", v1::UPN, false);
  const std::string lab = PseudonymOf(*domain_, "domains/pupil", kUpn);
  auto derive = [&](const std::string& project, int version) {
    v1::DeriveProjectPseudonymsRequest r;
    r.set_domain("domains/pupil");
    r.set_project(project);
    r.add_pseudonyms(lab);
    r.set_key_version(version);
    return domain_->DeriveProjectPseudonyms(ingestion_, r);
  };
  auto a = derive("projects/gap", 0);
  auto a_again = derive("projects/gap", 0);
  auto b = derive("projects/absence", 0);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->project_pseudonyms(0), a_again->project_pseudonyms(0));
  EXPECT_NE(a->project_pseudonyms(0), b->project_pseudonyms(0));
  EXPECT_NE(a->project_pseudonyms(0), lab);
  ASSERT_THAT(domain_->RotateDomainKey(admin_, "domains/pupil"), IsOk());
  auto v1_again = derive("projects/gap", 1);
  ASSERT_THAT(v1_again, IsOk());
  EXPECT_EQ(v1_again->project_pseudonyms(0), a->project_pseudonyms(0));
  auto v2 = derive("projects/gap", 0);
  ASSERT_THAT(v2, IsOk());
  EXPECT_EQ(v2->key_version(), 2);
  EXPECT_NE(v2->project_pseudonyms(0), a->project_pseudonyms(0));
  EXPECT_THAT(derive("projects/gap", 9), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(derive("gap", 0), StatusIs(absl::StatusCode::kInvalidArgument));
  v1::DeriveProjectPseudonymsRequest r;
  r.set_domain("domains/pupil");
  r.set_project("projects/gap");
  r.add_pseudonyms(kUpn);  // not a pseudonym
  EXPECT_THAT(domain_->DeriveProjectPseudonyms(ingestion_, r),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

class ReidTest : public PseudonymisationTest {
 protected:
  void SetUp() override {
    PseudonymisationTest::SetUp();
    MakeDomain(*domain_, "pupil", v1::UPN, true);
    MakeDomain(*domain_, "school", v1::URN, false);
    pseudonym_ = PseudonymOf(*domain_, "domains/pupil", kUpn, /*vault=*/true);
    // Every identifier a reversible domain pseudonymises is in its vault; a
    // well-formed pseudonym it never made (here another domain's) is not.
    MakeDomain(*domain_, "pupil-other", v1::UPN, true);
    not_vaulted_ = PseudonymOf(*domain_, "domains/pupil-other", "Q801200005002");
  }
  absl::StatusOr<R> Request(const Principal& who, const std::string& domain,
                            const std::string& pseudonym, const std::string& reason = "court order 12") {
    v1::CreateReidentificationRequestRequest c;
    c.set_domain(domain);
    c.set_pseudonym(pseudonym);
    c.set_reason(reason);
    return domain_->CreateReidentificationRequest(who, c);
  }
  absl::StatusOr<R> Approve(const Principal& who, const std::string& name) {
    v1::ApproveReidentificationRequestRequest a;
    a.set_name(name);
    a.set_comment("checked the court order");
    return domain_->ApproveReidentificationRequest(who, a);
  }
  absl::StatusOr<v1::CollectReidentificationResponse> Collect(const Principal& who,
                                                              const std::string& name) {
    v1::CollectReidentificationRequest c;
    c.set_name(name);
    return domain_->CollectReidentification(who, c);
  }
  std::string pseudonym_;
  std::string not_vaulted_;
};

TEST_F(ReidTest, DualControlHappyPathAndEveryDenial) {
  // Opening: only a dpo, only reversible domains, only vaulted pseudonyms.
  EXPECT_THAT(Request(approver_, "domains/pupil", pseudonym_),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Request(ingestion_, "domains/pupil", pseudonym_),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Request(dpo_, "domains/school", pseudonym_),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Request(dpo_, "domains/pupil", not_vaulted_),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(Request(dpo_, "domains/pupil", "nonsense"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Request(dpo_, "domains/pupil", pseudonym_, ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(CountDenials("pseudonymisation.reid.request"), 6);

  auto r = Request(dpo_, "domains/pupil", pseudonym_);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->state(), R::PENDING);
  EXPECT_EQ(r->requester(), "users/dora");
  EXPECT_EQ(r->expire_time_unix_ms() - r->create_time_unix_ms(), 7LL * 24 * 3600 * 1000);

  // Collection before approval; self-approval; a researcher approving.
  EXPECT_THAT(Collect(dpo_, r->name()), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                 HasSubstr("not been approved")));
  EXPECT_THAT(Approve(dpo_, r->name()), StatusIs(absl::StatusCode::kPermissionDenied,
                                                 HasSubstr("own")));
  EXPECT_THAT(Approve(researcher_, r->name()), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Approve(approver_, "reidentificationRequests/nope"),
              StatusIs(absl::StatusCode::kNotFound));

  auto approved = Approve(dpo2_, r->name());
  ASSERT_THAT(approved, IsOk());
  EXPECT_EQ(approved->state(), R::APPROVED);
  EXPECT_EQ(approved->approver(), "users/dan");
  // A second approval (by anyone) is refused.
  EXPECT_THAT(Approve(approver_, r->name()), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(Approve(dpo2_, r->name()), StatusIs(absl::StatusCode::kFailedPrecondition));

  // Only the requester collects, exactly once.
  EXPECT_THAT(Collect(dpo2_, r->name()), StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(Collect(approver_, r->name()), StatusIs(absl::StatusCode::kPermissionDenied));
  const size_t events_before = audit_.events().size();
  auto got = Collect(dpo_, r->name());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->identifier(), kUpn);
  ASSERT_GT(audit_.events().size(), events_before);
  EXPECT_EQ(audit_.events().back().action(), "pseudonymisation.reid.collect");
  EXPECT_EQ(audit_.events().back().decision(), common::v1::ALLOW);
  EXPECT_THAT(Collect(dpo_, r->name()), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                 HasSubstr("already collected")));
  EXPECT_GE(CountDenials("pseudonymisation.reid.collect"), 4);
  EXPECT_GE(CountDenials("pseudonymisation.reid.approve"), 5);

  v1::ListReidentificationRequestsRequest list;
  list.set_state(R::COLLECTED);
  auto listed = domain_->ListReidentificationRequests(list);
  ASSERT_THAT(listed, IsOk());
  ASSERT_EQ(listed->requests_size(), 1);
  EXPECT_EQ(listed->requests(0).collect_time_unix_ms() > 0, true);
  ExpectAuditClean({kUpn, "801200005001"});
}

TEST_F(ReidTest, NothingReturnedWhileAuditIsDown) {
  auto r = Request(dpo_, "domains/pupil", pseudonym_);
  ASSERT_THAT(r, IsOk());
  ASSERT_THAT(Approve(approver_, r->name()), IsOk());
  audit_.SetFailing(true);
  EXPECT_THAT(Collect(dpo_, r->name()), StatusIs(absl::StatusCode::kUnavailable));
  audit_.SetFailing(false);
  auto got = Collect(dpo_, r->name());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->identifier(), kUpn);
  EXPECT_THAT(Collect(dpo_, r->name()), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(ReidTest, RequestsExpireAfterSevenDays) {
  auto r = Request(dpo_, "domains/pupil", pseudonym_);
  ASSERT_THAT(r, IsOk());
  auto r2 = Request(dpo_, "domains/pupil", pseudonym_);
  ASSERT_THAT(r2, IsOk());
  ASSERT_THAT(Approve(approver_, r2->name()), IsOk());
  clock_.Advance(absl::Hours(24 * 7) + absl::Seconds(1));
  EXPECT_THAT(Approve(approver_, r->name()), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                      HasSubstr("EXPIRED")));
  EXPECT_THAT(Collect(dpo_, r2->name()), StatusIs(absl::StatusCode::kFailedPrecondition,
                                                  HasSubstr("EXPIRED")));
  v1::ListReidentificationRequestsRequest list;
  list.set_state(R::EXPIRED);
  auto listed = domain_->ListReidentificationRequests(list);
  ASSERT_THAT(listed, IsOk());
  EXPECT_EQ(listed->requests_size(), 2);
  list.set_state(R::PENDING);
  EXPECT_EQ(domain_->ListReidentificationRequests(list)->requests_size(), 0);
}

TEST_F(PseudonymisationTest, KekRotationRewrapsEveryKeyAndRestartAcceptsBothKeks) {
  TempDir dir;
  std::string p_pupil, p_staff;
  {
    auto store = RocksDbPseudonymisationStore::Open({dir.Sub("db")});
    ASSERT_THAT(store, IsOk());
    auto d = Build(store->get(), FixedKek('A'), std::nullopt);
    MakeDomain(*d, "pupil", v1::UPN, true);
    MakeDomain(*d, "staff", v1::STAFF_NUMBER, false);
    ASSERT_THAT(d->RotateDomainKey(admin_, "domains/pupil"), IsOk());
    p_pupil = PseudonymOf(*d, "domains/pupil", kUpn, true);
    p_staff = PseudonymOf(*d, "domains/staff", "T-1001");
    auto rotated = d->RotateKek(admin_, FixedKek('B'));
    ASSERT_THAT(rotated, IsOk());
    EXPECT_EQ(rotated->kek_id(), FixedKek('B').id());
    EXPECT_EQ(rotated->keys_rewrapped(), 5);  // 2 linkage keys + 3 domain key versions
    EXPECT_EQ(d->active_kek_id(), FixedKek('B').id());
    auto pupil = d->GetDomain("domains/pupil");
    ASSERT_THAT(pupil, IsOk());
    for (const auto& k : pupil->keys()) {
      EXPECT_EQ(k.kek_id(), FixedKek('B').id());
    }
    EXPECT_EQ(PseudonymOf(*d, "domains/pupil", kUpn), p_pupil);
    // Rotating to the KEK in use again changes nothing.
    EXPECT_EQ(d->RotateKek(admin_, FixedKek('B'))->keys_rewrapped(), 0);
  }
  auto store = RocksDbPseudonymisationStore::Open({dir.Sub("db")});
  ASSERT_THAT(store, IsOk());
  // Operator has not swapped the secrets yet: old --kek_file, new --new_kek_file.
  {
    auto d = Build(store->get(), FixedKek('A'), FixedKek('B'));
    EXPECT_EQ(PseudonymOf(*d, "domains/pupil", kUpn), p_pupil);
  }
  // Secrets swapped: only the new KEK.
  {
    auto d = Build(store->get(), FixedKek('B'), std::nullopt);
    EXPECT_EQ(PseudonymOf(*d, "domains/pupil", kUpn), p_pupil);
    EXPECT_EQ(PseudonymOf(*d, "domains/staff", " t-1001 "), p_staff);
    // The vault sealed before the KEK rotation still opens.
    auto r = [&] {
      v1::CreateReidentificationRequestRequest c;
      c.set_domain("domains/pupil");
      c.set_pseudonym(p_pupil);
      c.set_reason("r");
      return d->CreateReidentificationRequest(dpo_, c);
    }();
    ASSERT_THAT(r, IsOk());
    v1::ApproveReidentificationRequestRequest a;
    a.set_name(r->name());
    ASSERT_THAT(d->ApproveReidentificationRequest(dpo2_, a), IsOk());
    v1::CollectReidentificationRequest c;
    c.set_name(r->name());
    EXPECT_EQ(d->CollectReidentification(dpo_, c)->identifier(), kUpn);
  }
  // Only the old KEK: refused with a message naming ids, never key bytes.
  auto refused = TryBuild(store->get(), FixedKek('A'), std::nullopt);
  EXPECT_THAT(refused, StatusIs(absl::StatusCode::kFailedPrecondition,
                                HasSubstr(FixedKek('B').id())));
}

TEST_F(PseudonymisationTest, WrongKekForNewStoreIsRecordedAndTamperedKeyRefused) {
  MakeDomain(*domain_, "pupil", v1::UPN, false);
  auto stored = store_->GetDomain("domains/pupil");
  ASSERT_THAT(stored, IsOk());
  // A wrapped key moved to another domain name does not unwrap (AAD).
  v1::StoredDomain moved = *stored;
  moved.mutable_domain()->set_name("domains/other");
  ASSERT_THAT(store_->CreateDomain(moved), IsOk());
  EXPECT_THAT(TryBuild(store_.get(), FixedKek('A'), std::nullopt),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(PseudonymisationTest, RestartKeepsPseudonymsAndRequests) {
  TempDir dir;
  std::string p;
  std::string request;
  {
    auto store = RocksDbPseudonymisationStore::Open({dir.Sub("db")});
    ASSERT_THAT(store, IsOk());
    auto d = Build(store->get(), FixedKek('A'), std::nullopt);
    MakeDomain(*d, "pupil", v1::UPN, true);
    p = PseudonymOf(*d, "domains/pupil", kUpn, true);
    v1::CreateReidentificationRequestRequest c;
    c.set_domain("domains/pupil");
    c.set_pseudonym(p);
    c.set_reason("r");
    auto r = d->CreateReidentificationRequest(dpo_, c);
    ASSERT_THAT(r, IsOk());
    request = r->name();
  }
  auto store = RocksDbPseudonymisationStore::Open({dir.Sub("db")});
  ASSERT_THAT(store, IsOk());
  auto d = Build(store->get(), FixedKek('A'), std::nullopt);
  EXPECT_EQ(PseudonymOf(*d, "domains/pupil", kUpn), p);
  v1::ApproveReidentificationRequestRequest a;
  a.set_name(request);
  ASSERT_THAT(d->ApproveReidentificationRequest(approver_, a), IsOk());
  v1::CollectReidentificationRequest c;
  c.set_name(request);
  EXPECT_EQ(d->CollectReidentification(dpo_, c)->identifier(), kUpn);
}

}  // namespace
}  // namespace datalab::pseudonymisation
