#include "storage/wal/records.h"

#include <bit>
#include <limits>
#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/sample.h"

namespace vigil::storage::wal {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

double Bits(uint64_t b) { return std::bit_cast<double>(b); }

TEST(WalRecords, SamplesRoundTripAdversarialValuesBitForBit) {
  std::vector<RefSample> in = {
      {0, 0, 0.0},
      {std::numeric_limits<uint64_t>::max(), kMax, -0.0},
      {1, kMin, Bits(model::kStaleNaNBits)},
      {7, -1, std::numeric_limits<double>::quiet_NaN()},
      {3, kMax, Bits(0x7ff8dead0000beefull)},  // NaN with payload
      {3, kMin, std::numeric_limits<double>::infinity()},
      {2, 1700000000000, -std::numeric_limits<double>::infinity()},
      {2, 1700000000001, std::numeric_limits<double>::denorm_min()},
  };
  std::string rec;
  EncodeSamples(in, &rec);
  EXPECT_EQ(GetRecordType(rec), RecordType::kSamples);
  std::vector<RefSample> out;
  ASSERT_TRUE(DecodeSamples(rec, &out).ok());
  ASSERT_EQ(out, in);
  EXPECT_EQ(std::bit_cast<uint64_t>(out[2].v), model::kStaleNaNBits);
}

TEST(WalRecords, EmptyListsRoundTrip) {
  std::string rec;
  std::vector<RefSample> samples = {{1, 2, 3}};
  EncodeSamples({}, &rec);
  ASSERT_TRUE(DecodeSamples(rec, &samples).ok());
  EXPECT_TRUE(samples.empty());

  std::vector<RefSeries> series = {{1, model::Labels{{"a", "b"}}}};
  EncodeSeries({}, &rec);
  ASSERT_TRUE(DecodeSeries(rec, &series).ok());
  EXPECT_TRUE(series.empty());

  std::vector<RefTombstone> tombstones = {{1, 2, 3}};
  EncodeTombstones({}, &rec);
  ASSERT_TRUE(DecodeTombstones(rec, &tombstones).ok());
  EXPECT_TRUE(tombstones.empty());
}

TEST(WalRecords, SeriesRoundTripWithTenantLabelAndUnicode) {
  std::vector<RefSeries> in = {
      {1, model::Labels{{"__name__", "up"}, {"__tenant__", "default"}, {"job", "node"}}},
      {std::numeric_limits<uint64_t>::max(),
       model::Labels{{"__name__", "x"}, {"__tenant__", "acme"}, {"city", "Zürich ✓"},
                     {"empty_ok", std::string(300, 'v')}}},
  };
  std::string rec;
  EncodeSeries(in, &rec);
  std::vector<RefSeries> out;
  ASSERT_TRUE(DecodeSeries(rec, &out).ok());
  EXPECT_EQ(out, in);
}

TEST(WalRecords, TombstonesRoundTripExtremes) {
  std::vector<RefTombstone> in = {{0, kMin, kMax}, {5, -10, -1}, {~0ull, 0, 0}};
  std::string rec;
  EncodeTombstones(in, &rec);
  std::vector<RefTombstone> out;
  ASSERT_TRUE(DecodeTombstones(rec, &out).ok());
  EXPECT_EQ(out, in);
}

TEST(WalRecords, ExemplarsRoundTripWithAndWithoutLabels) {
  std::vector<RefExemplar> in = {
      {1, 1700000000000, 0.25, model::Labels{{"span_id", "ab"}, {"trace_id", "0af7651916cd43dd"}}},
      {~0ull, kMin, Bits(model::kStaleNaNBits), model::Labels{}},
      {2, kMax, -0.0, model::Labels{{"trace_id", "x"}}},
  };
  std::string rec;
  EncodeExemplars(in, &rec);
  EXPECT_EQ(GetRecordType(rec), RecordType::kExemplars);
  std::vector<RefExemplar> out;
  ASSERT_TRUE(DecodeExemplars(rec, &out).ok());
  EXPECT_EQ(out, in);
  for (size_t n = 0; n < rec.size(); ++n) {
    EXPECT_FALSE(DecodeExemplars(rec.substr(0, n), &out).ok()) << n;
  }
  EXPECT_FALSE(DecodeExemplars(rec + "x", &out).ok());
}

TEST(WalRecords, RandomBatchesRoundTrip) {
  std::mt19937_64 rng(7);
  std::string rec;
  std::vector<RefSample> out;
  for (int round = 0; round < 200; ++round) {
    std::vector<RefSample> in(rng() % 3000);
    for (auto& s : in) {
      s.ref = rng() % 4 == 0 ? rng() : rng() % 100000;
      s.t = rng() % 4 == 0 ? static_cast<int64_t>(rng()) : 1700000000000 + static_cast<int64_t>(rng() % 100000);
      s.v = Bits(rng());
    }
    EncodeSamples(in, &rec);
    ASSERT_TRUE(DecodeSamples(rec, &out).ok());
    ASSERT_EQ(out, in);
  }
}

TEST(WalRecords, TypicalSampleBatchIsCompact) {
  std::vector<RefSample> in(2000);
  for (size_t i = 0; i < in.size(); ++i) in[i] = {1000 + i, 1700000000000 + 15000, 1.5 * i};
  std::string rec;
  EncodeSamples(in, &rec);
  // Two 1-2 byte deltas and 8 value bytes per sample.
  EXPECT_LT(rec.size(), in.size() * 12);
}

TEST(WalRecords, DecodersReuseBuffers) {
  std::vector<RefSeries> in = {{1, model::Labels{{"__name__", "a"}, {"x", "y"}}}};
  std::string rec;
  EncodeSeries(in, &rec);
  std::vector<RefSeries> out;
  ASSERT_TRUE(DecodeSeries(rec, &out).ok());
  const char* name_data = out[0].labels[0].name.data();
  ASSERT_TRUE(DecodeSeries(rec, &out).ok());
  EXPECT_EQ(out[0].labels[0].name.data(), name_data) << "label strings were reallocated";
}

// Every strict prefix of a valid record is rejected with an error, never a crash.
TEST(WalRecords, EveryTruncationIsAnError) {
  std::string samples, series, tombstones;
  EncodeSamples(std::vector<RefSample>{{1, 2, 3.0}, {300, -5, 4.0}}, &samples);
  EncodeSeries(std::vector<RefSeries>{{9, model::Labels{{"__name__", "m"}, {"a", "b"}}}}, &series);
  EncodeTombstones(std::vector<RefTombstone>{{1, -100000, 100000}}, &tombstones);
  std::vector<RefSample> s;
  std::vector<RefSeries> r;
  std::vector<RefTombstone> t;
  for (size_t n = 0; n < samples.size(); ++n) {
    EXPECT_FALSE(DecodeSamples(samples.substr(0, n), &s).ok()) << n;
  }
  for (size_t n = 0; n < series.size(); ++n) {
    EXPECT_FALSE(DecodeSeries(series.substr(0, n), &r).ok()) << n;
  }
  for (size_t n = 0; n < tombstones.size(); ++n) {
    EXPECT_FALSE(DecodeTombstones(tombstones.substr(0, n), &t).ok()) << n;
  }
}

struct BadCase {
  std::string name;
  std::string record;
  std::string want;  // substring of the error
};

TEST(WalRecords, InvalidRecordsAreRejectedWithContext) {
  std::string good_samples;
  EncodeSamples(std::vector<RefSample>{{1, 2, 3.0}}, &good_samples);
  const std::vector<BadCase> cases = {
      {"wrong type", std::string("\x01\x00", 2), "type byte is 1, want 2"},
      {"trailing bytes", good_samples + "x", "1 trailing bytes"},
      {"huge count", std::string("\x02\xff\xff\xff\xff\x0f", 6) + std::string(16, '\0'),
       "count 4294967295"},
      {"overlong varint", std::string("\x02") + std::string(11, '\xff'), "varint"},
  };
  std::vector<RefSample> out;
  for (const BadCase& c : cases) {
    absl::Status s = DecodeSamples(c.record, &out);
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want)) << c.name;
  }
}

TEST(WalRecords, SeriesWithUnsortedOrEmptyLabelsAreRejected) {
  const std::vector<BadCase> cases = {
      // count 1, ref 1, 2 labels: "b"="" then "a"="" (out of order).
      {"unsorted", std::string("\x01\x01\x01\x02\x01" "b" "\x00" "\x01" "a" "\x00", 11),
       "not strictly sorted"},
      {"duplicate", std::string("\x01\x01\x01\x02\x01" "a" "\x00" "\x01" "a" "\x00", 11),
       "not strictly sorted"},
      {"no labels", std::string("\x01\x01\x01\x00\x00\x00\x00", 7), "has no labels"},
      {"empty name", std::string("\x01\x01\x01\x01\x00\x01x", 7), "empty name"},
  };
  std::vector<RefSeries> out;
  for (const BadCase& c : cases) {
    absl::Status s = DecodeSeries(c.record, &out);
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want)) << c.name << ": " << s;
  }
}

}  // namespace
}  // namespace vigil::storage::wal
