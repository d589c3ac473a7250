// Durable per-project memory used by the SDC engine:
//
//  * ReleaseLedger remembers the population (SubjectSet) of every cell that
//    was released in a project, so later releases can be checked for
//    differencing (rule 7) and for margins already public (rule 6).
//  * EpsilonLedger holds each project's differential-privacy budget and is
//    debited before a DP release (rule 9).
//
// The query service implements both over RocksDB; the in-memory versions here
// are for tests and single-process tools. Contract for every implementation:
//  - thread-safe: concurrent calls from several releases are allowed;
//  - Record()/Debit() are durable (fsynced) when they return OK, and atomic:
//    all or nothing;
//  - projects are fully isolated: nothing recorded for one project is ever
//    visible to another;
//  - populations are pupil data: never logged, never put in a Status.
#ifndef DATALAB_SERVICES_QUERY_SDC_LEDGER_H_
#define DATALAB_SERVICES_QUERY_SDC_LEDGER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/query/sdc/population_index.h"
#include "services/query/sdc/subject_set.h"

namespace datalab::sdc {

class ReleaseLedger {
 public:
  virtual ~ReleaseLedger() = default;

  // Calls `visit` for every population recorded for `project` whose
  // cardinality is in [min_cardinality, max_cardinality] (the differencing
  // prefilter: two sets whose sizes differ by d have a symmetric difference
  // of at least d). Stops early when `visit` returns false. Implementations
  // should index by cardinality so the cost is proportional to the matches.
  // An unknown project has no populations (OK, no calls).
  absl::Status ForEachInCardinalityRange(
      std::string_view project, uint64_t min_cardinality,
      uint64_t max_cardinality,
      absl::FunctionRef<bool(const SubjectSet&)> visit) const {
    return ForEachSketchedInCardinalityRange(
        project, min_cardinality, max_cardinality,
        [&](const SubjectSet& s, const PopulationSketch&) { return visit(s); });
  }
  // The same, with each population's sketch, which implementations compute
  // once when the population is recorded or loaded.
  virtual absl::Status ForEachSketchedInCardinalityRange(
      std::string_view project, uint64_t min_cardinality,
      uint64_t max_cardinality,
      absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const = 0;

  // Calls `visit` for every population recorded for `project` within
  // `max_difference` of `a` (|a Δ B| <= max_difference; with 0, every
  // population equal to `a`), possibly for a few others, each at most once;
  // stops early when `visit` returns false. Implementations index the
  // populations (see PopulationIndex) so the cost follows the near ones,
  // not the size of the ledger.
  virtual absl::Status ForEachNear(
      std::string_view project, const SubjectSet& a, uint64_t max_difference,
      absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const = 0;

  // Calls `visit` for every population recorded for `project` that has
  // exactly `cardinality` ids and `smallest_id` as its smallest (possibly
  // for other populations of that size); stops when it returns false.
  // Finds an earlier release of a set known by its size and smallest id
  // (a union of cells) without building the set.
  virtual absl::Status ForEachWithSmallest(
      std::string_view project, uint32_t smallest_id, uint64_t cardinality,
      absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const = 0;

  // Durably records the populations of the released cells of one release.
  // Identical populations may be stored once. Empty sets are ignored.
  virtual absl::Status Record(std::string_view project,
                              std::string_view release_id,
                              const std::vector<SubjectSet>& populations) = 0;
};

class InMemoryReleaseLedger : public ReleaseLedger {
 public:
  absl::Status ForEachSketchedInCardinalityRange(
      std::string_view project, uint64_t min_cardinality,
      uint64_t max_cardinality,
      absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const override;
  absl::Status ForEachNear(
      std::string_view project, const SubjectSet& a, uint64_t max_difference,
      absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const override;
  absl::Status ForEachWithSmallest(
      std::string_view project, uint32_t smallest_id, uint64_t cardinality,
      absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)> visit) const override;
  absl::Status Record(std::string_view project, std::string_view release_id,
                      const std::vector<SubjectSet>& populations) override;

  // Number of distinct populations held for `project` (tests, metrics).
  size_t Size(std::string_view project) const;

 private:
  struct Held {
    std::deque<SubjectSet> sets;  // stable addresses for the index
    PopulationIndex index;
  };
  mutable absl::Mutex mu_;
  std::map<std::string, Held, std::less<>> by_project_ ABSL_GUARDED_BY(mu_);
};

class EpsilonLedger {
 public:
  virtual ~EpsilonLedger() = default;

  // Atomically charges `epsilon_micros` (> 0) to the project's budget.
  // RESOURCE_EXHAUSTED (nothing charged) when spent + epsilon would exceed
  // the budget; FAILED_PRECONDITION when the project has no DP budget.
  // Durable when it returns OK. The caller releases nothing unless this
  // returned OK.
  virtual absl::Status Debit(std::string_view project, int64_t epsilon_micros) = 0;
};

class InMemoryEpsilonLedger : public EpsilonLedger {
 public:
  struct Budget {
    int64_t total_micros = 0;
    int64_t spent_micros = 0;
  };
  void SetBudget(std::string_view project, int64_t total_micros);
  absl::StatusOr<Budget> Get(std::string_view project) const;
  absl::Status Debit(std::string_view project, int64_t epsilon_micros) override;

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Budget, std::less<>> budgets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace datalab::sdc

#endif  // DATALAB_SERVICES_QUERY_SDC_LEDGER_H_
