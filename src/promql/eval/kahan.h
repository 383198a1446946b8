// Float helpers shared by the evaluator's aggregations and functions.
//
// Thread-safety: pure functions.
#pragma once

#include <cmath>
#include <vector>

namespace vigil::promql::eval {

// Adds `inc` to the compensated sum (*sum, *c) with Neumaier's improvement of Kahan
// summation, as Prometheus does; the total is *sum + *c.
inline void KahanAdd(double inc, double* sum, double* c) {
  double t = *sum + inc;
  if (std::isinf(t)) {
    *c = 0;
  } else if (std::fabs(*sum) >= std::fabs(inc)) {
    *c += (*sum - t) + inc;
  } else {
    *c += (inc - t) + *sum;
  }
  *sum = t;
}

// The q-quantile of `values` (sorted in place) with linear interpolation between ranks;
// NaN for no values or a NaN q, -Inf/+Inf for q < 0 / q > 1.
double QuantileOf(double q, std::vector<double>& values);

}  // namespace vigil::promql::eval
