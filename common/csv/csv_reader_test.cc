#include "common/csv/csv_reader.h"

#include <random>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::csv {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

struct Parsed {
  std::vector<std::vector<std::string>> rows;
  std::vector<int64_t> lines;
  std::vector<int64_t> numbers;
  bool operator==(const Parsed& o) const {
    return rows == o.rows && lines == o.lines && numbers == o.numbers;
  }
};

// Parses `data` fed in the given chunk sizes (cycled); 0 = all at once.
absl::StatusOr<Parsed> ParseChunked(std::string_view data,
                                    const std::vector<size_t>& chunks,
                                    CsvOptions options = {}) {
  auto reader_or = CsvReader::Create(options);
  if (!reader_or.ok()) return reader_or.status();
  CsvReader& reader = **reader_or;
  Parsed out;
  CsvRecord rec;
  auto drain = [&]() -> absl::Status {
    while (true) {
      absl::StatusOr<bool> got = reader.Next(&rec);
      if (!got.ok()) return got.status();
      if (!*got) return absl::OkStatus();
      out.rows.emplace_back(rec.fields.begin(), rec.fields.end());
      out.lines.push_back(rec.line_number);
      out.numbers.push_back(rec.record_number);
    }
  };
  size_t off = 0;
  size_t k = 0;
  while (off < data.size()) {
    size_t n = chunks.empty() || chunks[k % chunks.size()] == 0
                   ? data.size()
                   : chunks[k % chunks.size()];
    ++k;
    absl::Status s = reader.Feed(data.substr(off, n));
    if (!s.ok()) return s;
    off += n;
    s = drain();
    if (!s.ok()) return s;
  }
  absl::Status s = reader.Finish();
  if (!s.ok()) return s;
  s = drain();
  if (!s.ok()) return s;
  return out;
}

absl::StatusOr<Parsed> Parse(std::string_view data, CsvOptions options = {}) {
  return ParseChunked(data, {}, options);
}

using Rows = std::vector<std::vector<std::string>>;

TEST(CsvReaderTest, SimpleRecords) {
  auto p = Parse("a,b,c\n1,2,3\n");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows, (Rows{{"a", "b", "c"}, {"1", "2", "3"}}));
  EXPECT_THAT(p->lines, ElementsAre(1, 2));
  EXPECT_THAT(p->numbers, ElementsAre(1, 2));
}

TEST(CsvReaderTest, QuotedCommasQuotesAndNewlines) {
  auto p = Parse(
      "name,note\n"
      "\"Smith, John\",\"said \"\"hi\"\"\"\n"
      "\"multi\nline\",\"crlf\r\ninside\"\n"
      "\"\",x\n");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows, (Rows{{"name", "note"},
                           {"Smith, John", "said \"hi\""},
                           {"multi\nline", "crlf\r\ninside"},
                           {"", "x"}}));
  // The record with embedded newlines starts on line 3 and spans 3-5.
  EXPECT_THAT(p->lines, ElementsAre(1, 2, 3, 6));
}

TEST(CsvReaderTest, LineEndings) {
  for (std::string_view data : {"a,b\r\nc,d\r\n", "a,b\nc,d\n", "a,b\rc,d\r",
                                "a,b\r\nc,d", "a,b\nc,d"}) {
    auto p = Parse(data);
    ASSERT_THAT(p, IsOk()) << data;
    EXPECT_EQ(p->rows, (Rows{{"a", "b"}, {"c", "d"}})) << data;
    EXPECT_THAT(p->lines, ElementsAre(1, 2)) << data;
  }
}

TEST(CsvReaderTest, EmptyFieldsAndTrailingDelimiter) {
  auto p = Parse("a,b,c\n,,\n1,,\n,\"\",3");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows, (Rows{{"a", "b", "c"},
                           {"", "", ""},
                           {"1", "", ""},
                           {"", "", "3"}}));
}

TEST(CsvReaderTest, BlankLinesSkippedButCounted) {
  auto p = Parse("a,b\n\n1,2\r\n\r\n\r\n3,4\n\n");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows, (Rows{{"a", "b"}, {"1", "2"}, {"3", "4"}}));
  EXPECT_THAT(p->lines, ElementsAre(1, 3, 6));
  EXPECT_THAT(p->numbers, ElementsAre(1, 2, 3));
}

TEST(CsvReaderTest, SingleSpaceCellsArePreserved) {
  auto p = Parse("a,b\n ,x\n");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows[1], (std::vector<std::string>{" ", "x"}));
}

