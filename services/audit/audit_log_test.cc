// AuditLog: group commit, idempotency, admission checks, signing, rollback
// refusal, proofs, search, reports and retention.
#include "services/audit/audit_log.h"

#include <atomic>
#include <filesystem>
#include <limits>
#include <set>
#include <sstream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "services/audit/memory_audit_store.h"
#include "services/audit/merkle/verify.h"
#include "services/audit/rocksdb_audit_store.h"
#include "services/audit/verifier.h"

namespace datalab::audit {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using common::v1::AuditEvent;

AuditEvent Event(const std::string& id, const std::string& subject = "users/alice",
                 const std::string& project = "projects/p1", const std::string& action = "query.run",
                 common::v1::Decision decision = common::v1::ALLOW, int64_t time = 0) {
  AuditEvent e;
  e.set_event_id(id);
  e.set_time_unix_ms(time);
  e.set_service("query");
  e.mutable_actor()->set_subject(subject);
  e.mutable_actor()->add_roles(common::v1::RESEARCHER);
  e.set_action(action);
  e.add_resources("datasets/ks4/versions/3");
  e.set_project(project);
  e.set_decision(decision);
  e.set_reason("within project scope");
  (*e.mutable_details())["rows"] = "42";
  return e;
}

crypto::Ed25519PrivateKey Key() {
  std::string seed(32, '\x07');
  return *crypto::Ed25519PrivateKey::FromSeed(seed);
}

class AuditLogTest : public ::testing::Test {
 protected:
  void CheckPruneKeepsTheTreeVerifiable(AuditStore* store, bool batched);

  std::unique_ptr<AuditLog> Open(AuditStore* store, size_t group = 256) {
    AuditLogOptions o;
    o.store = store;
    o.signing_key = Key();
    o.witness = &witness_;
    o.clock = &clock_;
    o.group_commit_max = group;
    auto log = AuditLog::Create(std::move(o));
    EXPECT_THAT(log, IsOk());
    return log.ok() ? std::move(*log) : nullptr;
  }

  std::vector<int64_t> AppendOne(AuditLog& log, AuditEvent e) {
    std::vector<AuditEvent> v{std::move(e)};
    auto r = log.Append(v);
    EXPECT_THAT(r, IsOk());
    return r.ok() ? r->indexes : std::vector<int64_t>{};
  }

  // The log exported as JSON Lines, verified.
  VerifyReport ExportAndVerify(AuditLog& log) {
    std::stringstream ss;
    const auto& raw = log.public_key().Raw();
    ss << ExportHeaderLine(std::string(raw.begin(), raw.end()), log.key_id()) << "\n";
    EXPECT_THAT(log.Export(0, 0, 100,
                           [&](std::vector<StoredEntry> es) {
                             for (const auto& e : es) {
                               ss << ExportEntryLine({e.index, e.entry, e.pruned, e.leaf_hash}) << "\n";
                             }
                             return absl::OkStatus();
                           },
                           [&](std::vector<TreeHead> hs) {
                             for (const auto& h : hs) ss << ExportHeadLine(h) << "\n";
                             return absl::OkStatus();
                           }),
                IsOk());
    return VerifyJsonLines(ss);
  }

  FakeClock clock_;
  MemoryTreeHeadWitness witness_;
  MemoryAuditStore memory_;
  ::datalab::testing::TempDir dir_;
};

TEST_F(AuditLogTest, AppendsAssignDenseIndexesAndStampTime) {
  auto log = Open(&memory_);
  EXPECT_THAT(AppendOne(*log, Event("a")), ElementsAre(0));
  std::vector<AuditEvent> two{Event("b"), Event("c", "users/bob", "projects/p1", "x", common::v1::DENY, 77)};
  auto r = log->Append(two);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->indexes, ElementsAre(1, 2));
  EXPECT_EQ(r->tree_size, 3u);
  auto entries = log->GetEntries(0, 10);
  ASSERT_THAT(entries, IsOk());
  ASSERT_EQ(entries->size(), 3u);
  AuditEvent stored;
  ASSERT_TRUE(stored.ParseFromString(*(*entries)[0].entry));
  EXPECT_EQ(stored.time_unix_ms(), clock_.NowUnixMs());  // stamped server-side
  ASSERT_TRUE(stored.ParseFromString(*(*entries)[2].entry));
  EXPECT_EQ(stored.time_unix_ms(), 77);  // kept when given
}

TEST_F(AuditLogTest, DuplicateEventIdReturnsTheOriginalIndex) {
  auto log = Open(&memory_);
  AppendOne(*log, Event("a"));
  AppendOne(*log, Event("b"));
  // A retry (even with different content) does not add a leaf.
  EXPECT_THAT(AppendOne(*log, Event("a", "users/other")), ElementsAre(0));
  // Duplicates inside one request share the first index.
  std::vector<AuditEvent> batch{Event("c"), Event("c"), Event("b")};
  auto r = log->Append(batch);
  ASSERT_THAT(r, IsOk());
  EXPECT_THAT(r->indexes, ElementsAre(2, 2, 1));
  EXPECT_EQ(log->Committed().size, 3u);
}

