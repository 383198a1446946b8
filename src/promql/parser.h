// PromQL text <-> syntax tree: the public entry to the parser and the printer.
//
//   auto expr = promql::ParseExpr("sum by (job) (rate(http_requests_total[5m]))");
//   if (!expr.ok()) ...  // "1:5: parse error: unexpected ..."
//   std::string text = promql::Format(**expr);     // one line, canonical
//   std::string pretty = promql::Prettify(**expr); // what /api/v1/format_query returns
//
// Errors are InvalidArgument statuses whose message is Prometheus's: "<line>:<col>: parse
// error: <what>", with a 1-based line and 1-based byte column of the offending token or
// node. Type errors found after parsing ("expected type range vector in call to function
// \"rate\", got instant vector") are reported the same way.
//
// Thread-safety: every function is reentrant; the returned trees are independent.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/matcher.h"
#include "promql/parser/ast.h"
#include "promql/parser/functions.h"

namespace vigil::promql {

absl::StatusOr<ExprPtr> ParseExpr(std::string_view query);

// A lone series selector such as `up{job="x"}` (for match[] parameters).
absl::StatusOr<model::Matchers> ParseMetricSelector(std::string_view selector);

// Prints the tree on one line as Prometheus's String() does: canonical spacing, `by` before
// the arguments, matchers sorted, durations as 1h5m, numbers in Go's %v float form.
std::string Format(const Expr& expr);
// What /api/v1/format_query returns: Format, with any node longer than 100 characters
// split over indented lines as Prometheus's prettifier does.
std::string Prettify(const Expr& expr);

// Go's strconv.Quote of `s`, as PromQL prints strings.
std::string QuoteString(std::string_view s);
// model.Duration's text form: 1h30m, 5m, 0s, 1w, 2d12h.
std::string FormatDuration(int64_t ms);
// A float as Go's fmt %v prints it: 1, 0.5, 1e+06, +Inf, NaN.
std::string FormatFloat(double v);

}  // namespace vigil::promql
