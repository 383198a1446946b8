#include "promql/eval/evaluator.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <unordered_set>

#include "base/status.h"
#include "fmt/format.h"
#include "model/sample.h"
#include "promql/eval/kahan.h"
#include "promql/parser.h"
#include "promql/parser/functions.h"

namespace vigil::promql::eval {

namespace {

constexpr std::string_view kTypeLabel = "__type__";
constexpr std::string_view kUnitLabel = "__unit__";

bool Contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// `l` restricted to `names` (on) or without them and without __name__ (ignoring), as
// Prometheus's signature functions do. Set operators also ignore __type__ and __unit__,
// which travel with the metric name.
model::Labels MatchLabels(const model::Labels& l, bool on, const std::vector<std::string>& names,
                          bool set_op) {
  std::vector<model::Label> out;
  for (const auto& lab : l) {
    bool listed = Contains(names, lab.name);
    bool name_like = lab.name == model::kMetricName ||
                     (set_op && (lab.name == kTypeLabel || lab.name == kUnitLabel));
    if (on ? listed : (!listed && !name_like)) out.push_back(lab);
  }
  return model::Labels(std::move(out));
}


// Applies a binary operator to two floats. For comparisons `keep` says whether the
// element survives (the value is the left side's).
double BinopValue(Op op, double l, double r, bool* keep) {
  *keep = true;
  switch (op) {
    case Op::kAdd: return l + r;
    case Op::kSub: return l - r;
    case Op::kMul: return l * r;
    case Op::kDiv: return l / r;
    case Op::kPow: return std::pow(l, r);
    case Op::kMod: return std::fmod(l, r);
    case Op::kAtan2: return std::atan2(l, r);
    case Op::kEql: *keep = l == r; return l;
    case Op::kNeq: *keep = l != r; return l;
    case Op::kGtr: *keep = l > r; return l;
    case Op::kLss: *keep = l < r; return l;
    case Op::kGte: *keep = l >= r; return l;
    case Op::kLte: *keep = l <= r; return l;
    default: return 0;
  }
}

}  // namespace

bool DropsMetricName(Op op) {
  switch (op) {
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv:
    case Op::kMod:
    case Op::kPow:
    case Op::kAtan2: return true;
    default: return false;
  }
}

bool BinaryElemValue(const BinaryExpr& b, double l, double r, bool scalar_left, double* out) {
  bool keep;
  double v = BinopValue(b.op, l, r, &keep);
  if (IsComparisonOp(b.op) && scalar_left) v = r;
  if (b.return_bool) {
    v = keep ? 1 : 0;
    keep = true;
  }
  *out = v;
  return keep;
}

bool IsNameLabel(std::string_view name) {
  return name == model::kMetricName || name == kTypeLabel || name == kUnitLabel;
}

model::Labels DropMetricNameCopy(const model::Labels& l) {
  if (!l.Has(model::kMetricName) && !l.Has(kTypeLabel) && !l.Has(kUnitLabel)) return l;
  std::vector<model::Label> out;
  out.reserve(l.size());
  for (const auto& lab : l) {
    if (!IsNameLabel(lab.name)) out.push_back(lab);
  }
  return model::Labels(std::move(out));
}

const model::Labels* Evaluator::FindInterned(uint64_t hash, const model::Labels& l) const {
  auto it = interned_.find(hash);
  if (it == interned_.end()) return nullptr;
  if (*it->second == l) return it->second;
  auto [from, to] = collided_.equal_range(hash);
  for (; from != to; ++from) {
    if (*from->second == l) return from->second;
  }
  return nullptr;
}

const model::Labels* Evaluator::StoreInterned(uint64_t hash, model::Labels l) {
  const model::Labels* p = &label_store_.emplace_back(std::move(l));
  if (!interned_.emplace(hash, p).second) collided_.emplace(hash, p);
  return p;
}

const model::Labels* Evaluator::Intern(model::Labels l) {
  const uint64_t hash = l.Hash();
  if (const model::Labels* p = FindInterned(hash, l)) return p;
  return StoreInterned(hash, std::move(l));
}

const model::Labels* Evaluator::InternCopy(const model::Labels& l) {
  const uint64_t hash = l.Hash();
  if (const model::Labels* p = FindInterned(hash, l)) return p;
  return StoreInterned(hash, l);
}

const model::Labels* Evaluator::InternSeries(const model::Labels& raw, bool drop) {
  if (!drop) return InternCopy(raw);
  // Assigning into the buffer's strings reuses their capacity.
  std::vector<model::Label>& v = series_labels_.mutable_vec();
  size_t k = 0;
  for (const model::Label& lab : raw) {
    if (IsNameLabel(lab.name)) continue;
    if (k == v.size()) v.emplace_back();
    v[k].name.assign(lab.name);
    v[k].value.assign(lab.value);
    ++k;
  }
  v.resize(k);
  return InternCopy(series_labels_);
}

const model::Labels* Evaluator::DropMetricName(const model::Labels* l) {
  auto [it, inserted] = dropped_.emplace(l, nullptr);
  if (inserted) it->second = Intern(DropMetricNameCopy(*l));
  return it->second;
}

Evaluator::Evaluator(const EngineOptions& opts, storage::Querier* querier, int64_t start,
                     int64_t end, int64_t step, std::string_view query_text)
    : opts_(opts), querier_(querier), start_(start), end_(end), step_(step), query_(query_text) {
  if (opts.timeout_ms > 0) {
    has_deadline_ = true;
    deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.timeout_ms);
  }
}

// ---- durations ----

