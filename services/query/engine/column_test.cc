#include "services/query/engine/column.h"

#include <cmath>
#include <random>
#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::engine {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;

TEST(Crc32cTest, KnownVector) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32c(""), 0u);
  // Chaining equals one pass.
  EXPECT_EQ(Crc32c("6789", Crc32c("12345")), Crc32c("123456789"));
}

Chunk IntChunk(std::vector<int64_t> v) {
  Chunk c;
  c.type = ColumnType::kInt64;
  c.num_rows = static_cast<uint32_t>(v.size());
  c.i64 = std::move(v);
  return c;
}

void ExpectSame(const Chunk& a, const Chunk& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.num_rows, b.num_rows);
  EXPECT_EQ(a.i64, b.i64);
  EXPECT_EQ(a.u32, b.u32);
  EXPECT_EQ(a.missing, b.missing);
  ASSERT_EQ(a.f64.size(), b.f64.size());
  for (size_t i = 0; i < a.f64.size(); ++i) {
    EXPECT_EQ(std::memcmp(&a.f64[i], &b.f64[i], 8), 0) << i;
  }
}

TEST(ChunkCodecTest, Int64WidthsRoundTrip) {
  std::mt19937_64 rng(1);
  for (int64_t range : {int64_t{0}, int64_t{200}, int64_t{60000}, int64_t{4000000000},
                        std::numeric_limits<int64_t>::max()}) {
    std::vector<int64_t> v(1000);
    for (auto& x : v) {
      x = range == 0 ? 42 : static_cast<int64_t>(rng() % static_cast<uint64_t>(range)) - range / 2;
    }
    if (range == std::numeric_limits<int64_t>::max()) {
      v[0] = std::numeric_limits<int64_t>::min();
      v[1] = std::numeric_limits<int64_t>::max();
    }
    Chunk c = IntChunk(v);
    std::string bytes = EncodeChunk(c);
    auto d = DecodeChunk(bytes);
    ASSERT_THAT(d, IsOk());
    ExpectSame(c, *d);
  }
}

TEST(ChunkCodecTest, NarrowIntsAreCompact) {
  std::vector<int64_t> v(kChunkRows);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 2000 + i % 7;
  EXPECT_LT(EncodeChunk(IntChunk(v)).size(), kChunkRows + 64);
}

TEST(ChunkCodecTest, CodesDoublesSubjectsAndMissingRoundTrip) {
  std::mt19937 rng(2);
  for (uint32_t limit : {3u, 300u, 100000u}) {
    Chunk c;
    c.type = ColumnType::kCode;
    c.num_rows = 777;
    for (uint32_t i = 0; i < c.num_rows; ++i) c.u32.push_back(rng() % limit);
    c.missing.assign(c.num_rows, 0);
    c.missing[5] = kSupp;
    c.missing[776] = kLowCov;
    auto d = DecodeChunk(EncodeChunk(c));
    ASSERT_THAT(d, IsOk());
    ExpectSame(c, *d);
  }
  Chunk s;
  s.type = ColumnType::kSubject;
  s.num_rows = 3;
  s.u32 = {7, 0xFFFFFFF0u, 0};
  auto ds = DecodeChunk(EncodeChunk(s));
  ASSERT_THAT(ds, IsOk());
  ExpectSame(s, *ds);

  Chunk f;
  f.type = ColumnType::kDouble;
  f.num_rows = 4;
  f.f64 = {1.5, -0.0, 1e300, std::nan("")};
  auto df = DecodeChunk(EncodeChunk(f));
  ASSERT_THAT(df, IsOk());
  ExpectSame(f, *df);

  Chunk empty = IntChunk({});
  auto de = DecodeChunk(EncodeChunk(empty));
  ASSERT_THAT(de, IsOk());
  EXPECT_EQ(de->num_rows, 0u);
}

