// SubjectSet: a set of lab-internal subject ids (uint32) backed by a CRoaring
// bitmap. It is the "population" of an output cell: the distinct pupils whose
// rows contributed to it.
//
// Ownership: copies share one immutable roaring bitmap until either is
// changed (copy on write), so handing the same population to many cells,
// ledgers and indexes costs a reference count, not a copy. Thread safety:
// const methods may be called concurrently (also on copies that share a
// bitmap); mutating one object needs external synchronisation.
//
// Subject ids are pupil data: never put them (or a serialised set) in a
// Status message or a log line.
#ifndef DATALAB_SERVICES_QUERY_SDC_SUBJECT_SET_H_
#define DATALAB_SERVICES_QUERY_SDC_SUBJECT_SET_H_

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

struct roaring_bitmap_s;

namespace datalab::sdc {

class SubjectSet {
 public:
  SubjectSet();
  SubjectSet(std::initializer_list<uint32_t> ids);
  explicit SubjectSet(absl::Span<const uint32_t> ids);
  ~SubjectSet();
  SubjectSet(const SubjectSet& other);
  SubjectSet& operator=(const SubjectSet& other);
  SubjectSet(SubjectSet&& other) noexcept;
  SubjectSet& operator=(SubjectSet&& other) noexcept;

  // [begin, end) as a set; convenient for synthetic cohorts in tests.
  static SubjectSet Range(uint32_t begin, uint32_t end);

  void Add(uint32_t id);
  void AddRange(uint32_t begin, uint32_t end);  // [begin, end)
  void Remove(uint32_t id);
  bool Contains(uint32_t id) const;

  uint64_t Cardinality() const;
  bool IsEmpty() const;
  // Smallest and largest id; 0 for an empty set.
  uint32_t Minimum() const;
  uint32_t Maximum() const;

  // Cardinality-only set algebra (no temporary bitmaps).
  uint64_t AndCardinality(const SubjectSet& other) const;
  uint64_t AndNotCardinality(const SubjectSet& other) const;  // |this \ other|
  uint64_t XorCardinality(const SubjectSet& other) const;
  bool IsSubsetOf(const SubjectSet& other) const;
  bool operator==(const SubjectSet& other) const;

  SubjectSet Union(const SubjectSet& other) const;
  // The union of many sets in one pass (faster than repeated UnionWith).
  static SubjectSet UnionOf(absl::Span<const SubjectSet* const> sets);
  void UnionWith(const SubjectSet& other);
  SubjectSet Difference(const SubjectSet& other) const;  // this \ other

  std::vector<uint32_t> ToVector() const;
  // Calls `visit` with the ids in increasing order, a block at a time.
  void ForEachBlock(const std::function<void(const uint32_t* ids, size_t n)>& visit) const;

  // Portable CRoaring serialisation: stable across platforms and versions,
  // so it can key the deterministic rounding hash and be stored durably.
  std::string Serialize() const;
  static absl::StatusOr<SubjectSet> Deserialize(std::string_view bytes);

  // Never null (a moved-from set reads as empty).
  const roaring_bitmap_s* raw() const;

 private:
  explicit SubjectSet(roaring_bitmap_s* adopt);
  // The bitmap to change: created when empty, cloned when shared.
  roaring_bitmap_s* Mutable();
  std::shared_ptr<roaring_bitmap_s> bitmap_;
};

// A 64-bucket histogram of a set's ids (each id hashed to a bucket). For any
// two sets A and B, the L1 distance between their sketches is at most
// |A Δ B| (an id in one set and not the other moves one bucket count by
// one), so a distance above a bound proves the sets differ by more than it
// without intersecting them. The differencing check uses it to skip nearly
// every pair of unrelated populations. Pupil data, like the set itself.
class PopulationSketch {
 public:
  PopulationSketch() { counts_.fill(0); }
  static PopulationSketch Of(const SubjectSet& set);
  // A lower bound on |A Δ B|.
  uint64_t SymmetricDifferenceLowerBound(const PopulationSketch& other) const;
  // SymmetricDifferenceLowerBound(other) > limit, stopping as soon as it is
  // (unrelated populations exceed a small limit within a few buckets).
  bool ProvesDifferenceAbove(const PopulationSketch& other, uint64_t limit) const;

 private:
  std::array<uint32_t, 64> counts_;
};

}  // namespace datalab::sdc

#endif  // DATALAB_SERVICES_QUERY_SDC_SUBJECT_SET_H_
