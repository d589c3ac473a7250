// The ingestion side of pseudonymisation's packed answers: what is taken,
// and every answer that does not fit the request refused whole.
#include "services/ingestion/clients.h"

#include <string>

#include "common/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace datalab::ingestion {
namespace {

using ::datalab::testing::IsOk;
using ::datalab::testing::StatusIs;
namespace pv1 = ::datalab::pseudonymisation::v1;

pv1::PseudonymiseResponse Packed(const std::string& data) {
  pv1::PseudonymiseResponse r;
  r.set_packed_pseudonyms(data);
  return r;
}

TEST(PackedAnswer, CallsAddUpAndErrorsKeepTheirBatchIndex) {
  PseudonymBatch out;
  auto first = Packed("aaabbb");
  ASSERT_THAT(AppendPackedAnswer(first, 0, 2, &out), IsOk());
  auto second = Packed("ccc---ddd");
  auto* e = second.add_errors();
  e->set_index(1);
  e->set_error("item 1: not a UPN");
  ASSERT_THAT(AppendPackedAnswer(second, 2, 3, &out), IsOk());
  ASSERT_THAT(SortPackedErrors(&out), IsOk());
  EXPECT_EQ(out.width, 3u);
  EXPECT_EQ(out.data, "aaabbbccc---ddd");
  ASSERT_EQ(out.errors.size(), 1u);
  EXPECT_EQ(out.errors[0].first, 3u);
  EXPECT_EQ(out.errors[0].second, "item 1: not a UPN");
}

TEST(PackedAnswer, AnswersThatDoNotFitAreRefusedWhole) {
  PseudonymBatch out;
  // Not a whole number of pseudonyms.
  EXPECT_THAT(AppendPackedAnswer(Packed("aaabb"), 0, 2, &out),
              StatusIs(absl::StatusCode::kInternal));
  // None at all, as a pseudonymisation service older than packed requests
  // answers (it sees no identifiers): said so, with what to do.
  EXPECT_THAT(AppendPackedAnswer(Packed(""), 0, 2, &out),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       ::testing::HasSubstr("upgrade pseudonymisation first")));
  // The unpacked form answers a request that asked for packing.
  pv1::PseudonymiseResponse unpacked = Packed("aaabbb");
  unpacked.add_results()->set_pseudonym("aaa");
  EXPECT_THAT(AppendPackedAnswer(unpacked, 0, 2, &out), StatusIs(absl::StatusCode::kInternal));
  // An error index outside the call.
  pv1::PseudonymiseResponse outside = Packed("aaabbb");
  outside.add_errors()->set_index(2);
  EXPECT_THAT(AppendPackedAnswer(outside, 0, 2, &out), StatusIs(absl::StatusCode::kInternal));
  outside.mutable_errors(0)->set_index(-1);
  EXPECT_THAT(AppendPackedAnswer(outside, 0, 2, &out), StatusIs(absl::StatusCode::kInternal));
  EXPECT_TRUE(out.data.empty());
  EXPECT_TRUE(out.errors.empty());
  // A width unlike the earlier calls'.
  ASSERT_THAT(AppendPackedAnswer(Packed("aaabbb"), 0, 2, &out), IsOk());
  EXPECT_THAT(AppendPackedAnswer(Packed("cccc"), 2, 1, &out),
              StatusIs(absl::StatusCode::kInternal));
  EXPECT_EQ(out.data, "aaabbb");
  // One identifier with two errors.
  pv1::PseudonymiseResponse twice = Packed("------");
  twice.add_errors()->set_index(1);
  twice.add_errors()->set_index(1);
  ASSERT_THAT(AppendPackedAnswer(twice, 2, 2, &out), IsOk());
  EXPECT_THAT(SortPackedErrors(&out), StatusIs(absl::StatusCode::kInternal));
}

}  // namespace
}  // namespace datalab::ingestion
