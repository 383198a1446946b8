#include "ingest/remote_write_decoder.h"

#include <bit>
#include <cmath>
#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/labels.h"
#include "remote_write.pb.h"
#include "snappy.h"

namespace vigil::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Protobuf wire-format helpers to build malformed inputs byte by byte.
std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}
std::string Tag(uint32_t field, uint32_t wire_type) { return Varint(field << 3 | wire_type); }
std::string Len(uint32_t field, const std::string& payload) {
  return Tag(field, 2) + Varint(payload.size()) + payload;
}
std::string Fixed64(uint32_t field, uint64_t v) {
  std::string out = Tag(field, 1);
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
  return out;
}
std::string LabelMsg(const std::string& n, const std::string& v) { return Len(1, n) + Len(2, v); }
std::string SampleMsg(double v, int64_t t) {
  return Fixed64(1, std::bit_cast<uint64_t>(v)) + Tag(2, 0) + Varint(static_cast<uint64_t>(t));
}

prometheus::WriteRequest TwoSeries() {
  prometheus::WriteRequest req;
  auto* ts = req.add_timeseries();
  auto* l = ts->add_labels();
  l->set_name("__name__");
  l->set_value("up");
  l = ts->add_labels();
  l->set_name("job");
  l->set_value("node");
  auto* s = ts->add_samples();
  s->set_value(1);
  s->set_timestamp(1000);
  s = ts->add_samples();
  s->set_value(0.5);
  s->set_timestamp(2000);
  ts = req.add_timeseries();
  l = ts->add_labels();
  l->set_name("__name__");
  l->set_value("temp_celsius");
  s = ts->add_samples();
  s->set_value(-3.25);
  s->set_timestamp(-5);  // negative timestamps are 10-byte varints
  auto* ex = ts->add_exemplars();
  ex->add_labels()->set_name("trace_id");
  ex->mutable_labels(0)->set_value("abc");
  ex->set_value(2);
  ex->set_timestamp(1500);
  auto* md = req.add_metadata();
  md->set_type(prometheus::MetricMetadata::GAUGE);
  md->set_metric_family_name("temp_celsius");
  md->set_help("Temperature.");
  md->set_unit("celsius");
  return req;
}

// The labels of every series, in order.
std::vector<LabelView> AllLabels(const WriteRequestView& v) {
  std::vector<LabelView> out;
  for (const SeriesView& s : v.series) AppendLabels(v, s, &out);
  return out;
}

std::vector<std::string> Names(const std::vector<LabelView>& ls) {
  std::vector<std::string> out;
  for (const LabelView& l : ls) out.push_back(std::string(l.name) + "=" + std::string(l.value));
  return out;
}

TEST(DecodeWriteRequest, ReadsWhatLibprotobufWrites) {
  std::string bytes = TwoSeries().SerializeAsString();
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  ASSERT_EQ(v.series.size(), 2u);
  std::vector<LabelView> first, second;
  AppendLabels(v, v.series[0], &first);
  AppendLabels(v, v.series[1], &second);
  EXPECT_THAT(Names(first), ElementsAre("__name__=up", "job=node"));
  EXPECT_THAT(Names(second), ElementsAre("__name__=temp_celsius"));
  ASSERT_EQ(v.samples.size(), 3u);
  EXPECT_EQ(v.samples[1], (model::Sample{2000, 0.5}));
  EXPECT_EQ(v.samples[2], (model::Sample{-5, -3.25}));
  EXPECT_EQ(v.series[1].samples_begin, 2u);
  EXPECT_EQ(v.series[1].exemplars, 1u);
  ASSERT_EQ(v.exemplar_labels.size(), 1u);
  EXPECT_EQ(v.exemplar_labels[0].value, "abc");
  ASSERT_EQ(v.exemplars.size(), 1u);
  EXPECT_EQ(v.exemplars[0].series, 1u);
  EXPECT_EQ(v.exemplars[0].labels_begin, 0u);
  EXPECT_EQ(v.exemplars[0].labels_end, 1u);
  EXPECT_EQ(v.exemplars[0].value, 2.0);
  EXPECT_EQ(v.exemplars[0].t, 1500);
  ASSERT_EQ(v.metadata.size(), 1u);
  EXPECT_EQ(v.metadata[0].type, 2);
  EXPECT_EQ(v.metadata[0].help, "Temperature.");
  EXPECT_EQ(v.metadata[0].unit, "celsius");
}

TEST(DecodeWriteRequest, PointsIntoTheInputWithoutCopying) {
  std::string bytes = TwoSeries().SerializeAsString();
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  const char* begin = bytes.data();
  const char* end = begin + bytes.size();
  for (const auto& l : AllLabels(v)) {
    EXPECT_GE(l.name.data(), begin);
    EXPECT_LE(l.value.data() + l.value.size(), end);
  }
}

