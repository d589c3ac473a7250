#include "tools/cli/cli.h"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_join.h"
#include "common/testing/status_matchers.h"
#include "datalab/catalogue/v1/catalogue.grpc.pb.h"
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
  auto a = Args::Parse({"--school"});
  ASSERT_FALSE(a.ok());
  EXPECT_TRUE(IsUsageError(a.status()));
}

TEST(Args, WholeNumbersOrAUsageErrorNamingTheFlag) {
  auto a = Args::Parse({"--limit", "25", "--ttl", "abc", "--big", "99999999999"});
  ASSERT_THAT(a, IsOk());
  EXPECT_EQ(*a->GetInt("limit", 100), 25);
  EXPECT_EQ(*a->GetInt("absent", 100), 100);
  auto ttl = a->GetInt("ttl", 3600);
  ASSERT_FALSE(ttl.ok());
  EXPECT_TRUE(IsUsageError(ttl.status()));
  EXPECT_EQ(ttl.status().message(), "--ttl: not a whole number");
  EXPECT_FALSE(a->GetInt("big", 0).ok());  // does not fit: refused, not wrapped
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

// A registry shaped like the real one, whose commands print their name and
// arguments.
Registry ToyRegistry() {
  Registry r;
  for (const char* name : {"health", "audit search", "audit verify", "catalogue show",
                           "catalogue schema show", "catalogue schema list"}) {
    std::string n(name);
    r.Add({n, "does " + n, "usage: datalab " + n + " [--json]",
           [n](const Args& a, std::ostream& out, std::ostream&) {
             out << "ran " << n << " json=" << a.Has("json") << " as=" << a.GetOr("as", "-");
             for (const auto& p : a.positionals()) out << " " << p;
             return kOk;
           }});
  }
  return r;
}

struct Outcome {
  int code;
  std::string out, err;
};

Outcome RunMain(const std::vector<std::string>& argv) {
  Registry r = ToyRegistry();
  std::ostringstream out, err;
  int code = Main(r, argv, out, err);
  return {code, out.str(), err.str()};
}

TEST(Main, RunsTheLongestMatchingCommandWithGlobalsAnywhereBeforeIt) {
  Outcome o = RunMain({"--as", "dpo", "audit", "verify", "--json", "f.jsonl"});
  EXPECT_EQ(o.code, kOk);
  EXPECT_EQ(o.out, "ran audit verify json=1 as=dpo f.jsonl");
  EXPECT_EQ(o.err, "");
}

TEST(Main, HelpForTheClientAndForOneCommand) {
  Outcome all = RunMain({"--help"});
  EXPECT_EQ(all.code, kOk);
  EXPECT_THAT(all.out, ::testing::HasSubstr("catalogue schema list"));
  EXPECT_EQ(RunMain({}).code, kUsage);  // nothing asked: the list, as a usage error
  Outcome one = RunMain({"catalogue", "show", "--help"});
  EXPECT_EQ(one.code, kOk);
  EXPECT_EQ(one.out, "usage: datalab catalogue show [--json]\n");
}

TEST(Main, AGroupListsItsCommands) {
  Outcome help = RunMain({"audit", "--help"});
  EXPECT_EQ(help.code, kOk);
  EXPECT_THAT(help.out, ::testing::HasSubstr("audit search"));
  EXPECT_THAT(help.out, ::testing::HasSubstr("does audit verify"));
  EXPECT_THAT(help.out, ::testing::Not(::testing::HasSubstr("catalogue")));
  EXPECT_EQ(help.err, "");
  // The deepest group the words name.
  Outcome nested = RunMain({"catalogue", "schema", "-h"});
  EXPECT_EQ(nested.code, kOk);
  EXPECT_THAT(nested.out, ::testing::HasSubstr("catalogue schema list"));
  EXPECT_THAT(nested.out, ::testing::Not(::testing::HasSubstr("catalogue show ")));
  // A bare group: the same list, as a usage error.
  Outcome bare = RunMain({"catalogue"});
  EXPECT_EQ(bare.code, kUsage);
  EXPECT_THAT(bare.out, ::testing::HasSubstr("catalogue schema show"));
}

TEST(Main, UnknownWordsAreUsageErrorsThatSayWhereToLook) {
  Outcome top = RunMain({"audits"});
  EXPECT_EQ(top.code, kUsage);
  EXPECT_EQ(top.err, "error: unknown command 'audits' (run `datalab --help` for the list)\n");
  EXPECT_EQ(top.out, "");
  Outcome sub = RunMain({"audit", "serch", "--subject", "s"});
  EXPECT_EQ(sub.code, kUsage);
  EXPECT_EQ(sub.err,
            "error: unknown command 'audit serch' (run `datalab audit --help` for the audit "
            "commands)\n");
  // Help anywhere after a group lists it.
  Outcome late_help = RunMain({"audit", "--json", "--help"});
  EXPECT_EQ(late_help.code, kOk);
  EXPECT_THAT(late_help.out, ::testing::HasSubstr("audit verify"));
  Outcome flag = RunMain({"catalogue", "schema", "--dataset", "d"});
  EXPECT_EQ(flag.code, kUsage);
  EXPECT_THAT(flag.err, ::testing::HasSubstr("'catalogue schema' needs a command"));
  Outcome bad_args = RunMain({"health", "--as"});
  EXPECT_EQ(bad_args.code, kUsage);
  EXPECT_THAT(bad_args.err, ::testing::HasSubstr("see `datalab health --help`"));
}

TEST(Fail, ACommandLineMistakeIsAUsageErrorThatPointsAtHelp) {
  std::ostringstream err;
  EXPECT_EQ(Fail(err, UsageError("--dataset and --school are required")), kUsage);
  EXPECT_EQ(err.str(),
            "error: --dataset and --school are required (add --help to the command for its "
            "options)\n");
  std::ostringstream refused;
  EXPECT_EQ(Fail(refused, absl::InvalidArgumentError("schema: column 'x' has no type")), kInvalid);
  EXPECT_EQ(refused.str(), "error: schema: column 'x' has no type\n");
  // A local file the CLI cannot write is not the lab being down.
  std::ostringstream local;
  EXPECT_EQ(Fail(local, absl::UnknownError("cannot write out.csv")), kError);
  EXPECT_EQ(local.str(), "error: cannot write out.csv\n");
}

// The session connects on the first call: a command's own argument checks
// come first, and a lab that is not configured is reported only when needed.
TEST(GatewaySession, ArgumentsAreCheckedBeforeTheLabIsNeeded) {
  using Session = GatewaySession<catalogue::v1::CatalogueService>;
  bool called = false;
  auto run = WithSession<catalogue::v1::CatalogueService>(
      [&](Session& s) -> absl::StatusOr<int> {
        if (!s.args.Has("dataset")) return UsageError("--dataset is required");
        catalogue::v1::GetDatasetRequest req;
        catalogue::v1::Dataset resp;
        called = true;
        absl::Status st = s.Call(&Session::Client::GetDataset, req, &resp);
        if (!st.ok()) return st;
        return kOk;
      });
  auto no_lab = Args::Parse({"--env", "/nonexistent/lab.env", "--gateway", ""});
  ASSERT_THAT(no_lab, IsOk());
  std::ostringstream out, err;
  EXPECT_EQ(run(*no_lab, out, err), kUsage);
  EXPECT_THAT(err.str(), ::testing::HasSubstr("--dataset is required"));
  EXPECT_FALSE(called);
  auto with_dataset =
      Args::Parse({"--env", "/nonexistent/lab.env", "--gateway", "", "--dataset", "census"});
  ASSERT_THAT(with_dataset, IsOk());
  std::ostringstream out2, err2;
  EXPECT_NE(run(*with_dataset, out2, err2), kOk);
  EXPECT_TRUE(called);
  EXPECT_THAT(err2.str(), ::testing::HasSubstr("no gateway address"));
}

// The client's own commands, with no lab anywhere: every mistake in the
// command line is a usage error found before the lab is looked for.
Outcome RunReal(std::vector<std::string> argv) {
  Registry r;
  RegisterAllCommands(r);
  for (const char* f : {"--env", "/nonexistent/lab.env", "--gateway", ""}) argv.push_back(f);
  std::ostringstream out, err;
  int code = Main(r, argv, out, err);
  return {code, out.str(), err.str()};
}

TEST(Commands, ArgumentMistakesAreUsageErrorsBeforeTheLabIsNeeded) {
  struct Case {
    std::vector<std::string> argv;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"audit", "search", "--limit", "0"}, "--limit must be at least 1"},
      {{"audit", "search", "--limit", "abc"}, "--limit: not a whole number"},
      {{"audit", "search", "--decision", "maybe"}, "--decision must be allow or deny"},
      {{"audit", "report", "--since", "yesterday"}, "--since must be a date"},
      {{"audit", "export", "--format", "xml", "--out", "x"}, "--format must be"},
      {{"audit", "export"}, "--out FILE is required"},
      {{"query", "SELECT 1"}, "--project is required"},
      {{"query", "--project", "p"}, "give the SQL as an argument or with --file"},
      {{"catalogue", "show"}, "missing DATASET"},
      {{"domains", "create"}, "--domain is required"},
      {{"domains", "create", "--domain", "d", "--kind", "bogus"}, "--kind must be"},
      {{"upload", "x.csv"}, "--dataset and --school are required"},
      {{"upload", "x.csv", "--retries", "few"}, "--retries: not a whole number"},
      {{"upload", "x.csv", "--retries", "-1"}, "--retries must be 0 or more"},
      {{"health", "--timeout-ms", "1e3"}, "--timeout-ms: not a whole number"},
      {{"--as", "bad name!", "catalogue", "list"}, "--as takes a simple name"},
      {{"audit", "search", "--role", "wizard"}, "--role: unknown role"},
      {{"catalogue", "list", "--topic", "astrology"}, "--topic: unknown value 'astrology'"},
      {{"catalogue", "list", "--page-size", "lots"}, "--page-size: not a whole number"},
      {{"users", "create", "u", "--roles", "wizard"}, "--roles: unknown role 'wizard'"},
      {{"users", "update", "u", "--active", "maybe"}, "--active: true or false"},
      {{"users", "update", "u"}, "nothing to update"},
      {{"dev", "init-idp"}, "--dir and --issuer are required"},
      {{"reid", "list", "--state", "pondering"}, "unknown --state"},
      {{"upload", "x.csv", "--wait-timeout", "0"}, "--wait-timeout must be a positive number"},
      {{"upload", "x.csv", "--dataset", "d", "--school", "1", "--policy", "ignore"},
       "--policy must be reject or quarantine"},
      {{"upload", "x.csv", "--dataset", "d", "--school", "1", "--mode", "merge"},
       "--mode must be append or replace"},
      {{"jobs", "list", "--page-size", "0"}, "--page-size must be at least 1"},
      {{"jobs", "list", "--page-size", "many"}, "--page-size: not a whole number"},
      {{"jobs", "show"}, "usage: datalab jobs show JOB"},
      {{"jobs", "cancel"}, "usage: datalab jobs cancel JOB"},
      {{"report"}, "usage: datalab report JOB"},
      {{"history"}, "--project is required"},
      {{"release", "show"}, "give one release name"},
      {{"release", "export"}, "give one release name"},
  };
  for (const Case& c : cases) {
    Outcome o = RunReal(c.argv);
    EXPECT_EQ(o.code, kUsage) << absl::StrJoin(c.argv, " ") << ": " << o.err;
    EXPECT_THAT(o.err, ::testing::HasSubstr(c.message)) << absl::StrJoin(c.argv, " ");
    EXPECT_THAT(o.err, ::testing::Not(::testing::HasSubstr("gateway"))) << o.err;
  }
}

