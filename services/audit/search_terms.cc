#include "services/audit/search_terms.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace datalab::audit {
namespace {

std::string Term(std::string_view tag, std::string_view value) {
  std::string t;
  t.reserve(tag.size() + value.size());
  t.append(tag);
  for (size_t nul; (nul = value.find('\0')) != std::string_view::npos;) {
    t.append(value.substr(0, nul)).append("\xEF\xBF\xBD");
    value.remove_prefix(nul + 1);
  }
  t.append(value);
  return t;
}

}  // namespace

std::string SubjectTerm(std::string_view subject) { return Term("s:", subject); }
std::string ProjectTerm(std::string_view project) { return Term("p:", project); }
std::string DatasetTerm(std::string_view dataset_id) { return Term("d:", dataset_id); }
std::string RoleTerm(int role) { return absl::StrCat("r:", role); }

std::string_view DatasetOfResource(std::string_view resource) {
  constexpr std::string_view kPrefix = "datasets/";
  if (resource.substr(0, kPrefix.size()) != kPrefix) return {};
  std::string_view rest = resource.substr(kPrefix.size());
  return rest.substr(0, rest.find('/'));
}

std::vector<std::string> SearchTerms(const common::v1::AuditEvent& e) {
  std::vector<std::string> terms;
  terms.reserve(2 + e.resources_size() + e.actor().roles_size());
  if (!e.actor().subject().empty()) terms.push_back(SubjectTerm(e.actor().subject()));
  if (!e.project().empty()) terms.push_back(ProjectTerm(e.project()));
  for (const std::string& r : e.resources()) {
    std::string_view d = DatasetOfResource(r);
    if (!d.empty()) terms.push_back(DatasetTerm(d));
  }
  for (int role : e.actor().roles()) terms.push_back(RoleTerm(role));
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  return terms;
}

}  // namespace datalab::audit
