// PromQL function implementations (Evaluator::EvalCall).

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <limits>
#include <map>
#include <span>
#include <unordered_map>

#include "base/status.h"
#include "fmt/format.h"
#include "model/matcher.h"
#include "promql/eval/evaluator.h"
#include "promql/eval/kahan.h"
#include "promql/parser.h"
#include "promql/parser/functions.h"
#include "re2/re2.h"

namespace vigil::promql::eval {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

const Expr& Unparen(const Expr& e) {
  if (e.kind == NodeKind::kParen) return Unparen(*static_cast<const ParenExpr&>(e).expr);
  return e;
}

// Labels for absent()/absent_over_time(): the selector's equality matchers, except
// __name__ and names matched more than once.
model::Labels AbsentLabels(const Expr& arg) {
  const Expr& e = Unparen(arg);
  const VectorSelector* vs = nullptr;
  if (e.kind == NodeKind::kVectorSelector) vs = static_cast<const VectorSelector*>(&e);
  if (e.kind == NodeKind::kMatrixSelector) vs = &static_cast<const MatrixSelector&>(e).selector();
  if (vs == nullptr) return {};
  std::map<std::string, std::string> set;
  std::map<std::string, int> seen;
  for (const auto& m : vs->matchers) {
    if (m.name() == model::kMetricName) continue;
    if (m.type() == model::MatchType::kEqual) {
      if (++seen[m.name()] == 1) set[m.name()] = m.value();
    } else {
      ++seen[m.name()];
    }
  }
  std::vector<model::Label> out;
  for (auto& [n, v] : set) {
    if (seen[n] == 1 && !v.empty()) out.push_back({n, v});
  }
  return model::Labels(std::move(out));
}

// Slope and intercept (at `intercept_t`) of the least-squares line through the points,
// with compensated sums as Prometheus computes them.
void LinearRegression(std::span<const Point> pts, int64_t intercept_t, double* slope,
                      double* intercept) {
  double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
  double init_y = pts[0].v;
  bool const_y = true;
  for (size_t i = 0; i < pts.size(); ++i) {
    if (const_y && i > 0 && pts[i].v != init_y) const_y = false;
    n += 1;
    double x = static_cast<double>(pts[i].t - intercept_t) / 1e3;
    KahanAdd(x, &sx, &cx);
    KahanAdd(pts[i].v, &sy, &cy);
    KahanAdd(x * pts[i].v, &sxy, &cxy);
    KahanAdd(x * x, &sx2, &cx2);
  }
  if (const_y) {
    if (std::isinf(init_y)) {
      *slope = *intercept = kNaN;
      return;
    }
    *slope = 0;
    *intercept = init_y;
    return;
  }
  sx += cx;
  sy += cy;
  sxy += cxy;
  sx2 += cx2;
  double cov = sxy - sx * sy / n;
  double var = sx2 - sx * sx / n;
  *slope = cov / var;
  *intercept = sy / n - *slope * sx / n;
}

double AvgOf(std::span<const Point> pts) {
  double sum = 0, c = 0, mean = 0, count = 0;
  bool incremental = false;
  for (const Point& p : pts) {
    count++;
    if (!incremental) {
      double ns = sum, nc = c;
      KahanAdd(p.v, &ns, &nc);
      if (count == 1 || !std::isinf(ns)) {
        sum = ns;
        c = nc;
        continue;
      }
      incremental = true;
      mean = sum / (count - 1);
      c /= count - 1;
    }
    if (std::isinf(mean)) {
      if (std::isinf(p.v) && (mean > 0) == (p.v > 0)) continue;
      if (!std::isinf(p.v) && !std::isnan(p.v)) continue;
    }
    double cur = mean + c;
    KahanAdd(p.v / count - cur / count, &mean, &c);
  }
  if (incremental) return mean + c;
  return sum / count + c / count;
}

double VarianceOf(std::span<const Point> pts) {
  double count = 0, mean = 0, cmean = 0, aux = 0, caux = 0;
  for (const Point& p : pts) {
    count++;
    double delta = p.v - (mean + cmean);
    KahanAdd(delta / count, &mean, &cmean);
    KahanAdd(delta * (p.v - (mean + cmean)), &aux, &caux);
  }
  return (aux + caux) / count;
}

// Go's regexp.Expand for label_replace's replacement: $1, ${1}, $name, ${name}, $$.
std::string ExpandTemplate(std::string_view tmpl, const std::vector<re2::StringPiece>& groups,
                           const std::map<std::string, int>& names) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    char c = tmpl[i];
    if (c != '$' || i + 1 >= tmpl.size()) {
      out.push_back(c);
      continue;
    }
    if (tmpl[i + 1] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    bool braced = tmpl[j] == '{';
    if (braced) {
      size_t close = tmpl.find('}', j);
      if (close == std::string_view::npos) {
        out.push_back(c);
        continue;
      }
      name = std::string(tmpl.substr(j + 1, close - j - 1));
      j = close + 1;
    } else {
      while (j < tmpl.size() && (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_')) {
        name.push_back(tmpl[j++]);
      }
    }
    bool valid = !name.empty();
    for (char nc : name) valid &= (std::isalnum(static_cast<unsigned char>(nc)) || nc == '_');
    if (!valid) {
      out.push_back(c);
      continue;
    }
    i = j - 1;
    int idx = -1;
    bool numeric = std::all_of(name.begin(), name.end(), [](char d) { return d >= '0' && d <= '9'; });
    if (numeric) {
      idx = name.size() > 9 ? -1 : std::stoi(name);
    } else if (auto it = names.find(name); it != names.end()) {
      idx = it->second;
    }
    if (idx >= 0 && idx < static_cast<int>(groups.size()) && groups[idx].data() != nullptr) {
      out.append(groups[idx].data(), groups[idx].size());
    }
  }
  return out;
}

struct DateParts {
  int year, month, mday, wday, yday, hour, minute, days_in_month;
};

DateParts ToDate(double secs) {
  std::time_t t = static_cast<std::time_t>(std::floor(secs));
  std::tm tm{};
  gmtime_r(&t, &tm);
  static const int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y = tm.tm_year + 1900;
  int dim = kDays[tm.tm_mon];
  if (tm.tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) dim = 29;
  return {y, tm.tm_mon + 1, tm.tm_mday, tm.tm_wday, tm.tm_yday + 1, tm.tm_hour, tm.tm_min, dim};
}

// One classic-histogram bucket: upper bound and cumulative count.
struct Bucket {
  double upper;
  double count;
};

// histogram_quantile over classic buckets, as Prometheus computes it, including its
// monotonicity fix. Sets *fixed when counts had to be made monotonic.
double BucketQuantile(double q, std::vector<Bucket>& b, bool* fixed) {
  *fixed = false;
  if (std::isnan(q)) return kNaN;
  if (q < 0) return -std::numeric_limits<double>::infinity();
  if (q > 1) return std::numeric_limits<double>::infinity();
  std::sort(b.begin(), b.end(), [](const Bucket& x, const Bucket& y) { return x.upper < y.upper; });
  if (!std::isinf(b.back().upper) || b.back().upper < 0) return kNaN;
  // Merge buckets with the same bound.
  std::vector<Bucket> m;
  for (const Bucket& x : b) {
    if (!m.empty() && m.back().upper == x.upper) {
      m.back().count += x.count;
    } else {
      m.push_back(x);
    }
  }
  b = std::move(m);
  // Make counts monotonic (small floating-point errors, or real damage).
  double prev = b[0].count;
  for (size_t i = 1; i < b.size(); ++i) {
    if (b[i].count < prev) {
      if (prev - b[i].count > 1e-12 * std::fabs(prev)) *fixed = true;
      b[i].count = prev;
    } else {
      prev = b[i].count;
    }
  }
  if (b.size() < 2) return kNaN;
  double observations = b.back().count;
  if (observations == 0) return kNaN;
  double rank = q * observations;
  size_t i = 0;
  while (i < b.size() - 1 && b[i].count < rank) ++i;
  if (i == b.size() - 1) return b[b.size() - 2].upper;
  if (i == 0 && b[0].upper <= 0) return b[0].upper;
  double start = 0, end = b[i].upper, count = b[i].count;
  if (i > 0) {
    start = b[i - 1].upper;
    count -= b[i - 1].count;
    rank -= b[i - 1].count;
  }
  return start + (end - start) * (rank / count);
}

// histogram_fraction over classic buckets: the share of observations in [lower, upper],
// interpolating linearly inside finite buckets. A bucket of infinite width counts only when
// the range reaches to the same infinity. The first bucket starts at 0 if its bound is positive.
double BucketFraction(double lower, double upper, std::vector<Bucket>& b) {
  std::sort(b.begin(), b.end(), [](const Bucket& x, const Bucket& y) { return x.upper < y.upper; });
  if (b.empty() || !std::isinf(b.back().upper) || b.back().upper < 0) return kNaN;
  std::vector<Bucket> m;
  for (const Bucket& x : b) {
    if (!m.empty() && m.back().upper == x.upper) {
      m.back().count += x.count;
    } else {
      m.push_back(x);
    }
  }
  for (size_t i = 1; i < m.size(); ++i) m[i].count = std::max(m[i].count, m[i - 1].count);
  double total = m.back().count;
  if (total == 0 || std::isnan(lower) || std::isnan(upper)) return kNaN;
  if (lower >= upper) return 0;
  double got = 0;
  for (size_t i = 0; i < m.size(); ++i) {
    double lo = i == 0 ? (m[0].upper > 0 ? 0 : -std::numeric_limits<double>::infinity())
                       : m[i - 1].upper;
    double up = m[i].upper;
    double count = m[i].count - (i == 0 ? 0 : m[i - 1].count);
    if (std::isinf(lo) || std::isinf(up)) {
      // Nothing is known about where inside an unbounded bucket the observations are:
      // it counts only if the range reaches out to the same infinity.
      bool reaches = (std::isinf(lo) && std::isinf(lower) && lower < 0) ||
                     (std::isinf(up) && std::isinf(upper) && upper > 0);
      if (reaches) got += count;
      continue;
    }
    double overlap = std::min(up, upper) - std::max(lo, lower);
    if (overlap > 0) got += count * overlap / (up - lo);
  }
  return got / total;
}

// "Natural" order: runs of digits compare by number, so "cpu2" < "cpu10".
bool NaturalLess(std::string_view a, std::string_view b) {
  size_t i = 0, j = 0;
  auto digit = [](char ch) { return ch >= '0' && ch <= '9'; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      size_t i2 = i, j2 = j;
      while (i2 < a.size() && digit(a[i2])) ++i2;
      while (j2 < b.size() && digit(b[j2])) ++j2;
      std::string_view na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = i2;
      j = j2;
      continue;
    }
    if (a[i] != b[j]) return a[i] < b[j];
    ++i;
    ++j;
  }
  return a.size() - i < b.size() - j;
}

