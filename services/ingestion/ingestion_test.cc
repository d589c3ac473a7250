// The ingestion domain: upload sessions (resume, offsets, limits, owner),
// idempotency, error policies, append/replace, cancellation, encrypted
// staging, and crash consistency of the job state machine (a simulated
// crash at every step, then a restart on the same RocksDB directory).
#include "services/ingestion/ingestion.h"

#include <sys/stat.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/identifiers/upn.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/ingestion/testing_fakes.h"

namespace datalab::ingestion {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::datalab::testing::TempDir;
using ::testing::HasSubstr;
namespace cv1 = ::datalab::common::v1;
namespace cat = ::datalab::catalogue::v1;

cat::Dataset PupilDataset() {
  cat::Dataset d;
  d.set_name("datasets/census");
  d.set_subject_kind(cv1::PUPIL);
  d.set_identifier_domain("domains/pupil");
  d.set_current_schema_version(1);
  return d;
}
cat::Schema PupilSchema() {
  cat::Schema s;
  s.set_version(1);
  s.set_unique_subject_per_period(true);
  auto* upn = s.add_columns();
  upn->set_name("upn");
  upn->set_type(cv1::STRING);
  upn->set_treatment(cv1::PSEUDONYMISE);
  upn->set_subject_key(true);
  upn->set_required(true);
  auto* name = s.add_columns();
  name->set_name("name");
  name->set_treatment(cv1::DROP);
  auto* fsm = s.add_columns();
  fsm->set_name("fsm");
  fsm->set_type(cv1::BOOLEAN);
  return s;
}

std::string Upn(int i) { return *identifiers::MakeUpn(801, 2000, 19, i); }

std::string File(int rows, int bad_rows = 0) {
  std::string f = "UPN,Name,FSM\r\n";
  for (int i = 1; i <= rows; ++i) absl::StrAppend(&f, Upn(i), ",Pupil ", i, ",", i % 2 ? "Y" : "N", "\r\n");
  for (int i = 0; i < bad_rows; ++i) absl::StrAppend(&f, Upn(900 + i), ",X,maybe\r\n");
  return f;
}

cv1::Principal User(const std::string& who = "users/steward") {
  cv1::Principal p;
  p.set_kind(cv1::Principal::USER);
  p.set_subject(who);
  return p;
}

v1::UploadHeader Header(const std::string& data) {
  v1::UploadHeader h;
  h.set_dataset("datasets/census");
  h.set_school_urn("100000");
  h.set_source_system("SIMS");
  h.set_extract_date("2025-10-02");
  h.set_file_name("census.csv");
  h.set_total_bytes(static_cast<int64_t>(data.size()));
  h.set_sha256(testing::Sha256Hex(data));
  h.set_period("autumn-2025");
  return h;
}

class IngestionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalogue_.AddDataset(PupilDataset(), PupilSchema());
    OpenStore();
    Make();
  }
  void OpenStore() {
    store_.reset();
    auto s = OpenRocksDbIngestionStore(dir_.Sub("db"));
    ASSERT_THAT(s, IsOk());
    store_ = std::move(*s);
  }
  void Make(std::function<absl::Status(std::string_view)> failpoint = nullptr) {
    ingestion_.reset();
    IngestionOptions o;
    o.store = store_.get();
    o.catalogue = &catalogue_;
    o.pseudonymiser = &pseudo_;
    o.versions = &versions_;
    o.audit = &audit_;
    o.staging_key = crypto::SecureBytes(crypto::ByteView(std::string(32, 'k')));
    o.max_upload_bytes = 1 << 20;
    o.batch_rows = 4;
    o.start_worker = false;
    o.now_ms = [] { return int64_t{1760000000000}; };
    o.failpoint = std::move(failpoint);
    auto i = Ingestion::Create(std::move(o));
    ASSERT_THAT(i, IsOk());
    ingestion_ = std::move(*i);
    ASSERT_THAT(ingestion_->Start(), IsOk());
  }
  // Sends `data` in chunks of `chunk` bytes; returns the last result.
  absl::StatusOr<UploadResult> Send(const std::string& data, v1::UploadHeader h,
                                    size_t chunk = 10) {
    auto begin = ingestion_->BeginUpload(User(), h);
    if (!begin.ok() || begin->duplicate_of_existing) return begin;
    UploadResult last = *begin;
    for (size_t off = 0; off < data.size(); off += chunk) {
      auto r = ingestion_->AppendChunk(User(), last.session.name(), static_cast<int64_t>(off),
                                       std::string_view(data).substr(off, chunk));
      if (!r.ok()) return r;
      last = *r;
    }
    return last;
  }
  v1::Job JobOf(const UploadResult& r) {
    auto j = ingestion_->GetJob(r.session.job());
    EXPECT_THAT(j, IsOk());
    return *j;
  }
  std::vector<std::string> Actions() {
    std::vector<std::string> out;
    for (const auto& e : audit_.events()) out.push_back(e.action());
    return out;
  }

  TempDir dir_;
  testing::FakeCatalogue catalogue_;
  testing::FakePseudonymiser pseudo_;
  testing::FakeVersionStore versions_;
  audit_client::FakeAuditClient audit_;
  std::unique_ptr<IngestionStore> store_;
  std::unique_ptr<Ingestion> ingestion_;
};

