// Encode/decode throughput of the chunk codecs (samples per second) on node_exporter-like
// series. Run: build/<dir>/src/storage/chunkenc/storage_chunkenc_bench
#include <algorithm>
#include <memory>
#include <random>
#include <vector>

#include "benchmark/benchmark.h"
#include "storage/chunkenc/block_codec.h"
#include "storage/chunkenc/chunk.h"
#include "storage/chunkenc/chunk_testutil.h"

namespace vigil::storage::chunkenc {
namespace {

std::vector<model::Sample> Series(int kind, int n) {
  std::mt19937_64 rng(kind);
  return testutil::NodeExporterLike(kind, n, rng);
}

void BM_XorEncode(benchmark::State& state) {
  auto s = Series(static_cast<int>(state.range(0)), 120);
  for (auto _ : state) {
    auto c = NewChunk(Encoding::kXor);
    auto app = (*c)->NewAppender();
    for (const auto& x : s) (*app)->Append(x.t, x.v);
    benchmark::DoNotOptimize((*c)->bytes().data());
  }
  state.SetItemsProcessed(state.iterations() * s.size());
}
BENCHMARK(BM_XorEncode)->DenseRange(0, 7);

void BM_XorDecode(benchmark::State& state) {
  auto s = Series(static_cast<int>(state.range(0)), 120);
  auto c = NewChunk(Encoding::kXor);
  auto app = (*c)->NewAppender();
  for (const auto& x : s) (*app)->Append(x.t, x.v);
  for (auto _ : state) {
    auto it = (*c)->NewIterator();
    double sum = 0;
    while (it->Next()) sum += it->At().v;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * s.size());
}
BENCHMARK(BM_XorDecode)->DenseRange(0, 7);

// The bulk read the query path uses (AppendRange over the whole chunk).
void BM_XorAppendRange(benchmark::State& state) {
  auto s = Series(static_cast<int>(state.range(0)), 120);
  auto c = NewChunk(Encoding::kXor);
  auto app = (*c)->NewAppender();
  for (const auto& x : s) (*app)->Append(x.t, x.v);
  std::vector<model::Sample> out;
  out.reserve(s.size());
  for (auto _ : state) {
    out.clear();
    (*c)->NewIterator()->AppendRange(model::kMinTime, model::kMaxTime, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * s.size());
}
BENCHMARK(BM_XorAppendRange)->DenseRange(0, 7);

void BM_BlockEncode(benchmark::State& state) {
  auto s = Series(static_cast<int>(state.range(0)), 480);
  for (auto _ : state) {
    auto enc = EncodeBlockChunk(s);
    benchmark::DoNotOptimize(enc->data());
  }
  state.SetItemsProcessed(state.iterations() * s.size());
}
BENCHMARK(BM_BlockEncode)->DenseRange(0, 7);

void BM_BlockDecode(benchmark::State& state) {
  auto s = Series(static_cast<int>(state.range(0)), 480);
  auto enc = EncodeBlockChunk(s);
  for (auto _ : state) {
    auto it = NewIterator(Encoding::kBlock, *enc);
    double sum = 0;
    while (it->Next()) sum += it->At().v;
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(state.iterations() * s.size());
}
BENCHMARK(BM_BlockDecode)->DenseRange(0, 7);

void BM_BlockAppendRange(benchmark::State& state) {
  auto s = Series(static_cast<int>(state.range(0)), 480);
  auto enc = EncodeBlockChunk(s);
  std::vector<model::Sample> out;
  out.reserve(s.size());
  for (auto _ : state) {
    out.clear();
    NewIterator(Encoding::kBlock, *enc)->AppendRange(model::kMinTime, model::kMaxTime, &out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations() * s.size());
}
BENCHMARK(BM_BlockAppendRange)->DenseRange(0, 7);

// The query path's case: one range read over each of many head-sized chunks (120 samples)
// of the node_exporter-like mix, visited in random order so that, as in the server, most
// chunk bytes are not in cache when their decode starts (20k chunks, ~5 MiB of XOR).
std::vector<std::unique_ptr<Chunk>> MixChunks(Encoding e) {
  std::mt19937_64 rng(42);
  std::vector<std::unique_ptr<Chunk>> chunks;
  for (const auto& s : testutil::NodeExporterMix(rng, 200, 120)) {
    auto c = NewChunk(Encoding::kXor);
    auto app = (*c)->NewAppender();
    for (const auto& x : s) (*app)->Append(x.t, x.v);
    if (e == Encoding::kXor) {
      chunks.push_back(std::move(*c));
    } else {
      chunks.push_back(*FromData(e, *EncodeBlockChunk(s)));
    }
  }
  std::shuffle(chunks.begin(), chunks.end(), rng);
  return chunks;
}

void BM_AppendRangeMix(benchmark::State& state) {
  auto chunks = MixChunks(static_cast<Encoding>(state.range(0)));
  std::vector<model::Sample> out;
  size_t samples = 0;
  for (auto _ : state) {
    for (const auto& c : chunks) {
      out.clear();
      c->NewIterator()->AppendRange(model::kMinTime, model::kMaxTime, &out);
      benchmark::DoNotOptimize(out.data());
      samples += out.size();
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(samples));
}
BENCHMARK(BM_AppendRangeMix)
    ->Arg(static_cast<int>(Encoding::kXor))
    ->Arg(static_cast<int>(Encoding::kBlock))
    ->ArgName("encoding");

// Bytes per sample on the node_exporter-like mix: counters xor_B/sample and block_B/sample.
void BM_BytesPerSampleMix(benchmark::State& state) {
  std::mt19937_64 rng(42);
  auto mix = testutil::NodeExporterMix(rng, 2, 480);
  size_t samples = 0, xor_bytes = 0, block_bytes = 0;
  for (auto _ : state) {
    samples = xor_bytes = block_bytes = 0;
    for (const auto& s : mix) {
      samples += s.size();
      for (size_t off = 0; off < s.size(); off += 120) {
        auto c = NewChunk(Encoding::kXor);
        auto app = (*c)->NewAppender();
        for (size_t j = off; j < off + 120 && j < s.size(); ++j) (*app)->Append(s[j].t, s[j].v);
        xor_bytes += (*c)->bytes().size();
      }
      block_bytes += EncodeBlockChunk(s)->size();
    }
  }
  state.counters["xor_B/sample"] = static_cast<double>(xor_bytes) / samples;
  state.counters["block_B/sample"] = static_cast<double>(block_bytes) / samples;
}
BENCHMARK(BM_BytesPerSampleMix)->Iterations(1);

}  // namespace
}  // namespace vigil::storage::chunkenc
