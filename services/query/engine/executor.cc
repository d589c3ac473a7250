#include "services/query/engine/executor.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <limits>
#include <map>
#include <thread>
#include <utility>

#include <sys/mman.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "services/query/engine/evaluator.h"

namespace datalab::engine {
namespace {

using internal::BatchView;
using internal::BoundSlot;
using internal::CompileContext;
using internal::EvalScratch;
using internal::kBatchRows;
using internal::kTrue;
using internal::Node;
using internal::NumOut;
using internal::SlotView;

constexpr uint32_t kNoSubject = std::numeric_limits<uint32_t>::max();
// Key spaces up to this size use a direct-indexed group table.
constexpr uint64_t kDirectKeySpace = uint64_t{1} << 22;

// ---------------------------------------------------------------- plan prep

struct KeyComp {
  GroupKey::Kind kind = GroupKey::Kind::kColumn;
  int slot = -1;
  ColumnType type = ColumnType::kCode;
  const Column* column = nullptr;
  int64_t min = 0;
  std::unique_ptr<Node> value;                   // kBand
  double lo = 0, hi = 0, width = 1;
  uint32_t buckets = 0;
  std::vector<std::unique_ptr<Node>> when;       // kCase
  std::vector<uint32_t> when_code;               // label code per WHEN
  uint32_t else_code = 0;                        // 0: missing
  std::vector<std::string> labels;               // label of code c is labels[c-1]
  uint64_t card = 1;                             // codes 0..card-1, 0 = missing
  uint64_t stride = 1;
};

// A per-row value collected for aggregates; NaN encodes missing.
struct ValueSlot {
  std::unique_ptr<Node> node;
  bool is_bool = false;  // condition: TRUE=1, FALSE=0, UNKNOWN=NaN
};

struct AggPrep {
  Aggregate::Kind kind;
  int v = -1;  // value slot
  int v2 = -1;  // RATE denominator slot
  double p = 0.5;
  bool by_subject = false;
};

struct Prepared {
  std::vector<BoundSlot> slots;
  std::vector<int> subject_slot;  // per input
  std::unique_ptr<Node> filter;
  std::vector<KeyComp> keys;
  uint64_t key_space = 1;
  std::vector<ValueSlot> values;
  std::vector<AggPrep> aggs;
  int num_nodes = 0;
};

std::string Where(const char* what, size_t i) { return absl::StrCat(what, " ", i); }

absl::StatusOr<Prepared> Prepare(const Plan& plan, absl::Span<const Table* const> tables) {
  Prepared p;
  CompileContext ctx(tables);
  for (size_t i = 0; i < plan.inputs.size(); ++i) {
    auto slot = ctx.BindColumn(ColumnRef{static_cast<int>(i), plan.inputs[i].subject_column},
                               Where("input", i));
    if (!slot.ok()) return slot.status();
    if (ctx.slots()[*slot].column->type() != ColumnType::kSubject) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input ", i, ": subject column '", plan.inputs[i].subject_column, "' is ",
          ColumnTypeName(ctx.slots()[*slot].column->type()), ", not SUBJECT"));
    }
    p.subject_slot.push_back(*slot);
  }
  if (plan.filter) {
    auto f = internal::CompileBoolean(*plan.filter, ctx, "filter");
    if (!f.ok()) return f.status();
    p.filter = std::move(*f);
  }
  for (size_t k = 0; k < plan.group_keys.size(); ++k) {
    const GroupKey& g = plan.group_keys[k];
    const std::string where = Where("group key", k);
    KeyComp c;
    c.kind = g.kind;
    switch (g.kind) {
      case GroupKey::Kind::kColumn: {
        auto slot = ctx.BindColumn(g.column, where);
        if (!slot.ok()) return slot.status();
        c.slot = *slot;
        c.column = ctx.slots()[*slot].column;
        c.type = c.column->type();
        if (c.type == ColumnType::kCode) {
          c.card = c.column->dictionary().size() + 1;
        } else if (c.type == ColumnType::kInt64) {
          c.min = c.column->min_value();
          uint64_t range = static_cast<uint64_t>(c.column->max_value()) -
                           static_cast<uint64_t>(c.column->min_value());
          if (range >= (uint64_t{1} << 40)) {
            return absl::InvalidArgumentError(absl::StrCat(
                where, ": column '", g.column.column, "' has too wide a range to group by; band it"));
          }
          c.card = range + 2;
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              where, ": cannot group by ", ColumnTypeName(c.type), " column '", g.column.column,
              "'", c.type == ColumnType::kDouble ? "; use BAND" : ""));
        }
        break;
      }
      case GroupKey::Kind::kBand: {
        if (!g.value) return absl::InvalidArgumentError(absl::StrCat(where, ": BAND lacks a value"));
        if (!(g.width > 0) || !(g.lo < g.hi) || !std::isfinite(g.lo) || !std::isfinite(g.hi)) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": BAND needs finite lo < hi and width > 0"));
        }
        double nb = std::ceil((g.hi - g.lo) / g.width);
        if (nb > 10000) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": BAND makes over 10000 bands"));
        }
        auto v = internal::CompileNumeric(*g.value, ctx, where);
        if (!v.ok()) return v.status();
        c.value = std::move(*v);
        c.lo = g.lo;
        c.hi = g.hi;
        c.width = g.width;
        c.buckets = static_cast<uint32_t>(nb);
        c.labels.push_back(absl::StrCat("<", g.lo));
        for (uint32_t b = 0; b < c.buckets; ++b) {
          double a = g.lo + b * g.width;
          c.labels.push_back(absl::StrCat(a, "-", std::min(a + g.width, g.hi)));
        }
        c.labels.push_back(absl::StrCat(">=", g.hi));
        c.card = c.labels.size() + 1;
        break;
      }
      case GroupKey::Kind::kCase: {
        if (g.when.empty() && !g.has_else) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": CASE without WHEN or ELSE"));
        }
        auto code_of = [&](const std::string& label) -> uint32_t {
          for (size_t i = 0; i < c.labels.size(); ++i) {
            if (c.labels[i] == label) return static_cast<uint32_t>(i + 1);
          }
          c.labels.push_back(label);
          return static_cast<uint32_t>(c.labels.size());
        };
        for (size_t w = 0; w < g.when.size(); ++w) {
          if (!g.when[w].first) {
            return absl::InvalidArgumentError(absl::StrCat(where, ": WHEN ", w, " lacks a condition"));
          }
          auto cond = internal::CompileBoolean(*g.when[w].first, ctx, where);
          if (!cond.ok()) return cond.status();
          c.when.push_back(std::move(*cond));
          c.when_code.push_back(code_of(g.when[w].second));
        }
        if (g.has_else) c.else_code = code_of(g.else_label);
        c.card = c.labels.size() + 1;
        break;
      }
    }
    p.keys.push_back(std::move(c));
  }
  // Mixed-radix packing: the last key varies fastest.
  for (size_t k = p.keys.size(); k-- > 0;) {
    p.keys[k].stride = p.key_space;
    if (__builtin_mul_overflow(p.key_space, p.keys[k].card, &p.key_space)) {
      return absl::InvalidArgumentError("group keys: the combined key space exceeds 64 bits");
    }
  }
  std::map<std::string, int> value_index;
  auto value_slot = [&](const ExprPtr& e, bool is_bool, const std::string& where) -> absl::StatusOr<int> {
    if (!e) return absl::InvalidArgumentError(absl::StrCat(where, ": missing argument"));
    std::string key = absl::StrCat(is_bool ? "b:" : "n:", e->ToString());
    if (auto it = value_index.find(key); it != value_index.end()) return it->second;
    ValueSlot vs;
    vs.is_bool = is_bool;
    if (is_bool) {
      auto n = internal::CompileBoolean(*e, ctx, where);
      if (!n.ok()) return n.status();
      vs.node = std::move(*n);
    } else {
      auto n = internal::CompileNumeric(*e, ctx, where);
      if (!n.ok()) return n.status();
      vs.node = std::move(*n);
    }
    p.values.push_back(std::move(vs));
    value_index[key] = static_cast<int>(p.values.size() - 1);
    return static_cast<int>(p.values.size() - 1);
  };
  for (size_t a = 0; a < plan.aggregates.size(); ++a) {
    const Aggregate& ag = plan.aggregates[a];
    const std::string where = Where("aggregate", a);
    AggPrep ap;
    ap.kind = ag.kind;
    ap.p = ag.kind == Aggregate::Kind::kMedian ? 0.5 : ag.p;
    ap.by_subject = ag.by_subject;
    switch (ag.kind) {
      case Aggregate::Kind::kCountStar:
      case Aggregate::Kind::kCountDistinctSubject:
        break;
      case Aggregate::Kind::kCount: {
        // COUNT(col) of any column type counts present values.
        if (!ag.arg) return absl::InvalidArgumentError(absl::StrCat(where, ": missing argument"));
        ExprPtr present = IsNotNull(ag.arg);
        // Encode as a condition: TRUE when present; count TRUE rows.
        auto v = value_slot(present, true, where);
        if (!v.ok()) return v.status();
        ap.v = *v;
        break;
      }
      case Aggregate::Kind::kPercentile:
        if (!(ag.p >= 0 && ag.p <= 1)) {
          return absl::InvalidArgumentError(absl::StrCat(where, ": PERCENTILE p must be in [0, 1]"));
        }
        [[fallthrough]];
      case Aggregate::Kind::kSum:
      case Aggregate::Kind::kAvg:
      case Aggregate::Kind::kStddev:
      case Aggregate::Kind::kMedian: {
        auto v = value_slot(ag.arg, false, where);
        if (!v.ok()) return v.status();
        ap.v = *v;
        break;
      }
      case Aggregate::Kind::kProportion: {
        auto v = value_slot(ag.arg, true, where);
        if (!v.ok()) return v.status();
        ap.v = *v;
        break;
      }
      case Aggregate::Kind::kRate: {
        auto v = value_slot(ag.arg, false, where);
        if (!v.ok()) return v.status();
        auto v2 = value_slot(ag.arg2, false, where);
        if (!v2.ok()) return v2.status();
        ap.v = *v;
        ap.v2 = *v2;
        break;
      }
    }
    p.aggs.push_back(ap);
  }
  p.slots = ctx.slots();
  p.num_nodes = ctx.num_nodes();
  return p;
}

