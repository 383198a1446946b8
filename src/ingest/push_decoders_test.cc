// The JSON, Influx and text decoders end to end through BatchWriter into a real DB, plus
// their malformed inputs.
#include "ingest/push_decoders.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/test_util.h"

namespace vigil::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using Samples = std::vector<std::pair<int64_t, double>>;

constexpr int64_t kNow = 1'700'000'000'000;

IngestOptions Opts() {
  IngestOptions o;
  o.now_ms = [] { return kNow; };
  return o;
}

WriteResult Store(MemDb* db, DecodedBatch* batch, std::string_view protocol = "test") {
  IngestMetrics m(nullptr);
  IngestOptions o = Opts();
  BatchWriter w(db->db(), storage::kDefaultTenant, protocol, &m, o);
  return WriteBatch(batch, &w);
}

TEST(DecodeJson, StoresSecondsAndMillisecondsByTheDocumentedRule) {
  MemDb db;
  DecodedBatch b;
  ASSERT_TRUE(DecodeJson(R"([
    {"name": "temp", "labels": {"room": "a"}, "timestamp": 1700000000, "value": 21.5},
    {"name": "temp", "labels": {"room": "a"}, "timestamp": 1700000001500, "value": "22"},
    {"name": "temp", "labels": {"room": "b"}, "timestamp": 1700000002.25, "value": "NaN"},
    {"name": "up", "value": 1}
  ])", kNow, &b).ok());
  WriteResult r = Store(&db, &b);
  EXPECT_EQ(r.http_status, 204) << r.message;
  auto d = db.Dump();
  EXPECT_EQ(d["temp{room=\"a\"}"], (Samples{{1700000000000, 21.5}, {1700000001500, 22}}));
  ASSERT_EQ(d["temp{room=\"b\"}"].size(), 1u);
  EXPECT_EQ(d["temp{room=\"b\"}"][0].first, 1700000002250);
  EXPECT_TRUE(std::isnan(d["temp{room=\"b\"}"][0].second));
  EXPECT_EQ(d["up{}"], (Samples{{kNow, 1}}));
}

TEST(DecodeJson, AcceptsASingleObject) {
  DecodedBatch b;
  ASSERT_TRUE(DecodeJson(R"({"name":"x","value":2,"timestamp":null})", kNow, &b).ok());
  ASSERT_EQ(b.samples.size(), 1u);
  EXPECT_EQ(b.samples[0].t, kNow);
}

TEST(DecodeJson, RejectsMalformedDocuments) {
  const std::pair<const char*, const char*> cases[] = {
      {"", "cannot parse JSON"},
      {"[{\"name\": \"x\"", "cannot parse"},
      {"42", "expected an array"},
      {"[1]", "#0: expected an object"},
      {"[{\"value\": 1}]", "#0: missing \"name\""},
      {"[{\"name\": \"x\"}]", "#0: missing \"value\""},
      {"[{\"name\": 1, \"value\": 1}]", "\"name\" must be a string"},
      {"[{\"name\": \"x\", \"value\": true}]", "\"value\" must be a number or a string"},
      {"[{\"name\": \"x\", \"value\": \"abc\"}]", "invalid \"value\" \"abc\""},
      {"[{\"name\": \"x\", \"value\": 1, \"labels\": {\"a\": 1}}]", "label \"a\" must be a string"},
      {"[{\"name\": \"x\", \"value\": 1, \"labels\": []}]", "\"labels\" must be an object"},
      {"[{\"name\": \"x\", \"value\": 1, \"timestamp\": \"2024-01-01\"}]", "\"timestamp\" must be a number"},
      {"[{\"name\":\"x\",\"value\":1},{\"name\":\"y\"}]", "#1: missing \"value\""},
      // Found by json_ingest_fuzzer: malformed input where "labels" or "timestamp" may be
      // null used to throw out of simdjson instead of failing.
      {"[{\"name\":\"t\",\"labels\":name:\"b\"}]", "cannot parse metric #0"},
      {"[{\"name\":\"t\",\"timestamp\":nul}]", "cannot parse metric #0"},
  };
  for (const auto& [in, want] : cases) {
    DecodedBatch b;
    absl::Status st = DecodeJson(in, kNow, &b);
    EXPECT_FALSE(st.ok()) << in;
    EXPECT_THAT(std::string(st.message()), HasSubstr(want)) << in;
  }
}

