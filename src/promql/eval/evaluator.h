// The evaluator behind engine.h: evaluates one query's tree at a given timestamp.
//
// A query is evaluated step by step: Eval(expr, t) returns the value of `expr` at time t.
// Storage is read once per vector selector: before the first step, a pass over the tree
// works out the time span each selector needs over the whole query (offsets, `@`, ranges
// and enclosing subqueries included), and the first evaluation of a selector loads its
// series over that span into memory. Later steps binary-search those arrays, and range
// vectors are windows (spans) into them, not copies.
//
// Label sets are interned: every label set the evaluator hands around is a pointer to one
// canonical copy, so equal label sets are equal pointers. Operations that derive labels
// (dropping the name, grouping, matching) memoize per input pointer, so the work is done
// once per series and query rather than once per step.
//
// Thread-safety: one Evaluator serves one query on one thread; the whole-range path
// (batch.cc) hands pieces of its work to ParallelFor (parallel.h) and waits for them.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <span>
#include <unordered_set>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "model/labels.h"
#include "promql/engine.h"
#include "promql/parser/ast.h"
#include "storage/querier.h"

namespace vigil::promql::eval {

// An instant-vector element. `t` is the evaluation time, except for the output of a
// vector selector, where it is the sample's own timestamp (timestamp() reports it).
struct Elem {
  const model::Labels* labels;  // interned
  double v;
  int64_t t;
  // With delayed name removal: the name (and __type__/__unit__) goes at the end.
  bool drop_name = false;
};
using Vector = std::vector<Elem>;

struct RangeSeries {
  const model::Labels* labels;  // interned
  std::span<const Point> points;
  bool drop_name = false;  // from a subquery whose samples were marked
};
using Matrix = std::vector<RangeSeries>;

// A range vector with the window it was taken over, as rate() needs it. The points are
// windows into loaded series, or into `owned` for subquery results.
struct RangeArg {
  Matrix mat;
  std::vector<std::vector<Point>> owned;
  int64_t range_start = 0;  // exclusive
  int64_t range_end = 0;    // inclusive
  int64_t range_ms = 0;
  // Extended range selectors (experimental upstream): `anchored` adds the last sample at
  // or before the window's start; `smoothed` replaces the edges with values interpolated
  // at range_start and range_end. Either way rate() and friends do not extrapolate.
  bool anchored = false;
  bool smoothed = false;
};

struct Value {
  ValueType type = ValueType::kNone;
  double scalar = 0;
  std::string str;
  Vector vec;
  RangeArg mat;
};

// Whether `name` is one of the labels that go with the metric name: __name__, __type__
// and __unit__.
bool IsNameLabel(std::string_view name);
// Returns `l` without __name__, __type__ and __unit__.
model::Labels DropMetricNameCopy(const model::Labels& l);

// The functions of one range vector, resolved from their names once per call.
enum class RangeFn {
  kUnknown,
  kRate, kIncrease, kDelta, kIrate, kIdelta, kDeriv, kPredictLinear, kChanges, kResets,
  kAvgOverTime, kSumOverTime, kCountOverTime, kPresentOverTime, kLastOverTime,
  kFirstOverTime, kTsOfLastOverTime, kTsOfFirstOverTime, kMaxOverTime, kMinOverTime,
  kTsOfMaxOverTime, kTsOfMinOverTime, kStddevOverTime, kStdvarOverTime,
  kQuantileOverTime, kMadOverTime, kDoubleExponentialSmoothing,
};
RangeFn RangeFnOf(std::string_view name);
// The value of `fn` over the window `p` (not empty) of `r`, evaluated at `ts`, with the
// call's scalar arguments; false if the function yields no element for this series.
// `no_resets` tells rate()/increase() that no value in `p` is below its predecessor, so
// they can skip looking for counter resets.
bool RangeFnValue(RangeFn fn, std::span<const Point> p, const RangeArg& r, int64_t ts,
                  const std::vector<double>& scalars, double* out, bool no_resets = false);

// rate(), increase() and delta(): the change over the window, extrapolated towards the
// window's edges as Prometheus does. False if there are fewer than two points. Inline:
// the batch path calls it for every step of every series.
inline bool ExtrapolatedRate(std::span<const Point> pts, const RangeArg& r, bool counter,
                             bool is_rate, bool no_resets, double* out) {
  if (pts.size() < 2) return false;
  double result = pts.back().v - pts.front().v;
  if (counter && !no_resets) {
    for (size_t i = 1; i < pts.size(); ++i) {
      if (pts[i].v < pts[i - 1].v) result += pts[i - 1].v;
    }
  }
  double sampled = static_cast<double>(pts.back().t - pts.front().t) / 1000.0;
  double avg = sampled / static_cast<double>(pts.size() - 1);
  double to_start = static_cast<double>(pts.front().t - r.range_start) / 1000.0;
  double to_end = static_cast<double>(r.range_end - pts.back().t) / 1000.0;
  double threshold = avg * 1.1;
  if (to_start >= threshold) to_start = avg / 2;
  if (counter && result > 0 && pts.front().v >= 0) {
    // A counter cannot go below zero: do not extrapolate past the point where it would.
    double to_zero = sampled * (pts.front().v / result);
    if (to_zero < to_start) to_start = to_zero;
  }
  if (to_end >= threshold) to_end = avg / 2;
  double factor = (sampled + to_start + to_end) / sampled;
  if (is_rate) factor /= static_cast<double>(r.range_ms) / 1000.0;
  *out = result * factor;
  return true;
}

// The running state of one group of sum/avg/count/group/min/max/stddev/stdvar, as
// Prometheus folds elements into it; AggInit takes the first element, AggAdd each further
// one, AggResult gives the group's value.
struct AggState {
  double value = 0;  // sum / min / max / stdvar aux
  double kahan_c = 0;
  double mean = 0;
  double count = 0;
  bool incremental_mean = false;
};
void AggInit(Op op, double v, AggState* g);
void AggAdd(Op op, double v, AggState* g);
double AggResult(Op op, const AggState& g);

// Whether `op` drops the metric name from its result (arithmetic does, comparisons and set
// operators do not).
bool DropsMetricName(Op op);
// The value of `l op r` for one pair of elements of `b` (or an element and a scalar), as
// Prometheus computes it; false if a filtering comparison drops the element. A comparison
// keeps the vector element's value, so `scalar_left` says that `r` is the element.
bool BinaryElemValue(const BinaryExpr& b, double l, double r, bool scalar_left, double* out);

class Evaluator {
 public:
  Evaluator(const EngineOptions& opts, storage::Querier* querier, int64_t start, int64_t end,
            int64_t step, std::string_view query_text);

