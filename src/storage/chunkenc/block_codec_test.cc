#include "storage/chunkenc/block_codec.h"

#include <bit>
#include <cstdio>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "storage/chunkenc/chunk.h"
#include "storage/chunkenc/chunk_format.h"
#include "storage/chunkenc/chunk_testutil.h"
#include "storage/chunkenc/xor.h"

namespace vigil::storage::chunkenc {
namespace {

using model::Sample;

std::vector<Sample> DecodeBlock(std::string_view b, absl::Status* err = nullptr) {
  std::vector<Sample> out;
  auto it = NewIterator(Encoding::kBlock, b);
  while (it->Next()) out.push_back(it->At());
  if (err) *err = it->Err();
  else EXPECT_TRUE(it->Err().ok()) << it->Err();
  return out;
}

void ExpectRoundTrip(const std::vector<Sample>& s) {
  auto enc = EncodeBlockChunk(s);
  ASSERT_TRUE(enc.ok()) << enc.status();
  auto got = DecodeBlock(*enc);
  ASSERT_EQ(got.size(), s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    ASSERT_EQ(got[i].t, s[i].t) << "sample " << i;
    ASSERT_EQ(std::bit_cast<uint64_t>(got[i].v), std::bit_cast<uint64_t>(s[i].v))
        << "sample " << i << " want " << s[i].v << " got " << got[i].v;
  }
}

uint8_t ValueSchemeOf(const std::string& b) { return static_cast<uint8_t>(b[2]) & 0xf; }
uint8_t TsSchemeOf(const std::string& b) { return static_cast<uint8_t>(b[2]) >> 4; }

TEST(BlockCodec, RejectsEmptyAndOversizedInput) {
  EXPECT_FALSE(EncodeBlockChunk({}).ok());
  std::vector<Sample> big(format::kMaxSamplesPerChunk + 1, Sample{0, 0});
  EXPECT_FALSE(EncodeBlockChunk(big).ok());
}

struct SchemeCase {
  const char* name;
  std::vector<Sample> samples;
  format::ValueScheme want_value;
  format::TsScheme want_ts;
};

class BlockCodecSchemes : public testing::TestWithParam<SchemeCase> {};

TEST_P(BlockCodecSchemes, PicksTheExpectedSchemeAndRoundTrips) {
  const auto& c = GetParam();
  auto enc = EncodeBlockChunk(c.samples);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(ValueSchemeOf(*enc), static_cast<uint8_t>(c.want_value));
  EXPECT_EQ(TsSchemeOf(*enc), static_cast<uint8_t>(c.want_ts));
  ExpectRoundTrip(c.samples);
}

std::vector<Sample> Regular(std::vector<double> v, int64_t step = 15000) {
  std::vector<Sample> s;
  for (size_t i = 0; i < v.size(); ++i) s.push_back({1700000000000 + static_cast<int64_t>(i) * step, v[i]});
  return s;
}

using VS = format::ValueScheme;
using TS = format::TsScheme;

INSTANTIATE_TEST_SUITE_P(
    Shapes, BlockCodecSchemes,
    testing::Values(
        SchemeCase{"constant", Regular({5, 5, 5, 5}), VS::kConstant, TS::kRegular},
        SchemeCase{"constant_nan", Regular({model::StaleNaN(), model::StaleNaN()}), VS::kConstant,
                   TS::kRegular},
        SchemeCase{"single", Regular({0.25}), VS::kConstant, TS::kRegular},
        SchemeCase{"two_decimals", Regular({0.29, 0.31, 1.07, 12.5}), VS::kDecimal, TS::kRegular},
        SchemeCase{"nine_decimals", Regular({0.000012345, 0.081234567, 0.5}), VS::kDecimal,
                   TS::kRegular},
        SchemeCase{"integers", Regular({1e12, 1e12 + 4096, 1e12 + 8192}), VS::kDecimal,
                   TS::kRegular},
        SchemeCase{"negative_zero_falls_back", Regular({-0.0, 1.0}), VS::kXor, TS::kRegular},
        SchemeCase{"nan_falls_back", Regular({1.0, model::StaleNaN()}), VS::kXor, TS::kRegular},
        SchemeCase{"many_digits_prefers_shorter_xor", Regular({3.141592653589793, 2.718281828459045}),
                   VS::kXor, TS::kRegular},
        SchemeCase{"tiny_falls_back", Regular({1.234e-25, 5.5e-30}), VS::kXor, TS::kRegular},
        SchemeCase{"huge_falls_back", Regular({1.8446744073709552e19, 1.0}), VS::kXor,
                   TS::kRegular},
        SchemeCase{"jittered_times",
                   {{1000, 1}, {16003, 2}, {30998, 3}, {46000, 4}, {61001, 5}},
                   VS::kDecimal, TS::kPackedDod}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(BlockCodec, DividesOutACommonFactor) {
  // Memory in 4 KiB pages: the 12 low zero bits of every delta are not stored.
  std::mt19937_64 rng(3);
  std::vector<double> v;
  double x = 4096.0 * 1000000;
  for (int i = 0; i < 480; ++i) v.push_back(x += 4096.0 * static_cast<double>(rng() % 2000));
  auto s = Regular(v);
  auto enc = EncodeBlockChunk(s);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(ValueSchemeOf(*enc), static_cast<uint8_t>(VS::kDecimal));
  EXPECT_LT(enc->size(), 480u * 12 / 8 + 40);  // ~11 bits per sample, not ~23
  ExpectRoundTrip(s);
  // Extreme factors and wrapping differences.
  ExpectRoundTrip(Regular({-4611686018427387904.0, 4611686018427387904.0, 0.0}));
  ExpectRoundTrip(Regular({9.2e18 - 2048, -9.2e18, 9.2e18 - 2048}));
}

TEST(BlockCodec, RoundTripsExtremeTimestamps) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  ExpectRoundTrip({{kMin, 1}, {0, 2}, {kMax, 3}});
  ExpectRoundTrip({{kMin, 1}, {kMin + 1, 2}, {kMax - 1, 3}, {kMax, 4}});
  ExpectRoundTrip({{-5, 1}, {-4, 2}, {1000000000000000, 3}, {1000000000000001, 4}});
}

TEST(BlockCodec, RoundTripsNastyValues) {
  std::vector<Sample> s;
  int64_t t = 0;
  for (double v : testutil::NastyValues()) s.push_back({t += 15000, v});
  ExpectRoundTrip(s);
}

TEST(BlockCodec, RandomSeriesRoundTripOverManySeeds) {
  for (uint64_t seed = 0; seed < 400; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937_64 rng(seed);
    int n = 1 + static_cast<int>(rng() % 600);
    std::vector<Sample> s;
    int64_t t = seed % 2 ? 1700000000000 : static_cast<int64_t>(rng());
    int shape = static_cast<int>(rng() % 6);
    double v = static_cast<double>(rng() % 100000);
    for (int i = 0; i < n; ++i) {
      switch (shape) {
        case 0: v = std::bit_cast<double>(rng()); break;
        case 1: v += static_cast<double>(rng() % 1000); break;
        case 2: v = testutil::RoundTo(v + (rng() % 1000) / 7.0, static_cast<int>(seed % 10)); break;
        case 3: v = testutil::NastyValues()[rng() % testutil::NastyValues().size()]; break;
        case 4: v = -static_cast<double>(rng() % (uint64_t{1} << 62)); break;
        default: v = (rng() % 3 == 0) ? v + 1 : v; break;
      }
      s.push_back({t, v});
      uint64_t gap = rng() % 4 == 0 ? rng() : 15000 + (rng() % 3 == 0 ? rng() % 50 : 0);
      t = static_cast<int64_t>(static_cast<uint64_t>(t) + gap);
    }
    ExpectRoundTrip(s);
  }
}

TEST(BlockCodec, NodeExporterShapesRoundTripOverManySeeds) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    SCOPED_TRACE(seed);
    ExpectRoundTrip(testutil::NodeExporterLike(static_cast<int>(seed % 8), 480, rng));
  }
}

TEST(BlockCodec, SeekUsesTimeOrder) {
  auto s = Regular({1, 2, 3, 4, 5, 6});
  auto enc = EncodeBlockChunk(s);
  ASSERT_TRUE(enc.ok());
  auto it = NewIterator(Encoding::kBlock, *enc);
  ASSERT_TRUE(it->Seek(s[2].t - 1));
  EXPECT_EQ(it->At().v, 3);
  ASSERT_TRUE(it->Seek(0));
  EXPECT_EQ(it->At().v, 3);
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().v, 4);
  EXPECT_FALSE(it->Seek(s[5].t + 1));
  EXPECT_FALSE(it->Next());
}