TEST(DecodeJson, RefusesBadSeriesButStoresTheRest) {
  MemDb db;
  DecodedBatch b;
  ASSERT_TRUE(DecodeJson(R"([
    {"name": "1bad", "value": 1},
    {"name": "ok", "labels": {"__tenant__": "x"}, "value": 1},
    {"name": "ok", "labels": {"bad-label": "x"}, "value": 1},
    {"name": "ok", "value": 1, "timestamp": 1e300},
    {"name": "future", "value": 1, "timestamp": 1800000000},
    {"name": "ok", "value": 5}
  ])", kNow, &b).ok());
  WriteResult r = Store(&db, &b);
  EXPECT_EQ(r.http_status, 400);
  EXPECT_EQ(r.samples_stored, 1);
  EXPECT_EQ(r.samples_refused, 5);
  EXPECT_THAT(r.message, HasSubstr("3 invalid_labels"));
  EXPECT_THAT(r.message, HasSubstr("1 invalid_timestamp"));
  EXPECT_THAT(r.message, HasSubstr("1 too_far_in_future"));
  EXPECT_THAT(r.message, HasSubstr("invalid metric name \"1bad\""));
  EXPECT_EQ(db.Dump()["ok{}"], (Samples{{kNow, 5}}));
}

TEST(BatchWriter, ReportsOutOfOrderAndDuplicateSamplesByName) {
  MemDb db;
  DecodedBatch first;
  ASSERT_TRUE(DecodeJson(R"([{"name": "m", "timestamp": 1700000000000, "value": 1}])", kNow, &first).ok());
  ASSERT_EQ(Store(&db, &first).http_status, 204);
  DecodedBatch b;
  ASSERT_TRUE(DecodeJson(R"([
    {"name": "m", "timestamp": 1700000001000, "value": 1},
    {"name": "m", "timestamp": 1699999000000, "value": 2},
    {"name": "m", "timestamp": 1700000000000, "value": 3}
  ])", kNow, &b).ok());  // the second and third are older than the stored sample
  WriteResult r = Store(&db, &b);
  EXPECT_EQ(r.samples_stored, 1);
  EXPECT_THAT(r.message, HasSubstr("1 out_of_order"));
  EXPECT_THAT(r.message, HasSubstr("1 duplicate"));
  EXPECT_THAT(r.message, HasSubstr("series m{}"));
}

TEST(DecodeInflux, MapsFieldsTagsPrecisionAndEscapes) {
  MemDb db;
  DecodedBatch b;
  InfluxOptions o;
  o.precision = InfluxPrecision::kSeconds;
  o.extra_labels.push_back({"db", "telegraf"});
  ASSERT_TRUE(DecodeInflux("cpu,host=a,cpu=cpu-total usage_idle=98.5,usage_user=1i 1700000000\n"
                           "# comment\n\n"
                           "disk\\ io,path=/var\\,log,my\\ tag=x\\=y reads=5u,ok=true,msg=\"hi \\\"x\\\"\" 1700000001\n"
                           "mem free=3e3\n",
                           o, kNow, &b)
                  .ok());
  WriteResult r = Store(&db, &b);
  EXPECT_EQ(r.samples_stored, 5);
  EXPECT_EQ(r.samples_refused, 1);  // the string field
  EXPECT_THAT(r.message, HasSubstr("unsupported_type"));
  auto d = db.Dump();
  EXPECT_EQ(d[R"(cpu_usage_idle{cpu="cpu-total", db="telegraf", host="a"})"], (Samples{{1700000000000, 98.5}}));
  EXPECT_EQ(d[R"(cpu_usage_user{cpu="cpu-total", db="telegraf", host="a"})"], (Samples{{1700000000000, 1}}));
  EXPECT_EQ(d[R"(disk_io_reads{db="telegraf", my_tag="x=y", path="/var,log"})"], (Samples{{1700000001000, 5}}));
  EXPECT_EQ(d[R"(disk_io_ok{db="telegraf", my_tag="x=y", path="/var,log"})"], (Samples{{1700000001000, 1}}));
  EXPECT_EQ(d[R"(mem_free{db="telegraf"})"], (Samples{{kNow, 3000}}));
}