TEST(ChunkCodecTest, EveryCorruptedByteIsDetected) {
  Chunk c = IntChunk({1, 5, 300, -4});
  c.missing = {0, 1, 0, 0};
  const std::string good = EncodeChunk(c);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x10;
    EXPECT_THAT(DecodeChunk(bad), StatusIs(absl::StatusCode::kDataLoss)) << "byte " << i;
  }
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_THAT(DecodeChunk(good.substr(0, n)), StatusIs(absl::StatusCode::kDataLoss)) << n;
  }
  EXPECT_THAT(DecodeChunk(good + "x"), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ChunkCodecTest, ValidChecksumOverBadContentIsRejected) {
  // Hand-build a chunk with a correct CRC but an unknown version, type and
  // reason code: the parser must not rely on the checksum alone.
  auto seal = [](std::string body) {
    uint32_t crc = Crc32c(body);
    body.append(reinterpret_cast<const char*>(&crc), 4);
    return body;
  };
  std::string header("\x01\x01\x01\x00\x01\x00\x00\x00", 8);
  std::string payload = std::string(8, '\0') + std::string("\x00", 1);  // min 0, width 0
  EXPECT_THAT(DecodeChunk(seal(header + payload)), IsOk());
  std::string v2 = header;
  v2[0] = 2;
  EXPECT_THAT(DecodeChunk(seal(v2 + payload)), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("version")));
  std::string t9 = header;
  t9[1] = 9;
  EXPECT_THAT(DecodeChunk(seal(t9 + payload)), StatusIs(absl::StatusCode::kDataLoss, HasSubstr("type")));
  std::string w3 = header + std::string(8, '\0') + std::string("\x03", 1) + "abc";
  EXPECT_THAT(DecodeChunk(seal(w3)), StatusIs(absl::StatusCode::kDataLoss));
  std::string miss = header;
  miss[3] = 1;
  EXPECT_THAT(DecodeChunk(seal(miss + payload + std::string("\x09", 1))),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("reason")));
  std::string big = header;
  big[6] = 0x7F;  // num_rows far above kChunkRows
  EXPECT_THAT(DecodeChunk(seal(big + payload)), StatusIs(absl::StatusCode::kDataLoss));
}

TEST(ColumnTest, BuilderCutsChunksAndTracksStats) {
  ColumnBuilder b("year", ColumnType::kInt64);
  for (uint32_t i = 0; i < kChunkRows + 10; ++i) {
    if (i == 3) {
      b.AppendMissing(kNE);
    } else {
      b.AppendInt64(i % 5 + 7);
    }
  }
  auto col = b.Finish();
  ASSERT_THAT(col, IsOk());
  EXPECT_EQ((*col)->num_rows(), kChunkRows + 10);
  ASSERT_EQ((*col)->chunks().size(), 2u);
  EXPECT_TRUE((*col)->chunks()[0].has_missing());
  EXPECT_FALSE((*col)->chunks()[1].has_missing());
  EXPECT_EQ((*col)->chunks()[0].missing[3], kNE);
  EXPECT_EQ((*col)->min_value(), 7);
  EXPECT_EQ((*col)->max_value(), 11);
  EXPECT_TRUE((*col)->has_missing());
}

TEST(ColumnTest, StringsAreInterned) {
  ColumnBuilder b("gender", ColumnType::kCode);
  b.AppendString("F");
  b.AppendString("M");
  b.AppendString("F");
  auto col = b.Finish();
  ASSERT_THAT(col, IsOk());
  EXPECT_EQ((*col)->dictionary(), (std::vector<std::string>{"F", "M"}));
  EXPECT_EQ((*col)->chunks()[0].u32, (std::vector<uint32_t>{0, 1, 0}));
}

TEST(ColumnTest, CreateRejectsBadChunks) {
  Chunk c;
  c.type = ColumnType::kCode;
  c.num_rows = 2;
  c.u32 = {0, 5};
  EXPECT_THAT(Column::Create("c", ColumnType::kCode, {"a", "b"}, {c}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("dictionary")));
  EXPECT_THAT(Column::Create("c", ColumnType::kInt64, {}, {c}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("type")));
  Chunk short_chunk = IntChunk({1, 2});
  EXPECT_THAT(Column::Create("i", ColumnType::kInt64, {}, {short_chunk, short_chunk}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rows")));
  Chunk bad_len = IntChunk({1, 2});
  bad_len.num_rows = 3;
  EXPECT_THAT(Column::Create("i", ColumnType::kInt64, {}, {bad_len}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  Chunk bad_missing = IntChunk({1, 2});
  bad_missing.missing = {0};
  EXPECT_THAT(Column::Create("i", ColumnType::kInt64, {}, {bad_missing}),
              StatusIs(absl::StatusCode::kInvalidArgument));
  bad_missing.missing = {0, 42};
  EXPECT_THAT(Column::Create("i", ColumnType::kInt64, {}, {bad_missing}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("reason")));
  EXPECT_THAT(Column::Create("i", ColumnType::kInt64, {"x"}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(TableTest, CreateChecksLengthsAndNames) {
  ColumnBuilder a("a", ColumnType::kInt64), b("b", ColumnType::kInt64);
  a.AppendInt64(1);
  b.AppendInt64(1);
  b.AppendInt64(2);
  auto ca = a.Finish(), cb = b.Finish();
  ASSERT_THAT(ca, IsOk());
  ASSERT_THAT(cb, IsOk());
  EXPECT_THAT(Table::Create("t", {*ca, *cb}), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(Table::Create("t", {*ca, *ca}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("repeats")));
  auto t = Table::Create("t", {*ca});
  ASSERT_THAT(t, IsOk());
  EXPECT_EQ((*t)->Find("a"), ca->get());
  EXPECT_EQ((*t)->Find("zz"), nullptr);
}

}  // namespace
}  // namespace datalab::engine