TEST_F(AuditLogTest, RefusesIdentifierShapedValues) {
  auto log = Open(&memory_);
  struct Case {
    std::function<void(AuditEvent&)> mutate;
    std::string field;
  };
  std::vector<Case> cases = {
      {[](AuditEvent& e) { (*e.mutable_details())["note"] = "pupil A123456789012 absent"; }, "details[note]"},
      {[](AuditEvent& e) { e.set_reason("asked about a12345678901B"); }, "reason"},  // temporary UPN
      {[](AuditEvent& e) { e.add_resources("pupils/H801200001001"); }, "resources[1]"},
      {[](AuditEvent& e) { e.set_purpose("Z999999999999"); }, "purpose"},
      {[](AuditEvent& e) { e.mutable_release()->set_query_text("WHERE upn='K123456789012'"); },
       "release.query_text"},
  };
  for (const Case& c : cases) {
    AuditEvent e = Event("bad");
    c.mutate(e);
    std::vector<AuditEvent> v{Event("ok-in-same-request"), e};
    auto r = log->Append(v);
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument,
                            HasSubstr("events[1]: event contains an identifier-shaped value in field " + c.field)));
  }
  // The whole request was refused: nothing was stored.
  EXPECT_EQ(log->Committed().size, 0u);
  // Lookalikes that are not 13-character tokens pass: hashes, longer codes.
  AuditEvent fine = Event("fine");
  fine.set_request_sha256(std::string(64, 'a'));
  fine.set_reason("code A1234567890123 and A12345678901 and ref-2024");
  EXPECT_THAT(AppendOne(*log, fine), ElementsAre(0));
  AuditEvent no_id = Event("");
  std::vector<AuditEvent> v{no_id};
  EXPECT_THAT(log->Append(v), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("event_id")));
  AuditEvent bad_hash = Event("h");
  bad_hash.set_result_sha256("not hex!");
  v = {bad_hash};
  EXPECT_THAT(log->Append(v), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("result_sha256")));
}

