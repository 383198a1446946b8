// WAL micro benchmarks: the record codec on a commit-sized batch, and Log throughput.
//   build/<dir>/src/storage/wal/wal_bench
#include <stdlib.h>

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

void BM_EncodeSamples2000(benchmark::State& state) {
  std::vector<RefSample> batch = Batch(2000);
  std::string buf;
  for (auto _ : state) {
    EncodeSamples(batch, &buf);
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetItemsProcessed(state.iterations() * 2000);
  state.counters["bytes_per_sample"] = static_cast<double>(buf.size()) / 2000;
}
BENCHMARK(BM_EncodeSamples2000);

void BM_DecodeSamples2000(benchmark::State& state) {
  std::string buf;
  EncodeSamples(Batch(2000), &buf);
  std::vector<RefSample> out;
  for (auto _ : state) {
    if (!DecodeSamples(buf, &out).ok()) state.SkipWithError("decode failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * 2000);
}
BENCHMARK(BM_DecodeSamples2000);

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