// ---------------------------------------------------------------- joins

// Row numbers of each input for every joined row ("pair"), column-wise.
using JoinedRows = std::vector<std::vector<uint32_t>>;

template <typename Fn>
void ParallelFor(int threads, Fn fn) {
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(fn, t);
  fn(0);
  for (auto& th : pool) th.join();
}

uint32_t SubjectAt(const Column& c, uint32_t row) {
  const Chunk& ch = c.chunks()[row >> kChunkShift];
  uint32_t off = row & (kChunkRows - 1);
  return ch.IsMissing(off) ? kNoSubject : ch.u32[off];
}

// A whole SUBJECT column, kNoSubject where missing.
std::vector<uint32_t> AllSubjects(const Column& c) {
  std::vector<uint32_t> out(c.num_rows());
  size_t at = 0;
  for (const Chunk& ch : c.chunks()) {
    std::memcpy(out.data() + at, ch.u32.data(), ch.num_rows * sizeof(uint32_t));
    if (ch.has_missing()) {
      for (uint32_t i = 0; i < ch.num_rows; ++i) {
        if (ch.missing[i]) out[at + i] = kNoSubject;
      }
    }
    at += ch.num_rows;
  }
  return out;
}

// Join-key value as comparable bits; false when missing or not matchable.
struct KeyReader {
  const Column* column = nullptr;
  const std::vector<uint32_t>* translate = nullptr;  // CODE: right code -> left code
  bool Read(uint32_t row, uint64_t* out) const {
    const Chunk& ch = column->chunks()[row >> kChunkShift];
    uint32_t off = row & (kChunkRows - 1);
    if (ch.IsMissing(off)) return false;
    switch (column->type()) {
      case ColumnType::kInt64:
        *out = static_cast<uint64_t>(ch.i64[off]);
        return true;
      case ColumnType::kDouble: {
        double d = ch.f64[off];
        if (d == 0) d = 0;  // -0.0 == 0.0
        if (std::isnan(d)) return false;
        std::memcpy(out, &d, 8);
        return true;
      }
      default: {
        uint32_t c = ch.u32[off];
        if (translate) c = (*translate)[c];
        if (c == kNoSubject) return false;
        *out = c;
        return true;
      }
    }
  }
};

