#include "common/rowbatch/string_column.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace datalab::rowbatch {
namespace {

using ::datalab::query::v1::ColumnValues;

TEST(StringColumnBuilder, InternsAndRoundTrips) {
  StringColumnBuilder b;
  b.Append("WBRI");
  b.Append("WOTH");
  b.Append("WBRI");
  b.AppendMissing();
  b.AppendRepeated("trust-wide", 2);
  EXPECT_EQ(b.dictionary_size(), 3u);
  EXPECT_EQ(b.rows(), 6u);
  ColumnValues v;
  v.set_missing(std::string("\0\0\0\1\0\0", 6));
  b.MoveTo(&v);
  EXPECT_EQ(b.rows(), 0u);
  EXPECT_EQ(b.dictionary_size(), 0u);
  auto col = StringColumn::Open(v, 6, "ethnicity");
  ASSERT_TRUE(col.ok()) << col.status();
  EXPECT_TRUE(col->coded());
  std::vector<std::string> got;
  for (int r = 0; r < 6; ++r) got.emplace_back(col->at(r));
  EXPECT_EQ(got, (std::vector<std::string>{"WBRI", "WOTH", "WBRI", "WBRI", "trust-wide",
                                           "trust-wide"}));
}

TEST(StringColumnBuilder, EmptyStringIsAnEntry) {
  StringColumnBuilder b;
  b.Append("");
  b.Append("a");
  b.Append("");
  EXPECT_EQ(b.dictionary_size(), 2u);
  EXPECT_EQ(b.codes(), (std::vector<uint32_t>{0, 1, 0}));
}

TEST(StringColumnBuilder, ReplaceDictionaryKeepsCodes) {
  StringColumnBuilder b;
  b.Append("A1");
  b.Append("B22");
  b.Append("A1");
  b.ReplaceDictionary("xxxyyy", {3, 6});
  EXPECT_EQ(b.entry(0), "xxx");
  EXPECT_EQ(b.entry(1), "yyy");
  b.KeepRows({true, false, true});
  EXPECT_EQ(b.codes(), (std::vector<uint32_t>{0, 0}));
}

TEST(StringColumnBuilder, RunsOfOneValueAndSwitchesBackGetTheirCodes) {
  // Intern compares with the last value before hashing: runs, a switch
  // back to an earlier value, and a value that is a prefix of the last.
  StringColumnBuilder b;
  for (const char* s : {"140222", "140222", "140223", "140222", "14022", "140222", "", ""}) {
    b.Append(s);
  }
  EXPECT_EQ(b.dictionary_size(), 4u);
  EXPECT_EQ(b.codes(), (std::vector<uint32_t>{0, 0, 1, 0, 2, 0, 3, 3}));
  b.Wipe();
  b.Append("140223");  // a wiped builder starts its dictionary afresh
  EXPECT_EQ(b.codes(), (std::vector<uint32_t>{0}));
  EXPECT_EQ(b.entry(0), "140223");
}

TEST(StringColumnBuilder, AppendEntryAddsAnEntryPerRowAndReadsBack) {
  StringColumnBuilder b;
  b.AppendEntry("A123");
  b.AppendEntry("B456");
  b.AppendEntry("A123");  // a repeat is a second entry
  b.AppendMissing();
  EXPECT_EQ(b.dictionary_size(), 3u);
  EXPECT_EQ(b.codes(), (std::vector<uint32_t>{0, 1, 2, 0}));
  b.ReplaceDictionary("pppqqqppp", {3, 6, 9});
  ColumnValues v;
  v.set_missing(std::string("\0\0\0\1", 4));
  b.MoveTo(&v);
  auto col = StringColumn::Open(v, 4, "pupil");
  ASSERT_TRUE(col.ok()) << col.status();
  EXPECT_EQ(col->at(0), "ppp");
  EXPECT_EQ(col->at(1), "qqq");
  EXPECT_EQ(col->at(2), "ppp");
}

TEST(StringColumnBuilder, ManyEntriesStayDistinct) {
  StringColumnBuilder b;
  for (int i = 0; i < 100000; ++i) b.Append(std::to_string(i % 5000));
  EXPECT_EQ(b.dictionary_size(), 5000u);
  for (int i = 0; i < 5000; ++i) EXPECT_EQ(b.entry(b.codes()[i]), std::to_string(i));
}

// Reserving room, before or after entries exist, keeps every entry and code.
TEST(StringColumnBuilder, ReserveKeepsEntriesAndCodes) {
  StringColumnBuilder b;
  b.Append("A100000000001");
  b.Reserve(100, 100, 16);
  b.Append("A100000000002");
  b.Append("A100000000001");
  b.Reserve(10, 1000, 64);  // grows the dictionary buffer again
  for (int i = 0; i < 200; ++i) b.Append("B" + std::to_string(1000 + i));
  EXPECT_EQ(b.dictionary_size(), 202u);
  ColumnValues v;
  v.set_missing(std::string(203, '\0'));
  b.MoveTo(&v);
  auto col = StringColumn::Open(v, 203, "pupil");
  ASSERT_TRUE(col.ok()) << col.status();
  EXPECT_EQ(col->at(0), "A100000000001");
  EXPECT_EQ(col->at(1), "A100000000002");
  EXPECT_EQ(col->at(2), "A100000000001");
  EXPECT_EQ(col->at(3), "B1000");
  EXPECT_EQ(col->at(202), "B1199");
}

TEST(PackedStrings, EndsAreCheckedAndCut) {
  const std::vector<uint32_t> ends = {3, 3, 7};
  EXPECT_TRUE(CheckPackedEnds(ends, 7).ok());
  EXPECT_EQ(PackedAt("abcdefg", ends, 0), "abc");
  EXPECT_EQ(PackedAt("abcdefg", ends, 1), "");
  EXPECT_EQ(PackedAt("abcdefg", ends, 2), "defg");
  EXPECT_TRUE(CheckPackedEnds({}, 0).ok());
  auto backwards = CheckPackedEnds(std::vector<uint32_t>{3, 2, 7}, 7);
  EXPECT_EQ(backwards.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(backwards.message(), "entry 1 (2) is before entry 0 (3)");
  EXPECT_EQ(CheckPackedEnds(ends, 8).message(), "the last end is 7 but the data holds 8 bytes");
  EXPECT_EQ(CheckPackedEnds({}, 1).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(CheckPackedEnds(std::vector<uint32_t>{9}, 7).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StringColumn, PlainForm) {
  ColumnValues v;
  v.add_strings("a");
  v.add_strings("b");
  auto col = StringColumn::Open(v, 2, "c");
  ASSERT_TRUE(col.ok());
  EXPECT_FALSE(col->coded());
  EXPECT_EQ(col->at(1), "b");
  EXPECT_FALSE(StringColumn::Open(v, 3, "c").ok());
}

TEST(StringColumn, RejectsMalformedCodedColumns) {
  ColumnValues good;
  good.set_dictionary_data("ab");
  good.add_dictionary_ends(1);
  good.add_dictionary_ends(2);
  good.add_codes(1);
  good.add_codes(0);
  ASSERT_TRUE(StringColumn::Open(good, 2, "c").ok());

  ColumnValues wrong_rows = good;
  EXPECT_FALSE(StringColumn::Open(wrong_rows, 3, "c").ok());

  ColumnValues both = good;
  both.add_strings("a");
  both.add_strings("b");
  auto s = StringColumn::Open(both, 2, "col_x");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("col_x"), std::string::npos);

  ColumnValues descending = good;
  descending.set_dictionary_ends(0, 2);
  descending.set_dictionary_ends(1, 1);
  descending.set_dictionary_data("ab");
  EXPECT_FALSE(StringColumn::Open(descending, 2, "c").ok());

  ColumnValues short_data = good;
  short_data.set_dictionary_data("a");
  EXPECT_FALSE(StringColumn::Open(short_data, 2, "c").ok());

  ColumnValues out_of_range = good;
  out_of_range.set_codes(1, 2);
  auto o = StringColumn::Open(out_of_range, 2, "c");
  ASSERT_FALSE(o.ok());
  EXPECT_NE(o.status().message().find("batch row 2"), std::string::npos);

  // A missing vector of the wrong length is refused before it is read.
  ColumnValues short_missing = out_of_range;
  short_missing.set_missing(std::string("\1", 1));
  auto sm = StringColumn::Open(short_missing, 2, "c");
  ASSERT_FALSE(sm.ok());
  EXPECT_NE(sm.status().message().find("missing"), std::string::npos);

  // A missing row's code is ignored.
  out_of_range.set_missing(std::string("\0\1", 2));
  auto m = StringColumn::Open(out_of_range, 2, "c");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->at(1), "");
}

}  // namespace
}  // namespace datalab::rowbatch