// The value of histogram_quantiles' quantile label: "0.25", and "1.0" for whole numbers.
std::string QuantileLabel(double q) {
  if (!std::isfinite(q)) return FormatFloat(q);
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), q, std::chars_format::fixed);
  std::string s(buf, r.ptr);
  if (s.find('.') == std::string::npos) s += ".0";
  return s;
}

}  // namespace

RangeFn RangeFnOf(std::string_view name) {
  static const std::pair<std::string_view, RangeFn> kNames[] = {
      {"rate", RangeFn::kRate},
      {"increase", RangeFn::kIncrease},
      {"delta", RangeFn::kDelta},
      {"irate", RangeFn::kIrate},
      {"idelta", RangeFn::kIdelta},
      {"deriv", RangeFn::kDeriv},
      {"predict_linear", RangeFn::kPredictLinear},
      {"changes", RangeFn::kChanges},
      {"resets", RangeFn::kResets},
      {"avg_over_time", RangeFn::kAvgOverTime},
      {"sum_over_time", RangeFn::kSumOverTime},
      {"count_over_time", RangeFn::kCountOverTime},
      {"present_over_time", RangeFn::kPresentOverTime},
      {"last_over_time", RangeFn::kLastOverTime},
      {"first_over_time", RangeFn::kFirstOverTime},
      {"ts_of_last_over_time", RangeFn::kTsOfLastOverTime},
      {"ts_of_first_over_time", RangeFn::kTsOfFirstOverTime},
      {"max_over_time", RangeFn::kMaxOverTime},
      {"min_over_time", RangeFn::kMinOverTime},
      {"ts_of_max_over_time", RangeFn::kTsOfMaxOverTime},
      {"ts_of_min_over_time", RangeFn::kTsOfMinOverTime},
      {"stddev_over_time", RangeFn::kStddevOverTime},
      {"stdvar_over_time", RangeFn::kStdvarOverTime},
      {"quantile_over_time", RangeFn::kQuantileOverTime},
      {"mad_over_time", RangeFn::kMadOverTime},
      {"double_exponential_smoothing", RangeFn::kDoubleExponentialSmoothing},
  };
  for (const auto& [n, f] : kNames) {
    if (n == name) return f;
  }
  return RangeFn::kUnknown;
}