TEST(BlockCodec, BlockChunkIsImmutable) {
  auto enc = EncodeBlockChunk(Regular({1, 2}));
  ASSERT_TRUE(enc.ok());
  auto c = FromData(Encoding::kBlock, *enc);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->num_samples(), 2);
  EXPECT_FALSE((*c)->NewAppender().ok());
}

TEST(BlockCodec, CorruptBytesGiveErrorsNotCrashes) {
  std::mt19937_64 rng(11);
  for (int kind = 0; kind < 8; ++kind) {
    auto s = testutil::NodeExporterLike(kind, 300, rng);
    s[17].t += 3;  // force the packed timestamp path
    auto enc = EncodeBlockChunk(s);
    ASSERT_TRUE(enc.ok());
    const std::string& good = *enc;
    for (size_t cut = 0; cut < good.size(); ++cut) {
      absl::Status err;
      auto got = DecodeBlock(std::string_view(good).substr(0, cut), &err);
      EXPECT_FALSE(err.ok() && got.size() == s.size() && cut < good.size() - 1)
          << "kind " << kind << " cut " << cut;
    }
    for (int trial = 0; trial < 500; ++trial) {
      std::string bad = good;
      bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
      absl::Status err;
      auto got = DecodeBlock(bad, &err);
      EXPECT_LE(got.size(), 65535u);
    }
  }
}

