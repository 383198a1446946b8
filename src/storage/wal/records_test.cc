#include "storage/wal/records.h"

#include <bit>
#include <cmath>
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
      // Values near the edges of the decimal kinds of v2.
      {4, 0, 9.2e18},
      {5, 0, -9.2e18},
      {6, 0, 9223372036854775807.0},
      {7, 0, -9223372036854775808.0},
      {8, 0, 0.1},
      {9, 0, -0.000000001},
      {10, 0, 1e-300},
      {11, 0, 123456789.123},
      {12, 0, 0.1 + 0.2},
      {13, 0, 0.1 + 0.2},
      {13, 0, -0.0},
      {13, 0, 0.0},
      {13, 0, 4503599627370497.0},
      {13, 0, std::numeric_limits<double>::max()},
      {13, 0, std::numeric_limits<double>::lowest()},
  };
  for (bool v1 : {false, true}) {
    std::string rec;
    if (v1) {
      EncodeSamplesV1(in, &rec);
      EXPECT_EQ(GetRecordType(rec), RecordType::kSamples);
    } else {
      EncodeSamples(in, &rec);
      EXPECT_EQ(GetRecordType(rec), RecordType::kSamplesV2);
    }
    std::vector<RefSample> out;
    ASSERT_TRUE(DecodeSamples(rec, &out).ok()) << v1;
    ASSERT_EQ(out, in) << v1;
    EXPECT_EQ(std::bit_cast<uint64_t>(out[2].v), model::kStaleNaNBits);
  }
}

// A samples v1 record as written before v2 existed (refs 5 and 6, t 1000 and 1015, values
// 1.5 and NaN): logs written then must stay readable.
TEST(WalRecords, SamplesV1GoldenRecordStaysReadable) {
  const std::string rec(
      "\x02\x02"
      "\x00\x00\x00\x00\x00\x00\x00\x05"
      "\x00\x00\x00\x00\x00\x00\x03\xe8"
      "\x00\x00\x3f\xf8\x00\x00\x00\x00\x00\x00"
      "\x02\x1e\x7f\xf0\x00\x00\x00\x00\x00\x02",
      38);
  std::vector<RefSample> out;
  ASSERT_TRUE(DecodeSamples(rec, &out).ok());
  ASSERT_EQ(out, (std::vector<RefSample>{{5, 1000, 1.5}, {6, 1015, Bits(model::kStaleNaNBits)}}));
  std::string again;
  EncodeSamplesV1(out, &again);
  EXPECT_EQ(again, rec);
}

// A samples v2 record written by hand from docs/format/wal.md: a zero (kind "same" against
// the initial +0.0), a decimal 12345 / 10^2, and after a ref gap of 10 and a time step of
// 15 s the staleness marker stored raw.
TEST(WalRecords, SamplesV2GoldenRecordMatchesTheSpec) {
  const std::string rec(
      "\x05\x03\x64\x80\xa0\xab\xfe\xf9\x62"
      "\x00"
      "\x03\xf2\xc0\x01"
      "\xb4\x09\xb0\xea\x01\x7f\xf0\x00\x00\x00\x00\x00\x02",
      27);
  std::vector<RefSample> out;
  ASSERT_TRUE(DecodeSamples(rec, &out).ok());
  ASSERT_EQ(out, (std::vector<RefSample>{{100, 1700000000000, 0.0},
                                         {101, 1700000000000, 123.45},
                                         {111, 1700000015000, Bits(model::kStaleNaNBits)}}));
  std::string again;
  EncodeSamples(out, &again);
  EXPECT_EQ(again, rec);
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

// An exemplars record written by hand from docs/format/wal.md (ref 7, t 1000, value 1.5,
// {trace_id="abc"}): the DB replays logs in this format into the exemplar store.
TEST(WalRecords, ExemplarsGoldenRecordMatchesTheSpec) {
  const std::string rec(
      "\x04\x01\x07\xd0\x0f"
      "\x3f\xf8\x00\x00\x00\x00\x00\x00"
      "\x01\x08" "trace_id" "\x03" "abc",
      27);
  std::vector<RefExemplar> out;
  ASSERT_TRUE(DecodeExemplars(rec, &out).ok());
  ASSERT_EQ(out, (std::vector<RefExemplar>{{7, 1000, 1.5, model::Labels{{"trace_id", "abc"}}}}));
  std::string again;
  EncodeExemplars(out, &again);
  EXPECT_EQ(again, rec);
}

TEST(WalRecords, MalformedExemplarsRecordsNameWhatBroke) {
  const struct {
    std::string rec;
    std::string want;
  } cases[] = {
      {std::string("\x04\xff\xff\xff\xff\x0f", 6), "count 4294967295 needs"},
      {std::string("\x04\x01\x07\x00" "\x00\x00\x00\x00\x00\x00\x00\x00" "\x02\x01" "b" "\x00\x01" "a" "\x00", 19),
       "exemplar 1 of 1: label names not strictly sorted at label 2"},
      {std::string("\x04\x01\x07\x00" "\x00\x00\x00\x00\x00\x00\x00\x00" "\x01\x00\x01" "v", 16),
       "exemplar 1 of 1: label 1 has an empty name"},
      {std::string("\x04\x01\x07\x00" "\x00\x00\x00\x00\x00\x00\x00\x00" "\x05\x01" "a" "\x00", 16),
       "exemplar 1 of 1: 5 labels cannot fit"},
      {std::string("\x01\x00", 2), "type byte is 1, want 4"},
  };
  std::vector<RefExemplar> out;
  for (const auto& c : cases) {
    absl::Status s = DecodeExemplars(c.rec, &out);
    EXPECT_FALSE(s.ok()) << c.want;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want));
  }
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
      switch (rng() % 4) {
        case 0: s.v = Bits(rng()); break;
        case 1: s.v = static_cast<double>(static_cast<int64_t>(rng()) >> (rng() % 64)); break;
        case 2: s.v = static_cast<double>(static_cast<int64_t>(rng() % 2000000) - 1000000) /
                      std::pow(10.0, static_cast<int>(rng() % 20)); break;
        default: s.v = rng() % 2 ? 0.0 : 1.0; break;
      }
    }
    EncodeSamples(in, &rec);
    ASSERT_TRUE(DecodeSamples(rec, &out).ok());
    ASSERT_EQ(out, in);
  }
}

TEST(WalRecords, TypicalSampleBatchIsCompact) {
  // One commit of node_exporter-like series at one scrape time: zeros and constants,
  // integer counters, values with two decimals.
  std::vector<RefSample> in(2000);
  for (size_t i = 0; i < in.size(); ++i) {
    double v = i % 3 == 0 ? 0.0 : i % 3 == 1 ? 123456789.0 + i : 4242.25 + i;
    in[i] = {1000 + i, 1700000000000 + 15000, v};
  }
  std::string rec;
  EncodeSamples(in, &rec);
  // A one-byte header per sample plus 0-5 value bytes; v1 took 10.
  EXPECT_LT(rec.size(), in.size() * 4);
  std::string v1;
  EncodeSamplesV1(in, &v1);
  EXPECT_GT(v1.size(), in.size() * 9);
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
      {"v2 huge count", std::string("\x05\xff\xff\xff\xff\x0f\x01\x00", 8), "count 4294967295"},
      // count 1, base ref 1, base t 0, header with value kind 21.
      {"v2 unknown value kind", std::string("\x05\x01\x01\x00\x15", 5), "unknown value kind 21"},
      {"v2 truncated raw value", std::string("\x05\x01\x01\x00\x14\x00\x00", 7), "truncated"},
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
