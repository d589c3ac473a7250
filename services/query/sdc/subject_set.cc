#include "services/query/sdc/subject_set.h"

#include <roaring/roaring.h>

#include <utility>

#include "absl/status/status.h"

namespace datalab::sdc {
namespace {

// Moved-from sets hold nullptr; const reads see this shared empty bitmap.
const roaring_bitmap_t* EmptyBitmap() {
  static const roaring_bitmap_t* const kEmpty = roaring_bitmap_create();
  return kEmpty;
}

}  // namespace

namespace {
std::shared_ptr<roaring_bitmap_t> Own(roaring_bitmap_t* b) {
  return std::shared_ptr<roaring_bitmap_t>(b, [](roaring_bitmap_t* p) { roaring_bitmap_free(p); });
}
}  // namespace

SubjectSet::SubjectSet() = default;

SubjectSet::SubjectSet(roaring_bitmap_s* adopt) : bitmap_(Own(adopt)) {}

SubjectSet::SubjectSet(std::initializer_list<uint32_t> ids) {
  for (uint32_t id : ids) Add(id);
}

SubjectSet::SubjectSet(absl::Span<const uint32_t> ids) {
  if (!ids.empty()) roaring_bitmap_add_many(Mutable(), ids.size(), ids.data());
}

SubjectSet::~SubjectSet() = default;
SubjectSet::SubjectSet(const SubjectSet& other) = default;
SubjectSet& SubjectSet::operator=(const SubjectSet& other) = default;

SubjectSet::SubjectSet(SubjectSet&& other) noexcept : bitmap_(std::move(other.bitmap_)) {}

SubjectSet& SubjectSet::operator=(SubjectSet&& other) noexcept {
  if (this != &other) bitmap_ = std::move(other.bitmap_);
  return *this;
}

SubjectSet SubjectSet::Range(uint32_t begin, uint32_t end) {
  SubjectSet s;
  s.AddRange(begin, end);
  return s;
}

roaring_bitmap_s* SubjectSet::Mutable() {
  if (bitmap_ == nullptr) {
    bitmap_ = Own(roaring_bitmap_create());
  } else if (bitmap_.use_count() > 1) {
    bitmap_ = Own(roaring_bitmap_copy(bitmap_.get()));
  }
  return bitmap_.get();
}

namespace {
const roaring_bitmap_t* R(const roaring_bitmap_t* b) {
  return b != nullptr ? b : EmptyBitmap();
}
}  // namespace

void SubjectSet::Add(uint32_t id) { roaring_bitmap_add(Mutable(), id); }

void SubjectSet::AddRange(uint32_t begin, uint32_t end) {
  if (end > begin) roaring_bitmap_add_range(Mutable(), begin, end);
}

void SubjectSet::Remove(uint32_t id) {
  if (bitmap_ != nullptr && Contains(id)) roaring_bitmap_remove(Mutable(), id);
}

bool SubjectSet::Contains(uint32_t id) const {
  return roaring_bitmap_contains(raw(), id);
}

uint64_t SubjectSet::Cardinality() const {
  return roaring_bitmap_get_cardinality(raw());
}

bool SubjectSet::IsEmpty() const { return roaring_bitmap_is_empty(raw()); }

uint32_t SubjectSet::Minimum() const { return IsEmpty() ? 0 : roaring_bitmap_minimum(raw()); }

uint32_t SubjectSet::Maximum() const { return IsEmpty() ? 0 : roaring_bitmap_maximum(raw()); }

void SubjectSet::ForEachBlock(const std::function<void(const uint32_t*, size_t)>& visit) const {
  roaring_uint32_iterator_t it;
  roaring_init_iterator(raw(), &it);
  uint32_t ids[256];
  for (uint32_t n; (n = roaring_read_uint32_iterator(&it, ids, 256)) > 0;) visit(ids, n);
}

uint64_t SubjectSet::AndCardinality(const SubjectSet& other) const {
  return roaring_bitmap_and_cardinality(raw(), other.raw());
}

uint64_t SubjectSet::AndNotCardinality(const SubjectSet& other) const {
  return roaring_bitmap_andnot_cardinality(raw(), other.raw());
}

uint64_t SubjectSet::XorCardinality(const SubjectSet& other) const {
  return roaring_bitmap_xor_cardinality(raw(), other.raw());
}

bool SubjectSet::IsSubsetOf(const SubjectSet& other) const {
  return roaring_bitmap_is_subset(raw(), other.raw());
}

bool SubjectSet::operator==(const SubjectSet& other) const {
  return raw() == other.raw() || roaring_bitmap_equals(raw(), other.raw());
}

SubjectSet SubjectSet::Union(const SubjectSet& other) const {
  return SubjectSet(roaring_bitmap_or(raw(), other.raw()));
}

SubjectSet SubjectSet::UnionOf(absl::Span<const SubjectSet* const> sets) {
  if (sets.empty()) return SubjectSet();
  if (sets.size() == 1) return *sets[0];
  std::vector<const roaring_bitmap_t*> raw;
  raw.reserve(sets.size());
  for (const SubjectSet* s : sets) raw.push_back(s->raw());
  return SubjectSet(roaring_bitmap_or_many(raw.size(), raw.data()));
}

void SubjectSet::UnionWith(const SubjectSet& other) {
  if (other.IsEmpty()) return;
  if (IsEmpty()) {
    bitmap_ = other.bitmap_;  // share until changed
    return;
  }
  roaring_bitmap_or_inplace(Mutable(), other.raw());
}

SubjectSet SubjectSet::Difference(const SubjectSet& other) const {
  return SubjectSet(roaring_bitmap_andnot(raw(), other.raw()));
}

std::vector<uint32_t> SubjectSet::ToVector() const {
  std::vector<uint32_t> out(Cardinality());
  if (!out.empty()) roaring_bitmap_to_uint32_array(raw(), out.data());
  return out;
}

std::string SubjectSet::Serialize() const {
  std::string out(roaring_bitmap_portable_size_in_bytes(raw()), '\0');
  size_t n = roaring_bitmap_portable_serialize(raw(), out.data());
  out.resize(n);
  return out;
}

absl::StatusOr<SubjectSet> SubjectSet::Deserialize(std::string_view bytes) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError("subject set: empty serialisation");
  }
  // The size probe bounds every read by bytes.size() before we deserialise.
  size_t need = roaring_bitmap_portable_deserialize_size(bytes.data(),
                                                         bytes.size());
  if (need == 0 || need != bytes.size()) {
    return absl::InvalidArgumentError(
        "subject set: malformed or truncated serialisation");
  }
  roaring_bitmap_t* b =
      roaring_bitmap_portable_deserialize_safe(bytes.data(), bytes.size());
  if (b == nullptr) {
    return absl::InvalidArgumentError("subject set: malformed serialisation");
  }
  return SubjectSet(b);
}

const roaring_bitmap_s* SubjectSet::raw() const { return R(bitmap_.get()); }

PopulationSketch PopulationSketch::Of(const SubjectSet& set) {
  PopulationSketch sk;
  set.ForEachBlock([&sk](const uint32_t* ids, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      // Fibonacci hashing: the top 6 bits of id * 2^32/phi.
      ++sk.counts_[(ids[i] * 2654435769u) >> 26];
    }
  });
  return sk;
}

bool PopulationSketch::ProvesDifferenceAbove(const PopulationSketch& other,
                                             uint64_t limit) const {
  uint64_t d = 0;
  for (size_t i = 0; i < counts_.size(); i += 8) {
    for (size_t j = i; j < i + 8; ++j) {
      const uint32_t a = counts_[j], b = other.counts_[j];
      d += a > b ? a - b : b - a;
    }
    if (d > limit) return true;
  }
  return false;
}

uint64_t PopulationSketch::SymmetricDifferenceLowerBound(const PopulationSketch& other) const {
  uint64_t d = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    const uint32_t a = counts_[i], b = other.counts_[i];
    d += a > b ? a - b : b - a;
  }
  return d;
}

}  // namespace datalab::sdc