TEST(DecodeWriteRequest, KeepsStaleNaNBitsExactly) {
  std::string bytes = Len(1, Len(1, LabelMsg("__name__", "x")) +
                                 Len(2, SampleMsg(model::StaleNaN(), 7)));
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  ASSERT_EQ(v.samples.size(), 1u);
  EXPECT_TRUE(model::IsStaleNaN(v.samples[0].v));
}

TEST(DecodeWriteRequest, EmptyInputIsAnEmptyRequest) {
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest("", &v).ok());
  EXPECT_TRUE(v.series.empty());
}

TEST(DecodeWriteRequest, SkipsUnknownFieldsOfEveryWireTypeIncludingGroups) {
  std::string unknown = Tag(9, 0) + Varint(300) + Fixed64(10, 1) + Len(11, "zz") + Tag(12, 5) +
                        "abcd" + Tag(13, 3) + Tag(1, 0) + Varint(1) + Tag(13, 4);
  std::string label = LabelMsg("__name__", "x") + unknown;
  std::string series = Len(1, label) + unknown + Len(2, SampleMsg(1, 2) + unknown);
  std::string bytes = unknown + Len(1, series) + unknown;
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok()) << DecodeWriteRequest(bytes, &v);
  EXPECT_THAT(Names(AllLabels(v)), ElementsAre("__name__=x"));
  EXPECT_EQ(v.samples[0], (model::Sample{2, 1}));
}

TEST(DecodeWriteRequest, TreatsAKnownFieldWithTheWrongWireTypeAsUnknownLikeLibprotobuf) {
  // Sample.value sent as a varint: libprotobuf keeps it as an unknown field, value stays 0.
  std::string bytes = Len(1, Len(2, Tag(1, 0) + Varint(5) + Tag(2, 0) + Varint(9)));
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  EXPECT_EQ(v.samples[0], (model::Sample{9, 0}));
  prometheus::WriteRequest ref;
  ASSERT_TRUE(ref.ParseFromString(bytes));
  EXPECT_EQ(ref.timeseries(0).samples(0).value(), 0);
}

TEST(DecodeWriteRequest, DropsBitsPast64InATenthVarintByteLikeLibprotobuf) {
  std::string bytes =
      Len(1, Len(2, Tag(2, 0) + std::string(9, '\xff') + "\x7f"));
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  prometheus::WriteRequest ref;
  ASSERT_TRUE(ref.ParseFromString(bytes));
  EXPECT_EQ(v.samples[0].t, ref.timeseries(0).samples(0).timestamp());
  EXPECT_EQ(v.samples[0].t, -1);
}

// Found by the fuzzer: libprotobuf drops tag bits past 32 instead of refusing them.
TEST(DecodeWriteRequest, DropsTagBitsPast32LikeLibprotobuf) {
  const std::string bytes("\x31\x9e\x9f\x12\x0a\xf7\x08\x0a\x03\xdd\xfb\xff\xff\x2f\x09\x00\x10\x0a", 18);
  WriteRequestView v;
  prometheus::WriteRequest ref;
  ASSERT_TRUE(ref.ParseFromString(bytes));
  EXPECT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  EXPECT_TRUE(v.series.empty());
}

TEST(DecodeWriteRequest, KeepsLabelOrderWhetherLabelsArePackedOrNot) {
  const std::string a = Len(1, LabelMsg("a", "1"));
  const std::string b = Len(1, LabelMsg("b", "2"));
  // Not in the canonical layout: an unknown field after the value.
  const std::string c = Len(1, LabelMsg("c", "3") + Tag(9, 0) + Varint(1));
  const std::string d = Len(1, LabelMsg("d", "4"));
  // The same label with an over-long (two-byte) tag and length, which libprotobuf accepts.
  const std::string e = std::string("\x8a\x00\x86\x00", 4) + LabelMsg("e", "5");
  const std::string sample = Len(2, SampleMsg(1, 2));
  std::string bytes = Len(1, a + b + sample) +          // packed
                      Len(1, a + b + c + d + sample) +  // unpacked at c
                      Len(1, a + sample + b) +          // unpacked at b: not contiguous
                      Len(1, e + b + sample);           // packed, over-long varints
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok()) << DecodeWriteRequest(bytes, &v);
  ASSERT_EQ(v.series.size(), 4u);
  EXPECT_FALSE(v.series[0].packed_labels.empty());
  EXPECT_TRUE(v.series[1].packed_labels.empty());
  EXPECT_TRUE(v.series[2].packed_labels.empty());
  EXPECT_FALSE(v.series[3].packed_labels.empty());
  std::vector<std::vector<std::string>> got;
  for (const SeriesView& s : v.series) {
    std::vector<LabelView> ls;
    AppendLabels(v, s, &ls);
    got.push_back(Names(ls));
  }
  EXPECT_THAT(got[0], ElementsAre("a=1", "b=2"));
  EXPECT_THAT(got[1], ElementsAre("a=1", "b=2", "c=3", "d=4"));
  EXPECT_THAT(got[2], ElementsAre("a=1", "b=2"));
  EXPECT_THAT(got[3], ElementsAre("e=5", "b=2"));
}

