#include "services/query/engine/evaluator.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace datalab::engine::internal {
namespace {

enum class VType { kNum, kBool, kCode, kSubject, kString };

const char* VTypeName(VType t) {
  switch (t) {
    case VType::kNum: return "number";
    case VType::kBool: return "condition";
    case VType::kCode: return "string column";
    case VType::kSubject: return "subject column";
    case VType::kString: return "string literal";
  }
  return "?";
}

struct Typed {
  std::unique_ptr<Node> node;
  VType type = VType::kNum;
  int slot = -1;
  const Column* column = nullptr;
  std::string str;           // kString
  bool is_const = false;     // numeric literal
  double const_value = 0;
};

absl::Status Bad(const std::string& where, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
}

// ---- numeric nodes ----

class NumColumnNode : public Node {
 public:
  NumColumnNode(int id, int slot, bool is_int) : Node(id), slot_(slot), is_int_(is_int) {}
  NumOut EvalNum(const BatchView& b, EvalScratch& s) const override {
    const SlotView& v = b.slots[slot_];
    if (!is_int_) return {v.f64, v.missing};
    double* out = s.Doubles(id());
    for (uint32_t i = 0; i < b.n; ++i) out[i] = static_cast<double>(v.i64[i]);
    return {out, v.missing};
  }
  const uint8_t* EvalMissing(const BatchView& b, EvalScratch&) const override {
    return b.slots[slot_].missing;
  }

 private:
  int slot_;
  bool is_int_;
};

class NumConstNode : public Node {
 public:
  NumConstNode(int id, double v) : Node(id), v_(v) {}
  NumOut EvalNum(const BatchView& b, EvalScratch& s) const override {
    double* out = s.Doubles(id());
    std::fill(out, out + b.n, v_);
    return {out, nullptr};
  }
  const uint8_t* EvalMissing(const BatchView&, EvalScratch&) const override { return nullptr; }

 private:
  double v_;
};

class ArithNode : public Node {
 public:
  ArithNode(int id, ArithOp op, std::unique_ptr<Node> a, std::unique_ptr<Node> b)
      : Node(id), op_(op), a_(std::move(a)), b_(std::move(b)) {}
  NumOut EvalNum(const BatchView& b, EvalScratch& s) const override {
    NumOut x = a_->EvalNum(b, s);
    NumOut y = b_->EvalNum(b, s);
    double* out = s.Doubles(id());
    uint8_t* miss = s.Bytes(id());
    const uint32_t n = b.n;
    switch (op_) {
      case ArithOp::kAdd:
        for (uint32_t i = 0; i < n; ++i) out[i] = x.v[i] + y.v[i];
        break;
      case ArithOp::kSub:
        for (uint32_t i = 0; i < n; ++i) out[i] = x.v[i] - y.v[i];
        break;
      case ArithOp::kMul:
        for (uint32_t i = 0; i < n; ++i) out[i] = x.v[i] * y.v[i];
        break;
      case ArithOp::kDiv:
        for (uint32_t i = 0; i < n; ++i) out[i] = y.v[i] == 0 ? NAN : x.v[i] / y.v[i];
        break;
    }
    // NaN covers division by zero and inf-inf style results: all missing.
    for (uint32_t i = 0; i < n; ++i) {
      miss[i] = static_cast<uint8_t>((x.miss ? x.miss[i] : 0) | (y.miss ? y.miss[i] : 0) |
                                     (std::isnan(out[i]) ? 1 : 0));
    }
    return {out, miss};
  }
  const uint8_t* EvalMissing(const BatchView& b, EvalScratch& s) const override {
    return EvalNum(b, s).miss;
  }

