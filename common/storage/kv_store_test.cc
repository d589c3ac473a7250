#include "common/storage/kv_store.h"

#include <set>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "datalab/common/v1/identity.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::storage {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;
using ::datalab::testing::TempDir;

absl::StatusOr<std::unique_ptr<KvStore>> OpenAt(const std::string& path) {
  KvStoreOptions o;
  o.path = path;
  o.column_families = {"meta", "data"};
  return KvStore::Open(o);
}

TEST(KvStore, PutGetDeleteAcrossColumnFamilies) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  ASSERT_THAT(store, IsOk());
  KvStore& s = **store;
  ASSERT_THAT(s.Put("meta", "k", "v1"), IsOk());
  ASSERT_THAT(s.Put("data", "k", "v2"), IsOk());
  EXPECT_THAT(s.Get("meta", "k"), IsOkAndHolds("v1"));
  EXPECT_THAT(s.Get("data", "k"), IsOkAndHolds("v2"));
  EXPECT_THAT(s.Get("meta", "missing"), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_THAT(s.Delete("meta", "k"), IsOk());
  EXPECT_THAT(s.Get("meta", "k"), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(s.Put("nosuchcf", "k", "v"), StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(KvStore, ProtoRoundTripAndCorruptRecord) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  ASSERT_THAT(store, IsOk());
  common::v1::Principal p;
  p.set_subject("users/alice");
  p.add_roles(common::v1::RESEARCHER);
  ASSERT_THAT((*store)->PutProto("meta", "p", p), IsOk());
  common::v1::Principal back;
  ASSERT_THAT((*store)->GetProto("meta", "p", &back), IsOk());
  EXPECT_EQ(back.subject(), "users/alice");
  ASSERT_EQ(back.roles_size(), 1);

  ASSERT_THAT((*store)->Put("meta", "bad", std::string("\xff\xff\xff", 3)), IsOk());
  EXPECT_THAT((*store)->GetProto("meta", "bad", &back),
              StatusIs(absl::StatusCode::kDataLoss));
}

TEST(KvStore, BatchIsAtomicAndRejectsUnknownFamilyWithoutWriting) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  ASSERT_THAT(store, IsOk());
  KvStore& s = **store;
  {
    WriteBatch b(&s);
    b.Put("meta", "a", "1");
    b.Put("data", "b", "2");
    ASSERT_THAT(s.Write(b), IsOk());
  }
  EXPECT_THAT(s.Get("meta", "a"), IsOkAndHolds("1"));
  EXPECT_THAT(s.Get("data", "b"), IsOkAndHolds("2"));
  {
    WriteBatch b(&s);
    b.Put("meta", "c", "3");
    b.Put("nosuchcf", "d", "4");
    EXPECT_THAT(s.Write(b), StatusIs(absl::StatusCode::kInvalidArgument));
  }
  // Nothing of the refused batch landed.
  EXPECT_THAT(s.Get("meta", "c"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(KvStore, ScanInOrderWithPrefixStartAndStop) {
  TempDir dir;
  auto store = OpenAt(dir.Sub("db"));
  ASSERT_THAT(store, IsOk());
  KvStore& s = **store;
  for (uint64_t i : {5u, 1u, 300u, 2u}) {
    ASSERT_THAT(s.Put("data", "x/" + EncodeUint64(i), std::to_string(i)), IsOk());
  }
  ASSERT_THAT(s.Put("data", "y/" + EncodeUint64(0), "other"), IsOk());
  std::vector<std::string> seen;
  ASSERT_THAT(s.Scan("data", "x/", [&](std::string_view, std::string_view v) {
    seen.emplace_back(v);
    return true;
  }), IsOk());
  EXPECT_THAT(seen, ::testing::ElementsAre("1", "2", "5", "300"));

  seen.clear();
  ASSERT_THAT(s.Scan("data", "x/", [&](std::string_view, std::string_view v) {
    seen.emplace_back(v);
    return seen.size() < 2;
  }, "x/" + EncodeUint64(2)), IsOk());
  EXPECT_THAT(seen, ::testing::ElementsAre("2", "5"));

  auto last = s.LastKeyWithPrefix("data", "x/");
  ASSERT_THAT(last, IsOk());
  EXPECT_EQ(DecodeUint64(last->substr(2)), 300u);
  EXPECT_THAT(s.LastKeyWithPrefix("data", "z/"), StatusIs(absl::StatusCode::kNotFound));
}

TEST(KvStore, SurvivesReopenAndCheckpointIsACopy) {
  TempDir dir;
  {
    auto store = OpenAt(dir.Sub("db"));
    ASSERT_THAT(store, IsOk());
    ASSERT_THAT((*store)->Put("meta", "k", "v"), IsOk());
    ASSERT_THAT((*store)->Checkpoint(dir.Sub("backup")), IsOk());
    ASSERT_THAT((*store)->Put("meta", "k", "after"), IsOk());
    // A second checkpoint into an existing directory is refused.
    EXPECT_FALSE((*store)->Checkpoint(dir.Sub("backup")).ok());
  }
  auto reopened = OpenAt(dir.Sub("db"));
  ASSERT_THAT(reopened, IsOk());
  EXPECT_THAT((*reopened)->Get("meta", "k"), IsOkAndHolds("after"));
  auto backup = OpenAt(dir.Sub("backup"));
  ASSERT_THAT(backup, IsOk());
  EXPECT_THAT((*backup)->Get("meta", "k"), IsOkAndHolds("v"));
}

TEST(KvStore, EncodingHelpers) {
  EXPECT_LT(EncodeUint64(255), EncodeUint64(256));
  EXPECT_EQ(DecodeUint64(EncodeUint64(0x0102030405060708ull)), 0x0102030405060708ull);
  EXPECT_EQ(PrefixEnd("ab"), "ac");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xff", 1)), "");
}

TEST(KvStore, ErrorsNameFilesNotTheServersPaths) {
  absl::Status s = ToAbslStatus(
      rocksdb::Status::IOError("While appending to file: /var/lib/datalab/query/db/000012.log",
                               "No space left on device"),
      "write");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("000012.log"));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("No space left"));
  EXPECT_THAT(std::string(s.message()), ::testing::Not(::testing::HasSubstr("/var/lib")));
}

TEST(KvStore, NearlyFullVolumeRefusesWritesCleanly) {
  TempDir dir;
  KvStoreOptions o;
  o.path = dir.Sub("db");
  o.column_families = {"a"};
  o.min_free_bytes = uint64_t{1} << 62;  // more than any volume has free
  auto store = KvStore::Open(o);
  ASSERT_THAT(store, IsOk());
  absl::Status s = (*store)->Put("a", "k", "v");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kResourceExhausted));
  EXPECT_THAT(std::string(s.message()), ::testing::HasSubstr("nearly full"));
  EXPECT_THAT((*store)->Get("a", "k"), StatusIs(absl::StatusCode::kNotFound));
  WriteBatch b(store->get());
  b.Put("a", "k2", "v");
  EXPECT_THAT((*store)->WriteSync(b), StatusIs(absl::StatusCode::kResourceExhausted));
}

