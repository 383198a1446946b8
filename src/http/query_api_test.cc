// The query endpoints against a real storage::DB on an in-memory filesystem, through a
// real server: parameters, status codes and JSON as Prometheus's API gives them.
#include "http/query_api.h"

#include "fs/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/test_client.h"
#include "storage/db.h"
#include "storage/exemplar/circular_storage.h"

namespace vigil::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kT0 = 1'700'000'000'000;  // 2023-11-14T22:13:20Z

TEST(ParseDurationParam, TakesFloatSecondsAndPrometheusDurations) {
  struct Case {
    const char* in;
    int64_t want_ms;
  } cases[] = {
      {"15", 15000},   {"1.5", 1500},     {"0.0015", 1},        {"+2", 2000},
      {"1e3", 1000000}, {"0", 0},         {"5m", 300000},       {"1h30m", 5400000},
      {"2d", 172800000}, {"1w", 604800000}, {"1y", 31536000000}, {"100ms", 100},
      {"1m30s500ms", 90500},
  };
  for (const auto& c : cases) {
    auto d = ParseDurationParam(c.in);
    ASSERT_TRUE(d.ok()) << c.in << ": " << d.status();
    EXPECT_EQ(*d, c.want_ms) << c.in;
  }
}

TEST(ParseDurationParam, RejectsWhatPrometheusRejects) {
  for (const char* in : {"", "abc", "5x", "m", "1m1h", "5m5m", "NaN", "Inf", "-5m", "1.5m"}) {
    auto d = ParseDurationParam(in);
    EXPECT_FALSE(d.ok()) << in;
    EXPECT_EQ(std::string(d.status().message()),
              std::string("cannot parse \"") + in + "\" to a valid duration");
  }
}

TEST(ErrorTypeFor, MapsEngineErrorsToPrometheusTypes) {
  EXPECT_EQ(ErrorTypeFor(absl::DeadlineExceededError("x")), "timeout");
  EXPECT_EQ(ErrorTypeFor(absl::CancelledError("x")), "canceled");
  EXPECT_EQ(ErrorTypeFor(absl::InternalError("x")), "internal");
  EXPECT_EQ(ErrorTypeFor(absl::ResourceExhaustedError("x")), "execution");
  EXPECT_EQ(ErrorTypeFor(absl::InvalidArgumentError("x")), "execution");
}

class QueryApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QueryApiOptions o;
    o.flags = {{"storage.tsdb.path", "/data"}, {"web.listen-address", "127.0.0.1:0"}};
    o.config_yaml = "global:\n  scrape_interval: 1m\n";
    o.exemplars = &exemplars_;
    query_api_ = std::make_unique<QueryApi>(&api_, o);
    query_api_->SetClockForTest([] { return kT0 + 60'000; });
    api_.Register(&router_);
    query_api_->Register(&router_);
    ServerOptions opts;
    opts.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(opts, &router_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());

    storage::Options so;
    so.path = "/data";
    so.fs = fs_.get();
    so.background_compaction = false;
    auto db = storage::DB::Open(so);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    api_.AttachStorage(db_.get(), nullptr);
    // up{job="a",instance="h1"}: 1 every 15s for 2 minutes; up{job="b"}: 0; temp: -2.5.
    auto app = db_->NewAppender(storage::kDefaultTenant);
    for (int64_t t = kT0; t <= kT0 + 120'000; t += 15'000) {
      ASSERT_TRUE(app->Append(0, {{"__name__", "up"}, {"job", "a"}, {"instance", "h1"}}, t, 1).ok());
      ASSERT_TRUE(app->Append(0, {{"__name__", "up"}, {"job", "b"}, {"instance", "h2"}}, t, 0).ok());
      ASSERT_TRUE(app->Append(0, {{"__name__", "http_requests_total"}, {"job", "a"}}, t,
                              static_cast<double>((t - kT0) / 1000)).ok());
    }
    ASSERT_TRUE(app->Append(0, {{"__name__", "temp"}, {"job", "a"}}, kT0, -2.5).ok());
    ASSERT_TRUE(app->Commit().ok());
  }
  void TearDown() override {
    client_.reset();
    server_->Stop();
    api_.DetachStorage();
    ASSERT_TRUE(db_->Close().ok());
  }

  TestResponse Get(const std::string& target) { return client_->Do("GET", target); }
  TestResponse PostForm(const std::string& target, const std::string& form) {
    return client_->Do("POST", target, form,
                       {{"Content-Type", "application/x-www-form-urlencoded"}});
  }

  metrics::Registry registry_;
  Api api_{{"0.1.0", "abc123", "main", "tester", "20260101-00:00:00"}, &registry_};
  storage::exemplar::CircularExemplarStorage exemplars_{100};
  std::unique_ptr<QueryApi> query_api_;
  Router router_{&registry_};
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestClient> client_;
  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
  std::unique_ptr<storage::DB> db_;
};

