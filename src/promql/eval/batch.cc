// Whole-query evaluation of the subtrees that dominate dashboard queries.
//
// The step-by-step evaluator pays, at every step, a binary search per series, a vector of
// elements, label memo lookups and a duplicate check. For the shapes below, which are most
// of what dashboards ask, the evaluator instead computes the subtree for every step of the
// query at once, the first time any step asks for it, walking each series once:
//
//   f(selector[range])        f a range function without scalar arguments (rate, increase,
//                             delta, irate, *_over_time, ...)
//   agg by|without (...) (x)  agg one of sum avg count group min max stddev stdvar
//   x op y                    arithmetic, comparison (with or without bool) and set
//                             operators, with on/ignoring and group_left/group_right, where
//                             each side is a number literal or a vector operand
//   -x                        unary minus
//   selector                  a plain vector selector, as the query's root or inside the
//                             shapes above
//
// where x and y are any of these shapes or plain vector selectors, outside subqueries,
// without `@` and without the experimental anchored/smoothed/fill modifiers. A subtree's
// value is held as columns (Evaluator::Columns): per output series its labels, computed
// once, and its value at every step, so label work (dropping the name, grouping,
// matching) is done once per series instead of once per step.
//
// A selector is read in rounds of series: their samples are decoded and their windows
// computed in parallel (parallel.h), each series into its own slots, and the calling
// thread folds them into the result in series order; it reads the next round's series and
// folds the last one while the workers decode. A range function's window slides
// over the samples with two indices (O(samples + steps) per series), counter windows
// without a reset skip rate()'s reset scan, and an aggregation of a selector or range
// function folds each series into per-step group states without materialising its input.
// The values are computed by the same functions as the step-by-step path (RangeFnValue,
// AggInit/AggAdd/AggResult, BinaryElemValue, GroupKey, Signature, ResultLabels), in the
// same element order at every step, so results are identical to the last bit.
//
// Errors that depend on which series are present at a step (two series whose labels
// collide once the metric name is dropped, duplicate series on the "one" side of a
// matching, several matches of one-to-one) are not decided here: where the series'
// labels make one possible at all, the node falls back to the step-by-step path, which
// reports the error at the step where it happens, as Prometheus does.
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/status.h"
#include "model/sample.h"
#include "promql/eval/evaluator.h"
#include "promql/eval/kahan.h"
#include "promql/eval/parallel.h"
#include "promql/parser/functions.h"

