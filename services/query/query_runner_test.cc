// The whole query path (parse, bind, authorise, execute, disclosure control,
// signed release record, audit, store) with an in-memory store, a fake
// catalogue and a fake audit client: SDC boundaries, secondary suppression
// against an attacker's linear recovery, differencing and trackers, every
// authorisation denial, bind-time refusals of the pupil key, audit-down.
#include "services/query/query_runner.h"

#include "common/crypto/encoding.h"
#include "common/crypto/sha256.h"
#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/query/kv_query_store.h"
#include "services/query/release.h"
#include "services/query/testing_support.h"

namespace datalab::query {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
using namespace ::datalab::query::testing;  // NOLINT
namespace c = ::datalab::common::v1;

class QueryRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KvQueryStore::Options so;
    so.backend = NewMemoryBackend();
    store_ = std::move(*KvQueryStore::Open(so));
    key_ = std::make_unique<crypto::Ed25519PrivateKey>(*crypto::Ed25519PrivateKey::Generate());
    QueryRunner::Options o;
    o.store = store_.get();
    o.catalogue = catalogue_.Start();
    o.audit = &audit_;
    o.signing_key = key_.get();
    o.signing_key_id = "test-key";
    o.max_groups = 50;
    auto r = QueryRunner::Create(o);
    ASSERT_THAT(r, IsOk());
    runner_ = std::move(*r);
    caller_.set_kind(c::Principal::USER);
    caller_.set_subject("users/alice");
    caller_.add_roles(c::RESEARCHER);

    std::vector<PupilRow> rows;
    for (auto [s, n] : std::vector<std::pair<std::string, int>>{{"S09", 9}, {"S10", 10}, {"S11", 11}, {"S30", 30}}) {
      for (auto& r : School(s, n)) rows.push_back(r);
    }
    // Dominance: one pupil holds almost the whole sum.
    for (auto& r : School("DOM", 10, 1.0)) rows.push_back(r);
    rows.back().score = 1000;
    ASSERT_THAT(WriteCensus(*store_, "datasets/census/versions/1", rows), IsOk());
  }

  absl::StatusOr<v1::QueryResult> Run(const std::string& sql, const std::string& project = "projects/p") {
    v1::RunQueryRequest r;
    r.set_project(project);
    r.set_sql(sql);
    r.set_purpose("test");
    return runner_->Run(caller_, r);
  }

  FakeCatalogue catalogue_;
  audit_client::FakeAuditClient audit_;
  std::unique_ptr<KvQueryStore> store_;
  std::unique_ptr<crypto::Ed25519PrivateKey> key_;
  std::unique_ptr<QueryRunner> runner_;
  c::Principal caller_;
};

const v1::Cell& Agg(const v1::QueryResult& r, int row = 0, int col = -1) {
  const auto& cells = r.rows(row).cells();
  return cells[col < 0 ? cells.size() - 1 : col];
}

TEST_F(QueryRunnerTest, ThresholdBoundaries) {
  int p = 0;
  for (auto [school, suppressed] : std::vector<std::pair<std::string, bool>>{{"S09", true}, {"S10", false}, {"S11", false}}) {
    auto r = Run("SELECT COUNT(DISTINCT pupil), AVG(ks2) FROM census WHERE school = '" + school + "'",
                 "projects/t" + std::to_string(p++));
    ASSERT_THAT(r, IsOk()) << school;
    ASSERT_EQ(r->rows_size(), 1);
    for (int col : {0, 1}) {
      const v1::Cell& cell = r->rows(0).cells(col);
      if (suppressed) {
        EXPECT_EQ(cell.status(), v1::Cell::SUPPRESSED) << school;
        EXPECT_EQ(cell.rule(), "threshold");
        EXPECT_EQ(cell.value_case(), v1::Cell::VALUE_NOT_SET);
      } else {
        EXPECT_NE(cell.status(), v1::Cell::SUPPRESSED) << school;
      }
    }
    if (!suppressed) {
      EXPECT_EQ(r->rows(0).cells(0).status(), v1::Cell::ROUNDED);
      EXPECT_EQ(std::fmod(r->rows(0).cells(0).number(), 5.0), 0.0);
      EXPECT_DOUBLE_EQ(r->rows(0).cells(1).number(), 50.0);
    } else {
      ASSERT_GE(r->notes_size(), 1);
      EXPECT_EQ(r->notes(0).explanation(), "2 cells suppressed (threshold: fewer than 10 pupils)");
    }
  }
}

