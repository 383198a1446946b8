// Micro benchmarks of the head: the write path (the ingest steady state, 2000-series
// batches for series that already exist, and series creation) and a sorted Select.
#include <malloc.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <random>
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

// The remote_write steady state at the benchmark workload's scale: N series (arg) in
// 2000-series batches taken in turn, each series appended by ref without labels
// (AppendRef, as the ingester does for series it has seen). With 100k series the working
// set is far larger than the caches, which the 2000-series benchmarks above hide.
void BM_AppendRefCommitRotatingBatches(benchmark::State& state) {
  Head h({});
  const int n = static_cast<int>(state.range(0));
  auto series = MakeSeries(n);
  std::vector<SeriesRef> refs;
  {
    auto app = h.NewAppender(kDefaultTenant);
    for (const auto& l : series) refs.push_back(*app->Append(0, l, 0, 1));
    (void)app->Commit();
  }
  const int batches = n / 2000;
  int64_t t = 0;
  int b = 0;
  for (auto _ : state) {
    if (b == 0) t += 15000;
    auto app = h.NewAppender(kDefaultTenant);
    for (int i = b * 2000; i < (b + 1) * 2000; i++) {
      benchmark::DoNotOptimize(app->AppendRef(refs[i], t, 1.5 + (i & 3)));
    }
    if (!app->Commit().ok()) state.SkipWithError("commit");
    b = (b + 1) % batches;
  }
  state.SetItemsProcessed(state.iterations() * 2000);
}
BENCHMARK(BM_AppendRefCommitRotatingBatches)->Arg(2000)->Arg(100000);

// Encodes every commit into WAL records (as the DB's WalSink does) without writing them, to
// show the cost of the WAL encoding on the steady-state path.
class EncodingLogger final : public WalLogger {
 public:
  absl::Status LogCommit(std::span<const RefSeries> series,
                         std::span<const RefSample> samples) override {
    if (!series.empty()) wal::EncodeSeries(series, &series_buf_);
    wal::EncodeSamples(samples, &samples_buf_);
    benchmark::DoNotOptimize(samples_buf_.data());
    return absl::OkStatus();
  }
  absl::Status LogTombstones(std::span<const RefTombstone>) override { return absl::OkStatus(); }

 private:
  std::string series_buf_, samples_buf_;
};

