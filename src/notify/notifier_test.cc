#include "notify/notifier.h"

#include <filesystem>
#include <mutex>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::notify {
namespace {

using ::testing::HasSubstr;

struct Sink {
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> posts;
  int fail_first = 0;
  absl::Status Post(const std::string& url, const std::string& body) {
    std::lock_guard<std::mutex> lock(mu);
    if (fail_first > 0) {
      --fail_first;
      return absl::UnavailableError("connection refused");
    }
    posts.emplace_back(url, body);
    return absl::OkStatus();
  }
  size_t Count() {
    std::lock_guard<std::mutex> lock(mu);
    return posts.size();
  }
};

Config MustConfig(const char* yaml) {
  auto c = ParseConfig(yaml, "t.yml");
  EXPECT_TRUE(c.ok()) << c.status();
  return *c;
}

constexpr const char* kConfig = R"(
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs: [{url: "http://sink/hook"}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [instance]
)";

Alert MakeAlert(const char* name, const char* instance, const char* severity, int64_t start,
                int64_t end = 0) {
  Alert a;
  a.labels = model::Labels{{"alertname", name}, {"instance", instance}, {"severity", severity}};
  a.annotations = model::Labels{{"summary", "something"}};
  a.starts_at_ms = start;
  a.ends_at_ms = end;
  return a;
}

struct Fixture {
  Sink sink;
  int64_t now = 1'000'000;
  metrics::Registry registry;
  std::unique_ptr<Notifier> n;
  explicit Fixture(const char* yaml = kConfig, std::string dir = "") {
    NotifierOptions o;
    o.data_dir = dir;
    o.registry = &registry;
    o.http_post = [this](const std::string& u, const std::string& b) { return sink.Post(u, b); };
    o.now_ms = [this] { return now; };
    o.initial_backoff_ms = 1;
    n = std::make_unique<Notifier>(o, MustConfig(yaml));
  }
  void At(int64_t t) {
    now = t;
    n->Tick(t);
    n->Flush();
  }
};

TEST(Notifier, GroupsWaitsDedupsAndRepeats) {
  Fixture f;
  // Two evaluators send the same alert: one alert.
  f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'000'000 + 300'000)});
  f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'000'000 + 300'000)});
  f.n->Receive({MakeAlert("Down", "b", "page", 1'000'000, 1'000'000 + 300'000)});
  f.At(1'005'000);
  EXPECT_EQ(f.sink.Count(), 0u);  // group_wait not over
  f.At(1'010'000);
  ASSERT_EQ(f.sink.Count(), 1u);  // one notification for the group of two alerts
  const std::string body = f.sink.posts[0].second;
  EXPECT_THAT(body, HasSubstr("\"status\":\"firing\""));
  EXPECT_THAT(body, HasSubstr("\"groupLabels\":{\"alertname\":\"Down\"}"));
  EXPECT_THAT(body, HasSubstr("\"version\":\"4\""));
  EXPECT_THAT(body, HasSubstr("\"instance\":\"b\""));
  f.At(1'070'000);
  EXPECT_EQ(f.sink.Count(), 1u);  // nothing changed: no repeat before repeat_interval
}

TEST(Notifier, SendsResolvedNotification) {
  Fixture f;
  f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'500'000)});
  f.At(1'010'000);
  ASSERT_EQ(f.sink.Count(), 1u);
  f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'060'000)});  // resolved at 1'060'000
  f.At(1'070'000);
  ASSERT_EQ(f.sink.Count(), 2u);
  EXPECT_THAT(f.sink.posts[1].second, HasSubstr("\"status\":\"resolved\""));
  f.At(1'130'000);
  EXPECT_EQ(f.sink.Count(), 2u);  // told once
}