TEST_F(QueryRunnerTest, DominanceSuppressesAndNeverLeaksTheValue) {
  auto r = Run("SELECT SUM(ks2) AS total FROM census WHERE school = 'DOM'");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(Agg(*r).status(), v1::Cell::SUPPRESSED);
  EXPECT_EQ(Agg(*r).rule(), "dominance");
  const std::string wire = r->SerializeAsString() + ExportCsv(*r) + ExportJson(*r);
  EXPECT_THAT(wire, ::testing::Not(HasSubstr("1009")));
  for (const auto& e : audit_.events()) {
    EXPECT_THAT(e.SerializeAsString(), ::testing::Not(HasSubstr("1009")));
  }
}

TEST_F(QueryRunnerTest, SecondarySuppressionCannotBeUndone) {
  auto r = Run("SELECT school, COUNT(*) AS n FROM census WHERE school <> 'DOM' GROUP BY school");
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->rows_size(), 4);
  EXPECT_EQ(r->rows(0).cells(0).text(), "S09");
  EXPECT_EQ(r->rows(0).cells(1).rule(), "threshold");
  std::vector<std::vector<bool>> released;
  sdc::LinearRelation total;  // the column total (a school roll) is public
  int suppressed = 0;
  for (int i = 0; i < r->rows_size(); ++i) {
    const bool ok = r->rows(i).cells(1).status() != v1::Cell::SUPPRESSED;
    suppressed += ok ? 0 : 1;
    released.push_back({ok});
    total.parts.push_back({i, 0});
  }
  EXPECT_GE(suppressed, 2);
  EXPECT_TRUE(sdc::AttemptRecovery(released, {total}).empty());
}

TEST_F(QueryRunnerTest, DifferencingCohortMinusFew) {
  auto cohort = Run("SELECT COUNT(*) FROM census WHERE school = 'S30'");
  ASSERT_THAT(cohort, IsOk());
  ASSERT_NE(Agg(*cohort).status(), v1::Cell::SUPPRESSED);
  for (int k = 1; k <= 9; ++k) {
    auto r = Run("SELECT COUNT(*) FROM census WHERE school = 'S30' AND idx > " + std::to_string(k));
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(Agg(*r).status(), v1::Cell::SUPPRESSED) << k;
    EXPECT_EQ(Agg(*r).rule(), "differencing") << k;
  }
  // Ten fewer is a safe difference again.
  auto r = Run("SELECT COUNT(*) FROM census WHERE school = 'S30' AND idx > 10");
  ASSERT_THAT(r, IsOk());
  EXPECT_NE(Agg(*r).status(), v1::Cell::SUPPRESSED);
}

TEST_F(QueryRunnerTest, PaddedTracker) {
  // S09 alone is below the threshold; padding it with S30 passes, but the
  // pad on its own then differs by 9 pupils.
  auto padded = Run("SELECT COUNT(*) FROM census WHERE school IN ('S09', 'S30')");
  ASSERT_THAT(padded, IsOk());
  ASSERT_NE(Agg(*padded).status(), v1::Cell::SUPPRESSED);
  auto pad = Run("SELECT COUNT(*) FROM census WHERE school = 'S30'");
  ASSERT_THAT(pad, IsOk());
  EXPECT_EQ(Agg(*pad).status(), v1::Cell::SUPPRESSED);
  EXPECT_EQ(Agg(*pad).rule(), "differencing");
}