  // Works out what each selector needs to load; call once before Eval.
  void Prepare(const Expr& root);
  // The overall [mint, maxt] the selectors need (for creating the Querier); after Prepare.
  std::pair<int64_t, int64_t> Bounds() const;

  absl::StatusOr<Value> Eval(const Expr& e, int64_t ts);

  // For a range query whose root the batch path evaluates: its result series (unsorted),
  // straight from the root's columns rather than through a vector per step, with the
  // labels moved out of the evaluator. False if the root is evaluated step by step (then
  // call Eval for each step); after true, the evaluator must not evaluate again.
  absl::StatusOr<bool> EvalRangeSeries(const Expr& root, std::vector<Series>* out);

  void SetQuerier(storage::Querier* q) { querier_ = q; }
  const std::set<std::string>& warnings() const { return warnings_; }
  const std::set<std::string>& infos() const { return infos_; }

  // Resolves a (possibly expression) duration to milliseconds.
  int64_t DurationMs(const Duration& d) const;

  // The canonical copy of `l`; equal label sets give the same pointer for the query's life.
  const model::Labels* Intern(model::Labels l);
  // As Intern, copying `l` only if no equal label set is interned yet.
  const model::Labels* InternCopy(const model::Labels& l);
  // Interned `raw`, without __name__, __type__ and __unit__ if `drop`: the labels of a
  // series' elements. Built in a reused buffer, so that a label set interned before costs
  // no allocation, and `raw` itself is not interned when `drop`.
  const model::Labels* InternSeries(const model::Labels& raw, bool drop);
  // Interned `l` without __name__, __type__ and __unit__ (memoized).
  const model::Labels* DropMetricName(const model::Labels* l);
  // An element derived from one with `labels` by a name-dropping operation: drops the name
  // now, or marks it for the end of the query with delayed name removal.
  Elem Derived(const model::Labels* labels, bool already_marked, double v, int64_t ts) {
    if (opts_.delayed_name_removal) return {labels, v, ts, true};
    (void)already_marked;
    return {DropMetricName(labels), v, ts, false};
  }
  // Applies delayed name removal to a finished step's vector and checks that no two
  // elements collide afterwards.
  absl::Status FinishStep(Vector* vec);
  // A per-node memo from input labels to derived labels, for label-changing functions,
  // aggregation grouping and binary matching.
  std::unordered_map<const model::Labels*, const model::Labels*>& Memo(const void* node,
                                                                      int slot = 0) {
    return memos_[{node, slot}];
  }