namespace vigil::promql::eval {
namespace {

const Expr& Unparen(const Expr& e) {
  if (e.kind == NodeKind::kParen) return Unparen(*static_cast<const ParenExpr&>(e).expr);
  return e;
}

bool PlainSelector(const VectorSelector& vs) {
  return !vs.at && vs.at_preproc == AtPreproc::kNone && !vs.anchored && !vs.smoothed;
}

// The range function of `c` if it is one the batch path evaluates, else kUnknown.
RangeFn BatchRangeFn(const Call& c) {
  if (c.func == nullptr || c.args.size() != 1) return RangeFn::kUnknown;
  if (c.func->arg_types.size() != 1 || c.func->arg_types[0] != ValueType::kMatrix) {
    return RangeFn::kUnknown;
  }
  const Expr& arg = Unparen(*c.args[0]);
  if (arg.kind != NodeKind::kMatrixSelector) return RangeFn::kUnknown;
  if (!PlainSelector(static_cast<const MatrixSelector&>(arg).selector())) return RangeFn::kUnknown;
  RangeFn fn = RangeFnOf(c.func->name);
  switch (fn) {
    // Functions with scalar arguments take the step-by-step path.
    case RangeFn::kPredictLinear:
    case RangeFn::kQuantileOverTime:
    case RangeFn::kDoubleExponentialSmoothing: return RangeFn::kUnknown;
    default: return fn;
  }
}

bool BatchAggregateOp(Op op) {
  switch (op) {
    case Op::kSum:
    case Op::kAvg:
    case Op::kCount:
    case Op::kGroup:
    case Op::kMin:
    case Op::kMax:
    case Op::kStddev:
    case Op::kStdvar: return true;
    default: return false;
  }
}

// Removes the stale markers from `pts`, in place.
void DropStaleMarkers(std::vector<Point>* pts) {
  auto stale = [](const Point& p) { return model::IsStaleNaN(p.v); };
  pts->erase(std::remove_if(pts->begin(), pts->end(), stale), pts->end());
}

// A window of rate(), increase() or delta() whose value depends only on its first and
// last points and their count (at least two): no counter reset within.
struct RateWindow {
  size_t step;
  const Point* first;
  const Point* last;
  size_t count;
  int64_t range_start, range_end;
};

// ExtrapolatedRate (evaluator.h) for each window, into vals/has at the window's step. Two
// windows at a time in SSE2 lanes: the same IEEE operations in the same order as the
// scalar function, branches turned into selects, so the results are identical to the bit,
// while the divisions (seven a window) of two windows overlap.
void ExtrapolatedRates(std::span<const RateWindow> windows, bool counter, bool is_rate,
                       int64_t range_ms, std::span<double> vals, std::span<uint8_t> has) {
  size_t w = 0;
#if defined(__SSE2__)
  const __m128d k1000 = _mm_set1_pd(1000.0), k1_1 = _mm_set1_pd(1.1), k_half = _mm_set1_pd(0.5);
  const __m128d zero = _mm_setzero_pd();
  const __m128d range_s = _mm_set1_pd(static_cast<double>(range_ms) / 1000.0);
  // mask ? a : b
  auto select = [](__m128d mask, __m128d a, __m128d b) {
    return _mm_or_pd(_mm_and_pd(mask, a), _mm_andnot_pd(mask, b));
  };
  auto pair = [&](auto field) { return _mm_set_pd(field(windows[w + 1]), field(windows[w])); };
  for (; w + 2 <= windows.size(); w += 2) {
    const __m128d fv = pair([](const RateWindow& x) { return x.first->v; });
    const __m128d lv = pair([](const RateWindow& x) { return x.last->v; });
    const __m128d result = _mm_sub_pd(lv, fv);
    const __m128d sampled = _mm_div_pd(
        pair([](const RateWindow& x) { return static_cast<double>(x.last->t - x.first->t); }),
        k1000);
    const __m128d avg = _mm_div_pd(
        sampled, pair([](const RateWindow& x) { return static_cast<double>(x.count - 1); }));
    __m128d to_start = _mm_div_pd(
        pair([](const RateWindow& x) { return static_cast<double>(x.first->t - x.range_start); }),
        k1000);
    __m128d to_end = _mm_div_pd(
        pair([](const RateWindow& x) { return static_cast<double>(x.range_end - x.last->t); }),
        k1000);
    const __m128d threshold = _mm_mul_pd(avg, k1_1);
    const __m128d half = _mm_mul_pd(avg, k_half);  // avg / 2, exactly
    to_start = select(_mm_cmpge_pd(to_start, threshold), half, to_start);
    if (counter) {
      const __m128d to_zero = _mm_mul_pd(sampled, _mm_div_pd(fv, result));
      const __m128d clamp = _mm_and_pd(_mm_and_pd(_mm_cmpgt_pd(result, zero), _mm_cmpge_pd(fv, zero)),
                                       _mm_cmplt_pd(to_zero, to_start));
      to_start = select(clamp, to_zero, to_start);
    }
    to_end = select(_mm_cmpge_pd(to_end, threshold), half, to_end);
    __m128d factor = _mm_div_pd(_mm_add_pd(_mm_add_pd(sampled, to_start), to_end), sampled);
    if (is_rate) factor = _mm_div_pd(factor, range_s);
    alignas(16) double out[2];
    _mm_store_pd(out, _mm_mul_pd(result, factor));
    for (size_t j = 0; j < 2; ++j) {
      vals[windows[w + j].step] = out[j];
      has[windows[w + j].step] = 1;
    }
  }
#endif
  RangeArg r;
  r.range_ms = range_ms;
  for (; w < windows.size(); ++w) {
    const RateWindow& x = windows[w];
    r.range_start = x.range_start;
    r.range_end = x.range_end;
    has[x.step] = ExtrapolatedRate(std::span<const Point>(x.first, x.count), r, counter, is_rate,
                                   true, &vals[x.step]);
  }
}

bool IsNumber(const Expr& e) { return Unparen(e).kind == NodeKind::kNumberLiteral; }

// A node's columns hold at most this many (series, step) cells; a bigger one takes the
// step-by-step path, which holds samples rather than steps.
constexpr size_t kMaxCells = size_t{64} << 20;

// Calls f(s) for each series s of `c` with a value at step k, in the order the
// step-by-step path has them.
template <typename C, typename F>
void ForEachAt(const C& c, size_t n, size_t k, F f) {
  if (c.order.empty()) {
    for (size_t s = 0; s < c.labels.size(); ++s) {
      if (c.has[s * n + k]) f(s);
    }
    return;
  }
  for (uint32_t s : c.order[k]) {
    if (c.has[s * n + k]) f(s);
  }
}

}  // namespace

bool Evaluator::BatchShape(const Expr& e) const {
  switch (e.kind) {
    case NodeKind::kCall: return BatchRangeFn(static_cast<const Call&>(e)) != RangeFn::kUnknown;
    case NodeKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      return BatchAggregateOp(a.op) && !a.param && BatchOperand(*a.expr);
    }
    case NodeKind::kUnary: {
      // Not unary plus: it keeps a selector's sample timestamps, which timestamp() reads.
      const auto& u = static_cast<const UnaryExpr&>(e);
      return u.op == Op::kSub && BatchOperand(*u.expr);
    }
    case NodeKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      if (b.matching && (b.matching->fill_left || b.matching->fill_right)) return false;
      const bool lnum = IsNumber(*b.lhs), rnum = IsNumber(*b.rhs);
      if (lnum && rnum) return false;
      return (lnum || BatchOperand(*b.lhs)) && (rnum || BatchOperand(*b.rhs));
    }
    default: return false;
  }
}

