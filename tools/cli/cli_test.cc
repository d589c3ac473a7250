#include "tools/cli/cli.h"

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::cli {
namespace {

using ::datalab::testing::IsOk;
using ::testing::ElementsAre;

TEST(Args, ParsesFlagsAndPositionals) {
  auto a = Args::Parse({"census", "--school", "100001", "--mode=append", "--json", "x.csv"},
                       {"json"});
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(a->GetOr("school", ""), "100001");
  EXPECT_EQ(a->GetOr("mode", ""), "append");
  EXPECT_TRUE(a->Has("json"));
  EXPECT_THAT(a->positionals(), ElementsAre("census", "x.csv"));
  EXPECT_THAT(a->Unknown({"school", "mode"}), ElementsAre("json"));
}

TEST(Args, MissingValueIsAUsageError) {
  EXPECT_FALSE(Args::Parse({"--school"}).ok());
}

TEST(Registry, LongestMatchWins) {
  Registry r;
  r.Add({"audit", "", "", nullptr});
  r.Add({"audit verify", "", "", nullptr});
  size_t consumed = 0;
  const Command* c = r.Find({"audit", "verify", "--export", "f"}, &consumed);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->name, "audit verify");
  EXPECT_EQ(consumed, 2u);
  EXPECT_EQ(r.Find({"nope"}, &consumed), nullptr);
}

TEST(ExitCodes, AreStable) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("")), 3);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("")), 4);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("")), 5);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("")), 6);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("")), 7);
}

}  // namespace
}  // namespace datalab::cli
