// Engine micro benchmarks on an in-memory store: the dashboard-style queries of the issue's
// speed goals (rate/sum by over an hour at a 60s step), over 1000 series scraped every 15s.
//
//   build/<dir>/src/promql/promql_engine_bench
#include <string>

#include "benchmark/benchmark.h"
#include "promql/engine.h"
#include "promql/testing/mem_queryable.h"

namespace vigil::promql {
namespace {

constexpr int64_t kHour = 3600 * 1000;

testing::MemStorage& Data() {
  static auto* db = [] {
    auto* s = new testing::MemStorage();
    for (int i = 0; i < 1000; ++i) {
      model::Labels l({{"__name__", "http_requests_total"},
                       {"instance", "host-" + std::to_string(i % 50)},
                       {"handler", "/h" + std::to_string(i / 50)},
                       {"job", "api"}});
      double v = 0;
      for (int64_t t = 0; t <= 2 * kHour; t += 15'000) {
        v += (i % 7) + 1;
        s->Add(l, t, v);
      }
    }
    return s;
  }();
  return *db;
}

// state.range(0) == 0 evaluates step by step (EngineOptions::batch_eval off), to compare
// the two paths on one query.
void RunRange(benchmark::State& state, const char* query) {
  EngineOptions opts;
  opts.batch_eval = state.range(0) != 0;
  Engine engine(opts);
  auto& db = Data();
  for (auto _ : state) {
    auto r = engine.RangeQuery(db, "default", query, kHour, 2 * kHour, 60'000);
    if (!r.ok()) state.SkipWithError(std::string(r.status().message()).c_str());
    benchmark::DoNotOptimize(r);
  }
}

void BM_SumByRate(benchmark::State& s) {
  RunRange(s, "sum by (instance) (rate(http_requests_total[5m]))");
}
void BM_Rate(benchmark::State& s) { RunRange(s, "rate(http_requests_total[5m])"); }
void BM_Selector(benchmark::State& s) { RunRange(s, "http_requests_total"); }
void BM_BinaryOp(benchmark::State& s) {
  RunRange(s, "http_requests_total / on(instance, handler, job) http_requests_total");
}
void BM_AvgOfRatio(benchmark::State& s) {
  RunRange(s, "1 - avg by (instance) (http_requests_total / on(instance, handler, job) "
              "group_left sum by (instance, handler, job) (http_requests_total))");
}
void BM_QuantileOverTime(benchmark::State& s) {
  RunRange(s, "quantile_over_time(0.9, http_requests_total[10m])");
}

// Arg: 1 = batch path (the default), 0 = step by step.
BENCHMARK(BM_SumByRate)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Rate)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Selector)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BinaryOp)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AvgOfRatio)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_QuantileOverTime)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::promql
