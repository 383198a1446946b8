#include "storage/index/index.h"

#include <random>

#include "base/crc32c.h"
#include "base/encoding.h"
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

// Assembles an index image from raw section bodies, with valid checksums.
std::string RawIndex(const std::vector<std::string>& sections) {
  Encbuf out, toc;
  out.PutBE32(format::kMagic);
  out.PutByte(format::kVersion1);
  for (const auto& body : sections) {
    toc.PutBE64(out.size());
    out.PutBE32(static_cast<uint32_t>(body.size()));
    out.PutBytes(body);
    out.PutBE32(crc32c::Value(body));
  }
  out.PutBytes(toc.str());
  out.PutBE32(crc32c::Value(toc.str()));
  return out.Release();
}

// Found by index_reader_fuzzer: a series entry cut short in an index with no symbols read
// symbol 0 of an empty table.
TEST(Index, TruncatedSeriesWithNoSymbolsIsAnError) {
  std::string no_symbols("\x00", 1);
  std::string series("\x02\x00", 2);  // two labels announced, one varint present
  std::string offsets("\x01\x00\x00\x00\x00\x00\x00\x00\x00", 9);
  std::string empty_count("\x00", 1);
  std::string b = RawIndex({no_symbols, series, offsets, empty_count, "", empty_count});
  auto r = IndexReader::Open(b);
  ASSERT_TRUE(r.ok()) << r.status();
  model::Labels l;
  std::vector<ChunkMetaRef> c;
  EXPECT_FALSE((*r)->Series(0, &l, &c).ok());
}

// Found by index_reader_fuzzer: a TOC offset near 2^64 wrapped the bounds check.
TEST(Index, HugeSectionOffsetIsAnErrorNotAWrapAround) {
  std::string b = BuildIndex(Sample());
  const size_t toc = b.size() - format::kTocSize;
  for (int k = 0; k < 8; ++k) b[toc + k] = static_cast<char>(0xff);
  b[toc + 7] = static_cast<char>(0xf9);
  uint32_t crc = crc32c::Value(b.data() + toc, format::kNumSections * 8);
  for (int k = 0; k < 4; ++k) b[toc + format::kNumSections * 8 + k] = static_cast<char>(crc >> (24 - 8 * k));
  auto r = IndexReader::Open(b);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("out of range"), std::string::npos) << r.status();
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
