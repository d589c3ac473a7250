#include "services/query/binder.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status/status_macros.h"
#include "services/query/sql/functions.h"
#include "services/query/sql/printer.h"

namespace datalab::query {
namespace {

using sql::ExprKind;
using sql::Op;
using sql::SourcePosition;

absl::Status Err(const SourcePosition& pos, const std::string& reason) {
  return absl::InvalidArgumentError(
      absl::StrCat("line ", pos.line, ", column ", pos.column, ": ", reason));
}

std::string Lower(const std::string& s) { return absl::AsciiStrToLower(s); }

bool NameMatches(const sql::Identifier& id, const std::string& stored) {
  return id.quoted ? id.name == stored : Lower(id.name) == Lower(stored);
}

bool IsPupil(const sql::Identifier& id) { return !id.quoted && Lower(id.name) == "pupil"; }

constexpr char kSubjectRefused[] =
    "the pupil key cannot be selected, grouped, compared or tested; use COUNT(DISTINCT pupil)";

enum class Type { kNumber, kBool, kString, kSubject };

struct Typed {
  engine::ExprPtr e;
  Type type = Type::kNumber;
  bool is_column = false;
  bool is_literal = false;
  engine::ColumnRef column;
};

struct ResolvedColumn {
  int input = 0;
  std::string name;  // stored
  engine::ColumnType type = engine::ColumnType::kInt64;
  bool subject = false;
};

class Binder {
 public:
  explicit Binder(const ManifestResolver& resolve) : resolve_(resolve) {}

  absl::StatusOr<BoundQuery> Run(const sql::Query& q) {
    out_.canonical_sql = sql::ToSql(q);
    RETURN_IF_ERROR(AddInput(q.from, q.from.pos));
    for (const auto& j : q.joins) {
      RETURN_IF_ERROR(AddInput(j.table, j.pos));
      RETURN_IF_ERROR(BindJoin(j));
    }
    if (q.having != nullptr) {
      return Err(q.having->pos,
                 "HAVING is not supported: filtering on aggregates would reveal suppressed values");
    }
    if (q.where != nullptr) {
      ASSIGN_OR_RETURN(Typed w, BindExpr(*q.where));
      ASSIGN_OR_RETURN(out_.plan.filter, AsBool(w, q.where->pos));
    }
    RETURN_IF_ERROR(BindGroupBy(q));
    RETURN_IF_ERROR(BindSelect(q));
    RETURN_IF_ERROR(BindOrderBy(q));
    out_.limit = q.limit;
    return std::move(out_);
  }

 private:
  absl::Status AddInput(const sql::TableRef& t, const SourcePosition& pos) {
    if (t.qualifier.has_value()) {
      return Err(t.qualifier->pos, "dataset names have no namespace; write the dataset id only");
    }
    const std::string id = t.name.quoted ? t.name.name : Lower(t.name.name);
    const std::string dataset = "datasets/" + id;
    auto m = resolve_(dataset, t.version);
    if (absl::IsNotFound(m.status())) {
      return Err(t.name.pos, t.version.has_value()
                                 ? absl::StrCat("dataset '", id, "' has no version ", *t.version)
                                 : absl::StrCat("unknown dataset '", id, "'"));
    }
    if (!m.ok()) return m.status();
    BoundInput in;
    in.dataset = dataset;
    in.manifest = std::move(*m);
    for (const auto& c : in.manifest.columns()) {
      if (c.subject()) in.subject_column = c.name();
    }
    engine::InputSpec spec;
    spec.subject_column = in.subject_column;
    if (in.subject_column.empty()) {
      return Err(pos, absl::StrCat("dataset '", id, "' has no pupil key, so it cannot be queried"));
    }
    const std::string alias =
        t.alias.has_value() ? (t.alias->quoted ? t.alias->name : Lower(t.alias->name)) : id;
    for (const auto& a : aliases_) {
      if (a == alias) return Err(t.name.pos, absl::StrCat("'", alias, "' is used twice; add an alias"));
    }
    aliases_.push_back(alias);
    out_.inputs.push_back(std::move(in));
    out_.plan.inputs.push_back(std::move(spec));
    out_.columns_touched[dataset];
    return absl::OkStatus();
  }

