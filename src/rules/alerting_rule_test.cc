#include "rules/alerting_rule.h"

#include <map>

#include "gtest/gtest.h"

namespace vigil::rules {
namespace {

constexpr int64_t kStep = 60'000;  // one evaluation per minute

// A query function over a scripted series: value at minute i is script[i]; a negative
// entry means "the condition is false" (no sample).
QueryFunc Scripted(std::vector<double> script) {
  return [script](std::string_view, int64_t t) -> absl::StatusOr<promql::QueryResult> {
    promql::QueryResult r;
    r.type = promql::ValueType::kVector;
    const size_t i = static_cast<size_t>(t / kStep);
    if (i < script.size() && script[i] >= 0) {
      r.vector.push_back({model::Labels{{"__name__", "cpu"}, {"instance", "a"}}, t, script[i]});
    }
    return r;
  };
}

RuleSpec Spec(int64_t for_ms, int64_t keep_ms) {
  RuleSpec s;
  s.alert = "HighCpu";
  s.expr = "cpu > 90";
  s.for_ms = for_ms;
  s.keep_firing_for_ms = keep_ms;
  s.labels = {{"severity", "page"}};
  s.annotations = {{"summary", "{{ $labels.instance }} at {{ $value }}"}};
  return s;
}

// Runs the rule over the script and returns the state after each evaluation.
std::string States(AlertingRule& rule, const QueryFunc& q, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    auto r = rule.Eval(static_cast<int64_t>(i) * kStep, q, 0);
    EXPECT_TRUE(r.ok()) << r.status();
    switch (rule.State()) {
      case AlertState::kInactive: out += '.'; break;
      case AlertState::kPending: out += 'P'; break;
      case AlertState::kFiring: out += 'F'; break;
    }
  }
  return out;
}

struct StateCase {
  const char* what;
  int64_t for_min;
  int64_t keep_min;
  std::vector<double> script;
  const char* want;
};

class AlertStateMachine : public ::testing::TestWithParam<StateCase> {};

TEST_P(AlertStateMachine, FollowsScriptedSeries) {
  const StateCase& c = GetParam();
  AlertingRule rule(Spec(c.for_min * kStep, c.keep_min * kStep), RuleContext{});
  EXPECT_EQ(States(rule, Scripted(c.script), c.script.size()), c.want) << c.what;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, AlertStateMachine,
    ::testing::Values(
        StateCase{"a spike shorter than `for` never fires", 3, 0,
                  {-1, 95, 96, -1, -1, 97, -1}, ".PP..P."},
        StateCase{"a condition held for `for` fires", 2, 0, {-1, 95, 95, 95, 95, -1}, ".PPFF."},
        StateCase{"without `for` it fires at once", 0, 0, {95, -1}, "F."},
        StateCase{"a dip shorter than keep_firing_for never resolves", 0, 3,
                  {95, -1, -1, 95, -1, -1, -1, -1}, "FFFFFFF."},
        StateCase{"flapping with both: fires once, stays firing", 2, 2,
                  {95, 95, 95, -1, 95, -1, 95, -1, -1, -1}, "PPFFFFFFF."}));

TEST(AlertingRule, WritesAlertsAndForStateSeries) {
  AlertingRule rule(Spec(kStep, 0), RuleContext{});
  auto q = Scripted({95, 95});
  auto r0 = rule.Eval(0, q, 0);
  ASSERT_TRUE(r0.ok());
  ASSERT_EQ(r0->size(), 2u);
  EXPECT_EQ((*r0)[0].labels.ToString(),
            "ALERTS{alertname=\"HighCpu\", alertstate=\"pending\", instance=\"a\", severity=\"page\"}");
  EXPECT_EQ((*r0)[1].labels.MetricName(), "ALERTS_FOR_STATE");
  EXPECT_EQ((*r0)[1].v, 0);
  auto r1 = rule.Eval(kStep, q, 0);
  ASSERT_TRUE(r1.ok());
  EXPECT_EQ((*r1)[0].labels.Get("alertstate"), "firing");
  auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].annotations.Get("summary"), "a at 95");
  EXPECT_EQ(alerts[0].fired_at_ms, kStep);
}