bool Evaluator::BatchOperand(const Expr& e) const {
  const Expr& in = Unparen(e);
  if (in.kind == NodeKind::kVectorSelector) {
    return PlainSelector(static_cast<const VectorSelector&>(in));
  }
  return BatchShape(in);
}

void Evaluator::PrepareBatchRoot(const Expr& root) {
  const Expr& r = Unparen(root);
  if (r.kind == NodeKind::kVectorSelector && BatchOperand(r)) batch_nodes_.insert(&r);
}

int64_t Evaluator::NumSteps() const { return step_ > 0 ? (end_ - start_) / step_ + 1 : 1; }

absl::StatusOr<bool> Evaluator::EvalBatched(const Expr& e, int64_t ts, Value* out) {
  if (ts < start_ || ts > end_) return false;
  if (step_ > 0 ? (ts - start_) % step_ != 0 : ts != start_) return false;
  Batched& b = batched_[&e];
  if (b.unusable) return false;
  if (!b.computed) {
    RETURN_IF_ERROR(ComputeBatched(e, &b));
    if (b.unusable) return false;
  }
  size_t k = step_ > 0 ? static_cast<size_t>((ts - start_) / step_) : 0;
  // Each step is handed out once (moved); a second request takes the normal path.
  if (k >= b.steps.size() || b.taken[k]) return false;
  b.taken[k] = true;
  out->type = ValueType::kVector;
  out->vec = std::move(b.steps[k]);
  return true;
}

// Per-series, per-step values of a batch source (a range function of a matrix selector,
// or a plain vector selector).
struct Evaluator::BatchSource {
  const VectorSelector* vs = nullptr;
  const Call* call = nullptr;  // null: the selector's instant values
  RangeFn fn = RangeFn::kUnknown;
  int64_t range_ms = 0;
  int64_t offset_ms = 0;
  bool keep_name = false;
  bool counter_fn = false;
};

absl::StatusOr<Evaluator::BatchSource> Evaluator::MakeBatchSource(const Expr& e) {
  BatchSource src;
  const Expr& in = Unparen(e);
  if (in.kind == NodeKind::kVectorSelector) {
    src.vs = &static_cast<const VectorSelector&>(in);
  } else {
    src.call = &static_cast<const Call&>(in);
    src.fn = BatchRangeFn(*src.call);
    const auto& ms = static_cast<const MatrixSelector&>(Unparen(*src.call->args[0]));
    src.vs = &ms.selector();
    src.range_ms = DurationMs(ms.range);
    src.keep_name = src.fn == RangeFn::kLastOverTime || src.fn == RangeFn::kFirstOverTime;
    src.counter_fn = src.fn == RangeFn::kRate || src.fn == RangeFn::kIncrease;
  }
  src.offset_ms = DurationMs(src.vs->offset);
  return src;
}

bool Evaluator::SeriesStepValues(const BatchSource& src, std::span<const Point> pts,
                                 std::span<double> vals, std::span<uint8_t> has) const {
  const size_t n = vals.size();
  bool any_window = false;
  if (src.call == nullptr) {
    // As EvalVectorSelector: the last sample at or before the step, within the lookback.
    size_t j = 0;
    bool any = false;
    for (size_t k = 0; k < n; ++k) {
      int64_t ref = start_ + static_cast<int64_t>(k) * step_ - src.offset_ms;
      while (j < pts.size() && pts[j].t <= ref) ++j;
      has[k] = 0;
      if (j == 0) continue;
      const Point& p = pts[j - 1];
      if (p.t <= ref - opts_.lookback_delta_ms || model::IsStaleNaN(p.v)) continue;
      vals[k] = p.v;
      has[k] = 1;
      any = true;
    }
    return any;
  }
  // As EvalRange + EvalCall: the window (ref - range, ref] slides with two indices.
  static const std::vector<double> kNoScalars;
  RangeArg r;
  r.range_ms = src.range_ms;
  // For counters: resets[i] = number of drops among pts[1..i], so that a window without
  // any skips rate()'s reset scan (the result is the same; the scan finds nothing).
  thread_local std::vector<uint32_t> resets;
  if (src.counter_fn) {
    resets.resize(pts.size());
    uint32_t drops = 0;
    for (size_t i = 0; i < pts.size(); ++i) {
      if (i > 0 && pts[i].v < pts[i - 1].v) ++drops;
      resets[i] = drops;
    }
  }
  // rate(), increase() and delta() over windows without a counter reset are computed after
  // the loop, without RangeFnValue's dispatch and two windows at a time.
  const bool extrapolated = src.counter_fn || src.fn == RangeFn::kDelta;
  thread_local std::vector<RateWindow> windows;
  windows.clear();
  size_t lo = 0, hi = 0;
  for (size_t k = 0; k < n; ++k) {
    int64_t ts = start_ + static_cast<int64_t>(k) * step_;
    int64_t ref = ts - src.offset_ms;
    int64_t wstart = ref - src.range_ms;
    while (lo < pts.size() && pts[lo].t <= wstart) ++lo;
    if (hi < lo) hi = lo;
    while (hi < pts.size() && pts[hi].t <= ref) ++hi;
    has[k] = 0;
    if (lo == hi) continue;
    any_window = true;
    r.range_start = wstart;
    r.range_end = ref;
    const bool no_resets = src.counter_fn && resets[hi - 1] == resets[lo];
    if (extrapolated && (no_resets || !src.counter_fn)) {
      // The common case of dashboards' rate(): the window's ends and its count decide.
      if (hi - lo >= 2) windows.push_back({k, &pts[lo], &pts[hi - 1], hi - lo, wstart, ref});
      continue;
    }
    r.range_start = wstart;
    r.range_end = ref;
    has[k] = RangeFnValue(src.fn, pts.subspan(lo, hi - lo), r, ts, kNoScalars, &vals[k],
                          no_resets);
  }
  ExtrapolatedRates(windows, src.counter_fn, src.fn == RangeFn::kRate, src.range_ms, vals, has);
  return any_window;
}