  absl::Status BindJoin(const sql::Join& j) {
    const int right = static_cast<int>(out_.inputs.size()) - 1;
    bool has_pupil = false;
    for (const auto& u : j.using_columns) {
      if (IsPupil(u) || NameMatches(u, out_.inputs[right].subject_column)) {
        has_pupil = true;
        continue;
      }
      auto rc = FindInInput(right, u);
      if (!rc.has_value()) {
        return Err(u.pos, absl::StrCat("column '", u.name, "' is not in dataset '",
                                       aliases_[right], "'"));
      }
      std::optional<ResolvedColumn> lc;
      for (int i = 0; i < right && !lc.has_value(); ++i) lc = FindInInput(i, u);
      if (!lc.has_value()) {
        return Err(u.pos, absl::StrCat("USING column '", u.name, "' is not in an earlier dataset"));
      }
      const bool lnum = lc->type == engine::ColumnType::kInt64;
      const bool rnum = rc->type == engine::ColumnType::kInt64;
      if (lc->type != rc->type && !(lnum && rnum)) {
        return Err(u.pos, absl::StrCat("USING column '", u.name, "' has different types"));
      }
      if (lc->type == engine::ColumnType::kDouble) {
        return Err(u.pos, absl::StrCat("USING column '", u.name, "' is a decimal; join on codes or integers"));
      }
      Touch(*lc);
      Touch(*rc);
      out_.plan.inputs[right].extra_keys.push_back({{lc->input, lc->name}, rc->name});
      using_.push_back(Lower(u.name));
    }
    if (!has_pupil) {
      return Err(j.pos, "JOIN must be USING (pupil[, ...]): joining without the pupil key would pair different pupils");
    }
    return absl::OkStatus();
  }

  std::optional<ResolvedColumn> FindInInput(int i, const sql::Identifier& id) const {
    for (const auto& c : out_.inputs[i].manifest.columns()) {
      if (NameMatches(id, c.name())) {
        ResolvedColumn r;
        r.input = i;
        r.name = c.name();
        r.type = static_cast<engine::ColumnType>(c.engine_type());
        r.subject = c.subject();
        return r;
      }
    }
    return std::nullopt;
  }

  absl::StatusOr<ResolvedColumn> Resolve(const sql::Expr& e) const {
    if (e.qualifier.has_value()) {
      const std::string q = e.qualifier->quoted ? e.qualifier->name : Lower(e.qualifier->name);
      for (size_t i = 0; i < aliases_.size(); ++i) {
        if (aliases_[i] != q) continue;
        if (IsPupil(e.name)) return SubjectOf(static_cast<int>(i));
        auto r = FindInInput(static_cast<int>(i), e.name);
        if (!r.has_value()) {
          return Err(e.name.pos, absl::StrCat("column '", e.name.name, "' is not in dataset '", q, "'"));
        }
        return *r;
      }
      return Err(e.qualifier->pos, absl::StrCat("unknown dataset or alias '", e.qualifier->name, "'"));
    }
    if (IsPupil(e.name)) return SubjectOf(0);
    std::vector<ResolvedColumn> found;
    for (size_t i = 0; i < out_.inputs.size(); ++i) {
      if (auto r = FindInInput(static_cast<int>(i), e.name)) found.push_back(*r);
    }
    if (found.empty()) {
      return Err(e.name.pos, out_.inputs.size() == 1
                                 ? absl::StrCat("column '", e.name.name, "' is not in dataset '",
                                                aliases_[0], "'")
                                 : absl::StrCat("column '", e.name.name, "' is not in any dataset of the query"));
    }
    if (found.size() > 1 && !found[0].subject) {
      bool is_using = false;
      for (const auto& u : using_) is_using |= u == Lower(e.name.name);
      if (!is_using) {
        return Err(e.name.pos, absl::StrCat("column '", e.name.name,
                                            "' is ambiguous; qualify it with a dataset or alias"));
      }
    }
    return found[0];
  }

  ResolvedColumn SubjectOf(int input) const {
    ResolvedColumn r;
    r.input = input;
    r.name = out_.inputs[input].subject_column;
    r.type = engine::ColumnType::kSubject;
    r.subject = true;
    return r;
  }

  void Touch(const ResolvedColumn& c) {
    if (c.subject || c.name.empty() || c.name[0] == '_') return;
    out_.columns_touched[out_.inputs[c.input].dataset].insert(c.name);
  }

