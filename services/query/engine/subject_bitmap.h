// Contributor populations the engine hands to disclosure control.
//
// SubjectBitmap: a move-only owner of a CRoaring bitmap of subject ids.
// SubjectSet: an immutable set of distinct subject ids kept as a sorted
// vector, with its roaring bitmap built on first request. The engine makes
// one set per group and aggregate; a group of a few thousand pupils spread
// over millions of ids costs hundreds of roaring containers (allocations),
// so bitmaps are only built for the cells that need set algebra.
//
// Thread safety: const methods (including Bitmap()) may run concurrently;
// results share populations as std::shared_ptr<const SubjectSet>.
#ifndef DATALAB_SERVICES_QUERY_ENGINE_SUBJECT_BITMAP_H_
#define DATALAB_SERVICES_QUERY_ENGINE_SUBJECT_BITMAP_H_

#include <roaring/roaring.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

namespace datalab::engine {

class SubjectBitmap {
 public:
  SubjectBitmap() : r_(roaring_bitmap_create()) {}
  // `sorted_ids` must be strictly increasing (appends are then cheap).
  static SubjectBitmap FromSorted(const uint32_t* sorted_ids, size_t n) {
    SubjectBitmap b;
    if (n > 0) roaring_bitmap_add_many(b.r_, n, sorted_ids);
    roaring_bitmap_run_optimize(b.r_);
    return b;
  }
  SubjectBitmap(SubjectBitmap&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  SubjectBitmap& operator=(SubjectBitmap&& o) noexcept {
    std::swap(r_, o.r_);
    return *this;
  }
  SubjectBitmap(const SubjectBitmap&) = delete;
  SubjectBitmap& operator=(const SubjectBitmap&) = delete;
  ~SubjectBitmap() {
    if (r_ != nullptr) roaring_bitmap_free(r_);
  }

  uint64_t Cardinality() const { return roaring_bitmap_get_cardinality(r_); }
  bool Contains(uint32_t id) const { return roaring_bitmap_contains(r_, id); }
  std::vector<uint32_t> ToVector() const {
    std::vector<uint32_t> out(Cardinality());
    roaring_bitmap_to_uint32_array(r_, out.data());
    return out;
  }
  const roaring_bitmap_t* get() const { return r_; }

 private:
  roaring_bitmap_t* r_;
};

class SubjectSet {
 public:
  // `sorted_ids` must be strictly increasing.
  explicit SubjectSet(std::vector<uint32_t> sorted_ids) : ids_(std::move(sorted_ids)) {}

  uint64_t Cardinality() const { return ids_.size(); }
  bool Contains(uint32_t id) const { return std::binary_search(ids_.begin(), ids_.end(), id); }
  const std::vector<uint32_t>& ids() const { return ids_; }
  // The same set as a roaring bitmap; built once, then cached.
  const SubjectBitmap& Bitmap() const {
    std::call_once(once_, [this] {
      bitmap_ = std::make_unique<SubjectBitmap>(SubjectBitmap::FromSorted(ids_.data(), ids_.size()));
    });
    return *bitmap_;
  }

 private:
  std::vector<uint32_t> ids_;
  mutable std::once_flag once_;
  mutable std::unique_ptr<SubjectBitmap> bitmap_;
};

}  // namespace datalab::engine

#endif  // DATALAB_SERVICES_QUERY_ENGINE_SUBJECT_BITMAP_H_