TEST(AlertingRule, SendsFiringThenResolvedAndRespectsResendDelay) {
  AlertingRule rule(Spec(0, 0), RuleContext{});
  auto q = Scripted({95, 95, -1, -1});
  ASSERT_TRUE(rule.Eval(0, q, 0).ok());
  auto s0 = rule.AlertsToSend(0, 2 * kStep, kStep);
  ASSERT_EQ(s0.size(), 1u);
  EXPECT_EQ(s0[0].starts_at_ms, 0);
  EXPECT_EQ(s0[0].ends_at_ms, 4 * 2 * kStep);
  ASSERT_TRUE(rule.Eval(kStep, q, 0).ok());
  EXPECT_TRUE(rule.AlertsToSend(kStep, 2 * kStep, kStep).empty());  // within resend delay
  ASSERT_TRUE(rule.Eval(2 * kStep, q, 0).ok());
  auto s2 = rule.AlertsToSend(2 * kStep, 2 * kStep, kStep);
  ASSERT_EQ(s2.size(), 1u);
  EXPECT_EQ(s2[0].ends_at_ms, 2 * kStep);  // resolved
  ASSERT_TRUE(rule.Eval(3 * kStep, q, 0).ok());
  EXPECT_TRUE(rule.AlertsToSend(3 * kStep, 2 * kStep, kStep).empty());  // resolution sent once
}

TEST(AlertingRule, RestoresFiringStateFromForStateSeries) {
  // Before the restart the alert had been active since t=100s; Vigil was down from 600s
  // to 700s. `for` is 5m, so it was already firing and must fire on the first evaluation.
  AlertingRule rule(Spec(5 * kStep, 0), RuleContext{});
  rule.set_restored(false);
  QueryFunc q = [](std::string_view query, int64_t t) -> absl::StatusOr<promql::QueryResult> {
    promql::QueryResult r;
    if (query.substr(0, 16) == "ALERTS_FOR_STATE") {
      r.type = promql::ValueType::kMatrix;
      r.matrix.push_back({model::Labels{}, {{500'000, 100}, {600'000, 100}}});
    } else {
      r.type = promql::ValueType::kVector;
      r.vector.push_back({model::Labels{{"instance", "a"}}, t, 99});
    }
    return r;
  };
  auto out = rule.Eval(700'000, q, 0);
  ASSERT_TRUE(out.ok());
  EXPECT_TRUE(out->empty());  // nothing written before the state is restored
  rule.RestoreForState(700'000, q, 3'600'000, 600'000);
  rule.set_restored(true);
  auto alerts = rule.ActiveAlerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].active_at_ms, 100'000);
  ASSERT_TRUE(rule.Eval(760'000, q, 0).ok());
  EXPECT_EQ(rule.State(), AlertState::kFiring);
}

TEST(AlertingRule, LimitDropsAllAlertsWithAnError) {
  AlertingRule rule(Spec(0, 0), RuleContext{});
  QueryFunc q = [](std::string_view, int64_t t) -> absl::StatusOr<promql::QueryResult> {
    promql::QueryResult r;
    r.type = promql::ValueType::kVector;
    r.vector.push_back({model::Labels{{"instance", "a"}}, t, 1});
    r.vector.push_back({model::Labels{{"instance", "b"}}, t, 1});
    return r;
  };
  auto out = rule.Eval(0, q, 1);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(std::string(out.status().message()), "exceeded limit of 1 with 2 alerts");
  EXPECT_TRUE(rule.ActiveAlerts().empty());
}

TEST(AlertingRule, GeneratorURLEscapesTheExpression) {
  EXPECT_EQ(GeneratorURL("http://vigil:9460", "rate(x{a=\"b\"}[5m]) > 0.5"),
            "http://vigil:9460/graph?g0.expr=rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29+%3E+0.5&g0.tab=1");
}

}  // namespace
}  // namespace vigil::rules
