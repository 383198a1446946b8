#include "storage/chunkenc/xor.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <random>
#include <vector>

#include "fmt/format.h"
#include "gtest/gtest.h"
#include "storage/chunkenc/block_codec.h"
#include "storage/chunkenc/chunk.h"
#include "storage/chunkenc/chunk_format.h"
#include "storage/chunkenc/chunk_testutil.h"

namespace vigil::storage::chunkenc {
namespace {

using model::Sample;

std::unique_ptr<Chunk> Encode(const std::vector<Sample>& s) {
  auto c = NewChunk(Encoding::kXor);
  EXPECT_TRUE(c.ok());
  auto app = (*c)->NewAppender();
  EXPECT_TRUE(app.ok());
  for (const auto& x : s) (*app)->Append(x.t, x.v);
  return std::move(*c);
}

std::vector<Sample> Decode(const Chunk& c, absl::Status* err = nullptr) {
  std::vector<Sample> out;
  auto it = c.NewIterator();
  while (it->Next()) out.push_back(it->At());
  if (err) *err = it->Err();
  else EXPECT_TRUE(it->Err().ok()) << it->Err();
  return out;
}

void ExpectBitExact(const std::vector<Sample>& want, const std::vector<Sample>& got) {
  ASSERT_EQ(want.size(), got.size());
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(want[i].t, got[i].t) << "sample " << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(want[i].v), std::bit_cast<uint64_t>(got[i].v))
        << "sample " << i;
  }
}

TEST(XorChunk, EmptyChunkIteratesNothing) {
  auto c = NewChunk(Encoding::kXor);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->num_samples(), 0);
  EXPECT_TRUE(Decode(**c).empty());
}

TEST(XorChunk, RoundTripsEveryNastyFloatBitForBit) {
  std::vector<Sample> s;
  int64_t t = 1000;
  for (double v : testutil::NastyValues()) s.push_back({t += 15000, v});
  // And in reverse, so every value also follows every other kind.
  auto nasty = testutil::NastyValues();
  for (auto it = nasty.rbegin(); it != nasty.rend(); ++it) s.push_back({t += 15000, *it});
  auto c = Encode(s);
  EXPECT_EQ(c->num_samples(), static_cast<int>(s.size()));
  ExpectBitExact(s, Decode(*c));
}

TEST(XorChunk, StalenessMarkerSurvives) {
  auto c = Encode({{1, 1.0}, {2, model::StaleNaN()}, {3, 2.0}});
  auto got = Decode(*c);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(model::IsStaleNaN(got[1].v));
}

struct GapCase {
  const char* name;
  std::vector<int64_t> ts;
};

class XorTimestampGaps : public testing::TestWithParam<GapCase> {};

TEST_P(XorTimestampGaps, RoundTripWithoutWrapping) {
  std::vector<Sample> s;
  for (int64_t t : GetParam().ts) s.push_back({t, 1.5});
  ExpectBitExact(s, Decode(*Encode(s)));
}

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

INSTANTIATE_TEST_SUITE_P(
    Adversarial, XorTimestampGaps,
    testing::Values(
        GapCase{"regular", {0, 15000, 30000, 45000, 60000}},
        GapCase{"negative_times", {-100000, -85000, -70000, -1, 0, 1}},
        GapCase{"full_range", {kMin, 0, kMax}},
        GapCase{"extremes_then_small", {kMin, kMin + 1, kMax - 1, kMax}},
        GapCase{"bucket_edges",
                {0, 1, 1 + 1 + 8191, 8193 + 8193 - 8192, 0x7fffffff, 0x80000000, 0xffffffff,
                 int64_t{1} << 40, (int64_t{1} << 40) + (int64_t{1} << 20)}},
        GapCase{"shrinking_then_huge", {10, 20, 21, 22, 23, int64_t{1} << 62, (int64_t{1} << 62) + 1}},
        GapCase{"single", {42}},
        GapCase{"two", {kMin, kMax}}),
    [](const auto& info) { return std::string(info.param.name); });

