#include "rules/manager.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/sample.h"

namespace vigil::rules {
namespace {

// Records what was committed.
class FakeAppendable : public storage::Appendable {
 public:
  struct Row {
    model::Labels labels;
    int64_t t;
    double v;
  };
  class App : public storage::Appender {
   public:
    explicit App(FakeAppendable* p) : p_(p) {}
    absl::StatusOr<storage::SeriesRef> Append(storage::SeriesRef, const model::Labels& l, int64_t t,
                                              double v) override {
      pending_.push_back({l, t, v});
      return 1;
    }
    absl::Status Commit() override {
      std::lock_guard<std::mutex> lock(p_->mu);
      for (auto& r : pending_) p_->rows.push_back(r);
      pending_.clear();
      return absl::OkStatus();
    }
    void Rollback() override { pending_.clear(); }

   private:
    FakeAppendable* p_;
    std::vector<Row> pending_;
  };
  std::unique_ptr<storage::Appender> NewAppender(std::string_view) override {
    return std::make_unique<App>(this);
  }
  std::mutex mu;
  std::vector<Row> rows;
};

RuleFile File(const char* yaml) {
  auto f = ParseRuleFile(yaml, "t.yml");
  EXPECT_TRUE(f.ok()) << f.status();
  return *f;
}

TEST(Manager, RecordingRuleWritesResultsAndStaleMarkers) {
  FakeAppendable app;
  std::atomic<int> calls{0};
  ManagerOptions o;
  o.appendable = &app;
  o.query = [&](std::string_view, int64_t t) -> absl::StatusOr<promql::QueryResult> {
    promql::QueryResult r;
    r.type = promql::ValueType::kVector;
    r.vector.push_back({model::Labels{{"job", "a"}}, t, 1});
    if (calls++ == 0) r.vector.push_back({model::Labels{{"job", "b"}}, t, 2});
    return r;
  };
  Manager m(o);
  m.Update({File("groups:\n- name: g\n  rules:\n  - record: job:x\n    expr: x\n    labels: {src: rule}\n")},
           60'000);
  m.EvalAllOnce(1000);
  m.EvalAllOnce(2000);
  ASSERT_EQ(app.rows.size(), 4u);
  EXPECT_EQ(app.rows[0].labels.ToString(), "job:x{job=\"a\", src=\"rule\"}");
  EXPECT_EQ(app.rows[1].v, 2);
  EXPECT_EQ(app.rows[3].labels.Get("job"), "b");
  EXPECT_TRUE(model::IsStaleNaN(app.rows[3].v));
  auto gs = m.Groups();
  ASSERT_EQ(gs.size(), 1u);
  EXPECT_EQ(gs[0].rules[0].health, "ok");
  EXPECT_EQ(gs[0].last_evaluation_ms, 2000);
}

TEST(Manager, AlertingRuleNotifiesAndKeepsStateAcrossReload) {
  FakeAppendable app;
  std::vector<Alert> sent;
  ManagerOptions o;
  o.appendable = &app;
  o.notify = [&](const std::vector<Alert>& a) { sent.insert(sent.end(), a.begin(), a.end()); };
  o.query = [&](std::string_view q, int64_t t) -> absl::StatusOr<promql::QueryResult> {
    promql::QueryResult r;
    if (q.substr(0, 16) == "ALERTS_FOR_STATE") {
      r.type = promql::ValueType::kMatrix;
      return r;
    }
    r.type = promql::ValueType::kVector;
    r.vector.push_back({model::Labels{{"instance", "a"}}, t, 1});
    return r;
  };
  Manager m(o);
  const char* yaml = "groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n";
  m.Update({File(yaml)}, 60'000);
  m.EvalAllOnce(60'000);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].labels.Get("alertname"), "Down");
  m.Update({File(yaml)}, 60'000);  // reload: the alert must not start over
  auto alerts = m.Alerts();
  ASSERT_EQ(alerts.size(), 1u);
  EXPECT_EQ(alerts[0].active_at_ms, 60'000);
  m.EvalAllOnce(120'000);
  EXPECT_EQ(sent.size(), 2u);  // resent after resend_delay (1m), with the same start
  EXPECT_EQ(sent[1].starts_at_ms, 60'000);
}

TEST(Manager, AlertsGoToTheNotifierBeforeTheGroupsResultsAreCommitted) {
  FakeAppendable app;
  std::vector<size_t> rows_when_notified;
  ManagerOptions o;
  o.appendable = &app;
  o.notify = [&](const std::vector<Alert>&) {
    std::lock_guard<std::mutex> lock(app.mu);
    rows_when_notified.push_back(app.rows.size());
  };
  o.query = [&](std::string_view q, int64_t t) -> absl::StatusOr<promql::QueryResult> {
    promql::QueryResult r;
    r.type = q.substr(0, 16) == "ALERTS_FOR_STATE" ? promql::ValueType::kMatrix : promql::ValueType::kVector;
    if (r.type == promql::ValueType::kVector) r.vector.push_back({model::Labels{{"instance", "a"}}, t, 1});
    return r;
  };
  Manager m(o);
  m.Update({File("groups:\n- name: g\n  rules:\n  - alert: Down\n    expr: up == 0\n"
                 "  - record: r\n    expr: x\n")},
           60'000);
  m.EvalAllOnce(60'000);
  m.EvalAllOnce(120'000);  // fired, then resent after resend_delay (1m)
  // Each time the notifier saw only what earlier evaluations wrote: neither this
  // evaluation's write nor the next rule came first.
  EXPECT_THAT(rows_when_notified, ::testing::ElementsAre(0u, 1u));
  std::lock_guard<std::mutex> lock(app.mu);
  // The first evaluation writes the recording rule (a fresh alerting rule restores its state
  // before it writes series), the second ALERTS, ALERTS_FOR_STATE and the recording rule.
  EXPECT_EQ(app.rows.size(), 4u);
}

TEST(Manager, IterationsStartAfterTheSettleDelayAndEvaluateAtTheSlot) {
  std::mutex mu;
  std::vector<std::pair<int64_t, int64_t>> calls;  // (evaluation timestamp, wall ms at the call)
  ManagerOptions o;
  o.settle_ms = 30;
  o.query = [&](std::string_view, int64_t t) -> absl::StatusOr<promql::QueryResult> {
    const int64_t wall = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
    std::lock_guard<std::mutex> lock(mu);
    calls.emplace_back(t, wall);
    return promql::QueryResult{};
  };
  Manager m(o);
  m.Update({File("groups:\n- name: settle\n  interval: 100ms\n  rules:\n  - record: r\n    expr: x\n")}, 0);
  m.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(450));
  m.Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_GE(calls.size(), 2u);
  for (const auto& [ts, wall] : calls) {
    EXPECT_EQ((ts - calls[0].first) % 100, 0);  // every iteration at a slot of the group
    EXPECT_GE(wall, ts + 30);                   // and not before the settle delay passed
  }
}

TEST(Manager, SlowGroupCountsMissedIterationsAndNeverOverlaps) {
  metrics::Registry reg;
  std::atomic<int> running{0}, max_running{0}, evals{0};
  ManagerOptions o;
  o.registry = &reg;
  o.query = [&](std::string_view, int64_t) -> absl::StatusOr<promql::QueryResult> {
    int now = ++running;
    max_running = std::max(max_running.load(), now);
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    --running;
    ++evals;
    return promql::QueryResult{};
  };
  Manager m(o);
  m.Update({File("groups:\n- name: slow\n  interval: 100ms\n  rules:\n  - record: r\n    expr: x\n")}, 0);
  m.Start();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  m.Stop();
  EXPECT_EQ(max_running.load(), 1);
  EXPECT_GE(evals.load(), 2);
  EXPECT_THAT(reg.Render(), ::testing::HasSubstr("vigil_rule_group_iterations_missed_total{rule_group=\"t.yml;slow\"} "));
  EXPECT_THAT(reg.Render(), ::testing::Not(::testing::HasSubstr("vigil_rule_group_iterations_missed_total{rule_group=\"t.yml;slow\"} 0")));
}

}  // namespace
}  // namespace vigil::rules
