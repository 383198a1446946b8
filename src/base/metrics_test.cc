#include "base/metrics.h"

#include <cmath>
#include <limits>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::metrics {
namespace {

using ::testing::HasSubstr;

TEST(Registry, RendersCountersWithHelpTypeAndLabels) {
  Registry r;
  auto* fam = r.NewCounterFamily("http_requests_total", "Requests served.", {"handler", "code"});
  fam->WithLabelValues({"/metrics", "200"})->Inc();
  fam->WithLabelValues({"/metrics", "200"})->Inc(2);
  fam->WithLabelValues({"/api/v1/write", "204"})->Inc();
  EXPECT_EQ(r.Render(),
            "# HELP http_requests_total Requests served.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{handler=\"/api/v1/write\",code=\"204\"} 1\n"
            "http_requests_total{handler=\"/metrics\",code=\"200\"} 3\n");
}

TEST(Registry, SameNameAndShapeReturnsTheSameFamily) {
  Registry r;
  auto* a = r.NewCounterFamily("x_total", "x", {"a"});
  auto* b = r.NewCounterFamily("x_total", "x", {"a"});
  EXPECT_EQ(a, b);
}

TEST(Registry, RendersHistogramsCumulativeWithInfBucket) {
  Registry r;
  auto* h = r.NewHistogramFamily("d_seconds", "Durations.", {}, {0.1, 1})->WithLabelValues({});
  h->Observe(0.05);
  h->Observe(0.5);
  h->Observe(0.5);
  h->Observe(7);
  EXPECT_EQ(r.Render(),
            "# HELP d_seconds Durations.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{le=\"0.1\"} 1\n"
            "d_seconds_bucket{le=\"1\"} 3\n"
            "d_seconds_bucket{le=\"+Inf\"} 4\n"
            "d_seconds_sum 8.05\n"
            "d_seconds_count 4\n");
}

TEST(Registry, CollectorsAreRenderedInNameOrderWithRegisteredFamilies) {
  Registry r;
  r.NewGauge("b_gauge", "B.")->Set(2);
  int id = r.AddCollector([](std::vector<FamilySnapshot>* out) {
    out->push_back({"a_gauge", "A.", Type::kGauge, {{{{"k", "v\"q"}}, 1.5}}});
    out->push_back({"c_total", "C.", Type::kCounter, {{{}, 3}}});
  });
  EXPECT_EQ(r.Render(),
            "# HELP a_gauge A.\n# TYPE a_gauge gauge\na_gauge{k=\"v\\\"q\"} 1.5\n"
            "# HELP b_gauge B.\n# TYPE b_gauge gauge\nb_gauge 2\n"
            "# HELP c_total C.\n# TYPE c_total counter\nc_total 3\n");
  r.RemoveCollector(id);
  EXPECT_THAT(r.Render(), ::testing::Not(HasSubstr("a_gauge")));
}

TEST(FormatValue, UsesShortestRoundTripAndPrometheusSpecials) {
  struct Case {
    double v;
    const char* want;
  } cases[] = {
      {0, "0"},
      {1, "1"},
      {0.1, "0.1"},
      {-2.5, "-2.5"},
      {1e21, "1e+21"},
      {400000, "400000"},
      {1e6, "1e+06"},
      {123456789, "1.23456789e+08"},
      {0.0001, "0.0001"},
      {0.00001, "1e-05"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
  };
  for (const auto& c : cases) EXPECT_EQ(FormatValue(c.v), c.want) << c.v;
}

TEST(Counter, ConcurrentIncrementsAreNotLost) {
  Registry r;
  Counter* c = r.NewCounter("n_total", "n");
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i) {
    ts.emplace_back([c] {
      for (int j = 0; j < 10000; ++j) c->Inc();
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(c->Value(), 40000);
}

TEST(Counter, IgnoresNegativeIncrements) {
  Counter c;
  c.Inc(-1);
  EXPECT_EQ(c.Value(), 0);
}

}  // namespace
}  // namespace vigil::metrics
