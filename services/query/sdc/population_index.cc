#include "services/query/sdc/population_index.h"

#include <roaring/roaring.h>

#include <algorithm>

#include "absl/container/inlined_vector.h"

namespace datalab::sdc {

namespace {

// Reads up to `n` (<= kAnchors) smallest ids of `set` into `out`; returns
// how many.
uint32_t ReadSmallest(const SubjectSet& set, uint64_t n, uint32_t* out) {
  if (n == 0) return 0;
  roaring_uint32_iterator_t it;
  roaring_init_iterator(set.raw(), &it);
  return roaring_read_uint32_iterator(&it, out, static_cast<uint32_t>(n));
}

}  // namespace

std::vector<uint32_t> SmallestIds(const SubjectSet& set, uint64_t n) {
  std::vector<uint32_t> out(static_cast<size_t>(std::min<uint64_t>(n, set.Cardinality())));
  if (out.empty()) return out;
  roaring_uint32_iterator_t it;
  roaring_init_iterator(set.raw(), &it);
  out.resize(roaring_read_uint32_iterator(&it, out.data(), static_cast<uint32_t>(out.size())));
  return out;
}

PopulationIndex::PopulationIndex(uint64_t anchors)
    : anchors_(std::clamp<uint64_t>(anchors, 1, kAnchors)) {}

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
  uint32_t anchors[kAnchors];
  const uint32_t k = ReadSmallest(*set, anchors_, anchors);
  for (uint32_t i = 0; i < k; ++i) {
    auto [it, fresh] = by_anchor_.try_emplace(anchors[i], kNone);
    links_.push_back(Link{at, it->second});
    it->second = static_cast<uint32_t>(links_.size() - 1);
  }
  by_cardinality_.emplace(n, at);
  if (n < anchors_) small_.push_back(at);
  return true;
}

void PopulationIndex::ForEachNear(const SubjectSet& a, uint64_t max_difference,
                                  Visit visit) const {
  const uint64_t n = a.Cardinality();
  const uint64_t lo = n > max_difference ? n - max_difference : 0;
  const uint64_t hi = n + max_difference;
  if (max_difference + 1 > anchors_) {
    ForEachInCardinalityRange(lo, hi, visit);
    return;
  }
  absl::InlinedVector<uint32_t, 64> candidates;
  uint32_t ids[kAnchors];
  const uint32_t k = ReadSmallest(a, max_difference + 1, ids);
  for (uint32_t i = 0; i < k; ++i) {
    auto it = by_anchor_.find(ids[i]);
    if (it == by_anchor_.end()) continue;
    for (uint32_t l = it->second; l != kNone; l = links_[l].next) candidates.push_back(links_[l].entry);
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

void PopulationIndex::ForEachWithSmallest(uint32_t smallest, uint64_t cardinality,
                                          Visit visit) const {
  if (cardinality == 0) return;
  // A set's smallest id is always its first anchor.
  auto it = by_anchor_.find(smallest);
  if (it == by_anchor_.end()) return;
  for (uint32_t l = it->second; l != kNone; l = links_[l].next) {
    const Entry& e = entries_[links_[l].entry];
    if (e.cardinality == cardinality && !visit(*e.set, e.sketch)) return;
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