 private:

  struct LoadedSeries {
    const model::Labels* labels;
    std::vector<Point> points;  // with stale markers
    std::vector<Point> fresh;   // without them, for range selectors
  };
  struct Loaded {
    bool done = false;
    std::vector<LoadedSeries> series;
  };

  // ---- whole-query evaluation of some subtrees (batch.cc) ----
  struct Batched {
    bool computed = false;
    bool unusable = false;  // the node turned out not to fit; evaluate it step by step
    std::vector<Vector> steps;  // the node's value at start_ + k*step_
    std::vector<bool> taken;    // steps already handed out (moved)
  };
  struct BatchSource;
  // A node's value at every step of the query, series by series: the batch path's
  // intermediate form. Series s at step k is vals[s * n + k] if has[s * n + k].
  struct Columns {
    std::vector<const model::Labels*> labels;  // interned, one per series
    std::vector<uint8_t> marked;               // per series: the elements' drop_name
    std::vector<double> vals;
    std::vector<uint8_t> has;
    // The order of the series present at each step where it is not the series' own
    // order (an aggregation's groups come in order of first appearance at each step).
    std::vector<std::vector<uint32_t>> order;
  };
  // Whether `e` has a shape the batch path evaluates (see batch.cc).
  bool BatchShape(const Expr& e) const;
  // Whether `e` is a batch shape or a vector selector the batch path reads.
  bool BatchOperand(const Expr& e) const;
  // Marks the query's root for the batch path if it is a bare vector selector (one that is
  // not the root keeps its samples' timestamps, which timestamp() may ask for).
  void PrepareBatchRoot(const Expr& root);
  int64_t NumSteps() const;
  // The batched value of `e` at `ts`; false if `ts` is not a step of the query or the node
  // is to be evaluated step by step.
  absl::StatusOr<bool> EvalBatched(const Expr& e, int64_t ts, Value* out);
  absl::Status ComputeBatched(const Expr& e, Batched* b);
  // The columns of the batch node `e` for `b`; false (and `b` unusable) if the node does
  // not fit after all.
  absl::StatusOr<bool> ComputeRoot(const Expr& e, Batched* b, Columns* c);
  // Hands the columns out as one vector per step.
  void StepsFromColumns(const Columns& c, Batched* b) const;
  // The columns of a batch operand; false if the node does not fit after all (a label
  // collision or a matching that may fail at some step), so that the step-by-step path
  // evaluates it and reports any error where it happens.
  absl::StatusOr<bool> ComputeColumns(const Expr& e, Columns* out);
  // A selector or range function of one, aggregated by `agg` if not null.
  absl::StatusOr<bool> SourceColumns(const Expr& e, const AggregateExpr* agg, Columns* out);
  absl::StatusOr<bool> AggregateColumns(const AggregateExpr& a, const Columns& in,
                                        Columns* out);
  absl::StatusOr<bool> BinaryColumns(const BinaryExpr& b, Columns* out);
  // Gives the series the labels of elements derived from them (by Derived() if `drop`);
  // false if two series could end up with the same labels, an error at any step where
  // both are present.
  bool DeriveColumns(bool drop, Columns* c);
  absl::StatusOr<bool> SetOpColumns(const BinaryExpr& b, const Columns& lhs,
                                    const Columns& rhs, Columns* out);
  absl::StatusOr<BatchSource> MakeBatchSource(const Expr& e);
  // Fills the values of one series at every step; true if any step's window had samples.
  // Thread-safe: reads only the query's fixed parameters.
  bool SeriesStepValues(const BatchSource& src, std::span<const Point> pts,
                        std::span<double> vals, std::span<uint8_t> has) const;
  // The interned labels of the group `l` belongs to in `a` (not count_values; memoized).
  const model::Labels* GroupKey(const AggregateExpr& a, const model::Labels* l);
  int subquery_depth_ = 0;
  std::unordered_set<const Expr*> batch_nodes_;
  std::unordered_map<const Expr*, Batched> batched_;

