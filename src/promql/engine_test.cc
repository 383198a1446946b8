// Engine behaviour that the .test scripts do not pin down: the API's result shapes, error
// codes, limits and annotations. PromQL semantics themselves are covered by the conformance
// scripts (tests/promql).
#include "promql/engine.h"

#include <cmath>

#include "gtest/gtest.h"
#include "model/sample.h"
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

}  // namespace
}  // namespace vigil::promql