TEST_F(QueryApiTest, InstantQueryAnswersPrometheusJson) {
  auto r = Get("/api/v1/query?query=temp&time=1700000000");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"vector","result":[)"
                    R"({"metric":{"__name__":"temp","job":"a"},"value":[1700000000,"-2.5"]}]}})");
}

TEST_F(QueryApiTest, InstantQueryDefaultsTimeToNowAndTakesRfc3339) {
  auto r = Get("/api/v1/query?query=time()");
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"scalar","result":[1700000060,"1700000060"]}})");
  r = Get("/api/v1/query?query=time()&time=2023-11-14T22:13:20.5Z");
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"scalar","result":[1700000000.500,"1700000000.5"]}})");
}

TEST_F(QueryApiTest, InstantQueryTakesAFormBody) {
  auto r = PostForm("/api/v1/query", "query=sum+by+(job)+(up)&time=1700000030");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, HasSubstr(R"({"metric":{"job":"a"},"value":[1700000030,"1"]})"));
  EXPECT_THAT(r.body, HasSubstr(R"({"metric":{"job":"b"},"value":[1700000030,"0"]})"));
}

TEST_F(QueryApiTest, RangeQueryAnswersAMatrix) {
  auto r = Get("/api/v1/query_range?query=up%7Bjob%3D%22a%22%7D&start=1700000000&end=1700000060&step=30s");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                    R"({"metric":{"__name__":"up","instance":"h1","job":"a"},)"
                    R"("values":[[1700000000,"1"],[1700000030,"1"],[1700000060,"1"]]}]}})");
  r = PostForm("/api/v1/query_range", "query=http_requests_total*2&start=1700000060&end=1700000060&step=15");
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                    R"({"metric":{"job":"a"},"values":[[1700000060,"120"]]}]}})");
}

TEST_F(QueryApiTest, BadParametersAnswer400WithPrometheusWording) {
  struct Case {
    std::string target;
    int status;
    std::string body;
  } cases[] = {
      {"/api/v1/query?query=up&time=abc", 400,
       R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"time\": cannot parse \"abc\" to a valid timestamp"})"},
      {"/api/v1/query?query=up&timeout=x", 400,
       R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"timeout\": cannot parse \"x\" to a valid duration"})"},
      {"/api/v1/query?query=up&lookback_delta=x", 400,
       R"({"status":"error","errorType":"bad_data","error":"error parsing lookback delta duration: cannot parse \"x\" to a valid duration"})"},
      {"/api/v1/query?query=up&limit=-1", 400,
       R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"limit\": limit must be non-negative"})"},
      {"/api/v1/query_range?query=up&start=1&end=0&step=1", 400,
       R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"end\": end timestamp must not be before start time"})"},
      {"/api/v1/query_range?query=up&end=1&step=1", 400,
       R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"start\": cannot parse \"\" to a valid timestamp"})"},
      {"/api/v1/query_range?query=up&start=0&end=1&step=0", 400,
       R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer"})"},
      {"/api/v1/query_range?query=up&start=0&end=1&step=", 400,
       R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"step\": cannot parse \"\" to a valid duration"})"},
      {"/api/v1/query_range?query=up&start=0&end=11001&step=1", 400,
       R"j({"status":"error","errorType":"bad_data","error":"exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"})j"},
      {"/api/v1/query_range?query=up[5m]&start=0&end=1&step=1", 400,
       R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": invalid expression type \"range vector\" for range query, must be Scalar or instant Vector"})"},
  };
  for (const auto& c : cases) {
    auto r = Get(c.target);
    EXPECT_EQ(r.status, c.status) << c.target;
    EXPECT_EQ(r.body, c.body) << c.target;
  }
}