TEST_F(QueryRunnerTest, EveryCatalogueDenialIsRefusedAndAudited) {
  for (const std::string reason :
       {"unknown project", "project expired: its end date has passed", "project suspended",
        "project closed", "project not approved", "project not started: before its start date",
        "not a member of the project", "unknown user", "user inactive", "accreditation missing",
        "accreditation lapsed", "dataset not approved for the project: datasets/census",
        "column not approved for the project: 'ks2' of datasets/census"}) {
    catalogue_.Deny(reason);
    const size_t before = audit_.events().size();
    auto r = Run("SELECT AVG(ks2) FROM census");
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kPermissionDenied, reason));
    auto events = audit_.events();
    ASSERT_EQ(events.size(), before + 1);
    EXPECT_EQ(events.back().decision(), c::DENY);
    EXPECT_EQ(events.back().reason(), reason);
  }
  auto last = catalogue_.last();
  EXPECT_EQ(last.principal(), "users/alice");
  EXPECT_EQ(last.project(), "projects/p");
  ASSERT_EQ(last.access_size(), 1);
  EXPECT_EQ(last.access(0).dataset(), "datasets/census");
  EXPECT_THAT(last.access(0).columns(), ::testing::ElementsAre("ks2"));
  v1::ListQueryHistoryRequest h;
  h.set_project("projects/p");
  auto hist = runner_->ListHistory(caller_, h);
  ASSERT_THAT(hist, IsOk());
  ASSERT_GT(hist->entries_size(), 0);
  EXPECT_EQ(hist->entries(0).status(), "refused");
}

TEST_F(QueryRunnerTest, PupilKeyIsRefusedAtBindTime) {
  for (const std::string sql :
       {"SELECT pupil, COUNT(*) FROM census GROUP BY pupil",
        "SELECT COUNT(*) FROM census GROUP BY pupil",
        "SELECT COUNT(*) FROM census WHERE pupil = 'abc'",
        "SELECT COUNT(*) FROM census WHERE upn = 'abc'",
        "SELECT upn, COUNT(*) FROM census GROUP BY upn",
        "SELECT COUNT(*) FROM census WHERE pupil IS NULL",
        "SELECT COUNT(*) FROM census GROUP BY c.upn"}) {
    auto r = Run(sql);
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument)) << sql;
    EXPECT_THAT(r.status().message(), HasSubstr("line 1, column ")) << sql;
  }
  EXPECT_THAT(Run("SELECT COUNT(*) FROM census WHERE pupil = 'abc'").status().message(),
              HasSubstr("pupil key"));
  EXPECT_EQ(catalogue_.calls(), 0);
}