absl::Status JoinInput(const Plan& plan, absl::Span<const Table* const> tables, size_t i,
                       int threads, JoinedRows& rows) {
  const InputSpec& spec = plan.inputs[i];
  const Table& right = *tables[i];
  const Column& rsubj = *right.Find(spec.subject_column);
  const Column& lsubj = *tables[0]->Find(plan.inputs[0].subject_column);
  const size_t left_n = rows[0].size();
  const size_t right_n = right.num_rows();

  // Extra keys: readers for both sides.
  std::vector<std::pair<int, KeyReader>> lkeys;  // (input, reader)
  std::vector<KeyReader> rkeys;
  std::vector<std::vector<uint32_t>> translations(spec.extra_keys.size());
  for (size_t k = 0; k < spec.extra_keys.size(); ++k) {
    const JoinKey& jk = spec.extra_keys[k];
    const std::string where = absl::StrCat("input ", i, " join key ", k);
    if (jk.left.input < 0 || static_cast<size_t>(jk.left.input) >= i) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": must refer to an earlier input"));
    }
    const Column* lc = tables[jk.left.input]->Find(jk.left.column);
    const Column* rc = right.Find(jk.right_column);
    if (lc == nullptr || rc == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": no column '",
                                                     lc ? jk.right_column : jk.left.column, "'"));
    }
    if (lc->type() != rc->type() || lc->type() == ColumnType::kSubject) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": cannot join ",
                                                     ColumnTypeName(lc->type()), " with ",
                                                     ColumnTypeName(rc->type())));
    }
    KeyReader lr{lc, nullptr}, rr{rc, nullptr};
    if (lc->type() == ColumnType::kCode) {
      absl::flat_hash_map<std::string_view, uint32_t> index;
      for (size_t c = 0; c < lc->dictionary().size(); ++c) index.emplace(lc->dictionary()[c], c);
      auto& tr = translations[k];
      tr.resize(rc->dictionary().size(), kNoSubject);
      for (size_t c = 0; c < rc->dictionary().size(); ++c) {
        auto it = index.find(rc->dictionary()[c]);
        if (it != index.end()) tr[c] = it->second;
      }
      rr.translate = &tr;
    }
    lkeys.emplace_back(jk.left.input, lr);
    rkeys.push_back(rr);
  }
  auto keys_match = [&](size_t lp, uint32_t rrow) {
    for (size_t k = 0; k < rkeys.size(); ++k) {
      uint64_t a, b;
      if (!lkeys[k].second.Read(rows[lkeys[k].first][lp], &a)) return false;
      if (!rkeys[k].Read(rrow, &b) || a != b) return false;
    }
    return true;
  };

  // Subjects of both sides.
  std::vector<uint32_t> ls(left_n), rs = AllSubjects(rsubj);
  if (i == 1) {
    ls = AllSubjects(lsubj);  // rows[0] is still the identity
  } else {
    for (size_t p = 0; p < left_n; ++p) ls[p] = SubjectAt(lsubj, rows[0][p]);
  }

  // Build on the smaller side, probe with the other, preserving probe order.
  const bool build_right = right_n <= left_n;
  const std::vector<uint32_t>& bs = build_right ? rs : ls;
  const std::vector<uint32_t>& ps = build_right ? ls : rs;
  uint32_t max_subject = 0;
  for (uint32_t s : bs) {
    if (s != kNoSubject) max_subject = std::max(max_subject, s);
  }
  // Dense subject ids: a direct-address CSR (offsets per subject id); many
  // build rows per subject are simply a longer bucket.
  const bool direct = uint64_t{max_subject} + 2 <= std::max<uint64_t>(8 * bs.size(), 1 << 16);
  std::vector<uint32_t> offsets, bucket;
  std::vector<uint64_t> sorted;  // (subject << 32 | build index) when not direct
  // One build row per subject (the usual one-row-per-pupil extract): a
  // single direct-address array, one random access per row each side.
  std::vector<uint32_t> row_of;
  bool one_to_one = false;
  if (direct) {
    row_of.assign(uint64_t{max_subject} + 1, kNoSubject);
    one_to_one = true;
    for (size_t b = 0; b < bs.size() && one_to_one; ++b) {
      const uint32_t sb = bs[b];
      if (sb == kNoSubject) continue;
      one_to_one = row_of[sb] == kNoSubject;
      row_of[sb] = static_cast<uint32_t>(b);
    }
    if (!one_to_one) {
      row_of.clear();
      row_of.shrink_to_fit();
    }
  }
  if (direct && !one_to_one) {
    offsets.assign(uint64_t{max_subject} + 2, 0);
    for (uint32_t s : bs) {
      if (s != kNoSubject) ++offsets[s + 1];
    }
    for (size_t s = 1; s < offsets.size(); ++s) offsets[s] += offsets[s - 1];
    bucket.resize(offsets.back());
    std::vector<uint32_t> fill(offsets.begin(), offsets.end() - 1);
    for (size_t b = 0; b < bs.size(); ++b) {
      if (bs[b] != kNoSubject) bucket[fill[bs[b]]++] = static_cast<uint32_t>(b);
    }
  } else if (!direct) {
    sorted.reserve(bs.size());
    for (size_t b = 0; b < bs.size(); ++b) {
      if (bs[b] != kNoSubject) sorted.push_back(uint64_t{bs[b]} << 32 | b);
    }
    std::sort(sorted.begin(), sorted.end());
  }

  // Probe in parallel over contiguous ranges; each thread emits (left pair,
  // right row) in probe order.
  std::vector<std::vector<uint32_t>> out_l(threads), out_r(threads);
  ParallelFor(threads, [&](int t) {
    size_t begin = ps.size() * t / threads, end = ps.size() * (t + 1) / threads;
    auto& ol = out_l[t];
    auto& orr = out_r[t];
    auto emit = [&](size_t probe, uint32_t build) {
      size_t lp = build_right ? probe : build;
      uint32_t rr = static_cast<uint32_t>(build_right ? build : probe);
      if (!rkeys.empty() && !keys_match(lp, rr)) return;
      ol.push_back(static_cast<uint32_t>(lp));
      orr.push_back(rr);
    };
    for (size_t q = begin; q < end; ++q) {
      uint32_t s = ps[q];
      if (s == kNoSubject) continue;
      if (one_to_one) {
        if (s <= max_subject && row_of[s] != kNoSubject) emit(q, row_of[s]);
      } else if (direct) {
        if (s > max_subject) continue;
        for (uint32_t j = offsets[s]; j < offsets[s + 1]; ++j) emit(q, bucket[j]);
      } else {
        auto it = std::lower_bound(sorted.begin(), sorted.end(), uint64_t{s} << 32);
        for (; it != sorted.end() && (*it >> 32) == s; ++it) emit(q, static_cast<uint32_t>(*it));
      }
    }
  });
  size_t total = 0;
  for (auto& v : out_l) total += v.size();
  if (total > std::numeric_limits<uint32_t>::max() - 1) {
    return absl::ResourceExhaustedError("join result has too many rows");
  }
  JoinedRows next(i + 1);
  for (size_t in = 0; in <= i; ++in) next[in].reserve(total);
  for (int t = 0; t < threads; ++t) {
    for (size_t k = 0; k < out_l[t].size(); ++k) {
      uint32_t lp = out_l[t][k];
      for (size_t in = 0; in < i; ++in) next[in].push_back(rows[in][lp]);
      next[i].push_back(out_r[t][k]);
    }
  }
  rows = std::move(next);
  return absl::OkStatus();
}

// ---------------------------------------------------------------- scanning

// A group's rows are appended to fixed-size blocks carved from a per-thread
// arena: no reallocation or copying while scanning, and only one active
// cache line per group and array. Block layout: header, kBlockRows subject
// ids (kNoSubject when missing), then per value slot kBlockRows doubles (NaN
// = missing).
constexpr uint32_t kBlockRows = 256;