TEST(DecodeInflux, ConvertsEveryPrecision) {
  const std::pair<const char*, int64_t> cases[] = {
      {"", 1700000000123}, {"ns", 1700000000123}, {"u", 1700000000123456},
      {"ms", 1700000000123456789}, {"s", 0}, {"h", 0}};
  const std::pair<std::string_view, std::string_view> lines[] = {
      {"", "m v=1 1700000000123456789"},    {"ns", "m v=1 1700000000123456789"},
      {"u", "m v=1 1700000000123456789"},   {"ms", "m v=1 1700000000123"},
      {"s", "m v=1 1700000000"},            {"h", "m v=1 472222"}};
  const int64_t want[] = {1700000000123, 1700000000123, 1700000000123456, 1700000000123,
                          1700000000000, 472222LL * 3600000};
  (void)cases;
  for (size_t i = 0; i < std::size(lines); ++i) {
    auto p = ParseInfluxPrecision(lines[i].first);
    ASSERT_TRUE(p.ok());
    InfluxOptions o;
    o.precision = *p;
    DecodedBatch b;
    ASSERT_TRUE(DecodeInflux(lines[i].second, o, kNow, &b).ok());
    ASSERT_EQ(b.samples.size(), 1u);
    EXPECT_EQ(b.samples[0].t, want[i]) << lines[i].first;
  }
  EXPECT_FALSE(ParseInfluxPrecision("fortnight").ok());
}

TEST(DecodeInflux, RejectsMalformedLinesWithLineAndColumn) {
  const std::pair<const char*, const char*> cases[] = {
      {"cpu", "1:4: missing fields"},
      {",a=b v=1", "1:1: missing measurement"},
      {"cpu,a v=1", "missing '=' after tag key \"a\""},
      {"cpu,a= v=1", "empty value for tag \"a\""},
      {"cpu,=b v=1", "empty tag key"},
      {"cpu v", "missing '=' after field key \"v\""},
      {"cpu v=", "invalid value \"\" for field \"v\""},
      {"cpu v=abc", "invalid value \"abc\""},
      {"cpu v=1.5i", "invalid value \"1.5i\""},
      {"cpu v=\"open", "unterminated string"},
      {"cpu v=1 12x", "invalid timestamp \"12x\""},
      {"cpu v=1 1 2", "unexpected text after the timestamp"},
      {"ok v=1\ncpu v=1,", "2:9: empty field key"},
  };
  for (const auto& [in, want] : cases) {
    DecodedBatch b;
    absl::Status st = DecodeInflux(in, {}, kNow, &b);
    EXPECT_FALSE(st.ok()) << in;
    EXPECT_THAT(std::string(st.message()), HasSubstr(want)) << in;
  }
}

TEST(DecodeText, AppliesDefaultTimestampExtraLabelsAndKeepsMetadata) {
  MemDb db;
  DecodedBatch b;
  TextImportOptions o;
  o.timestamp_ms = 1700000000000;
  o.extra_labels.push_back({"job", "import"});
  o.extra_labels.push_back({"env", "test"});
  ASSERT_TRUE(DecodeText("# HELP reqs Requests.\n# TYPE reqs counter\nreqs{job=\"x\"} 3\nreqs{job=\"y\"} 4 1700000005000\n",
                         o, kNow, &b)
                  .ok());
  ASSERT_EQ(b.metadata.size(), 1u);
  EXPECT_EQ(b.metadata[0], (MetricMetadata{"reqs", "counter", "Requests.", ""}));
  WriteResult r = Store(&db, &b);
  EXPECT_EQ(r.http_status, 204) << r.message;
  auto d = db.Dump();
  // extra_label replaces the job label of both series, so they merge into one series.
  EXPECT_EQ(d[R"(reqs{env="test", job="import"})"], (Samples{{1700000000000, 3}, {1700000005000, 4}}));
}

TEST(DecodeText, RefusesDuplicateLabelNamesAndEmptyLabelSets) {
  MemDb db;
  DecodedBatch b;
  ASSERT_TRUE(DecodeText("m{a=\"1\",a=\"2\"} 1\n", {}, kNow, &b).ok());
  b.samples.emplace_back();  // an empty label set, as a buggy decoder might produce
  WriteResult r = Store(&db, &b);
  EXPECT_EQ(r.samples_refused, 2);
  EXPECT_THAT(r.message, HasSubstr("duplicate label name \"a\""));
  EXPECT_THAT(r.message, HasSubstr("series has no labels"));
}

TEST(DecodeText, ReportsSyntaxErrorsWithTheFormatName) {
  DecodedBatch b;
  absl::Status st = DecodeText("m{a=1} 1\n", {}, kNow, &b);
  EXPECT_THAT(std::string(st.message()), HasSubstr("cannot parse Prometheus text at 1:5:"));
}

TEST(SanitizeName, ReplacesForeignCharacters) {
  EXPECT_EQ(SanitizeName("api.requests-count", false), "api_requests_count");
  EXPECT_EQ(SanitizeName("1st:x", false), "_1st:x");
  EXPECT_EQ(SanitizeName("a:b", true), "a_b");
}

}  // namespace
}  // namespace vigil::ingest