TEST_F(QueryRunnerTest, BindErrorsNamePositions) {
  EXPECT_THAT(Run("SELECT AVG(ks2)\nFROM census\nWHERE fms = 1"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "line 3, column 7: column 'fms' is not in dataset 'census'"));
  EXPECT_THAT(Run("SELECT school, AVG(ks2) FROM census"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be in GROUP BY")));
  EXPECT_THAT(Run("SELECT COUNT(*) FROM censis"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown dataset 'censis'")));
  EXPECT_THAT(Run("SELECT school, COUNT(*) FROM census GROUP BY school ORDER BY COUNT(*)"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("ORDER BY an aggregate")));
  EXPECT_THAT(Run("SELECT school, COUNT(*) FROM census GROUP BY school HAVING COUNT(*) > 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("HAVING")));
  EXPECT_THAT(Run("SELECT COUNT(*) FROM census WHERE school = 3"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("quoted")));
  EXPECT_THAT(Run("SELECT COUNT(*) FROM census a JOIN census b USING (school)"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("USING (pupil")));
  EXPECT_THAT(Run("SELECT MAX(ks2) FROM census"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(catalogue_.calls(), 0);
}

TEST_F(QueryRunnerTest, LimitsAreEnforced) {
  EXPECT_THAT(Run("SELECT idx, COUNT(*) FROM census GROUP BY idx"), IsOk());
  std::vector<PupilRow> rows;
  for (int i = 0; i < 100; ++i) rows.push_back({"x" + std::to_string(i), "X", 0, 1, i});
  ASSERT_THAT(WriteCensus(*store_, "datasets/wide/versions/1", rows), IsOk());
  EXPECT_THAT(Run("SELECT idx, COUNT(*) FROM wide GROUP BY idx"),
              StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(Run("SELECT COUNT(*) FROM census WHERE " + std::string(70000, ' ') + "idx > 1"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("limit")));
  v1::RunQueryRequest r;
  r.set_project("projects/p");
  r.set_sql("SELECT COUNT(*) FROM census");
  CallControl cancelled;
  cancelled.cancelled = [] { return true; };
  EXPECT_THAT(runner_->Run(caller_, r, cancelled), StatusIs(absl::StatusCode::kCancelled));
}

TEST_F(QueryRunnerTest, AuditDownReleasesNothing) {
  audit_.SetFailing(true);
  auto r = Run("SELECT COUNT(*) FROM census WHERE school = 'S30'");
  EXPECT_THAT(r, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("nothing was released")));
  v1::ListQueryHistoryRequest h;
  h.set_project("projects/p");
  auto hist = runner_->ListHistory(caller_, h);
  ASSERT_THAT(hist, IsOk());
  ASSERT_EQ(hist->entries_size(), 1);
  EXPECT_EQ(hist->entries(0).status(), "error");
  EXPECT_TRUE(hist->entries(0).release().empty());
}

// The release's audit record is bounded by the caller's deadline: a release
// recorded after the caller gave up would be audited but never delivered.
TEST_F(QueryRunnerTest, TheReleaseAuditWaitsNoLongerThanTheCaller) {
  v1::RunQueryRequest r;
  r.set_project("projects/p");
  r.set_sql("SELECT COUNT(*) FROM census WHERE school = 'S30'");
  r.set_purpose("test");
  CallControl control;
  const auto deadline = std::chrono::system_clock::now() + std::chrono::seconds(30);
  control.deadline = deadline;
  ASSERT_THAT(runner_->Run(caller_, r, control), IsOk());
  ASSERT_THAT(Run("SELECT COUNT(*) FROM census WHERE school = 'S31'"), IsOk());
  std::vector<absl::Time> deadlines = audit_.sync_deadlines();
  ASSERT_EQ(deadlines.size(), 2u);
  EXPECT_EQ(deadlines[0], absl::FromChrono(deadline));
  EXPECT_EQ(deadlines[1], absl::InfiniteFuture());  // no deadline of its own
}

TEST_F(QueryRunnerTest, ReleaseRecordIsSignedAndReleaseCanBeExported) {
  auto r = Run("SELECT school, COUNT(DISTINCT pupil) AS pupils, MEDIAN(ks2) FROM census GROUP BY school ORDER BY school DESC");
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->rows(0).cells(0).text(), "S30");
  auto events = audit_.events();
  ASSERT_FALSE(events.empty());
  const auto& ev = events.back();
  EXPECT_EQ(ev.action(), "query.release");
  EXPECT_EQ(ev.release().release(), r->release());
  EXPECT_EQ(ev.release().output_sha256(), r->output_sha256());
  EXPECT_EQ(ev.release().dataset_version_hashes_size(), 1);
  EXPECT_THAT(ev.release().rules(), HasSubstr("threshold"));
  auto pub = key_->PublicKey();
  ASSERT_THAT(pub, IsOk());
  EXPECT_THAT(VerifyReleaseRecord(*pub, ev.release()), IsOk());
  auto tampered = ev.release();
  tampered.set_cells_suppressed(0);
  tampered.set_output_sha256("00");
  EXPECT_FALSE(VerifyReleaseRecord(*pub, tampered).ok());

  auto got = runner_->GetRelease(caller_, r->release());
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->output_sha256(), r->output_sha256());
  v1::ExportReleaseRequest ex;
  ex.set_name(r->release());
  ex.set_format(v1::CSV);
  auto csv = runner_->ExportRelease(caller_, ex);
  ASSERT_THAT(csv, IsOk());
  EXPECT_EQ(crypto::HexEncode(crypto::Sha256(csv->content())), r->output_sha256());
  EXPECT_THAT(csv->content(), HasSubstr("school,pupils,MEDIAN(ks2)"));
  ex.set_format(v1::JSON);
  auto json = runner_->ExportRelease(caller_, ex);
  ASSERT_THAT(json, IsOk());
  EXPECT_THAT(json->content(), HasSubstr("\"status\": \"SUPPRESSED\""));
  catalogue_.Deny("not a member of the project");
  EXPECT_THAT(runner_->GetRelease(caller_, r->release()), StatusIs(absl::StatusCode::kPermissionDenied));
  // Other users do not see alice's history.
  c::Principal bob = caller_;
  bob.set_subject("users/bob");
  v1::ListQueryHistoryRequest h;
  h.set_project("projects/p");
  EXPECT_EQ(runner_->ListHistory(bob, h)->entries_size(), 0);
  EXPECT_EQ(runner_->ListHistory(caller_, h)->entries_size(), 1);
}

TEST_F(QueryRunnerTest, StructuredQueryJoinAndBands) {
  v1::RunQueryRequest r;
  r.set_project("projects/s");
  auto* s = r.mutable_structured();
  s->add_datasets("census");
  s->add_group_by("fsm");
  auto* a = s->add_aggregates();
  a->set_function(v1::StructuredQuery::Aggregate::AVG);
  a->set_column("ks2");
  auto res = runner_->Run(caller_, r);
  ASSERT_THAT(res, IsOk());
  EXPECT_EQ(res->query_text(), "SELECT fsm, AVG(ks2) FROM census GROUP BY fsm");
  EXPECT_EQ(res->rows_size(), 2);
  auto j = Run("SELECT BAND(idx, 10) AS band, COUNT(*) FROM census c JOIN census@1 d USING (pupil, idx) "
               "WHERE c.school = 'S30' GROUP BY BAND(idx, 10)", "projects/j");
  ASSERT_THAT(j, IsOk());
  ASSERT_EQ(j->rows_size(), 4);  // 0-10, 10-20, 20-30, 30-40
  EXPECT_EQ(j->rows(1).cells(0).text(), "10-20");
  auto rate = Run("SELECT PROPORTION(fsm = 1), RATE(fsm, idx) FROM census WHERE school = 'S30'", "projects/rate");
  ASSERT_THAT(rate, IsOk());
}

TEST_F(QueryRunnerTest, ErasureWritesNewVersionsAndQueriesUseThem) {
  v1::SubjectRecordsRequest req;
  req.add_pseudonyms("S30-p1");
  req.set_reference("DPO-1");
  auto found = runner_->FindSubjectRecords(caller_, req);
  ASSERT_THAT(found, IsOk());
  ASSERT_EQ(found->datasets_size(), 1);
  EXPECT_EQ(found->datasets(0).records(), 1);
  auto erased = runner_->EraseSubjectRecords(caller_, req);
  ASSERT_THAT(erased, IsOk());
  EXPECT_EQ(erased->datasets(0).new_version(), "datasets/census/versions/2");
  EXPECT_EQ(audit_.events().back().action(), "query.subject.erase");
  auto r = Run("SELECT COUNT(DISTINCT pupil) FROM census WHERE school = 'S30'", "projects/e");
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->dataset_versions(), ::testing::ElementsAre("datasets/census/versions/2"));
  req.set_reference("");
  EXPECT_THAT(runner_->EraseSubjectRecords(caller_, req), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace datalab::query
