// The push endpoints through a real server and a real DB: status codes senders rely on,
// Content-Encoding, limits, metadata, and the counters in /metrics.
#include "http/ingest_api.h"

#include "fs/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/test_client.h"
#include "ingest/compress_testutil.h"
#include "model/matcher.h"
#include "storage/db.h"
#include "storage/exemplar/circular_storage.h"

namespace vigil::http {
namespace {

using ::testing::HasSubstr;

using ingest::testutil::Gzip;
using ingest::testutil::Snappy;
using ingest::testutil::Zstd;

class IngestApiTest : public ::testing::Test {
 protected:
  void Start(IngestApiOptions opts = {}) {
    opts.ingest.now_ms = [] { return int64_t{1'700'000'000'000}; };
    api_ = std::make_unique<IngestApi>(std::move(opts), &registry_);
    api_->Register(&router_);
    router_.Handle("GET", "/metrics", [this](const Request&, Response* r) {
      r->Text(200, registry_.Render());
    });
    storage::Options o;
    o.path = "/data";
    o.fs = fs_.get();
    o.background_compaction = false;
    o.exemplars = &exemplars_;
    auto db = storage::DB::Open(o);
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    api_->Attach(db_.get(), db_.get());
    ServerOptions so;
    so.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(so, &router_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    if (server_) server_->Stop();
    if (api_) api_->Detach();
    if (db_) {
      EXPECT_TRUE(db_->Close().ok());
    }
  }
  TestResponse Post(const std::string& target, const std::string& body,
                    std::map<std::string, std::string> headers = {}) {
    return client_->Do("POST", target, body, headers);
  }
  // Number of series named `name` in the default tenant.
  int Series(const std::string& name) {
    auto q = db_->NewQuerier(storage::kDefaultTenant, model::kMinTime, model::kMaxTime);
    model::Matchers ms{model::Matcher::MustMake(model::MatchType::kEqual, "__name__", name)};
    auto ss = (*q)->Select(false, storage::SelectHints{}, ms);
    int n = 0;
    while (ss->Next()) ++n;
    return n;
  }

  metrics::Registry registry_;
  storage::exemplar::CircularExemplarStorage exemplars_{100};
  Router router_{&registry_};
  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
  std::unique_ptr<storage::DB> db_;
  std::unique_ptr<IngestApi> api_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(IngestApiTest, ImportsTextAndServesItsMetadata) {
  Start();
  auto r = Post("/api/v1/import/prometheus?extra_label=job=imp&timestamp=1700000000",
                "# HELP up Whether the target is up.\n# TYPE up gauge\nup{instance=\"a\"} 1\n");
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(Series("up"), 1);
  auto md = client_->Do("GET", "/api/v1/metadata");
  EXPECT_EQ(md.status, 200);
  EXPECT_EQ(md.body,
            R"({"status":"success","data":{"up":[{"type":"gauge","help":"Whether the target is up.","unit":""}]}})");
  EXPECT_EQ(client_->Do("GET", "/api/v1/metadata?metric=nope").body, R"({"status":"success","data":{}})");
}

TEST_F(IngestApiTest, ImportsOpenMetricsByContentType) {
  Start();
  auto r = Post("/api/v1/import/prometheus", "# TYPE c counter\nc_total 3 1700000000.5\n# EOF\n",
                {{"Content-Type", "application/openmetrics-text; version=1.0.0"}});
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(Series("c_total"), 1);
}

TEST_F(IngestApiTest, StoresOpenMetricsExemplarsAndCountsThem) {
  Start();
  auto r = Post("/api/v1/import/prometheus",
                "# TYPE rpc histogram\n"
                "rpc_bucket{le=\"0.5\"} 3 1700000000 # {trace_id=\"t1\"} 0.25 1699999999.5\n"
                "rpc_bucket{le=\"+Inf\"} 4 1700000000 # {trace_id=\"t2\"} 7\n"
                "rpc_count 4 1700000000 # {trace_id=\"c1\"} 4 1700000000\n"
                "rpc_sum 7.25 1700000000\n"
                "# EOF\n",
                {{"Content-Type", "application/openmetrics-text; version=1.0.0"}});
  EXPECT_EQ(r.status, 204) << r.body;
  // An exemplar older than its series' newest is refused; the request still succeeds.
  r = Post("/api/v1/import/prometheus",
           "rpc_count 5 1700000001 # {trace_id=\"c0\"} 1 1699999000\n# EOF\n",
           {{"Content-Type", "application/openmetrics-text; version=1.0.0"}});
  EXPECT_EQ(r.status, 204) << r.body;
  auto got = exemplars_.SelectExemplars(
      storage::kDefaultTenant, model::kMinTime, model::kMaxTime,
      {{model::Matcher::MustMake(model::MatchType::kEqual, "__name__", "rpc_bucket")}});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].series_labels.Get("le"), "+Inf");
  // Without its own timestamp an exemplar takes its sample's.
  EXPECT_EQ(got[0].exemplars, (std::vector<storage::Exemplar>{
                                  {model::Labels{{"trace_id", "t2"}}, 7, 1'700'000'000'000}}));
  EXPECT_EQ(got[1].exemplars, (std::vector<storage::Exemplar>{
                                  {model::Labels{{"trace_id", "t1"}}, 0.25, 1'699'999'999'500}}));
  auto m = client_->Do("GET", "/metrics").body;
  EXPECT_THAT(m, HasSubstr(R"(vigil_ingest_exemplars_total{protocol="prometheus_text",result="stored"} 3)"));
  EXPECT_THAT(m, HasSubstr(R"(vigil_ingest_exemplars_total{protocol="prometheus_text",result="refused"} 1)"));
  // Other tenants do not see them.
  EXPECT_TRUE(exemplars_.SelectExemplars("other", model::kMinTime, model::kMaxTime,
                                         {{model::Matcher::MustMake(model::MatchType::kRegexMatch,
                                                                    "__name__", ".+")}})
                  .empty());
}

TEST_F(IngestApiTest, EveryPushEndpointReadsGzipSnappyAndZstd) {
  Start();
  const struct {
    std::string target, content_type, body, metric;
  } endpoints[] = {
      {"/api/v1/import/prometheus", "", "text_m 1\n", "text_m"},
      {"/ingest/metrics", "", R"([{"name":"json_m","value":1}])", "json_m"},
      {"/api/v2/write", "", "influx value=1\n", "influx_value"},
      {"/v1/metrics", "application/json",
       R"({"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"otlp_m","gauge":)"
       R"({"dataPoints":[{"asDouble":1,"timeUnixNano":"1700000000000000000"}]}}]}]}]})",
       "otlp_m"},
  };
  const std::pair<std::string, std::function<std::string(const std::string&)>> codecs[] = {
      {"gzip", [](const std::string& s) { return Gzip(s); }}, {"snappy", Snappy}, {"zstd", Zstd}};
  for (const auto& e : endpoints) {
    for (const auto& [encoding, compress] : codecs) {
      std::map<std::string, std::string> h = {{"Content-Encoding", encoding}};
      if (!e.content_type.empty()) h["Content-Type"] = e.content_type;
      auto r = Post(e.target, compress(e.body), h);
      EXPECT_LT(r.status, 300) << e.target << " " << encoding << ": " << r.body;
    }
    EXPECT_EQ(Series(e.metric), 1) << e.target;
  }
}

TEST_F(IngestApiTest, AnswersSyntaxErrorsWith400AndPosition) {
  Start();
  auto r = Post("/api/v1/import/prometheus", "ok 1\nbad{ 2\n");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("cannot parse Prometheus text at 2:"));
  EXPECT_EQ(Series("ok"), 0) << "nothing of a request with a syntax error is stored";
}