TEST(DecodeWriteRequest, LastValueWinsForRepeatedSingularFields) {
  std::string bytes = Len(1, Len(1, Len(1, "a") + Len(2, "1") + Len(1, "b")));
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  EXPECT_THAT(Names(AllLabels(v)), ElementsAre("b=1"));
}

TEST(DecodeWriteRequest, RejectsMalformedInputWithWhereItBroke) {
  struct Case {
    const char* name;
    std::string bytes;
    const char* want;
  };
  std::string series_ok = Len(1, Len(1, LabelMsg("__name__", "x")));
  std::vector<Case> cases = {
      {"truncated tag varint", "\x8a", "truncated varint at offset 1"},
      {"truncated length varint", Tag(1, 2) + "\xff", "truncated varint"},
      {"length past the end", Tag(1, 2) + Varint(50) + "abc", "length 50 runs past the end"},
      {"length of 2^31", Tag(1, 2) + Varint(1ull << 31), "too large"},
      {"length varint over 5 bytes", Tag(1, 2) + Varint(1ull << 40), "longer than 5 bytes"},
      {"tag varint over 5 bytes", std::string(5, '\x80') + "\x01", "tag longer than 5 bytes"},
      {"varint over 10 bytes", Tag(9, 0) + std::string(10, '\xff') + "\x01",
       "varint longer than 10 bytes"},
      {"wire type 6", Tag(1, 6), "invalid wire type 6"},
      {"wire type 7", Tag(3, 7), "invalid wire type 7"},
      {"field number 0", Tag(0, 0) + Varint(1), "field number 0"},
      {"stray end group", Tag(5, 4), "unexpected end of group 5"},
      {"unterminated group", Tag(5, 3) + Tag(1, 0) + Varint(1), "unterminated group 5"},
      {"mismatched group end", Tag(5, 3) + Tag(6, 4), "group 5 ended by 6"},
      {"truncated fixed64 in sample", Len(1, Len(2, Tag(1, 1) + "abc")),
       "timeseries 0: samples 0: truncated fixed64"},
      {"truncated fixed32", Tag(9, 5) + "ab", "truncated fixed32"},
      {"bad label in second series", series_ok + Len(1, Len(1, Tag(1, 2) + Varint(9))),
       "timeseries 1: labels 0: length 9 runs past the end"},
      {"bad metadata", Len(3, Tag(2, 2)), "metadata 0: truncated varint"},
      {"bad exemplar", Len(1, Len(3, Len(1, "\x0a"))), "exemplars 0: labels 0: truncated"},
  };
  for (const auto& c : cases) {
    WriteRequestView v;
    absl::Status s = DecodeWriteRequest(c.bytes, &v);
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr(c.want)) << c.name;
    // libprotobuf must agree that these are broken.
    prometheus::WriteRequest ref;
    EXPECT_FALSE(ref.ParseFromString(c.bytes)) << c.name;
  }
}

TEST(DecodeWriteRequest, LeavesInvalidUtf8ToPerSeriesValidation) {
  std::string bytes = Len(1, Len(1, LabelMsg("__name__", "bad\xc3(")));
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  std::vector<LabelView> labels = AllLabels(v);
  ASSERT_EQ(labels.size(), 1u);
  EXPECT_EQ(labels[0].value, "bad\xc3(");
  EXPECT_FALSE(model::IsValidUtf8(labels[0].value));
}

TEST(DecodeWriteRequest, HashesIdenticalLabelBytesIdenticallyAndDifferentOnesNot) {
  std::string a = Len(1, LabelMsg("__name__", "x") + LabelMsg("i", "1"));
  std::string b = Len(1, LabelMsg("__name__", "x") + LabelMsg("i", "2"));
  std::string bytes = Len(1, a + Len(2, SampleMsg(1, 1))) + Len(1, b + Len(2, SampleMsg(1, 1))) +
                      Len(1, Len(2, SampleMsg(2, 2)) + a);
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  ASSERT_EQ(v.series.size(), 3u);
  EXPECT_NE(v.series[0].labels_hash_lo, 0u);
  EXPECT_NE(v.series[0].labels_hash_lo, v.series[1].labels_hash_lo);
  EXPECT_EQ(v.series[0].labels_hash_lo, v.series[2].labels_hash_lo);
  EXPECT_EQ(v.series[0].labels_hash_hi, v.series[2].labels_hash_hi);
}

