// The PromQL engine: evaluates instant and range queries over a storage::Queryable.
//
//   promql::Engine engine(promql::EngineOptions{});
//   auto r = engine.InstantQuery(db, "default", "sum(rate(x_total[5m]))", now_ms);
//   auto m = engine.RangeQuery(db, "default", "up", start_ms, end_ms, step_ms);
//
// Semantics follow Prometheus 3: a 5 minute lookback (configurable) that is open on the
// left, stale markers end a series, range selectors cover (t - range, t], subqueries
// without a step use `default_subquery_step_ms`, `@` and negative offsets are allowed,
// `rate`/`increase`/`delta` extrapolate as Prometheus does, and operations that change a
// value drop `__name__` (and `__type__`/`__unit__`).
//
// Errors: a query that does not parse or type-check returns InvalidArgument (the HTTP API's
// `bad_data`); a failure while running returns another code (`execution`): the query
// running past `timeout_ms` is DeadlineExceeded (`timeout`), loading more than
// `max_samples` samples is ResourceExhausted. Warnings and infos that Prometheus attaches
// to a result ("PromQL info: metric might not be a counter, ...") travel in
// QueryResult::warnings / infos.
//
// Thread-safety: an Engine is immutable after construction; any number of queries may run
// on it concurrently from different threads. Each query reads through its own Querier.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"
#include "model/sample.h"
#include "promql/parser/ast.h"
#include "storage/querier.h"

namespace vigil::promql {

struct EngineOptions {
  int64_t lookback_delta_ms = 5 * 60 * 1000;
  // Step of a subquery written without one (`x[10m:]`). Prometheus uses the global
  // evaluation interval, 1m by default.
  int64_t default_subquery_step_ms = 60 * 1000;
  // Samples a query may hold in memory at once (0 = unlimited).
  int64_t max_samples = 50'000'000;
  int64_t timeout_ms = 2 * 60 * 1000;  // 0 = no limit
  // Prometheus's experimental "delayed __name__ removal": operations that drop the metric
  // name only mark the sample, and the name goes at the end of the query, so that
  // label_replace() and `by (__name__)` still see it. Off by default, as upstream; the
  // conformance scripts assume it on.
  bool delayed_name_removal = false;
  // Evaluate range functions of a selector, simple aggregations, binary operators and bare
  // selectors for every step at once, series by series (eval/batch.cc). The results are
  // identical either way; off only to check that in tests.
  bool batch_eval = true;
};

// One point of a range-query series or a range vector: the same type as storage's
// samples, so that a selector's samples are decoded straight into what the functions read.
using Point = model::Sample;

// A series of a matrix (range query result or range vector).
struct Series {
  model::Labels labels;
  std::vector<Point> points;
};

// One element of an instant vector.
struct Sample {
  model::Labels labels;
  int64_t t;
  double v;
};

struct QueryResult {
  // kVector for instant vectors, kMatrix for range queries and range vectors, kScalar,
  // kString.
  ValueType type = ValueType::kNone;
  std::vector<Sample> vector;
  std::vector<Series> matrix;  // sorted by labels
  Point scalar{0, 0};
  std::string string;
  int64_t string_t = 0;
  // "PromQL warning: <message> (<line>:<col>)" / "PromQL info: ...", deduplicated.
  std::vector<std::string> warnings;
  std::vector<std::string> infos;
};

class Engine {
 public:
  explicit Engine(EngineOptions opts = {}) : opts_(opts) {}

  // Evaluates `query` at time `t` (ms). A range-vector expression returns a matrix.
  absl::StatusOr<QueryResult> InstantQuery(storage::Queryable& db, std::string_view tenant,
                                           std::string_view query, int64_t t) const;
  // Evaluates `query` at start, start+step, ... <= end. The expression must be a scalar or
  // an instant vector; the result is a matrix (a scalar gives one series with no labels).
  absl::StatusOr<QueryResult> RangeQuery(storage::Queryable& db, std::string_view tenant,
                                         std::string_view query, int64_t start, int64_t end,
                                         int64_t step) const;

  // The same over an already parsed tree (`expr` must outlive the call). `start == end`
  // and `step == 0` make an instant query. `query_text` is the text `expr` was parsed
  // from; annotation positions refer to it.
  absl::StatusOr<QueryResult> Exec(storage::Queryable& db, std::string_view tenant,
                                   const Expr& expr, int64_t start, int64_t end, int64_t step,
                                   std::string_view query_text = "") const;

  const EngineOptions& options() const { return opts_; }

 private:
  EngineOptions opts_;
};

}  // namespace vigil::promql
