// DB-level benchmarks: ingest through the real WAL, and WAL replay at startup for the
// default benchmark workload shape (100k series x 240 samples at 15 s).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/log.h"
#include "benchmark/benchmark.h"
#include "fs/file_system.h"
#include "storage/db.h"

namespace vigil::storage {
namespace {

std::vector<model::Labels> MakeSeries(int n) {
  std::vector<model::Labels> out;
  out.reserve(n);
  for (int i = 0; i < n; i++) {
    out.push_back(model::Labels{{"__name__", "node_cpu_seconds_total"},
                                {"cpu", std::to_string(i % 8)},
                                {"instance", "host-" + std::to_string(i / 64) + ":9100"},
                                {"job", "node"},
                                {"mode", std::to_string(i / 8 % 8)}});
  }
  return out;
}

std::string TempDir() {
  char tmpl[] = "/tmp/vigil-db-bench-XXXXXX";
  char* d = mkdtemp(tmpl);
  return d == nullptr ? "/tmp/vigil-db-bench" : d;
}

Options BenchOptions(const std::string& dir) {
  Options o;
  o.path = dir;
  o.background_compaction = false;
  o.wal_sync = WalSync::kGrouped;
  o.retention_ms = 0;
  return o;
}

// Append+Commit of 2000-series batches of existing series through the WAL on disk.
void BM_DBIngest(benchmark::State& state) {
  log::SetLevel("warn");
  std::string dir = TempDir();
  auto db = DB::Open(BenchOptions(dir));
  if (!db.ok()) {
    state.SkipWithError("open");
    return;
  }
  auto series = MakeSeries(2000);
  auto app = (*db)->NewAppender(kDefaultTenant);
  int64_t t = 1700000000000;
  for (auto _ : state) {
    t += 15000;
    for (const auto& l : series) benchmark::DoNotOptimize(app->Append(0, l, t, 1.5));
    if (!app->Commit().ok()) state.SkipWithError("commit");
  }
  state.SetItemsProcessed(state.iterations() * 2000);
  (void)(*db)->Close();
  (void)fs::Posix()->RemoveAll(dir);
}
BENCHMARK(BM_DBIngest);

// Startup replay of a WAL holding `series` x 240 samples (logged in 2000-sample commits).
void BM_ReplayWal(benchmark::State& state) {
  log::SetLevel("warn");
  const int n = static_cast<int>(state.range(0));
  std::string dir = TempDir();
  {
    auto db = DB::Open(BenchOptions(dir));
    if (!db.ok()) {
      state.SkipWithError("open");
      return;
    }
    auto series = MakeSeries(n);
    auto app = (*db)->NewAppender(kDefaultTenant);
    std::vector<SeriesRef> refs(series.size());
    for (int i = 0; i < 240; i++) {
      for (int s = 0; s < n; s++) {
        refs[s] = *app->Append(refs[s], series[s], 1700000000000 + i * 15000, i * 0.25 + s);
        if (s % 2000 == 1999 && !app->Commit().ok()) state.SkipWithError("commit");
      }
      if (!app->Commit().ok()) state.SkipWithError("commit");
    }
    (void)(*db)->Close();
  }
  for (auto _ : state) {
    auto db = DB::Open(BenchOptions(dir));
    if (!db.ok()) state.SkipWithError("reopen");
    state.PauseTiming();
    if (db.ok() && (*db)->GetStats().samples_appended != int64_t{n} * 240) {
      state.SkipWithError("replay lost samples");
    }
    db = absl::InternalError("closed");
    state.ResumeTiming();
  }
  state.SetItemsProcessed(state.iterations() * n * 240);
  (void)fs::Posix()->RemoveAll(dir);
}
BENCHMARK(BM_ReplayWal)->Arg(100000)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vigil::storage