 private:
  ArithOp op_;
  std::unique_ptr<Node> a_, b_;
};

template <typename F>
void CompareLoop(const NumOut& x, const NumOut& y, uint32_t n, uint8_t* out, F f) {
  for (uint32_t i = 0; i < n; ++i) out[i] = f(x.v[i], y.v[i]) ? kTrue : kFalse;
  if (x.miss) {
    for (uint32_t i = 0; i < n; ++i) out[i] = x.miss[i] ? kUnknown : out[i];
  }
  if (y.miss) {
    for (uint32_t i = 0; i < n; ++i) out[i] = y.miss[i] ? kUnknown : out[i];
  }
}

template <typename F>
void CompareConstLoop(const NumOut& x, double c, uint32_t n, uint8_t* out, F f) {
  for (uint32_t i = 0; i < n; ++i) out[i] = f(x.v[i], c) ? kTrue : kFalse;
  if (x.miss) {
    for (uint32_t i = 0; i < n; ++i) out[i] = x.miss[i] ? kUnknown : out[i];
  }
}

template <typename Fn>
void DispatchCompare(CompareOp op, Fn&& fn) {
  switch (op) {
    case CompareOp::kEq: return fn([](double a, double b) { return a == b; });
    case CompareOp::kNe: return fn([](double a, double b) { return a != b; });
    case CompareOp::kLt: return fn([](double a, double b) { return a < b; });
    case CompareOp::kLe: return fn([](double a, double b) { return a <= b; });
    case CompareOp::kGt: return fn([](double a, double b) { return a > b; });
    case CompareOp::kGe: return fn([](double a, double b) { return a >= b; });
  }
}

class NumCompareNode : public Node {
 public:
  NumCompareNode(int id, CompareOp op, std::unique_ptr<Node> a, std::unique_ptr<Node> b,
                 bool b_const, double c)
      : Node(id), op_(op), a_(std::move(a)), b_(std::move(b)), b_const_(b_const), c_(c) {}
  const uint8_t* EvalBool(const BatchView& b, EvalScratch& s) const override {
    uint8_t* out = s.Bytes(id());
    NumOut x = a_->EvalNum(b, s);
    if (b_const_) {
      DispatchCompare(op_, [&](auto f) { CompareConstLoop(x, c_, b.n, out, f); });
    } else {
      NumOut y = b_->EvalNum(b, s);
      DispatchCompare(op_, [&](auto f) { CompareLoop(x, y, b.n, out, f); });
    }
    return out;
  }

 private:
  CompareOp op_;
  std::unique_ptr<Node> a_, b_;
  bool b_const_;
  double c_;
};

class NumInNode : public Node {
 public:
  NumInNode(int id, std::unique_ptr<Node> a, std::vector<double> set)
      : Node(id), a_(std::move(a)), set_(std::move(set)) {
    std::sort(set_.begin(), set_.end());
  }
  const uint8_t* EvalBool(const BatchView& b, EvalScratch& s) const override {
    uint8_t* out = s.Bytes(id());
    NumOut x = a_->EvalNum(b, s);
    for (uint32_t i = 0; i < b.n; ++i) {
      if (x.miss && x.miss[i]) {
        out[i] = kUnknown;
      } else {
        out[i] = std::binary_search(set_.begin(), set_.end(), x.v[i]) ? kTrue : kFalse;
      }
    }
    return out;
  }

 private:
  std::unique_ptr<Node> a_;
  std::vector<double> set_;
};

class NumBetweenNode : public Node {
 public:
  NumBetweenNode(int id, std::unique_ptr<Node> a, std::unique_ptr<Node> lo,
                 std::unique_ptr<Node> hi)
      : Node(id), a_(std::move(a)), lo_(std::move(lo)), hi_(std::move(hi)) {}
  const uint8_t* EvalBool(const BatchView& b, EvalScratch& s) const override {
    uint8_t* out = s.Bytes(id());
    NumOut x = a_->EvalNum(b, s);
    NumOut l = lo_->EvalNum(b, s);
    NumOut h = hi_->EvalNum(b, s);
    for (uint32_t i = 0; i < b.n; ++i) {
      // Kleene AND of (x >= lo) and (x <= hi).
      uint8_t ge = (x.miss && x.miss[i]) || (l.miss && l.miss[i]) ? kUnknown
                   : x.v[i] >= l.v[i]                              ? kTrue
                                                                   : kFalse;
      uint8_t le = (x.miss && x.miss[i]) || (h.miss && h.miss[i]) ? kUnknown
                   : x.v[i] <= h.v[i]                              ? kTrue
                                                                   : kFalse;
      out[i] = (ge == kFalse || le == kFalse) ? kFalse
               : (ge == kUnknown || le == kUnknown) ? kUnknown
                                                    : kTrue;
    }
    return out;
  }

