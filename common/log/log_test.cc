#include "common/log/log.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::log {
namespace {

using ::testing::HasSubstr;

TEST(Log, FormatsOneJsonObjectWithEscapedFields) {
  SetServiceName("audit");
  std::string line = Format(Level::kWarning, "bad \"input\"\n",
                            {{"field", "a\\b"}, {"n", "3"}});
  EXPECT_THAT(line, HasSubstr("\"level\":\"warning\""));
  EXPECT_THAT(line, HasSubstr("\"svc\":\"audit\""));
  EXPECT_THAT(line, HasSubstr("\"msg\":\"bad \\\"input\\\"\\n\""));
  EXPECT_THAT(line, HasSubstr("\"field\":\"a\\\\b\""));
  EXPECT_EQ(line.front(), '{');
  EXPECT_EQ(line.back(), '}');
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(Log, EscapesControlCharacters) {
  EXPECT_EQ(JsonEscape(std::string("\x01x", 2)), "\\u0001x");
}

}  // namespace
}  // namespace datalab::log
