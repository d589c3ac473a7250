#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/testing/status_matchers.h"
#include "common/testing/temp_dir.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/synth/csv_file.h"
#include "tools/synth/rng.h"

namespace datalab::synth {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(RngTest, EngineIsTheStandardMt19937_64) {
  // The C++ standard fixes mt19937_64's first output for the default seed.
  Rng rng(5489);
  EXPECT_EQ(rng.Next(), 14514284786278117030ULL);
}

TEST(RngTest, SameSeedSameStreamAndStreamsDiffer) {
  Rng a(MixSeed(42, 1)), b(MixSeed(42, 1)), c(MixSeed(42, 2));
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs = differs || x != c.Next();
  }
  EXPECT_TRUE(differs);
  EXPECT_NE(MixSeed(1, 0), MixSeed(2, 0));
}

TEST(RngTest, DistributionsStayInRange) {
  Rng rng(7);
  std::vector<int> counts(5, 0);
  double sum = 0, sumsq = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t b = rng.Below(5);
    ASSERT_LT(b, 5u);
    ++counts[b];
    const int v = rng.Int(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    const double u = rng.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    const double z = rng.Normal();
    sum += z;
    sumsq += z * z;
  }
  for (int c : counts) EXPECT_NEAR(c, 20000, 1000);
  EXPECT_NEAR(sum / 100000, 0.0, 0.02);
  EXPECT_NEAR(sumsq / 100000, 1.0, 0.03);
}

TEST(RngTest, PickFollowsWeights) {
  Rng rng(9);
  const std::vector<double> cum = Cumulative({1.0, 0.0, 3.0});
  std::vector<int> counts(3, 0);
  for (int i = 0; i < 40000; ++i) ++counts[rng.Pick(cum)];
  EXPECT_EQ(counts[1], 0);
  EXPECT_NEAR(counts[0], 10000, 600);
  EXPECT_NEAR(counts[2], 30000, 600);
}

TEST(RngTest, PoissonMean) {
  Rng rng(11);
  double sum = 0;
  for (int i = 0; i < 50000; ++i) sum += rng.Poisson(1.6);
  EXPECT_NEAR(sum / 50000, 1.6, 0.03);
}

TEST(CsvFileTest, WritesHeaderRowsAndQuotesOnlyWhenNeeded) {
  testing::TempDir dir;
  const std::string path = dir.Sub("a.csv");
  auto f = CsvFile::Create(path, 16);  // tiny buffer: exercises flushing
  ASSERT_THAT(f, IsOk());
  (*f)->Header({"a", "b", "c"});
  for (int i = 0; i < 3; ++i) {
    (*f)->Field("plain");
    (*f)->Field("has,comma");
    (*f)->Field(int64_t{-42});
    (*f)->EndRow();
  }
  (*f)->Field("say \"hi\"");
  (*f)->Field("two\nlines");
  (*f)->Field(3.14159, 2);
  (*f)->EndRow();
  (*f)->EmptyField();
  (*f)->EmptyField();
  (*f)->Field(7);
  (*f)->EndRow();
  (*f)->Field(-0.001, 2);
  (*f)->Field(-0.005, 1);
  (*f)->Field(-1.25, 1);
  (*f)->EndRow();
  EXPECT_EQ((*f)->rows(), 6);
  ASSERT_THAT((*f)->Close(), IsOk());
  EXPECT_EQ(Slurp(path),
            "a,b,c\n"
            "plain,\"has,comma\",-42\n"
            "plain,\"has,comma\",-42\n"
            "plain,\"has,comma\",-42\n"
            "\"say \"\"hi\"\"\",\"two\nlines\",3.14\n"
            ",,7\n"
            "0.00,0.0,-1.2\n");
}

TEST(CsvFileTest, CreateFailsForMissingDirectory) {
  testing::TempDir dir;
  EXPECT_THAT(CsvFile::Create(dir.Sub("no/such/dir/a.csv")),
              StatusIs(absl::StatusCode::kInternal));
}

TEST(CsvFileTest, WriteErrorsSurfaceAtClose) {
  // /dev/full accepts the open and fails every write with ENOSPC.
  std::ifstream probe("/dev/full");
  if (!probe.good()) GTEST_SKIP() << "/dev/full not available";
  auto f = CsvFile::Create("/dev/full", 16);
  ASSERT_THAT(f, IsOk());
  for (int i = 0; i < 10; ++i) {
    (*f)->Field("0123456789");
    (*f)->EndRow();
  }
  EXPECT_THAT((*f)->Close(), StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace datalab::synth
