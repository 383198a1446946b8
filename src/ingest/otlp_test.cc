// OTLP mapping: names with units and _total, job/instance/target_info, histograms,
// summaries, staleness flags, and what is refused.
#include "ingest/otlp.h"

#include <cmath>

#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "ingest/test_util.h"
#include "model/sample.h"
#include "otlp_metrics.pb.h"

namespace vigil::ingest {
namespace {

using ::testing::HasSubstr;
using Samples = std::vector<std::pair<int64_t, double>>;
constexpr int64_t kNow = 1'700'000'000'000;
constexpr uint64_t kT = 1'700'000'000'000'000'000ull;

TEST(OtlpMetricName, AddsUnitsAndTotalAsPrometheusDoes) {
  struct Case {
    const char* name;
    const char* unit;
    OtlpKind kind;
    const char* want;
  } cases[] = {
      {"http.server.duration", "ms", OtlpKind::kOther, "http_server_duration_milliseconds"},
      {"http.server.requests", "{requests}", OtlpKind::kCounter, "http_server_requests_total"},
      {"system.network.io", "By", OtlpKind::kCounter, "system_network_io_bytes_total"},
      {"throughput", "By/s", OtlpKind::kGauge, "throughput_bytes_per_second"},
      {"cpu.utilization", "1", OtlpKind::kGauge, "cpu_utilization_ratio"},
      {"cpu.count", "1", OtlpKind::kCounter, "cpu_count_total"},
      {"latency_seconds", "s", OtlpKind::kOther, "latency_seconds"},
      {"requests_total", "", OtlpKind::kCounter, "requests_total"},
      {"1xx", "", OtlpKind::kGauge, "_1xx"},
  };
  for (const auto& c : cases) EXPECT_EQ(OtlpMetricName(c.name, c.unit, c.kind), c.want) << c.name;
}

otlp::KeyValue* Attr(google::protobuf::RepeatedPtrField<otlp::KeyValue>* a, const char* k, const char* v) {
  auto* kv = a->Add();
  kv->set_key(k);
  kv->mutable_value()->set_string_value(v);
  return kv;
}

TEST(DecodeOtlp, MapsResourceSumsGaugesHistogramsAndSummaries) {
  otlp::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  Attr(rm->mutable_resource()->mutable_attributes(), "service.name", "shop");
  Attr(rm->mutable_resource()->mutable_attributes(), "service.namespace", "prod");
  Attr(rm->mutable_resource()->mutable_attributes(), "service.instance.id", "pod-1");
  Attr(rm->mutable_resource()->mutable_attributes(), "host.name", "h1");
  auto* sm = rm->add_scope_metrics();

  auto* sum = sm->add_metrics();
  sum->set_name("http.requests");
  sum->set_description("Requests served.");
  sum->mutable_sum()->set_is_monotonic(true);
  sum->mutable_sum()->set_aggregation_temporality(otlp::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* p = sum->mutable_sum()->add_data_points();
  p->set_time_unix_nano(kT);
  p->set_as_int(7);
  Attr(p->mutable_attributes(), "http.method", "GET");

  auto* g = sm->add_metrics();
  g->set_name("queue.depth");
  auto* gp = g->mutable_gauge()->add_data_points();
  gp->set_time_unix_nano(kT);
  gp->set_as_double(2.5);
  auto* gs = g->mutable_gauge()->add_data_points();
  gs->set_time_unix_nano(kT + 1'000'000'000);
  gs->set_flags(1);

  auto* h = sm->add_metrics();
  h->set_name("rpc.duration");
  h->set_unit("s");
  h->mutable_histogram()->set_aggregation_temporality(otlp::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* hp = h->mutable_histogram()->add_data_points();
  hp->set_time_unix_nano(kT);
  hp->set_count(6);
  hp->set_sum(3.5);
  hp->add_explicit_bounds(0.1);
  hp->add_explicit_bounds(1);
  hp->add_bucket_counts(1);
  hp->add_bucket_counts(2);
  hp->add_bucket_counts(3);

  auto* s = sm->add_metrics();
  s->set_name("size");
  auto* sp = s->mutable_summary()->add_data_points();
  sp->set_time_unix_nano(kT);
  sp->set_count(2);
  sp->set_sum(10);
  auto* q = sp->add_quantile_values();
  q->set_quantile(0.5);
  q->set_value(4);

  auto* delta = sm->add_metrics();
  delta->set_name("d");
  delta->mutable_sum()->set_aggregation_temporality(otlp::AGGREGATION_TEMPORALITY_DELTA);
  delta->mutable_sum()->add_data_points()->set_as_int(1);

  MemDb db;
  DecodedBatch b;
  ASSERT_TRUE(DecodeOtlp(req.SerializeAsString(), kNow, &b).ok());
  IngestMetrics m(nullptr);
  IngestOptions o;
  o.now_ms = [] { return kNow + 60'000; };
  BatchWriter w(db.db(), storage::kDefaultTenant, "otlp", &m, o);
  WriteResult r = WriteBatch(&b, &w);
  EXPECT_EQ(r.samples_refused, 1);
  EXPECT_THAT(r.message, HasSubstr("delta temporality"));
  auto d = db.Dump();
  const std::string ji = R"(instance="pod-1", job="prod/shop")";
  EXPECT_EQ(d["http_requests_total{http_method=\"GET\", " + ji + "}"], (Samples{{kNow, 7}}));
  auto qd = d["queue_depth{" + ji + "}"];
  ASSERT_EQ(qd.size(), 2u);
  EXPECT_EQ(qd[0], (std::pair<int64_t, double>{kNow, 2.5}));
  EXPECT_TRUE(model::IsStaleNaN(qd[1].second));
  EXPECT_EQ(d["rpc_duration_seconds_bucket{" + ji + ", le=\"0.1\"}"], (Samples{{kNow, 1}}));
  EXPECT_EQ(d["rpc_duration_seconds_bucket{" + ji + ", le=\"1\"}"], (Samples{{kNow, 3}}));
  EXPECT_EQ(d["rpc_duration_seconds_bucket{" + ji + ", le=\"+Inf\"}"], (Samples{{kNow, 6}}));
  EXPECT_EQ(d["rpc_duration_seconds_sum{" + ji + "}"], (Samples{{kNow, 3.5}}));
  EXPECT_EQ(d["rpc_duration_seconds_count{" + ji + "}"], (Samples{{kNow, 6}}));
  EXPECT_EQ(d["size{" + ji + ", quantile=\"0.5\"}"], (Samples{{kNow, 4}}));
  EXPECT_EQ(d["size_count{" + ji + "}"], (Samples{{kNow, 2}}));
  EXPECT_EQ(d["target_info{host_name=\"h1\", " + ji + "}"], (Samples{{kNow + 1000, 1}}));
  bool found = false;
  for (const auto& md : b.metadata) {
    if (md.metric == "http_requests_total") {
      EXPECT_EQ(md.type, "counter");
      EXPECT_EQ(md.help, "Requests served.");
      found = true;
    }
  }
  EXPECT_TRUE(found);
}

TEST(DecodeOtlp, RejectsGarbage) {
  DecodedBatch b;
  EXPECT_FALSE(DecodeOtlp("\xff\xff\xff", kNow, &b).ok());
  for (std::string_view bad : {"", "[", "{\"resourceMetrics\":[7]}", "\xff\xff"}) {
    absl::Status st = DecodeOtlpJson(bad, kNow, &b);
    EXPECT_FALSE(st.ok()) << bad;
    EXPECT_THAT(std::string(st.message()), HasSubstr("invalid JSON")) << bad;
  }
}

// The JSON encoding of a request (as protobuf's JSON mapping prints it, with
// lowerCamelCase names and 64-bit integers as strings) decodes to the very same samples
// and metadata as its protobuf encoding.
TEST(DecodeOtlpJson, MapsLikeTheProtobufEncoding) {
  otlp::ExportMetricsServiceRequest req;
  auto* rm = req.add_resource_metrics();
  Attr(rm->mutable_resource()->mutable_attributes(), "service.name", "shop");
  auto* sm = rm->add_scope_metrics();
  auto* sum = sm->add_metrics();
  sum->set_name("http.requests");
  sum->mutable_sum()->set_is_monotonic(true);
  sum->mutable_sum()->set_aggregation_temporality(otlp::AGGREGATION_TEMPORALITY_CUMULATIVE);
  auto* p = sum->mutable_sum()->add_data_points();
  p->set_time_unix_nano(kT);
  p->set_as_int(int64_t{1} << 60);
  Attr(p->mutable_attributes(), "http.method", "GET");
  auto* s = sm->add_metrics();
  s->set_name("size");
  s->set_unit("By");
  auto* sp = s->mutable_summary()->add_data_points();
  sp->set_time_unix_nano(kT);
  sp->set_count(2);
  sp->set_sum(10);
  auto* q = sp->add_quantile_values();
  q->set_quantile(0.99);
  q->set_value(4);

  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(req, &json).ok());
  ASSERT_THAT(json, HasSubstr("\"asInt\":\"1152921504606846976\""));
  DecodedBatch from_pb, from_json;
  ASSERT_TRUE(DecodeOtlp(req.SerializeAsString(), kNow, &from_pb).ok());
  ASSERT_TRUE(DecodeOtlpJson(json, kNow, &from_json).ok());
  ASSERT_EQ(from_json.samples.size(), from_pb.samples.size());
  ASSERT_EQ(from_pb.samples.size(), 4u);  // the counter, one quantile, _sum and _count
  for (size_t i = 0; i < from_pb.samples.size(); ++i) {
    EXPECT_EQ(from_json.samples[i].labels, from_pb.samples[i].labels) << i;
    EXPECT_EQ(from_json.samples[i].t, from_pb.samples[i].t) << i;
    EXPECT_EQ(from_json.samples[i].v, from_pb.samples[i].v) << i;
  }
  EXPECT_EQ(from_json.metadata, from_pb.metadata);
}

TEST(OtlpResponse, CarriesPartialSuccess) {
  otlp::ExportMetricsServiceResponse r;
  ASSERT_TRUE(r.ParseFromString(OtlpResponse(3, "bad")));
  EXPECT_EQ(r.partial_success().rejected_data_points(), 3);
  EXPECT_TRUE(OtlpResponse(0, "").empty());
  EXPECT_EQ(OtlpResponse(3, "bad", /*json=*/true),
            R"({"partialSuccess":{"rejectedDataPoints":"3","errorMessage":"bad"}})");
  EXPECT_EQ(OtlpResponse(0, "", /*json=*/true), "{}");
}

}  // namespace
}  // namespace vigil::ingest