// Property test: many random series of random shapes round-trip exactly.
TEST(XorChunk, RandomSeriesRoundTripOverManySeeds) {
  for (uint64_t seed = 0; seed < 300; ++seed) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> len(1, 240);
    std::vector<Sample> s;
    int n = len(rng);
    int64_t t = static_cast<int64_t>(rng());
    if (seed % 3 == 0) t = 1700000000000;
    for (int i = 0; i < n; ++i) {
      double v;
      switch (rng() % 4) {
        case 0: v = std::bit_cast<double>(rng()); break;  // any bit pattern, NaNs included
        case 1: v = static_cast<double>(rng() % 1000); break;
        case 2: v = testutil::NastyValues()[rng() % testutil::NastyValues().size()]; break;
        default: v = i * 0.1; break;
      }
      s.push_back({t, v});
      uint64_t gap;
      switch (rng() % 4) {
        case 0: gap = 15000; break;
        case 1: gap = 15000 + rng() % 100; break;
        case 2: gap = rng() % (uint64_t{1} << 40); break;
        default: gap = rng(); break;  // may wrap: the codec works modulo 2^64
      }
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + gap);
    }
    auto c = Encode(s);
    SCOPED_TRACE(seed);
    ExpectBitExact(s, Decode(*c));
    // FromData round trip too.
    auto c2 = FromData(Encoding::kXor, c->bytes());
    ASSERT_TRUE(c2.ok());
    ExpectBitExact(s, Decode(**c2));
  }
}

TEST(XorChunk, AppenderContinuesAChunkReadFromBytes) {
  std::mt19937_64 rng(7);
  for (int split = 1; split < 60; split += 7) {
    auto s = testutil::NodeExporterLike(split % 8, 60, rng);
    std::vector<Sample> head(s.begin(), s.begin() + split);
    auto c = Encode(head);
    auto c2 = FromData(Encoding::kXor, c->bytes());
    ASSERT_TRUE(c2.ok());
    auto app = (*c2)->NewAppender();
    ASSERT_TRUE(app.ok()) << app.status();
    for (size_t i = split; i < s.size(); ++i) (*app)->Append(s[i].t, s[i].v);
    ExpectBitExact(s, Decode(**c2));
    // The bytes equal an uninterrupted encoding's.
    EXPECT_EQ((*c2)->bytes(), Encode(s)->bytes());
  }
}

TEST(XorChunk, SeekFindsFirstSampleAtOrAfterAndNeverMovesBack) {
  std::vector<Sample> s;
  for (int i = 0; i < 100; ++i) s.push_back({i * 10, static_cast<double>(i)});
  auto c = Encode(s);
  auto it = c->NewIterator();
  ASSERT_TRUE(it->Seek(55));
  EXPECT_EQ(it->At().t, 60);
  ASSERT_TRUE(it->Seek(10));  // backwards: stays
  EXPECT_EQ(it->At().t, 60);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().t, 70);
  ASSERT_TRUE(it->Seek(990));
  EXPECT_EQ(it->At().t, 990);
  EXPECT_FALSE(it->Seek(991));
  EXPECT_FALSE(it->Seek(0));  // exhausted stays exhausted
  EXPECT_FALSE(it->Next());
  EXPECT_TRUE(it->Err().ok());
}

// AppendRange must return what Seek(mint) and Next() up to maxt return, from a fresh
// iterator or one already moved, for both codecs.
TEST(ChunkIterator, AppendRangeReturnsWhatSeekAndNextReturn) {
  std::mt19937_64 rng(11);
  for (int kind = 0; kind < 8; ++kind) {
    auto s = testutil::NodeExporterLike(kind, 120, rng);
    std::string xor_bytes(Encode(s)->bytes());
    auto block_bytes = EncodeBlockChunk(s);
    ASSERT_TRUE(block_bytes.ok());
    for (auto [enc, bytes] : {std::pair{Encoding::kXor, std::string_view(xor_bytes)},
                              std::pair{Encoding::kBlock, std::string_view(*block_bytes)}}) {
      for (int trial = 0; trial < 50; ++trial) {
        int64_t a = s[rng() % s.size()].t + static_cast<int64_t>(rng() % 3) - 1;
        int64_t b = s[rng() % s.size()].t + static_cast<int64_t>(rng() % 3) - 1;
        int64_t mint = std::min(a, b), maxt = std::max(a, b);
        int moves = static_cast<int>(rng() % 4);  // 0: fresh; else Next() that many times
        auto want_it = NewIterator(enc, bytes);
        auto got_it = NewIterator(enc, bytes);
        for (int i = 0; i < moves; ++i) {
          want_it->Next();
          got_it->Next();
        }
        std::vector<Sample> want;
        if (want_it->Seek(mint)) {
          do {
            if (want_it->At().t > maxt) break;
            want.push_back(want_it->At());
          } while (want_it->Next());
        }
        std::vector<Sample> got;
        got_it->AppendRange(mint, maxt, &got);
        EXPECT_TRUE(got_it->Err().ok());
        ExpectBitExact(want, got);
      }
    }
  }
}

