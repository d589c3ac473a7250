// Status propagation helpers in the style of Google's differential-privacy
// library: RETURN_IF_ERROR and ASSIGN_OR_RETURN for absl::Status/StatusOr.
#ifndef DATALAB_COMMON_STATUS_STATUS_MACROS_H_
#define DATALAB_COMMON_STATUS_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define DATALAB_STATUS_CONCAT_INNER_(a, b) a##b
#define DATALAB_STATUS_CONCAT_(a, b) DATALAB_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the current function
// when it is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status datalab_status_ = (expr);           \
    if (!datalab_status_.ok()) return datalab_status_; \
  } while (0)

// ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>); on
// error returns its status, otherwise moves the value into `lhs`, which may be
// a declaration (`auto x`) or an existing variable.
#define ASSIGN_OR_RETURN(lhs, expr) \
  DATALAB_ASSIGN_OR_RETURN_IMPL_(   \
      DATALAB_STATUS_CONCAT_(datalab_statusor_, __LINE__), lhs, expr)

#define DATALAB_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

#endif  // DATALAB_COMMON_STATUS_STATUS_MACROS_H_
