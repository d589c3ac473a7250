// Internal to the engine: plan expressions compiled into vectorised
// evaluators over batches of at most kBatchRows rows.
//
// A batch is a set of "slots" (the bound columns the plan touches), each a
// pointer to n contiguous values plus an optional missing-reason array. For a
// single table the pointers alias chunk storage (no copy); for joins the
// executor gathers into buffers first.
//
// Numeric results are double arrays with an optional miss array (non-zero =
// missing). Boolean results are uint8 arrays: 0 FALSE, 1 TRUE, 2 UNKNOWN.
//
// Thread safety: compiled expressions are immutable and shared by all worker
// threads; each thread passes its own EvalScratch.
#ifndef DATALAB_SERVICES_QUERY_ENGINE_EVALUATOR_H_
#define DATALAB_SERVICES_QUERY_ENGINE_EVALUATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "services/query/engine/column.h"
#include "services/query/engine/plan.h"

namespace datalab::engine::internal {

inline constexpr uint32_t kBatchRows = 4096;
inline constexpr uint8_t kFalse = 0;
inline constexpr uint8_t kTrue = 1;
inline constexpr uint8_t kUnknown = 2;

struct SlotView {
  const int64_t* i64 = nullptr;
  const double* f64 = nullptr;
  const uint32_t* u32 = nullptr;
  const uint8_t* missing = nullptr;  // nullptr: none missing
};

struct BatchView {
  uint32_t n = 0;
  const SlotView* slots = nullptr;
};

struct BoundSlot {
  int input = 0;
  const Column* column = nullptr;
};

// Per-thread buffers, indexed by node id.
class EvalScratch {
 public:
  explicit EvalScratch(int num_nodes);
  double* Doubles(int node) { return doubles_[node].data(); }
  uint8_t* Bytes(int node) { return bytes_[node].data(); }

 private:
  std::vector<std::vector<double>> doubles_;
  std::vector<std::vector<uint8_t>> bytes_;
};

struct NumOut {
  const double* v = nullptr;
  const uint8_t* miss = nullptr;  // nullptr: none missing
};

class Node {
 public:
  explicit Node(int id) : id_(id) {}
  virtual ~Node() = default;
  virtual NumOut EvalNum(const BatchView& b, EvalScratch& s) const;
  virtual const uint8_t* EvalBool(const BatchView& b, EvalScratch& s) const;
  // For IS NULL over any value: per-row missing flags (nullptr: none).
  virtual const uint8_t* EvalMissing(const BatchView& b, EvalScratch& s) const;

 protected:
  int id() const { return id_; }

 private:
  int id_;
};

// Collects the columns a plan touches and hands out node ids.
class CompileContext {
 public:
  explicit CompileContext(absl::Span<const Table* const> tables) : tables_(tables) {}

  // Resolves a column reference to a slot. INVALID_ARGUMENT naming `where`.
  absl::StatusOr<int> BindColumn(const ColumnRef& ref, const std::string& where);
  const std::vector<BoundSlot>& slots() const { return slots_; }
  int NewNodeId() { return num_nodes_++; }
  int num_nodes() const { return num_nodes_; }

 private:
  absl::Span<const Table* const> tables_;
  std::vector<BoundSlot> slots_;
  int num_nodes_ = 0;
};

// `where` names the plan part for error messages ("filter", "aggregate 2").
absl::StatusOr<std::unique_ptr<Node>> CompileNumeric(const Expr& e, CompileContext& ctx,
                                                     const std::string& where);
absl::StatusOr<std::unique_ptr<Node>> CompileBoolean(const Expr& e, CompileContext& ctx,
                                                     const std::string& where);

}  // namespace datalab::engine::internal

#endif  // DATALAB_SERVICES_QUERY_ENGINE_EVALUATOR_H_