absl::StatusOr<bool> Evaluator::ComputeRoot(const Expr& e, Batched* b, Columns* c) {
  b->computed = true;
  const int64_t samples_before = loaded_samples_;
  ASSIGN_OR_RETURN(bool fits, ComputeColumns(e, c));
  if (!fits) {
    // Let the step-by-step path evaluate (and report) this node.
    b->unusable = true;
    loaded_samples_ = samples_before;
  }
  return fits;
}

void Evaluator::StepsFromColumns(const Columns& c, Batched* b) const {
  const size_t n = static_cast<size_t>(NumSteps());
  b->steps.assign(n, Vector());
  b->taken.assign(n, false);
  for (size_t k = 0; k < n; ++k) {
    Vector& out = b->steps[k];
    const int64_t ts = start_ + static_cast<int64_t>(k) * step_;
    ForEachAt(c, n, k, [&](size_t s) {
      out.push_back({c.labels[s], c.vals[s * n + k], ts, c.marked[s] != 0});
    });
  }
}

absl::Status Evaluator::ComputeBatched(const Expr& e, Batched* b) {
  Columns c;
  ASSIGN_OR_RETURN(bool fits, ComputeRoot(e, b, &c));
  if (fits) StepsFromColumns(c, b);
  return absl::OkStatus();
}

absl::StatusOr<bool> Evaluator::EvalRangeSeries(const Expr& root, std::vector<Series>* out) {
  const Expr& r = Unparen(root);
  if (step_ <= 0 || batch_nodes_.count(&r) == 0) return false;
  Batched& b = batched_[&r];
  if (b.computed) return false;
  Columns c;
  ASSIGN_OR_RETURN(bool fits, ComputeRoot(r, &b, &c));
  if (!fits) return false;
  // Marked elements lose their names step by step (FinishStep checks each step for
  // collisions), and two columns with the same labels merge into one series: both go
  // through the steps.
  std::unordered_set<const model::Labels*> distinct(c.labels.begin(), c.labels.end());
  if (distinct.size() != c.labels.size() ||
      std::any_of(c.marked.begin(), c.marked.end(), [](uint8_t m) { return m != 0; })) {
    StepsFromColumns(c, &b);
    return false;
  }
  const size_t n = static_cast<size_t>(NumSteps());
  for (size_t s = 0; s < c.labels.size(); ++s) {
    const uint8_t* has = &c.has[s * n];
    const size_t count = n - static_cast<size_t>(std::count(has, has + n, 0));
    if (count == 0) continue;
    Series series;
    series.points.reserve(count);
    for (size_t k = 0; k < n; ++k) {
      if (has[k]) {
        series.points.push_back({start_ + static_cast<int64_t>(k) * step_, c.vals[s * n + k]});
      }
    }
    // The labels are the query's last use of the interned copy.
    series.labels = std::move(*const_cast<model::Labels*>(c.labels[s]));
    out->push_back(std::move(series));
  }
  return true;
}

absl::StatusOr<bool> Evaluator::ComputeColumns(const Expr& e, Columns* out) {
  const Expr& in = Unparen(e);
  switch (in.kind) {
    case NodeKind::kVectorSelector:
    case NodeKind::kCall: return SourceColumns(in, nullptr, out);
    case NodeKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(in);
      const Expr& arg = Unparen(*a.expr);
      if (arg.kind == NodeKind::kVectorSelector || arg.kind == NodeKind::kCall) {
        return SourceColumns(arg, &a, out);
      }
      Columns c;
      ASSIGN_OR_RETURN(bool fits, ComputeColumns(arg, &c));
      if (!fits) return false;
      return AggregateColumns(a, c, out);
    }
    case NodeKind::kBinary: return BinaryColumns(static_cast<const BinaryExpr&>(in), out);
    case NodeKind::kUnary: {
      ASSIGN_OR_RETURN(bool fits, ComputeColumns(*static_cast<const UnaryExpr&>(in).expr, out));
      if (!fits || !DeriveColumns(true, out)) return false;
      for (size_t i = 0; i < out->vals.size(); ++i) {
        if (out->has[i]) out->vals[i] = -out->vals[i];
      }
      return true;
    }
    default: return absl::InternalError("BUG: batch operand of an unexpected kind");
  }
}

