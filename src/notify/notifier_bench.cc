// The notifier's per-pass costs with many active alerts: a dispatcher pass when no group is
// due (paid on every wake-up before any flush) and receiving one alert (paid by every
// evaluation that sends alerts, under the notifier's lock).
#include <benchmark/benchmark.h>

#include "fmt/format.h"
#include "notify/config.h"
#include "notify/notifier.h"

namespace vigil::notify {
namespace {

constexpr int64_t kNow = 1'000'000;

Alert MakeAlert(int i) {
  Alert a;
  a.labels = model::Labels{{"alertname", "A"}, {"group", fmt::format("g{}", i % 100)}, {"instance", fmt::format("i{}", i)}};
  a.starts_at_ms = kNow;
  return a;
}

// A notifier holding `alerts` active alerts in 100 groups, none of them due.
std::unique_ptr<Notifier> Loaded(int alerts) {
  NotifierOptions o;
  o.http_post = [](const std::string&, const std::string&) { return absl::OkStatus(); };
  o.now_ms = [] { return kNow; };
  auto n = std::make_unique<Notifier>(
      o, *ParseConfig("route: {receiver: r, group_by: [group], group_wait: 10s, group_interval: 1h}\n"
                      "receivers: [{name: r, webhook_configs: [{url: 'http://127.0.0.1:1/'}]}]\n",
                      "bench.yml"));
  std::vector<Alert> as;
  for (int i = 0; i < alerts; ++i) as.push_back(MakeAlert(i));
  n->Receive(as);
  return n;
}

void BM_TickNothingDue(benchmark::State& state) {
  auto n = Loaded(static_cast<int>(state.range(0)));
  for (auto _ : state) n->Tick(kNow + 1000);
}
BENCHMARK(BM_TickNothingDue)->Arg(100)->Arg(1000)->Arg(10000);

void BM_ReceiveOneAlert(benchmark::State& state) {
  auto n = Loaded(static_cast<int>(state.range(0)));
  const std::vector<Alert> one{MakeAlert(0)};
  for (auto _ : state) n->Receive(one);
}
BENCHMARK(BM_ReceiveOneAlert)->Arg(100)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace vigil::notify
