// WAL micro benchmarks: the record codec on a commit-sized batch, and Log throughput.
//   build/<dir>/src/storage/wal/wal_bench
#include <stdlib.h>

#include <cmath>
#include <random>

#include "benchmark/benchmark.h"
#include "storage/wal/records.h"
#include "storage/wal/wal.h"

namespace vigil::storage::wal {
namespace {

std::vector<RefSample> Batch(size_t n) {
  std::mt19937_64 rng(1);
  std::vector<RefSample> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = {100000 + i * 3, 1700000000000 + static_cast<int64_t>(rng() % 1000),
            static_cast<double>(rng() % 1000000) / 10};
  }
  return v;
}

// One remote_write commit shaped like bench/gen_workload.py's: consecutive refs, one
// timestamp; ~45% zeros and constants, integer counters and gauges, 2- and 9-decimal
// values, and some values that are no short decimal at all.
std::vector<RefSample> NodeBatch(size_t n) {
  std::mt19937_64 rng(2);
  std::vector<RefSample> v(n);
  for (size_t i = 0; i < n; ++i) {
    double x;
    switch (rng() % 10) {
      case 0: case 1: case 2: case 3: x = i % 7 == 0 ? 1.0 : 0.0; break;
      case 4: case 5: x = static_cast<double>(rng() % 10000000000); break;
      case 6: x = static_cast<double>(rng() % 100000000) / 100; break;
      case 7: x = static_cast<double>(rng() % 10000000) / 1e9; break;
      case 8: x = static_cast<double>(rng() % 1000) / 10; break;
      default: x = std::ldexp(static_cast<double>(rng() >> 11), -40); break;
    }
    v[i] = {100000 + i, 1700000000000, x};
  }
  return v;
}

// arg: 0 = Batch (random refs, times and 1-decimal values), 1 = NodeBatch.
std::vector<RefSample> BenchBatch(const benchmark::State& state) {
  return state.range(0) == 0 ? Batch(2000) : NodeBatch(2000);
}

void BM_EncodeSamples2000(benchmark::State& state) {
  std::vector<RefSample> batch = BenchBatch(state);
  std::string buf;
  for (auto _ : state) {
    EncodeSamples(batch, &buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(state.iterations() * 2000);
  state.counters["bytes_per_sample"] = static_cast<double>(buf.size()) / 2000;
}
BENCHMARK(BM_EncodeSamples2000)->Arg(0)->Arg(1);

// The v1 encoding, for comparison (raw values).
void BM_EncodeSamplesV1_2000(benchmark::State& state) {
  std::vector<RefSample> batch = BenchBatch(state);
  std::string buf;
  for (auto _ : state) {
    EncodeSamplesV1(batch, &buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(state.iterations() * 2000);
  state.counters["bytes_per_sample"] = static_cast<double>(buf.size()) / 2000;
}
BENCHMARK(BM_EncodeSamplesV1_2000)->Arg(0)->Arg(1);

void BM_DecodeSamples2000(benchmark::State& state) {
  std::string buf;
  EncodeSamples(BenchBatch(state), &buf);
  std::vector<RefSample> out;
  for (auto _ : state) {
    if (!DecodeSamples(buf, &out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 2000);
}
BENCHMARK(BM_DecodeSamples2000)->Arg(0)->Arg(1);

void BM_DecodeSamplesV1_2000(benchmark::State& state) {
  std::string buf;
  EncodeSamplesV1(BenchBatch(state), &buf);
  std::vector<RefSample> out;
  for (auto _ : state) {
    if (!DecodeSamples(buf, &out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 2000);
}
BENCHMARK(BM_DecodeSamplesV1_2000)->Arg(0)->Arg(1);

// Log of 2000-sample records; arg 0 = in-memory fs, 1 = /dev/shm (tmpfs), 2 = /tmp (disk).
// Threads model concurrent committers.
void BM_Log(benchmark::State& state, SyncPolicy policy) {
  static std::unique_ptr<fs::FileSystem> mem;
  static std::unique_ptr<Writer> writer;
  static std::string dir;
  if (state.thread_index() == 0) {
    fs::FileSystem* fs;
    if (state.range(0) == 0) {
      mem = fs::NewMemFileSystem();
      fs = mem.get();
      dir = "/bench/wal";
    } else {
      fs = fs::Posix();
      std::string tmpl = state.range(0) == 1 ? "/dev/shm/vigil_wal_bench.XXXXXX"
                                             : "/tmp/vigil_wal_bench.XXXXXX";
      if (mkdtemp(tmpl.data()) == nullptr) state.SkipWithError("mkdtemp failed");
      dir = tmpl;
    }
    auto w = Writer::Open(fs, dir, {.sync = policy, .sync_interval_ms = 100});
    if (!w.ok()) state.SkipWithError("open failed");
    writer = std::move(*w);
  }
  std::string rec;
  EncodeSamples(Batch(2000), &rec);
  for (auto _ : state) {
    if (!writer->Log(rec).ok()) state.SkipWithError("log failed");
  }
  state.SetItemsProcessed(state.iterations() * 2000);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(rec.size()));
  if (state.thread_index() == 0) {
    state.counters["fsyncs"] = static_cast<double>(writer->stats().fsyncs);
    (void)writer->Close();
    writer.reset();
    if (state.range(0) != 0) (void)fs::Posix()->RemoveAll(dir);
    mem.reset();
  }
}
BENCHMARK_CAPTURE(BM_Log, grouped, SyncPolicy::kGrouped)->Arg(0)->Arg(1)->Arg(2)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_Log, always, SyncPolicy::kAlways)->Arg(1)->Arg(2)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace
}  // namespace vigil::storage::wal