absl::StatusOr<bool> Evaluator::SourceColumns(const Expr& e, const AggregateExpr* agg,
                                              Columns* out) {
  const size_t n = static_cast<size_t>(NumSteps());
  ASSIGN_OR_RETURN(BatchSource src, MakeBatchSource(e));
  auto range = ranges_.find(src.vs);
  if (range == ranges_.end() || querier_ == nullptr) return true;
  auto [mint, maxt] = range->second;
  // Whether the elements' labels lose the metric name now (rather than at the end).
  const bool drops_name = src.call != nullptr && !src.keep_name && !opts_.delayed_name_removal;
  const bool marked = src.call != nullptr && !src.keep_name && opts_.delayed_name_removal;

  // The series are read in rounds: the calling thread takes up to round_size series from the
  // set (their labels, group and sample iterator), the pieces are decoded and their
  // windows computed in parallel, each into its own slots, and the calling thread then
  // folds them into the result in series order, so the result does not depend on the
  // threads. Memory holds two rounds' per-step values, not the selector's samples.
  auto ss = querier_->Select(true, HintsFor(*src.vs, mint, maxt), src.vs->matchers);
  const Expr& counter_arg = src.call != nullptr ? *src.call->args[0] : e;
  // Labels of the elements seen so far (standalone function) or hashes of the name-less
  // labels (aggregation), to catch two series that collide once the name is gone.
  std::unordered_set<const model::Labels*> seen_labels;
  std::unordered_set<uint64_t> seen_hashes;
  // Aggregation: groups in order of first appearance, one state per (group, step).
  std::vector<const model::Labels*> groups;
  std::unordered_map<std::string, uint32_t> group_index;
  std::string key;
  std::vector<const model::Label*> group_labels;
  std::vector<AggState> states;
  std::vector<uint8_t> seen;  // per state; bit 0: has a member; bit 1: a member is marked
  std::vector<std::vector<uint32_t>> order(agg ? n : 0);

  struct Piece {
    std::unique_ptr<storage::SampleIterator> it;
    const model::Labels* labels = nullptr;  // standalone function: the elements' labels
    uint32_t group = 0;                     // aggregation: the series' group
    uint64_t hash = 0;                      // aggregation: hash of the name-less labels
    std::string metric;                     // counter functions: for the info annotation
    size_t samples = 0;
    bool any = false;
    absl::Status err;
  };
  // Up to 512 series a round, fewer for long ranges: a round's values stay within ~4 MiB.
  // The buffers grow with the rounds, so that a query of a few series does not pay for
  // clearing megabytes.
  const size_t round_size = std::clamp<size_t>((size_t{4} << 20) / (n * 9), 16, 512);
  struct Round {
    std::vector<Piece> pieces;
    std::vector<double> vals;
    std::vector<uint8_t> has;
    size_t m = 0;  // pieces in this round
  };
  bool more = true;
  // Reads the next round's series into `r`; false if the node does not fit.
  auto prepare = [&](Round& r) -> absl::StatusOr<bool> {
    RETURN_IF_ERROR(CheckLimits());
    size_t m = 0;
    for (; m < round_size && (more = ss->Next()); ++m) {
      const storage::Series& s = ss->At();
      const model::Labels& raw = s.labels();
      if (m == r.pieces.size()) r.pieces.emplace_back();
      Piece& p = r.pieces[m];
      p.it = s.Iterator();
      p.samples = 0;
      p.any = false;
      p.err = absl::OkStatus();
      if (src.counter_fn) p.metric.assign(raw.MetricName());
      if (agg == nullptr) {
        p.labels = InternSeries(raw, drops_name);
        continue;
      }
      // The group, from the series' own labels (as GroupKey would from the element's).
      key.clear();
      group_labels.clear();
      uint64_t hash = 0xcbf29ce484222325ULL;
      for (const model::Label& lab : raw) {
        const bool name_like = IsNameLabel(lab.name);
        if (drops_name && !name_like) {
          for (char ch : lab.name) hash = (hash ^ static_cast<uint8_t>(ch)) * 0x100000001b3ULL;
          hash = (hash ^ 0xff) * 0x100000001b3ULL;
          for (char ch : lab.value) hash = (hash ^ static_cast<uint8_t>(ch)) * 0x100000001b3ULL;
          hash = (hash ^ 0xfe) * 0x100000001b3ULL;
        }
        bool listed = std::find(agg->grouping.begin(), agg->grouping.end(), lab.name) !=
                      agg->grouping.end();
        bool in_group =
            agg->without ? !listed && !name_like : listed && !(drops_name && name_like);
        if (!in_group) continue;
        key.append(lab.name).push_back('\xff');
        key.append(lab.value).push_back('\xff');
        group_labels.push_back(&lab);
      }
      p.hash = hash;
      auto [git, fresh] = group_index.try_emplace(key, static_cast<uint32_t>(groups.size()));
      if (fresh) {
        if ((groups.size() + 1) * n > kMaxCells) return false;
        std::vector<model::Label> copy;
        copy.reserve(group_labels.size());
        for (const model::Label* lab : group_labels) copy.push_back(*lab);
        groups.push_back(Intern(model::Labels(std::move(copy))));
        states.resize(groups.size() * n);
        seen.resize(groups.size() * n, 0);
      }
      p.group = git->second;
    }
    r.m = m;
    if (r.vals.size() < m * n) {
      r.vals.resize(m * n);
      r.has.resize(m * n);
    }
    return true;
  };
  // Decodes piece i of `r` and computes its values at every step; runs on any thread.
  auto decode = [&](Round& r, size_t i) {
    Piece& p = r.pieces[i];
    thread_local std::vector<Point> pts;
    pts.clear();
    p.it->AppendRange(mint, maxt, &pts);
    p.err = p.it->Err();
    p.it.reset();
    p.samples = pts.size();
    if (!p.err.ok() || pts.empty()) return;
    // Range selectors read around stale markers.
    if (src.call != nullptr) DropStaleMarkers(&pts);
    p.any = SeriesStepValues(src, pts, std::span<double>(&r.vals[i * n], n),
                             std::span<uint8_t>(&r.has[i * n], n));
  };
  // Folds the decoded round `r` into the result, in series order; false if the node does
  // not fit.
  const bool is_sum = agg != nullptr && agg->op == Op::kSum;
  auto fold = [&](const Round& r) -> absl::StatusOr<bool> {
    for (size_t i = 0; i < r.m; ++i) {
      const Piece& p = r.pieces[i];
      RETURN_IF_ERROR(p.err);
      loaded_samples_ += static_cast<int64_t>(p.samples);
      if (opts_.max_samples > 0 && loaded_samples_ > opts_.max_samples) {
        return absl::ResourceExhaustedError(
            "query processing would load too many samples into memory in query execution");
      }
      if (p.samples == 0) continue;
      const double* pv = &r.vals[i * n];
      const uint8_t* ph = &r.has[i * n];
      if (agg == nullptr) {
        if (!seen_labels.insert(p.labels).second) return false;
        if (p.any && src.counter_fn) CheckCounterName(counter_arg, p.metric);
        if (!p.any) continue;
        if ((out->labels.size() + 1) * n > kMaxCells) return false;
        out->labels.push_back(p.labels);
        out->marked.push_back(marked);
        out->vals.insert(out->vals.end(), pv, pv + n);
        out->has.insert(out->has.end(), ph, ph + n);
        continue;
      }
      // A hash collision only sends the node down the (correct) step-by-step path.
      if (drops_name && !seen_hashes.insert(p.hash).second) return false;
      if (p.any && src.counter_fn) CheckCounterName(counter_arg, p.metric);
      const size_t base = p.group * n;
      const uint8_t mark = marked ? 2 : 0;
      for (size_t k = 0; k < n; ++k) {
        if (!ph[k]) continue;
        size_t idx = base + k;
        if (seen[idx] == 0) {
          seen[idx] = 1 | mark;
          AggInit(agg->op, pv[k], &states[idx]);
          order[k].push_back(p.group);
        } else {
          seen[idx] |= mark;
          // sum, the most common, inline: AggAdd's kSum case, without a call per cell.
          if (is_sum) {
            KahanAdd(pv[k], &states[idx].value, &states[idx].kahan_c);
          } else {
            AggAdd(agg->op, pv[k], &states[idx]);
          }
        }
      }
    }
    return true;
  };

  // Two rounds are in flight: while the workers decode one, the calling thread reads the
  // next one's series and folds the one before, so that its serial work overlaps theirs.
  // A round decodes in the background if it is one of several and the round before had
  // samples enough to pay for waking a worker (~30 us of CPU; ~16 samples a series decode
  // in that time over a round); else ParallelFor decodes it at once and wakes the workers
  // only if it lasts.
  constexpr size_t kBackgroundSamplesPerSeries = 16;
  Round rounds[2];
  Round* cur = &rounds[0];
  Round* next = &rounds[1];
  ParallelTask decoding;  // declared after the rounds: its destructor waits for the workers
  auto start = [&](Round* r, bool background) {
    if (background) {
      decoding.Start(r->m, [&, r](size_t i) { decode(*r, i); });
    } else if (r->m >= 8) {
      ParallelFor(r->m, [&](size_t i) { decode(*r, i); });
    } else {
      for (size_t i = 0; i < r->m; ++i) decode(*r, i);
    }
  };
  ASSIGN_OR_RETURN(bool fits, prepare(*cur));
  if (!fits) return false;
  start(cur, more);
  while (cur->m > 0) {
    next->m = 0;
    if (more) {
      ASSIGN_OR_RETURN(fits, prepare(*next));
      if (!fits) return false;
    }
    decoding.Wait();
    if (next->m > 0) {
      size_t samples = 0;
      for (size_t i = 0; i < cur->m; ++i) samples += cur->pieces[i].samples;
      start(next, samples >= kBackgroundSamplesPerSeries * cur->m);
    }
    ASSIGN_OR_RETURN(fits, fold(*cur));
    if (!fits) return false;
    std::swap(cur, next);
  }
  RETURN_IF_ERROR(ss->Err());
  for (auto& w : ss->Warnings()) warnings_.insert(w);
  if (agg == nullptr) return true;
  // The groups are the columns; every member of a group has the same mark.
  out->labels = std::move(groups);
  out->marked.assign(out->labels.size(), marked);
  out->vals.resize(states.size());
  out->has.resize(states.size());
  for (size_t idx = 0; idx < states.size(); ++idx) {
    out->has[idx] = seen[idx] & 1;
    if (out->has[idx]) out->vals[idx] = AggResult(agg->op, states[idx]);
  }
  out->order = std::move(order);
  return true;
}