  static absl::StatusOr<engine::Literal> LiteralOf(const sql::Expr& e) {
    const auto& l = e.literal;
    switch (l.kind) {
      case sql::LiteralKind::kInteger: return engine::Literal(l.int_value);
      case sql::LiteralKind::kBoolean: return engine::Literal(int64_t{l.bool_value ? 1 : 0});
      case sql::LiteralKind::kDecimal: return engine::Literal(std::strtod(l.text.c_str(), nullptr));
      case sql::LiteralKind::kString: return engine::Literal(l.text);
      case sql::LiteralKind::kNull:
        return Err(e.pos, "NULL is not a value here; use IS NULL or IS NOT NULL");
    }
    return Err(e.pos, "unknown literal");
  }

  static Type LiteralType(const engine::Literal& l) {
    return std::holds_alternative<std::string>(l) ? Type::kString : Type::kNumber;
  }

  absl::StatusOr<engine::ExprPtr> AsBool(const Typed& t, const SourcePosition& pos) const {
    if (t.type == Type::kBool) return t.e;
    if (t.type == Type::kNumber) return engine::Ne(t.e, engine::Lit(int64_t{0}));
    return Err(pos, "expected a condition (a comparison, IN, BETWEEN or IS NULL)");
  }

  absl::StatusOr<Typed> BindExpr(const sql::Expr& e) {
    Typed out;
    switch (e.kind) {
      case ExprKind::kLiteral: {
        ASSIGN_OR_RETURN(engine::Literal l, LiteralOf(e));
        out.type = LiteralType(l);
        out.is_literal = true;
        if (auto* i = std::get_if<int64_t>(&l)) out.e = engine::Lit(*i);
        else if (auto* d = std::get_if<double>(&l)) out.e = engine::Lit(*d);
        else out.e = engine::Lit(std::get<std::string>(l));
        return out;
      }
      case ExprKind::kColumn: {
        ASSIGN_OR_RETURN(ResolvedColumn c, Resolve(e));
        if (c.subject) return Err(e.pos, kSubjectRefused);
        Touch(c);
        out.e = engine::Col(c.input, c.name);
        out.type = c.type == engine::ColumnType::kCode ? Type::kString : Type::kNumber;
        out.is_column = true;
        out.column = {c.input, c.name};
        return out;
      }
      case ExprKind::kCall: {
        const std::string& f = e.name.name;
        if (sql::IsAggregateCall(e)) return Err(e.pos, absl::StrCat(f, " is an aggregate and cannot be used here"));
        if (Lower(f) == "band") return Err(e.pos, "BAND(...) is only supported in GROUP BY");
        return Err(e.pos, absl::StrCat("function ", f, " is not supported in this position"));
      }
      case ExprKind::kUnary: {
        ASSIGN_OR_RETURN(Typed a, BindExpr(*e.operands[0]));
        if (e.op == Op::kNot) {
          ASSIGN_OR_RETURN(auto b, AsBool(a, e.operands[0]->pos));
          out.e = engine::Not(b);
          out.type = Type::kBool;
          return out;
        }
        if (a.type != Type::kNumber) return Err(e.pos, "'-' needs a number");
        out.e = engine::Arith(engine::ArithOp::kSub, engine::Lit(int64_t{0}), a.e);
        return out;
      }
      case ExprKind::kBinary: {
        ASSIGN_OR_RETURN(Typed a, BindExpr(*e.operands[0]));
        ASSIGN_OR_RETURN(Typed b, BindExpr(*e.operands[1]));
        switch (e.op) {
          case Op::kAnd:
          case Op::kOr: {
            ASSIGN_OR_RETURN(auto x, AsBool(a, e.operands[0]->pos));
            ASSIGN_OR_RETURN(auto y, AsBool(b, e.operands[1]->pos));
            out.e = e.op == Op::kAnd ? engine::And({x, y}) : engine::Or({x, y});
            out.type = Type::kBool;
            return out;
          }
          case Op::kAdd:
          case Op::kSub:
          case Op::kMul:
          case Op::kDiv: {
            if (a.type != Type::kNumber || b.type != Type::kNumber) {
              return Err(e.pos, absl::StrCat("'", sql::OpSymbol(e.op), "' needs numbers on both sides"));
            }
            static const engine::ArithOp kOps[] = {engine::ArithOp::kAdd, engine::ArithOp::kSub,
                                                   engine::ArithOp::kMul, engine::ArithOp::kDiv};
            out.e = engine::Arith(kOps[static_cast<int>(e.op) - static_cast<int>(Op::kAdd)], a.e, b.e);
            return out;
          }
          default: {
            RETURN_IF_ERROR(CheckComparable(a, b, e.pos));
            engine::CompareOp op = engine::CompareOp::kEq;
            switch (e.op) {
              case Op::kEq: op = engine::CompareOp::kEq; break;
              case Op::kNe: op = engine::CompareOp::kNe; break;
              case Op::kLt: op = engine::CompareOp::kLt; break;
              case Op::kLe: op = engine::CompareOp::kLe; break;
              case Op::kGt: op = engine::CompareOp::kGt; break;
              case Op::kGe: op = engine::CompareOp::kGe; break;
              default: return Err(e.pos, "unsupported operator");
            }
            out.e = engine::Cmp(op, a.e, b.e);
            out.type = Type::kBool;
            return out;
          }
        }
      }
      case ExprKind::kIn: {
        ASSIGN_OR_RETURN(Typed a, BindExpr(*e.operands[0]));
        std::vector<engine::Literal> set;
        for (size_t i = 1; i < e.operands.size(); ++i) {
          const auto& le = *e.operands[i];
          if (le.kind != ExprKind::kLiteral) return Err(le.pos, "IN lists hold literals only");
          ASSIGN_OR_RETURN(engine::Literal l, LiteralOf(le));
          const Type lt = LiteralType(l);
          if ((a.type == Type::kString) != (lt == Type::kString)) {
            return Err(le.pos, a.type == Type::kString ? "a text column compares with 'quoted' values"
                                                       : "a number compares with numbers");
          }
          set.push_back(std::move(l));
        }
        if (a.type == Type::kBool) return Err(e.pos, "IN needs a column or a number");
        out.e = engine::In(a.e, std::move(set));
        if (e.negated) out.e = engine::Not(out.e);
        out.type = Type::kBool;
        return out;
      }
      case ExprKind::kBetween: {
        ASSIGN_OR_RETURN(Typed a, BindExpr(*e.operands[0]));
        ASSIGN_OR_RETURN(Typed lo, BindExpr(*e.operands[1]));
        ASSIGN_OR_RETURN(Typed hi, BindExpr(*e.operands[2]));
        RETURN_IF_ERROR(CheckComparable(a, lo, e.operands[1]->pos));
        RETURN_IF_ERROR(CheckComparable(a, hi, e.operands[2]->pos));
        out.e = engine::Between(a.e, lo.e, hi.e);
        if (e.negated) out.e = engine::Not(out.e);
        out.type = Type::kBool;
        return out;
      }
      case ExprKind::kIsNull: {
        ASSIGN_OR_RETURN(Typed a, BindExpr(*e.operands[0]));
        out.e = e.negated ? engine::IsNotNull(a.e) : engine::IsNull(a.e);
        out.type = Type::kBool;
        return out;
      }
      case ExprKind::kCase:
        return Err(e.pos, "CASE is only supported as a GROUP BY item");
    }
    return Err(e.pos, "unsupported expression");
  }

