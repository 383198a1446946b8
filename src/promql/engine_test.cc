// Engine behaviour that the .test scripts do not pin down: the API's result shapes, error
// codes, limits and annotations. PromQL semantics themselves are covered by the conformance
// scripts (tests/promql).
#include "promql/engine.h"

#include <cmath>
#include <atomic>
#include <cstring>
#include <functional>
#include <thread>
#include <random>
#include <string>

#include "gtest/gtest.h"
#include "model/sample.h"
#include "promql/eval/parallel.h"
#include "promql/testing/mem_queryable.h"

namespace vigil::promql {
namespace {

// MemStorage, remembering the time span of the last querier it handed out.
class FakeStorage : public testing::MemStorage {
 public:
  absl::StatusOr<std::unique_ptr<storage::Querier>> NewQuerier(std::string_view tenant,
                                                               int64_t mint,
                                                               int64_t maxt) override {
    last_mint = mint;
    last_maxt = maxt;
    return MemStorage::NewQuerier(tenant, mint, maxt);
  }
  int64_t last_mint = 0, last_maxt = 0;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A counter scraped every 15s for 10 minutes, going up 1 per second.
    for (int64_t t = 0; t <= 600'000; t += 15'000) {
      db_.Add({{"__name__", "req_total"}, {"job", "a"}}, t, static_cast<double>(t) / 1000);
      db_.Add({{"__name__", "temp"}, {"job", "a"}}, t, 20);
    }
    // A gauge that goes stale at 60s.
    db_.Add({{"__name__", "gone"}}, 0, 1);
    db_.Add({{"__name__", "gone"}}, 60'000, model::StaleNaN());
  }