bool RangeFnValue(RangeFn fn, std::span<const Point> p, const RangeArg& r, int64_t ts,
                  const std::vector<double>& scalars, double* out, bool no_resets) {
  bool counter_fn = fn == RangeFn::kRate || fn == RangeFn::kIncrease;
  double v = 0;
  bool have = true;
  if ((fn == RangeFn::kRate || fn == RangeFn::kIncrease || fn == RangeFn::kDelta) && (r.anchored || r.smoothed)) {
    // The edges are already at the window's bounds: no extrapolation.
    v = p.back().v - p.front().v;
    if (counter_fn) {
      for (size_t i = 1; i < p.size(); ++i) {
        if (p[i].v < p[i - 1].v) v += p[i - 1].v;
      }
    }
    if (fn == RangeFn::kRate) v /= static_cast<double>(r.range_ms) / 1000.0;
  } else if (fn == RangeFn::kRate || fn == RangeFn::kIncrease || fn == RangeFn::kDelta) {
    have = ExtrapolatedRate(p, r, counter_fn, fn == RangeFn::kRate, no_resets, &v);
  } else if (fn == RangeFn::kIrate || fn == RangeFn::kIdelta) {
    if (p.size() < 2) {
      have = false;
    } else {
      const Point& last = p[p.size() - 1];
      const Point& prev = p[p.size() - 2];
      if (fn == RangeFn::kIrate) {
        v = last.v < prev.v ? last.v : last.v - prev.v;
        v /= static_cast<double>(last.t - prev.t) / 1000.0;
      } else {
        v = last.v - prev.v;
      }
    }
  } else if (fn == RangeFn::kDeriv) {
    if (p.size() < 2) {
      have = false;
    } else {
      double slope, icpt;
      LinearRegression(p, p[0].t, &slope, &icpt);
      v = slope;
    }
  } else if (fn == RangeFn::kPredictLinear) {
    if (p.size() < 2) {
      have = false;
    } else {
      double slope, icpt;
      LinearRegression(p, ts, &slope, &icpt);
      v = slope * scalars[0] + icpt;
    }
  } else if (fn == RangeFn::kChanges || fn == RangeFn::kResets) {
    for (size_t i = 1; i < p.size(); ++i) {
      if (fn == RangeFn::kChanges) {
        if (p[i].v != p[i - 1].v && !(std::isnan(p[i].v) && std::isnan(p[i - 1].v))) v++;
      } else if (p[i].v < p[i - 1].v) {
        v++;
      }
    }
  } else if (fn == RangeFn::kAvgOverTime) {
    v = AvgOf(p);
  } else if (fn == RangeFn::kSumOverTime) {
    double sum = 0, comp = 0;
    for (const Point& x : p) KahanAdd(x.v, &sum, &comp);
    v = sum + comp;
  } else if (fn == RangeFn::kCountOverTime) {
    v = static_cast<double>(p.size());
  } else if (fn == RangeFn::kPresentOverTime) {
    v = 1;
  } else if (fn == RangeFn::kLastOverTime) {
    v = p.back().v;
  } else if (fn == RangeFn::kFirstOverTime) {
    v = p.front().v;
  } else if (fn == RangeFn::kTsOfLastOverTime) {
    v = static_cast<double>(p.back().t) / 1000.0;
  } else if (fn == RangeFn::kTsOfFirstOverTime) {
    v = static_cast<double>(p.front().t) / 1000.0;
  } else if (fn == RangeFn::kMaxOverTime || fn == RangeFn::kMinOverTime ||
             fn == RangeFn::kTsOfMaxOverTime || fn == RangeFn::kTsOfMinOverTime) {
    bool max = fn == RangeFn::kMaxOverTime || fn == RangeFn::kTsOfMaxOverTime;
    double best = p[0].v;
    int64_t best_t = p[0].t;
    bool ts_of = fn == RangeFn::kTsOfMaxOverTime || fn == RangeFn::kTsOfMinOverTime;
    for (const Point& x : p) {
      if ((max ? x.v > best : x.v < best) || std::isnan(best) || (ts_of && x.v == best)) {
        best = x.v;
        best_t = x.t;
      }
    }
    v = ts_of ? static_cast<double>(best_t) / 1000.0 : best;
  } else if (fn == RangeFn::kStddevOverTime) {
    v = std::sqrt(VarianceOf(p));
  } else if (fn == RangeFn::kStdvarOverTime) {
    v = VarianceOf(p);
  } else if (fn == RangeFn::kQuantileOverTime || fn == RangeFn::kMadOverTime) {
    std::vector<double> vals;
    vals.reserve(p.size());
    for (const Point& x : p) vals.push_back(x.v);
    if (fn == RangeFn::kQuantileOverTime) {
      v = QuantileOf(scalars[0], vals);
    } else if (std::any_of(vals.begin(), vals.end(), [](double x) { return std::isnan(x); })) {
      v = kNaN;
    } else {
      double med = QuantileOf(0.5, vals);
      for (double& x : vals) x = std::fabs(x - med);
      v = QuantileOf(0.5, vals);
    }
  } else if (fn == RangeFn::kDoubleExponentialSmoothing) {
    if (p.size() < 2) {
      have = false;
    } else {
      double sf = scalars[0], tf = scalars[1];
      double s0 = 0, s1 = p[0].v, b = p[1].v - p[0].v;
      for (size_t i = 1; i < p.size(); ++i) {
        double x = sf * p[i].v;
        if (i > 1) b = tf * (s1 - s0) + (1 - tf) * b;
        double y = (1 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
      }
      v = s1;
    }
  } else {
    have = false;
  }
  *out = v;
  return have;
}

void Evaluator::CheckCounterName(const Expr& arg, std::string_view metric) {
  if (!metric.empty() && !EndsWith(metric, "_total") && !EndsWith(metric, "_sum") &&
      !EndsWith(metric, "_count") && !EndsWith(metric, "_bucket")) {
    Info(arg, fmt::format("metric might not be a counter, name does not end in "
                          "_total/_sum/_count/_bucket: {}",
                          QuoteString(metric)));
  }
}

absl::StatusOr<Value> Evaluator::EvalCall(const Call& c, int64_t ts) {
  std::string_view name = c.func->name;
  Value out;
  out.type = c.func->return_type;

  // ---- functions of no argument, and of scalars ----
  if (name == "time") {
    out.scalar = static_cast<double>(ts) / 1000.0;
    return out;
  }
  if (name == "pi") {
    out.scalar = M_PI;
    return out;
  }
  if (name == "start" || name == "end" || name == "range" || name == "step") {
    out.scalar = static_cast<double>(name == "start" ? start_ : name == "end" ? end_
                                     : name == "range" ? end_ - start_ : step_) / 1000.0;
    return out;
  }
  if (name == "min_of" || name == "max_of") {
    ASSIGN_OR_RETURN(Value a, Eval(*c.args[0], ts));
    ASSIGN_OR_RETURN(Value b, Eval(*c.args[1], ts));
    // As Go's math.Min/Max: NaN wins.
    if (std::isnan(a.scalar) || std::isnan(b.scalar)) {
      out.scalar = kNaN;
    } else {
      out.scalar = name == "min_of" ? std::min(a.scalar, b.scalar) : std::max(a.scalar, b.scalar);
    }
    return out;
  }
  if (name == "vector") {
    ASSIGN_OR_RETURN(Value s, Eval(*c.args[0], ts));
    out.vec.push_back({Intern(model::Labels()), s.scalar, ts});
    return out;
  }
  if (name == "scalar") {
    ASSIGN_OR_RETURN(Value v, Eval(*c.args[0], ts));
    out.scalar = v.vec.size() == 1 ? v.vec[0].v : kNaN;
    return out;
  }

  // ---- functions of a range vector ----
  const Function& f = *c.func;
  int matrix_arg = -1;
  for (size_t i = 0; i < f.arg_types.size(); ++i) {
    if (f.arg_types[i] == ValueType::kMatrix) matrix_arg = static_cast<int>(i);
  }
  if (matrix_arg >= 0) {
    std::vector<double> scalars;
    for (size_t i = 0; i < c.args.size(); ++i) {
      if (static_cast<int>(i) == matrix_arg) continue;
      ASSIGN_OR_RETURN(Value s, Eval(*c.args[i], ts));
      scalars.push_back(s.scalar);
    }
    ASSIGN_OR_RETURN(RangeArg r, EvalRange(*c.args[matrix_arg], ts));
    if (r.anchored || r.smoothed) {
      bool ok = name == "rate" || name == "increase" || name == "delta" ||
                (r.anchored && (name == "changes" || name == "resets"));
      if (!ok) {
        return absl::InvalidArgumentError(fmt::format(
            "{} modifier can only be used with: {} - not with {}",
            r.anchored ? "anchored" : "smoothed",
            r.anchored ? "changes, delta, increase, rate, resets" : "delta, increase, rate",
            name));
      }
    }
    if (name == "absent_over_time") {
      if (r.mat.empty()) out.vec.push_back({Intern(AbsentLabels(*c.args[0])), 1, ts});
      return out;
    }
    if (name == "quantile_over_time" && (scalars[0] < 0 || scalars[0] > 1 || std::isnan(scalars[0]))) {
      Warn(*c.args[0], fmt::format("quantile value should be between 0 and 1, got {}",
                                   FormatFloat(scalars[0])));
    }
    if (name == "double_exponential_smoothing") {
      if (scalars[0] <= 0 || scalars[0] >= 1) {
        return absl::InvalidArgumentError(fmt::format(
            "invalid smoothing factor. Expected: 0 < sf < 1, got: {:f}", scalars[0]));
      }
      if (scalars[1] <= 0 || scalars[1] >= 1) {
        return absl::InvalidArgumentError(fmt::format(
            "invalid trend factor. Expected: 0 < tf < 1, got: {:f}", scalars[1]));
      }
    }
    RangeFn fn = RangeFnOf(name);
    bool keep_name = fn == RangeFn::kLastOverTime || fn == RangeFn::kFirstOverTime;
    bool counter_fn = fn == RangeFn::kRate || fn == RangeFn::kIncrease;
    for (RangeSeries& s : r.mat) {
      std::span<const Point> p = s.points;
      if (p.empty()) continue;
      if (fn == RangeFn::kUnknown) {
        return absl::UnimplementedError(fmt::format("function \"{}\" is not supported", name));
      }
      double v = 0;
      bool have = RangeFnValue(fn, p, r, ts, scalars, &v);
      if (counter_fn) CheckCounterName(*c.args[matrix_arg], s.labels->MetricName());
      if (!have) continue;
      out.vec.push_back(keep_name ? Elem{s.labels, v, ts, s.drop_name}
                                  : Derived(s.labels, s.drop_name, v, ts));
    }
    return out;
  }

  // ---- functions of an instant vector ----
  Value arg;
  if (!c.args.empty()) {
    ASSIGN_OR_RETURN(arg, Eval(*c.args[0], ts));
  } else {
    // Date functions default to vector(time()).
    arg.type = ValueType::kVector;
    arg.vec.push_back({Intern(model::Labels()), static_cast<double>(ts) / 1000.0, ts});
  }
  std::vector<Value> rest;
  for (size_t i = 1; i < c.args.size(); ++i) {
    ASSIGN_OR_RETURN(Value v, Eval(*c.args[i], ts));
    rest.push_back(std::move(v));
  }
  Vector& in = arg.vec;

  if (name == "absent") {
    if (in.empty()) out.vec.push_back({Intern(AbsentLabels(*c.args[0])), 1, ts});
    return out;
  }
  if (name == "sort" || name == "sort_desc") {
    if (start_ != end_) {
      Warn(c, "sort is ineffective for range queries since results are always ordered by labels");
    }
    bool desc = name == "sort_desc";
    std::stable_sort(in.begin(), in.end(), [desc](const Elem& a, const Elem& b) {
      if (std::isnan(a.v)) return false;  // NaN last
      if (std::isnan(b.v)) return true;
      return desc ? a.v > b.v : a.v < b.v;
    });
    for (Elem& e : in) e.t = ts;
    out.vec = std::move(in);
    return out;
  }
  if (name == "sort_by_label" || name == "sort_by_label_desc") {
    if (start_ != end_) {
      Warn(c, "sort is ineffective for range queries since results are always ordered by labels");
    }
    bool desc = name == "sort_by_label_desc";
    std::vector<std::string> names;
    for (const Value& v : rest) names.push_back(v.str);
    std::stable_sort(in.begin(), in.end(), [&](const Elem& a, const Elem& b) {
      for (const auto& n : names) {
        std::string_view x = a.labels->Get(n), y = b.labels->Get(n);
        if (x != y) return desc ? NaturalLess(y, x) : NaturalLess(x, y);
      }
      return desc ? *b.labels < *a.labels : *a.labels < *b.labels;
    });
    for (Elem& e : in) e.t = ts;
    out.vec = std::move(in);
    return out;
  }
  if (name == "label_replace") {
    const std::string& dst = rest[0].str;
    const std::string& repl = rest[1].str;
    const std::string& src = rest[2].str;
    const std::string& regex = rest[3].str;
    RE2::Options ro;
    ro.set_dot_nl(true);
    ro.set_log_errors(false);
    RE2 re("^(?:" + regex + ")$", ro);
    if (!re.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("invalid regular expression in label_replace(): {}", regex));
    }
    if (!model::IsValidLabelName(dst)) {
      return absl::InvalidArgumentError(
          fmt::format("invalid destination label name in label_replace(): {}", dst));
    }
    std::map<std::string, int> names(re.NamedCapturingGroups().begin(),
                                     re.NamedCapturingGroups().end());
    std::vector<re2::StringPiece> groups(re.NumberOfCapturingGroups() + 1);
    auto& memo = Memo(&c);
    auto& matched = Memo(&c, 1);  // non-null when the regex matched
    for (Elem& e : in) {
      auto [m, fresh] = memo.emplace(e.labels, e.labels);
      if (fresh) {
        std::string value(e.labels->Get(src));
        matched[e.labels] = nullptr;
        if (re.Match(value, 0, value.size(), RE2::UNANCHORED, groups.data(),
                     static_cast<int>(groups.size()))) {
          std::string res = ExpandTemplate(repl, groups, names);
          m->second = Intern(model::LabelsBuilder(*e.labels).Set(dst, res).Build());
          matched[e.labels] = m->second;
        }
      }
      // Writing __name__ explicitly keeps it, even if an earlier operation meant to drop it.
      if (dst == model::kMetricName && matched[e.labels] != nullptr) e.drop_name = false;
      e.labels = m->second;
      e.t = ts;
      out.vec.push_back(std::move(e));
    }
    return out;
  }
  if (name == "label_join") {
    const std::string& dst = rest[0].str;
    const std::string& sep = rest[1].str;
    if (!model::IsValidLabelName(dst)) {
      return absl::InvalidArgumentError(
          fmt::format("invalid destination label name in label_join(): {}", dst));
    }
    for (size_t i = 2; i < rest.size(); ++i) {
      if (!model::IsValidLabelName(rest[i].str)) {
        return absl::InvalidArgumentError(
            fmt::format("invalid source label name in label_join(): {}", rest[i].str));
      }
    }
    auto& memo = Memo(&c);
    for (Elem& e : in) {
      auto [m, fresh] = memo.emplace(e.labels, nullptr);
      if (fresh) {
        std::string joined;
        for (size_t i = 2; i < rest.size(); ++i) {
          if (i > 2) joined += sep;
          joined += e.labels->Get(rest[i].str);
        }
        m->second = Intern(model::LabelsBuilder(*e.labels).Set(dst, joined).Build());
      }
      if (dst == model::kMetricName) e.drop_name = false;
      e.labels = m->second;
      e.t = ts;
      out.vec.push_back(std::move(e));
    }
    return out;
  }
  if (name == "timestamp") {
    bool selector = Unparen(*c.args[0]).kind == NodeKind::kVectorSelector;
    for (Elem& e : in) {
      double t = static_cast<double>(selector ? e.t : ts) / 1000.0;
      out.vec.push_back(Derived(e.labels, e.drop_name, t, ts));
    }
    return out;
  }
  if (name == "histogram_quantile" || name == "histogram_fraction" ||
      name == "histogram_quantiles") {
    bool fraction = name == "histogram_fraction";
    bool multi = name == "histogram_quantiles";
    // histogram_quantiles(v, "label", q...) gives one series per quantile, labelled.
    std::vector<double> qs;
    std::vector<const Expr*> q_exprs;
    std::string q_label;
    if (multi) {
      q_label = rest[0].str;
      for (size_t i = 1; i < rest.size(); ++i) {
        qs.push_back(rest[i].scalar);
        q_exprs.push_back(c.args[i + 1].get());
      }
    } else {
      qs.push_back(arg.scalar);
      q_exprs.push_back(c.args[0].get());
    }
    double q = qs[0];
    double upper_bound = fraction ? rest[0].scalar : 0;
    const Value& hv = multi ? arg : rest[fraction ? 1 : 0];
    const Expr& hist_arg = *c.args[multi ? 0 : fraction ? 2 : 1];
    if (!fraction) {
      for (size_t i = 0; i < qs.size(); ++i) {
        if (qs[i] < 0 || qs[i] > 1 || std::isnan(qs[i])) {
          Warn(*q_exprs[i], fmt::format("quantile value should be between 0 and 1, got {}",
                                        FormatFloat(qs[i])));
        }
      }
    }
    // Buckets are grouped by all labels but `le`; the metric name is part of the group and
    // dropped from the result, so two histograms differing only in name collide.
    std::vector<std::pair<const model::Labels*, std::vector<Bucket>>> groups;
    std::unordered_map<const model::Labels*, size_t> index;
    auto& memo = Memo(&c);
    for (const Elem& e : hv.vec) {
      std::string_view le = e.labels->Get("le");
      double upper = 0;
      bool ok = !le.empty();
      if (ok) {
        std::string ls(le);
        std::string lower = ls;
        for (char& ch : lower) ch = static_cast<char>(std::tolower(ch));
        if (lower == "+inf" || lower == "inf") {
          upper = std::numeric_limits<double>::infinity();
        } else if (lower == "-inf") {
          upper = -std::numeric_limits<double>::infinity();
        } else {
          char* endp = nullptr;
          upper = std::strtod(ls.c_str(), &endp);
          ok = endp != nullptr && *endp == 0;
        }
      }
      if (!ok) {
        Warn(hist_arg,
             fmt::format("bucket label \"le\" is missing or has a malformed value of \"{}\" "
                         "for metric name {}",
                         le, QuoteString(e.labels->MetricName())));
        continue;
      }
      auto [m, fresh] = memo.emplace(e.labels, nullptr);
      if (fresh) m->second = Intern(model::LabelsBuilder(*e.labels).Del("le").Build());
      auto [it, inserted] = index.emplace(m->second, groups.size());
      if (inserted) groups.push_back({m->second, {}});
      groups[it->second].second.push_back({upper, e.v});
    }
    for (auto& [labels, buckets] : groups) {
      double v;
      if (multi) {
        for (double qq : qs) {
          bool fixed = false;
          std::vector<Bucket> copy = buckets;
          double qv = BucketQuantile(qq, copy, &fixed);
          const model::Labels* base =
              opts_.delayed_name_removal ? labels : DropMetricName(labels);
          model::Labels l = model::LabelsBuilder(*base).Set(q_label, QuantileLabel(qq)).Build();
          if (fixed) {
            Info(hist_arg, fmt::format("input to histogram_quantile needed to be fixed for "
                                       "monotonicity (see "
                                       "https://prometheus.io/docs/prometheus/latest/querying/"
                                       "functions/#histogram_quantile) for metric name {}",
                                       QuoteString(labels->MetricName())));
          }
          out.vec.push_back({Intern(std::move(l)), qv, ts, opts_.delayed_name_removal});
        }
        continue;
      }
      if (fraction) {
        v = BucketFraction(q, upper_bound, buckets);
      } else {
        bool fixed = false;
        v = BucketQuantile(q, buckets, &fixed);
        if (fixed) {
          Info(hist_arg, fmt::format("input to histogram_quantile needed to be fixed for "
                                     "monotonicity (see "
                                     "https://prometheus.io/docs/prometheus/latest/querying/"
                                     "functions/#histogram_quantile) for metric name {}",
                                     QuoteString(labels->MetricName())));
        }
      }
      out.vec.push_back(Derived(labels, false, v, ts));
    }
    return out;
  }
  if (name.starts_with("histogram_") || name == "info" || name == "start_timestamp") {
    // These act on native histograms (or are experimental); float samples yield nothing.
    if (name == "info") return EvalInfo(c, std::move(arg), ts);
    return out;
  }

  // Element-wise functions.
  double p1 = rest.size() > 0 ? rest[0].scalar : 0;
  double p2 = rest.size() > 1 ? rest[1].scalar : 0;
  if (name == "clamp" && p2 < p1) return out;
  for (Elem& e : in) {
    double x = e.v, v;
    if (name == "abs") v = std::fabs(x);
    else if (name == "ceil") v = std::ceil(x);
    else if (name == "floor") v = std::floor(x);
    else if (name == "exp") v = std::exp(x);
    else if (name == "sqrt") v = std::sqrt(x);
    else if (name == "ln") v = std::log(x);
    else if (name == "log2") v = std::log2(x);
    else if (name == "log10") v = std::log10(x);
    else if (name == "sgn") v = x > 0 ? 1 : x < 0 ? -1 : x;
    else if (name == "sin") v = std::sin(x);
    else if (name == "cos") v = std::cos(x);
    else if (name == "tan") v = std::tan(x);
    else if (name == "asin") v = std::asin(x);
    else if (name == "acos") v = std::acos(x);
    else if (name == "atan") v = std::atan(x);
    else if (name == "sinh") v = std::sinh(x);
    else if (name == "cosh") v = std::cosh(x);
    else if (name == "tanh") v = std::tanh(x);
    else if (name == "asinh") v = std::asinh(x);
    else if (name == "acosh") v = std::acosh(x);
    else if (name == "atanh") v = std::atanh(x);
    else if (name == "deg") v = x * 180 / M_PI;
    else if (name == "rad") v = x * M_PI / 180;
    else if (name == "round") {
      double to = rest.empty() ? 1 : p1;
      double inv = 1.0 / to;
      v = std::floor(x * inv + 0.5) / inv;
    } else if (name == "clamp") v = std::max(p1, std::min(p2, x));
    else if (name == "clamp_max") v = std::min(p1, x);
    else if (name == "clamp_min") v = std::max(p1, x);
    else if (name == "days_in_month" || name == "day_of_month" || name == "day_of_week" ||
             name == "day_of_year" || name == "hour" || name == "minute" || name == "month" ||
             name == "year") {
      if (!std::isfinite(x)) continue;
      DateParts d = ToDate(x);
      v = name == "days_in_month" ? d.days_in_month
          : name == "day_of_month" ? d.mday
          : name == "day_of_week"  ? d.wday
          : name == "day_of_year"  ? d.yday
          : name == "hour"         ? d.hour
          : name == "minute"       ? d.minute
          : name == "month"        ? d.month
                                   : d.year;
    } else {
      return absl::UnimplementedError(fmt::format("function \"{}\" is not supported", name));
    }
    out.vec.push_back(Derived(e.labels, e.drop_name, v, ts));
  }
  return out;
}

}  // namespace vigil::promql::eval