 private:
  std::unique_ptr<Node> a_, lo_, hi_;
};

// ---- code / subject column nodes ----

class RefColumnNode : public Node {
 public:
  RefColumnNode(int id, int slot) : Node(id), slot_(slot) {}
  const uint8_t* EvalMissing(const BatchView& b, EvalScratch&) const override {
    return b.slots[slot_].missing;
  }

 private:
  int slot_;
};

// Any predicate over one CODE column, precomputed per dictionary code.
class CodeLookupNode : public Node {
 public:
  CodeLookupNode(int id, int slot, std::vector<uint8_t> table)
      : Node(id), slot_(slot), table_(std::move(table)) {}
  const uint8_t* EvalBool(const BatchView& b, EvalScratch& s) const override {
    uint8_t* out = s.Bytes(id());
    const SlotView& v = b.slots[slot_];
    const uint8_t* t = table_.data();
    for (uint32_t i = 0; i < b.n; ++i) out[i] = t[v.u32[i]];
    if (v.missing) {
      for (uint32_t i = 0; i < b.n; ++i) out[i] = v.missing[i] ? kUnknown : out[i];
    }
    return out;
  }

 private:
  int slot_;
  std::vector<uint8_t> table_;
};

// ---- boolean nodes ----

class IsNullNode : public Node {
 public:
  IsNullNode(int id, std::unique_ptr<Node> a, bool negate)
      : Node(id), a_(std::move(a)), negate_(negate) {}
  const uint8_t* EvalBool(const BatchView& b, EvalScratch& s) const override {
    uint8_t* out = s.Bytes(id());
    const uint8_t* m = a_->EvalMissing(b, s);
    const uint8_t yes = negate_ ? kFalse : kTrue, no = negate_ ? kTrue : kFalse;
    if (m == nullptr) {
      std::fill(out, out + b.n, no);
    } else {
      for (uint32_t i = 0; i < b.n; ++i) out[i] = m[i] ? yes : no;
    }
    return out;
  }

 private:
  std::unique_ptr<Node> a_;
  bool negate_;
};

class LogicNode : public Node {
 public:
  LogicNode(int id, bool is_and, std::vector<std::unique_ptr<Node>> terms)
      : Node(id), is_and_(is_and), terms_(std::move(terms)) {}
  const uint8_t* EvalBool(const BatchView& b, EvalScratch& s) const override {
    uint8_t* out = s.Bytes(id());
    const uint8_t* first = terms_[0]->EvalBool(b, s);
    std::copy(first, first + b.n, out);
    // With 0=FALSE, 1=TRUE, 2=UNKNOWN, Kleene logic is a lookup.
    static constexpr uint8_t kAndT[3][3] = {{0, 0, 0}, {0, 1, 2}, {0, 2, 2}};
    static constexpr uint8_t kOrT[3][3] = {{0, 1, 2}, {1, 1, 1}, {2, 1, 2}};
    const auto& t = is_and_ ? kAndT : kOrT;
    for (size_t k = 1; k < terms_.size(); ++k) {
      const uint8_t* x = terms_[k]->EvalBool(b, s);
      for (uint32_t i = 0; i < b.n; ++i) out[i] = t[out[i]][x[i]];
    }
    return out;
  }

 private:
  bool is_and_;
  std::vector<std::unique_ptr<Node>> terms_;
};

class NotNode : public Node {
 public:
  NotNode(int id, std::unique_ptr<Node> a) : Node(id), a_(std::move(a)) {}
  const uint8_t* EvalBool(const BatchView& b, EvalScratch& s) const override {
    uint8_t* out = s.Bytes(id());
    const uint8_t* x = a_->EvalBool(b, s);
    static constexpr uint8_t kNotT[3] = {1, 0, 2};
    for (uint32_t i = 0; i < b.n; ++i) out[i] = kNotT[x[i]];
    return out;
  }