TEST_F(IngestApiTest, JsonSeedApiAnswers204) {
  Start();
  auto r = Post("/ingest/metrics", R"([{"name":"t","labels":{"a":"b"},"timestamp":1700000000,"value":1}])");
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(Series("t"), 1);
  auto bad = Post("/ingest/metrics", R"([{"name":"1t","value":1}])");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("1 invalid_labels"));
}

TEST_F(IngestApiTest, InfluxWritesWithGzipAndAnswersJsonErrors) {
  Start();
  auto r = Post("/api/v2/write?precision=s&bucket=b", Gzip("cpu,host=a idle=1 1700000000\n"),
                {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(r.status, 204) << r.body;
  EXPECT_EQ(Series("cpu_idle"), 1);
  auto bad = Post("/write?db=x", "cpu");
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr(R"({"error":"cannot parse Influx line protocol at 1:4: missing fields"})"));
  EXPECT_EQ(Post("/write?precision=fortnight", "cpu v=1").status, 400);
  EXPECT_EQ(client_->Do("GET", "/ping").status, 204);
}

TEST_F(IngestApiTest, RefusesUnknownEncodingsAndOversizedBodies) {
  IngestApiOptions o;
  o.ingest.max_decompressed_bytes = 1000;
  Start(o);
  auto r = Post("/ingest/metrics", "[]", {{"Content-Encoding", "br"}});
  EXPECT_EQ(r.status, 415);
  EXPECT_THAT(r.body, HasSubstr("unsupported Content-Encoding \"br\""));
  auto big = Post("/ingest/metrics", Gzip(std::string(5000, ' ') + "[]"), {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(big.status, 413);
  EXPECT_THAT(big.body, HasSubstr("exceeds the limit of 1000 bytes"));
  auto corrupt = Post("/ingest/metrics", "garbage", {{"Content-Encoding", "gzip"}});
  EXPECT_EQ(corrupt.status, 400);
}

TEST_F(IngestApiTest, RateLimitAnswers429WithRetryAfterAndCounts) {
  IngestApiOptions o;
  o.rate_limit = {10, 10};
  Start(o);
  // The first request is admitted on a full bucket and leaves the tenant 20 samples in
  // debt, so the second is refused however slowly the machine runs (2 s to repay).
  auto lines = [](int n) {
    std::string body;
    for (int i = 0; i < n; ++i) body += "m{i=\"" + std::to_string(i) + "\"} 1\n";
    return body;
  };
  EXPECT_EQ(Post("/api/v1/import/prometheus", lines(30)).status, 204);
  auto r = Post("/api/v1/import/prometheus", lines(10));
  EXPECT_EQ(r.status, 429);
  EXPECT_THAT(r.body, HasSubstr("over its ingestion rate limit of 10 samples/s"));
  EXPECT_FALSE(r.headers["retry-after"].empty());
  auto m = client_->Do("GET", "/metrics").body;
  EXPECT_THAT(m, HasSubstr(R"(vigil_ingest_samples_rejected_total{protocol="prometheus_text",reason="rate_limited"} 10)"));
  EXPECT_THAT(m, HasSubstr(R"(vigil_ingest_samples_total{protocol="prometheus_text"} 30)"));
  EXPECT_THAT(m, HasSubstr(R"(vigil_ingest_requests_total{protocol="prometheus_text",result="rate_limited"} 1)"));
}

TEST_F(IngestApiTest, ShedsLoadPastTheInflightBudget) {
  IngestApiOptions o;
  o.max_inflight_bytes = 10;
  Start(o);
  // A single request is always admitted; the budget only refuses concurrent ones. Here we
  // check the single-request path stays open even when it alone exceeds the budget.
  EXPECT_EQ(Post("/ingest/metrics", R"([{"name":"a","value":1}])").status, 204);
}

TEST_F(IngestApiTest, OtlpAnswers200AndRefusesUnknownContentTypes) {
  Start();
  // An empty ExportMetricsServiceRequest is valid protobuf (zero bytes).
  auto r = Post("/v1/metrics", "", {{"Content-Type", "application/x-protobuf"}});
  EXPECT_EQ(r.status, 200) << r.body;
  auto t = Post("/api/v1/otlp/v1/metrics", "{}", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(t.status, 415);
  EXPECT_THAT(t.body, HasSubstr("application/json"));
}

// OTLP/HTTP JSON as the spec writes it: lowerCamelCase names, 64-bit integers as strings,
// enums as integers, hex trace ids in exemplars (which Vigil skips). The answer is JSON too.
TEST_F(IngestApiTest, OtlpJsonIsMappedAsProtobufAndAnsweredInJson) {
  Start();
  const std::string body = R"({"resourceMetrics":[{
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},
    "scopeMetrics":[{"scope":{"name":"lib"},"metrics":[
      {"name":"queue.depth","unit":"{items}","gauge":{"dataPoints":[
        {"asDouble":3.5,"timeUnixNano":"1700000000000000000",
         "attributes":[{"key":"queue","value":{"stringValue":"a"}}],
         "exemplars":[{"asDouble":3.5,"timeUnixNano":"1700000000000000000",
                       "spanId":"00f067aa0ba902b7","traceId":"4bf92f3577b34da6a3ce929d0e0e4736"}]}]}},
      {"name":"requests","sum":{"aggregationTemporality":2,"isMonotonic":true,"dataPoints":[
        {"asInt":"7","timeUnixNano":1700000000000000000}]}},
      {"name":"deltas","sum":{"aggregationTemporality":1,"isMonotonic":true,"dataPoints":[
        {"asInt":"1","timeUnixNano":"1700000000000000000"}]}}]}]}]})";
  auto r = Post("/v1/metrics", body, {{"Content-Type", "application/json"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_THAT(r.body, HasSubstr(R"("partialSuccess":{"rejectedDataPoints":"1")"));
  EXPECT_EQ(Series("queue_depth"), 1);
  EXPECT_EQ(Series("requests_total"), 1);
  EXPECT_EQ(Series("deltas_total"), 0);
  auto bad = Post("/v1/metrics", R"({"resourceMetrics":[)", {{"Content-Type", "application/json"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_THAT(bad.body, HasSubstr("cannot parse OTLP metrics request: invalid JSON"));
}

TEST_F(IngestApiTest, Answers503WithoutStorage) {
  Start();
  api_->Detach();
  EXPECT_EQ(Post("/ingest/metrics", R"([{"name":"a","value":1}])").status, 503);
}

}  // namespace
}  // namespace vigil::http