TEST(CsvReaderTest, EmptyInputHasNoRecords) {
  auto p = Parse("");
  ASSERT_THAT(p, IsOk());
  EXPECT_TRUE(p->rows.empty());
  auto bom_only = Parse("\xEF\xBB\xBF");
  ASSERT_THAT(bom_only, IsOk());
  EXPECT_TRUE(bom_only->rows.empty());
}

TEST(CsvReaderTest, HeaderOnlyFile) {
  for (std::string_view data : {"URN,LA,ESTAB\r\n", "URN,LA,ESTAB"}) {
    auto p = Parse(data);
    ASSERT_THAT(p, IsOk());
    EXPECT_EQ(p->rows, (Rows{{"URN", "LA", "ESTAB"}}));
  }
}

TEST(CsvReaderTest, BomIsStrippedFromFirstHeader) {
  auto p = Parse("\xEF\xBB\xBFURN,LA\n1,2\n");
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows[0][0], "URN");
}

TEST(CsvReaderTest, Windows1252IsTranscoded) {
  CsvOptions o;
  o.encoding = Encoding::kWindows1252;
  auto p = Parse("name\nSt Mary\x92s\nCaf\xE9\n", o);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows[1][0], "St Mary\xE2\x80\x99s");
  EXPECT_EQ(p->rows[2][0], "Caf\xC3\xA9");
  // Auto mode reaches the same result.
  auto a = Parse("name\nSt Mary\x92s\nCaf\xE9\n");
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->rows, p->rows);
}

TEST(CsvReaderTest, OtherDelimiter) {
  CsvOptions o;
  o.delimiter = ';';
  auto p = Parse("a;b\n\"x;y\";2,5\n", o);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows, (Rows{{"a", "b"}, {"x;y", "2,5"}}));
}

// A sample with every quirk, for the chunk-boundary tests.
std::string QuirkySample() {
  return "\xEF\xBB\xBF" "URN,SCHNAME,P8MEA,PCT,NOTE\r\n"
         "100000,\"Aldgate, The \"\"Best\"\" School\",0.5,12.5%,\"a\r\nb\"\r\n"
         "100001,Caf\xC3\xA9 \xE2\x80\x99s,SUPP,,\"\"\r\n"
         "\r\n"
         "100002,\" \",NE,\"749,750\",\"x\ny\rz\"\n"
         "100003,plain,NP, ,last";
}

TEST(CsvReaderTest, ChunkBoundariesAtEveryPosition) {
  const std::string data = QuirkySample();
  auto whole = Parse(data);
  ASSERT_THAT(whole, IsOk());
  ASSERT_EQ(whole->rows.size(), 5u);
  EXPECT_EQ(whole->rows[1][1], "Aldgate, The \"Best\" School");
  EXPECT_EQ(whole->rows[1][4], "a\r\nb");
  EXPECT_EQ(whole->rows[3][4], "x\ny\rz");
  EXPECT_EQ(whole->rows[4][4], "last");
  EXPECT_THAT(whole->lines, ElementsAre(1, 2, 4, 6, 9));

  auto one = ParseChunked(data, {1});
  ASSERT_THAT(one, IsOk());
  EXPECT_EQ(*one, *whole);
  for (size_t split = 0; split <= data.size(); ++split) {
    auto two = ParseChunked(data, {split == 0 ? data.size() : split,
                                   data.size()});
    ASSERT_THAT(two, IsOk()) << split;
    EXPECT_EQ(*two, *whole) << "split at " << split;
  }
  std::mt19937 rng(12345);
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<size_t> sizes;
    for (int i = 0; i < 16; ++i) sizes.push_back(1 + rng() % 17);
    auto r = ParseChunked(data, sizes);
    ASSERT_THAT(r, IsOk()) << trial;
    EXPECT_EQ(*r, *whole) << trial;
  }
}

TEST(CsvReaderTest, LargeRandomFileSameInAnyChunking) {
  std::mt19937 rng(7);
  std::string data = "a,b,c\n";
  const char* pieces[] = {"x", "yy", "\"q,q\"", "\"d\"\"q\"", "\"n\nl\"", "",
                          "12.5%", "SUPP", "\"\""};
  for (int r = 0; r < 3000; ++r) {
    for (int f = 0; f < 3; ++f) {
      if (f) data += ',';
      data += pieces[rng() % 9];
    }
    data += (r % 3 == 0) ? "\r\n" : (r % 3 == 1 ? "\n" : "\r");
  }
  auto whole = Parse(data);
  ASSERT_THAT(whole, IsOk());
  EXPECT_EQ(whole->rows.size(), 3001u);
  for (size_t chunk : {1, 7, 64, 4096, 65536}) {
    auto r = ParseChunked(data, {chunk});
    ASSERT_THAT(r, IsOk());
    EXPECT_EQ(*r, *whole) << chunk;
  }
}