struct Block {
  Block* next;
  uint32_t n;
  uint32_t pad;
  uint32_t* subjects() { return reinterpret_cast<uint32_t*>(this + 1); }
  double* vals(size_t v) {
    return reinterpret_cast<double*>(reinterpret_cast<char*>(this + 1) +
                                     kBlockRows * sizeof(uint32_t)) + v * kBlockRows;
  }
};
static_assert(sizeof(Block) == 16);

class BlockArena {
 public:
  explicit BlockArena(size_t num_values)
      : block_bytes_(sizeof(Block) + kBlockRows * (sizeof(uint32_t) + num_values * sizeof(double))) {}
  Block* New() {
    if (slabs_.empty() || used_ + block_bytes_ > slab_bytes_) {
      // Large 2 MiB-aligned slabs, advised as huge pages: a 20M-row scan
      // writes hundreds of MiB, and 4 KiB first-touch faults cost more than
      // the writes themselves.
      constexpr size_t kHuge = size_t{2} << 20;
      slab_bytes_ = std::max<size_t>(size_t{8} << 20, (block_bytes_ + kHuge - 1) / kHuge * kHuge);
      void* mem = std::aligned_alloc(kHuge, slab_bytes_);
      if (mem == nullptr) throw std::bad_alloc();
      madvise(mem, slab_bytes_, MADV_HUGEPAGE);
      slabs_.emplace_back(static_cast<char*>(mem));
      used_ = 0;
    }
    Block* b = reinterpret_cast<Block*>(slabs_.back().get() + used_);
    used_ += block_bytes_;
    b->next = nullptr;
    b->n = 0;
    return b;
  }

 private:
  struct Free {
    void operator()(char* p) const { std::free(p); }
  };
  size_t block_bytes_;
  size_t slab_bytes_ = 0;
  size_t used_ = 0;
  std::vector<std::unique_ptr<char, Free>> slabs_;
};

struct GroupList {
  Block* head = nullptr;
  Block* tail = nullptr;
  uint32_t tail_n = 0;  // rows in tail; other blocks are full
  uint32_t rows = 0;
};

struct GatherBuf {
  std::vector<int64_t> i64;
  std::vector<double> f64;
  std::vector<uint32_t> u32;
  std::vector<uint8_t> missing;
};

struct ThreadState {
  ThreadState(int nodes, size_t num_values) : scratch(nodes), arena(num_values) {}
  EvalScratch scratch;
  BlockArena arena;
  std::vector<int32_t> direct;
  absl::flat_hash_map<uint64_t, uint32_t> hashed;
  std::vector<uint64_t> group_keys;
  std::vector<GroupList> lists;
  std::vector<uint32_t> sel, gid, codes, pos;
  std::vector<Block*> blocks;
  std::vector<uint64_t> keys;
  std::vector<SlotView> views;
  std::vector<GatherBuf> gather;
  bool too_many = false;
};

class Scanner {
 public:
  Scanner(const Prepared& p, const JoinedRows* joined, size_t max_groups,
          std::atomic<bool>* abort)
      : p_(p), joined_(joined), max_groups_(max_groups), abort_(abort) {}

  void Run(ThreadState& ts, size_t begin, size_t end) {
    ts.sel.resize(kBatchRows);
    ts.pos.resize(kBatchRows);
    ts.blocks.resize(kBatchRows);
    ts.gid.resize(kBatchRows);
    ts.codes.resize(kBatchRows);
    ts.keys.resize(kBatchRows);
    ts.views.resize(p_.slots.size());
    if (p_.key_space <= kDirectKeySpace) ts.direct.assign(p_.key_space, -1);
    if (joined_) {
      ts.gather.resize(p_.slots.size());
      for (size_t s = 0; s < p_.slots.size(); ++s) {
        GatherBuf& g = ts.gather[s];
        switch (p_.slots[s].column->type()) {
          case ColumnType::kInt64: g.i64.resize(kBatchRows); break;
          case ColumnType::kDouble: g.f64.resize(kBatchRows); break;
          default: g.u32.resize(kBatchRows);
        }
        if (p_.slots[s].column->has_missing()) g.missing.resize(kBatchRows);
      }
    }
    size_t r = begin;
    while (r < end && !ts.too_many) {
      if (abort_->load(std::memory_order_relaxed)) return;
      uint32_t n;
      if (joined_) {
        n = static_cast<uint32_t>(std::min<size_t>(kBatchRows, end - r));
        Gather(ts, r, n);
      } else {
        size_t chunk_end = ((r >> kChunkShift) + 1) << kChunkShift;
        n = static_cast<uint32_t>(std::min<size_t>({kBatchRows, end - r, chunk_end - r}));
        Alias(ts, r);
      }
      Batch(ts, n);
      r += n;
    }
  }

 private:
  void Alias(ThreadState& ts, size_t row) {
    size_t k = row >> kChunkShift, off = row & (kChunkRows - 1);
    for (size_t s = 0; s < p_.slots.size(); ++s) {
      const Chunk& c = p_.slots[s].column->chunks()[k];
      SlotView& v = ts.views[s];
      v.i64 = c.i64.empty() ? nullptr : c.i64.data() + off;
      v.f64 = c.f64.empty() ? nullptr : c.f64.data() + off;
      v.u32 = c.u32.empty() ? nullptr : c.u32.data() + off;
      v.missing = c.missing.empty() ? nullptr : c.missing.data() + off;
    }
  }

  void Gather(ThreadState& ts, size_t pair, uint32_t n) {
    constexpr uint32_t kMask = kChunkRows - 1;
    for (size_t s = 0; s < p_.slots.size(); ++s) {
      const Column& col = *p_.slots[s].column;
      const uint32_t* rows = (*joined_)[p_.slots[s].input].data() + pair;
      GatherBuf& g = ts.gather[s];
      const Chunk* chunks = col.chunks().data();
      // Type-specialised loops: joined rows are random on one side, so the
      // loads miss cache; prefetching a few rows ahead overlaps the misses.
      constexpr uint32_t kAhead = 16;
      auto gather = [&](auto* dst, auto member) {
        for (uint32_t i = 0; i < n; ++i) {
          if (i + kAhead < n) {
            uint32_t f = rows[i + kAhead];
            __builtin_prefetch((chunks[f >> kChunkShift].*member).data() + (f & kMask));
          }
          dst[i] = (chunks[rows[i] >> kChunkShift].*member).data()[rows[i] & kMask];
        }
      };
      switch (col.type()) {
        case ColumnType::kInt64: gather(g.i64.data(), &Chunk::i64); break;
        case ColumnType::kDouble: gather(g.f64.data(), &Chunk::f64); break;
        default: gather(g.u32.data(), &Chunk::u32);
      }
      if (!g.missing.empty()) {
        for (uint32_t i = 0; i < n; ++i) {
          if (i + kAhead < n) {
            uint32_t f = rows[i + kAhead];
            const Chunk& c = chunks[f >> kChunkShift];
            if (!c.missing.empty()) __builtin_prefetch(c.missing.data() + (f & kMask));
          }
          const Chunk& c = chunks[rows[i] >> kChunkShift];
          g.missing[i] = c.missing.empty() ? 0 : c.missing[rows[i] & kMask];
        }
      }
      SlotView& v = ts.views[s];
      v.i64 = g.i64.data();
      v.f64 = g.f64.data();
      v.u32 = g.u32.data();
      v.missing = g.missing.empty() ? nullptr : g.missing.data();
    }
  }