TEST_F(AuditLogTest, GroupCommitWith32ConcurrentWritersIsDenseAndComplete) {
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(store, IsOk());
  auto log = Open(store->get(), 64);
  constexpr int kThreads = 32, kPerThread = 60;
  std::vector<std::vector<std::pair<std::string, int64_t>>> acked(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        std::vector<AuditEvent> v{Event(id)};
        if (i % 5 == 0) v.push_back(Event(id + "-b"));
        auto r = log->Append(v);
        ASSERT_THAT(r, IsOk());
        for (size_t k = 0; k < v.size(); ++k) acked[t].emplace_back(v[k].event_id(), r->indexes[k]);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<int64_t> indexes;
  size_t total = 0;
  for (const auto& per : acked) {
    for (const auto& [id, index] : per) {
      ++total;
      EXPECT_TRUE(indexes.insert(index).second) << "index reused";
      auto entries = log->GetEntries(index, index + 1);
      ASSERT_THAT(entries, IsOk());
      AuditEvent e;
      ASSERT_TRUE(e.ParseFromString(*(*entries)[0].entry));
      EXPECT_EQ(e.event_id(), id);
    }
  }
  EXPECT_EQ(total, log->Committed().size);
  EXPECT_EQ(*indexes.begin(), 0);
  EXPECT_EQ(*indexes.rbegin(), static_cast<int64_t>(total) - 1);  // dense
  SequencerStats stats = log->Stats();
  EXPECT_LT(stats.groups, stats.leaves);  // some groups held several events
  EXPECT_LE(stats.largest_group, 64u + 1);
  ASSERT_THAT(log->SignTreeHead(), IsOk());
  EXPECT_TRUE(ExportAndVerify(*log).ok);
}

// A store whose first lookup of "x" answers (not there) and then holds the
// caller until released: a caller that looked an id up but has not queued
// its request yet.
class SlowFirstLookupStore : public MemoryAuditStore {
 public:
  absl::StatusOr<std::vector<std::optional<uint64_t>>> FindEventIds(
      absl::Span<const std::string_view> ids) const override {
    auto r = MemoryAuditStore::FindEventIds(ids);
    if (std::find(ids.begin(), ids.end(), "x") != ids.end() && !held_.exchange(true)) {
      looked_up.Notify();
      release.WaitForNotification();
    }
    return r;
  }
  mutable absl::Notification looked_up, release;

 private:
  mutable std::atomic<bool> held_{false};
};

TEST_F(AuditLogTest, ACallerSlowToQueueStillFindsIdsCommittedAfterItsLookup) {
  SlowFirstLookupStore store;
  auto log = Open(&store, 16);
  std::vector<int64_t> slow;
  std::thread caller([&] { slow = AppendOne(*log, Event("x")); });
  store.looked_up.WaitForNotification();  // looked "x" up, found nothing
  auto first = AppendOne(*log, Event("x"));  // "x" committed now
  AppendOne(*log, Event("y"));               // and another group after it
  store.release.Notify();
  caller.join();
  EXPECT_EQ(slow, first);  // the same leaf, not a second one
  EXPECT_EQ(log->Committed().size, 2u);
}

TEST_F(AuditLogTest, ConcurrentDuplicatesGetOneLeafAndOneIndex) {
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(store, IsOk());
  auto log = Open(store->get(), 16);
  constexpr int kThreads = 16, kIds = 50;
  std::vector<std::vector<int64_t>> seen(kThreads, std::vector<int64_t>(kIds, -1));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < kIds; ++k) {
        int id = (k * 7 + t * 13) % kIds;  // every thread, its own order
        auto r = log->Append({Event("same-" + std::to_string(id))});
        ASSERT_THAT(r, IsOk());
        seen[t][id] = r->indexes[0];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(log->Committed().size, static_cast<uint64_t>(kIds));
  for (int t = 1; t < kThreads; ++t) EXPECT_EQ(seen[t], seen[0]);
}

// AppendAsync, as the gRPC handler uses it: many requests in flight from one
// thread, each answered once, after its group is durable, with the same
// indexes and deduplication as Append.
TEST_F(AuditLogTest, AsyncAppendsFromOneThreadAreEachAnsweredOnceAfterCommit) {
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(store, IsOk());
  auto log = Open(store->get(), 16);
  constexpr int kRequests = 200;
  absl::Mutex mu;
  std::vector<int> answers(kRequests, 0);
  std::vector<int64_t> first_index(kRequests, -1);
  std::vector<uint64_t> durable_size(kRequests, 0);
  int answered = 0;
  for (int i = 0; i < kRequests; ++i) {
    // Every fourth request repeats an earlier id: it must get that index.
    std::string id = i % 4 == 3 ? "async-" + std::to_string(i - 3) : "async-" + std::to_string(i);
    // The event lives only until AppendAsync returns, as a gRPC request's do.
    const AuditEvent event = Event(id);
    log->AppendAsync({&event}, [&, i](absl::StatusOr<AppendResult> r) {
      // Answered only once the store holds the leaf.
      const uint64_t stored = (*store)->LoadTreeState()->size;
      absl::MutexLock l(&mu);
      ++answers[i];
      ++answered;
      ASSERT_THAT(r, IsOk());
      ASSERT_EQ(r->indexes.size(), 1u);
      first_index[i] = r->indexes[0];
      durable_size[i] = stored;
    });
  }
  {
    absl::MutexLock l(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(+[](int* n) { return *n == kRequests; }, &answered), absl::Seconds(30)));
  }
  log->Close();  // drains the writer: a late second answer would land before the checks
  EXPECT_EQ(log->Committed().size, static_cast<uint64_t>(kRequests - kRequests / 4));
  std::set<int64_t> distinct;
  for (int i = 0; i < kRequests; ++i) {
    EXPECT_EQ(answers[i], 1) << i;
    EXPECT_GT(durable_size[i], static_cast<uint64_t>(first_index[i])) << i;
    if (i % 4 == 3) {
      EXPECT_EQ(first_index[i], first_index[i - 3]) << i;
    } else {
      EXPECT_TRUE(distinct.insert(first_index[i]).second) << i;
    }
  }
  EXPECT_TRUE(ExportAndVerify(*log).ok);
}

// A store whose look-ups of one id fail, and whose appends can be made to fail.
class FailingStore : public MemoryAuditStore {
 public:
  absl::StatusOr<std::vector<std::optional<uint64_t>>> FindEventIds(
      absl::Span<const std::string_view> ids) const override {
    if (std::find(ids.begin(), ids.end(), "unreadable") != ids.end()) {
      return absl::UnavailableError("store read failed");
    }
    return MemoryAuditStore::FindEventIds(ids);
  }
  absl::Status Append(const AppendBatch& batch) override {
    if (fail_appends) return absl::UnavailableError("disk full");
    return MemoryAuditStore::Append(batch);
  }
  std::atomic<bool> fail_appends{false};
};