  static absl::Status CheckComparable(const Typed& a, const Typed& b, const SourcePosition& pos) {
    if (a.type == Type::kBool || b.type == Type::kBool) {
      return Err(pos, "a condition cannot be compared; combine conditions with AND/OR");
    }
    if (a.type == Type::kString || b.type == Type::kString) {
      if (a.type != b.type) {
        return Err(pos, "a text column compares with 'quoted' values, a number with numbers");
      }
      if (!((a.is_column && b.is_literal) || (a.is_literal && b.is_column))) {
        return Err(pos, "text columns compare with literal values only");
      }
    }
    return absl::OkStatus();
  }

  // --- GROUP BY -----------------------------------------------------------

  const sql::Expr* GroupTarget(const sql::Query& q, const sql::Expr& g, int* select_index) {
    *select_index = -1;
    if (g.kind == ExprKind::kLiteral && g.literal.kind == sql::LiteralKind::kInteger) {
      const int64_t n = g.literal.int_value;
      if (n >= 1 && n <= static_cast<int64_t>(q.select.size())) {
        *select_index = static_cast<int>(n - 1);
        return q.select[n - 1].expr.get();
      }
      return nullptr;
    }
    if (g.kind == ExprKind::kColumn && !g.qualifier.has_value() && !IsPupil(g.name)) {
      bool is_column = false;
      for (size_t i = 0; i < out_.inputs.size(); ++i) {
        is_column |= FindInInput(static_cast<int>(i), g.name).has_value();
      }
      if (!is_column) {
        for (size_t i = 0; i < q.select.size(); ++i) {
          const auto& a = q.select[i].alias;
          if (a.has_value() && Lower(a->name) == Lower(g.name.name) &&
              !sql::ContainsAggregate(*q.select[i].expr)) {
            *select_index = static_cast<int>(i);
            return q.select[i].expr.get();
          }
        }
      }
    }
    return &g;
  }