double Evaluator::DurationSeconds(const Expr& e) const {
  switch (e.kind) {
    case NodeKind::kNumberLiteral: return static_cast<const NumberLiteral&>(e).val;
    case NodeKind::kParen: return DurationSeconds(*static_cast<const ParenExpr&>(e).expr);
    case NodeKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      double v = DurationSeconds(*u.expr);
      return u.op == Op::kSub ? -v : v;
    }
    case NodeKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      double l = DurationSeconds(*b.lhs), r = DurationSeconds(*b.rhs);
      bool keep;
      return BinopValue(b.op, l, r, &keep);
    }
    case NodeKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      std::string_view n = c.func->name;
      if (n == "step") return static_cast<double>(step_) / 1000.0;
      if (n == "range") return static_cast<double>(end_ - start_) / 1000.0;
      if (n == "min_of" || n == "max_of") {
        double a = DurationSeconds(*c.args[0]), b = DurationSeconds(*c.args[1]);
        return n == "min_of" ? std::min(a, b) : std::max(a, b);
      }
      return 0;
    }
    default: return 0;
  }
}

int64_t Evaluator::DurationMs(const Duration& d) const {
  if (!d.expr) return d.ms;
  double s = DurationSeconds(*d.expr);
  if (!std::isfinite(s)) return 0;
  return static_cast<int64_t>(std::llround(s * 1000.0));
}

// ---- preparation: what each selector must load ----

void Evaluator::Prepare(const Expr& root) {
  PrepareNode(root, start_, end_);
  if (opts_.batch_eval) PrepareBatchRoot(root);
}

std::pair<int64_t, int64_t> Evaluator::Bounds() const {
  int64_t mint = model::kMaxTime, maxt = model::kMinTime;
  for (const auto& [vs, r] : ranges_) {
    mint = std::min(mint, r.first);
    maxt = std::max(maxt, r.second);
  }
  if (mint > maxt) return {start_, end_};
  return {mint, maxt};
}

void Evaluator::PrepareNode(const Expr& e, int64_t start, int64_t end) {
  auto at_range = [&](const std::optional<int64_t>& at, AtPreproc pre, int64_t* s,
                      int64_t* en) {
    if (at) {
      *s = *en = *at;
    } else if (pre == AtPreproc::kStart) {
      *s = *en = start_;
    } else if (pre == AtPreproc::kEnd) {
      *s = *en = end_;
    }
  };
  auto add = [&](const VectorSelector* vs, int64_t mint, int64_t maxt) {
    auto [it, inserted] = ranges_.emplace(vs, std::make_pair(mint, maxt));
    if (!inserted) {
      it->second.first = std::min(it->second.first, mint);
      it->second.second = std::max(it->second.second, maxt);
    }
  };
  switch (e.kind) {
    case NodeKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      int64_t s = start, en = end;
      at_range(vs.at, vs.at_preproc, &s, &en);
      int64_t off = DurationMs(vs.offset);
      // A smoothed selector interpolates towards the next sample, up to a lookback ahead.
      add(&vs, s - off - opts_.lookback_delta_ms + 1,
          en - off + (vs.smoothed ? opts_.lookback_delta_ms : 0));
      return;
    }
    case NodeKind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      const VectorSelector& vs = ms.selector();
      range_selectors_.insert(&vs);
      int64_t s = start, en = end;
      at_range(vs.at, vs.at_preproc, &s, &en);
      int64_t off = DurationMs(vs.offset);
      // anchored/smoothed look one lookback beyond the window for their edge samples.
      int64_t before = vs.anchored || vs.smoothed ? opts_.lookback_delta_ms : 0;
      int64_t after = vs.smoothed ? opts_.lookback_delta_ms : 0;
      add(&vs, s - off - DurationMs(ms.range) + 1 - before, en - off + after);
      return;
    }
    case NodeKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      int64_t s = start, en = end;
      at_range(sq.at, sq.at_preproc, &s, &en);
      int64_t off = DurationMs(sq.offset);
      ++subquery_depth_;
      PrepareNode(*sq.expr, s - off - DurationMs(sq.range), en - off);
      --subquery_depth_;
      return;
    }
    case NodeKind::kParen:
      PrepareNode(*static_cast<const ParenExpr&>(e).expr, start, end);
      return;
    case NodeKind::kUnary:
      if (opts_.batch_eval && subquery_depth_ == 0 && BatchShape(e)) batch_nodes_.insert(&e);
      PrepareNode(*static_cast<const UnaryExpr&>(e).expr, start, end);
      return;
    case NodeKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      if (opts_.batch_eval && subquery_depth_ == 0 && BatchShape(e)) batch_nodes_.insert(&e);
      PrepareNode(*b.lhs, start, end);
      PrepareNode(*b.rhs, start, end);
      return;
    }
    case NodeKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      if (c.func != nullptr && c.func->name == "info") {
        // info() reads info series of its own: plan their selector now.
        InfoPlan plan;
        if (c.args.size() > 1 && c.args[1]->kind == NodeKind::kVectorSelector) {
          for (const auto& m : static_cast<const VectorSelector&>(*c.args[1]).matchers) {
            if (m.name() == model::kMetricName) {
              plan.name_matchers.push_back(m);
              if (m.type() == model::MatchType::kEqual || m.type() == model::MatchType::kRegexMatch) {
                plan.has_positive_name = true;
              }
            } else {
              plan.data_matchers.push_back(m);
            }
          }
        }
        plan.selector = std::make_unique<VectorSelector>();
        if (plan.name_matchers.empty()) {
          plan.name_matchers.push_back(model::Matcher::MustMake(
              model::MatchType::kEqual, model::kMetricName, "target_info"));
          plan.has_positive_name = true;
        }
        plan.selector->matchers = plan.name_matchers;
        if (!plan.has_positive_name) {
          // Only negative name matchers: the candidates are still info metrics.
          plan.selector->matchers.push_back(model::Matcher::MustMake(
              model::MatchType::kRegexMatch, model::kMetricName, ".+_info"));
        }
        PrepareNode(*plan.selector, InfoTime(*c.args[0], start), InfoTime(*c.args[0], end));
        info_plans_[&c] = std::move(plan);
        PrepareNode(*c.args[0], start, end);
        return;
      }
      if (opts_.batch_eval && subquery_depth_ == 0 && BatchShape(e)) batch_nodes_.insert(&e);
      for (const auto& a : c.args) PrepareNode(*a, start, end);
      return;
    }
    case NodeKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      if (opts_.batch_eval && subquery_depth_ == 0 && BatchShape(e)) batch_nodes_.insert(&e);
      if (a.param) PrepareNode(*a.param, start, end);
      PrepareNode(*a.expr, start, end);
      return;
    }
    default: return;
  }
}