TEST_F(QueryApiTest, ParseErrorsNameThePosition) {
  auto r = Get("/api/v1/query?query=sum(up");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, StartsWith(R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:)"));
  EXPECT_THAT(r.body, HasSubstr("parse error"));
}

TEST_F(QueryApiTest, ExecutionErrorsAnswer422) {
  // Two series that become identical once the name is dropped.
  auto r = Get("/api/v1/query?query=label_replace(up,%22job%22,%22x%22,%22%22,%22%22)+%2B+on()+group_left+up&time=1700000000");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_THAT(r.body, StartsWith(R"({"status":"error","errorType":"execution","error":")"));
}

TEST_F(QueryApiTest, LimitTruncatesSeriesWithAWarning) {
  auto r = Get("/api/v1/query?query=up&time=1700000000&limit=1");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, HasSubstr(R"("warnings":["results truncated due to limit"])"));
  EXPECT_EQ(r.body.find("\"job\":\"b\""), std::string::npos);
}

TEST_F(QueryApiTest, StatsAddTimings) {
  auto r = Get("/api/v1/query?query=up&time=1700000000&stats=all");
  EXPECT_THAT(r.body, HasSubstr(R"(,"stats":{"timings":{"evalTotalTime":)"));
}

TEST_F(QueryApiTest, FormatAndParseQuery) {
  auto r = Get("/api/v1/format_query?query=sum(rate(x%5B5m%5D))by(job)");
  EXPECT_EQ(r.body, R"j({"status":"success","data":"sum by (job) (rate(x[5m]))"})j");
  r = Get("/api/v1/parse_query?query=up%7Bjob%3D%22a%22%7D%20%2A%202");
  EXPECT_EQ(r.body,
            R"({"status":"success","data":{"type":"binaryExpr","op":"*",)"
            R"("lhs":{"type":"vectorSelector","name":"up","offset":0,"matchers":[)"
            R"({"type":"=","name":"job","value":"a"},{"type":"=","name":"__name__","value":"up"}],)"
            R"("timestamp":null,"startOrEnd":null},)"
            R"("rhs":{"type":"numberLiteral","val":"2"},"matching":null,"bool":false}})");
  r = Get("/api/v1/format_query?query=sum(");
  EXPECT_EQ(r.status, 400);
}

TEST_F(QueryApiTest, ExemplarsOfTheQuerysSelectorsInPrometheusShape) {
  const model::Labels a{{"__name__", "req_total"}, {"job", "a"}};
  const model::Labels b{{"__name__", "lat_bucket"}, {"job", "b"}, {"le", "0.5"}};
  ASSERT_TRUE(exemplars_.AppendExemplar("default", a, {{{"trace_id", "t1"}}, 1, kT0}).ok());
  ASSERT_TRUE(exemplars_.AppendExemplar("default", a, {{{"trace_id", "t2"}}, 2.5, kT0 + 1500}).ok());
  ASSERT_TRUE(exemplars_.AppendExemplar("default", b, {{}, 0.25, kT0 + 10}).ok());
  ASSERT_TRUE(exemplars_.AppendExemplar("other", a, {{}, 9, kT0}).ok());  // another tenant

  EXPECT_EQ(Get("/api/v1/query_exemplars?query=req_total").body,
            R"({"status":"success","data":[{"seriesLabels":{"__name__":"req_total","job":"a"},)"
            R"("exemplars":[{"labels":{"trace_id":"t1"},"value":"1","timestamp":1700000000},)"
            R"({"labels":{"trace_id":"t2"},"value":"2.5","timestamp":1700000001.500}]}]})");
  // Every selector of the expression counts; results are sorted by series labels; the
  // time range is inclusive.
  auto r = Get("/api/v1/query_exemplars?query=sum(rate(req_total[5m]))%2Bhistogram_quantile("
               "0.9,lat_bucket)&start=1700000000.01&end=1700000001.5");
  EXPECT_EQ(r.body,
            R"({"status":"success","data":[{"seriesLabels":{"__name__":"lat_bucket","job":"b","le":"0.5"},)"
            R"("exemplars":[{"labels":{},"value":"0.25","timestamp":1700000000.010}]},)"
            R"({"seriesLabels":{"__name__":"req_total","job":"a"},)"
            R"("exemplars":[{"labels":{"trace_id":"t2"},"value":"2.5","timestamp":1700000001.500}]}]})");
  EXPECT_EQ(PostForm("/api/v1/query_exemplars", "query=up&start=0&end=1").body,
            R"({"status":"success","data":[]})");
  // No selector at all: Prometheus answers null.
  EXPECT_EQ(Get("/api/v1/query_exemplars?query=1%2B1").body, R"({"status":"success","data":null})");

  r = Get("/api/v1/query_exemplars?query=(");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr(R"("errorType":"bad_data","error":"1:2: parse error: unclosed left parenthesis)"));
  r = Get("/api/v1/query_exemplars?query=up&start=10&end=5");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("end timestamp must not be before start timestamp"));
  EXPECT_EQ(Get("/api/v1/query_exemplars?query=up&start=x").status, 400);
}

