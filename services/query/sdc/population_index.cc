#include "services/query/sdc/population_index.h"

#include <roaring/roaring.h>

#include <algorithm>

namespace datalab::sdc {

std::vector<uint32_t> SmallestIds(const SubjectSet& set, uint64_t n) {
  std::vector<uint32_t> out(static_cast<size_t>(std::min<uint64_t>(n, set.Cardinality())));
  if (out.empty()) return out;
  roaring_uint32_iterator_t it;
  roaring_init_iterator(set.raw(), &it);
  out.resize(roaring_read_uint32_iterator(&it, out.data(), static_cast<uint32_t>(out.size())));
  return out;
}

bool PopulationIndex::Contains(const SubjectSet& set, const PopulationSketch& sketch) const {
  bool found = false;
  ForEachNear(set, 0, [&](const SubjectSet& held, const PopulationSketch& held_sketch) {
    found = !held_sketch.ProvesDifferenceAbove(sketch, 0) && held == set;
    return !found;
  });
  return found;
}

bool PopulationIndex::Add(const SubjectSet* set, const PopulationSketch& sketch) {
  const uint64_t n = set->Cardinality();
  if (n == 0 || Contains(*set, sketch)) return false;
  const auto at = static_cast<uint32_t>(entries_.size());
  entries_.push_back(Entry{set, sketch, n});
  for (uint32_t id : SmallestIds(*set, kAnchors)) by_anchor_[id].push_back(at);
  by_cardinality_.emplace(n, at);
  if (n < kAnchors) small_.push_back(at);
  return true;
}

void PopulationIndex::ForEachNear(const SubjectSet& a, uint64_t max_difference,
                                  Visit visit) const {
  const uint64_t n = a.Cardinality();
  const uint64_t lo = n > max_difference ? n - max_difference : 0;
  const uint64_t hi = n + max_difference;
  if (max_difference + 1 > kAnchors) {
    ForEachInCardinalityRange(lo, hi, visit);
    return;
  }
  std::vector<uint32_t> candidates;
  for (uint32_t id : SmallestIds(a, max_difference + 1)) {
    auto it = by_anchor_.find(id);
    if (it != by_anchor_.end()) candidates.insert(candidates.end(), it->second.begin(), it->second.end());
  }
  // Sets sharing nothing with A are within max_difference only when
  // |A| + |B| <= max_difference.
  if (n < max_difference) {
    for (uint32_t i : small_) {
      if (entries_[i].cardinality <= max_difference - n) candidates.push_back(i);
    }
  }
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
  for (uint32_t i : candidates) {
    const Entry& e = entries_[i];
    if (e.cardinality < lo || e.cardinality > hi) continue;
    if (!visit(*e.set, e.sketch)) return;
  }
}

void PopulationIndex::ForEachInCardinalityRange(uint64_t lo, uint64_t hi, Visit visit) const {
  if (lo > hi) return;
  for (auto it = by_cardinality_.lower_bound(lo); it != by_cardinality_.end() && it->first <= hi;
       ++it) {
    const Entry& e = entries_[it->second];
    if (!visit(*e.set, e.sketch)) return;
  }
}

}  // namespace datalab::sdc
