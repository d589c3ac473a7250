// Posting lists of the secondary index, shared by both AuditStore
// implementations so they lay the index out identically.
//
// One WriteIndex call writes ONE record per term it mentions (not one per
// event): key  term || 0x00 || be64(upper), value  be64(index)... ascending,
// where upper >= every index in the list. Calls come in index order, so the
// lists of a term never overlap and sort by key: a scan from index i seeks to
// term || 0x00 || be64(i) and walks forward. A group commit of 256 events by
// 50 users then costs ~75 index keys instead of ~1000, which is what keeps
// indexing off the critical path. Pruning rewrites the affected lists (the
// key, an upper bound, stays).
//
// Pure functions; thread-safe.
#ifndef DATALAB_SERVICES_AUDIT_POSTINGS_H_
#define DATALAB_SERVICES_AUDIT_POSTINGS_H_

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "services/audit/audit_store.h"
#include "services/audit/tree_head.h"

namespace datalab::audit {

inline std::string PostingPrefix(std::string_view term) {
  std::string k(term);
  k.push_back('\0');
  return k;
}

inline std::string PostingKey(std::string_view term, uint64_t upper) {
  std::string k = PostingPrefix(term);
  AppendBe64(k, upper);
  return k;
}

inline std::string EncodePosting(const std::vector<uint64_t>& indexes) {
  std::string v;
  v.reserve(indexes.size() * 8);
  for (uint64_t i : indexes) AppendBe64(v, i);
  return v;
}

// The indexes of the posting record `key` -> `value`, where `key` is one of
// `prefix`'s (PostingPrefix(term)). DATA_LOSS if the record is not what
// EncodePosting and PostingKey wrote: a key of another length, a value that
// is empty or not whole 8-byte indexes, indexes not strictly ascending, or
// one past the key's upper bound. A damaged record would otherwise shorten
// or stretch a search's results without a word; --rebuild_index repairs it.
inline absl::StatusOr<std::vector<uint64_t>> DecodePosting(std::string_view prefix,
                                                          std::string_view key,
                                                          std::string_view value) {
  auto damaged = [&](std::string_view what) {
    return absl::DataLossError(absl::StrCat(
        "a search index record is damaged (", std::string(what),
        "); repair the index with datalab-audit --rebuild_index"));
  };
  if (key.size() != prefix.size() + 8) return damaged("its key has the wrong length");
  if (value.empty() || value.size() % 8 != 0) {
    return damaged(absl::StrCat("its value is ", value.size(), " bytes, not whole indexes"));
  }
  const uint64_t upper = ReadBe64(key.substr(prefix.size()));
  std::vector<uint64_t> out;
  out.reserve(value.size() / 8);
  for (size_t off = 0; off < value.size(); off += 8) {
    uint64_t i = ReadBe64(value.substr(off));
    if (!out.empty() && i <= out.back()) return damaged("its indexes are not ascending");
    if (i > upper) return damaged("an index is past its key's bound");
    out.push_back(i);
  }
  return out;
}

// (term, ascending indexes) for each term of `records` (given in ascending
// index order), by term. The terms are views into `records`.
inline std::vector<std::pair<std::string_view, std::vector<uint64_t>>> GroupByTerm(
    const std::vector<IndexRecord>& records) {
  absl::flat_hash_map<std::string_view, std::vector<uint64_t>> by_term;
  for (const IndexRecord& r : records) {
    for (const std::string& t : r.terms) by_term[t].push_back(r.index);
  }
  std::vector<std::pair<std::string_view, std::vector<uint64_t>>> out(
      std::make_move_iterator(by_term.begin()), std::make_move_iterator(by_term.end()));
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

}  // namespace datalab::audit

#endif  // DATALAB_SERVICES_AUDIT_POSTINGS_H_
