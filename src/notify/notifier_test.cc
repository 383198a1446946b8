#include "notify/notifier.h"

#include <filesystem>
#include <mutex>
#include <unistd.h>

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
  std::unique_ptr<Notifier> n;
  explicit Fixture(const char* yaml = kConfig, std::string dir = "") {
    NotifierOptions o;
    o.data_dir = dir;
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
}

TEST(Notifier, SlackPagerDutyAndEmailPayloads) {
  Notification n;
  n.receiver = "r";
  n.status = "firing";
  n.group_key = "{}:{alertname=\"Down\"}";
  n.group_labels = model::Labels{{"alertname", "Down"}};
  n.alerts.push_back(MakeAlert("Down", "a", "page", 1'000'000));
  n.now_ms = 1'000'000;
  SlackConfig sc;
  sc.channel = "#ops";
  EXPECT_THAT(SlackPayload(n, sc), HasSubstr("\"channel\":\"#ops\""));
  EXPECT_THAT(SlackPayload(n, sc), HasSubstr("\"title\":\"[FIRING:1] Down\""));
  PagerDutyConfig pc;
  pc.routing_key = "key";
  const std::string pd = PagerDutyPayload(n, pc);
  EXPECT_THAT(pd, HasSubstr("\"event_action\":\"trigger\""));
  EXPECT_THAT(pd, HasSubstr("\"routing_key\":\"key\""));
  EXPECT_THAT(pd, HasSubstr("\"severity\":\"error\""));
  EmailConfig ec;
  ec.from = "a@b";
  ec.to = "c@d";
  EXPECT_THAT(EmailMessage(n, ec), HasSubstr("Subject: [FIRING:1] Down\r\n"));
  EXPECT_EQ(Rfc3339(1'000'123), "1970-01-01T00:16:40.123Z");
  EXPECT_EQ(*ParseRfc3339("1970-01-01T00:16:40.123Z"), 1'000'123);
  EXPECT_EQ(*ParseRfc3339("1970-01-01T01:16:40+01:00"), 1'000'000);
}

}  // namespace
}  // namespace vigil::notify