absl::StatusOr<bool> Evaluator::AggregateColumns(const AggregateExpr& a, const Columns& in,
                                                 Columns* out) {
  const size_t n = static_cast<size_t>(NumSteps());
  std::vector<uint32_t> group_of(in.labels.size());
  std::unordered_map<const model::Labels*, uint32_t> index;
  for (size_t s = 0; s < in.labels.size(); ++s) {
    auto [it, fresh] = index.emplace(GroupKey(a, in.labels[s]), out->labels.size());
    if (fresh) {
      out->labels.push_back(it->first);
      out->marked.push_back(in.marked[s]);
    } else if (out->marked[it->second] != in.marked[s]) {
      // The group's mark would depend on which members are present at a step.
      return false;
    }
    group_of[s] = it->second;
  }
  if (out->labels.size() * n > kMaxCells) return false;
  std::vector<AggState> states(out->labels.size() * n);
  out->has.assign(states.size(), 0);
  out->order.assign(n, {});
  // Folds series s at step k into its group, in the step-by-step path's element order.
  auto add = [&](size_t s, size_t k) {
    const uint32_t g = group_of[s];
    const size_t idx = g * n + k;
    const double v = in.vals[s * n + k];
    if (!out->has[idx]) {
      out->has[idx] = 1;
      AggInit(a.op, v, &states[idx]);
      out->order[k].push_back(g);
    } else {
      AggAdd(a.op, v, &states[idx]);
    }
  };
  if (in.order.empty()) {
    // Series by series: the same order at every step, and sequential reads.
    for (size_t s = 0; s < in.labels.size(); ++s) {
      for (size_t k = 0; k < n; ++k) {
        if (in.has[s * n + k]) add(s, k);
      }
    }
  } else {
    for (size_t k = 0; k < n; ++k) ForEachAt(in, n, k, [&](size_t s) { add(s, k); });
  }
  out->vals.assign(states.size(), 0);
  for (size_t idx = 0; idx < states.size(); ++idx) {
    if (out->has[idx]) out->vals[idx] = AggResult(a.op, states[idx]);
  }
  return true;
}