TEST_F(IngestionTest, UploadCommitsAVersionAndCleansUp) {
  const std::string data = File(10);
  auto r = Send(data, Header(data));
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->session.complete());
  ASSERT_FALSE(r->session.job().empty());
  EXPECT_EQ(JobOf(*r).state(), v1::Job::QUEUED);
  ingestion_->RunQueuedJobs();
  v1::Job job = JobOf(*r);
  EXPECT_EQ(job.state(), v1::Job::COMMITTED) << job.error();
  EXPECT_EQ(job.dataset_version(), "datasets/census/versions/1");
  EXPECT_EQ(job.progress().rows_loaded(), 10);
  auto committed = versions_.committed();
  ASSERT_EQ(committed.size(), 1u);
  const auto v = committed.begin()->second;
  EXPECT_EQ(v.rows, 10);
  EXPECT_EQ(v.spec.idempotency_key(), job.name());
  EXPECT_TRUE(v.spec.base_version().empty());
  ASSERT_EQ(catalogue_.registered().size(), 1u);
  const auto reg = catalogue_.registered()[0];
  EXPECT_EQ(reg.version().row_count(), 10);
  EXPECT_EQ(reg.version().distinct_subjects(), 10);
  EXPECT_THAT(reg.version().source_extracts(0), HasSubstr(Header(data).sha256()));
  EXPECT_GT(reg.version().quality().breakdown_size(), 0);
  // Staged data is gone and its key erased.
  auto up = store_->GetUpload(r->session.name().substr(8));
  ASSERT_THAT(up, IsOk());
  EXPECT_TRUE(up->wrapped_data_key().empty());
  int chunks = 0;
  ASSERT_THAT(store_->ForEachChunk(r->session.name().substr(8),
                                   [&](int64_t, const std::string&) { return ++chunks, true; }),
              IsOk());
  EXPECT_EQ(chunks, 0);
  auto report = ingestion_->GetValidationReport(job.name());
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->rows_valid(), 10);
  EXPECT_THAT(Actions(), ::testing::ElementsAre("ingestion.upload.start", "ingestion.job.commit"));
  for (const auto& e : audit_.events()) {
    EXPECT_EQ(e.SerializeAsString().find(Upn(1)), std::string::npos);
  }
}

TEST_F(IngestionTest, StagedChunksAreEncryptedAtRest) {
  const std::string data = File(3);
  auto begin = ingestion_->BeginUpload(User(), Header(data));
  ASSERT_THAT(begin, IsOk());
  ASSERT_THAT(ingestion_->AppendChunk(User(), begin->session.name(), 0, data.substr(0, 40)),
              IsOk());
  int seen = 0;
  ASSERT_THAT(store_->ForEachChunk(begin->session.name().substr(8),
                                   [&](int64_t, const std::string& sealed) {
                                     ++seen;
                                     EXPECT_EQ(sealed.find("UPN,Name"), std::string::npos);
                                     EXPECT_EQ(sealed.find(Upn(1)), std::string::npos);
                                     return true;
                                   }),
              IsOk());
  EXPECT_EQ(seen, 1);
}