  FakeStorage db_;
  Engine engine_;
};

TEST_F(EngineTest, InstantVectorUsesFiveMinuteLookbackOpenOnTheLeft) {
  auto r = engine_.InstantQuery(db_, "default", "gone", 30'000);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, ValueType::kVector);
  ASSERT_EQ(r->vector.size(), 1u);
  EXPECT_EQ(r->vector[0].v, 1);
  EXPECT_EQ(r->vector[0].t, 30'000);
  // The stale marker at 60s ends the series.
  r = engine_.InstantQuery(db_, "default", "gone", 61'000);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->vector.empty());
  // A sample exactly 5m old is outside the window.
  r = engine_.InstantQuery(db_, "default", "temp", 900'000);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->vector.empty());
  r = engine_.InstantQuery(db_, "default", "temp", 899'999);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->vector.size(), 1u);
}

TEST_F(EngineTest, RateOfASteadyCounterIsItsSlope) {
  auto r = engine_.InstantQuery(db_, "default", "rate(req_total[5m])", 600'000);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->vector.size(), 1u);
  EXPECT_NEAR(r->vector[0].v, 1.0, 1e-9);
  EXPECT_EQ(r->vector[0].labels, model::Labels({{"job", "a"}}));
  EXPECT_TRUE(r->infos.empty());
}

TEST_F(EngineTest, RateOfANonCounterNameAddsAnInfoWithItsPosition) {
  auto r = engine_.InstantQuery(db_, "default", "rate(temp[5m])", 600'000);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->infos.size(), 1u);
  EXPECT_EQ(r->infos[0],
            "PromQL info: metric might not be a counter, name does not end in "
            "_total/_sum/_count/_bucket: \"temp\" (1:6)");
}

TEST_F(EngineTest, RangeQueryReturnsOnePointPerStepSortedByLabels) {
  auto r = engine_.RangeQuery(db_, "default", "{job=\"a\"}", 0, 60'000, 30'000);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, ValueType::kMatrix);
  ASSERT_EQ(r->matrix.size(), 2u);
  EXPECT_EQ(r->matrix[0].labels.MetricName(), "req_total");
  EXPECT_EQ(r->matrix[1].labels.MetricName(), "temp");
  ASSERT_EQ(r->matrix[0].points.size(), 3u);
  EXPECT_EQ(r->matrix[0].points[2].t, 60'000);
  EXPECT_EQ(r->matrix[0].points[2].v, 60);
}

TEST_F(EngineTest, ScalarRangeQueryIsOneSeriesWithoutLabels) {
  auto r = engine_.RangeQuery(db_, "default", "time()", 0, 20'000, 10'000);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->matrix.size(), 1u);
  EXPECT_TRUE(r->matrix[0].labels.empty());
  ASSERT_EQ(r->matrix[0].points.size(), 3u);
  EXPECT_EQ(r->matrix[0].points[1].v, 10);
}

TEST_F(EngineTest, InstantQueryOfARangeVectorReturnsAMatrix) {
  auto r = engine_.InstantQuery(db_, "default", "temp[1m]", 600'000);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->type, ValueType::kMatrix);
  ASSERT_EQ(r->matrix.size(), 1u);
  // (540s, 600s]: 555, 570, 585, 600.
  EXPECT_EQ(r->matrix[0].points.size(), 4u);
}

TEST_F(EngineTest, ReadsOnlyTheTimeSpanTheQueryNeeds) {
  auto r = engine_.InstantQuery(db_, "default", "rate(req_total[5m] offset 1m)", 600'000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(db_.last_mint, 600'000 - 60'000 - 300'000 + 1);
  EXPECT_EQ(db_.last_maxt, 600'000 - 60'000);
}

struct ErrorCase {
  const char* query;
  bool range;
  absl::StatusCode code;
  const char* message;
};

TEST_F(EngineTest, ReportsErrorsWithPrometheusCodesAndWording) {
  const ErrorCase cases[] = {
      {"rate(", false, absl::StatusCode::kInvalidArgument,
       "1:6: parse error: unclosed left parenthesis"},
      {"temp[5m]", true, absl::StatusCode::kInvalidArgument,
       "invalid expression type \"range vector\" for range query, must be Scalar or instant "
       "Vector"},
      {"{job=\"a\"} + 1", false, absl::StatusCode::kInvalidArgument,
       "vector cannot contain metrics with the same labelset"},
      {"topk(scalar(nosuch), temp)", false, absl::StatusCode::kInvalidArgument,
       "Parameter value is NaN"},
      {"count_values(\"0bad\", temp)", false, absl::StatusCode::kInvalidArgument,
       "invalid label name \"0bad\""},
      {"label_replace(temp, \"0dst\", \"\", \"job\", \".*\")", false,
       absl::StatusCode::kInvalidArgument,
       "invalid destination label name in label_replace(): 0dst"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.query);
    auto r = c.range ? engine_.RangeQuery(db_, "default", c.query, 0, 60'000, 15'000)
                     : engine_.InstantQuery(db_, "default", c.query, 60'000);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), c.code);
    EXPECT_EQ(std::string(r.status().message()), c.message);
  }
}

TEST_F(EngineTest, StopsAQueryThatLoadsTooManySamples) {
  EngineOptions o;
  o.max_samples = 10;
  Engine small(o);
  auto r = small.InstantQuery(db_, "default", "sum_over_time(req_total[10m])", 600'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(EngineTest, StopsAQueryThatRunsPastItsTimeout) {
  EngineOptions o;
  o.timeout_ms = 1;
  Engine quick(o);
  // Millions of steps of a cheap expression take far longer than 1ms.
  auto r = quick.RangeQuery(db_, "default", "time() + time() * time()", 0, 50'000'000'000, 1'000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(EngineTest, SubqueryWithoutStepUsesTheDefaultStep) {
  // [5m:] at 600s takes the 1m-aligned steps in (300s, 600s]: 360, 420, 480, 540, 600.
  auto r = engine_.InstantQuery(db_, "default", "count_over_time(temp[5m:])", 600'000);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->vector.size(), 1u);
  EXPECT_EQ(r->vector[0].v, 5);
}


// Data for the batch path's checks: gaps, stale markers, counter resets, NaN and Inf, and
// series whose labels collide once the metric name is dropped.
void FillBatchTestData(testing::MemStorage& db) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 24; ++i) {
    std::string name = i % 3 == 0 ? "b_total" : i == 22 ? "temp" : "a_total";
    model::Labels l({{"__name__", name},
                     {"job", "j" + std::to_string(i % 4)},
                     {"instance", "i" + std::to_string(i / 3)},
                     {"le", i % 2 ? "+Inf" : "0.5"}});
    double v = u(rng) * 100;
    for (int64_t t = 1000 + i * 37; t <= 3'600'000; t += 15'000 + (i % 5) * 1000) {
      double r = u(rng);
      if (r < 0.05) continue;  // a missed scrape
      if (r < 0.07 && i % 4 == 1) {
        db.Add(l, t, model::StaleNaN());
        t += 400'000;  // a gap longer than the lookback
        continue;
      }
      v = r < 0.09 ? u(rng) * 10 : v + u(rng) * 50;  // counter resets
      if (i == 5 && r > 0.98) v = std::numeric_limits<double>::quiet_NaN();
      if (i == 7 && r > 0.97) v = std::numeric_limits<double>::infinity();
      db.Add(l, t, v);
    }
  }
  // Two series equal but for their name, overlapping only in the second half hour.
  for (int64_t t = 0; t <= 3'600'000; t += 15'000) {
    if (t < 1'800'000) db.Add({{"__name__", "x_total"}, {"job", "dup"}}, t, t / 1000.0);
    db.Add({{"__name__", "y_total"}, {"job", "dup"}}, t + 3000, t / 500.0);
  }
}

struct BatchCheckCounts {
  int errors = 0, infos = 0, points = 0;
};

// Runs `q` as range queries (several spans and steps) and as an instant query on both
// engines and expects the same results to the bit, the same errors and annotations.
void ExpectBatchMatchesStepByStep(testing::MemStorage& db, const Engine& batched,
                                  const Engine& stepwise, const std::string& q,
                                  BatchCheckCounts* counts) {
  for (auto [start, end, step] : {std::tuple<int64_t, int64_t, int64_t>{0, 3'600'000, 15'000},
                                  {600'000, 3'000'000, 60'000},
                                  {1'234'567, 1'234'567, 1'000}}) {
    SCOPED_TRACE(::testing::Message() << q << " start=" << start << " step=" << step);
    auto a = batched.RangeQuery(db, "default", q, start, end, step);
    auto b = stepwise.RangeQuery(db, "default", q, start, end, step);
    ASSERT_EQ(a.ok(), b.ok()) << (a.ok() ? b.status() : a.status());
    if (!a.ok()) {
      EXPECT_EQ(a.status(), b.status());
      counts->errors++;
      continue;
    }
    counts->infos += static_cast<int>(a->infos.size());
    for (const auto& series : a->matrix) counts->points += static_cast<int>(series.points.size());
    EXPECT_EQ(a->warnings, b->warnings);
    EXPECT_EQ(a->infos, b->infos);
    ASSERT_EQ(a->matrix.size(), b->matrix.size());
    for (size_t i = 0; i < a->matrix.size(); ++i) {
      EXPECT_EQ(a->matrix[i].labels, b->matrix[i].labels);
      ASSERT_EQ(a->matrix[i].points.size(), b->matrix[i].points.size());
      for (size_t j = 0; j < a->matrix[i].points.size(); ++j) {
        const Point& x = a->matrix[i].points[j];
        const Point& y = b->matrix[i].points[j];
        EXPECT_EQ(x.t, y.t);
        EXPECT_EQ(std::memcmp(&x.v, &y.v, sizeof(double)), 0) << x.v << " vs " << y.v;
      }
    }
  }
  auto a = batched.InstantQuery(db, "default", q, 2'000'000);
  auto b = stepwise.InstantQuery(db, "default", q, 2'000'000);
  ASSERT_EQ(a.ok(), b.ok()) << q;
  if (!a.ok()) {
    EXPECT_EQ(a.status(), b.status()) << q;
    return;
  }
  EXPECT_EQ(a->warnings, b->warnings) << q;
  EXPECT_EQ(a->infos, b->infos) << q;
  ASSERT_EQ(a->type, b->type) << q;
  ASSERT_EQ(a->matrix.size(), b->matrix.size()) << q;
  ASSERT_EQ(a->vector.size(), b->vector.size()) << q;
  // An instant vector keeps the evaluation's element order.
  for (size_t i = 0; i < a->vector.size(); ++i) {
    EXPECT_EQ(a->vector[i].labels, b->vector[i].labels) << q;
    EXPECT_EQ(a->vector[i].t, b->vector[i].t) << q;
    EXPECT_EQ(std::memcmp(&a->vector[i].v, &b->vector[i].v, sizeof(double)), 0) << q;
  }
}

// Calls check(batched, stepwise) with two engines that differ only in batch_eval, once with
// each name-removal mode; stops at the first fatal failure.
template <typename F>
void ForEachNameRemovalMode(F check) {
  for (bool delayed : {false, true}) {
    SCOPED_TRACE(::testing::Message() << "delayed=" << delayed);
    EngineOptions on, off;
    on.delayed_name_removal = off.delayed_name_removal = delayed;
    off.batch_eval = false;
    Engine batched(on), stepwise(off);
    check(batched, stepwise);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

// The whole-range path (eval/batch.cc) must give exactly what the step-by-step path gives:
// same series, same points, same bits, same errors and annotations.
TEST(EngineBatchTest, WholeRangeEvaluationMatchesStepByStep) {
  testing::MemStorage db;
  FillBatchTestData(db);
  const char* queries[] = {
      "rate({job=\"dup\"}[5m])",
      "sum(rate({job=\"dup\"}[5m]))",
      "rate(a_total[5m])",
      "sum(rate(a_total[5m]))",
      "sum by (job) (rate(a_total[5m]))",
      "avg without (instance) (increase(a_total[2m]))",
      "max by (le) (irate(a_total[1m]))",
      "min(delta(a_total[3m] offset 2m))",
      "count by (job) (changes(a_total[10m]))",
      "stddev(resets(a_total[10m]))",
      "stdvar by (job) (deriv(a_total[5m]))",
      "group by (instance) (avg_over_time(a_total[5m]))",
      "sum(sum_over_time(a_total[5m]))",
      "count_over_time(a_total[5m])",
      "last_over_time(a_total[5m])",
      "sum by (__name__) (last_over_time({__name__=~\".+_total\"}[5m]))",
      "max_over_time(a_total[7m])",
      "min_over_time(a_total[7m])",
      "stddev_over_time(a_total[5m])",
      "mad_over_time(a_total[5m])",
      "ts_of_max_over_time(a_total[5m])",
      "present_over_time(a_total[5m])",
      "sum(a_total)",
      "avg by (job) (a_total offset 1m)",
      "count by (job) ({__name__=~\".+\"})",
      "sum by (__name__) ({__name__=~\".+\"})",
      // Dropping the name makes a_total and b_total collide: an error at some steps.
      "rate({__name__=~\"a_total|b_total\"}[5m])",
      "sum by (job) (rate({__name__=~\"a_total|b_total\"}[5m]))",
      "sum without (job) (rate({job=\"j1\"}[5m]))",
      "histogram_quantile(0.9, sum by (le, job) (rate(a_total[5m])))",
      "sum(rate(a_total[5m])) / sum(rate(b_total[5m]))",
      "sum(rate({__name__=~\"a_total|temp\"}[5m]))",  // an info: temp is no counter
      "max_over_time(sum(rate(a_total[5m]))[10m:1m])",
      // Bare selectors, and selectors under other operators (timestamp() keeps their
      // samples' timestamps).
      "a_total",
      "(a_total offset 1m)",
      "{job=\"dup\"}",
      "timestamp(a_total)",
      // Vector and scalar, bool, comparisons that filter, the scalar on either side.
      "1 - avg by (job) (a_total / 100)",
      "2 * rate(a_total[5m])",
      "a_total > 50",
      "50 < a_total",
      "a_total >= bool 50",
      "sum by (job) (a_total) > 1000",
      "{job=\"dup\"} * 2",  // x_total and y_total collide once the name is gone
      "{job=\"dup\"} > 1",
      "sum by (__name__) ({job=\"dup\"} - 1)",
      // Vector and vector: one-to-one, group_left/group_right (with included labels),
      // on/ignoring, bool, and the matching errors.
      "a_total / on(instance) group_left b_total",
      "b_total / on(instance) group_right a_total",
      "a_total / on(instance) group_left(le) b_total",
      "a_total - ignoring(job, le) group_left b_total",
      "a_total == bool on(instance) group_left b_total",
      "a_total > on(instance) group_left b_total",
      "a_total / on(instance) b_total",    // one-to-one with two a_total per instance
      "a_total / on(job) group_left b_total",  // several b_total per job: many-to-many
      "a_total + on(instance, job, le) a_total",
      "sum(a_total) / count(a_total)",
      "count by (job, instance) (a_total) / on(job) group_left sum by (job) (a_total)",
      "sum by (job) (rate(a_total[5m])) > bool on(job) avg by (job) (rate(a_total[5m]))",
      "avg by (job) (a_total / on(instance) group_left b_total)",
      "max by (instance) (sum by (job, instance) (a_total) * 2)",
      // Set operators.
      "a_total and on(instance) b_total",
      "a_total unless on(instance) b_total",
      "a_total or b_total",
      "sum by (job) (rate(a_total[5m])) or sum by (instance) (rate(b_total[5m]))",
      "sum by (job) (a_total) and on(job) count by (job) (b_total > 200)",
      "sum by (job) (a_total) unless sum by (job) (b_total > 200)",
      "topk(3, a_total > bool 50)",
      // Unary minus (unary plus keeps a selector's sample timestamps).
      "-a_total",
      "-sum by (job) (rate(a_total[5m]))",
      "-{job=\"dup\"}",
      "timestamp(-a_total)",
      "timestamp(+a_total)",
  };
  BatchCheckCounts counts;
  ForEachNameRemovalMode([&](const Engine& batched, const Engine& stepwise) {
    for (const char* q : queries) ExpectBatchMatchesStepByStep(db, batched, stepwise, q, &counts);
  });
  // The cases above do exercise errors, annotations and real data.
  EXPECT_GT(counts.errors, 0);
  EXPECT_GT(counts.infos, 0);
  EXPECT_GT(counts.points, 10000);
}

// Random compositions of the batch shapes (selectors, range functions, aggregations, binary
// operators with every kind of matching) against the step-by-step path.
TEST(EngineBatchTest, RandomShapesMatchStepByStep) {
  testing::MemStorage db;
  FillBatchTestData(db);
  std::mt19937_64 rng(11);
  auto pick = [&](const std::vector<std::string>& v) { return v[rng() % v.size()]; };
  const std::vector<std::string> leaves = {
      "a_total", "b_total", "{job=\"dup\"}", "rate(a_total[5m])", "last_over_time(b_total[5m])",
      "a_total offset 1m", "{__name__=~\"a_total|b_total\"}", "increase(b_total[2m])"};
  const std::vector<std::string> aggs = {"sum", "avg", "count", "min", "max", "stddev", "group"};
  const std::vector<std::string> groupings = {"", " by (job)", " by (instance)", " without (le)",
                                              " by (job, instance, le)", " without (instance)"};
  const std::vector<std::string> ops = {"+", "-", "*", "/", ">", "<", "==", "!=", ">=", "<=",
                                        "> bool", "== bool", "and", "or", "unless"};
  const std::vector<std::string> matchings = {
      "", " on(instance)", " ignoring(le)", " on(job) group_left()", " on(instance) group_right()",
      " on(instance, job, le)", " ignoring(job) group_left(le)", " on() group_left()"};
  const std::vector<std::string> numbers = {"2", "0", "50", "-1.5"};
  std::function<std::string(int)> gen = [&](int depth) -> std::string {
    switch (depth <= 0 ? 0 : rng() % 5) {
      case 0: return pick(leaves);
      case 1: return pick(aggs) + pick(groupings) + " (" + gen(depth - 1) + ")";
      case 2: {
        std::string op = pick(ops);
        bool set_op = op == "and" || op == "or" || op == "unless";
        std::string m = pick(matchings);
        if (set_op && m.find("group_") != std::string::npos) m = " on(instance)";
        return "(" + gen(depth - 1) + " " + op + m + " " + gen(depth - 1) + ")";
      }
      case 3: return "-(" + gen(depth - 1) + ")";
      default: {
        std::string op = pick({"+", "*", "/", ">", "<=", "> bool", "-"});
        return rng() % 2 ? "(" + pick(numbers) + " " + op + " " + gen(depth - 1) + ")"
                         : "(" + gen(depth - 1) + " " + op + " " + pick(numbers) + ")";
      }
    }
  };
  BatchCheckCounts counts;
  ForEachNameRemovalMode([&](const Engine& batched, const Engine& stepwise) {
    for (int i = 0; i < 150; ++i) {
      ExpectBatchMatchesStepByStep(db, batched, stepwise, gen(3), &counts);
      if (::testing::Test::HasFatalFailure()) return;
    }
  });
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_GT(counts.errors, 0);
  EXPECT_GT(counts.points, 10000);
}

// More series than one round of the batch path (512) holds: rounds are decoded by the
// workers while the calling thread reads the next one and folds the last, and a collision
// found in a later round (c_total and d_total are equal but for the name) falls back to
// the step-by-step path while a round is still decoding.
TEST(EngineBatchTest, SeriesReadInSeveralRoundsMatchStepByStep) {
  testing::MemStorage db;
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < 1300; ++i) {
    model::Labels l({{"__name__", i < 1299 ? "c_total" : "d_total"},
                     {"job", "j" + std::to_string(i < 1299 ? i % 7 : 5)},
                     {"instance", "i" + std::to_string(i < 1299 ? i : 5)}});
    double v = 0;
    for (int64_t t = 1000 + i; t <= 1'800'000; t += 30'000) {
      v = u(rng) < 0.05 ? 0 : v + u(rng) * 10;
      db.Add(l, t, v);
    }
  }
  EngineOptions on, off;
  off.batch_eval = false;
  Engine batched(on), stepwise(off);
  BatchCheckCounts counts;
  for (const char* q : {"sum by (job) (rate(c_total[5m]))", "rate(c_total[5m])",
                        "max(max_over_time(c_total[10m]))", "c_total", "rate({job=\"j5\"}[5m])",
                        "sum by (job) (rate({__name__=~\"c_total|d_total\"}[5m]))",
                        "rate({__name__=~\"c_total|d_total\"}[5m])"}) {
    ExpectBatchMatchesStepByStep(db, batched, stepwise, q, &counts);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_GT(counts.errors, 0);  // the collision of c_total and d_total
  EXPECT_GT(counts.points, 100000);
  // The sample limit is hit in a later round.
  on.max_samples = off.max_samples = 30'000;
  Engine limited_batched(on), limited_stepwise(off);
  auto a = limited_batched.RangeQuery(db, "default", "sum(rate(c_total[5m]))", 0, 1'800'000,
                                      60'000);
  auto b = limited_stepwise.RangeQuery(db, "default", "sum(rate(c_total[5m]))", 0, 1'800'000,
                                       60'000);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(a.status(), b.status());
}

TEST(ParallelTask, RunsEveryIndexOnceWhileTheCallerWorks) {
  std::vector<std::atomic<int>> hits(3000);
  eval::ParallelTask task;
  for (int round = 0; round < 20; ++round) {
    task.Start(hits.size(), [&](size_t i) { hits[i]++; });
    // The caller's own work overlaps the task's; Start waits for the previous call.
  }
  task.Wait();
  for (auto& x : hits) ASSERT_EQ(x.load(), 20);
  {
    eval::ParallelTask scoped;
    scoped.Start(hits.size(), [&](size_t i) { hits[i]++; });
  }  // the destructor waits
  for (auto& x : hits) ASSERT_EQ(x.load(), 21);
}

TEST(ParallelFor, CallsEveryIndexOnceEvenFromConcurrentCallers) {
  std::vector<std::thread> callers;
  std::vector<std::vector<std::atomic<int>>> hits(4);
  for (auto& h : hits) h = std::vector<std::atomic<int>>(5000);
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&, c] {
      for (int round = 0; round < 10; ++round) {
        eval::ParallelFor(hits[c].size(), [&](size_t i) { hits[c][i]++; });
      }
    });
  }
  for (auto& t : callers) t.join();
  for (auto& h : hits) {
    for (auto& x : h) ASSERT_EQ(x.load(), 10);
  }
  EXPECT_GE(eval::ParallelWidth(), 1u);
}

}  // namespace
}  // namespace vigil::promql