TEST_F(AuditLogTest, AsyncFailuresAreAnsweredOnceAndTheLogCarriesOn) {
  FailingStore store;
  auto log = Open(&store, 4);
  // A failed look-up: answered on the calling thread, nothing queued.
  const std::thread::id caller = std::this_thread::get_id();
  const AuditEvent unreadable = Event("unreadable");
  int lookup_answers = 0;
  log->AppendAsync({&unreadable}, [&](absl::StatusOr<AppendResult> r) {
    ++lookup_answers;
    EXPECT_EQ(std::this_thread::get_id(), caller);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  });
  EXPECT_EQ(lookup_answers, 1);
  // A failed store write: every request of the group gets UNAVAILABLE, once,
  // from the writer.
  store.fail_appends = true;
  absl::Mutex mu;
  int answered = 0, unavailable = 0;
  std::set<std::thread::id> threads;
  for (int i = 0; i < 10; ++i) {
    const AuditEvent e = Event("w" + std::to_string(i));
    log->AppendAsync({&e}, [&](absl::StatusOr<AppendResult> r) {
      absl::MutexLock l(&mu);
      ++answered;
      unavailable += r.status().code() == absl::StatusCode::kUnavailable ? 1 : 0;
      threads.insert(std::this_thread::get_id());
    });
  }
  {
    absl::MutexLock l(&mu);
    ASSERT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(+[](int* n) { return *n == 10; }, &answered), absl::Seconds(30)));
  }
  EXPECT_EQ(unavailable, 10);
  EXPECT_EQ(threads.count(caller), 0u);
  EXPECT_EQ(log->Committed().size, 0u);
  // The store recovers: the same ids append, densely, from index 0.
  store.fail_appends = false;
  EXPECT_THAT(AppendOne(*log, Event("w0")), ElementsAre(0));
  EXPECT_THAT(AppendOne(*log, Event("w1")), ElementsAre(1));
  log->Close();
  EXPECT_EQ(answered, 10);  // no late second answers
}

TEST_F(AuditLogTest, AsyncAppendRefusalsAreAnsweredOnTheCallingThread) {
  auto log = Open(&memory_);
  const std::thread::id caller = std::this_thread::get_id();
  auto expect_refused = [&](std::vector<AuditEvent> events, absl::StatusCode code) {
    bool answered = false;
    std::vector<const AuditEvent*> refs;
    for (const AuditEvent& e : events) refs.push_back(&e);
    log->AppendAsync(refs, [&](absl::StatusOr<AppendResult> r) {
      answered = true;
      EXPECT_EQ(std::this_thread::get_id(), caller);
      EXPECT_EQ(r.status().code(), code);
    });
    EXPECT_TRUE(answered);  // before AppendAsync returned
  };
  AuditEvent no_id = Event("");
  expect_refused({Event("fine"), no_id}, absl::StatusCode::kInvalidArgument);
  expect_refused({}, absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Committed().size, 0u);  // nothing of a refused request lands
  log->Close();
  expect_refused({Event("late")}, absl::StatusCode::kUnavailable);
  EXPECT_EQ(memory_.LoadTreeState()->size, 0u);
}

TEST(SerializeEventDeterministic, MatchesAStreamedDeterministicEncodingWhateverTheMapOrder) {
  AuditEvent a = Event("det");
  AuditEvent b = a;
  for (int i = 0; i < 20; ++i) (*a.mutable_details())["k" + std::to_string(i)] = "v";
  for (int i = 19; i >= 0; --i) (*b.mutable_details())["k" + std::to_string(i)] = "v";
  std::string streamed;
  {
    google::protobuf::io::StringOutputStream sos(&streamed);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    b.SerializeToCodedStream(&cos);
  }
  EXPECT_EQ(SerializeEventDeterministic(a), streamed);
  EXPECT_EQ(SerializeEventDeterministic(b), streamed);
  // Shorter than the stream's internal buffer: every byte still arrives.
  AuditEvent tiny;
  tiny.set_event_id("t");
  EXPECT_EQ(SerializeEventDeterministic(tiny), tiny.SerializeAsString());
  AuditEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(SerializeEventDeterministic(a)));
  EXPECT_EQ(parsed.details_size(), a.details_size());
}

TEST_F(AuditLogTest, LostIndexSuffixIsRebuiltAtStartup) {
  // Leaves whose index records never made it (a crash right after the
  // fsynced append) are indexed again when the log opens.
  AppendBatch b;
  merkle::CompactRange range;
  for (int i = 0; i < 5; ++i) {
    LeafRecord l;
    l.event_id = "lost" + std::to_string(i);
    l.entry = SerializeEventDeterministic(Event(l.event_id, "users/zoe", "projects/p1", "query.run",
                                                common::v1::ALLOW, 100 + i));
    l.leaf_hash = merkle::LeafHash(l.entry);
    range.Append(l.leaf_hash);
    b.leaves.push_back(l);
  }
  b.frontier = range.frontier();
  ASSERT_THAT(memory_.Append(b), IsOk());
  EXPECT_EQ(*memory_.IndexedThrough(), 0u);
  auto log = Open(&memory_);
  EXPECT_EQ(*memory_.IndexedThrough(), 5u);
  SearchQuery q;
  q.subject = "users/zoe";
  EXPECT_EQ(log->Search(q)->events.size(), 5u);
  ReportQuery rq;
  rq.end_time_unix_ms = 103;
  EXPECT_EQ(log->Report(rq)->events_considered, 3);
}