  void Batch(ThreadState& ts, uint32_t n) {
    BatchView b{n, ts.views.data()};
    uint32_t* sel = ts.sel.data();
    uint32_t m = 0;
    if (p_.filter) {
      const uint8_t* f = p_.filter->EvalBool(b, ts.scratch);
      for (uint32_t i = 0; i < n; ++i) {
        sel[m] = i;
        m += f[i] == kTrue;
      }
      if (m == 0) return;
    } else {
      for (uint32_t i = 0; i < n; ++i) sel[i] = i;
      m = n;
    }
    ComputeKeys(ts, b);
    // Group ids for selected rows.
    uint32_t* gid = ts.gid.data();
    const uint64_t* keys = ts.keys.data();
    if (!ts.direct.empty()) {
      int32_t* d = ts.direct.data();
      for (uint32_t j = 0; j < m; ++j) {
        uint64_t key = keys[sel[j]];
        int32_t g = d[key];
        if (g < 0) {
          g = NewGroup(ts, key);
          if (g < 0) return;
          d[key] = g;
        }
        gid[j] = static_cast<uint32_t>(g);
      }
    } else {
      for (uint32_t j = 0; j < m; ++j) {
        uint64_t key = keys[sel[j]];
        auto it = ts.hashed.find(key);
        if (it == ts.hashed.end()) {
          int32_t g = NewGroup(ts, key);
          if (g < 0) return;
          it = ts.hashed.emplace(key, g).first;
        }
        gid[j] = it->second;
      }
    }
    // Reserve a slot per selected row, then fill column by column.
    GroupList* lists = ts.lists.data();
    Block** bp = ts.blocks.data();
    uint32_t* pos = ts.pos.data();
    for (uint32_t j = 0; j < m; ++j) {
      // The fill count lives in the list, not the block header, so a row
      // touches only its destination lines.
      GroupList& l = lists[gid[j]];
      if (l.tail_n == kBlockRows || l.tail == nullptr) {
        if (l.tail) l.tail->n = kBlockRows;
        Block* blk = ts.arena.New();
        if (l.tail) {
          l.tail->next = blk;
        } else {
          l.head = blk;
        }
        l.tail = blk;
        l.tail_n = 0;
      }
      bp[j] = l.tail;
      pos[j] = l.tail_n++;
      ++l.rows;
    }
    const SlotView& sv = b.slots[p_.subject_slot[0]];
    if (sv.missing) {
      for (uint32_t j = 0; j < m; ++j) {
        uint32_t i = sel[j];
        bp[j]->subjects()[pos[j]] = sv.missing[i] ? kNoSubject : sv.u32[i];
      }
    } else {
      for (uint32_t j = 0; j < m; ++j) bp[j]->subjects()[pos[j]] = sv.u32[sel[j]];
    }
    for (size_t v = 0; v < p_.values.size(); ++v) {
      const ValueSlot& vs = p_.values[v];
      if (vs.is_bool) {
        const uint8_t* c = vs.node->EvalBool(b, ts.scratch);
        static constexpr double kVal[3] = {0.0, 1.0, NAN};
        for (uint32_t j = 0; j < m; ++j) bp[j]->vals(v)[pos[j]] = kVal[c[sel[j]]];
      } else {
        NumOut x = vs.node->EvalNum(b, ts.scratch);
        if (x.miss) {
          for (uint32_t j = 0; j < m; ++j) {
            uint32_t i = sel[j];
            bp[j]->vals(v)[pos[j]] = x.miss[i] ? NAN : x.v[i];
          }
        } else {
          for (uint32_t j = 0; j < m; ++j) bp[j]->vals(v)[pos[j]] = x.v[sel[j]];
        }
      }
    }
  }

  int32_t NewGroup(ThreadState& ts, uint64_t key) {
    if (ts.lists.size() >= max_groups_) {
      ts.too_many = true;
      abort_->store(true);
      return -1;
    }
    ts.group_keys.push_back(key);
    ts.lists.emplace_back();
    return static_cast<int32_t>(ts.lists.size() - 1);
  }

  void ComputeKeys(ThreadState& ts, const BatchView& b) {
    const uint32_t n = b.n;
    uint64_t* keys = ts.keys.data();
    std::fill(keys, keys + n, 0);
    uint32_t* code = ts.codes.data();
    for (const KeyComp& k : p_.keys) {
      switch (k.kind) {
        case GroupKey::Kind::kColumn: {
          const SlotView& v = b.slots[k.slot];
          if (k.type == ColumnType::kCode) {
            for (uint32_t i = 0; i < n; ++i) code[i] = v.u32[i] + 1;
          } else {
            const uint64_t base = static_cast<uint64_t>(k.min) - 1;
            for (uint32_t i = 0; i < n; ++i) {
              code[i] = static_cast<uint32_t>(static_cast<uint64_t>(v.i64[i]) - base);
            }
          }
          if (v.missing) {
            for (uint32_t i = 0; i < n; ++i) code[i] = v.missing[i] ? 0 : code[i];
          }
          break;
        }
        case GroupKey::Kind::kBand: {
          NumOut x = k.value->EvalNum(b, ts.scratch);
          const uint32_t top = k.buckets + 2;
          for (uint32_t i = 0; i < n; ++i) {
            double v = x.v[i];
            uint32_t c;
            if (v < k.lo) {
              c = 1;
            } else if (v >= k.hi) {
              c = top;
            } else {
              c = 2 + std::min<uint32_t>(static_cast<uint32_t>((v - k.lo) / k.width),
                                         k.buckets - 1);
            }
            code[i] = (x.miss && x.miss[i]) || std::isnan(v) ? 0 : c;
          }
          break;
        }
        case GroupKey::Kind::kCase: {
          std::fill(code, code + n, 0u);
          // code 0 doubles as "not decided yet"; labels are codes >= 1.
          for (size_t w = 0; w < k.when.size(); ++w) {
            const uint8_t* t = k.when[w]->EvalBool(b, ts.scratch);
            const uint32_t c = k.when_code[w];
            for (uint32_t i = 0; i < n; ++i) code[i] = (code[i] == 0 && t[i] == kTrue) ? c : code[i];
          }
          for (uint32_t i = 0; i < n; ++i) code[i] = code[i] == 0 ? k.else_code : code[i];
          break;
        }
      }
      const uint64_t stride = k.stride;
      for (uint32_t i = 0; i < n; ++i) keys[i] += code[i] * stride;
    }
  }