  absl::Status BindGroupBy(const sql::Query& q) {
    for (const auto& gp : q.group_by) {
      int sel = -1;
      const sql::Expr* g = GroupTarget(q, *gp, &sel);
      if (g == nullptr) return Err(gp->pos, "GROUP BY position is not in the select list");
      if (sql::ContainsAggregate(*g)) return Err(g->pos, "cannot GROUP BY an aggregate");
      std::string name = sel >= 0 && q.select[sel].alias.has_value() ? q.select[sel].alias->name : "";
      engine::GroupKey key;
      if (g->kind == ExprKind::kColumn) {
        ASSIGN_OR_RETURN(ResolvedColumn c, Resolve(*g));
        if (c.subject) return Err(g->pos, kSubjectRefused);
        if (c.type == engine::ColumnType::kDouble) {
          return Err(g->pos, absl::StrCat("'", g->name.name,
                                          "' is a decimal column; group it with BAND(column, width)"));
        }
        Touch(c);
        key = engine::KeyColumn(name.empty() ? c.name : name, c.input, c.name);
        group_columns_.push_back(engine::ColumnRef{c.input, c.name});
      } else if (g->kind == ExprKind::kCall && Lower(g->name.name) == "band") {
        ASSIGN_OR_RETURN(key, BindBand(*g, name));
        group_columns_.push_back(std::nullopt);
      } else if (g->kind == ExprKind::kCase) {
        ASSIGN_OR_RETURN(key, BindCase(*g, name));
        group_columns_.push_back(std::nullopt);
      } else {
        return Err(g->pos, "GROUP BY supports columns, BAND(...) and CASE WHEN ... END");
      }
      group_exprs_.push_back(g);
      out_.plan.group_keys.push_back(std::move(key));
    }
    return absl::OkStatus();
  }

  static absl::StatusOr<double> NumberLiteral(const sql::Expr& e) {
    if (e.kind == ExprKind::kLiteral) {
      if (e.literal.kind == sql::LiteralKind::kInteger) return static_cast<double>(e.literal.int_value);
      if (e.literal.kind == sql::LiteralKind::kDecimal) return std::strtod(e.literal.text.c_str(), nullptr);
    }
    if (e.kind == ExprKind::kUnary && e.op == Op::kNegate) {
      ASSIGN_OR_RETURN(double v, NumberLiteral(*e.operands[0]));
      return -v;
    }
    return Err(e.pos, "expected a number");
  }

  absl::StatusOr<engine::GroupKey> BindBand(const sql::Expr& g, const std::string& name) {
    ASSIGN_OR_RETURN(Typed v, BindExpr(*g.operands[0]));
    if (v.type != Type::kNumber) return Err(g.operands[0]->pos, "BAND needs a numeric column");
    const std::string label = name.empty() ? sql::ToSql(g) : name;
    if (g.operands.size() == 4) {
      ASSIGN_OR_RETURN(double lo, NumberLiteral(*g.operands[1]));
      ASSIGN_OR_RETURN(double hi, NumberLiteral(*g.operands[2]));
      ASSIGN_OR_RETURN(double w, NumberLiteral(*g.operands[3]));
      if (!(lo < hi) || !(w > 0)) return Err(g.pos, "BAND needs low < high and width > 0");
      if ((hi - lo) / w > 10000) return Err(g.pos, "BAND would make more than 10000 bands");
      return engine::KeyBand(label, v.e, lo, hi, w);
    }
    ASSIGN_OR_RETURN(double w, NumberLiteral(*g.operands[1]));
    if (!(w > 0)) return Err(g.operands[1]->pos, "BAND width must be positive");
    if (!v.is_column) {
      return Err(g.operands[0]->pos, "BAND(expression, width) needs a column; give BAND(expr, low, high, width)");
    }
    out_.band_fixups.push_back({static_cast<int>(out_.plan.group_keys.size()), v.column.input,
                                v.column.column, w});
    return engine::KeyBand(label, v.e, 0, w, w);
  }