// ---- storage ----

absl::Status Evaluator::CheckLimits() {
  if (has_deadline_ && (++eval_count_ & 255) == 0 &&
      std::chrono::steady_clock::now() > deadline_) {
    return absl::DeadlineExceededError("query timed out in expression evaluation");
  }
  return absl::OkStatus();
}

absl::StatusOr<const Evaluator::Loaded*> Evaluator::Load(const VectorSelector& vs) {
  Loaded& l = cache_[&vs];
  if (l.done) return &l;
  l.done = true;
  auto it = ranges_.find(&vs);
  if (it == ranges_.end() || querier_ == nullptr) return &l;
  auto [mint, maxt] = it->second;
  auto ss = querier_->Select(true, HintsFor(vs, mint, maxt), vs.matchers);
  while (ss->Next()) {
    const storage::Series& s = ss->At();
    LoadedSeries ls;
    auto iter = s.Iterator();
    if (iter->Seek(mint)) {
      do {
        model::Sample smp = iter->At();
        if (smp.t > maxt) break;
        ls.points.push_back({smp.t, smp.v});
      } while (iter->Next());
    }
    RETURN_IF_ERROR(iter->Err());
    loaded_samples_ += static_cast<int64_t>(ls.points.size());
    if (opts_.max_samples > 0 && loaded_samples_ > opts_.max_samples) {
      return absl::ResourceExhaustedError(
          "query processing would load too many samples into memory in query execution");
    }
    if (ls.points.empty()) continue;
    ls.labels = InternCopy(s.labels());
    if (range_selectors_.count(&vs)) {
      for (const Point& p : ls.points) {
        if (!model::IsStaleNaN(p.v)) ls.fresh.push_back(p);
      }
    }
    l.series.push_back(std::move(ls));
  }
  RETURN_IF_ERROR(ss->Err());
  for (auto& w : ss->Warnings()) warnings_.insert(w);
  return &l;
}

storage::SelectHints Evaluator::HintsFor(const VectorSelector& vs, int64_t mint,
                                         int64_t maxt) const {
  storage::SelectHints hints;
  hints.start = mint;
  hints.end = maxt;
  hints.step = step_;
  // A selector evaluated at a single time (an instant query, a rule, a range query of one
  // step; not inside a subquery, whose steps widen the range) uses only each series' newest
  // sample in its lookback window. Smoothed selectors also read the sample after it.
  hints.newest_only = !range_selectors_.count(&vs) && !vs.smoothed &&
                      maxt - mint + 1 == opts_.lookback_delta_ms;
  return hints;
}

int64_t Evaluator::RefTime(const VectorSelector& vs, int64_t ts) const {
  int64_t base = ts;
  if (vs.at) {
    base = *vs.at;
  } else if (vs.at_preproc == AtPreproc::kStart) {
    base = start_;
  } else if (vs.at_preproc == AtPreproc::kEnd) {
    base = end_;
  }
  return base - DurationMs(vs.offset);
}

// ---- annotations ----