TEST_F(QueryApiTest, StatusEndpointsHavePrometheusShapes) {
  EXPECT_EQ(Get("/api/v1/status/flags").body,
            R"({"status":"success","data":{"storage.tsdb.path":"/data","web.listen-address":"127.0.0.1:0"}})");
  EXPECT_EQ(Get("/api/v1/status/config").body,
            R"({"status":"success","data":{"yaml":"global:\n  scrape_interval: 1m\n"}})");
  auto r = Get("/api/v1/status/runtimeinfo");
  EXPECT_EQ(r.status, 200);
  for (const char* key : {"\"startTime\":\"", "\"CWD\":", "\"reloadConfigSuccess\":true",
                          "\"lastConfigTime\":", "\"corruptionCount\":0", "\"goroutineCount\":",
                          "\"GOMAXPROCS\":", "\"storageRetention\":\"15d\""}) {
    EXPECT_THAT(r.body, HasSubstr(key));
  }
}

TEST_F(QueryApiTest, MatchParamsUseThePromqlSelectorParser) {
  auto r = Get("/api/v1/series?match[]=%7B__name__%3D~%22u.%22,job!%3D%22b%22%7D");
  EXPECT_EQ(r.body, R"({"status":"success","data":[{"__name__":"up","instance":"h1","job":"a"}]})");
  r = Get("/api/v1/series?match[]=up%7Bjob%3D%22%22%7D%5B5m%5D");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("parse error"));
  r = Get("/api/v1/labels?match[]=%7Bjob%3D%22%22%7D");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("at least one non-empty matcher"));
}

TEST_F(QueryApiTest, SeedRangeTakesAMetricAndJsonOrPromqlLabels) {
  auto r = Get("/query/range?metric=up&labels=%7B%22job%22%3A%22a%22%7D&start=1700000000&end=1700000060&step=60s");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"matrix","result":[)"
                    R"({"name":"up","labels":{"instance":"h1","job":"a"},)"
                    R"("timestamps":[1700000000000,1700000060000],"values":[1,1]}]}})");
  r = Get("/query/range?metric=up&labels=%7Bjob%3D~%22b%7Cc%22%7D&start=1700000000&end=1700000000");
  EXPECT_THAT(r.body, HasSubstr(R"("labels":{"instance":"h2","job":"b"},"timestamps":[1700000000000],"values":[0])"));
  r = Get("/query/range?labels=%7B%22a-b%22%3A%22x%22%7D&metric=up");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("invalid label name"));
  EXPECT_EQ(Get("/query/range").status, 400);
}

TEST_F(QueryApiTest, SeedInstantEvaluatesAnExpression) {
  auto r = Get("/query/instant?expr=sum(up)&time=1700000000");
  EXPECT_EQ(r.body, R"({"status":"success","data":{"resultType":"vector","result":[)"
                    R"({"name":"","labels":{},"timestamp":1700000000000,"value":1}]}})");
  EXPECT_EQ(Get("/query/instant").status, 400);
}

}  // namespace
}  // namespace vigil::http
