// Cost of building each receiver's notification (the templates run on the sender thread,
// between a group's flush and its request), for groups of 1, 10 and 100 alerts.
#include <benchmark/benchmark.h>

#include "fmt/format.h"
#include "notify/config.h"
#include "notify/notifier.h"

namespace vigil::notify {
namespace {

constexpr const char* kConfig = R"(
route: {receiver: all}
receivers:
  - name: all
    webhook_configs: [{url: "http://127.0.0.1:1/hook"}]
    slack_configs: [{api_url: "http://127.0.0.1:1/slack", channel: "#ops"}]
    pagerduty_configs: [{routing_key: key, url: "http://127.0.0.1:1/pd"}]
    email_configs: [{to: ops@example.org, from: vigil@example.org, smarthost: "127.0.0.1:1"}]
)";

const Receiver& TheReceiver() {
  static const Config config = *ParseConfig(kConfig, "bench.yml");
  return config.receivers[0];
}

Notification MakeNotification(int alerts) {
  Notification n;
  n.receiver = "all";
  n.status = "firing";
  n.group_labels = model::Labels{{"alertname", "HighLatency"}};
  n.external_url = "http://vigil.example";
  n.group_key = "{}:{alertname=\"HighLatency\"}";
  n.now_ms = 1'795'000'000'000;
  for (int i = 0; i < alerts; ++i) {
    Alert a;
    a.labels = model::Labels{{"alertname", "HighLatency"}, {"instance", fmt::format("host-{}:9100", i)},
                             {"job", "node"}, {"severity", "page"}};
    a.annotations = model::Labels{{"summary", fmt::format("host-{} p99 latency is 1.2s", i)},
                                  {"description", "Latency has been above 1s for 5 minutes."}};
    a.starts_at_ms = n.now_ms - 60'000;
    a.ends_at_ms = n.now_ms + 240'000;
    a.generator_url = "http://vigil.example/graph?g0.expr=latency%20%3E%201";
    n.alerts.push_back(std::move(a));
  }
  n.common_labels = model::Labels{{"alertname", "HighLatency"}, {"job", "node"}, {"severity", "page"}};
  return n;
}

void BM_Webhook(benchmark::State& state) {
  const Notification n = MakeNotification(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(WebhookPayload(n));
}
BENCHMARK(BM_Webhook)->Arg(1)->Arg(10)->Arg(100);

void BM_Slack(benchmark::State& state) {
  const Notification n = MakeNotification(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(SlackPayload(n, TheReceiver().slacks[0]));
}
BENCHMARK(BM_Slack)->Arg(1)->Arg(10)->Arg(100);

void BM_PagerDuty(benchmark::State& state) {
  const Notification n = MakeNotification(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(PagerDutyPayload(n, TheReceiver().pagerduties[0]));
}
BENCHMARK(BM_PagerDuty)->Arg(1)->Arg(10)->Arg(100);

void BM_Email(benchmark::State& state) {
  const Notification n = MakeNotification(static_cast<int>(state.range(0)));
  for (auto _ : state) benchmark::DoNotOptimize(EmailMessage(n, TheReceiver().emails[0]));
}
BENCHMARK(BM_Email)->Arg(1)->Arg(10)->Arg(100);

}  // namespace
}  // namespace vigil::notify