bool Evaluator::DeriveColumns(bool drop, Columns* c) {
  std::unordered_set<const model::Labels*> seen;
  for (size_t s = 0; s < c->labels.size(); ++s) {
    if (drop) {
      const Elem el = Derived(c->labels[s], c->marked[s] != 0, 0, 0);
      c->labels[s] = el.labels;
      c->marked[s] = el.drop_name;
    }
    if (!seen.insert(c->labels[s]).second) return false;
  }
  return true;
}

absl::StatusOr<bool> Evaluator::BinaryColumns(const BinaryExpr& b, Columns* out) {
  const size_t n = static_cast<size_t>(NumSteps());
  const bool drop = DropsMetricName(b.op) || b.return_bool;
  if (IsNumber(*b.lhs) || IsNumber(*b.rhs)) {
    const bool scalar_left = IsNumber(*b.lhs);
    const double x = static_cast<const NumberLiteral&>(Unparen(scalar_left ? *b.lhs : *b.rhs)).val;
    ASSIGN_OR_RETURN(bool fits, ComputeColumns(scalar_left ? *b.rhs : *b.lhs, out));
    if (!fits || !DeriveColumns(drop, out)) return false;
    for (size_t s = 0; s < out->labels.size(); ++s) {
      for (size_t k = 0; k < n; ++k) {
        const size_t idx = s * n + k;
        if (!out->has[idx]) continue;
        const double v = out->vals[idx];
        out->has[idx] = BinaryElemValue(b, scalar_left ? x : v, scalar_left ? v : x,
                                        scalar_left, &out->vals[idx]);
      }
    }
    return true;
  }
  Columns lhs, rhs;
  ASSIGN_OR_RETURN(bool fits, ComputeColumns(*b.lhs, &lhs));
  if (!fits) return false;
  ASSIGN_OR_RETURN(fits, ComputeColumns(*b.rhs, &rhs));
  if (!fits) return false;
  if (IsSetOp(b.op)) return SetOpColumns(b, lhs, rhs, out);

  const VectorMatching& vm = *b.matching;
  const bool swapped = vm.card == Cardinality::kOneToMany;
  const Columns& many = swapped ? rhs : lhs;
  const Columns& one = swapped ? lhs : rhs;
  std::unordered_map<const model::Labels*, uint32_t> one_by_key;
  for (size_t j = 0; j < one.labels.size(); ++j) {
    // Two series for one match group: many-to-many if both are present at a step.
    if (!one_by_key.emplace(Signature(b, one.labels[j], false), j).second) return false;
  }
  std::unordered_set<const model::Labels*> many_keys, results;
  std::vector<int64_t> out_of(many.labels.size(), -1);  // many-side series -> out series
  for (size_t i = 0; i < many.labels.size(); ++i) {
    const model::Labels* key = Signature(b, many.labels[i], false);
    auto it = one_by_key.find(key);
    if (it == one_by_key.end()) continue;
    // One-to-one with two series of one match group, or two results with the same labels:
    // an error at any step where both are present.
    if (vm.card == Cardinality::kOneToOne && !many_keys.insert(key).second) return false;
    const model::Labels* metric = ResultLabels(b, many.labels[i], one.labels[it->second]);
    if (!results.insert(metric).second) return false;
    if ((out->labels.size() + 1) * n > kMaxCells) return false;
    out_of[i] = static_cast<int64_t>(out->labels.size());
    out->labels.push_back(metric);
    out->marked.push_back((drop && opts_.delayed_name_removal) || many.marked[i]);
    const size_t mi = i * n, oj = it->second * n;
    for (size_t k = 0; k < n; ++k) {
      double v = 0;
      bool present = many.has[mi + k] && one.has[oj + k];
      if (present) {
        double vl = many.vals[mi + k], vr = one.vals[oj + k];
        if (swapped) std::swap(vl, vr);
        present = BinaryElemValue(b, vl, vr, false, &v);
      }
      out->vals.push_back(v);
      out->has.push_back(present);
    }
  }
  if (!many.order.empty()) {
    // The results come in the order of the "many" side at each step.
    out->order.assign(n, {});
    for (size_t k = 0; k < n; ++k) {
      for (uint32_t i : many.order[k]) {
        if (out_of[i] >= 0) out->order[k].push_back(static_cast<uint32_t>(out_of[i]));
      }
    }
  }
  return true;
}

