#include "promql/engine.h"

#include <algorithm>
#include <unordered_map>

#include "base/status.h"
#include "fmt/format.h"
#include "promql/eval/evaluator.h"
#include "promql/parser.h"

namespace vigil::promql {

absl::StatusOr<QueryResult> Engine::InstantQuery(storage::Queryable& db,
                                                 std::string_view tenant,
                                                 std::string_view query, int64_t t) const {
  ASSIGN_OR_RETURN(ExprPtr expr, ParseExpr(query));
  return Exec(db, tenant, *expr, t, t, 0, query);
}

absl::StatusOr<QueryResult> Engine::RangeQuery(storage::Queryable& db, std::string_view tenant,
                                               std::string_view query, int64_t start,
                                               int64_t end, int64_t step) const {
  ASSIGN_OR_RETURN(ExprPtr expr, ParseExpr(query));
  if (step <= 0) {
    return absl::InvalidArgumentError(
        "zero or negative query resolution step widths are not accepted. Try a positive "
        "integer");
  }
  if (end < start) return absl::InvalidArgumentError("end timestamp must not be before start time");
  ValueType t = expr->Type();
  if (t != ValueType::kScalar && t != ValueType::kVector) {
    return absl::InvalidArgumentError(fmt::format(
        "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
        ValueTypeName(t)));
  }
  return Exec(db, tenant, *expr, start, end, step, query);
}

absl::StatusOr<QueryResult> Engine::Exec(storage::Queryable& db, std::string_view tenant,
                                         const Expr& expr, int64_t start, int64_t end,
                                         int64_t step, std::string_view text) const {
  eval::Evaluator ev(opts_, nullptr, start, end, step, text);
  ev.Prepare(expr);
  auto [mint, maxt] = ev.Bounds();
  ASSIGN_OR_RETURN(std::unique_ptr<storage::Querier> q, db.NewQuerier(tenant, mint, maxt));
  ev.SetQuerier(q.get());

  QueryResult res;
  if (step == 0) {
    ASSIGN_OR_RETURN(eval::Value v, ev.Eval(expr, start));
    RETURN_IF_ERROR(ev.FinishStep(&v.vec));
    res.type = v.type;
    switch (v.type) {
      case ValueType::kScalar: res.scalar = {start, v.scalar}; break;
      case ValueType::kString:
        res.string = std::move(v.str);
        res.string_t = start;
        break;
      case ValueType::kVector:
        for (const eval::Elem& e : v.vec) res.vector.push_back({*e.labels, start, e.v});
        break;
      case ValueType::kMatrix:
        for (const eval::RangeSeries& s : v.mat.mat) {
          const model::Labels* l = s.drop_name ? ev.DropMetricName(s.labels) : s.labels;
          res.matrix.push_back({*l, std::vector<Point>(s.points.begin(), s.points.end())});
        }
        std::sort(res.matrix.begin(), res.matrix.end(),
                  [](const Series& a, const Series& b) { return a.labels < b.labels; });
        break;
      default: break;
    }
  } else {
    res.type = ValueType::kMatrix;
    std::unordered_map<const model::Labels*, size_t> index;
    ASSIGN_OR_RETURN(bool batched, ev.EvalRangeSeries(expr, &res.matrix));
    for (int64_t t = start; !batched && t <= end; t += step) {
      ASSIGN_OR_RETURN(eval::Value v, ev.Eval(expr, t));
      RETURN_IF_ERROR(ev.FinishStep(&v.vec));
      if (v.type == ValueType::kScalar) {
        if (res.matrix.empty()) res.matrix.emplace_back();
        res.matrix[0].points.push_back({t, v.scalar});
        continue;
      }
      for (const eval::Elem& e : v.vec) {
        auto [it, inserted] = index.emplace(e.labels, res.matrix.size());
        if (inserted) res.matrix.push_back({*e.labels, {}});
        res.matrix[it->second].points.push_back({t, e.v});
      }
    }
    std::sort(res.matrix.begin(), res.matrix.end(),
              [](const Series& a, const Series& b) { return a.labels < b.labels; });
  }
  res.warnings.assign(ev.warnings().begin(), ev.warnings().end());
  res.infos.assign(ev.infos().begin(), ev.infos().end());
  return res;
}

}  // namespace vigil::promql
