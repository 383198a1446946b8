#include "storage/index/index.h"

#include <random>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "storage/index/index_format.h"

namespace vigil::storage::index {
namespace {

std::vector<IndexSeries> Sample() {
  std::vector<IndexSeries> s;
  for (int i = 0; i < 50; ++i) {
    IndexSeries x;
    x.labels = model::Labels({{"__name__", i % 2 ? "up" : "http_requests_total"},
                              {"__tenant__", i % 5 == 0 ? "acme" : "default"},
                              {"instance", fmt::format("host-{:03d}", i)},
                              {"job", i % 3 ? "node" : "api"}});
    for (int c = 0; c < i % 4; ++c) {
      x.chunks.push_back({c * 1000 - 5000, c * 1000 - 4001, format::ChunkRef(1, 8 + 100 * i + c)});
    }
    s.push_back(std::move(x));
  }
  std::sort(s.begin(), s.end(), [](const auto& a, const auto& b) { return a.labels < b.labels; });
  return s;
}

TEST(Index, RoundTripsSeriesPostingsAndLabels) {
  auto series = Sample();
  std::string b = BuildIndex(series);
  auto r = IndexReader::Open(b);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ((*r)->num_series(), series.size());
  for (size_t i = 0; i < series.size(); ++i) {
    model::Labels l;
    std::vector<ChunkMetaRef> c;
    ASSERT_TRUE((*r)->Series(i, &l, &c).ok());
    EXPECT_EQ(l, series[i].labels);
    EXPECT_EQ(c, series[i].chunks);
  }
  auto all = ExpandPostings(*(*r)->AllPostings());
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), series.size());

  std::vector<uint64_t> want;
  for (size_t i = 0; i < series.size(); ++i) {
    if (series[i].labels.Get("job") == "api") want.push_back(i);
  }
  EXPECT_EQ(*ExpandPostings(*(*r)->Postings("job", "api")), want);
  EXPECT_TRUE(ExpandPostings(*(*r)->Postings("job", "nope"))->empty());
  EXPECT_TRUE(ExpandPostings(*(*r)->Postings("nope", "api"))->empty());

  auto names = (*r)->LabelNames();
  EXPECT_EQ(std::vector<std::string>(names.begin(), names.end()),
            (std::vector<std::string>{"__name__", "__tenant__", "instance", "job"}));
  auto jobs = (*r)->LabelValues("job");
  EXPECT_EQ(std::vector<std::string>(jobs.begin(), jobs.end()), (std::vector<std::string>{"api", "node"}));
  model::Labels l;
  std::vector<ChunkMetaRef> c;
  EXPECT_FALSE((*r)->Series(series.size(), &l, &c).ok());
}

TEST(Index, EmptyIndexOpens) {
  std::string b = BuildIndex({});
  auto r = IndexReader::Open(b);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->num_series(), 0u);
  EXPECT_TRUE(ExpandPostings(*(*r)->AllPostings())->empty());
}

TEST(Index, EveryTruncationAndBitFlipIsDetectedOnOpen) {
  std::string good = BuildIndex(Sample());
  for (size_t cut = 0; cut < good.size(); cut += 7) {
    EXPECT_FALSE(IndexReader::Open(std::string_view(good).substr(0, cut)).ok()) << cut;
  }
  std::mt19937_64 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    std::string bad = good;
    bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
    auto r = IndexReader::Open(bad);
    EXPECT_FALSE(r.ok()) << "flip undetected in trial " << trial;
  }
}

TEST(Index, ErrorsNameTheBrokenPart) {
  std::string bad = BuildIndex(Sample());
  bad[0] = 'X';
  auto r = IndexReader::Open(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("open index: bad magic"), std::string::npos)
      << r.status();
}

}  // namespace
}  // namespace vigil::storage::index
