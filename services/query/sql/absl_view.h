// Internal to datalab::sql. Debian's Abseil 20220623 is built with its own
// absl::string_view, which does not convert from std::string_view; the
// module's API uses std::string_view, so calls into Abseil go through this.
#ifndef DATALAB_SERVICES_QUERY_SQL_ABSL_VIEW_H_
#define DATALAB_SERVICES_QUERY_SQL_ABSL_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace datalab::sql {

inline absl::string_view AbslView(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace datalab::sql

#endif  // DATALAB_SERVICES_QUERY_SQL_ABSL_VIEW_H_