TEST_F(AuditLogTest, ProofsVerifyWithTheMerkleVerifier) {
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(store, IsOk());
  auto log = Open(store->get(), 7);
  for (int i = 0; i < 37; ++i) AppendOne(*log, Event("e" + std::to_string(i)));
  auto first = log->SignTreeHead();
  ASSERT_THAT(first, IsOk());
  for (int i = 37; i < 100; ++i) AppendOne(*log, Event("e" + std::to_string(i)));
  clock_.Advance(1000);
  auto second = log->SignTreeHead();
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->tree_size, 100u);
  // Only subtrees of kMinStoredNodeLevel and up are stored; the proofs below
  // recompute the lower ones from leaf hashes.
  EXPECT_FALSE((*store)->GetNode({kMinStoredNodeLevel - 1, 0})->has_value());
  EXPECT_TRUE((*store)->GetNode({kMinStoredNodeLevel, 0})->has_value());
  EXPECT_TRUE((*store)->GetNode({6, 0})->has_value());
  for (uint64_t i : {0u, 1u, 36u, 64u, 99u}) {
    auto p = log->InclusionProof(i, 0);
    ASSERT_THAT(p, IsOk());
    EXPECT_THAT(merkle::VerifyInclusion(p->leaf_hash, i, 100, p->hashes, second->root_hash), IsOk());
    // A mutated proof is rejected.
    if (!p->hashes.empty()) {
      p->hashes[0][0] ^= 1;
      EXPECT_FALSE(merkle::VerifyInclusion(p->leaf_hash, i, 100, p->hashes, second->root_hash).ok());
    }
  }
  auto c = log->ConsistencyProof(37, 100);
  ASSERT_THAT(c, IsOk());
  EXPECT_THAT(merkle::VerifyConsistency(37, 100, first->root_hash, second->root_hash, *c), IsOk());
  EXPECT_THAT(log->InclusionProof(100, 100), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(log->InclusionProof(1, 500), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(log->ConsistencyProof(50, 40), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(log->GetTreeHead(55), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(*log->GetTreeHead(37), *first);
}

TEST_F(AuditLogTest, SigningIsIdempotentAndHeadsVerify) {
  auto log = Open(&memory_);
  EXPECT_THAT(log->GetTreeHead(0), StatusIs(absl::StatusCode::kNotFound));
  auto empty = log->SignTreeHead();
  ASSERT_THAT(empty, IsOk());
  EXPECT_EQ(empty->tree_size, 0u);
  EXPECT_EQ(empty->root_hash, merkle::EmptyRoot());
  AppendOne(*log, Event("a"));
  auto h1 = log->SignTreeHead();
  ASSERT_THAT(h1, IsOk());
  clock_.Advance(5);
  EXPECT_EQ(*log->SignTreeHead(), *h1);  // nothing new: the same head
  EXPECT_THAT(VerifyTreeHeadSignature(log->public_key(), *h1), IsOk());
  TreeHead forged = *h1;
  forged.tree_size = 2;
  EXPECT_FALSE(VerifyTreeHeadSignature(log->public_key(), forged).ok());
  EXPECT_EQ(CanonicalTreeHeadBytes(1, 2, merkle::EmptyRoot()).size(), 69u);
}

TEST_F(AuditLogTest, RollbackOfATreeHeadIsRejected) {
  const std::string db = dir_.Sub("db");
  {
    auto store = RocksDbAuditStore::Open(db);
    ASSERT_THAT(store, IsOk());
    auto log = Open(store->get());
    for (int i = 0; i < 10; ++i) AppendOne(*log, Event("a" + std::to_string(i)));
    ASSERT_THAT(log->SignTreeHead(), IsOk());
    log->Close();
    // A backup taken now...
    ASSERT_THAT((*store)->kv().Checkpoint(dir_.Sub("backup")), IsOk());
  }
  {
    auto store = RocksDbAuditStore::Open(db);
    ASSERT_THAT(store, IsOk());
    auto log = Open(store->get());
    for (int i = 0; i < 10; ++i) AppendOne(*log, Event("b" + std::to_string(i)));
    clock_.Advance(10);
    ASSERT_THAT(log->SignTreeHead(), IsOk());  // the witness now holds size 20
  }
  // ...restored over the live store: the service refuses to start on it.
  std::filesystem::remove_all(db);
  std::filesystem::rename(dir_.Sub("backup"), db);
  auto store = RocksDbAuditStore::Open(db);
  ASSERT_THAT(store, IsOk());
  AuditLogOptions o;
  o.store = store->get();
  o.signing_key = Key();
  o.witness = &witness_;
  o.clock = &clock_;
  EXPECT_THAT(AuditLog::Create(std::move(o)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("rollback")));

  // A store whose latest head is beyond its entries is refused too.
  MemoryAuditStore m;
  TreeHead ahead;
  ahead.tree_size = 5;
  ASSERT_THAT(m.PutTreeHead(ahead), IsOk());
  AuditLogOptions o2;
  o2.store = &m;
  o2.signing_key = Key();
  o2.clock = &clock_;
  EXPECT_THAT(AuditLog::Create(std::move(o2)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("rollback")));
}

TEST_F(AuditLogTest, ADamagedSearchIndexIsClearedAndRebuiltFromTheEntries) {
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(store, IsOk());
  // A report over a time range reads the time index; a search by subject
  // reads the term index.
  ReportQuery by_time;
  by_time.start_time_unix_ms = 1;
  by_time.end_time_unix_ms = std::numeric_limits<int64_t>::max();
  SearchQuery by_subject;
  by_subject.subject = "users/bob";
  merkle::Hash root;
  {
    auto log = Open(store->get());
    for (int i = 0; i < 10; ++i) {
      AppendOne(*log, Event("e" + std::to_string(i), i % 2 ? "users/bob" : "users/alice", "projects/p1",
                            "query.run", common::v1::ALLOW, 1000 + i));
    }
    ASSERT_EQ(log->Report(by_time)->events_considered, 10);
    root = log->Committed().root;
    log->Close();
  }
  // A time record of the wrong length: reports over time fail and say so.
  std::string first_bucket;
  ASSERT_THAT((*store)->kv().Scan("time_buckets", "", [&](std::string_view key, std::string_view) {
    first_bucket = std::string(key);
    return false;
  }), IsOk());
  ASSERT_FALSE(first_bucket.empty());
  ASSERT_THAT((*store)->kv().Put("time_buckets", first_bucket, "fifteen bytes.."), IsOk());
  {
    auto log = Open(store->get());
    EXPECT_THAT(log->Report(by_time).status(), StatusIs(absl::StatusCode::kDataLoss));
    log->Close();
  }
  // Cleared (what `datalab-audit --rebuild_index` does) and rebuilt by the
  // next start: both indexes answer again, and the log itself is unchanged.
  ASSERT_THAT((*store)->ClearIndex(), IsOk());
  EXPECT_THAT((*store)->IndexedThrough(), IsOkAndHolds(0u));
  auto log = Open(store->get());
  EXPECT_EQ(log->Committed().size, 10u);
  EXPECT_EQ(log->Committed().root, root);
  auto report = log->Report(by_time);
  ASSERT_THAT(report, IsOk());
  EXPECT_EQ(report->events_considered, 10);
  EXPECT_EQ(log->Search(by_subject)->events.size(), 5u);
  EXPECT_THAT((*store)->IndexedThrough(), IsOkAndHolds(10u));
  EXPECT_TRUE(ExportAndVerify(*log).ok);
}

TEST_F(AuditLogTest, NeverSignsATreeThatDoesNotExtendTheLatestHead) {
  auto log = Open(&memory_);
  AppendOne(*log, Event("a"));
  AppendOne(*log, Event("b"));
  ASSERT_THAT(log->SignTreeHead(), IsOk());
  // A head for a larger tree appears in the store (e.g. restored from another
  // replica): the smaller live tree must not be signed.
  TreeHead bigger = *log->GetTreeHead(0);
  bigger.tree_size = 50;
  ASSERT_THAT(memory_.PutTreeHead(bigger), IsOk());
  EXPECT_THAT(log->SignTreeHead(), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST_F(AuditLogTest, TamperedStoreIsDetectedAtStartup) {
  {
    auto log = Open(&memory_);
    for (int i = 0; i < 4; ++i) AppendOne(*log, Event("a" + std::to_string(i)));
    ASSERT_THAT(log->SignTreeHead(), IsOk());
  }
  // Leaf hashes rewritten to match a changed entry no longer reproduce the
  // signed root.
  MemoryAuditStore other;
  {
    AuditLogOptions o;
    o.store = &other;
    o.signing_key = Key();
    o.clock = &clock_;
    auto log = AuditLog::Create(std::move(o));
    ASSERT_THAT(log, IsOk());
    for (int i = 0; i < 4; ++i) AppendOne(**log, Event("z" + std::to_string(i)));
  }
  ASSERT_THAT(other.PutTreeHead(*memory_.LatestTreeHead().value()), IsOk());
  AuditLogOptions o;
  o.store = &other;
  o.signing_key = Key();
  o.clock = &clock_;
  EXPECT_THAT(AuditLog::Create(std::move(o)), StatusIs(absl::StatusCode::kDataLoss));
}

TEST_F(AuditLogTest, SearchFiltersAndPaginates) {
  auto log = Open(&memory_);
  int64_t t = 1000;
  for (int i = 0; i < 30; ++i) {
    AuditEvent e = Event("e" + std::to_string(i), i % 3 == 0 ? "users/bob" : "users/alice",
                         i % 2 == 0 ? "projects/p1" : "projects/p2",
                         i % 4 == 0 ? "query.run" : "catalogue.read",
                         i % 5 == 0 ? common::v1::DENY : common::v1::ALLOW, t + i);
    if (i == 7) {
      e.clear_resources();
      e.add_resources("datasets/census");
    }
    AppendOne(*log, e);
  }
  auto count = [&](SearchQuery q) {
    size_t n = 0;
    int pages = 0;
    while (true) {
      auto r = log->Search(q);
      EXPECT_THAT(r, IsOk());
      if (!r.ok()) return n;
      n += r->events.size();
      ++pages;
      if (r->next_page_token.empty() || pages > 100) break;
      q.page_token = r->next_page_token;
    }
    return n;
  };
  SearchQuery q;
  q.subject = "users/bob";
  EXPECT_EQ(count(q), 10u);
  q.page_size = 3;
  EXPECT_EQ(count(q), 10u);  // paginated, same total
  q = {};
  q.project = "projects/p2";
  q.decision = common::v1::DENY;
  EXPECT_EQ(count(q), 3u);  // 5, 15, 25
  q = {};
  q.action = "query.*";
  EXPECT_EQ(count(q), 8u);
  q.action = "query";
  EXPECT_EQ(count(q), 0u);  // exact unless it ends in '*'
  q = {};
  q.dataset = "census";
  EXPECT_EQ(count(q), 1u);
  q.dataset = "datasets/ks4";
  EXPECT_EQ(count(q), 29u);
  q = {};
  q.start_time_unix_ms = 1010;
  q.end_time_unix_ms = 1020;
  q.page_size = 4;
  EXPECT_EQ(count(q), 10u);
  q = {};
  q.role = common::v1::RESEARCHER;
  q.subject = "users/alice";
  EXPECT_EQ(count(q), 20u);
  q.role = common::v1::DPO;
  EXPECT_EQ(count(q), 0u);
  q = {};
  q.page_token = "!!";
  EXPECT_THAT(log->Search(q), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_F(AuditLogTest, AccessReportGroupsWithCountsAndTimes) {
  auto log = Open(&memory_);
  AppendOne(*log, Event("1", "users/a", "projects/p", "query.run", common::v1::ALLOW, 100));
  AppendOne(*log, Event("2", "users/a", "projects/p", "query.run", common::v1::ALLOW, 300));
  AppendOne(*log, Event("3", "users/a", "projects/p", "query.run", common::v1::DENY, 200));
  AppendOne(*log, Event("4", "users/b", "projects/q", "query.run", common::v1::ALLOW, 150));
  ReportQuery q;
  q.project = "projects/p";
  auto r = log->Report(q);
  ASSERT_THAT(r, IsOk());
  ASSERT_EQ(r->lines.size(), 2u);
  EXPECT_EQ(r->lines[0].decision, common::v1::ALLOW);
  EXPECT_EQ(r->lines[0].count, 2);
  EXPECT_EQ(r->lines[0].first_time_unix_ms, 100);
  EXPECT_EQ(r->lines[0].last_time_unix_ms, 300);
  EXPECT_EQ(r->lines[1].count, 1);
  ReportQuery all;
  all.start_time_unix_ms = 120;
  auto r2 = log->Report(all);
  ASSERT_THAT(r2, IsOk());
  EXPECT_EQ(r2->events_considered, 3);
  EXPECT_EQ(r2->lines.size(), 3u);
  ReportQuery ds;
  ds.dataset = "ks4";
  EXPECT_EQ(log->Report(ds)->events_considered, 4);
}

// 20 events at times 1000..1019, pruned before 1010: entries go, hashes and
// proofs stay. `batched` appends the first 12 in one call (one multi-leaf
// chunk in RocksDB).
void AuditLogTest::CheckPruneKeepsTheTreeVerifiable(AuditStore* store, bool batched) {
  auto log = Open(store);
  std::vector<AuditEvent> first;
  for (int i = 0; i < 20; ++i) {
    AuditEvent e = Event("e" + std::to_string(i), "users/a", "projects/p", "query.run",
                         common::v1::ALLOW, 1000 + i);
    if (batched && i < 12) {
      first.push_back(e);
      if (i == 11) {
        ASSERT_THAT(log->Append(first), IsOk());
      }
      continue;
    }
    AppendOne(*log, e);
  }
  ASSERT_THAT(log->SignTreeHead(), IsOk());
  auto n = log->Prune(1010, "users/admin");
  ASSERT_THAT(n, IsOk());
  EXPECT_EQ(*n, 10);
  auto entries = log->GetEntries(0, 100);
  ASSERT_THAT(entries, IsOk());
  ASSERT_EQ(entries->size(), 21u);  // plus the audit.prune record
  EXPECT_TRUE((*entries)[9].pruned);
  EXPECT_FALSE((*entries)[10].pruned);
  AuditEvent record;
  ASSERT_TRUE(record.ParseFromString(*(*entries)[20].entry));
  EXPECT_EQ(record.action(), "audit.prune");
  EXPECT_EQ(record.details().at("pruned"), "10");
  SearchQuery q;
  q.subject = "users/a";
  EXPECT_EQ(log->Search(q)->events.size(), 10u);
  EXPECT_EQ(*log->Prune(1010, "users/admin"), 0);  // nothing left to prune
  clock_.Advance(1);
  ASSERT_THAT(log->SignTreeHead(), IsOk());
  VerifyReport v = ExportAndVerify(*log);
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_EQ(v.pruned_entries, 10u);
  // Proofs still work, for pruned leaves and kept ones.
  for (uint64_t i : {0u, 3u, 11u, 12u, 19u}) {
    auto p = log->InclusionProof(i, 0);
    ASSERT_THAT(p, IsOk());
    EXPECT_THAT(merkle::VerifyInclusion(p->leaf_hash, i, p->tree_size, p->hashes,
                                        log->GetTreeHead(0)->root_hash),
                IsOk())
        << i;
  }
}

TEST_F(AuditLogTest, PruneKeepsTheTreeVerifiable) { CheckPruneKeepsTheTreeVerifiable(&memory_, false); }

TEST_F(AuditLogTest, PruneKeepsTheTreeVerifiableOnRocksDb) {
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(store, IsOk());
  CheckPruneKeepsTheTreeVerifiable(store->get(), true);
}

// A store whose pruning silently does nothing: the time index never shrinks.
class NoPruneStore : public MemoryAuditStore {
 public:
  absl::Status Prune(const std::vector<IndexRecord>&) override { return absl::OkStatus(); }
};

TEST_F(AuditLogTest, PruneThatMakesNoProgressStopsWithDataLoss) {
  NoPruneStore store;
  auto log = Open(&store);
  AppendOne(*log, Event("a", "users/a", "projects/p", "query.run", common::v1::ALLOW, 1000));
  EXPECT_THAT(log->Prune(2000, "users/admin").status(),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("no progress at leaf 0")));
}

// A store whose second prune round fails, as a damaged index record makes
// it fail.
class SecondPruneFailsStore : public MemoryAuditStore {
 public:
  absl::Status Prune(const std::vector<IndexRecord>& items) override {
    if (++calls == 2) return absl::DataLossError("a search index record is damaged (test)");
    return MemoryAuditStore::Prune(items);
  }
  int calls = 0;
};

// Pruning runs in rounds of 10,000 leaves, each committed. When a later
// round fails, the earlier rounds' prune is still recorded in the log, and
// the error says how much was done.
TEST_F(AuditLogTest, APruneThatStopsPartWayRecordsWhatItPruned) {
  SecondPruneFailsStore store;
  auto log = Open(&store);
  constexpr int kEvents = 10'005;
  std::vector<AuditEvent> batch;
  for (int i = 0; i < kEvents; ++i) {
    batch.push_back(Event("e" + std::to_string(i), "users/a", "projects/p", "query.run",
                          common::v1::ALLOW, 1000 + i));
    if (batch.size() == 256 || i == kEvents - 1) {
      ASSERT_THAT(log->Append(batch), IsOk());
      batch.clear();
    }
  }
  EXPECT_THAT(log->Prune(1'000'000, "users/admin").status(),
              StatusIs(absl::StatusCode::kDataLoss,
                       HasSubstr("; 10000 entries were pruned before it, and that prune is recorded")));
  EXPECT_EQ(store.calls, 2);
  auto around = log->GetEntries(9'999, 10'001);  // the last leaf pruned and the first kept
  ASSERT_THAT(around, IsOk());
  ASSERT_EQ(around->size(), 2u);
  EXPECT_TRUE((*around)[0].pruned);
  EXPECT_FALSE((*around)[1].pruned);
  auto last = log->GetEntries(kEvents, kEvents + 1);
  ASSERT_THAT(last, IsOk());
  ASSERT_EQ(last->size(), 1u);
  AuditEvent record;
  ASSERT_TRUE(record.ParseFromString(*(*last)[0].entry));
  EXPECT_EQ(record.action(), "audit.prune");
  EXPECT_EQ(record.details().at("pruned"), "10000");
  EXPECT_EQ(record.details().at("stopped"), "DATA_LOSS");
}

// When the first round fails nothing was pruned, and nothing is recorded.
TEST_F(AuditLogTest, APruneThatPrunesNothingRecordsNothing) {
  SecondPruneFailsStore store;
  store.calls = 1;  // the first round is the failing one
  auto log = Open(&store);
  AppendOne(*log, Event("a", "users/a", "projects/p", "query.run", common::v1::ALLOW, 1000));
  EXPECT_THAT(log->Prune(2000, "users/admin").status(), StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_EQ(log->Committed().size, 1u);
}

TEST_F(AuditLogTest, BackgroundSignerSignsWhenTheLogGrows) {
  AuditLogOptions o;
  o.store = &memory_;
  o.signing_key = Key();
  o.sign_interval = absl::Milliseconds(10);
  auto log = AuditLog::Create(std::move(o));
  ASSERT_THAT(log, IsOk());
  AppendOne(**log, Event("a"));
  for (int i = 0; i < 500; ++i) {
    auto h = (*log)->GetTreeHead(0);
    if (h.ok() && h->tree_size == 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto h = (*log)->GetTreeHead(0);
  ASSERT_THAT(h, IsOk());
  EXPECT_EQ(h->tree_size, 1u);
}

TEST(PageTokenTest, RoundTrips) {
  EXPECT_EQ(*DecodePageToken(EncodePageToken(123456789)), 123456789u);
  EXPECT_THAT(DecodePageToken("AAAA"), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace datalab::audit
