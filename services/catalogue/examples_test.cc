// The example files under services/catalogue/examples load through the same
// YAML -> JSON -> protobuf path as the CLI and pass the catalogue's rules;
// and the loader itself: quoting, booleans, unknown fields, syntax errors.
#include <cstdlib>
#include <string>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "common/testing/test_pki.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/catalogue/catalogue.h"
#include "services/catalogue/memory_catalogue_store.h"
#include "services/catalogue/message_files.h"

namespace datalab::catalogue {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
using ::testing::HasSubstr;
namespace c = ::datalab::common::v1;

std::string ExamplesDir() {
  const char* src = std::getenv("DATALAB_SOURCE_DIR");
  return std::string(src && *src ? src : "/work/main") + "/services/catalogue/examples/";
}

TEST(MessageFilesTest, YamlScalarsBecomeJson) {
  auto json = YamlToJson("a: true\nb: '01'\nc: 10\nd: [x, \"true\"]\ne: ~\n");
  ASSERT_THAT(json, IsOk());
  EXPECT_EQ(*json, R"({"a":true,"b":"01","c":"10","d":["x","true"],"e":null})");
}

TEST(MessageFilesTest, SyntaxErrorsNameTheLine) {
  EXPECT_THAT(YamlToJson("a: [1, 2\nb: c\n"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("YAML line")));
}

TEST(MessageFilesTest, UnknownFieldsAndEnumsAreErrors) {
  cv1::Schema s;
  EXPECT_THAT(ParseMessage("columns:\n  - {name: a, typo: STRING}\n", true, &s),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseMessage("columns:\n  - {name: a, type: FLOAT}\n", true, &s),
              StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_THAT(ParseMessage(R"({"columns":[{"name":"a","type":"CODE","has_range":true}]})", false, &s),
              IsOk());
  EXPECT_EQ(s.columns(0).type(), c::CODE);
  EXPECT_TRUE(s.columns(0).has_range());
}

TEST(MessageFilesTest, LoadFileByExtension) {
  testing::TempDir dir;
  testing::WriteFileOrDie(dir.Sub("s.json"), R"({"version": 3})");
  cv1::Schema s;
  ASSERT_THAT(LoadMessageFile(dir.Sub("s.json"), &s), IsOk());
  EXPECT_EQ(s.version(), 3);
  EXPECT_THAT(LoadMessageFile(dir.Sub("missing.yaml"), &s), StatusIs(absl::StatusCode::kNotFound));
}

TEST(ExamplesTest, DatasetsAndProjectPassTheRules) {
  MemoryCatalogueStore store;
  audit_client::FakeAuditClient audit;
  FakeClock clock(1'725'000'000'000);  // 2024-08-30
  auto cat = Catalogue::Create({&store, &audit, &clock});
  ASSERT_THAT(cat, IsOk());
  Principal steward;
  steward.set_kind(Principal::USER);
  steward.set_subject("users/steward");
  steward.add_roles(c::DATA_STEWARD);
  for (const char* file : {"census.yaml", "attendance.yaml", "ks2.yaml", "ks4.yaml",
                           "suspensions.yaml"}) {
    cv1::CreateDatasetRequest r;
    ASSERT_THAT(LoadMessageFile(ExamplesDir() + file, &r), IsOk()) << file;
    EXPECT_THAT((*cat)->CreateDataset(steward, r), IsOk()) << file;
  }
  auto census = (*cat)->GetSchema("datasets/census/schemas/1");
  ASSERT_THAT(census, IsOk());
  std::vector<std::string> names;
  for (const auto& col : census->columns()) names.push_back(col.name());
  EXPECT_EQ(names, (std::vector<std::string>{"upn", "forename", "surname", "date_of_birth",
                                             "gender", "postcode", "nc_year", "fsm",
                                             "disadvantaged", "sen_provision", "eal", "ethnicity",
                                             "term"}));
  Principal admin;
  admin.set_kind(Principal::USER);
  admin.set_subject("users/admin");
  admin.add_roles(c::ADMIN);
  cv1::CreateUserRequest u;
  u.set_user_id("lead");
  u.mutable_user()->set_display_name("Lead");
  u.mutable_user()->set_active(true);
  ASSERT_THAT((*cat)->CreateUser(admin, u), IsOk());
  Principal lead;
  lead.set_kind(Principal::USER);
  lead.set_subject("users/lead");
  lead.add_roles(c::RESEARCHER);
  cv1::CreateProjectRequest p;
  ASSERT_THAT(LoadMessageFile(ExamplesDir() + "project_disadvantage_gap.yaml", &p), IsOk());
  EXPECT_THAT((*cat)->CreateProject(lead, p), IsOk());
}

}  // namespace
}  // namespace datalab::catalogue