absl::StatusOr<bool> Evaluator::SetOpColumns(const BinaryExpr& b, const Columns& lhs,
                                             const Columns& rhs, Columns* out) {
  const size_t n = static_cast<size_t>(NumSteps());
  // present[key * n + k]: whether a series with match key `key` of `from` is present at k.
  std::unordered_map<const model::Labels*, uint32_t> keys;
  auto key_of = [&](const model::Labels* l) {
    return keys.emplace(Signature(b, l, true), static_cast<uint32_t>(keys.size())).first->second;
  };
  auto presence = [&](const Columns& from) {
    std::vector<uint8_t> present;
    for (size_t s = 0; s < from.labels.size(); ++s) {
      const size_t key = key_of(from.labels[s]);
      if (present.size() < (key + 1) * n) present.resize((key + 1) * n, 0);
      for (size_t k = 0; k < n; ++k) present[key * n + k] |= from.has[s * n + k];
    }
    return present;
  };
  // The series whose elements stay, and for each the key that filters them.
  const Columns& kept = b.op == Op::kOr ? rhs : lhs;
  const Columns& filter = b.op == Op::kOr ? lhs : rhs;
  const std::vector<uint8_t> present = presence(filter);
  // An element stays if a series of its key is present on the other side (and) or not (or,
  // unless).
  const bool stays_if_present = b.op == Op::kAnd;
  *out = b.op == Op::kOr ? lhs : Columns{};
  const size_t base = out->labels.size();
  out->labels.insert(out->labels.end(), kept.labels.begin(), kept.labels.end());
  out->marked.insert(out->marked.end(), kept.marked.begin(), kept.marked.end());
  out->vals.insert(out->vals.end(), kept.vals.begin(), kept.vals.end());
  for (size_t s = 0; s < kept.labels.size(); ++s) {
    const size_t key = key_of(kept.labels[s]);
    for (size_t k = 0; k < n; ++k) {
      const bool other = key * n + k < present.size() && present[key * n + k];
      out->has.push_back(kept.has[s * n + k] && other == stays_if_present);
    }
  }
  if (b.op != Op::kOr) {
    out->order = kept.order;
  } else if (!lhs.order.empty() || !rhs.order.empty()) {
    // `or` gives the left side's elements, then the right side's that stay.
    out->order.assign(n, {});
    for (size_t k = 0; k < n; ++k) {
      ForEachAt(lhs, n, k, [&](size_t s) { out->order[k].push_back(s); });
      ForEachAt(rhs, n, k, [&](size_t s) { out->order[k].push_back(base + s); });
    }
  }
  return true;
}

}  // namespace vigil::promql::eval