TEST(CsvReaderTest, OversizedUnquotedFieldRejected) {
  std::string data = "a,b\n1,";
  data += std::string(2 << 20, 'S');
  data += "\n";
  for (size_t chunk : {0, 65536}) {
    auto p = ParseChunked(data, {chunk});
    EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                            AllOf(HasSubstr("field 2 of record 2"),
                                  HasSubstr("line 2, column 3"),
                                  HasSubstr("1048576"), Not(HasSubstr("SSS")))));
  }
}

TEST(CsvReaderTest, OversizedQuotedFieldRejectedAtOpeningQuote) {
  std::string data = "a\n\"";
  data += std::string(2 << 20, 'S');
  data += "\"\n";
  auto p = ParseChunked(data, {65536});
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("line 2, column 1"),
                                HasSubstr("longer than the limit"))));
}

TEST(CsvReaderTest, FieldAtExactlyTheLimitIsAccepted) {
  CsvOptions o;
  o.max_field_bytes = 10;
  EXPECT_THAT(Parse("0123456789\n", o), IsOk());
  EXPECT_THAT(Parse("\"0123456789\"\n", o), IsOk());
  EXPECT_THAT(Parse("\"01234567\"\"\"\n", o), IsOk());  // unescaped: 9 bytes
  EXPECT_THAT(Parse("01234567890\n", o),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

// Found by the fuzzer: a byte consumed just before input ends (a lenient
// stray quote, an escaped quote, a newline inside quotes) must still count
// against the field limit.
TEST(CsvReaderTest, FieldLimitHoldsForTheLastByteBeforeEndOfInput) {
  CsvOptions o;
  o.max_field_bytes = 4;
  o.lenient_quotes = true;
  for (std::string_view data : {"abcd\"", "\"abcd\"\"\"", "\"abcd\n\"",
                                "\"abc\"d\"", "\"ab\"cd\""}) {
    for (size_t chunk : {1, 2, 100}) {
      EXPECT_THAT(ParseChunked(data, {chunk}, o),
                  StatusIs(absl::StatusCode::kInvalidArgument,
                           HasSubstr("longer than the limit of 4")))
          << data << " chunk " << chunk;
    }
  }
}

TEST(CsvReaderTest, TooManyFieldsRejected) {
  CsvOptions o;
  o.max_fields_per_record = 3;
  EXPECT_THAT(Parse("a,b,c\n", o), IsOk());
  EXPECT_THAT(Parse("a,b,c,d\n", o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("more than 3 fields"),
                             HasSubstr("line 1"))));
  EXPECT_THAT(Parse("a,b,c,", o),  // trailing empty field at EOF counts
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CsvReaderTest, OversizedRecordRejected) {
  CsvOptions o;
  o.max_record_bytes = 20;
  EXPECT_THAT(Parse("aaaa,bbbb\ncccc,dddd\n", o), IsOk());
  EXPECT_THAT(Parse("h1,h2\naaaaaaaaaa,bbbbbbbbbbbbbbbb\n", o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("record 2 starting at line 2"),
                             HasSubstr("longer than the limit of 20"))));
  // Also when the record never ends within the buffered input.
  EXPECT_THAT(ParseChunked("h\n\"" + std::string(100, 'z'), {5}, o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("longer than the limit of 20")));
}

TEST(CsvReaderTest, UnterminatedQuoteReportsWhereItOpened) {
  auto p = Parse("a,b\n1,2\n3,\"SECRET never\nclosed\n,,,\n");
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("unterminated quoted field"),
                                HasSubstr("line 3, column 3"),
                                HasSubstr("record 3, field 2"),
                                Not(HasSubstr("SECRET")))));
}

TEST(CsvReaderTest, StrayQuoteStrictAndLenient) {
  const std::string data = "name,height\nO\"Brien,5'11\"\n";
  EXPECT_THAT(Parse(data),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("quote inside an unquoted field"),
                             HasSubstr("line 2, column 2"),
                             Not(HasSubstr("Brien")))));
  CsvOptions lenient;
  lenient.lenient_quotes = true;
  auto p = Parse(data, lenient);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows[1], (std::vector<std::string>{"O\"Brien", "5'11\""}));
}

