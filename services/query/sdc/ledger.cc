#include "services/query/sdc/ledger.h"

#include "absl/strings/str_cat.h"

namespace datalab::sdc {

absl::Status InMemoryReleaseLedger::ForEachSketchedInCardinalityRange(
    std::string_view project, uint64_t min_cardinality,
    uint64_t max_cardinality,
    absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const {
  absl::MutexLock lock(&mu_);
  auto it = by_project_.find(project);
  if (it != by_project_.end()) {
    it->second.index.ForEachInCardinalityRange(min_cardinality, max_cardinality, visit);
  }
  return absl::OkStatus();
}

absl::Status InMemoryReleaseLedger::ForEachNear(
    std::string_view project, const SubjectSet& a, uint64_t max_difference,
    absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const {
  absl::MutexLock lock(&mu_);
  auto it = by_project_.find(project);
  if (it != by_project_.end()) it->second.index.ForEachNear(a, max_difference, visit);
  return absl::OkStatus();
}

absl::Status InMemoryReleaseLedger::ForEachWithSmallest(
    std::string_view project, uint32_t smallest_id, uint64_t cardinality,
    absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const {
  absl::MutexLock lock(&mu_);
  auto it = by_project_.find(project);
  if (it != by_project_.end()) it->second.index.ForEachWithSmallest(smallest_id, cardinality, visit);
  return absl::OkStatus();
}

absl::Status InMemoryReleaseLedger::Record(
    std::string_view project, std::string_view /*release_id*/,
    const std::vector<SubjectSet>& populations) {
  if (project.empty()) {
    return absl::InvalidArgumentError("release ledger: project is empty");
  }
  absl::MutexLock lock(&mu_);
  Held& held = by_project_[std::string(project)];
  for (const SubjectSet& p : populations) {
    if (p.IsEmpty()) continue;
    const PopulationSketch sketch = PopulationSketch::Of(p);
    if (held.index.Contains(p, sketch)) continue;
    held.sets.push_back(p);
    held.index.Add(&held.sets.back(), sketch);
  }
  return absl::OkStatus();
}

size_t InMemoryReleaseLedger::Size(std::string_view project) const {
  absl::MutexLock lock(&mu_);
  auto it = by_project_.find(project);
  return it == by_project_.end() ? 0 : it->second.index.size();
}

void InMemoryEpsilonLedger::SetBudget(std::string_view project,
                                      int64_t total_micros) {
  absl::MutexLock lock(&mu_);
  budgets_[std::string(project)].total_micros = total_micros;
}

absl::StatusOr<InMemoryEpsilonLedger::Budget> InMemoryEpsilonLedger::Get(
    std::string_view project) const {
  absl::MutexLock lock(&mu_);
  auto it = budgets_.find(project);
  if (it == budgets_.end()) {
    return absl::NotFoundError("epsilon ledger: project has no DP budget");
  }
  return it->second;
}

absl::Status InMemoryEpsilonLedger::Debit(std::string_view project,
                                          int64_t epsilon_micros) {
  if (epsilon_micros <= 0) {
    return absl::InvalidArgumentError("epsilon ledger: debit must be positive");
  }
  absl::MutexLock lock(&mu_);
  auto it = budgets_.find(project);
  if (it == budgets_.end()) {
    return absl::FailedPreconditionError(
        "epsilon ledger: project has no DP budget");
  }
  Budget& b = it->second;
  if (epsilon_micros > b.total_micros - b.spent_micros) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "epsilon ledger: release needs ", epsilon_micros,
        " micro-epsilon but the project has ", b.total_micros - b.spent_micros,
        " left"));
  }
  b.spent_micros += epsilon_micros;
  return absl::OkStatus();
}

}  // namespace datalab::sdc
