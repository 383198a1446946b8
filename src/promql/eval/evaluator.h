// The evaluator behind engine.h: evaluates one query's tree at a given timestamp.
//
// A query is evaluated step by step: Eval(expr, t) returns the value of `expr` at time t.
// Storage is read once per vector selector: before the first step, a pass over the tree
// works out the time span each selector needs over the whole query (offsets, `@`, ranges
// and enclosing subqueries included), and the first evaluation of a selector loads its
// series over that span into memory. Later steps binary-search those arrays.
//
// Thread-safety: one Evaluator serves one query on one thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"
#include "promql/engine.h"
#include "promql/parser/ast.h"
#include "storage/querier.h"

namespace vigil::promql::eval {

// An instant-vector element. `t` is the evaluation time, except for the output of a
// vector selector, where it is the sample's own timestamp (timestamp() reports it).
struct Elem {
  model::Labels labels;
  double v;
  int64_t t;
};
using Vector = std::vector<Elem>;

struct RangeSeries {
  model::Labels labels;
  std::vector<Point> points;
};
using Matrix = std::vector<RangeSeries>;

struct Value {
  ValueType type = ValueType::kNone;
  double scalar = 0;
  std::string str;
  Vector vec;
  Matrix mat;
};

// A range vector argument with the window it was taken over, as rate() needs it.
struct RangeArg {
  Matrix mat;
  int64_t range_start = 0;  // exclusive
  int64_t range_end = 0;    // inclusive
  int64_t range_ms = 0;
};

// Returns `l` without __name__, __type__ and __unit__.
model::Labels DropMetricName(const model::Labels& l);

class Evaluator {
 public:
  Evaluator(const EngineOptions& opts, storage::Querier* querier, int64_t start, int64_t end,
            int64_t step, std::string_view query_text);

  // Works out what each selector needs to load; call once before Eval.
  void Prepare(const Expr& root);
  // The overall [mint, maxt] the selectors need (for creating the Querier); after Prepare.
  std::pair<int64_t, int64_t> Bounds() const;

  absl::StatusOr<Value> Eval(const Expr& e, int64_t ts);

  void SetQuerier(storage::Querier* q) { querier_ = q; }
  const std::set<std::string>& warnings() const { return warnings_; }
  const std::set<std::string>& infos() const { return infos_; }

  // Resolves a (possibly expression) duration to milliseconds.
  int64_t DurationMs(const Duration& d) const;

 private:
  friend class FunctionCaller;

  struct LoadedSeries {
    model::Labels labels;
    std::vector<int64_t> t;
    std::vector<double> v;
  };
  struct Loaded {
    bool done = false;
    std::vector<LoadedSeries> series;
  };

  absl::Status CheckLimits();
  // Prometheus refuses a step result in which two elements have the same labels.
  static absl::Status CheckUniqueLabels(const Vector& vec);
  absl::StatusOr<const Loaded*> Load(const VectorSelector& vs);
  int64_t RefTime(const VectorSelector& vs, int64_t ts) const;

  absl::StatusOr<Value> EvalVectorSelector(const VectorSelector& vs, int64_t ts);
  absl::StatusOr<RangeArg> EvalRange(const Expr& e, int64_t ts);
  absl::StatusOr<Value> EvalBinary(const BinaryExpr& b, int64_t ts);
  absl::StatusOr<Value> EvalAggregate(const AggregateExpr& a, int64_t ts);
  absl::StatusOr<Value> EvalCall(const Call& c, int64_t ts);
  absl::StatusOr<Vector> VectorBinop(const BinaryExpr& b, const Vector& lhs,
                                     const Vector& rhs, int64_t ts);

  void Warn(const Expr& at, std::string msg);
  void Info(const Expr& at, std::string msg);
  std::string PosSuffix(const Expr& at) const;

  double DurationSeconds(const Expr& e) const;
  void PrepareNode(const Expr& e, int64_t start, int64_t end);

  const EngineOptions& opts_;
  storage::Querier* querier_;
  int64_t start_, end_, step_;
  std::string_view query_;
  std::chrono::steady_clock::time_point deadline_;
  bool has_deadline_ = false;
  int64_t loaded_samples_ = 0;
  int64_t eval_count_ = 0;
  std::unordered_map<const VectorSelector*, std::pair<int64_t, int64_t>> ranges_;
  std::unordered_map<const VectorSelector*, Loaded> cache_;
  std::set<std::string> warnings_, infos_;
};

}  // namespace vigil::promql::eval