TEST(CsvReaderTest, TextAfterClosingQuoteStrictAndLenient) {
  const std::string data = "a,b\n\"quoted\"tail,2\n";
  EXPECT_THAT(Parse(data),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       AllOf(HasSubstr("after the closing quote"),
                             HasSubstr("line 2, column 9"))));
  CsvOptions lenient;
  lenient.lenient_quotes = true;
  auto p = Parse(data, lenient);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->rows[1], (std::vector<std::string>{"quotedtail", "2"}));
  auto q = ParseChunked("a\n\"x\"\"y\"z\"w\n", {1}, lenient);
  ASSERT_THAT(q, IsOk());
  EXPECT_EQ(q->rows[1][0], "x\"yz\"w");
}

TEST(CsvReaderTest, NulByteRejectedWithPosition) {
  const std::string data = std::string("a,b\n12,3\x00" "4\n", 11);
  EXPECT_THAT(Parse(data), StatusIs(absl::StatusCode::kInvalidArgument,
                                    AllOf(HasSubstr("NUL byte"),
                                          HasSubstr("line 2, column 5"))));
  const std::string quoted = std::string("a\n\"x\x00y\"\n", 8);
  EXPECT_THAT(Parse(quoted), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("line 2, column 3")));
}

TEST(CsvReaderTest, FieldCountMismatchNamesRecordAndCounts) {
  auto p = Parse("a,b,c\n1,2,3\n\"x,y\"\n");
  EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument,
                          AllOf(HasSubstr("record 3 starting at line 3"),
                                HasSubstr("has 1 fields, expected 3"))));
  CsvOptions off;
  off.check_field_count = false;
  EXPECT_THAT(Parse("a,b,c\n1\n", off), IsOk());
}

TEST(CsvReaderTest, InvalidUtf8ReportsLineAndColumnAfterEarlierRecords) {
  CsvOptions o;
  o.encoding = Encoding::kUtf8;
  auto reader = CsvReader::Create(o);
  ASSERT_THAT(reader, IsOk());
  ASSERT_THAT((*reader)->Feed("a,b\nok,1\nbad,x\xE9y\n"), IsOk());
  CsvRecord rec;
  EXPECT_THAT((*reader)->Next(&rec), datalab::testing::IsOkAndHolds(true));
  EXPECT_THAT((*reader)->Next(&rec), datalab::testing::IsOkAndHolds(true));
  EXPECT_EQ(rec.fields[0], "ok");
  auto third = (*reader)->Next(&rec);
  EXPECT_THAT(third, StatusIs(absl::StatusCode::kInvalidArgument,
                              AllOf(HasSubstr("invalid UTF-8"),
                                    HasSubstr("line 3, column 6"),
                                    HasSubstr("windows-1252"))));
  // Sticky.
  EXPECT_THAT((*reader)->Next(&rec),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT((*reader)->Feed("more"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CsvReaderTest, InvalidUtf8AfterCrIsOnTheNextLine) {
  CsvOptions o;
  o.encoding = Encoding::kUtf8;
  EXPECT_THAT(ParseChunked("a\rb\r\xFF", {1}, o),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 3, column 1")));
}

TEST(CsvReaderTest, RandomBinaryFailsCleanly) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 50; ++trial) {
    std::string data(4096 + rng() % 4096, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    for (Encoding e : {Encoding::kAuto, Encoding::kUtf8, Encoding::kWindows1252}) {
      CsvOptions o;
      o.encoding = e;
      auto p = ParseChunked(data, {1 + rng() % 1000}, o);
      EXPECT_THAT(p, StatusIs(absl::StatusCode::kInvalidArgument)) << trial;
    }
  }
}

TEST(CsvReaderTest, MisuseAndBadOptions) {
  auto reader = CsvReader::Create({});
  ASSERT_THAT(reader, IsOk());
  ASSERT_THAT((*reader)->Finish(), IsOk());
  EXPECT_THAT((*reader)->Feed("x"),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  CsvOptions bad;
  bad.delimiter = '"';
  EXPECT_THAT(CsvReader::Create(bad),
              StatusIs(absl::StatusCode::kInvalidArgument));
  CsvOptions zero;
  zero.max_field_bytes = 0;
  EXPECT_THAT(CsvReader::Create(zero),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(CsvReaderTest, ReadCsvConvenienceAndSinkErrors) {
  int n = 0;
  EXPECT_THAT(ReadCsv("a\n1\n2\n", {},
                      [&](const CsvRecord&) {
                        ++n;
                        return absl::OkStatus();
                      }),
              IsOk());
  EXPECT_EQ(n, 3);
  EXPECT_THAT(ReadCsv("a\n1\n", {},
                      [](const CsvRecord& r) {
                        return r.record_number == 2
                                   ? absl::InternalError("stop")
                                   : absl::OkStatus();
                      }),
              StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace datalab::csv
