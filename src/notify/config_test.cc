#include "notify/config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::notify {
namespace {

TEST(NotifyConfig, ParsesRouteTreeReceiversInhibitionAndTimeIntervals) {
  auto c = ParseConfig(R"(
global:
  resolve_timeout: 1m
  smtp_smarthost: 127.0.0.1:2525
  smtp_from: vigil@example.org
route:
  receiver: default
  group_by: [alertname]
  group_wait: 1s
  routes:
    - matchers: ['severity="page"', team=~"db|web"]
      receiver: pager
      continue: true
      mute_time_intervals: [weekends]
    - match: {team: ops}
      receiver: mail
      group_by: ['...']
receivers:
  - name: default
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
  - name: pager
    pagerduty_configs: [{routing_key: abc, url: "http://127.0.0.1:1/pd"}]
  - name: mail
    email_configs: [{to: ops@example.org, require_tls: false}]
inhibit_rules:
  - source_matchers: [severity=critical]
    target_matchers: [severity=warning]
    equal: [instance]
time_intervals:
  - name: weekends
    time_intervals: [{weekdays: ['saturday', 'sunday']}]
)",
                       "am.yml");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->resolve_timeout_ms, 60'000);
  EXPECT_EQ(c->route.receiver, "default");
  ASSERT_EQ(c->route.routes.size(), 2u);
  EXPECT_EQ(c->route.routes[0].group_wait_ms, 1000);  // inherited
  EXPECT_TRUE(c->route.routes[0].cont);
  EXPECT_EQ(c->route.routes[0].matchers.size(), 2u);
  EXPECT_TRUE(c->route.routes[1].group_by_all);
  EXPECT_EQ(c->receivers[2].emails[0].smarthost, "127.0.0.1:2525");
  EXPECT_FALSE(c->receivers[2].emails[0].require_tls);
  ASSERT_EQ(c->inhibit_rules.size(), 1u);
  // 2024-06-01 was a Saturday, 2024-06-03 a Monday.
  EXPECT_TRUE(c->time_intervals[0].Contains(1717243200000));
  EXPECT_FALSE(c->time_intervals[0].Contains(1717416000000));
}

TEST(NotifyConfig, ErrorsNamePosition) {
  auto c = ParseConfig("route:\n  receiver: nope\nreceivers:\n  - name: a\n", "am.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), ::testing::HasSubstr("undefined receiver \"nope\""));
  c = ParseConfig("route:\n  receiver: a\n  group_wiat: 1s\nreceivers:\n  - name: a\n", "am.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), ::testing::HasSubstr("am.yml:3:3: field group_wiat not found"));
}

TEST(NotifyConfig, ParsesMatchersAndAlertmanagersSection) {
  auto m = ParseMatcher("job=~\"a|b\"");
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->Matches("b"));
  EXPECT_FALSE(ParseMatcher("=x").ok());
  auto u = ParseAlertmanagersSection(
      "alertmanagers:\n  - static_configs:\n      - targets: ['127.0.0.1:9093']\n    path_prefix: /am/\n");
  ASSERT_TRUE(u.ok());
  ASSERT_EQ(u->size(), 1u);
  EXPECT_EQ((*u)[0], "http://127.0.0.1:9093/am");
}

}  // namespace
}  // namespace vigil::notify
