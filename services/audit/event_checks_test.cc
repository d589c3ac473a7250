// The per-event checks and search terms, on their own: the scan that refuses
// identifier-shaped values against a plain tokenising reference, and the
// term spellings the index and its readers share.
#include "services/audit/event_checks.h"

#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/ascii.h"
#include "gtest/gtest.h"
#include "services/audit/search_terms.h"

namespace datalab::audit {
namespace {

// The definition, spelled out: split into maximal runs of ASCII letters and
// digits; a run is UPN-shaped if it is 13 long, a letter, 11 digits, then a
// letter or digit.
bool ReferenceContainsUpnShapedToken(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && !absl::ascii_isalnum(static_cast<unsigned char>(text[i]))) ++i;
    const size_t start = i;
    while (i < text.size() && absl::ascii_isalnum(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view t = text.substr(start, i - start);
    if (t.size() != 13 || !absl::ascii_isalpha(static_cast<unsigned char>(t[0]))) continue;
    bool digits = true;
    for (size_t k = 1; k < 12; ++k) digits &= absl::ascii_isdigit(static_cast<unsigned char>(t[k])) != 0;
    if (digits) return true;
  }
  return false;
}

TEST(ContainsUpnShapedToken, KnownCases) {
  EXPECT_TRUE(ContainsUpnShapedToken("A123456789012"));
  EXPECT_TRUE(ContainsUpnShapedToken("pupil A123456789012 absent"));
  EXPECT_TRUE(ContainsUpnShapedToken("a12345678901B"));  // temporary UPN
  EXPECT_TRUE(ContainsUpnShapedToken("pupils/H801200001001"));
  EXPECT_TRUE(ContainsUpnShapedToken("x,A123456789012."));
  EXPECT_TRUE(ContainsUpnShapedToken("\xC3\xA9" "A123456789012\xC3\xA9"));  // non-ASCII separates
  EXPECT_FALSE(ContainsUpnShapedToken(""));
  EXPECT_FALSE(ContainsUpnShapedToken("A1234567890123"));   // 14 long
  EXPECT_FALSE(ContainsUpnShapedToken("BA123456789012"));   // 14 long
  EXPECT_FALSE(ContainsUpnShapedToken("A12345678901"));     // 12 long
  EXPECT_FALSE(ContainsUpnShapedToken("1123456789012"));    // starts with a digit
  EXPECT_FALSE(ContainsUpnShapedToken("A1234567890B2"));    // a letter among the digits
  EXPECT_FALSE(ContainsUpnShapedToken("A123456789012B"));
  EXPECT_FALSE(ContainsUpnShapedToken("019af3c2d4e5a1b2c3d4e5f6a7b8c9d0"));  // an event id
}

TEST(ContainsUpnShapedToken, AgreesWithTheTokenisingReference) {
  // Strings over an alphabet dense in the characters that matter: letters,
  // digits, separators and a non-ASCII byte.
  const std::string alphabet = "Az0123456789012345678901234567890123456789 -/\x80";
  std::mt19937_64 rng(20261206);
  int shaped = 0;
  for (int n = 0; n < 200000; ++n) {
    std::string s(rng() % 40, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    const bool expected = ReferenceContainsUpnShapedToken(s);
    ASSERT_EQ(ContainsUpnShapedToken(s), expected) << s;
    shaped += expected;
  }
  // Both answers came up often enough to compare.
  EXPECT_GT(shaped, 100);
  EXPECT_LT(shaped, 199900);
}

TEST(CheckEvent, RefusesEachBadFieldByName) {
  auto good = [] {
    common::v1::AuditEvent e;
    e.set_event_id("e1");
    e.set_reason("fine");
    return e;
  };
  ASSERT_TRUE(CheckEvent(good()).ok());
  struct Case {
    std::function<void(common::v1::AuditEvent&)> mutate;
    std::string message;
  };
  const std::vector<Case> cases = {
      {[](auto& e) { e.clear_event_id(); }, "event_id is required"},
      {[](auto& e) { e.set_event_id(std::string(kMaxEventIdBytes + 1, 'a')); },
       "event_id is longer than 128 bytes"},
      {[](auto& e) { e.set_reason(std::string(kMaxEventBytes, 'r')); },
       "event is larger than 65536 bytes"},
      {[](auto& e) { (*e.mutable_details())["A123456789012"] = "x"; }, "details (a key)"},
      {[](auto& e) { e.mutable_release()->add_dataset_versions("datasets/x/A123456789012"); },
       "release.dataset_versions[0]"},
      {[](auto& e) { e.mutable_release()->set_output_sha256("zz"); },
       "field release.output_sha256 is not hex"},
      {[](auto& e) { e.mutable_release()->add_dataset_version_hashes("not hex"); },
       "field release.dataset_version_hashes[0] is not hex"},
  };
  for (const Case& c : cases) {
    common::v1::AuditEvent e = good();
    c.mutate(e);
    const absl::Status s = CheckEvent(e);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.message;
    EXPECT_NE(std::string(s.message()).find(c.message), std::string::npos) << s.message();
  }
  // At the limits: accepted.
  common::v1::AuditEvent e = good();
  e.set_event_id(std::string(kMaxEventIdBytes, 'a'));
  EXPECT_TRUE(CheckEvent(e).ok());
}

TEST(SearchTerms, SpellingsAndNulReplacement) {
  EXPECT_EQ(SubjectTerm("users/a"), "s:users/a");
  EXPECT_EQ(SubjectTerm(std::string_view("a\0b\0", 4)), "s:a\xEF\xBF\xBD" "b\xEF\xBF\xBD");
  EXPECT_EQ(ProjectTerm(std::string_view("\0", 1)), "p:\xEF\xBF\xBD");
  EXPECT_EQ(DatasetOfResource("datasets/ks4/versions/3"), "ks4");
  EXPECT_EQ(DatasetOfResource("datasets/ks4"), "ks4");
  EXPECT_EQ(DatasetOfResource("projects/p"), "");
  common::v1::AuditEvent e;
  e.mutable_actor()->set_subject("users/a");
  e.mutable_actor()->add_roles(static_cast<common::v1::Role>(3));
  e.mutable_actor()->add_roles(static_cast<common::v1::Role>(3));
  e.set_project("projects/p");
  e.add_resources("datasets/ks4/versions/1");
  e.add_resources("datasets/ks4");
  e.add_resources("projects/p");
  EXPECT_EQ(SearchTerms(e), (std::vector<std::string>{"d:ks4", "p:projects/p", "r:3", "s:users/a"}));
}

}  // namespace
}  // namespace datalab::audit
