#include "common/csv/encoding.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::csv {
namespace {

using ::datalab::testing::IsOkAndHolds;
using ::datalab::testing::StatusIs;

TEST(ParseEncodingNameTest, AcceptsKnownNames) {
  EXPECT_THAT(ParseEncodingName("UTF-8"), IsOkAndHolds(Encoding::kUtf8));
  EXPECT_THAT(ParseEncodingName("utf8"), IsOkAndHolds(Encoding::kUtf8));
  EXPECT_THAT(ParseEncodingName(" Windows-1252 "),
              IsOkAndHolds(Encoding::kWindows1252));
  EXPECT_THAT(ParseEncodingName("cp1252"), IsOkAndHolds(Encoding::kWindows1252));
  EXPECT_THAT(ParseEncodingName("latin1"), IsOkAndHolds(Encoding::kWindows1252));
  EXPECT_THAT(ParseEncodingName("auto"), IsOkAndHolds(Encoding::kAuto));
  EXPECT_THAT(ParseEncodingName(""), IsOkAndHolds(Encoding::kAuto));
}

TEST(ParseEncodingNameTest, RejectsUnknownNames) {
  EXPECT_THAT(ParseEncodingName("utf-16"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseEncodingName("ebcdic"),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST(Utf8Test, ValidSequences) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii text, longer than eight bytes"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));             // é
  EXPECT_TRUE(IsValidUtf8("\xE2\x80\x99"));            // ’
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x98\x80"));        // emoji
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));        // U+10FFFF
  EXPECT_TRUE(IsValidUtf8("\xED\x9F\xBF"));            // U+D7FF
}

TEST(Utf8Test, InvalidSequencesReportFirstBadByte) {
  EXPECT_EQ(ValidUtf8Prefix("abc\xE9xyz"), 3u);             // Latin-1 é
  EXPECT_EQ(ValidUtf8Prefix("ab\xC0\x80"), 2u);             // overlong NUL
  EXPECT_EQ(ValidUtf8Prefix("\xC1\xBF"), 0u);               // overlong
  EXPECT_EQ(ValidUtf8Prefix("x\xE0\x80\x80"), 1u);          // overlong 3-byte
  EXPECT_EQ(ValidUtf8Prefix("\xED\xA0\x80"), 0u);           // surrogate
  EXPECT_EQ(ValidUtf8Prefix("\xF4\x90\x80\x80"), 0u);       // > U+10FFFF
  EXPECT_EQ(ValidUtf8Prefix("\xF5\x80\x80\x80"), 0u);
  EXPECT_EQ(ValidUtf8Prefix("\xFF"), 0u);
  EXPECT_EQ(ValidUtf8Prefix("ok\x80"), 2u);                 // lone continuation
  EXPECT_EQ(ValidUtf8Prefix("\xC3\x28"), 0u);               // bad continuation
}

TEST(Utf8Test, TruncatedTailIsFlagged) {
  bool truncated = false;
  EXPECT_EQ(ValidUtf8Prefix("ab\xE2\x80", &truncated), 2u);
  EXPECT_TRUE(truncated);
  EXPECT_EQ(ValidUtf8Prefix("ab\xE2\x28", &truncated), 2u);
  EXPECT_FALSE(truncated);
  EXPECT_EQ(ValidUtf8Prefix("ab\xF0", &truncated), 2u);
  EXPECT_TRUE(truncated);
}

TEST(Windows1252Test, SpotChecks) {
  std::string out;
  AppendWindows1252AsUtf8("caf\xE9 \x92quoted\x92 \x80 \x9F \x81", &out);
  EXPECT_EQ(out,
            "caf\xC3\xA9 \xE2\x80\x99quoted\xE2\x80\x99 \xE2\x82\xAC "
            "\xC5\xB8 \xC2\x81");
  EXPECT_EQ(Windows1252ToCodePoint(0x92), 0x2019u);
  EXPECT_EQ(Windows1252ToCodePoint(0x91), 0x2018u);
  EXPECT_EQ(Windows1252ToCodePoint(0x93), 0x201Cu);
  EXPECT_EQ(Windows1252ToCodePoint(0x96), 0x2013u);
  EXPECT_EQ(Windows1252ToCodePoint(0x8C), 0x0152u);
  EXPECT_EQ(Windows1252ToCodePoint(0xA3), 0x00A3u);  // £
  EXPECT_EQ(Windows1252ToCodePoint(0x41), 0x41u);
}

TEST(Windows1252Test, EveryByteDecodesToValidUtf8) {
  for (int b = 0; b < 256; ++b) {
    std::string out;
    const char c = static_cast<char>(b);
    AppendWindows1252AsUtf8(std::string_view(&c, 1), &out);
    ASSERT_TRUE(IsValidUtf8(out)) << b;
    const uint32_t cp = Windows1252ToCodePoint(static_cast<uint8_t>(b));
    EXPECT_EQ(out.size(), cp < 0x80 ? 1u : cp < 0x800 ? 2u : 3u) << b;
    if (b < 0x80 || b >= 0xA0) {
      EXPECT_EQ(cp, static_cast<uint32_t>(b));
    }
  }
}

// Decodes `in` fed in chunks of `chunk` bytes.
std::string Decode(StreamDecoder& d, std::string_view in, size_t chunk) {
  std::string out;
  for (size_t i = 0; i < in.size(); i += chunk) d.Feed(in.substr(i, chunk), &out);
  d.Finish(&out);
  return out;
}

TEST(StreamDecoderTest, StripsBomWhateverTheChunking) {
  const std::string in = "\xEF\xBB\xBFURN,Name\ncaf\xC3\xA9\n";
  for (size_t chunk : {1, 2, 3, 4, 100}) {
    for (Encoding e : {Encoding::kUtf8, Encoding::kAuto}) {
      StreamDecoder d(e);
      EXPECT_EQ(Decode(d, in, chunk), "URN,Name\ncaf\xC3\xA9\n") << chunk;
      EXPECT_FALSE(d.failed());
      EXPECT_TRUE(d.bom_stripped());
      EXPECT_EQ(d.resolved(), Encoding::kUtf8);
    }
  }
}

TEST(StreamDecoderTest, PartialBomAtEndIsData) {
  StreamDecoder d(Encoding::kAuto);
  std::string out = Decode(d, "\xEF\xBB", 1);
  EXPECT_FALSE(d.bom_stripped());
  EXPECT_EQ(d.resolved(), Encoding::kWindows1252);  // not valid UTF-8
  EXPECT_EQ(out, "\xC3\xAF\xC2\xBB");
}

TEST(StreamDecoderTest, BomWithDeclaredWindows1252Fails) {
  StreamDecoder d(Encoding::kWindows1252);
  Decode(d, "\xEF\xBB\xBFURN\n", 64);
  EXPECT_EQ(d.failure(), StreamDecoder::Failure::kBomWithWindows1252);
  EXPECT_THAT(d.FailureReason(), ::testing::HasSubstr("byte order mark"));
}

TEST(StreamDecoderTest, MultiByteSequencesSplitAtEveryPosition) {
  const std::string in = "a\xC3\xA9" "b\xE2\x80\x99" "c\xF0\x9F\x98\x80" "d";
  for (size_t split = 0; split <= in.size(); ++split) {
    StreamDecoder d(Encoding::kUtf8);
    std::string out;
    d.Feed(in.substr(0, split), &out);
    d.Feed(in.substr(split), &out);
    d.Finish(&out);
    EXPECT_FALSE(d.failed()) << split;
    EXPECT_EQ(out, in) << split;
  }
  StreamDecoder d(Encoding::kUtf8);
  EXPECT_EQ(Decode(d, in, 1), in);
  EXPECT_FALSE(d.failed());
}

TEST(StreamDecoderTest, InvalidUtf8StopsWithValidPrefix) {
  for (size_t chunk : {1, 3, 1000}) {
    StreamDecoder d(Encoding::kUtf8);
    std::string out = Decode(d, "line one\nbad \xE9 byte\n", chunk);
    EXPECT_TRUE(d.failed());
    EXPECT_EQ(d.failure(), StreamDecoder::Failure::kInvalidUtf8);
    EXPECT_EQ(out, "line one\nbad ");
    EXPECT_THAT(d.FailureReason(), ::testing::HasSubstr("windows-1252"));
  }
}

TEST(StreamDecoderTest, InvalidSequenceSpanningChunks) {
  StreamDecoder d(Encoding::kUtf8);
  std::string out;
  d.Feed("ab\xE2", &out);
  d.Feed("\x28zz", &out);
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(out, "ab");
}

TEST(StreamDecoderTest, TruncatedSequenceAtEndFails) {
  StreamDecoder d(Encoding::kUtf8);
  std::string out = Decode(d, "abc\xE2\x80", 100);
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(out, "abc");
}

TEST(StreamDecoderTest, AutoPicksUtf8ForValidInput) {
  StreamDecoder d(Encoding::kAuto);
  EXPECT_EQ(Decode(d, "caf\xC3\xA9\n", 2), "caf\xC3\xA9\n");
  EXPECT_EQ(d.resolved(), Encoding::kUtf8);
}

TEST(StreamDecoderTest, AutoDecodesWholeFileAsWindows1252) {
  // "Ã©" is valid UTF-8 on its own, but the file as a whole is not, so all
  // of it is read as Windows-1252, consistently.
  StreamDecoder d(Encoding::kAuto);
  std::string out = Decode(d, "\xC3\xA9,caf\xE9,O\x92Neill\n", 3);
  EXPECT_FALSE(d.failed());
  EXPECT_EQ(d.resolved(), Encoding::kWindows1252);
  EXPECT_EQ(out,
            "\xC3\x83\xC2\xA9,caf\xC3\xA9,O\xE2\x80\x99Neill\n");
}

TEST(StreamDecoderTest, AutoSniffWindowBoundary) {
  // A multi-byte sequence straddling the end of the sniff window must not
  // be mistaken for invalid UTF-8.
  std::string in(StreamDecoder::kSniffBytes - 1, 'a');
  in += "\xE2\x80\x99tail";
  StreamDecoder d(Encoding::kAuto);
  EXPECT_EQ(Decode(d, in, 4096), in);
  EXPECT_EQ(d.resolved(), Encoding::kUtf8);
  EXPECT_FALSE(d.failed());
}

TEST(StreamDecoderTest, AutoInvalidAfterSniffWindowAsksForWindows1252) {
  std::string in(StreamDecoder::kSniffBytes + 100, 'a');
  in += "\x92";
  StreamDecoder d(Encoding::kAuto);
  std::string out = Decode(d, in, 8192);
  EXPECT_EQ(d.resolved(), Encoding::kUtf8);
  EXPECT_TRUE(d.failed());
  EXPECT_EQ(out.size(), StreamDecoder::kSniffBytes + 100);
  EXPECT_THAT(d.FailureReason(),
              ::testing::HasSubstr("re-send it declaring encoding windows-1252"));
}

TEST(StreamDecoderTest, NothingAfterFailureOrFinish) {
  StreamDecoder d(Encoding::kUtf8);
  std::string out;
  d.Feed("a\xFF", &out);
  d.Feed("more", &out);
  d.Finish(&out);
  EXPECT_EQ(out, "a");
  StreamDecoder e(Encoding::kUtf8);
  std::string out2;
  e.Finish(&out2);
  e.Feed("late", &out2);
  EXPECT_EQ(out2, "");
}

TEST(EncodingDetectorTest, DecidesOnTheWholeFile) {
  {
    EncodingDetector d;
    d.Feed(std::string(200000, 'a'));
    d.Feed("caf\xC3");
    d.Feed("\xA9\n");
    EXPECT_EQ(d.Finish(), Encoding::kUtf8);
  }
  {
    // Far past any sniff window.
    EncodingDetector d;
    d.Feed(std::string(200000, 'a'));
    d.Feed("O\x92Neill\n");
    d.Feed("more");
    EXPECT_EQ(d.Finish(), Encoding::kWindows1252);
  }
  {
    EncodingDetector d;
    d.Feed("ab\xE2\x80");  // truncated at end of file
    EXPECT_EQ(d.Finish(), Encoding::kWindows1252);
  }
  {
    EncodingDetector d;
    d.Feed("\xEF\xBB\xBFURN\n");
    EXPECT_EQ(d.Finish(), Encoding::kUtf8);
  }
  {
    EncodingDetector d;
    EXPECT_EQ(d.Finish(), Encoding::kUtf8);  // empty file
  }
}

}  // namespace
}  // namespace datalab::csv