void BM_AppendCommitExistingSeriesByLabelsWithWalEncoding(benchmark::State& state) {
  EncodingLogger log;
  HeadOptions o;
  o.wal = &log;
  Head h(o);
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
BENCHMARK(BM_AppendCommitExistingSeriesByLabelsWithWalEncoding);

int64_t ResidentBytes() {
  std::ifstream f("/proc/self/statm");
  int64_t size = 0, resident = 0;
  f >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

// A value generator shaped like node_exporter data (see shared/bench/gen_workload.py):
// constants, counters with 2-decimal increments, 4 KiB-step gauges, 9-decimal noise.
class NodeLikeValues {
 public:
  explicit NodeLikeValues(int series) : state_(series), rng_(42) {
    for (int s = 0; s < series; s++) state_[s] = static_cast<double>(rng_() % 1000000);
  }
  double Next(int s) {
    double& v = state_[s];
    switch (s % 20) {
      case 0: case 1: case 2: case 3:  // constants
        return v;
      case 16: case 17: case 18:  // gauges in 4 KiB steps
        v += 4096.0 * static_cast<double>(static_cast<int>(rng_() % 5) - 2);
        return v;
      case 19:  // noisy durations
        return std::round((0.08 + static_cast<double>(rng_() % 1000) * 1e-5) * 1e9) / 1e9;
      default:  // counters, cpu seconds with 2 decimals
        v = std::round((v + 0.15 * static_cast<double>(s % 7 + 1) *
                                (1 + static_cast<double>(rng_() % 60) / 100)) * 100) / 100;
        return v;
    }
  }

 private:
  std::vector<double> state_;
  std::mt19937_64 rng_;
};

// Resident memory per series at 100k series x 240 samples (15s apart, node_exporter-like
// values), the point of comparison with VictoriaMetrics' ~1.8 KB/series. The label sets
// are built before the first measurement so only the head's memory is counted.
void BM_MemoryPerSeries(benchmark::State& state) {
  for (auto _ : state) {
    const int kSeries = static_cast<int>(state.range(0));
    auto series = MakeSeries(kSeries);
    NodeLikeValues values(kSeries);
    std::vector<SeriesRef> refs(series.size());
    int64_t before = ResidentBytes();
    size_t heap_before = mallinfo2().uordblks;
    auto h = std::make_unique<Head>(HeadOptions{});
    auto app = h->NewAppender(kDefaultTenant);
    for (int i = 0; i < 240; i++) {
      for (int s = 0; s < kSeries; s++) {
        auto r = app->Append(refs[s], series[s], 1700000000000 + i * 15000, values.Next(s));
        refs[s] = *r;
      }
      if (!app->Commit().ok()) state.SkipWithError("commit");
    }
    int64_t peak = ResidentBytes();
    h->RecodeChunks();  // what the DB's background loop does with completed chunks
    malloc_trim(0);     // give freed pages back so RSS shows what is live
    int64_t after = ResidentBytes();
    state.counters["rss_before_recode_bytes_per_series"] = static_cast<double>(peak - before) / kSeries;
    state.counters["heap_in_use_bytes_per_series"] =
        static_cast<double>(mallinfo2().uordblks - heap_before) / kSeries;
    state.counters["rss_bytes_per_series"] = static_cast<double>(after - before) / kSeries;
    state.counters["accounted_bytes_per_series"] =
        static_cast<double>(h->MemoryBytes()) / kSeries;
    size_t chunk_bytes = 0;
    for (const auto& d : h->SeriesInRange(model::kMinTime, model::kMaxTime)) {
      for (const auto& c : d->chunks) chunk_bytes += d->Bytes(c).size();
    }
    state.counters["chunk_bytes_per_sample"] =
        static_cast<double>(chunk_bytes) / (static_cast<double>(kSeries) * 240);
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_MemoryPerSeries)->Arg(100000)->Iterations(1)->Unit(benchmark::kMillisecond);

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

// Fills a head with n node_exporter-like series spread over `metrics` metric names (in an
// order unlike their labels order), then times a sorted Select by `m`, each series answered
// by its newest sample: the cost of selecting, pinning, sorting and visiting the series,
// without decoding.
void SelectNewest(benchmark::State& state, int n, int metrics, const model::Matcher& m,
                  int64_t want) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  std::vector<model::Labels> series = MakeSeries(n);
  for (int i = 0; i < n; i++) {
    std::vector<model::Label> l = series[i].vec();
    l[0].value = "node_metric_" + std::to_string(i % metrics);
    if (!app->Append(0, model::Labels(l), 1000, 1).ok()) state.SkipWithError("append");
  }
  if (!app->Commit().ok()) state.SkipWithError("commit");
  SelectHints hints;
  hints.start = 1;
  hints.end = 2000;
  hints.newest_only = true;
  const model::Matchers ms = {m};
  for (auto _ : state) {
    auto q = h.NewQuerier(kDefaultTenant, 1, 2000);
    auto set = q->Select(true, hints, ms);
    int64_t seen = 0;
    while (set->Next()) seen++;
    if (seen != want) state.SkipWithError("series missing");
  }
  state.SetItemsProcessed(state.iterations() * want);
}

// Every series of 16 metrics, by a regex over the metric name.
void BM_SelectSortedNewest(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  SelectNewest(state, n, 16,
               model::Matcher::MustMake(model::MatchType::kRegexMatch, "__name__", "node_.+"), n);
}
BENCHMARK(BM_SelectSortedNewest)->Arg(2000)->Arg(100000)->Unit(benchmark::kMillisecond);

// One metric's 100 series out of a head of n series (n / 100 metrics): what a small
// dashboard query pays to find its series in a large head.
void BM_SelectOneMetric(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  SelectNewest(state, n, n / 100,
               model::Matcher::MustMake(model::MatchType::kEqual, "__name__", "node_metric_7"),
               100);
}
BENCHMARK(BM_SelectOneMetric)->Arg(100000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace vigil::storage::head