  absl::Status CheckLimits();
  // Prometheus refuses a step result in which two elements have the same labels.
  static absl::Status CheckUniqueLabels(const Vector& vec);
  absl::StatusOr<const Loaded*> Load(const VectorSelector& vs);
  // What storage is told about reading `vs` over [mint, maxt] (its ranges_ entry).
  storage::SelectHints HintsFor(const VectorSelector& vs, int64_t mint, int64_t maxt) const;
  int64_t RefTime(const VectorSelector& vs, int64_t ts) const;

  absl::StatusOr<Value> EvalVectorSelector(const VectorSelector& vs, int64_t ts);
  absl::StatusOr<RangeArg> EvalRange(const Expr& e, int64_t ts);
  absl::StatusOr<Value> EvalBinary(const BinaryExpr& b, int64_t ts);
  absl::StatusOr<Value> EvalAggregate(const AggregateExpr& a, int64_t ts);
  absl::StatusOr<Value> EvalCall(const Call& c, int64_t ts);
  // The interned labels `l` is matched on in `b` (memoized).
  const model::Labels* Signature(const BinaryExpr& b, const model::Labels* l, bool set_op);
  absl::StatusOr<Vector> VectorBinop(const BinaryExpr& b, const Vector& lhs,
                                     const Vector& rhs, int64_t ts);
  // The labels of the result of matching `many` (the "many" side after group_right's swap)
  // with `one` (null when a fill value stands in for it) in `b` (memoized where they do not
  // depend on `one`).
  const model::Labels* ResultLabels(const BinaryExpr& b, const model::Labels* many,
                                    const model::Labels* one);

  // The info annotation rate() and increase() attach to a metric not named like a counter.
  void CheckCounterName(const Expr& arg, std::string_view metric);
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
  const model::Labels* FindInterned(uint64_t hash, const model::Labels& l) const;
  const model::Labels* StoreInterned(uint64_t hash, model::Labels l);
  std::deque<model::Labels> label_store_;
  // Interned label sets by hash; a second set with the same 64-bit hash, which is rare
  // enough not to shape the common case, goes to collided_.
  absl::flat_hash_map<uint64_t, const model::Labels*> interned_;
  std::unordered_multimap<uint64_t, const model::Labels*> collided_;
  model::Labels series_labels_;  // InternSeries' buffer
  std::unordered_map<const model::Labels*, const model::Labels*> dropped_;
  struct MemoKeyHash {
    size_t operator()(const std::pair<const void*, int>& k) const {
      return std::hash<const void*>()(k.first) * 31 + static_cast<size_t>(k.second);
    }
  };
  std::unordered_map<std::pair<const void*, int>,
                     std::unordered_map<const model::Labels*, const model::Labels*>, MemoKeyHash>
      memos_;
  // For each info() call, the selector of its candidate info series (built at Prepare).
  struct InfoPlan {
    std::unique_ptr<VectorSelector> selector;
    model::Matchers name_matchers;  // the call's __name__ matchers (empty: target_info)
    bool has_positive_name = false;
    model::Matchers data_matchers;
  };
  std::unordered_map<const Call*, InfoPlan> info_plans_;
  absl::StatusOr<Value> EvalInfo(const Call& c, Value base, int64_t ts);
  // The time info() looks its info series up at: the evaluation time, moved by the `@` and
  // offset of the base expression's outermost selector or subquery, like its samples.
  int64_t InfoTime(const Expr& base, int64_t ts) const;
  // Selectors whose samples are read as ranges (need stale-free arrays).
  std::unordered_set<const VectorSelector*> range_selectors_;
};

}  // namespace vigil::promql::eval