 private:
  std::unique_ptr<Node> a_;
};

// ---- compiler ----

bool CompareStrings(CompareOp op, std::string_view a, std::string_view b) {
  int c = a.compare(b);
  switch (op) {
    case CompareOp::kEq: return c == 0;
    case CompareOp::kNe: return c != 0;
    case CompareOp::kLt: return c < 0;
    case CompareOp::kLe: return c <= 0;
    case CompareOp::kGt: return c > 0;
    case CompareOp::kGe: return c >= 0;
  }
  return false;
}

CompareOp Flip(CompareOp op) {
  switch (op) {
    case CompareOp::kLt: return CompareOp::kGt;
    case CompareOp::kLe: return CompareOp::kGe;
    case CompareOp::kGt: return CompareOp::kLt;
    case CompareOp::kGe: return CompareOp::kLe;
    default: return op;
  }
}

template <typename Pred>
std::unique_ptr<Node> MakeLookup(CompileContext& ctx, const Typed& col, Pred pred) {
  const auto& dict = col.column->dictionary();
  std::vector<uint8_t> table(std::max<size_t>(dict.size(), 1), kFalse);
  for (size_t c = 0; c < dict.size(); ++c) table[c] = pred(dict[c]) ? kTrue : kFalse;
  return std::make_unique<CodeLookupNode>(ctx.NewNodeId(), col.slot, std::move(table));
}

absl::StatusOr<Typed> CompileAny(const Expr& e, CompileContext& ctx, const std::string& where);

absl::StatusOr<std::unique_ptr<Node>> ExpectNum(Typed t, const std::string& where,
                                                const std::string& what) {
  if (t.type != VType::kNum) {
    return Bad(where, absl::StrCat(what, " must be a number, not a ", VTypeName(t.type)));
  }
  return std::move(t.node);
}

absl::StatusOr<std::unique_ptr<Node>> ExpectBool(Typed t, const std::string& where,
                                                 const std::string& what) {
  if (t.type != VType::kBool) {
    return Bad(where, absl::StrCat(what, " must be a condition, not a ", VTypeName(t.type)));
  }
  return std::move(t.node);
}

absl::StatusOr<Typed> CompileAny(const Expr& e, CompileContext& ctx, const std::string& where) {
  Typed out;
  auto child = [&](size_t i) -> absl::StatusOr<Typed> {
    if (i >= e.children.size() || e.children[i] == nullptr) {
      return Bad(where, absl::StrCat("expression ", e.ToString(), " lacks operand ", i + 1));
    }
    return CompileAny(*e.children[i], ctx, where);
  };
  switch (e.kind) {
    case Expr::Kind::kColumn: {
      auto slot = ctx.BindColumn(e.column, where);
      if (!slot.ok()) return slot.status();
      out.slot = *slot;
      out.column = ctx.slots()[*slot].column;
      switch (out.column->type()) {
        case ColumnType::kInt64:
        case ColumnType::kDouble:
          out.type = VType::kNum;
          out.node = std::make_unique<NumColumnNode>(ctx.NewNodeId(), out.slot,
                                                     out.column->type() == ColumnType::kInt64);
          break;
        case ColumnType::kCode:
          out.type = VType::kCode;
          out.node = std::make_unique<RefColumnNode>(ctx.NewNodeId(), out.slot);
          break;
        case ColumnType::kSubject:
          out.type = VType::kSubject;
          out.node = std::make_unique<RefColumnNode>(ctx.NewNodeId(), out.slot);
          break;
      }
      return out;
    }
    case Expr::Kind::kLiteral: {
      if (const auto* s = std::get_if<std::string>(&e.literal)) {
        out.type = VType::kString;
        out.str = *s;
        return out;
      }
      out.type = VType::kNum;
      out.is_const = true;
      out.const_value = std::holds_alternative<int64_t>(e.literal)
                            ? static_cast<double>(std::get<int64_t>(e.literal))
                            : std::get<double>(e.literal);
      out.node = std::make_unique<NumConstNode>(ctx.NewNodeId(), out.const_value);
      return out;
    }
    case Expr::Kind::kCompare: {
      auto a = child(0);
      if (!a.ok()) return a.status();
      auto b = child(1);
      if (!b.ok()) return b.status();
      out.type = VType::kBool;
      CompareOp op = e.compare;
      if (a->type == VType::kString && b->type == VType::kCode) {
        std::swap(*a, *b);
        op = Flip(op);
      }
      if (a->type == VType::kCode && b->type == VType::kString) {
        std::string lit = b->str;
        out.node = MakeLookup(ctx, *a, [&](const std::string& v) {
          return CompareStrings(op, v, lit);
        });
        return out;
      }
      if (a->type == VType::kNum && b->type == VType::kNum) {
        if (a->is_const && !b->is_const) {
          std::swap(*a, *b);
          op = Flip(op);
        }
        bool c = b->is_const;
        double cv = b->const_value;
        out.node = std::make_unique<NumCompareNode>(ctx.NewNodeId(), op, std::move(a->node),
                                                    std::move(b->node), c, cv);
        return out;
      }
      return Bad(where, absl::StrCat("cannot compare a ", VTypeName(a->type), " with a ",
                                     VTypeName(b->type), " in ", e.ToString()));
    }
    case Expr::Kind::kIn: {
      auto a = child(0);
      if (!a.ok()) return a.status();
      out.type = VType::kBool;
      if (a->type == VType::kCode) {
        std::vector<std::string> set;
        for (const Literal& l : e.in_set) {
          const auto* s = std::get_if<std::string>(&l);
          if (s == nullptr) return Bad(where, absl::StrCat("IN list of ", e.ToString(), " must hold strings"));
          set.push_back(*s);
        }
        std::sort(set.begin(), set.end());
        out.node = MakeLookup(ctx, *a, [&](const std::string& v) {
          return std::binary_search(set.begin(), set.end(), v);
        });
        return out;
      }
      if (a->type == VType::kNum) {
        std::vector<double> set;
        for (const Literal& l : e.in_set) {
          if (const auto* i = std::get_if<int64_t>(&l)) {
            set.push_back(static_cast<double>(*i));
          } else if (const auto* d = std::get_if<double>(&l)) {
            set.push_back(*d);
          } else {
            return Bad(where, absl::StrCat("IN list of ", e.ToString(), " must hold numbers"));
          }
        }
        out.node = std::make_unique<NumInNode>(ctx.NewNodeId(), std::move(a->node), std::move(set));
        return out;
      }
      return Bad(where, absl::StrCat("IN needs a number or string column, not a ",
                                     VTypeName(a->type)));
    }
    case Expr::Kind::kBetween: {
      auto a = child(0);
      if (!a.ok()) return a.status();
      auto lo = child(1);
      if (!lo.ok()) return lo.status();
      auto hi = child(2);
      if (!hi.ok()) return hi.status();
      out.type = VType::kBool;
      if (a->type == VType::kCode && lo->type == VType::kString && hi->type == VType::kString) {
        std::string l = lo->str, h = hi->str;
        out.node = MakeLookup(ctx, *a, [&](const std::string& v) { return v >= l && v <= h; });
        return out;
      }
      if (a->type == VType::kNum && lo->type == VType::kNum && hi->type == VType::kNum) {
        out.node = std::make_unique<NumBetweenNode>(ctx.NewNodeId(), std::move(a->node),
                                                    std::move(lo->node), std::move(hi->node));
        return out;
      }
      return Bad(where, absl::StrCat("BETWEEN operands do not match in ", e.ToString()));
    }
    case Expr::Kind::kIsNull:
    case Expr::Kind::kIsNotNull: {
      auto a = child(0);
      if (!a.ok()) return a.status();
      if (a->type == VType::kString || a->type == VType::kBool) {
        return Bad(where, absl::StrCat("IS NULL needs a column or number, not a ",
                                       VTypeName(a->type)));
      }
      out.type = VType::kBool;
      out.node = std::make_unique<IsNullNode>(ctx.NewNodeId(), std::move(a->node),
                                              e.kind == Expr::Kind::kIsNotNull);
      return out;
    }
    case Expr::Kind::kAnd:
    case Expr::Kind::kOr: {
      if (e.children.empty()) return Bad(where, "AND/OR without operands");
      std::vector<std::unique_ptr<Node>> terms;
      for (size_t i = 0; i < e.children.size(); ++i) {
        auto t = child(i);
        if (!t.ok()) return t.status();
        auto n = ExpectBool(std::move(*t), where, "an AND/OR operand");
        if (!n.ok()) return n.status();
        terms.push_back(std::move(*n));
      }
      out.type = VType::kBool;
      out.node = std::make_unique<LogicNode>(ctx.NewNodeId(), e.kind == Expr::Kind::kAnd,
                                             std::move(terms));
      return out;
    }
    case Expr::Kind::kNot: {
      auto a = child(0);
      if (!a.ok()) return a.status();
      auto n = ExpectBool(std::move(*a), where, "the NOT operand");
      if (!n.ok()) return n.status();
      out.type = VType::kBool;
      out.node = std::make_unique<NotNode>(ctx.NewNodeId(), std::move(*n));
      return out;
    }
    case Expr::Kind::kArith: {
      auto a = child(0);
      if (!a.ok()) return a.status();
      auto b = child(1);
      if (!b.ok()) return b.status();
      auto x = ExpectNum(std::move(*a), where, "an arithmetic operand");
      if (!x.ok()) return x.status();
      auto y = ExpectNum(std::move(*b), where, "an arithmetic operand");
      if (!y.ok()) return y.status();
      out.type = VType::kNum;
      out.node = std::make_unique<ArithNode>(ctx.NewNodeId(), e.arith, std::move(*x), std::move(*y));
      return out;
    }
  }
  return Bad(where, "unknown expression kind");
}

}  // namespace

