// Matcher::Matches() per call for each regex shape, fast path against RE2 alone, and
// Matcher::Make() with the regex cache against compiling afresh.
// Run: build/release/src/model/model_matcher_bench
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "model/fast_regex.h"
#include "model/matcher.h"

namespace vigil::model {
namespace {

struct Shape {
  const char* name;
  const char* pattern;
};

// Index i of this table is the benchmark argument.
const Shape kShapes[] = {
    {"literal", "eth0"},
    {"set3", "eth0|eth1|wlan0"},
    {"set50", ""},  // filled by Set50()
    {"prefix_star", "eth.*"},
    {"prefix_plus", "node_.+"},
    {"suffix", ".*_total"},
    {"contains", ".*err.*"},
    {"any", ".*"},
    {"nonempty", ".+"},
    {"case_insensitive", "(?i)eth.*"},
};

std::string Set50() {
  std::string p;
  for (int i = 0; i < 50; ++i) p += (i ? "|" : "") + std::string("host-") + std::to_string(i);
  return p;
}

std::string PatternOf(int i) { return i == 2 ? Set50() : kShapes[i].pattern; }

// A mix of label values as they come from the index, about half of which match each shape.
const std::vector<std::string>& Values() {
  static const auto* v = new std::vector<std::string>{
      "eth0", "eth1", "wlan0", "lo", "docker0", "host-7", "host-42", "host-99",
      "node_cpu_seconds", "http_requests_total", "io_errors_total", "", "veth3a1b2c",
      "ethernet-long-interface-name-0"};
  return *v;
}

void Run(benchmark::State& state, bool fast) {
  auto re = *FastRegex::Compile(PatternOf(static_cast<int>(state.range(0))));
  state.SetLabel(kShapes[state.range(0)].name);
  const auto& vals = Values();
  size_t i = 0, hits = 0;
  for (auto _ : state) {
    const std::string& v = vals[i++ % vals.size()];
    hits += fast ? re->Matches(v) : re->MatchesWithRe2(v);
  }
  benchmark::DoNotOptimize(hits);
}

void BM_MatchesFast(benchmark::State& state) { Run(state, true); }
void BM_MatchesRe2Only(benchmark::State& state) { Run(state, false); }
BENCHMARK(BM_MatchesFast)->DenseRange(0, std::size(kShapes) - 1);
BENCHMARK(BM_MatchesRe2Only)->DenseRange(0, std::size(kShapes) - 1);

// What a query pays to build its selector's regex matcher.
void BM_MakeCached(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(Matcher::Make(MatchType::kRegexMatch, "device", "eth.*"));
  }
}
BENCHMARK(BM_MakeCached);

void BM_MakeUncached(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(FastRegex::Compile("eth.*"));
}
BENCHMARK(BM_MakeUncached);

}  // namespace
}  // namespace vigil::model