  const Prepared& p_;
  const JoinedRows* joined_;
  size_t max_groups_;
  std::atomic<bool>* abort_;
};

// ---------------------------------------------------------------- finalize

// One group's rows from all threads, in scan order, plus a subject order.
// Reused across groups by one finalizing thread (keeps its buffers).
class GroupData {
 public:
  void Load(const std::vector<const GroupList*>& lists, size_t num_values) {
    size_t n = 0;
    for (const GroupList* l : lists) n += l->rows;
    subjects_.resize(n);
    vals_.resize(num_values);
    for (auto& v : vals_) v.resize(n);
    size_t at = 0;
    for (const GroupList* l : lists) {
      for (Block* b = l->head; b != nullptr; b = b->next) {
        const uint32_t bn = b == l->tail ? l->tail_n : kBlockRows;
        std::memcpy(subjects_.data() + at, b->subjects(), bn * sizeof(uint32_t));
        for (size_t v = 0; v < num_values; ++v) {
          std::memcpy(vals_[v].data() + at, b->vals(v), bn * sizeof(double));
        }
        at += bn;
      }
    }
    sorted_ = std::is_sorted(subjects_.begin(), subjects_.end());
    unique_ = true;
    if (!sorted_) {
      keyed_.resize(n);
      uint32_t max_subject = 0;
      for (size_t i = 0; i < n; ++i) {
        keyed_[i] = uint64_t{subjects_[i]} << 32 | i;
        max_subject = std::max(max_subject, subjects_[i]);
      }
      if (n < 256) {
        std::sort(keyed_.begin(), keyed_.end());
      } else {
        RadixSortBySubject(max_subject);
      }
      order_.resize(n);
      for (size_t i = 0; i < n; ++i) order_[i] = static_cast<uint32_t>(keyed_[i]);
    }
    for (size_t k = 1; k < n && unique_; ++k) {
      uint32_t s = subjects_[At(k)];
      unique_ = s != subjects_[At(k - 1)] || s == kNoSubject;
    }
    if (n > 0 && subjects_[At(n - 1)] == kNoSubject) {
      // Rows without a subject form one contributor together.
      unique_ = unique_ && (n < 2 || subjects_[At(n - 2)] != kNoSubject);
    }
  }

  size_t rows() const { return subjects_.size(); }
  // Row index of the k-th row in subject order.
  uint32_t At(size_t k) const { return sorted_ ? static_cast<uint32_t>(k) : order_[k]; }
  const std::vector<double>& vals(int v) const { return vals_[v]; }

  // Distinct subjects of rows satisfying pred; `count_rows` receives the
  // number of satisfying rows.
  template <typename Pred>
  std::vector<uint32_t> Population(Pred pred, size_t* count_rows) const {
    // Collect in a reused buffer, then allocate the result once, exactly.
    std::vector<uint32_t>& ids = ids_scratch_;
    ids.clear();
    size_t c = 0;
    for (size_t k = 0; k < subjects_.size(); ++k) {
      uint32_t r = At(k);
      if (!pred(r)) continue;
      ++c;
      uint32_t s = subjects_[r];
      if (s == kNoSubject) continue;
      if (ids.empty() || ids.back() != s) ids.push_back(s);
    }
    *count_rows = c;
    return std::vector<uint32_t>(ids.begin(), ids.end());
  }

  // Per-subject totals of x over rows where pred holds. Rows without a
  // subject count as one contributor together.
  template <typename Pred>
  Contributions Contribute(const std::vector<double>& x, Pred pred) const {
    Contributions c;
    double top1 = 0, top2 = 0, total = 0;
    uint64_t count = 0;
    auto add = [&](double t) {
      double a = std::fabs(t);
      ++count;
      total += a;
      if (a > top1) {
        top2 = top1;
        top1 = a;
      } else if (a > top2) {
        top2 = a;
      }
    };
    const size_t n = subjects_.size();
    if (unique_) {
      for (size_t r = 0; r < n; ++r) {
        if (pred(static_cast<uint32_t>(r))) add(x[r]);
      }
    } else {
      size_t k = 0;
      while (k < n) {
        uint32_t s = subjects_[At(k)];
        double sum = 0;
        bool any = false;
        for (; k < n && subjects_[At(k)] == s; ++k) {
          uint32_t r = At(k);
          if (pred(r)) {
            sum += x[r];
            any = true;
          }
        }
        if (any) add(sum);
      }
    }
    c.contributors = count;
    c.top1 = top1;
    c.top2 = top2;
    c.total = total;
    return c;
  }

 private:
  std::vector<uint32_t> subjects_;
  std::vector<std::vector<double>> vals_;
  bool sorted_ = true;
  bool unique_ = true;
  std::vector<uint64_t> keyed_;
  std::vector<uint32_t> order_;
  mutable std::vector<uint32_t> ids_scratch_;
  std::vector<uint64_t> radix_tmp_;

  // Stable LSD radix sort of keyed_ by its upper 32 bits (the subject),
  // 11 bits per pass: unsorted groups are common when pupils' ids do not
  // follow the row order, and comparison sorting dominated finalizing.
  void RadixSortBySubject(uint32_t max_subject) {
    const int bits = max_subject == 0 ? 1 : 32 - __builtin_clz(max_subject);
    radix_tmp_.resize(keyed_.size());
    uint32_t counts[2048];
    for (int shift = 32; shift < 32 + bits; shift += 11) {
      std::fill(std::begin(counts), std::end(counts), 0u);
      for (uint64_t k : keyed_) ++counts[(k >> shift) & 2047];
      uint32_t sum = 0;
      for (uint32_t& c : counts) {
        uint32_t t = c;
        c = sum;
        sum += t;
      }
      for (uint64_t k : keyed_) radix_tmp_[counts[(k >> shift) & 2047]++] = k;
      keyed_.swap(radix_tmp_);
    }
  }
};

// Sum of non-NaN values; four accumulators break the add latency chain.
double SumPresent(const std::vector<double>& x) {
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  size_t i = 0;
  const size_t n = x.size();
  for (; i + 4 <= n; i += 4) {
    s0 += std::isnan(x[i]) ? 0.0 : x[i];
    s1 += std::isnan(x[i + 1]) ? 0.0 : x[i + 1];
    s2 += std::isnan(x[i + 2]) ? 0.0 : x[i + 2];
    s3 += std::isnan(x[i + 3]) ? 0.0 : x[i + 3];
  }
  for (; i < n; ++i) s0 += std::isnan(x[i]) ? 0.0 : x[i];
  return (s0 + s1) + (s2 + s3);
}

