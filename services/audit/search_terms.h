// The secondary-index terms of an audit event, shared by the sequencer (which
// writes them) and search / retention (which read and delete them).
//
//   "s:" subject            actor subject
//   "p:" project            project resource name
//   "d:" dataset            dataset id of any resource "datasets/{d}[/...]"
//   "r:" role number        each actor role
//
// Terms never contain NUL (a NUL in a value is replaced by U+FFFD's bytes),
// since the stores use NUL to separate a term from the index.
// Pure functions; thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_SEARCH_TERMS_H_
#define DATALAB_SERVICES_AUDIT_SEARCH_TERMS_H_

#include <string>
#include <string_view>
#include <vector>

#include "datalab/common/v1/audit_event.pb.h"

namespace datalab::audit {

std::string SubjectTerm(std::string_view subject);
std::string ProjectTerm(std::string_view project);
std::string DatasetTerm(std::string_view dataset_id);
std::string RoleTerm(int role);

// Dataset id of "datasets/{d}" or "datasets/{d}/...", empty otherwise; a
// view into `resource`.
std::string_view DatasetOfResource(std::string_view resource);

// Every term of `event`, without duplicates.
std::vector<std::string> SearchTerms(const common::v1::AuditEvent& event);

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_SEARCH_TERMS_H_
