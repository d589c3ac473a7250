// The offline verifier against real exports, and tamper tests that edit the
// RocksDB store directly (as an attacker with disk access would) and expect
// verification to fail at the right entry.
#include "services/audit/verifier.h"

#include <functional>
#include <map>
#include <optional>
#include <sstream>

#include "common/storage/kv_store.h"
#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/audit/audit_log.h"
#include "services/audit/leaf_chunk.h"
#include "services/audit/rocksdb_audit_store.h"

namespace datalab::audit {
namespace {

using ::datalab::testing::IsOk;
using ::testing::HasSubstr;
using common::v1::AuditEvent;

crypto::Ed25519PrivateKey Key() { return *crypto::Ed25519PrivateKey::FromSeed(std::string(32, 'k')); }

std::string RawPublicKey() {
  auto pub = Key().PublicKey();
  const auto& raw = pub->Raw();
  return std::string(raw.begin(), raw.end());
}

// Exports straight from a store (no startup checks), like a forensic copy.
std::string ExportStore(const AuditStore& store) {
  std::stringstream ss;
  ss << ExportHeaderLine(RawPublicKey(), "k") << "\n";
  EXPECT_THAT(store.ScanEntries(0, UINT64_MAX, [&](const StoredEntry& e) {
    ss << ExportEntryLine({e.index, e.entry, e.pruned, e.leaf_hash}) << "\n";
    return true;
  }),
              IsOk());
  EXPECT_THAT(store.ScanTreeHeads(UINT64_MAX, [&](const TreeHead& h) {
    ss << ExportHeadLine(h) << "\n";
    return true;
  }),
              IsOk());
  return ss.str();
}

VerifyReport Verify(const std::string& jsonl) {
  std::stringstream ss(jsonl);
  return VerifyJsonLines(ss);
}

// One leaf as an attacker with disk access sees it: its stored hash and its
// entry (nullopt: the entry's bytes are gone, not pruned).
struct RawLeaf {
  merkle::Hash hash{};
  std::optional<std::string> entry;
};
using RawLeaves = std::map<uint64_t, RawLeaf>;

// Rewrites the store's "leaves" family to hold exactly `leaves`, as an
// attacker would: consecutive leaves share chunks, and a leaf without its
// entry gets a chunk of its own whose entries are cut off.
void WriteRawLeaves(storage::KvStore& kv, const RawLeaves& leaves) {
  ASSERT_THAT(kv.Scan("leaves", "", [&](std::string_view key, std::string_view) {
    EXPECT_THAT(kv.Delete("leaves", key), IsOk());
    return true;
  }),
              IsOk());
  LeafChunkWriter chunk(kLeavesPerChunk);
  uint64_t first = 0, next = 0;
  auto flush = [&] {
    if (chunk.size() > 0) {
      ASSERT_THAT(kv.Put("leaves", storage::EncodeUint64(first), chunk.Finish()), IsOk());
    }
  };
  for (const auto& [i, leaf] : leaves) {
    if (i != next || chunk.size() == kLeavesPerChunk || !leaf.entry.has_value()) flush();
    next = i + 1;
    if (!leaf.entry.has_value()) {
      chunk.Add(leaf.hash, "x");
      std::string record = chunk.Finish();
      record.resize(record.size() - 2);  // drop the entry's tag and byte
      ASSERT_THAT(kv.Put("leaves", storage::EncodeUint64(i), record), IsOk());
      next = UINT64_MAX;  // the next leaf starts a new chunk
      continue;
    }
    if (chunk.size() == 0) first = i;
    chunk.Add(leaf.hash, *leaf.entry);
  }
  flush();
}

class TamperTest : public ::testing::Test {
 protected:
  // 50 events appended in two groups (so two multi-leaf chunks, [0, 20) and
  // [20, 50)), heads signed at sizes 20 and 50.
  void SetUp() override {
    auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
    ASSERT_THAT(store, IsOk());
    FakeClock clock;
    AuditLogOptions o;
    o.store = store->get();
    o.signing_key = Key();
    o.clock = &clock;
    auto log = AuditLog::Create(std::move(o));
    ASSERT_THAT(log, IsOk());
    std::vector<AuditEvent> group;
    for (int i = 0; i < 50; ++i) {
      AuditEvent e;
      e.set_event_id("e" + std::to_string(i));
      e.set_action("query.run");
      e.mutable_actor()->set_subject("users/u" + std::to_string(i % 4));
      group.push_back(e);
      if (i == 19 || i == 49) {
        ASSERT_THAT((*log)->Append(group), IsOk());
        group.clear();
        clock.Advance(10);
        ASSERT_THAT((*log)->SignTreeHead(), IsOk());
      }
    }
  }