std::string Evaluator::PosSuffix(const Expr& at) const {
  int line = 1, col = 1;
  for (int i = 0; i < at.pos.start && i < static_cast<int>(query_.size()); ++i) {
    if (query_[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return fmt::format(" ({}:{})", line, col);
}

void Evaluator::Warn(const Expr& at, std::string msg) {
  warnings_.insert("PromQL warning: " + msg + PosSuffix(at));
}
void Evaluator::Info(const Expr& at, std::string msg) {
  infos_.insert("PromQL info: " + msg + PosSuffix(at));
}

// ---- evaluation ----

absl::StatusOr<Value> Evaluator::EvalVectorSelector(const VectorSelector& vs, int64_t ts) {
  ASSIGN_OR_RETURN(const Loaded* l, Load(vs));
  int64_t ref = RefTime(vs, ts);
  Value out;
  out.type = ValueType::kVector;
  auto by_time = [](int64_t t, const Point& p) { return t < p.t; };
  for (const LoadedSeries& s : l->series) {
    auto it = std::upper_bound(s.points.begin(), s.points.end(), ref, by_time);
    if (it == s.points.begin()) continue;
    const Point& p = *(it - 1);
    if (p.t <= ref - opts_.lookback_delta_ms) continue;
    if (model::IsStaleNaN(p.v)) continue;
    if (vs.smoothed && p.t != ref && it != s.points.end() && !model::IsStaleNaN(it->v) &&
        it->t <= ref + opts_.lookback_delta_ms) {
      // The value on the line between the samples around the evaluation time.
      double v = p.v + (it->v - p.v) * static_cast<double>(ref - p.t) /
                           static_cast<double>(it->t - p.t);
      out.vec.push_back({s.labels, v, ref});
      continue;
    }
    out.vec.push_back({s.labels, p.v, p.t});
  }
  return out;
}

absl::StatusOr<RangeArg> Evaluator::EvalRange(const Expr& e, int64_t ts) {
  if (e.kind == NodeKind::kParen) return EvalRange(*static_cast<const ParenExpr&>(e).expr, ts);
  RangeArg out;
  if (e.kind == NodeKind::kMatrixSelector) {
    const auto& ms = static_cast<const MatrixSelector&>(e);
    const VectorSelector& vs = ms.selector();
    ASSIGN_OR_RETURN(const Loaded* l, Load(vs));
    int64_t ref = RefTime(vs, ts);
    int64_t range = DurationMs(ms.range);
    out.range_ms = range;
    out.range_start = ref - range;
    out.range_end = ref;
    auto by_time = [](int64_t t, const Point& p) { return t < p.t; };
    out.anchored = vs.anchored;
    out.smoothed = vs.smoothed;
    int64_t start = ref - range;
    for (const LoadedSeries& s : l->series) {
      auto lo = std::upper_bound(s.fresh.begin(), s.fresh.end(), start, by_time);
      auto hi = std::upper_bound(lo, s.fresh.end(), ref, by_time);
      if (!vs.anchored && !vs.smoothed) {
        if (lo == hi) continue;
        out.mat.push_back({s.labels, std::span<const Point>(&*lo, static_cast<size_t>(hi - lo))});
        continue;
      }
      // A window with no sample of its own yields nothing, edges or not.
      if (lo == hi) continue;
      // The samples just outside the window, if recent enough.
      const Point* before = nullptr;
      if (lo != s.fresh.begin() && (lo - 1)->t > start - opts_.lookback_delta_ms) before = &*(lo - 1);
      const Point* after = nullptr;
      if (hi != s.fresh.end() && hi->t <= ref + opts_.lookback_delta_ms) after = &*hi;
      std::vector<Point> pts;
      if (vs.anchored) {
        if (before != nullptr) pts.push_back(*before);
        pts.insert(pts.end(), lo, hi);
      } else {
        // Values at the window's edges, interpolated between the neighbouring samples.
        auto at = [](const Point* a, const Point* b, int64_t t) {
          if (a == nullptr) return b->v;
          if (b == nullptr) return a->v;
          if (b->t == a->t) return b->v;
          return a->v + (b->v - a->v) * static_cast<double>(t - a->t) /
                            static_cast<double>(b->t - a->t);
        };
        const Point* first_in = lo != hi ? &*lo : after;
        const Point* last_in = lo != hi ? &*(hi - 1) : before;
        if (first_in == nullptr && before == nullptr) continue;
        pts.push_back({start, at(before, first_in, start)});
        for (auto it = lo; it != hi; ++it) {
          if (it->t != ref) pts.push_back(*it);
        }
        if (last_in != nullptr || after != nullptr) {
          pts.push_back({ref, at(last_in ? last_in : before, after, ref)});
        }
      }
      if (pts.empty()) continue;
      out.owned.push_back(std::move(pts));
      out.mat.push_back({s.labels, out.owned.back()});
    }
    return out;
  }
  if (e.kind != NodeKind::kSubquery) {
    return absl::InternalError("BUG: range argument is not a matrix selector or subquery");
  }
  const auto& sq = static_cast<const SubqueryExpr&>(e);
  int64_t base = ts;
  if (sq.at) {
    base = *sq.at;
  } else if (sq.at_preproc == AtPreproc::kStart) {
    base = start_;
  } else if (sq.at_preproc == AtPreproc::kEnd) {
    base = end_;
  }
  int64_t ref = base - DurationMs(sq.offset);
  int64_t range = DurationMs(sq.range);
  int64_t step = sq.step.set ? DurationMs(sq.step) : opts_.default_subquery_step_ms;
  if (step <= 0) return absl::InvalidArgumentError("zero or negative subquery step");
  out.range_ms = range;
  out.range_start = ref - range;
  out.range_end = ref;
  int64_t first = step * ((ref - range) / step);
  if (first <= ref - range) first += step;
  std::unordered_map<const model::Labels*, size_t> index;
  std::vector<const model::Labels*> order;
  std::vector<bool> marked;
  for (int64_t t = first; t <= ref; t += step) {
    ASSIGN_OR_RETURN(Value v, Eval(*sq.expr, t));
    for (const Elem& el : v.vec) {
      auto [it, inserted] = index.emplace(el.labels, out.owned.size());
      if (inserted) {
        out.owned.emplace_back();
        order.push_back(el.labels);
        marked.push_back(false);
      }
      out.owned[it->second].push_back({t, el.v});
      if (el.drop_name) marked[it->second] = true;
    }
  }
  for (size_t i = 0; i < order.size(); ++i) {
    out.mat.push_back({order[i], out.owned[i], marked[i]});
  }
  return out;
}

absl::StatusOr<Value> Evaluator::Eval(const Expr& e, int64_t ts) {
  RETURN_IF_ERROR(CheckLimits());
  if (!batch_nodes_.empty() && batch_nodes_.count(&e) != 0) {
    Value v;
    ASSIGN_OR_RETURN(bool batched, EvalBatched(e, ts, &v));
    if (batched) return v;
  }
  switch (e.kind) {
    case NodeKind::kNumberLiteral: {
      Value v;
      v.type = ValueType::kScalar;
      v.scalar = static_cast<const NumberLiteral&>(e).val;
      return v;
    }
    case NodeKind::kStringLiteral: {
      Value v;
      v.type = ValueType::kString;
      v.str = static_cast<const StringLiteral&>(e).val;
      return v;
    }
    case NodeKind::kVectorSelector:
      return EvalVectorSelector(static_cast<const VectorSelector&>(e), ts);
    case NodeKind::kMatrixSelector:
    case NodeKind::kSubquery: {
      Value v;
      v.type = ValueType::kMatrix;
      ASSIGN_OR_RETURN(v.mat, EvalRange(e, ts));
      return v;
    }
    case NodeKind::kParen: return Eval(*static_cast<const ParenExpr&>(e).expr, ts);
    case NodeKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      ASSIGN_OR_RETURN(Value v, Eval(*u.expr, ts));
      if (u.op != Op::kSub) return v;
      if (v.type == ValueType::kScalar) {
        v.scalar = -v.scalar;
        return v;
      }
      for (Elem& el : v.vec) {
        el = Derived(el.labels, el.drop_name, -el.v, ts);
      }
      RETURN_IF_ERROR(CheckUniqueLabels(v.vec));
      return v;
    }
    case NodeKind::kBinary: return EvalBinary(static_cast<const BinaryExpr&>(e), ts);
    case NodeKind::kAggregate: return EvalAggregate(static_cast<const AggregateExpr&>(e), ts);
    case NodeKind::kCall: {
      ASSIGN_OR_RETURN(Value v, EvalCall(static_cast<const Call&>(e), ts));
      if (v.type == ValueType::kVector) RETURN_IF_ERROR(CheckUniqueLabels(v.vec));
      return v;
    }
  }
  return absl::InternalError("BUG: unknown node kind");
}

absl::Status Evaluator::FinishStep(Vector* vec) {
  if (!opts_.delayed_name_removal) return absl::OkStatus();
  bool any = false;
  for (Elem& el : *vec) {
    if (el.drop_name) {
      el.labels = DropMetricName(el.labels);
      el.drop_name = false;
      any = true;
    }
  }
  return any ? CheckUniqueLabels(*vec) : absl::OkStatus();
}

absl::Status Evaluator::CheckUniqueLabels(const Vector& vec) {
  if (vec.size() < 2) return absl::OkStatus();
  std::unordered_set<const model::Labels*> seen;
  for (const Elem& el : vec) {
    if (!seen.insert(el.labels).second) {
      return absl::InvalidArgumentError("vector cannot contain metrics with the same labelset");
    }
  }
  return absl::OkStatus();
}

// ---- info() ----

int64_t Evaluator::InfoTime(const Expr& base, int64_t ts) const {
  const Expr* e = &base;
  while (true) {
    switch (e->kind) {
      case NodeKind::kParen: e = static_cast<const ParenExpr*>(e)->expr.get(); continue;
      case NodeKind::kUnary: e = static_cast<const UnaryExpr*>(e)->expr.get(); continue;
      case NodeKind::kBinary: e = static_cast<const BinaryExpr*>(e)->lhs.get(); continue;
      case NodeKind::kAggregate: e = static_cast<const AggregateExpr*>(e)->expr.get(); continue;
      case NodeKind::kCall: {
        const auto* c = static_cast<const Call*>(e);
        const Expr* next = nullptr;
        for (const auto& a : c->args) {
          ValueType t = a->Type();
          if (t == ValueType::kVector || t == ValueType::kMatrix) {
            next = a.get();
            break;
          }
        }
        if (next == nullptr) return ts;
        e = next;
        continue;
      }
      case NodeKind::kMatrixSelector:
        e = static_cast<const MatrixSelector*>(e)->vs.get();
        continue;
      case NodeKind::kVectorSelector:
        return RefTime(*static_cast<const VectorSelector*>(e), ts);
      case NodeKind::kSubquery: {
        // The subquery's last step, then whatever its inner expression shifts by.
        const auto* sq = static_cast<const SubqueryExpr*>(e);
        if (sq->at) {
          ts = *sq->at;
        } else if (sq->at_preproc == AtPreproc::kStart) {
          ts = start_;
        } else if (sq->at_preproc == AtPreproc::kEnd) {
          ts = end_;
        }
        ts -= DurationMs(sq->offset);
        e = sq->expr.get();
        continue;
      }
      default: return ts;
    }
  }
}

absl::StatusOr<Value> Evaluator::EvalInfo(const Call& c, Value base, int64_t ts) {
  auto it = info_plans_.find(&c);
  if (it == info_plans_.end()) return base;
  const InfoPlan& plan = it->second;
  ASSIGN_OR_RETURN(Value infos, EvalVectorSelector(*plan.selector, InfoTime(*c.args[0], ts)));
  // Candidates: info series passing the data matchers, by their identifying labels. Of
  // several series of one info metric for the same target, the freshest wins.
  std::unordered_map<std::string, const Elem*> freshest;  // by metric name + identity
  for (const Elem& el : infos.vec) {
    bool ok = true;
    for (const auto& m : plan.data_matchers) ok = ok && m.Matches(el.labels->Get(m.name()));
    if (!ok) continue;
    std::string key = std::string(el.labels->MetricName()) + "\xff" +
                      std::string(el.labels->Get("instance")) + "\xff" +
                      std::string(el.labels->Get("job"));
    auto [it2, fresh] = freshest.emplace(key, &el);
    if (!fresh && el.t > it2->second->t) it2->second = &el;
  }
  std::unordered_multimap<std::string, const model::Labels*> by_id;
  for (const auto& [key, el] : freshest) {
    std::string id = std::string(el->labels->Get("instance")) + "\xff" +
                     std::string(el->labels->Get("job"));
    by_id.emplace(std::move(id), el->labels);
  }
  bool data_requires_value = false;
  for (const auto& m : plan.data_matchers) data_requires_value |= !m.MatchesEmpty();
  Value out;
  out.type = ValueType::kVector;
  for (Elem& el : base.vec) {
    // A base series that is itself one of the selected info metrics is left alone.
    if (plan.has_positive_name) {
      bool is_info = true;
      for (const auto& m : plan.name_matchers) is_info = is_info && m.Matches(el.labels->MetricName());
      if (is_info) {
        out.vec.push_back(el);
        continue;
      }
    }
    std::string id = std::string(el.labels->Get("instance")) + "\xff" +
                     std::string(el.labels->Get("job"));
    auto [lo, hi] = by_id.equal_range(id);
    if (lo == hi) {
      if (!data_requires_value) out.vec.push_back(el);
      continue;
    }
    {
      model::LabelsBuilder lb(*el.labels);
      std::unordered_map<std::string, std::string> added;
      for (auto i = lo; i != hi; ++i) {
        for (const auto& lab : *i->second) {
          if (lab.name == model::kMetricName || lab.name == "instance" || lab.name == "job") {
            continue;
          }
          if (!plan.data_matchers.empty()) {
            bool named = false;
            for (const auto& dm : plan.data_matchers) named |= dm.name() == lab.name;
            if (!named) continue;
          }
          if (el.labels->Has(lab.name)) continue;  // the base series' own labels win
          auto [a, fresh] = added.emplace(lab.name, lab.value);
          if (!fresh && a->second != lab.value) {
            return absl::InvalidArgumentError(fmt::format(
                "conflicting label values for \"{}\" from info metrics: \"{}\" and \"{}\"",
                lab.name, a->second, lab.value));
          }
          lb.Set(lab.name, lab.value);
        }
      }
      // Which info series apply can change from step to step: no memo here.
      out.vec.push_back({Intern(lb.Build()), el.v, ts, el.drop_name});
    }
  }
  return out;
}

// ---- binary operators ----

absl::StatusOr<Value> Evaluator::EvalBinary(const BinaryExpr& b, int64_t ts) {
  ASSIGN_OR_RETURN(Value l, Eval(*b.lhs, ts));
  ASSIGN_OR_RETURN(Value r, Eval(*b.rhs, ts));
  Value out;
  if (l.type == ValueType::kScalar && r.type == ValueType::kScalar) {
    bool keep;
    double v = BinopValue(b.op, l.scalar, r.scalar, &keep);
    if (IsComparisonOp(b.op)) v = keep ? 1 : 0;
    out.type = ValueType::kScalar;
    out.scalar = v;
    return out;
  }
  out.type = ValueType::kVector;
  if (l.type == ValueType::kVector && r.type == ValueType::kVector) {
    auto key = [&](const model::Labels* l) { return Signature(b, l, true); };
    if (b.op == Op::kAnd || b.op == Op::kUnless) {
      std::unordered_set<const model::Labels*> rkeys;
      for (const Elem& el : r.vec) rkeys.insert(key(el.labels));
      for (Elem& el : l.vec) {
        bool found = rkeys.count(key(el.labels)) > 0;
        if (found == (b.op == Op::kAnd)) {
          el.t = ts;
          out.vec.push_back(std::move(el));
        }
      }
      return out;
    }
    if (b.op == Op::kOr) {
      std::unordered_set<const model::Labels*> lkeys;
      for (Elem& el : l.vec) {
        lkeys.insert(key(el.labels));
        el.t = ts;
        out.vec.push_back(std::move(el));
      }
      for (Elem& el : r.vec) {
        if (lkeys.count(key(el.labels)) == 0) {
          el.t = ts;
          out.vec.push_back(std::move(el));
        }
      }
      return out;
    }
    ASSIGN_OR_RETURN(out.vec, VectorBinop(b, l.vec, r.vec, ts));
    RETURN_IF_ERROR(CheckUniqueLabels(out.vec));
    return out;
  }
  // Vector and scalar.
  bool scalar_left = l.type == ValueType::kScalar;
  Vector& vec = scalar_left ? r.vec : l.vec;
  double s = scalar_left ? l.scalar : r.scalar;
  bool drop = DropsMetricName(b.op) || b.return_bool;
  for (Elem& el : vec) {
    double v;
    if (!BinaryElemValue(b, scalar_left ? s : el.v, scalar_left ? el.v : s, scalar_left, &v)) {
      continue;
    }
    out.vec.push_back(drop ? Derived(el.labels, el.drop_name, v, ts)
                           : Elem{el.labels, v, ts, el.drop_name});
  }
  RETURN_IF_ERROR(CheckUniqueLabels(out.vec));
  return out;
}

absl::StatusOr<Vector> Evaluator::VectorBinop(const BinaryExpr& b, const Vector& lhs_in,
                                              const Vector& rhs_in, int64_t ts) {
  const VectorMatching& vm = *b.matching;
  bool swapped = vm.card == Cardinality::kOneToMany;
  const Vector& lhs = swapped ? rhs_in : lhs_in;
  const Vector& rhs = swapped ? lhs_in : rhs_in;
  Vector out;
  // The "one" side, by match key.
  std::unordered_map<const model::Labels*, const Elem*> one;
  for (const Elem& el : rhs) {
    const model::Labels* key = Signature(b, el.labels, false);
    auto [it, inserted] = one.emplace(key, &el);
    if (!inserted) {
      const model::Labels& group = *key;
      auto brace = [](const model::Labels& l) {
        std::string s = "{";
        bool first = true;
        for (const auto& lab : l) {
          if (!first) s += ", ";
          first = false;
          s += lab.name + "=" + QuoteString(lab.value);
        }
        return s + "}";
      };
      return absl::InvalidArgumentError(fmt::format(
          "found duplicate series for the match group {} on the {} hand-side of the "
          "operation: [{}, {}];many-to-many matching not allowed: matching labels must be "
          "unique on one side",
          brace(group), swapped ? "left" : "right", brace(*it->second->labels),
          brace(*el.labels)));
    }
  }
  std::unordered_set<const model::Labels*> matched;   // one-to-one: lhs keys seen
  std::unordered_set<const model::Labels*> inserted;  // grouped: result label sets seen
  bool drop = DropsMetricName(b.op) || b.return_bool;
  auto result_labels = [&](const Elem& ls, const Elem* rs) {
    return ResultLabels(b, ls.labels, rs != nullptr ? rs->labels : nullptr);
  };
  // Applies the operator to a pair (in post-swap order) and appends the result.
  auto emit = [&](double vl, double vr, const model::Labels* metric,
                  bool marked) -> absl::Status {
    if (swapped) std::swap(vl, vr);
    double v;
    if (!BinaryElemValue(b, vl, vr, false, &v)) return absl::OkStatus();
    if (vm.card != Cardinality::kOneToOne) {
      if (!inserted.insert(metric).second) {
        return absl::InvalidArgumentError(
            "multiple matches for labels: grouping labels must ensure unique matches");
      }
    }
    out.push_back({metric, v, ts, (drop && opts_.delayed_name_removal) || marked});
    return absl::OkStatus();
  };
  // fill_left / fill_right stand in for a missing sample on that side (after the swap for
  // group_right, as Prometheus applies them).
  std::unordered_set<const model::Labels*> one_matched;
  for (const Elem& ls : lhs) {
    const model::Labels* key = Signature(b, ls.labels, false);
    auto it = one.find(key);
    if (it == one.end()) {
      if (vm.fill_right) {
        RETURN_IF_ERROR(emit(ls.v, *vm.fill_right, result_labels(ls, nullptr), ls.drop_name));
      }
      continue;
    }
    const Elem& rs = *it->second;
    one_matched.insert(key);
    if (vm.card == Cardinality::kOneToOne) {
      if (!matched.insert(key).second) {
        return absl::InvalidArgumentError(
            "multiple matches for labels: many-to-one matching must be explicit "
            "(group_left/group_right)");
      }
    }
    RETURN_IF_ERROR(emit(ls.v, rs.v, result_labels(ls, &rs), ls.drop_name));
  }
  if (vm.fill_left) {
    // A "one" side series nobody matched yields one series with its match group's labels.
    for (const Elem& rs : rhs) {
      const model::Labels* key = Signature(b, rs.labels, false);
      if (one_matched.count(key)) continue;
      RETURN_IF_ERROR(emit(*vm.fill_left, rs.v, key, false));
    }
  }
  return out;
}

// The result's labels come from the "many" side; they depend on the "one" side only
// through group_x's included labels (which stay unset when that side was filled in).
const model::Labels* Evaluator::ResultLabels(const BinaryExpr& b, const model::Labels* many,
                                             const model::Labels* one) {
  const VectorMatching& vm = *b.matching;
  auto& memo = Memo(&b, 2);
  bool memoizable = vm.include.empty();
  if (memoizable) {
    auto m = memo.find(many);
    if (m != memo.end()) return m->second;
  }
  model::LabelsBuilder lb(*many);
  if ((DropsMetricName(b.op) || b.return_bool) && !opts_.delayed_name_removal) {
    lb.Del(model::kMetricName);
    lb.Del(kTypeLabel);
    lb.Del(kUnitLabel);
  }
  if (vm.card == Cardinality::kOneToOne) {
    if (vm.on) {
      for (const auto& lab : *many) {
        if (!Contains(vm.matching_labels, lab.name)) lb.Del(lab.name);
      }
    } else {
      for (const auto& n : vm.matching_labels) lb.Del(n);
    }
  }
  for (const auto& n : vm.include) lb.Set(n, one != nullptr ? one->Get(n) : "");
  const model::Labels* metric = Intern(lb.Build());
  if (memoizable) memo[many] = metric;
  return metric;
}

const model::Labels* Evaluator::Signature(const BinaryExpr& b, const model::Labels* l,
                                          bool set_op) {
  auto& memo = Memo(&b, set_op ? 1 : 0);
  auto [it, inserted] = memo.emplace(l, nullptr);
  if (inserted) {
    it->second = Intern(MatchLabels(*l, b.matching->on, b.matching->matching_labels, set_op));
  }
  return it->second;
}

// ---- aggregations ----

namespace {

// Prometheus's quantile over a set of values (sorted here).
double Quantile(double q, std::vector<double>& values) {
  if (values.empty() || std::isnan(q)) return std::numeric_limits<double>::quiet_NaN();
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(values.begin(), values.end(), [](double a, double b) {
    if (std::isnan(a)) return !std::isnan(b);
    return a < b;
  });
  double n = static_cast<double>(values.size());
  double rank = q * (n - 1);
  double lower = std::max(0.0, std::floor(rank));
  double upper = std::min(n - 1, lower + 1);
  double weight = rank - std::floor(rank);
  return values[static_cast<size_t>(lower)] * (1 - weight) +
         values[static_cast<size_t>(upper)] * weight;
}

struct Group {
  const model::Labels* labels;
  AggState st;
  std::vector<double> values;  // quantile
  std::vector<const Elem*> elems;  // topk / bottomk / limitk
  bool drop_name = false;  // any member marked (delayed name removal)
};

}  // namespace

double QuantileOf(double q, std::vector<double>& values) { return Quantile(q, values); }

void AggInit(Op op, double v, AggState* g) {
  g->value = v;
  g->mean = v;
  g->count = 1;
  if (op == Op::kStddev || op == Op::kStdvar) {
    // Run the first value through the same update, so that a NaN poisons the result.
    g->mean = v;
    g->value = v * (v - g->mean);
  }
}

void AggAdd(Op op, double v, AggState* g) {
  switch (op) {
    case Op::kSum: KahanAdd(v, &g->value, &g->kahan_c); break;
    case Op::kAvg: {
      g->count++;
      if (!g->incremental_mean) {
        double nv = g->value, nc = g->kahan_c;
        KahanAdd(v, &nv, &nc);
        if (!std::isinf(nv)) {
          g->value = nv;
          g->kahan_c = nc;
          break;
        }
        g->incremental_mean = true;
        g->mean = g->value / (g->count - 1);
        g->kahan_c /= g->count - 1;
      }
      if (std::isinf(g->mean)) {
        if (std::isinf(v) && (g->mean > 0) == (v > 0)) break;
        if (!std::isinf(v) && !std::isnan(v)) break;
      }
      double cur = g->mean + g->kahan_c;
      KahanAdd(v / g->count - cur / g->count, &g->mean, &g->kahan_c);
      break;
    }
    case Op::kCount:
    case Op::kGroup:
    case Op::kCountValues: g->count++; break;
    case Op::kMin:
      if (g->value > v || std::isnan(g->value)) g->value = v;
      break;
    case Op::kMax:
      if (g->value < v || std::isnan(g->value)) g->value = v;
      break;
    case Op::kStddev:
    case Op::kStdvar: {
      g->count++;
      double delta = v - g->mean;
      g->mean += delta / g->count;
      g->value += delta * (v - g->mean);
      break;
    }
    default: break;
  }
}

double AggResult(Op op, const AggState& g) {
  switch (op) {
    case Op::kSum: return g.value + g.kahan_c;
    case Op::kAvg:
      return g.incremental_mean ? g.mean + g.kahan_c : (g.value + g.kahan_c) / g.count;
    case Op::kCount:
    case Op::kCountValues: return g.count;
    case Op::kGroup: return 1;
    case Op::kMin:
    case Op::kMax: return g.value;
    case Op::kStdvar: return g.value / g.count;
    case Op::kStddev: return std::sqrt(g.value / g.count);
    default: return 0;
  }
}

const model::Labels* Evaluator::GroupKey(const AggregateExpr& a, const model::Labels* l) {
  auto [m, fresh] = Memo(&a).emplace(l, nullptr);
  if (fresh) {
    std::vector<model::Label> ls;
    for (const auto& lab : *l) {
      bool listed = Contains(a.grouping, lab.name);
      bool in_group = a.without ? (!listed && lab.name != model::kMetricName &&
                                   lab.name != kTypeLabel && lab.name != kUnitLabel)
                                : listed;
      if (in_group) ls.push_back(lab);
    }
    m->second = Intern(model::Labels(std::move(ls)));
  }
  return m->second;
}

absl::StatusOr<Value> Evaluator::EvalAggregate(const AggregateExpr& a, int64_t ts) {
  Value param;
  if (a.param) {
    ASSIGN_OR_RETURN(param, Eval(*a.param, ts));
  }
  ASSIGN_OR_RETURN(Value in, Eval(*a.expr, ts));
  Value out;
  out.type = ValueType::kVector;
  std::string value_label;
  if (a.op == Op::kCountValues) {
    value_label = param.str;
    if (!model::IsValidLabelName(value_label)) {
      return absl::InvalidArgumentError(fmt::format("invalid label name \"{}\"", value_label));
    }
  }
  int64_t k = 0;
  double ratio = 0;
  if (a.op == Op::kTopk || a.op == Op::kBottomk || a.op == Op::kLimitk) {
    if (std::isnan(param.scalar)) return absl::InvalidArgumentError("Parameter value is NaN");
    if (param.scalar >= 9.223372036854775807e18 || param.scalar <= -9.223372036854775807e18) {
      return absl::InvalidArgumentError(
          fmt::format("Scalar value {} overflows int64", FormatFloat(param.scalar)));
    }
    k = static_cast<int64_t>(param.scalar);
    if (k < 1) return out;
  }
  if (a.op == Op::kLimitRatio) {
    if (std::isnan(param.scalar)) return absl::InvalidArgumentError("Ratio value is NaN");
    ratio = std::clamp(param.scalar, -1.0, 1.0);
  }
  if (a.op == Op::kQuantile && (param.scalar < 0 || param.scalar > 1 || std::isnan(param.scalar))) {
    Warn(*a.param, fmt::format("quantile value should be between 0 and 1, got {}",
                               FormatFloat(param.scalar)));
  }

  std::vector<Group> groups;
  std::unordered_map<const model::Labels*, size_t> index;
  for (const Elem& el : in.vec) {
    const model::Labels* key;
    if (a.op == Op::kCountValues) {
      // The value is part of the group: no memo, it changes from step to step.
      std::vector<model::Label> ls;
      for (const auto& lab : *el.labels) {
        bool listed = Contains(a.grouping, lab.name);
        bool in_group = a.without ? (!listed && lab.name != model::kMetricName &&
                                     lab.name != kTypeLabel && lab.name != kUnitLabel)
                                  : listed;
        if (in_group && lab.name != value_label) ls.push_back(lab);
      }
      // count_values prints values with strconv's 'f' format, not %v.
      model::Label extra{value_label, FormatFloat(el.v)};
      if (std::isfinite(el.v)) {
        char buf[400];
        auto r = std::to_chars(buf, buf + sizeof(buf), el.v, std::chars_format::fixed);
        extra.value.assign(buf, r.ptr);
      }
      ls.push_back(std::move(extra));
      key = Intern(model::Labels(std::move(ls)));
    } else {
      key = GroupKey(a, el.labels);
    }
    auto [it, inserted] = index.emplace(key, groups.size());
    if (!inserted && el.drop_name) groups[it->second].drop_name = true;
    if (inserted) {
      Group g;
      g.labels = key;
      g.drop_name = el.drop_name;
      AggInit(a.op, el.v, &g.st);
      if (a.op == Op::kQuantile) g.values.push_back(el.v);
      g.elems.push_back(&el);
      groups.push_back(std::move(g));
      continue;
    }
    Group& g = groups[it->second];
    switch (a.op) {
      case Op::kQuantile: g.values.push_back(el.v); break;
      case Op::kTopk:
      case Op::kBottomk:
      case Op::kLimitk:
      case Op::kLimitRatio: g.elems.push_back(&el); break;
      default: AggAdd(a.op, el.v, &g.st); break;
    }
  }

  for (Group& g : groups) {
    switch (a.op) {
      case Op::kTopk:
      case Op::kBottomk: {
        bool top = a.op == Op::kTopk;
        // NaN is the least wanted value either way.
        auto better = [top](double x, double y) {
          if (std::isnan(x)) return false;
          if (std::isnan(y)) return true;
          return top ? x > y : x < y;
        };
        std::stable_sort(g.elems.begin(), g.elems.end(),
                         [&](const Elem* x, const Elem* y) { return better(x->v, y->v); });
        size_t n = std::min<size_t>(g.elems.size(), static_cast<size_t>(k));
        for (size_t i = 0; i < n; ++i) {
          out.vec.push_back({g.elems[i]->labels, g.elems[i]->v, ts, g.elems[i]->drop_name});
        }
        continue;
      }
      case Op::kLimitk: {
        size_t n = std::min<size_t>(g.elems.size(), static_cast<size_t>(k));
        for (size_t i = 0; i < n; ++i) {
          out.vec.push_back({g.elems[i]->labels, g.elems[i]->v, ts, g.elems[i]->drop_name});
        }
        continue;
      }
      case Op::kLimitRatio: {
        for (const Elem* e : g.elems) {
          // A stable pseudo-random position in [0, 1) per series, from its labels' hash.
          double pos = static_cast<double>(e->labels->Hash()) / 18446744073709551616.0;
          bool take = ratio >= 0 ? pos < ratio : pos >= 1 + ratio;
          if (take) out.vec.push_back({e->labels, e->v, ts, e->drop_name});
        }
        continue;
      }
      default: break;
    }
    double v = a.op == Op::kQuantile ? Quantile(param.scalar, g.values) : AggResult(a.op, g.st);
    out.vec.push_back({g.labels, v, ts, g.drop_name});
  }
  return out;
}

}  // namespace vigil::promql::eval