TEST(Notifier, SilencesAndInhibitionSuppress) {
  Fixture f;
  Silence s;
  s.matchers.push_back({"instance", "a", false, true});
  s.starts_at_ms = 0;
  s.ends_at_ms = 2'000'000;
  auto id = f.n->silences().Set(s, f.now);
  ASSERT_TRUE(id.ok()) << id.status();
  f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'500'000)});
  f.n->Receive({MakeAlert("Disk", "b", "critical", 1'000'000, 1'500'000),
                MakeAlert("Disk2", "b", "warning", 1'000'000, 1'500'000)});
  f.At(1'010'000);
  ASSERT_EQ(f.sink.Count(), 1u);  // only Disk: Down silenced, Disk2 inhibited by Disk
  EXPECT_THAT(f.sink.posts[0].second, HasSubstr("\"alertname\":\"Disk\""));
  auto st = f.n->Alerts();
  int suppressed = 0;
  for (const auto& a : st) suppressed += a.state == "suppressed";
  EXPECT_EQ(suppressed, 2);
  ASSERT_TRUE(f.n->silences().Expire(*id, 1'020'000).ok());
  f.At(1'080'000);
  EXPECT_EQ(f.sink.Count(), 2u);  // Down now notified
}

TEST(Notifier, RetriesFailedSendsAndLogsSurviveRestart) {
  const std::string dir = ::testing::TempDir() + "/vigil_notify_" + std::to_string(::getpid());
  // A directory left by an earlier run with the same pid would hold its notification log
  // (and make the first notification look already sent).
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    Fixture f(kConfig, dir);
    ASSERT_TRUE(f.n->Start().ok());
    f.n->Stop();  // drive time by hand
    f.sink.fail_first = 2;
    f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'500'000)});
    f.At(1'010'000);
    EXPECT_EQ(f.sink.Count(), 1u);
  }
  Fixture g(kConfig, dir);
  ASSERT_TRUE(g.n->Start().ok());
  g.n->Stop();
  g.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'500'000)});
  g.At(1'020'000);
  EXPECT_EQ(g.sink.Count(), 0u);  // already told before the restart: no re-page
  std::filesystem::remove_all(dir);
}