TEST(ChunkIterator, AppendRangeStopsAtCorruptionWithAnError) {
  std::mt19937_64 rng(3);
  auto s = testutil::NodeExporterLike(0, 120, rng);
  std::string good(Encode(s)->bytes());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    auto it = NewIterator(Encoding::kXor, std::string_view(good).substr(0, cut));
    std::vector<Sample> got;
    it->AppendRange(model::kMinTime, model::kMaxTime, &got);
    EXPECT_FALSE(it->Err().ok()) << "cut at " << cut;
    EXPECT_LT(got.size(), s.size());
  }
}

// On truncated and bit-flipped chunks AppendRange's own decode loop must agree with
// Next(): the same samples and the same error. The shapes cover every value window case,
// and the jittered timestamps every dod bucket, the 64-bit one included.
TEST(ChunkIterator, AppendRangeMatchesNextOnCorruptBytes) {
  std::mt19937_64 rng(5);
  for (int kind = 0; kind < 9; ++kind) {
    std::vector<Sample> s;
    if (kind < 8) {
      s = testutil::NodeExporterLike(kind, 120, rng);
    } else {
      s = testutil::NodeExporterLike(5, 120, rng);
      for (size_t i = 0; i < s.size(); ++i) {
        uint64_t r = rng();
        s[i].t += i % 9 == 0 ? static_cast<int64_t>(r % (uint64_t{1} << 40)) : static_cast<int64_t>(r % 600000);
        if (i > 0 && s[i].t <= s[i - 1].t) s[i].t = s[i - 1].t + 1;
      }
    }
    std::string good(Encode(s)->bytes());
    auto check = [&](std::string_view bad, const std::string& what) {
      auto d = testutil::DecodeTwoWays(Encoding::kXor, bad);
      EXPECT_EQ(d.next_err, d.range_err) << what;
      ExpectBitExact(d.next, d.range);
    };
    for (size_t cut = 0; cut <= good.size(); ++cut) {
      check(std::string_view(good).substr(0, cut), fmt::format("kind {} cut at {}", kind, cut));
    }
    for (int trial = 0; trial < 2000; ++trial) {
      std::string bad = good;
      bad[2 + rng() % (bad.size() - 2)] ^= static_cast<char>(1 << (rng() % 8));
      check(bad, fmt::format("kind {} trial {}", kind, trial));
    }
  }
}

TEST(XorChunk, ClassicSeriesCompressWell) {
  std::mt19937_64 rng(1);
  auto s = testutil::NodeExporterLike(4, 120, rng);
  auto c = Encode(s);
  // A constant series at a regular interval costs about 2 bits per sample.
  EXPECT_LT(c->bytes().size(), 50u);
}

// Corruption: every truncation and many bit flips end in an error or a clean stop, never
// a crash or a hang.
TEST(XorChunk, CorruptBytesEndIterationWithoutCrashing) {
  std::mt19937_64 rng(3);
  auto s = testutil::NodeExporterLike(0, 120, rng);
  std::string good(Encode(s)->bytes());
  for (size_t cut = 0; cut < good.size(); ++cut) {
    auto it = NewIterator(Encoding::kXor, std::string_view(good).substr(0, cut));
    size_t n = 0;
    while (it->Next()) ++n;
    EXPECT_FALSE(it->Err().ok()) << "cut at " << cut;
    EXPECT_LT(n, s.size());
  }
  for (int trial = 0; trial < 2000; ++trial) {
    std::string bad = good;
    bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
    auto it = NewIterator(Encoding::kXor, bad);
    size_t n = 0;
    while (it->Next()) ++n;
    EXPECT_LE(n, 65535u);
  }
}

TEST(XorChunk, TruncatedHeaderIsAnError) {
  EXPECT_FALSE(FromData(Encoding::kXor, "x").ok());
  auto it = NewIterator(Encoding::kXor, "");
  EXPECT_FALSE(it->Next());
  EXPECT_FALSE(it->Err().ok());
}

TEST(Chunk, UnknownEncodingIsAnError) {
  EXPECT_FALSE(FromData(static_cast<Encoding>(77), "abc").ok());
  EXPECT_FALSE(NewChunk(Encoding::kBlock).ok());
  auto it = NewIterator(static_cast<Encoding>(77), "abc");
  EXPECT_FALSE(it->Next());
  EXPECT_FALSE(it->Err().ok());
  EXPECT_EQ(EncodingName(Encoding::kXor), "xor");
}

}  // namespace
}  // namespace vigil::storage::chunkenc
