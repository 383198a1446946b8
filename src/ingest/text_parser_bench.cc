// Text exposition parsing speed on a node_exporter-like page (10k series, label sets of
// 2-4 pairs, some HELP/TYPE), with and without building model::Labels per sample.
#include <string>

#include "benchmark/benchmark.h"
#include "ingest/text_parser.h"

namespace vigil::ingest {
namespace {

std::string Page(int n) {
  std::string out;
  for (int f = 0; f < n / 100; ++f) {
    out += "# HELP node_metric_" + std::to_string(f) + " A metric family.\n";
    out += "# TYPE node_metric_" + std::to_string(f) + " gauge\n";
    for (int i = 0; i < 100; ++i) {
      out += "node_metric_" + std::to_string(f) + "{cpu=\"" + std::to_string(i % 16) +
             "\",mode=\"idle\",device=\"sda" + std::to_string(i) + "\"} " +
             std::to_string(i * 12345.678) + "\n";
    }
  }
  return out;
}

void BM_ParseOnly(benchmark::State& state) {
  const std::string page = Page(10'000);
  int64_t samples = 0;
  for (auto _ : state) {
    TextParser p(page, TextFormat::kPrometheus);
    while (true) {
      auto e = p.Next();
      if (!e.ok() || *e == TextParser::Entry::kEof) break;
      if (*e == TextParser::Entry::kSeries) ++samples;
      benchmark::DoNotOptimize(p.value());
    }
  }
  state.SetItemsProcessed(samples);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * page.size()));
}
BENCHMARK(BM_ParseOnly);

void BM_ParseAndFillLabels(benchmark::State& state) {
  const std::string page = Page(10'000);
  int64_t samples = 0;
  model::Labels labels;
  for (auto _ : state) {
    TextParser p(page, TextFormat::kPrometheus);
    while (true) {
      auto e = p.Next();
      if (!e.ok() || *e == TextParser::Entry::kEof) break;
      if (*e == TextParser::Entry::kSeries) {
        p.FillLabels(&labels);
        ++samples;
      }
    }
  }
  state.SetItemsProcessed(samples);
}
BENCHMARK(BM_ParseAndFillLabels);

}  // namespace
}  // namespace vigil::ingest
