// gMock matchers for absl::Status and absl::StatusOr<T>, shaped like the
// ones in newer Abseil (absl/status/status_matchers.h) so tests can move to
// them unchanged:
//   EXPECT_THAT(s, IsOk());
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound));
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kNotFound, HasSubstr("x")));
//   EXPECT_THAT(so, IsOkAndHolds(42));
#ifndef DATALAB_COMMON_TESTING_STATUS_MATCHERS_H_
#define DATALAB_COMMON_TESTING_STATUS_MATCHERS_H_

#include <ostream>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"

namespace datalab::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER(IsOk, "is OK") {
  const absl::Status& s = GetStatus(arg);
  if (!s.ok()) *result_listener << "status is " << s;
  return s.ok();
}

MATCHER_P(IsOkAndHolds, m, "is OK and holds a matching value") {
  if (!arg.ok()) {
    *result_listener << "status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(m, *arg, result_listener);
}

MATCHER_P(StatusIs, code, "has status code " + ::testing::PrintToString(code)) {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code;
}

MATCHER_P2(StatusIs, code, msg, "has status code and a matching message") {
  const absl::Status& s = GetStatus(arg);
  *result_listener << "status is " << s;
  return s.code() == code &&
         ::testing::ExplainMatchResult(::testing::MatcherCast<std::string>(msg),
                                       std::string(s.message()),
                                       result_listener);
}

}  // namespace datalab::testing

#endif  // DATALAB_COMMON_TESTING_STATUS_MATCHERS_H_