TEST_F(IngestionTest, WrongOffsetIsRefusedWithTheExpectedOffsetAndResumeContinues) {
  const std::string data = File(5);
  auto begin = ingestion_->BeginUpload(User(), Header(data));
  ASSERT_THAT(begin, IsOk());
  const std::string name = begin->session.name();
  ASSERT_THAT(ingestion_->AppendChunk(User(), name, 0, data.substr(0, 30)), IsOk());
  EXPECT_THAT(ingestion_->AppendChunk(User(), name, 0, data.substr(0, 30)),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("expected offset 30")));
  EXPECT_THAT(ingestion_->AppendChunk(User(), name, 45, data.substr(45, 5)),
              StatusIs(absl::StatusCode::kAborted, HasSubstr("expected offset 30")));
  // "Reconnect": a fresh domain object on the same store resumes.
  Make();
  auto s = ingestion_->ResumeUpload(User(), name);
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->bytes_received(), 30);
  auto last = ingestion_->AppendChunk(User(), name, 30, data.substr(30));
  ASSERT_THAT(last, IsOk());
  EXPECT_TRUE(last->session.complete());
  ingestion_->RunQueuedJobs();
  EXPECT_EQ(JobOf(*last).state(), v1::Job::COMMITTED);
  EXPECT_THAT(ingestion_->ResumeUpload(User(), name),
              StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(IngestionTest, OnlyTheUploaderMaySeeOrContinueASession) {
  const std::string data = File(2);
  auto begin = ingestion_->BeginUpload(User(), Header(data));
  ASSERT_THAT(begin, IsOk());
  EXPECT_THAT(ingestion_->AppendChunk(User("users/other"), begin->session.name(), 0, data),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(ingestion_->ResumeUpload(User("users/other"), begin->session.name()),
              StatusIs(absl::StatusCode::kPermissionDenied));
  EXPECT_THAT(ingestion_->GetUploadSession(User(), "uploads/nope"),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(ingestion_->GetUploadSession(User(), "jobs/x"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(IngestionTest, HeaderAndSizeChecks) {
  const std::string data = File(2);
  auto bad = [&](auto mutate, const char* what) {
    v1::UploadHeader h = Header(data);
    mutate(h);
    EXPECT_THAT(ingestion_->BeginUpload(User(), h),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(what)));
  };
  bad([](auto& h) { h.set_dataset("census"); }, "header.dataset");
  bad([](auto& h) { h.set_school_urn("12"); }, "school_urn");
  bad([](auto& h) { h.set_extract_date("2025-13-01"); }, "extract_date");
  bad([](auto& h) { h.set_encoding("ebcdic"); }, "encoding");
  bad([](auto& h) { h.set_total_bytes(0); }, "total_bytes");
  bad([](auto& h) { h.set_total_bytes(2 << 20); }, "exceeds the upload limit");
  bad([](auto& h) { h.set_sha256("abc"); }, "sha256");
  bad([](auto& h) { h.set_mode(v1::REPLACE); h.clear_period(); }, "period");
  auto begin = ingestion_->BeginUpload(User(), Header(data));
  ASSERT_THAT(begin, IsOk());
  EXPECT_THAT(ingestion_->AppendChunk(User(), begin->session.name(), 0, data + "extra"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("past the declared")));
  EXPECT_THAT(ingestion_->AppendChunk(User(), begin->session.name(), 0, ""),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(IngestionTest, ShaMismatchRejectsTheUpload) {
  const std::string data = File(3);
  v1::UploadHeader h = Header(data);
  h.set_sha256(testing::Sha256Hex("something else"));
  auto r = Send(data, h);
  ASSERT_THAT(r, IsOk());
  v1::Job job = JobOf(*r);
  EXPECT_EQ(job.state(), v1::Job::REJECTED);
  EXPECT_THAT(job.error(), HasSubstr("SHA-256"));
  EXPECT_TRUE(versions_.committed().empty());
}

TEST_F(IngestionTest, SameFileTwiceIsADuplicateUnlessAllowed) {
  const std::string data = File(4);
  auto first = Send(data, Header(data));
  ASSERT_THAT(first, IsOk());
  ingestion_->RunQueuedJobs();
  ASSERT_EQ(JobOf(*first).state(), v1::Job::COMMITTED);
  auto again = Send(data, Header(data));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->duplicate_of_existing);
  EXPECT_EQ(again->session.job(), first->session.job());
  ingestion_->RunQueuedJobs();
  EXPECT_EQ(versions_.commits(), 1);
  // Another school's identical file is not a duplicate.
  v1::UploadHeader other = Header(data);
  other.set_school_urn("100001");
  auto o = Send(data, other);
  ASSERT_THAT(o, IsOk());
  EXPECT_FALSE(o->duplicate_of_existing);
  ingestion_->RunQueuedJobs();
  // Allowed: a second version, appended on the first.
  v1::UploadHeader allow = Header(data);
  allow.set_allow_duplicate(true);
  auto a = Send(data, allow);
  ASSERT_THAT(a, IsOk());
  ingestion_->RunQueuedJobs();
  EXPECT_EQ(JobOf(*a).state(), v1::Job::COMMITTED);
  EXPECT_EQ(JobOf(*a).dataset_version(), "datasets/census/versions/3");
  EXPECT_EQ(versions_.committed()["datasets/census/versions/3"].spec.base_version(),
            "datasets/census/versions/2");
}

TEST_F(IngestionTest, ConcurrentIdenticalUploadsLoadOnce) {
  const std::string data = File(4);
  auto a = Send(data, Header(data));
  auto b = Send(data, Header(data));  // accepted before a committed
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  ingestion_->RunQueuedJobs();
  EXPECT_EQ(JobOf(*a).state(), v1::Job::COMMITTED);
  EXPECT_EQ(JobOf(*b).state(), v1::Job::REJECTED);
  EXPECT_THAT(JobOf(*b).error(), HasSubstr("duplicate"));
  EXPECT_EQ(versions_.commits(), 1);
}

TEST_F(IngestionTest, RejectPolicyLoadsNothingAndAuditsCounts) {
  const std::string data = File(6, 2);
  auto r = Send(data, Header(data));
  ASSERT_THAT(r, IsOk());
  ingestion_->RunQueuedJobs();
  v1::Job job = JobOf(*r);
  EXPECT_EQ(job.state(), v1::Job::REJECTED);
  EXPECT_TRUE(versions_.committed().empty());
  EXPECT_EQ(versions_.aborted(), 1);
  EXPECT_TRUE(catalogue_.registered().empty());
  auto report = ingestion_->GetValidationReport(job.name());
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->rows_invalid(), 2);
  EXPECT_EQ(report->errors(0).column(), "fsm");
  const auto events = audit_.events();
  ASSERT_EQ(events.back().action(), "ingestion.job.reject");
  EXPECT_EQ(events.back().details().at("rows_invalid"), "2");
}

TEST_F(IngestionTest, QuarantinePolicyLoadsTheValidRows) {
  const std::string data = File(6, 2);
  v1::UploadHeader h = Header(data);
  h.set_error_policy(v1::QUARANTINE);
  auto r = Send(data, h);
  ASSERT_THAT(r, IsOk());
  ingestion_->RunQueuedJobs();
  v1::Job job = JobOf(*r);
  EXPECT_EQ(job.state(), v1::Job::COMMITTED);
  EXPECT_EQ(job.progress().rows_quarantined(), 2);
  EXPECT_EQ(versions_.committed().begin()->second.rows, 6);
}

TEST_F(IngestionTest, ReplaceNamesTheSliceToDrop) {
  const std::string data = File(3);
  ASSERT_THAT(Send(data, Header(data)), IsOk());
  ingestion_->RunQueuedJobs();
  const std::string fixed = File(4);
  v1::UploadHeader h = Header(fixed);
  h.set_mode(v1::REPLACE);
  auto r = Send(fixed, h);
  ASSERT_THAT(r, IsOk());
  ingestion_->RunQueuedJobs();
  ASSERT_EQ(JobOf(*r).state(), v1::Job::COMMITTED);
  const auto spec = versions_.committed()["datasets/census/versions/2"].spec;
  EXPECT_EQ(spec.base_version(), "datasets/census/versions/1");
  EXPECT_EQ(spec.replace_school(), "100000");
  EXPECT_EQ(spec.replace_period(), "autumn-2025");
}

TEST_F(IngestionTest, TrustWideUploadWithoutExtractDateRegistersTheLoadDay) {
  const std::string data = File(3);
  v1::UploadHeader h = Header(data);
  h.set_school_urn("trust-wide");
  h.clear_extract_date();
  auto r = Send(data, h);
  ASSERT_THAT(r, IsOk());
  ingestion_->RunQueuedJobs();
  ASSERT_EQ(JobOf(*r).state(), v1::Job::COMMITTED) << JobOf(*r).error();
  const auto registered = catalogue_.registered();
  ASSERT_EQ(registered.size(), 1u);
  const auto& v = registered[0].version();
  EXPECT_EQ(v.schools_size(), 0);  // "trust-wide" is not a school
  EXPECT_EQ(v.period().start_date(), "2025-10-09");  // now_ms, UTC
  EXPECT_EQ(v.period().end_date(), "2025-10-09");
}

TEST_F(IngestionTest, AVersionTheStoreWroteOnItsOwnIsBuiltOnNotOverwritten) {
  const std::string data = File(3);
  ASSERT_THAT(Send(data, Header(data)), IsOk());
  ingestion_->RunQueuedJobs();
  // An erasure wrote version 2 in the store without registering it.
  {
    auto w = versions_.OpenWriter();
    ASSERT_THAT(w, IsOk());
    query::v1::VersionSpec spec;
    spec.set_dataset_version("datasets/census/versions/2");
    spec.set_base_version("datasets/census/versions/1");
    spec.set_idempotency_key("erase:1");
    ASSERT_THAT((*w)->Begin(spec), IsOk());
    ASSERT_THAT((*w)->Commit(query::v1::CommitVersion()), IsOk());
  }
  const std::string more = File(4);
  auto r = Send(more, Header(more));
  ASSERT_THAT(r, IsOk());
  ingestion_->RunQueuedJobs();
  ASSERT_EQ(JobOf(*r).state(), v1::Job::COMMITTED) << JobOf(*r).error();
  EXPECT_EQ(JobOf(*r).dataset_version(), "datasets/census/versions/3");
  const auto spec = versions_.committed()["datasets/census/versions/3"].spec;
  EXPECT_EQ(spec.base_version(), "datasets/census/versions/2");
  ASSERT_EQ(catalogue_.registered().size(), 2u);
  EXPECT_EQ(catalogue_.registered()[1].version().version(), 3);
}

TEST_F(IngestionTest, CatalogueOutageFailsTheJobWithoutLoading) {
  const std::string data = File(3);
  auto r = Send(data, Header(data));
  ASSERT_THAT(r, IsOk());
  catalogue_.SetFailing(true);
  ingestion_->RunQueuedJobs();
  EXPECT_EQ(JobOf(*r).state(), v1::Job::FAILED);
  EXPECT_THAT(JobOf(*r).error(), HasSubstr("unavailable"));
  EXPECT_TRUE(versions_.committed().empty());
}

TEST_F(IngestionTest, ACommitWithoutAContentHashIsNotRegistered) {
  // The catalogue, the job and the audit record carry the store's hash of
  // the version: a store that answers without one fails the job rather
  // than registering an empty hash.
  const std::string data = File(3);
  auto r = Send(data, Header(data));
  ASSERT_THAT(r, IsOk());
  versions_.SetOmitContentHash(true);
  ingestion_->RunQueuedJobs();
  EXPECT_EQ(JobOf(*r).state(), v1::Job::FAILED);
  EXPECT_THAT(JobOf(*r).error(), HasSubstr("without its content hash"));
  EXPECT_TRUE(catalogue_.registered().empty());
}

TEST_F(IngestionTest, CancelAQueuedJob) {
  const std::string data = File(3);
  auto r = Send(data, Header(data));
  ASSERT_THAT(r, IsOk());
  auto c = ingestion_->CancelJob(User(), r->session.job());
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->state(), v1::Job::CANCELLED);
  ingestion_->RunQueuedJobs();
  EXPECT_TRUE(versions_.committed().empty());
  EXPECT_THAT(ingestion_->CancelJob(User(), r->session.job()),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(ingestion_->CancelJob(User(), "jobs/none"), StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(IngestionTest, CancelWhileABatchIsBeingWrittenWaitsForTheWrite) {
  // Many small chunks and 4-row batches: the job is still reading the file
  // when its first batch is written.
  const std::string data = File(200);
  auto r = Send(data, Header(data), 16);
  ASSERT_THAT(r, IsOk());
  std::atomic<bool> cancelled{false};
  versions_.SetWriteHook([&] {
    if (cancelled.exchange(true)) return;
    // Cancel, then keep this write running while the job notices.
    EXPECT_THAT(ingestion_->CancelJob(User(), r->session.job()), IsOk());
    absl::SleepFor(absl::Milliseconds(300));
  });
  ingestion_->RunQueuedJobs();
  EXPECT_TRUE(cancelled.load());
  EXPECT_EQ(JobOf(*r).state(), v1::Job::CANCELLED) << JobOf(*r).error();
  EXPECT_TRUE(versions_.committed().empty());
  // The writer was aborted only after the write in flight had returned.
  EXPECT_EQ(versions_.aborts_during_write(), 0);
  EXPECT_EQ(versions_.open_writers(), 0);
  versions_.SetWriteHook(nullptr);
}

TEST_F(IngestionTest, ListJobsPagesAndFilters) {
  for (int i = 1; i <= 3; ++i) {
    const std::string data = File(i);
    ASSERT_THAT(Send(data, Header(data)), IsOk());
  }
  v1::ListJobsRequest req;
  req.set_page_size(2);
  auto p1 = ingestion_->ListJobs(req);
  ASSERT_THAT(p1, IsOk());
  EXPECT_EQ(p1->jobs_size(), 2);
  ASSERT_FALSE(p1->next_page_token().empty());
  req.set_page_token(p1->next_page_token());
  auto p2 = ingestion_->ListJobs(req);
  ASSERT_THAT(p2, IsOk());
  EXPECT_EQ(p2->jobs_size(), 1);
  req.Clear();
  req.set_dataset("datasets/other");
  EXPECT_EQ(ingestion_->ListJobs(req)->jobs_size(), 0);
  req.set_page_token("garbage");
  EXPECT_THAT(ingestion_->ListJobs(req), StatusIs(absl::StatusCode::kInvalidArgument));
}

// A crash at each step of the job, then a restart on the same RocksDB
// directory: the job ends COMMITTED, the store committed the version
// exactly once and the catalogue registered it exactly once.
class CrashTest : public IngestionTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(CrashTest, RestartFinishesTheJobExactlyOnce) {
  const std::string data = File(9);
  auto r = Send(data, Header(data));
  ASSERT_THAT(r, IsOk());
  const std::string point = GetParam();
  Make([point](std::string_view p) {
    return p == point ? absl::AbortedError("crash") : absl::OkStatus();
  });
  ingestion_->RunQueuedJobs();  // "dies" at the failpoint
  {
    v1::Job mid = JobOf(*r);
    EXPECT_NE(mid.state(), v1::Job::COMMITTED);
    // Never half-visible: either nothing or the whole version is committed.
    for (const auto& [name, v] : versions_.committed()) EXPECT_EQ(v.rows, 9) << name;
  }
  ingestion_.reset();
  OpenStore();  // the process restarts: RocksDB reopened
  Make();
  ingestion_->RunQueuedJobs();
  v1::Job job = JobOf(*r);
  EXPECT_EQ(job.state(), v1::Job::COMMITTED) << job.error();
  EXPECT_EQ(job.dataset_version(), "datasets/census/versions/1");
  EXPECT_EQ(versions_.commits(), 1);
  EXPECT_EQ(catalogue_.registered().size(), 1u);
  EXPECT_EQ(versions_.open_writers(), 0);
  // And a retried upload of the same file does not load again.
  auto again = Send(data, Header(data));
  ASSERT_THAT(again, IsOk());
  EXPECT_TRUE(again->duplicate_of_existing);
}

INSTANTIATE_TEST_SUITE_P(EveryStep, CrashTest,
                         ::testing::Values("process_started", "store_committed",
                                           "register_pending", "catalogue_registered"));

TEST(StagingKeyTest, CreatedOwnerOnlyAndReloaded) {
  TempDir dir;
  const std::string path = dir.Sub("staging.key");
  EXPECT_THAT(LoadOrCreateStagingKey(path, false),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  auto k1 = LoadOrCreateStagingKey(path, true);
  ASSERT_THAT(k1, IsOk());
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto k2 = LoadOrCreateStagingKey(path, true);
  ASSERT_THAT(k2, IsOk());
  EXPECT_TRUE(*k1 == *k2);
  ::chmod(path.c_str(), 0644);
  EXPECT_THAT(LoadOrCreateStagingKey(path, true),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("chmod 600")));
}

}  // namespace
}  // namespace datalab::ingestion
