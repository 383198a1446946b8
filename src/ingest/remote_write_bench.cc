// Remote write decode cost per sample on a request shaped like the benchmark workload
// (/work/shared/bench/gen_workload.py): 2000 node_exporter-like series, one sample each,
// labels __name__, cpu/device/mode-style extras, dc, instance, job.
//
//   BM_SnappyDecompress     snappy only
//   BM_DecodeZeroCopy       Vigil's reader over the decompressed bytes
//   BM_DecodeLibprotobuf    libprotobuf ParseFromString, for comparison
//   BM_IngestNullStorage    the whole ingester (snappy, decode, validate, ref cache) into
//                           an Appender that does nothing: ingest's share of the budget
#include <benchmark/benchmark.h>

#include <string>

#include "fmt/format.h"
#include "ingest/remote_write.h"
#include "ingest/remote_write_decoder.h"
#include "remote_write.pb.h"
#include "snappy.h"

namespace vigil::ingest {
namespace {

constexpr int kSeries = 2000;

std::string MakeRequest(int64_t t) {
  prometheus::WriteRequest req;
  const char* metrics[] = {"node_cpu_seconds_total", "node_network_receive_bytes_total",
                           "node_disk_written_bytes_total", "node_memory_MemAvailable_bytes",
                           "node_filesystem_avail_bytes"};
  for (int i = 0; i < kSeries; ++i) {
    auto* ts = req.add_timeseries();
    auto add = [&](std::string n, std::string v) {
      auto* l = ts->add_labels();
      l->set_name(std::move(n));
      l->set_value(std::move(v));
    };
    add("__name__", metrics[i % 5]);
    add("cpu", std::to_string(i % 8));
    add("dc", fmt::format("dc-{}", i % 3));
    add("instance", fmt::format("host-{:05}:9100", i / 20));
    add("job", "node");
    add("mode", i % 2 ? "user" : "system");
    auto* s = ts->add_samples();
    s->set_value(12345.67 + i);
    s->set_timestamp(t);
  }
  return req.SerializeAsString();
}

std::string Compress(const std::string& raw) {
  std::string out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

void BM_SnappyDecompress(benchmark::State& state) {
  std::string c = Compress(MakeRequest(1'700'000'000'000));
  std::string out;
  for (auto _ : state) {
    benchmark::DoNotOptimize(SnappyDecompress(c, 1 << 30, &out));
  }
  state.SetItemsProcessed(state.iterations() * kSeries);
}
BENCHMARK(BM_SnappyDecompress);

void BM_DecodeZeroCopy(benchmark::State& state) {
  std::string raw = MakeRequest(1'700'000'000'000);
  WriteRequestView v;
  for (auto _ : state) {
    benchmark::DoNotOptimize(DecodeWriteRequest(raw, &v));
  }
  state.SetItemsProcessed(state.iterations() * kSeries);
}
BENCHMARK(BM_DecodeZeroCopy);

void BM_DecodeLibprotobuf(benchmark::State& state) {
  std::string raw = MakeRequest(1'700'000'000'000);
  for (auto _ : state) {
    prometheus::WriteRequest req;
    benchmark::DoNotOptimize(req.ParseFromString(raw));
  }
  state.SetItemsProcessed(state.iterations() * kSeries);
}
BENCHMARK(BM_DecodeLibprotobuf);

class NullAppender : public storage::Appender {
 public:
  absl::StatusOr<storage::SeriesRef> Append(storage::SeriesRef ref, const model::Labels& labels,
                                            int64_t, double) override {
    return ref != 0 ? ref : labels.size();
  }
  absl::Status Commit() override { return absl::OkStatus(); }
  void Rollback() override {}
};

class NullDb : public storage::Appendable {
 public:
  std::unique_ptr<storage::Appender> NewAppender(std::string_view) override {
    return std::make_unique<NullAppender>();
  }
};

void BM_IngestNullStorage(benchmark::State& state) {
  const bool cache = state.range(0) != 0;
  NullDb db;
  RemoteWriteOptions opts;
  opts.now_ms = [] { return int64_t{1'700'000'000'000}; };
  if (!cache) opts.ref_cache_entries = 0;
  RemoteWriteIngester ing(&db, nullptr, opts);
  std::string c = Compress(MakeRequest(1'600'000'000'000));
  for (auto _ : state) {
    WriteResult r = ing.Write("default", c);
    if (r.http_status != 204) state.SkipWithError(r.message.c_str());
  }
  state.SetItemsProcessed(state.iterations() * kSeries);
}
BENCHMARK(BM_IngestNullStorage)->Arg(0)->Arg(1);

}  // namespace
}  // namespace vigil::ingest