  absl::StatusOr<engine::GroupKey> BindCase(const sql::Expr& g, const std::string& name) {
    std::vector<std::pair<engine::ExprPtr, std::string>> when;
    const size_t pairs = (g.operands.size() - (g.has_else ? 1 : 0)) / 2;
    auto label_of = [&](const sql::Expr& l) -> absl::StatusOr<std::string> {
      if (l.kind != ExprKind::kLiteral || l.literal.kind == sql::LiteralKind::kNull) {
        return Err(l.pos, "CASE labels must be literal values");
      }
      if (l.literal.kind == sql::LiteralKind::kString) return l.literal.text;
      if (l.literal.kind == sql::LiteralKind::kInteger) return std::to_string(l.literal.int_value);
      if (l.literal.kind == sql::LiteralKind::kBoolean) return std::string(l.literal.bool_value ? "true" : "false");
      return l.literal.text;
    };
    for (size_t i = 0; i < pairs; ++i) {
      ASSIGN_OR_RETURN(Typed c, BindExpr(*g.operands[2 * i]));
      ASSIGN_OR_RETURN(auto cond, AsBool(c, g.operands[2 * i]->pos));
      ASSIGN_OR_RETURN(std::string label, label_of(*g.operands[2 * i + 1]));
      when.emplace_back(cond, label);
    }
    std::string else_label;
    if (g.has_else) {
      ASSIGN_OR_RETURN(else_label, label_of(*g.operands.back()));
    }
    engine::GroupKey k = engine::KeyCase(name.empty() ? sql::ToSql(g) : name, std::move(when), else_label);
    k.has_else = g.has_else;
    return k;
  }

  // Index of the group key that `e` (a select or ORDER BY item) stands for.
  absl::StatusOr<int> MatchGroup(const sql::Query& q, const sql::Expr& e, int select_index) {
    for (size_t g = 0; g < group_exprs_.size(); ++g) {
      if (select_index >= 0 && group_exprs_[g] == q.select[select_index].expr.get()) return static_cast<int>(g);
      if (sql::StructurallyEqual(*group_exprs_[g], e)) return static_cast<int>(g);
    }
    if (e.kind == ExprKind::kColumn) {
      auto c = Resolve(e);
      if (c.ok()) {
        if (c->subject) return Err(e.pos, kSubjectRefused);
        for (size_t g = 0; g < group_columns_.size(); ++g) {
          if (group_columns_[g].has_value() && group_columns_[g]->input == c->input &&
              group_columns_[g]->column == c->name) {
            return static_cast<int>(g);
          }
        }
      } else {
        return c.status();
      }
    }
    return Err(e.pos, absl::StrCat("'", sql::ToSql(e), "' must be in GROUP BY or inside an aggregate"));
  }

  // --- SELECT ------------------------------------------------------------

  absl::Status BindSelect(const sql::Query& q) {
    std::vector<bool> key_selected(group_exprs_.size(), false);
    for (size_t i = 0; i < q.select.size(); ++i) {
      const auto& item = q.select[i];
      const sql::Expr& e = *item.expr;
      BoundOutput o;
      if (sql::IsAggregateCall(e)) {
        o.is_group = false;
        o.aggregate = sql::ToSql(e);
        o.name = item.alias.has_value() ? item.alias->name : o.aggregate;
        ASSIGN_OR_RETURN(o.index, BindAggregate(e, o.name));
      } else if (sql::ContainsAggregate(e)) {
        return Err(e.pos, "an aggregate must be a whole select item (no arithmetic around it)");
      } else {
        ASSIGN_OR_RETURN(int g, MatchGroup(q, e, static_cast<int>(i)));
        o.is_group = true;
        o.index = g;
        o.name = item.alias.has_value() ? item.alias->name : out_.plan.group_keys[g].name;
        key_selected[g] = true;
      }
      out_.outputs.push_back(std::move(o));
    }
    // Group keys not in the select list are still shown: rows must be told apart.
    for (size_t g = 0; g < key_selected.size(); ++g) {
      if (key_selected[g]) continue;
      BoundOutput o;
      o.is_group = true;
      o.index = static_cast<int>(g);
      o.name = out_.plan.group_keys[g].name;
      out_.outputs.insert(out_.outputs.begin() + static_cast<long>(g), std::move(o));
    }
    out_.visible_aggregates = static_cast<int>(out_.plan.aggregates.size());
    // Hidden RATE sums go last.
    for (size_t i = 0; i < pending_rates_.size(); ++i) {
      auto& [agg_index, num, den] = pending_rates_[i];
      auto both = [](engine::ExprPtr a, engine::ExprPtr b) {
        // a + 0 * b: missing whenever either is, like RATE itself.
        return engine::Arith(engine::ArithOp::kAdd, a,
                             engine::Arith(engine::ArithOp::kMul, engine::Lit(0.0), b));
      };
      engine::Aggregate sn;
      sn.kind = engine::Aggregate::Kind::kSum;
      sn.name = absl::StrCat("_rate_num_", agg_index);
      sn.arg = both(num, den);
      engine::Aggregate sd = sn;
      sd.name = absl::StrCat("_rate_den_", agg_index);
      sd.arg = both(den, num);
      out_.aggregates[agg_index].rate_numerator_sum = static_cast<int>(out_.plan.aggregates.size());
      out_.plan.aggregates.push_back(sn);
      out_.aggregates.push_back({sdc::AggregateKind::kSum});
      out_.aggregates[agg_index].rate_denominator_sum = static_cast<int>(out_.plan.aggregates.size());
      out_.plan.aggregates.push_back(sd);
      out_.aggregates.push_back({sdc::AggregateKind::kSum});
    }
    return absl::OkStatus();
  }