TEST(KvStore, NoSpaceFromRocksDbIsResourceExhausted) {
  EXPECT_EQ(ToAbslStatus(rocksdb::Status::NoSpace("append"), "write").code(),
            absl::StatusCode::kResourceExhausted);
}

// Names of the table files of `cf`, by level.
std::vector<std::vector<std::string>> TableFiles(KvStore& store, const std::string& cf) {
  rocksdb::ColumnFamilyMetaData meta;
  store.raw()->GetColumnFamilyMetaData(*store.Handle(cf), &meta);
  std::vector<std::vector<std::string>> out;
  for (const auto& level : meta.levels) {
    out.emplace_back();
    for (const auto& f : level.files) out.back().push_back(f.name);
  }
  return out;
}

TEST(KvStore, AscendingFamiliesMoveTableFilesDownWithoutRewritingThem) {
  TempDir dir;
  KvStoreOptions o;
  o.path = dir.Sub("db");
  o.column_families = {"log", "other"};
  o.ascending_key_families = {"log"};
  auto store = KvStore::Open(o);
  ASSERT_THAT(store, IsOk());
  const std::vector<std::string> families = {"log", "other"};
  std::vector<std::set<std::string>> flushed(2);
  auto files = [&](size_t c, bool level0) {
    std::set<std::string> out;
    const auto levels = TableFiles(**store, families[c]);
    for (size_t level = level0 ? 0 : 1; level < (level0 ? 1 : levels.size()); ++level) {
      out.insert(levels[level].begin(), levels[level].end());
    }
    return out;
  };
  auto rewritten = [&](size_t c) {
    for (const std::string& name : files(c, false)) {
      if (!flushed[c].count(name)) return true;
    }
    return false;
  };
  // Flushes of keys in increasing order: level-0 files whose key ranges do
  // not overlap; four start RocksDB's own level-0 compaction. The second
  // round finds level 1 in place, so level 0 is no longer the bottommost.
  // RocksDB's compactions wait while a round is flushed, so that every
  // flushed file is seen in level 0 before one can move.
  auto auto_compactions = [&](bool on) {
    for (const std::string& cf : families) {
      ASSERT_TRUE((*store)->raw()->SetOptions(*(*store)->Handle(cf),
                      {{"disable_auto_compactions", on ? "false" : "true"}}).ok());
    }
  };
  uint64_t next = 0;
  for (int round = 0; round < 2; ++round) {
    auto_compactions(false);
    for (int f = 0; f < 4; ++f) {
      for (int k = 0; k < 100; ++k, ++next) {
        for (const std::string& cf : families) {
          ASSERT_THAT((*store)->Put(cf, EncodeUint64(next), std::string(100, 'x')), IsOk());
        }
      }
      ASSERT_THAT((*store)->Flush(), IsOk());
      for (size_t c = 0; c < 2; ++c) {
        for (const std::string& name : files(c, true)) flushed[c].insert(name);
      }
    }
    auto_compactions(true);
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    auto done = [&] {
      if (round == 0) return !files(0, false).empty() && !files(1, false).empty();
      return files(0, true).size() < 4 && rewritten(1);
    };
    while (absl::Now() < give_up && !done()) absl::SleepFor(absl::Milliseconds(20));
    ASSERT_TRUE(done()) << "no compaction within 30 s in round " << round;
  }
  // Ascending: every file below level 0 is a flushed file, moved down
  // without being read back and compressed again.
  for (const std::string& name : files(0, false)) EXPECT_TRUE(flushed[0].count(name)) << name;
  // Elsewhere the bottommost level is ZSTD, so level 0's LZ4 files were
  // rewritten on the way down: done() waited for rewritten(1).
  EXPECT_THAT((*store)->Get("log", EncodeUint64(650)), IsOkAndHolds(std::string(100, 'x')));
}

TEST(KvStore, OpenRefusesEmptyPath) {
  KvStoreOptions o;
  EXPECT_THAT(KvStore::Open(o), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace datalab::storage
