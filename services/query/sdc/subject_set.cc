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

SubjectSet::SubjectSet() : bitmap_(roaring_bitmap_create()) {}

SubjectSet::SubjectSet(roaring_bitmap_s* adopt) : bitmap_(adopt) {}

SubjectSet::SubjectSet(std::initializer_list<uint32_t> ids)
    : bitmap_(roaring_bitmap_create()) {
  for (uint32_t id : ids) roaring_bitmap_add(bitmap_, id);
}

SubjectSet::SubjectSet(absl::Span<const uint32_t> ids)
    : bitmap_(roaring_bitmap_create()) {
  roaring_bitmap_add_many(bitmap_, ids.size(), ids.data());
}

SubjectSet::~SubjectSet() {
  if (bitmap_ != nullptr) roaring_bitmap_free(bitmap_);
}

SubjectSet::SubjectSet(const SubjectSet& other)
    : bitmap_(roaring_bitmap_copy(other.raw())) {}

SubjectSet& SubjectSet::operator=(const SubjectSet& other) {
  if (this != &other) {
    SubjectSet copy(other);
    std::swap(bitmap_, copy.bitmap_);
  }
  return *this;
}

SubjectSet::SubjectSet(SubjectSet&& other) noexcept : bitmap_(other.bitmap_) {
  other.bitmap_ = nullptr;
}

SubjectSet& SubjectSet::operator=(SubjectSet&& other) noexcept {
  if (this != &other) std::swap(bitmap_, other.bitmap_);
  return *this;
}

SubjectSet SubjectSet::Range(uint32_t begin, uint32_t end) {
  SubjectSet s;
  s.AddRange(begin, end);
  return s;
}

namespace {
const roaring_bitmap_t* R(const roaring_bitmap_t* b) {
  return b != nullptr ? b : EmptyBitmap();
}
}  // namespace

void SubjectSet::Add(uint32_t id) {
  if (bitmap_ == nullptr) bitmap_ = roaring_bitmap_create();
  roaring_bitmap_add(bitmap_, id);
}

void SubjectSet::AddRange(uint32_t begin, uint32_t end) {
  if (bitmap_ == nullptr) bitmap_ = roaring_bitmap_create();
  if (end > begin) roaring_bitmap_add_range(bitmap_, begin, end);
}

void SubjectSet::Remove(uint32_t id) {
  if (bitmap_ != nullptr) roaring_bitmap_remove(bitmap_, id);
}

bool SubjectSet::Contains(uint32_t id) const {
  return roaring_bitmap_contains(R(bitmap_), id);
}

uint64_t SubjectSet::Cardinality() const {
  return roaring_bitmap_get_cardinality(R(bitmap_));
}

bool SubjectSet::IsEmpty() const { return roaring_bitmap_is_empty(R(bitmap_)); }

uint64_t SubjectSet::AndCardinality(const SubjectSet& other) const {
  return roaring_bitmap_and_cardinality(R(bitmap_), R(other.bitmap_));
}

uint64_t SubjectSet::AndNotCardinality(const SubjectSet& other) const {
  return roaring_bitmap_andnot_cardinality(R(bitmap_), R(other.bitmap_));
}

uint64_t SubjectSet::XorCardinality(const SubjectSet& other) const {
  return roaring_bitmap_xor_cardinality(R(bitmap_), R(other.bitmap_));
}

bool SubjectSet::IsSubsetOf(const SubjectSet& other) const {
  return roaring_bitmap_is_subset(R(bitmap_), R(other.bitmap_));
}

bool SubjectSet::operator==(const SubjectSet& other) const {
  return roaring_bitmap_equals(R(bitmap_), R(other.bitmap_));
}

SubjectSet SubjectSet::Union(const SubjectSet& other) const {
  return SubjectSet(roaring_bitmap_or(R(bitmap_), R(other.bitmap_)));
}

void SubjectSet::UnionWith(const SubjectSet& other) {
  if (bitmap_ == nullptr) bitmap_ = roaring_bitmap_create();
  roaring_bitmap_or_inplace(bitmap_, R(other.bitmap_));
}

SubjectSet SubjectSet::Difference(const SubjectSet& other) const {
  return SubjectSet(roaring_bitmap_andnot(R(bitmap_), R(other.bitmap_)));
}

std::vector<uint32_t> SubjectSet::ToVector() const {
  std::vector<uint32_t> out(Cardinality());
  if (!out.empty()) roaring_bitmap_to_uint32_array(R(bitmap_), out.data());
  return out;
}

std::string SubjectSet::Serialize() const {
  std::string out(roaring_bitmap_portable_size_in_bytes(R(bitmap_)), '\0');
  size_t n = roaring_bitmap_portable_serialize(R(bitmap_), out.data());
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

const roaring_bitmap_s* SubjectSet::raw() const { return R(bitmap_); }

PopulationSketch PopulationSketch::Of(const SubjectSet& set) {
  PopulationSketch sk;
  roaring_iterate(
      set.raw(),
      [](uint32_t id, void* counts) {
        // Fibonacci hashing: the top 6 bits of id * 2^32/phi.
        const uint32_t bucket = (id * 2654435769u) >> 26;
        ++static_cast<uint32_t*>(counts)[bucket];
        return true;
      },
      sk.counts_.data());
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
