// Micro benchmarks of the head's write path: the ingest steady state (2000-series batches
// for series that already exist) and series creation.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "storage/head/head.h"

namespace vigil::storage::head {
namespace {

std::vector<model::Labels> MakeSeries(int n, int offset = 0) {
  std::vector<model::Labels> out;
  out.reserve(n);
  for (int i = 0; i < n; i++) {
    int id = i + offset;
    out.push_back(model::Labels{{"__name__", "node_cpu_seconds_total"},
                                {"cpu", std::to_string(id % 8)},
                                {"instance", "host-" + std::to_string(id / 64) + ":9100"},
                                {"job", "node"},
                                {"mode", std::to_string(id / 8 % 8)}});
  }
  return out;
}

// Existing series, appended by label set (ref 0) as a remote_write request does.
void BM_AppendCommitExistingSeriesByLabels(benchmark::State& state) {
  Head h({});
  auto series = MakeSeries(2000);
  auto app = h.NewAppender(kDefaultTenant);
  int64_t t = 0;
  for (auto _ : state) {
    t += 15000;
    for (const auto& l : series) benchmark::DoNotOptimize(app->Append(0, l, t, 1.5));
    if (!app->Commit().ok()) state.SkipWithError("commit");
  }
  state.SetItemsProcessed(state.iterations() * 2000);
}
BENCHMARK(BM_AppendCommitExistingSeriesByLabels);

// Existing series, appended by cached ref (scrape loops keep refs).
void BM_AppendCommitExistingSeriesByRef(benchmark::State& state) {
  Head h({});
  auto series = MakeSeries(2000);
  auto app = h.NewAppender(kDefaultTenant);
  std::vector<SeriesRef> refs;
  for (const auto& l : series) refs.push_back(*app->Append(0, l, 0, 1));
  (void)app->Commit();
  int64_t t = 0;
  for (auto _ : state) {
    t += 15000;
    for (size_t i = 0; i < series.size(); i++) {
      benchmark::DoNotOptimize(app->Append(refs[i], series[i], t, 1.5));
    }
    if (!app->Commit().ok()) state.SkipWithError("commit");
  }
  state.SetItemsProcessed(state.iterations() * 2000);
}
BENCHMARK(BM_AppendCommitExistingSeriesByRef);

void BM_CreateSeries(benchmark::State& state) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  int offset = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto series = MakeSeries(2000, offset);
    offset += 2000;
    state.ResumeTiming();
    for (const auto& l : series) benchmark::DoNotOptimize(app->Append(0, l, 1000, 1));
    if (!app->Commit().ok()) state.SkipWithError("commit");
  }
  state.SetItemsProcessed(state.iterations() * 2000);
}
BENCHMARK(BM_CreateSeries);

}  // namespace
}  // namespace vigil::storage::head
