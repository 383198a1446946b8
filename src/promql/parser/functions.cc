#include "promql/parser/functions.h"

#include <map>
#include <string>

namespace vigil::promql {
namespace {

constexpr ValueType S = ValueType::kScalar;
constexpr ValueType V = ValueType::kVector;
constexpr ValueType M = ValueType::kMatrix;
constexpr ValueType Str = ValueType::kString;

const std::vector<Function>& Table() {
  static const auto* table = new std::vector<Function>{
      {"abs", {V}},
      {"absent", {V}},
      {"absent_over_time", {M}},
      {"acos", {V}},
      {"acosh", {V}},
      {"asin", {V}},
      {"asinh", {V}},
      {"atan", {V}},
      {"atanh", {V}},
      {"avg_over_time", {M}},
      {"ceil", {V}},
      {"changes", {M}},
      {"clamp", {V, S, S}},
      {"clamp_max", {V, S}},
      {"clamp_min", {V, S}},
      {"cos", {V}},
      {"cosh", {V}},
      {"count_over_time", {M}},
      {"days_in_month", {V}, 1},
      {"day_of_month", {V}, 1},
      {"day_of_week", {V}, 1},
      {"day_of_year", {V}, 1},
      {"deg", {V}},
      {"delta", {M}},
      {"deriv", {M}},
      {"exp", {V}},
      {"floor", {V}},
      {"histogram_avg", {V}},
      {"histogram_count", {V}},
      {"histogram_sum", {V}},
      {"histogram_stddev", {V}},
      {"histogram_stdvar", {V}},
      {"histogram_fraction", {S, S, V}},
      {"histogram_quantile", {S, V}},
      {"histogram_quantiles", {V, Str, S}, -1, V, true},
      {"double_exponential_smoothing", {M, S, S}, 0, V, true},
      {"hour", {V}, 1},
      {"idelta", {M}},
      {"increase", {M}},
      {"info", {V, V}, 1, V, true},
      {"irate", {M}},
      {"label_replace", {V, Str, Str, Str, Str}},
      {"label_join", {V, Str, Str, Str}, -1},
      {"last_over_time", {M}},
      {"first_over_time", {M}, 0, V, true},
      {"ln", {V}},
      {"log10", {V}},
      {"log2", {V}},
      {"mad_over_time", {M}, 0, V, true},
      {"max_over_time", {M}},
      {"min_over_time", {M}},
      {"minute", {V}, 1},
      {"month", {V}, 1},
      {"pi", {}, 0, S},
      {"predict_linear", {M, S}},
      {"present_over_time", {M}},
      {"quantile_over_time", {S, M}},
      {"rad", {V}},
      {"rate", {M}},
      {"resets", {M}},
      {"round", {V, S}, 1},
      {"scalar", {V}, 0, S},
      {"sgn", {V}},
      {"sin", {V}},
      {"sinh", {V}},
      {"sort", {V}},
      {"sort_desc", {V}},
      {"sort_by_label", {V, Str}, -1, V, true},
      {"sort_by_label_desc", {V, Str}, -1, V, true},
      {"sqrt", {V}},
      {"start_timestamp", {V}, 0, V, true},
      {"stddev_over_time", {M}},
      {"stdvar_over_time", {M}},
      {"sum_over_time", {M}},
      {"tan", {V}},
      {"tanh", {V}},
      {"time", {}, 0, S},
      {"timestamp", {V}},
      {"ts_of_first_over_time", {M}, 0, V, true},
      {"ts_of_last_over_time", {M}, 0, V, true},
      {"ts_of_max_over_time", {M}, 0, V, true},
      {"ts_of_min_over_time", {M}, 0, V, true},
      {"vector", {S}},
      {"year", {V}, 1},
      // The function-call forms of the duration helpers, usable in expressions too.
      {"start", {}, 0, S, true},
      {"end", {}, 0, S, true},
      {"range", {}, 0, S, true},
      {"step", {}, 0, S, true},
      {"min_of", {S, S}, 0, S, true},
      {"max_of", {S, S}, 0, S, true},
  };
  return *table;
}

}  // namespace

const Function* LookupFunction(std::string_view name) {
  static const auto* index = [] {
    auto* m = new std::map<std::string, const Function*, std::less<>>();
    for (const Function& f : Table()) (*m)[std::string(f.name)] = &f;
    return m;
  }();
  if (name == "holt_winters") name = "double_exponential_smoothing";
  auto it = index->find(name);
  return it == index->end() ? nullptr : it->second;
}

}  // namespace vigil::promql