TEST(Notifier, GroupWaitCountsFromTheAlertsStart) {
  Fixture f;
  // Received 300 ms after the evaluation that fired it: the group is due 10 s after the
  // alert's start, not 10 s after its arrival, and the delay is split into its stages.
  f.now = 1'000'300;
  f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'500'000)});
  f.At(1'009'999);
  EXPECT_EQ(f.sink.Count(), 0u);
  f.At(1'010'000);
  ASSERT_EQ(f.sink.Count(), 1u);
  auto* stages = f.registry.NewHistogramFamily("vigil_alert_first_notification_stage_seconds", "", {"stage"}, {});
  EXPECT_DOUBLE_EQ(stages->WithLabelValues({"evaluation"})->Sum(), 0.3);
  EXPECT_DOUBLE_EQ(stages->WithLabelValues({"group_wait"})->Sum(), 9.7);
  EXPECT_EQ(stages->WithLabelValues({"dispatch"})->Count(), 1u);
  EXPECT_EQ(stages->WithLabelValues({"send"})->Count(), 1u);

  // An alert that started more than group_wait ago opens a group that is due at once
  // (Alertmanager's rule), and a later alert that started earlier brings an unflushed
  // group's flush forward.
  f.n->Receive({MakeAlert("Late", "a", "page", 990'000, 1'500'000)});
  f.At(1'010'000);
  EXPECT_EQ(f.sink.Count(), 2u);
  f.n->Receive({MakeAlert("Pair", "a", "page", 1'010'000, 1'500'000)});
  f.At(1'015'000);
  f.n->Receive({MakeAlert("Pair", "b", "page", 1'006'000, 1'500'000)});
  f.At(1'016'000);
  ASSERT_EQ(f.sink.Count(), 3u);  // due at 1'016'000, not 1'020'000
  EXPECT_THAT(f.sink.posts[2].second, HasSubstr("\"instance\":\"b\""));
}

TEST(Notifier, ReloadKeepsGroupsOfUnchangedRoutesAndNeverRepages) {
  Fixture f;
  f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'500'000)});
  f.At(1'010'000);
  ASSERT_EQ(f.sink.Count(), 1u);
  // Same route and receiver, a new unrelated route and a changed repeat interval.
  f.n->ApplyConfig(MustConfig(R"(
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 10s
  group_interval: 1m
  repeat_interval: 2h
  routes:
    - matchers: [team=db]
      receiver: db
receivers:
  - name: hook
    webhook_configs: [{url: "http://sink/hook"}]
  - name: db
    webhook_configs: [{url: "http://sink/db"}]
)"));
  f.At(1'020'000);
  EXPECT_EQ(f.sink.Count(), 1u);  // no re-notification after the reload
  // The group kept its timer: a new alert joins and goes out at the group's next
  // interval (1'070'000), not after a fresh group_wait.
  f.n->Receive({MakeAlert("Down", "b", "page", 1'060'000, 1'500'000)});
  f.At(1'065'000);
  EXPECT_EQ(f.sink.Count(), 1u);
  f.At(1'070'000);
  ASSERT_EQ(f.sink.Count(), 2u);
  EXPECT_THAT(f.sink.posts[1].second, HasSubstr("\"instance\":\"b\""));
  EXPECT_EQ(f.registry.NewCounter("vigil_notifier_config_applied_total", "")->Value(), 2);

  // A changed grouping ends the old group; the alerts form a new one with a new key.
  f.n->ApplyConfig(MustConfig(R"(
route:
  receiver: hook
  group_by: [alertname, instance]
  group_wait: 10s
receivers:
  - name: hook
    webhook_configs: [{url: "http://sink/hook"}]
)"));
  f.At(1'075'000);
  EXPECT_EQ(f.sink.Count(), 2u);  // new groups wait their group_wait
  f.At(1'085'000);
  EXPECT_EQ(f.sink.Count(), 4u);  // one per instance
}

TEST(Notifier, ADeadReceiverNeverBlocksTheOthers) {
  constexpr const char* kConfigSlowAndFast = R"(
route:
  receiver: slow
  group_wait: 1s
  routes:
    - {receiver: slow, continue: true}
    - {receiver: fast}
receivers:
  - name: slow
    webhook_configs: [{url: "http://dead/hook"}]
  - name: fast
    webhook_configs: [{url: "http://sink/fast"}]
)";
  Fixture f(kConfigSlowAndFast);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> dead_calls{0};
  NotifierOptions o;
  o.registry = &f.registry;
  o.now_ms = [&f] { return f.now; };
  o.initial_backoff_ms = 1;
  o.http_post = [&](const std::string& url, const std::string& body) -> absl::Status {
    if (url == "http://dead/hook") {
      ++dead_calls;
      released.wait();  // hangs like a receiver that never answers
      return absl::UnavailableError("timeout");
    }
    return f.sink.Post(url, body);
  };
  Notifier n(o, MustConfig(kConfigSlowAndFast));
  n.Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'500'000)});
  f.now = 1'002'000;
  n.Tick(f.now);
  // The fast receiver is told while the dead one still hangs (bounded wait, not a timing
  // assertion: it fails only if the fast send never happens).
  for (int i = 0; i < 500 && (f.sink.Count() == 0 || dead_calls.load() == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(f.sink.Count(), 1u);
  EXPECT_EQ(f.sink.posts[0].first, "http://sink/fast");
  EXPECT_EQ(dead_calls.load(), 1);
  release.set_value();
  n.Flush();
  // The dead one was retried with backoff and every attempt counted.
  EXPECT_EQ(dead_calls.load(), 5);
  EXPECT_EQ(f.registry.NewCounterFamily("vigil_notifications_failed_total", "", {"integration", "receiver"})
                ->WithLabelValues({"webhook", "slow"})
                ->Value(),
            5);
}

TEST(Notifier, RetriesAreCountedAndTemplateErrorsAreNotRetried) {
  Fixture f(R"(
route: {receiver: r, group_wait: 1s}
receivers:
  - name: r
    webhook_configs: [{url: "http://sink/hook"}]
    slack_configs: [{api_url: "http://sink/slack", text: '{{ template "absent" . }}'}]
)");
  f.sink.fail_first = 2;
  f.n->Receive({MakeAlert("Down", "a", "page", 1'000'000, 1'500'000)});
  f.At(1'002'000);
  auto* total = f.registry.NewCounterFamily("vigil_notifications_total", "", {"integration", "receiver"});
  auto* failed = f.registry.NewCounterFamily("vigil_notifications_failed_total", "", {"integration", "receiver"});
  EXPECT_EQ(total->WithLabelValues({"webhook", "r"})->Value(), 3);  // 2 failures, then success
  EXPECT_EQ(failed->WithLabelValues({"webhook", "r"})->Value(), 2);
  EXPECT_EQ(failed->WithLabelValues({"slack", "r"})->Value(), 1);  // one attempt, no retries
  ASSERT_EQ(f.sink.Count(), 1u);
  EXPECT_EQ(f.sink.posts[0].first, "http://sink/hook");
}

TEST(Notifier, MuteTimeIntervalsHoldNotificationsUntilTheyEnd) {
  Fixture f(R"(
route:
  receiver: r
  group_wait: 1s
  group_interval: 1m
  routes:
    - matchers: [severity=page]
      receiver: r
      mute_time_intervals: [weekend]
receivers:
  - name: r
    webhook_configs: [{url: "http://sink/hook"}]
time_intervals:
  - name: weekend
    time_intervals: [{weekdays: ['saturday', 'sunday']}]
)");
  const int64_t saturday = 1717243200000;  // 2024-06-01 12:00 UTC
  f.now = saturday;
  f.n->Receive({MakeAlert("Down", "a", "page", saturday, saturday + 3 * 86400'000)});
  f.At(saturday + 2000);
  EXPECT_EQ(f.sink.Count(), 0u);
  auto st = f.n->Alerts();
  ASSERT_EQ(st.size(), 1u);
  EXPECT_EQ(st[0].state, "suppressed");
  EXPECT_EQ(st[0].muted_by, std::vector<std::string>{"weekend"});
  const int64_t monday = saturday + 2 * 86400'000;
  f.At(monday);
  EXPECT_EQ(f.sink.Count(), 1u);
}

TEST(Notifier, BackwardTimeRangesAreRefused) {
  auto c = ParseConfig(R"(route: {receiver: r}
receivers: [{name: r}]
time_intervals:
  - name: weekend
    time_intervals: [{weekdays: ['saturday:sunday']}]
)",
                       "am.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("am.yml:5:33: weekday range 6:0 runs backwards"));
}

TEST(Notifier, SlackPagerDutyAndEmailPayloads) {
  Notification n;
  n.receiver = "r";
  n.status = "firing";
  n.group_key = "{}:{alertname=\"Down\"}";
  n.group_labels = model::Labels{{"alertname", "Down"}};
  n.alerts.push_back(MakeAlert("Down", "a", "page", 1'000'000));
  n.now_ms = 1'000'000;
  auto c = ParseConfig(R"(
route: {receiver: r}
receivers:
  - name: r
    slack_configs: [{api_url: "http://sink/slack", channel: "#ops"}]
    pagerduty_configs: [{routing_key: key, url: "http://sink/pd"}]
    email_configs: [{to: c@d, from: a@b, smarthost: "127.0.0.1:25"}]
)",
                       "t.yml");
  ASSERT_TRUE(c.ok()) << c.status();
  const Receiver& r = c->receivers[0];
  auto slack = SlackPayload(n, r.slacks[0]);
  ASSERT_TRUE(slack.ok()) << slack.status();
  EXPECT_THAT(*slack, HasSubstr("\"channel\":\"#ops\""));
  EXPECT_THAT(*slack, HasSubstr("\"title\":\"[FIRING:1] Down\""));
  EXPECT_THAT(*slack, HasSubstr("\"color\":\"danger\""));
  EXPECT_THAT(*slack, HasSubstr("\"username\":\"Vigil\""));
  auto pd = PagerDutyPayload(n, r.pagerduties[0]);
  ASSERT_TRUE(pd.ok()) << pd.status();
  EXPECT_THAT(*pd, HasSubstr("\"event_action\":\"trigger\""));
  EXPECT_THAT(*pd, HasSubstr("\"routing_key\":\"key\""));
  EXPECT_THAT(*pd, HasSubstr("\"severity\":\"error\""));
  EXPECT_THAT(*pd, HasSubstr("\"summary\":\"[FIRING:1] Down\""));
  EXPECT_THAT(*pd, HasSubstr("\"num_firing\":\"1\""));
  auto mail = EmailMessage(n, r.emails[0]);
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_THAT(*mail, HasSubstr("Subject: [FIRING:1] Down\r\n"));
  EXPECT_THAT(*mail, HasSubstr("Content-Type: text/html; charset=UTF-8\r\n"));
  EXPECT_EQ(Rfc3339(1'000'123), "1970-01-01T00:16:40.123Z");
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:16:40.123Z"), 1'000'123);
  EXPECT_EQ(*ParseRfc3339("1970-01-01T01:16:40+01:00"), 1'000'000);
}

}  // namespace
}  // namespace vigil::notify