  absl::StatusOr<engine::ExprPtr> NumberArg(const sql::Expr& call, size_t i) {
    ASSIGN_OR_RETURN(Typed t, BindExpr(*call.operands[i]));
    if (t.type != Type::kNumber) {
      return Err(call.operands[i]->pos, absl::StrCat(call.name.name, " needs a numeric argument"));
    }
    return t.e;
  }

  absl::StatusOr<int> BindAggregate(const sql::Expr& e, const std::string& name) {
    const std::string f = absl::AsciiStrToUpper(e.name.name);
    engine::Aggregate a;
    a.name = name;
    BoundAggregate b;
    if (f == "COUNT") {
      if (e.star) {
        a.kind = engine::Aggregate::Kind::kCountStar;
        b.kind = sdc::AggregateKind::kCount;
      } else {
        const sql::Expr& arg = *e.operands[0];
        bool pupil = false;
        if (arg.kind == ExprKind::kColumn) {
          ASSIGN_OR_RETURN(ResolvedColumn c, Resolve(arg));
          pupil = c.subject;
        }
        if (e.distinct) {
          if (!pupil) return Err(arg.pos, "COUNT(DISTINCT ...) is only supported for pupil");
          a.kind = engine::Aggregate::Kind::kCountDistinctSubject;
          b.kind = sdc::AggregateKind::kCountDistinct;
        } else {
          if (pupil) return Err(arg.pos, "use COUNT(*) or COUNT(DISTINCT pupil)");
          ASSIGN_OR_RETURN(Typed t, BindExpr(arg));
          if (t.type == Type::kBool) return Err(arg.pos, "COUNT counts values; use PROPORTION for a condition");
          a.kind = engine::Aggregate::Kind::kCount;
          a.arg = t.e;
          b.kind = sdc::AggregateKind::kCount;
        }
      }
    } else if (f == "SUM" || f == "AVG" || f == "STDDEV" || f == "MEDIAN") {
      ASSIGN_OR_RETURN(a.arg, NumberArg(e, 0));
      if (f == "SUM") { a.kind = engine::Aggregate::Kind::kSum; b.kind = sdc::AggregateKind::kSum; }
      if (f == "AVG") { a.kind = engine::Aggregate::Kind::kAvg; b.kind = sdc::AggregateKind::kAvg; }
      if (f == "STDDEV") { a.kind = engine::Aggregate::Kind::kStddev; b.kind = sdc::AggregateKind::kStddev; }
      if (f == "MEDIAN") { a.kind = engine::Aggregate::Kind::kMedian; b.kind = sdc::AggregateKind::kMedian; }
    } else if (f == "PERCENTILE") {
      ASSIGN_OR_RETURN(a.arg, NumberArg(e, 0));
      ASSIGN_OR_RETURN(double p, NumberLiteral(*e.operands[1]));
      if (!(p > 0 && p < 100)) return Err(e.operands[1]->pos, "PERCENTILE's p must be between 0 and 100");
      a.kind = engine::Aggregate::Kind::kPercentile;
      a.p = p / 100.0;
      b.kind = sdc::AggregateKind::kPercentile;
      b.percentile = p;
    } else if (f == "PROPORTION") {
      ASSIGN_OR_RETURN(Typed c, BindExpr(*e.operands[0]));
      ASSIGN_OR_RETURN(a.arg, AsBool(c, e.operands[0]->pos));
      a.kind = engine::Aggregate::Kind::kProportion;
      a.by_subject = true;  // contributors are pupils, not rows
      b.kind = sdc::AggregateKind::kProportion;
    } else if (f == "RATE") {
      ASSIGN_OR_RETURN(a.arg, NumberArg(e, 0));
      ASSIGN_OR_RETURN(a.arg2, NumberArg(e, 1));
      a.kind = engine::Aggregate::Kind::kRate;
      b.kind = sdc::AggregateKind::kProportion;
      b.is_rate = true;
      pending_rates_.emplace_back(static_cast<int>(out_.plan.aggregates.size()), a.arg, a.arg2);
    } else {
      return Err(e.pos, absl::StrCat("aggregate ", f, " is not supported"));
    }
    out_.plan.aggregates.push_back(std::move(a));
    out_.aggregates.push_back(b);
    return static_cast<int>(out_.plan.aggregates.size()) - 1;
  }

