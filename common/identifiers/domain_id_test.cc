#include "common/identifiers/domain_id.h"

#include <string>

#include "gtest/gtest.h"

namespace datalab::identifiers {
namespace {

TEST(DomainId, LettersDigitsAndHyphensStartingWithALetter) {
  for (const std::string& ok : {std::string("pupil"), std::string("staff-ids"),
                                std::string("pupilround2"), std::string("a"),
                                std::string(63, 'a')}) {
    EXPECT_TRUE(ValidateDomainId(ok).ok()) << ok;
  }
  for (const std::string& bad :
       {std::string(""), std::string(64, 'a'), std::string("staff_ids"), std::string("Pupil"),
        std::string("2pupil"), std::string("-pupil"), std::string("pupil/x"),
        std::string("pupil id")}) {
    const absl::Status s = ValidateDomainId(bad);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    if (!bad.empty()) EXPECT_EQ(std::string(s.message()).find(bad), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace datalab::identifiers