TEST(DecodeWriteRequest, DoesNotHashLabelsSplitByOtherFields) {
  std::string bytes =
      Len(1, Len(1, LabelMsg("__name__", "x")) + Len(2, SampleMsg(1, 1)) + Len(1, LabelMsg("a", "b")));
  WriteRequestView v;
  ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
  EXPECT_EQ(v.series[0].labels_hash_lo | v.series[0].labels_hash_hi, 0u);
  EXPECT_EQ(v.series[0].labels_end - v.series[0].labels_begin, 2u);
}

// Random messages built with libprotobuf decode to the same content.
TEST(DecodeWriteRequest, AgreesWithLibprotobufOnRandomMessages) {
  std::mt19937_64 rng(42);
  auto rnd_str = [&](int max) {
    std::string s(rng() % max, 'a');
    for (auto& c : s) c = static_cast<char>('a' + rng() % 26);
    return s;
  };
  for (int iter = 0; iter < 200; ++iter) {
    prometheus::WriteRequest req;
    int nseries = static_cast<int>(rng() % 20);
    for (int i = 0; i < nseries; ++i) {
      auto* ts = req.add_timeseries();
      int nl = static_cast<int>(rng() % 6);
      for (int j = 0; j < nl; ++j) {
        auto* l = ts->add_labels();
        l->set_name(rnd_str(12));
        l->set_value(rnd_str(200));
      }
      int ns = static_cast<int>(rng() % 5);
      for (int j = 0; j < ns; ++j) {
        auto* s = ts->add_samples();
        s->set_value(std::bit_cast<double>(rng()));
        s->set_timestamp(static_cast<int64_t>(rng()));
      }
    }
    std::string bytes = req.SerializeAsString();
    WriteRequestView v;
    ASSERT_TRUE(DecodeWriteRequest(bytes, &v).ok());
    ASSERT_EQ(v.series.size(), static_cast<size_t>(req.timeseries_size()));
    for (int i = 0; i < req.timeseries_size(); ++i) {
      const auto& ts = req.timeseries(i);
      const SeriesView& sv = v.series[i];
      std::vector<LabelView> labels;
      AppendLabels(v, sv, &labels);
      ASSERT_EQ(labels.size(), static_cast<size_t>(ts.labels_size()));
      for (int j = 0; j < ts.labels_size(); ++j) {
        EXPECT_EQ(labels[j].name, ts.labels(j).name());
        EXPECT_EQ(labels[j].value, ts.labels(j).value());
      }
      ASSERT_EQ(sv.samples_end - sv.samples_begin, static_cast<uint32_t>(ts.samples_size()));
      for (int j = 0; j < ts.samples_size(); ++j) {
        EXPECT_EQ(v.samples[sv.samples_begin + j],
                  (model::Sample{ts.samples(j).timestamp(), ts.samples(j).value()}));
      }
    }
  }
}

TEST(SnappyDecompress, RoundTripsAndReusesTheBuffer) {
  std::string raw = TwoSeries().SerializeAsString();
  std::string compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  std::string out = "old contents that are longer than nothing";
  ASSERT_TRUE(SnappyDecompress(compressed, 1 << 20, &out).ok());
  EXPECT_EQ(out, raw);
}

TEST(SnappyDecompress, RejectsCorruptData) {
  std::string raw(1000, 'x');
  std::string compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  struct Case {
    const char* name;
    std::string bytes;
  } cases[] = {
      {"empty", ""},
      {"bad length header", "\xff\xff\xff\xff\xff\xff"},
      {"truncated", compressed.substr(0, compressed.size() / 2)},
      {"not snappy at all", "hello, this is plain text and not snappy"},
  };
  for (const auto& c : cases) {
    std::string out;
    absl::Status s = SnappyDecompress(c.bytes, 1 << 20, &out);
    EXPECT_FALSE(s.ok()) << c.name;
    EXPECT_THAT(std::string(s.message()), HasSubstr("snappy")) << c.name;
  }
}

TEST(SnappyDecompress, RefusesOutputOverTheLimitBeforeAllocating) {
  std::string raw(1 << 20, 'x');
  std::string compressed;
  snappy::Compress(raw.data(), raw.size(), &compressed);
  std::string out;
  absl::Status s = SnappyDecompress(compressed, 1000, &out);
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("exceeds the limit of 1000 bytes"));
  EXPECT_EQ(out.capacity() < 1000000, true);
}

}  // namespace
}  // namespace vigil::ingest