// k-th smallest (0-based) of xs and, when want_next, the (k+1)-th.
// Values are first spread over linear buckets between min and max (a
// monotone map), so only the bucket holding rank k is selected exactly:
// three cheap passes instead of introselect's unpredictable partitions.
std::pair<double, double> SelectRank(std::vector<double>& xs, size_t k, bool want_next,
                                     std::vector<uint32_t>& counts, std::vector<double>& bucket) {
  const size_t m = xs.size();
  auto exact = [&]() -> std::pair<double, double> {
    std::nth_element(xs.begin(), xs.begin() + k, xs.end());
    double a = xs[k];
    double b = want_next ? *std::min_element(xs.begin() + k + 1, xs.end()) : a;
    return {a, b};
  };
  if (m < 16) return exact();
  double mn = xs[0], mx = xs[0];
  for (double v : xs) {
    mn = std::min(mn, v);
    mx = std::max(mx, v);
  }
  if (mn == mx) return {mn, mn};
  const double range = mx - mn;
  if (!std::isfinite(range)) return exact();
  const size_t nb = std::min<size_t>(4096, m);
  const double scale = static_cast<double>(nb) / range;
  auto index = [&](double v) {
    return std::min<size_t>(nb - 1, static_cast<size_t>((v - mn) * scale));
  };
  counts.assign(nb, 0);
  for (double v : xs) ++counts[index(v)];
  size_t b = 0, before = 0;
  while (before + counts[b] <= k) before += counts[b++];
  bucket.clear();
  for (double v : xs) {
    if (index(v) == b) bucket.push_back(v);
  }
  const size_t r = k - before;
  std::nth_element(bucket.begin(), bucket.begin() + r, bucket.end());
  double a = bucket[r];
  if (!want_next) return {a, a};
  if (r + 1 < bucket.size()) return {a, *std::min_element(bucket.begin() + r + 1, bucket.end())};
  size_t b2 = b + 1;
  while (counts[b2] == 0) ++b2;  // exists: rank k + 1 < m
  double next = mx;
  for (double v : xs) {
    if (index(v) == b2) next = std::min(next, v);
  }
  return {a, next};
}

// Continuous percentile with linear interpolation (PostgreSQL
// percentile_cont). xs is reordered.
double Percentile(std::vector<double>& xs, double p, std::vector<uint32_t>& counts,
                  std::vector<double>& bucket) {
  const size_t m = xs.size();
  double pos = p * static_cast<double>(m - 1);
  size_t lo = static_cast<size_t>(std::floor(pos));
  if (lo >= m) lo = m - 1;
  double frac = pos - static_cast<double>(lo);
  bool want_next = frac > 0 && lo + 1 < m;
  auto [a, b] = SelectRank(xs, lo, want_next, counts, bucket);
  return want_next ? a + frac * (b - a) : a;
}

ResultRow Finalize(const Prepared& p, const GroupData& g) {
  ResultRow row;
  const size_t n = g.rows();
  row.rows = n;
  size_t cnt;
  auto all = std::make_shared<const SubjectSet>(g.Population([](uint32_t) { return true; }, &cnt));
  row.population = all;
  std::map<std::string, std::pair<std::shared_ptr<const SubjectSet>, size_t>> pops;
  // Builds (or reuses) the population of rows satisfying pred.
  auto pop = [&](const std::string& key, auto pred) {
    auto it = pops.find(key);
    if (it != pops.end()) return it->second;
    size_t rows_ok;
    auto bm = std::make_shared<const SubjectSet>(g.Population(pred, &rows_ok));
    std::pair<std::shared_ptr<const SubjectSet>, size_t> r{bm, rows_ok};
    if (rows_ok == n) r.first = all;  // same set: share it
    pops[key] = r;
    return r;
  };
  std::vector<double> tmp, bucket;
  std::vector<uint32_t> counts;
  for (const AggPrep& a : p.aggs) {
    AggregateValue out;
    const std::vector<double>* x = a.v >= 0 ? &g.vals(a.v) : nullptr;
    auto present = [x](uint32_t r) { return !std::isnan((*x)[r]); };
    switch (a.kind) {
      case Aggregate::Kind::kCountStar:
        out.missing = false;
        out.value = static_cast<double>(n);
        out.population = all;
        break;
      case Aggregate::Kind::kCountDistinctSubject:
        out.missing = false;
        out.value = static_cast<double>(all->Cardinality());
        out.population = all;
        break;
      case Aggregate::Kind::kCount: {
        // x holds 1 where the argument is present.
        auto [bm, c] = pop(absl::StrCat("t", a.v), [x](uint32_t r) { return (*x)[r] == 1.0; });
        out.missing = false;
        out.value = static_cast<double>(c);
        out.population = bm;
        break;
      }
      case Aggregate::Kind::kSum:
      case Aggregate::Kind::kAvg:
      case Aggregate::Kind::kStddev: {
        auto [bm, m] = pop(absl::StrCat("v", a.v), present);
        out.population = bm;
        const double sum = SumPresent(*x);
        if (a.kind == Aggregate::Kind::kSum && m > 0) {
          out.missing = false;
          out.value = sum;
        } else if (a.kind == Aggregate::Kind::kAvg && m > 0) {
          out.missing = false;
          out.value = sum / static_cast<double>(m);
        } else if (a.kind == Aggregate::Kind::kStddev && m > 1) {
          double mean = sum / static_cast<double>(m), ss = 0;
          for (double v : *x) {
            if (!std::isnan(v)) ss += (v - mean) * (v - mean);
          }
          out.missing = false;
          out.value = std::sqrt(ss / static_cast<double>(m - 1));
        }
        out.has_contributions = true;
        out.contributions = g.Contribute(*x, present);
        break;
      }
      case Aggregate::Kind::kMedian:
      case Aggregate::Kind::kPercentile: {
        auto [bm, m] = pop(absl::StrCat("v", a.v), present);
        out.population = bm;
        tmp.clear();
        for (double v : *x) {
          if (!std::isnan(v)) tmp.push_back(v);
        }
        if (!tmp.empty()) {
          out.missing = false;
          out.value = Percentile(tmp, a.p, counts, bucket);
        }
        break;
      }
      case Aggregate::Kind::kProportion: {
        auto [num_bm, num] = pop(absl::StrCat("t", a.v), [x](uint32_t r) { return (*x)[r] == 1.0; });
        auto [den_bm, den] = pop(absl::StrCat("v", a.v), present);
        out.population = num_bm;
        out.denominator_population = den_bm;
        double nn = static_cast<double>(a.by_subject ? num_bm->Cardinality() : num);
        double dd = static_cast<double>(a.by_subject ? den_bm->Cardinality() : den);
        if (dd > 0) {
          out.missing = false;
          out.value = nn / dd;
        }
        break;
      }
      case Aggregate::Kind::kRate: {
        const std::vector<double>* y = &g.vals(a.v2);
        auto both = [x, y](uint32_t r) { return !std::isnan((*x)[r]) && !std::isnan((*y)[r]); };
        auto [den_bm, m] = pop(absl::StrCat("r", a.v, ",", a.v2), both);
        auto [num_bm, unused] = pop(absl::StrCat("rn", a.v, ",", a.v2), [&](uint32_t r) {
          return both(r) && (*x)[r] != 0;
        });
        (void)unused;
        out.population = num_bm;
        out.denominator_population = den_bm;
        double sn = 0, sd = 0;
        for (size_t r = 0; r < n; ++r) {
          if (both(static_cast<uint32_t>(r))) {
            sn += (*x)[r];
            sd += (*y)[r];
          }
        }
        if (m > 0 && sd != 0) {
          out.missing = false;
          out.value = sn / sd;
        }
        out.has_contributions = true;
        out.contributions = g.Contribute(*x, both);
        break;
      }
    }
    row.aggregates.push_back(std::move(out));
  }
  return row;
}