TEST(Commands, LocalSetUpMistakesAreUsageErrors) {
  // A token that is not a JWT is refused by the CLI itself, before it is stored.
  Outcome login = RunReal({"login", "--token", "not-a-token"});
  EXPECT_EQ(login.code, kUsage) << login.err;
  EXPECT_THAT(login.err, ::testing::HasSubstr("that is not a JWT"));
  // --as picks a dev persona: there is none without a dev lab.
  Outcome as = RunReal({"--as", "researcher", "catalogue", "list"});
  EXPECT_EQ(as.code, kUsage) << as.err;
  EXPECT_THAT(as.err, ::testing::HasSubstr("--as needs a dev lab"));
}

TEST(Commands, AnExportWithNoLabLeavesNoFileBehind) {
  const std::string path = ::testing::TempDir() + "/cli_test_export.jsonl";
  std::remove(path.c_str());
  Outcome o = RunReal({"audit", "export", "--out", path});
  EXPECT_EQ(o.code, kUsage);  // a missing address is how it was run, not a refusal
  EXPECT_THAT(o.err, ::testing::HasSubstr("no gateway address"));
  EXPECT_FALSE(std::ifstream(path).good());
}

TEST(ExitCodes, AreStable) {
  EXPECT_EQ(ExitCodeFor(absl::OkStatus()), 0);
  EXPECT_EQ(ExitCodeFor(absl::UnauthenticatedError("")), 3);
  EXPECT_EQ(ExitCodeFor(absl::PermissionDeniedError("")), 4);
  EXPECT_EQ(ExitCodeFor(absl::NotFoundError("")), 5);
  EXPECT_EQ(ExitCodeFor(absl::UnavailableError("")), 6);
  EXPECT_EQ(ExitCodeFor(absl::InvalidArgumentError("")), 7);  // the lab refused it
  EXPECT_EQ(ExitCodeFor(UsageError("--project is required")), 2);
  EXPECT_TRUE(IsUsageError(UsageError("x")));
  EXPECT_FALSE(IsUsageError(absl::InvalidArgumentError("x")));
}

}  // namespace
}  // namespace datalab::cli