// AppendRange decodes straight into its output: on truncated and bit-flipped chunks of
// every scheme it must give what Next() gives, error included.
TEST(BlockCodec, AppendRangeMatchesNextOnCorruptBytes) {
  std::mt19937_64 rng(13);
  for (int kind = 0; kind < 10; ++kind) {
    auto s = testutil::NodeExporterLike(kind % 8, 120, rng);
    if (kind >= 8) {
      for (auto& x : s) x.t += static_cast<int64_t>(rng() % 2000);  // packed timestamps
    }
    if (kind == 9) s[40].v = 3.141592653589793;  // XOR values
    auto enc = EncodeBlockChunk(s);
    ASSERT_TRUE(enc.ok());
    const std::string& good = *enc;
    auto check = [&](std::string_view bad, const std::string& what) {
      auto d = testutil::DecodeTwoWays(Encoding::kBlock, bad, {{1, 2}});  // AppendRange appends
      EXPECT_EQ(d.next_err, d.range_err) << what;
      d.next.insert(d.next.begin(), {1, 2});
      EXPECT_EQ(d.next, d.range) << what;
    };
    for (size_t cut = 0; cut <= good.size(); ++cut) {
      check(std::string_view(good).substr(0, cut), "kind " + std::to_string(kind) + " cut " + std::to_string(cut));
    }
    for (int trial = 0; trial < 500; ++trial) {
      std::string bad = good;
      bad[rng() % bad.size()] ^= static_cast<char>(1 << (rng() % 8));
      check(bad, "kind " + std::to_string(kind) + " trial " + std::to_string(trial));
    }
  }
}

// The number the block codec exists for: bytes per sample on node_exporter-shaped data,
// against XOR chunks of 120 samples. The mix follows bench/gen_workload.py roughly.
TEST(BlockCodec, BeatsXorOnNodeExporterShapedData) {
  std::mt19937_64 rng(42);
  size_t samples = 0, xor_bytes = 0, block_bytes = 0;
  for (const auto& s : testutil::NodeExporterMix(rng, 4, 480)) {
    samples += s.size();
    for (size_t off = 0; off < s.size(); off += 120) {
      auto c = NewChunk(Encoding::kXor);
      auto app = (*c)->NewAppender();
      for (size_t j = off; j < off + 120 && j < s.size(); ++j) (*app)->Append(s[j].t, s[j].v);
      xor_bytes += (*c)->bytes().size();
    }
    auto enc = EncodeBlockChunk(s);
    ASSERT_TRUE(enc.ok());
    block_bytes += enc->size();
  }
  double xor_bps = static_cast<double>(xor_bytes) / samples;
  double block_bps = static_cast<double>(block_bytes) / samples;
  std::printf("node_exporter-like mix: xor %.3f bytes/sample, block %.3f bytes/sample\n", xor_bps,
              block_bps);
  // VictoriaMetrics persists such data at ~1.33 bytes/sample, Prometheus at ~2.47.
  EXPECT_LT(block_bps, 1.0);
  EXPECT_LT(block_bps, xor_bps * 0.5);
}

}  // namespace
}  // namespace vigil::storage::chunkenc