std::string KeyLabel(const KeyComp& k, uint64_t code) {
  if (k.kind == GroupKey::Kind::kColumn) {
    if (k.type == ColumnType::kCode) return k.column->dictionary()[code - 1];
    return absl::StrCat(k.min + static_cast<int64_t>(code) - 1);
  }
  return k.labels[code - 1];
}

}  // namespace

absl::StatusOr<Result> Execute(const Plan& plan, absl::Span<const Table* const> tables,
                               const Options& options) {
  if (plan.inputs.empty()) return absl::InvalidArgumentError("plan has no inputs");
  if (tables.size() != plan.inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat("plan has ", plan.inputs.size(),
                                                   " inputs but ", tables.size(),
                                                   " tables were given"));
  }
  for (size_t i = 0; i < tables.size(); ++i) {
    if (tables[i] == nullptr) return absl::InvalidArgumentError(absl::StrCat("input ", i, " is null"));
  }
  if (options.threads < 1 || options.threads > 64) {
    return absl::InvalidArgumentError("options.threads must be in 1..64");
  }
  auto prepared = Prepare(plan, tables);
  if (!prepared.ok()) return prepared.status();
  const Prepared& p = *prepared;
  const int threads = options.threads;

  ExecStats stats;
  auto t0 = std::chrono::steady_clock::now();
  auto lap = [&t0] {
    auto now = std::chrono::steady_clock::now();
    double s = std::chrono::duration<double>(now - t0).count();
    t0 = now;
    return s;
  };
  std::unique_ptr<JoinedRows> joined;
  size_t total_rows = tables[0]->num_rows();
  if (tables.size() > 1) {
    joined = std::make_unique<JoinedRows>(1);
    (*joined)[0].resize(tables[0]->num_rows());
    for (size_t r = 0; r < tables[0]->num_rows(); ++r) (*joined)[0][r] = static_cast<uint32_t>(r);
    for (size_t i = 1; i < tables.size(); ++i) {
      absl::Status s = JoinInput(plan, tables, i, threads, *joined);
      if (!s.ok()) return s;
    }
    total_rows = (*joined)[0].size();
    stats.join_seconds = lap();
  }

  // Scan: contiguous row ranges per thread so concatenating thread parts in
  // thread order keeps scan order (sorted subjects stay sorted).
  std::atomic<bool> abort{false};
  std::vector<std::unique_ptr<ThreadState>> states;
  for (int t = 0; t < threads; ++t) {
    states.push_back(std::make_unique<ThreadState>(p.num_nodes, p.values.size()));
  }
  Scanner scanner(p, joined.get(), options.max_groups, &abort);
  ParallelFor(threads, [&](int t) {
    scanner.Run(*states[t], total_rows * t / threads, total_rows * (t + 1) / threads);
  });
  stats.scan_seconds = lap();
  stats.rows_scanned = total_rows;
  if (abort.load()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many groups: the query makes more than ", options.max_groups));
  }

  // Merge thread-local groups by key.
  absl::flat_hash_map<uint64_t, uint32_t> global;
  std::vector<uint64_t> gkeys;
  std::vector<std::vector<const GroupList*>> gparts;
  for (int t = 0; t < threads; ++t) {
    ThreadState& ts = *states[t];
    for (size_t g = 0; g < ts.lists.size(); ++g) {
      auto [it, inserted] = global.try_emplace(ts.group_keys[g], gkeys.size());
      if (inserted) {
        gkeys.push_back(ts.group_keys[g]);
        gparts.emplace_back();
      }
      gparts[it->second].push_back(&ts.lists[g]);
    }
  }
  if (gkeys.size() > options.max_groups) {
    return absl::ResourceExhaustedError(
        absl::StrCat("too many groups: the query makes more than ", options.max_groups));
  }
  GroupList empty_list;
  if (p.keys.empty() && gkeys.empty()) {
    // A global aggregate has one row even over no input rows.
    gkeys.push_back(0);
    gparts.push_back({&empty_list});
  }

  // Finalize groups in parallel.
  std::vector<ResultRow> rows(gkeys.size());
  std::atomic<size_t> next{0};
  ParallelFor(threads, [&](int) {
    GroupData data;
    for (size_t g; (g = next.fetch_add(1)) < gkeys.size();) {
      data.Load(gparts[g], p.values.size());
      rows[g] = Finalize(p, data);
    }
  });

  stats.finalize_seconds = lap();
  // Labels and order.
  Result result;
  for (const GroupKey& k : plan.group_keys) result.key_names.push_back(k.name);
  for (const Aggregate& a : plan.aggregates) result.aggregate_names.push_back(a.name);
  auto code_of = [&](uint64_t key, const KeyComp& k) { return (key / k.stride) % k.card; };
  std::vector<size_t> idx(gkeys.size());
  for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
  std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
    for (const KeyComp& k : p.keys) {
      uint64_t ca = code_of(gkeys[a], k), cb = code_of(gkeys[b], k);
      if (ca == cb) continue;
      if (ca == 0 || cb == 0) return ca == 0;
      if (k.kind == GroupKey::Kind::kColumn && k.type == ColumnType::kCode) {
        return k.column->dictionary()[ca - 1] < k.column->dictionary()[cb - 1];
      }
      return ca < cb;
    }
    return false;
  });
  result.rows.reserve(idx.size());
  for (size_t i : idx) {
    ResultRow& r = rows[i];
    for (const KeyComp& k : p.keys) {
      uint64_t c = code_of(gkeys[i], k);
      KeyValue kv;
      kv.missing = c == 0;
      if (c != 0) kv.label = KeyLabel(k, c);
      r.keys.push_back(std::move(kv));
    }
    result.rows.push_back(std::move(r));
  }
  result.stats = stats;
  return result;
}

}  // namespace datalab::engine
