// Intersection speed of postings lists: a large list against a small one (galloping Seek
// matters) and two equal-sized ones. Run: build/<dir>/src/storage/index/storage_postings_bench
#include <random>
#include <set>

#include "benchmark/benchmark.h"
#include "storage/index/postings.h"

namespace vigil::storage::index {
namespace {

std::vector<uint64_t> Ids(size_t n, uint64_t max, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::set<uint64_t> s;
  while (s.size() < n) s.insert(rng() % max);
  return {s.begin(), s.end()};
}

void BM_IntersectLargeSmall(benchmark::State& state) {
  auto big = Ids(1000000, 10000000, 1);
  auto small = Ids(static_cast<size_t>(state.range(0)), 10000000, 2);
  std::string enc;
  EncodePostings(big, &enc);
  for (auto _ : state) {
    std::vector<PostingsPtr> v;
    v.push_back(NewEncodedPostings(enc));
    v.push_back(NewListPostingsView(small));
    auto p = Intersect(std::move(v));
    size_t n = 0;
    while (p->Next()) ++n;
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_IntersectLargeSmall)->Arg(10)->Arg(1000)->Arg(100000);

void BM_IntersectEqual(benchmark::State& state) {
  auto a = Ids(static_cast<size_t>(state.range(0)), state.range(0) * 4, 3);
  auto b = Ids(static_cast<size_t>(state.range(0)), state.range(0) * 4, 4);
  for (auto _ : state) {
    std::vector<PostingsPtr> v;
    v.push_back(NewListPostingsView(a));
    v.push_back(NewListPostingsView(b));
    auto p = Intersect(std::move(v));
    size_t n = 0;
    while (p->Next()) ++n;
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations() * 2 * state.range(0));
}
BENCHMARK(BM_IntersectEqual)->Arg(1000)->Arg(100000);

void BM_Merge(benchmark::State& state) {
  std::vector<std::vector<uint64_t>> lists;
  for (int i = 0; i < state.range(0); ++i) lists.push_back(Ids(10000, 1000000, 10 + i));
  for (auto _ : state) {
    std::vector<PostingsPtr> v;
    for (auto& l : lists) v.push_back(NewListPostingsView(l));
    auto p = Merge(std::move(v));
    size_t n = 0;
    while (p->Next()) ++n;
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_Merge)->Arg(2)->Arg(16);

}  // namespace
}  // namespace vigil::storage::index