  std::unique_ptr<storage::KvStore> OpenRaw() {
    storage::KvStoreOptions o;
    o.path = dir_.Sub("db");
    o.column_families = RocksDbAuditStore::ColumnFamilies();
    auto kv = storage::KvStore::Open(o);
    EXPECT_THAT(kv, IsOk());
    return std::move(*kv);
  }

  // Reads every leaf through the store, lets `edit` change them, and writes
  // them back underneath the store.
  void EditLeaves(const std::function<void(RawLeaves&)>& edit) {
    RawLeaves leaves;
    {
      auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
      ASSERT_THAT(store, IsOk());
      ASSERT_THAT((*store)->ScanEntries(0, UINT64_MAX, [&](const StoredEntry& e) {
        leaves[e.index] = {*e.leaf_hash, e.entry};
        return true;
      }),
                  IsOk());
    }
    ASSERT_EQ(leaves.size(), 50u);
    edit(leaves);
    auto kv = OpenRaw();
    WriteRawLeaves(*kv, leaves);
  }

  // Changes the bytes of the chunk record at `first` in place.
  void EditChunkRecord(uint64_t first, const std::function<void(std::string&)>& edit) {
    auto kv = OpenRaw();
    auto record = kv->Get("leaves", storage::EncodeUint64(first));
    ASSERT_THAT(record, IsOk());
    edit(*record);
    ASSERT_THAT(kv->Put("leaves", storage::EncodeUint64(first), *record), IsOk());
  }

  // Verifies an export and expects it to fail at leaf `index`.
  VerifyReport ExpectFailsAt(int64_t index) {
    VerifyReport r = ExportAndVerify();
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.first_bad_index, index);
    return r;
  }

  VerifyReport ExportAndVerify() {
    auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
    EXPECT_THAT(store, IsOk());
    return Verify(ExportStore(**store));
  }

  ::datalab::testing::TempDir dir_;
};

TEST_F(TamperTest, UntouchedStoreVerifies) {
  VerifyReport r = ExportAndVerify();
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.entries, 50u);
  EXPECT_EQ(r.heads_verified, 2u);
  EXPECT_EQ(r.latest_head->tree_size, 50u);
  EXPECT_THAT(FormatReport(r), HasSubstr("OK: 50 entries"));
}

TEST_F(TamperTest, RewritingTheLeavesUnchangedStillVerifies) {
  // The editor itself changes nothing: every test below fails for its edit.
  EditLeaves([](RawLeaves&) {});
  VerifyReport r = ExportAndVerify();
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.entries, 50u);
}

TEST_F(TamperTest, ChangedEntryFailsAtItsIndex) {
  EditLeaves([](RawLeaves& leaves) {
    AuditEvent e;
    ASSERT_TRUE(e.ParseFromString(*leaves[30].entry));
    e.set_action("query.nothing_to_see");
    leaves[30].entry = e.SerializeAsString();
  });
  ExpectFailsAt(30);
}

TEST_F(TamperTest, DeletedEntryFailsAtItsIndex) {
  EditLeaves([](RawLeaves& leaves) { leaves.erase(30); });
  VerifyReport r = ExpectFailsAt(30);
  EXPECT_THAT(r.error, HasSubstr("missing"));
}

TEST_F(TamperTest, DeletedBodyIsNotMistakenForPruning) {
  EditLeaves([](RawLeaves& leaves) { leaves[7].entry.reset(); });
  ExpectFailsAt(7);
}

TEST_F(TamperTest, ReorderedEntriesFailAtTheFirstMovedIndex) {
  EditLeaves([](RawLeaves& leaves) { std::swap(leaves[12].entry, leaves[31].entry); });
  ExpectFailsAt(12);
}