NumOut Node::EvalNum(const BatchView&, EvalScratch&) const { return {}; }
const uint8_t* Node::EvalBool(const BatchView&, EvalScratch&) const { return nullptr; }
const uint8_t* Node::EvalMissing(const BatchView&, EvalScratch&) const { return nullptr; }

EvalScratch::EvalScratch(int num_nodes)
    : doubles_(num_nodes, std::vector<double>(kBatchRows)),
      bytes_(num_nodes, std::vector<uint8_t>(kBatchRows)) {}

absl::StatusOr<int> CompileContext::BindColumn(const ColumnRef& ref, const std::string& where) {
  if (ref.input < 0 || static_cast<size_t>(ref.input) >= tables_.size()) {
    return Bad(where, absl::StrCat("column '", ref.column, "' names input ", ref.input,
                                   " but there are ", tables_.size(), " inputs"));
  }
  const Column* c = tables_[ref.input]->Find(ref.column);
  if (c == nullptr) {
    return Bad(where, absl::StrCat("no column '", ref.column, "' in input ", ref.input, " ('",
                                   tables_[ref.input]->name(), "')"));
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].column == c && slots_[i].input == ref.input) return static_cast<int>(i);
  }
  slots_.push_back({ref.input, c});
  return static_cast<int>(slots_.size() - 1);
}

absl::StatusOr<std::unique_ptr<Node>> CompileNumeric(const Expr& e, CompileContext& ctx,
                                                     const std::string& where) {
  auto t = CompileAny(e, ctx, where);
  if (!t.ok()) return t.status();
  return ExpectNum(std::move(*t), where, absl::StrCat("expression ", e.ToString()));
}

absl::StatusOr<std::unique_ptr<Node>> CompileBoolean(const Expr& e, CompileContext& ctx,
                                                     const std::string& where) {
  auto t = CompileAny(e, ctx, where);
  if (!t.ok()) return t.status();
  return ExpectBool(std::move(*t), where, absl::StrCat("expression ", e.ToString()));
}

}  // namespace datalab::engine::internal
