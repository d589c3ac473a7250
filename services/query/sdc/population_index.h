// PopulationIndex: the populations the differencing check compares a new
// cell against, found by the sets they could be close to instead of by
// walking every population of a similar size.
//
// Why it is sound. Let A and B be sets with 1 <= |A Δ B| <= w, and suppose
// they share an element; let c be the smallest element of A ∩ B. Every
// element of B smaller than c is in B \ A, so c is among the |B \ A| + 1 <=
// w + 1 smallest elements of B, and likewise among the w + 1 smallest of A.
// So if each held population B is filed under its kAnchors smallest ids (its
// "anchors"), every B within w of A (w + 1 <= kAnchors) is filed under one
// of A's w + 1 smallest ids. If A and B share nothing, |A Δ B| = |A| + |B|,
// so both are smaller than w: those few are kept in a separate list. Larger
// w (a threshold above kAnchors) falls back to the sizes: |A Δ B| >=
// ||A| - |B||.
//
// Candidates are a superset: callers still test each one exactly. Unrelated
// populations (other groups of a GROUP BY) share no anchor, so a check costs
// a few hash lookups instead of a walk over thousands of same-size sets.
//
// The index stores pointers: whoever adds a set keeps it alive and
// unchanged while the index is used. Not thread-safe; owners lock.
// Populations are pupil data: never log them.
#ifndef DATALAB_SERVICES_QUERY_SDC_POPULATION_INDEX_H_
#define DATALAB_SERVICES_QUERY_SDC_POPULATION_INDEX_H_

#include <cstdint>
#include <map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "services/query/sdc/subject_set.h"

namespace datalab::sdc {

class PopulationIndex {
 public:
  // Anchors per population: covers thresholds up to kAnchors (w = threshold
  // - 1) without the fallback. 32 ids per held population.
  static constexpr uint64_t kAnchors = 32;

  using Visit = absl::FunctionRef<bool(const SubjectSet&, const PopulationSketch&)>;

  // `anchors` (1..kAnchors) per held set: ForEachNear is exact for
  // max_difference < anchors and falls back to sizes above. An index that
  // lives for one check with a known window files each set under window + 1.
  explicit PopulationIndex(uint64_t anchors = kAnchors);

  // Adds `set` (with its sketch) unless an equal set is held; returns
  // whether it was added. Empty sets are not held.
  bool Add(const SubjectSet* set, const PopulationSketch& sketch);
  // Whether a set equal to `set` (whose sketch is `sketch`) is held.
  bool Contains(const SubjectSet& set, const PopulationSketch& sketch) const;

  // Calls `visit` for every held set B with |A Δ B| <= max_difference, and
  // possibly for others (never twice for one set); stops when it returns
  // false. With max_difference 0 it visits at least every set equal to A.
  void ForEachNear(const SubjectSet& a, uint64_t max_difference, Visit visit) const;
  // Every held set of exactly `cardinality` ids whose smallest id is
  // `smallest` (and possibly other sets of that size): the candidates for
  // being equal to a set known only by its size and smallest id.
  void ForEachWithSmallest(uint32_t smallest, uint64_t cardinality, Visit visit) const;
  // Every held set with cardinality in [lo, hi], in cardinality order.
  void ForEachInCardinalityRange(uint64_t lo, uint64_t hi, Visit visit) const;

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    const SubjectSet* set;
    PopulationSketch sketch;
    uint64_t cardinality;
  };
  struct Link {
    uint32_t entry;
    uint32_t next;  // kNone at the end of an anchor's list
  };
  static constexpr uint32_t kNone = UINT32_MAX;
  uint64_t anchors_;
  std::vector<Entry> entries_;
  // anchor id -> first link; each anchor's entries chained through links_
  // (no allocation per anchor).
  absl::flat_hash_map<uint32_t, uint32_t> by_anchor_;
  std::vector<Link> links_;
  std::multimap<uint64_t, uint32_t> by_cardinality_;
  std::vector<uint32_t> small_;  // cardinality < anchors_
};

// The first `n` ids of `set` in increasing order (fewer if it is smaller).
std::vector<uint32_t> SmallestIds(const SubjectSet& set, uint64_t n);

}  // namespace datalab::sdc

#endif  // DATALAB_SERVICES_QUERY_SDC_POPULATION_INDEX_H_