// Shifts entries [at, 50) up by one and puts `bytes` at `at`, shifting the
// leaf hashes as well when `with_hashes` (the new last leaf otherwise gets
// the hash of its entry, so only the shifted entries disagree).
void InsertEntry(RawLeaves& leaves, uint64_t at, const std::string& bytes, bool with_hashes) {
  leaves[50] = {merkle::LeafHash(*leaves[49].entry), leaves[49].entry};
  for (uint64_t i = 49; i > at; --i) {
    leaves[i].entry = leaves[i - 1].entry;
    if (with_hashes) leaves[i].hash = leaves[i - 1].hash;
  }
  leaves[at].entry = bytes;
  if (with_hashes) leaves[at].hash = merkle::LeafHash(bytes);
}

TEST_F(TamperTest, InsertedEntryFailsAtItsIndex) {
  AuditEvent forged;
  forged.set_event_id("forged");
  forged.set_action("query.run");
  EditLeaves([&](RawLeaves& leaves) {
    InsertEntry(leaves, 25, forged.SerializeAsString(), /*with_hashes=*/false);
  });
  ExpectFailsAt(25);
}

TEST_F(TamperTest, InsertWithRewrittenHashesIsCaughtByTheSignedHead) {
  AuditEvent forged;
  forged.set_event_id("forged");
  EditLeaves([&](RawLeaves& leaves) {
    InsertEntry(leaves, 25, forged.SerializeAsString(), /*with_hashes=*/true);
  });
  VerifyReport r = ExportAndVerify();
  EXPECT_FALSE(r.ok);
  // Entry and hash agree, so only the head of size 50 can tell: the bad
  // entry is located to the range after the last good head.
  EXPECT_EQ(r.first_bad_index, 20);
  EXPECT_EQ(r.first_bad_head, 1);
  EXPECT_THAT(r.error, HasSubstr("[20, 50)"));
}

TEST_F(TamperTest, TruncatedLogFailsAtTheFirstMissingEntry) {
  EditLeaves([](RawLeaves& leaves) {
    for (uint64_t i = 45; i < 50; ++i) leaves.erase(i);
  });
  ExpectFailsAt(45);
}

TEST_F(TamperTest, DamagedChunkHeaderFailsAtItsFirstLeaf) {
  EditChunkRecord(20, [](std::string& record) { record[0] ^= 0x7f; });  // the version byte
  ExpectFailsAt(20);
}

TEST_F(TamperTest, DamagedEntryLengthFailsNoLaterThanItsLeaf) {
  // A changed length misaligns the entries that follow in the chunk: leaf
  // 20's entry (the chunk's first) is read wrong or not at all.
  EditChunkRecord(20, [](std::string& record) {
    const size_t first_tag = 2 + 30 * 32;  // version, n (one byte), 30 hashes
    record[first_tag] = static_cast<char>(record[first_tag] + 5);
  });
  ExpectFailsAt(20);
}

TEST_F(TamperTest, ChunkWrittenOverAnotherHidesItsLeaves) {
  // A one-leaf chunk forged at 25 ends the chunk at 20 there: leaves 26-49
  // are then missing. The forgery agrees with its own hash, so the first
  // missing leaf is where verification fails.
  AuditEvent forged;
  forged.set_event_id("forged");
  {
    auto kv = OpenRaw();
    LeafChunkWriter chunk(1);
    chunk.Add(merkle::LeafHash(forged.SerializeAsString()), forged.SerializeAsString());
    ASSERT_THAT(kv->Put("leaves", storage::EncodeUint64(25), chunk.Finish()), IsOk());
  }
  auto store = RocksDbAuditStore::Open(dir_.Sub("db"));
  ASSERT_THAT(store, IsOk());
  std::vector<uint64_t> seen;
  ASSERT_THAT((*store)->ScanEntries(20, 50, [&](const StoredEntry& e) {
    seen.push_back(e.index);
    return true;
  }),
              IsOk());
  EXPECT_EQ(seen.size(), 6u);  // 20..25
  EXPECT_EQ(seen.back(), 25u);
  store->reset();
  VerifyReport r = ExpectFailsAt(26);
  EXPECT_THAT(r.error, HasSubstr("missing"));
}

TEST_F(TamperTest, ForgedHeadFailsItsSignature) {
  {
    auto kv = OpenRaw();
    auto v = kv->Get("tree_heads", storage::EncodeUint64(20));
    ASSERT_THAT(v, IsOk());
    auto h = DecodeTreeHead(*v);
    ASSERT_THAT(h, IsOk());
    h->root_hash[0] ^= 1;
    ASSERT_THAT(kv->Put("tree_heads", storage::EncodeUint64(20), EncodeTreeHead(*h)), IsOk());
  }
  VerifyReport r = ExportAndVerify();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_head, 0);
  EXPECT_THAT(r.error, HasSubstr("signature"));
}