  absl::Status BindOrderBy(const sql::Query& q) {
    for (const auto& item : q.order_by) {
      const sql::Expr& e = *item.expr;
      int sel = -1;
      const sql::Expr* target = &e;
      if (e.kind == ExprKind::kLiteral && e.literal.kind == sql::LiteralKind::kInteger) {
        const int64_t n = e.literal.int_value;
        if (n < 1 || n > static_cast<int64_t>(q.select.size())) {
          return Err(e.pos, "ORDER BY position is not in the select list");
        }
        sel = static_cast<int>(n - 1);
        target = q.select[sel].expr.get();
      } else if (e.kind == ExprKind::kColumn && !e.qualifier.has_value()) {
        for (size_t i = 0; i < q.select.size(); ++i) {
          const auto& a = q.select[i].alias;
          if (a.has_value() && Lower(a->name) == Lower(e.name.name)) {
            sel = static_cast<int>(i);
            target = q.select[i].expr.get();
          }
        }
      }
      if (sql::ContainsAggregate(*target)) {
        return Err(e.pos, "ORDER BY an aggregate is not supported: the order would reveal suppressed values");
      }
      ASSIGN_OR_RETURN(int g, MatchGroup(q, *target, sel));
      out_.order_by.emplace_back(g, item.descending);
    }
    return absl::OkStatus();
  }

  const ManifestResolver& resolve_;
  BoundQuery out_;
  std::vector<std::string> aliases_;
  std::vector<std::string> using_;
  std::vector<const sql::Expr*> group_exprs_;
  std::vector<std::optional<engine::ColumnRef>> group_columns_;
  std::vector<std::tuple<int, engine::ExprPtr, engine::ExprPtr>> pending_rates_;
};

}  // namespace

absl::StatusOr<BoundQuery> Bind(const sql::Query& query, const ManifestResolver& resolve) {
  Binder b(resolve);
  return b.Run(query);
}

absl::Status FixBands(BoundQuery& bound, const std::vector<const engine::Table*>& tables) {
  for (const auto& f : bound.band_fixups) {
    const engine::Column* c = tables[f.input]->Find(f.column);
    if (c == nullptr) return absl::InternalError("band column vanished");
    double lo = 0, hi = 0;
    bool any = false;
    if (c->type() == engine::ColumnType::kInt64) {
      any = c->any_present();
      lo = static_cast<double>(c->min_value());
      hi = static_cast<double>(c->max_value());
    } else {
      for (const auto& ch : c->chunks()) {
        for (uint32_t r = 0; r < ch.num_rows; ++r) {
          if (ch.IsMissing(r) || !std::isfinite(ch.f64[r])) continue;
          const double v = ch.f64[r];
          if (!any) lo = hi = v;
          lo = std::min(lo, v);
          hi = std::max(hi, v);
          any = true;
        }
      }
    }
    auto& key = bound.plan.group_keys[f.key];
    if (!any) {
      key.lo = 0;
      key.hi = f.width;
    } else {
      key.lo = std::floor(lo / f.width) * f.width;
      key.hi = (std::floor(hi / f.width) + 1) * f.width;
    }
    if ((key.hi - key.lo) / f.width > 10000) {
      return absl::InvalidArgumentError("BAND would make more than 10000 bands; give low and high");
    }
  }
  return absl::OkStatus();
}

}  // namespace datalab::query
