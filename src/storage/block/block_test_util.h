// Test helpers for blocks: series generation and a reference model to compare queries with.
#pragma once

#include <bit>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "model/matcher.h"
#include "storage/block/chunk_series.h"
#include "storage/chunkenc/chunk.h"
#include "storage/querier.h"

namespace vigil::storage::block::testing {

using Model = std::map<model::Labels, std::vector<model::Sample>>;

// Encodes samples into head-style XOR chunks of at most `per_chunk` samples.
inline std::vector<ChunkMeta> XorChunks(const std::vector<model::Sample>& s, size_t per_chunk = 120) {
  std::vector<ChunkMeta> out;
  for (size_t off = 0; off < s.size(); off += per_chunk) {
    auto c = chunkenc::NewChunk(chunkenc::Encoding::kXor);
    auto app = (*c)->NewAppender();
    size_t end = std::min(s.size(), off + per_chunk);
    for (size_t i = off; i < end; ++i) (*app)->Append(s[i].t, s[i].v);
    out.push_back({s[off].t, s[end - 1].t, chunkenc::Encoding::kXor, std::string((*c)->bytes())});
  }
  return out;
}

// `n` series over two tenants, with samples every 15 s over [t0, t0 + samples*15s).
inline Model MakeModel(int n, int samples, int64_t t0, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Model m;
  const char* jobs[] = {"api", "db", "node"};
  for (int i = 0; i < n; ++i) {
    std::vector<model::Label> l{{"__name__", i % 4 == 0 ? "up" : "cpu_seconds_total"},
                                {"__tenant__", i % 5 == 0 ? "acme" : "default"},
                                {"instance", fmt::format("host-{:02d}", i)},
                                {"job", jobs[i % 3]}};
    if (i % 2) l.push_back({"mode", i % 4 == 1 ? "idle" : "user"});
    std::vector<model::Sample> s;
    double v = static_cast<double>(rng() % 1000);
    for (int k = 0; k < samples; ++k) {
      v += static_cast<double>(rng() % 100) / 100.0;
      s.push_back({t0 + k * 15000, k == samples / 2 && i == 3 ? model::StaleNaN() : v});
    }
    m[model::Labels(std::move(l))] = std::move(s);
  }
  return m;
}

inline std::unique_ptr<ChunkSeriesSet> SetFromModel(const Model& m, size_t per_chunk = 120) {
  std::vector<ChunkSeries> v;
  for (const auto& [l, s] : m) v.push_back({l, XorChunks(s, per_chunk)});
  return NewVectorChunkSeriesSet(std::move(v));
}

inline model::Labels Strip(const model::Labels& l) {
  std::vector<model::Label> v;
  for (const auto& x : l) {
    if (x.name != "__tenant__") v.push_back(x);
  }
  return model::Labels(std::move(v));
}

// What a querier for `tenant` over [mint, maxt] must return for `ms`.
inline Model Expect(const Model& m, std::string_view tenant, const model::Matchers& ms, int64_t mint,
                    int64_t maxt) {
  Model out;
  for (const auto& [l, s] : m) {
    if (l.Get("__tenant__") != tenant) continue;
    bool ok = true;
    for (const auto& x : ms) ok = ok && x.Matches(l.Get(x.name()));
    if (!ok) continue;
    std::vector<model::Sample> keep;
    for (const auto& x : s) {
      if (x.t >= mint && x.t <= maxt) keep.push_back(x);
    }
    if (!keep.empty()) out[Strip(l)] = keep;
  }
  return out;
}

inline Model Collect(storage::Querier& q, const model::Matchers& ms) {
  Model out;
  auto ss = q.Select(true, {}, ms);
  model::Labels prev;
  bool first = true;
  while (ss->Next()) {
    const auto& l = ss->At().labels();
    EXPECT_FALSE(l.Has("__tenant__"));
    if (!first) {
      EXPECT_LT(prev, l);
    }
    first = false;
    prev = l;
    auto it = ss->At().Iterator();
    std::vector<model::Sample> s;
    while (it->Next()) s.push_back(it->At());
    EXPECT_TRUE(it->Err().ok()) << it->Err();
    // The bulk read returns the same samples.
    std::vector<model::Sample> bulk;
    auto bit = ss->At().Iterator();
    bit->AppendRange(model::kMinTime, model::kMaxTime, &bulk);
    EXPECT_TRUE(bit->Err().ok()) << bit->Err();
    EXPECT_EQ(bulk, s) << l.ToString();
    out[l] = s;
  }
  EXPECT_TRUE(ss->Err().ok()) << ss->Err();
  return out;
}

inline void ExpectSameData(const Model& want, const Model& got) {
  ASSERT_EQ(want.size(), got.size());
  for (const auto& [l, s] : want) {
    auto it = got.find(l);
    ASSERT_NE(it, got.end()) << l.ToString();
    ASSERT_EQ(s.size(), it->second.size()) << l.ToString();
    for (size_t i = 0; i < s.size(); ++i) {
      ASSERT_EQ(s[i], it->second[i]) << l.ToString() << " sample " << i;
    }
  }
}

}  // namespace vigil::storage::block::testing