TEST(VerifierTest, HeadsOutOfOrderAreARollback) {
  auto key = Key();
  ExportVerifier v(RawPublicKey());
  merkle::CompactRange range;
  std::vector<TreeHead> heads;
  for (uint64_t i = 0; i < 4; ++i) {
    std::string entry = "e" + std::to_string(i);
    v.AddEntry({i, entry, false, std::nullopt});
    range.Append(merkle::LeafHash(entry));
    TreeHead h;
    h.tree_size = i + 1;
    h.timestamp_unix_ms = static_cast<int64_t>(i);
    h.root_hash = range.Root();
    ASSERT_THAT(SignTreeHead(key, h), IsOk());
    heads.push_back(h);
  }
  v.AddHead(heads[0]);
  v.AddHead(heads[3]);
  v.AddHead(heads[1]);  // signed earlier, for a smaller tree
  VerifyReport r = v.Finish();
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.first_bad_head, 2);
  EXPECT_THAT(r.error, HasSubstr("rollback"));
}

TEST(VerifierTest, HandWrittenJsonIsAcceptedToo) {
  // Entry lines in any valid JSON layout (not just the writer's) verify.
  auto key = Key();
  std::string entry = "hello";
  TreeHead h;
  h.tree_size = 1;
  h.root_hash = merkle::LeafHash(entry);
  ASSERT_THAT(SignTreeHead(key, h), IsOk());
  std::string jsonl = ExportHeaderLine(RawPublicKey(), "k") + "\n" +
                      "{ \"index\": 0, \"type\": \"entry\", \"entry\": \"aGVsbG8=\" }\n" +
                      ExportHeadLine(h) + "\n";
  VerifyReport r = Verify(jsonl);
  EXPECT_TRUE(r.ok) << r.error;
  // And a fast-path-shaped line with bad base64 is still an error.
  std::string bad = ExportHeaderLine(RawPublicKey(), "k") + "\n" +
                    "{\"type\":\"entry\",\"index\":0,\"entry\":\"a*==\"}\n";
  EXPECT_THAT(Verify(bad).error, HasSubstr("line 2: entry is not base64"));
}

TEST(VerifierTest, MalformedLinesNameTheLine) {
  std::string header = ExportHeaderLine(RawPublicKey(), "k");
  EXPECT_THAT(Verify(header + "\nnot json\n").error, HasSubstr("line 2"));
  EXPECT_THAT(Verify(header + "\n{\"type\":\"entry\"}\n").error, HasSubstr("line 2"));
  EXPECT_THAT(Verify("{\"type\":\"entry\",\"index\":0,\"entry\":\"AA==\"}\n").error,
              HasSubstr("no \"log\" line"));
  EXPECT_THAT(Verify(header + "\n{\"type\":\"entry\",\"index\":0,\"entry\":\"AA==\"}\n").error,
              HasSubstr("no signed tree head"));
  EXPECT_TRUE(Verify(header + "\n").ok);  // an empty log
}

TEST(VerifierTest, NumbersOutOfRangeAreErrorsNotCasts) {
  // A float or negative index would otherwise be cast to uint64_t (undefined
  // behaviour for 1e300) and could alias a real index.
  std::string header = ExportHeaderLine(RawPublicKey(), "k");
  EXPECT_THAT(Verify(header + "\n{\"type\":\"entry\",\"index\":1e300,\"entry\":\"AA==\"}\n").error,
              HasSubstr("line 2: index is not a non-negative integer"));
  EXPECT_THAT(Verify(header + "\n{\"type\":\"entry\",\"index\":-1,\"entry\":\"AA==\"}\n").error,
              HasSubstr("line 2: index is not a non-negative integer"));
  EXPECT_THAT(Verify(header + "\n{\"type\":\"head\",\"tree_size\":2.5,\"timestamp_unix_ms\":0,"
                              "\"root_hash\":\"00\",\"signature\":\"AA==\"}\n").error,
              HasSubstr("line 2: tree_size is not a non-negative integer"));
}

}  // namespace
}  // namespace datalab::audit
