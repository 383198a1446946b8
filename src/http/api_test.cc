// The API against a real storage::DB on an in-memory filesystem, through a real server:
// what a client sends over HTTP and gets back, byte for byte where Prometheus fixes it.
#include "http/api.h"

#include "fs/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/self_metrics.h"
#include "http/test_client.h"
#include "ingest/remote_write.h"
#include "remote_write.pb.h"
#include "snappy.h"
#include "zstd.h"

namespace vigil::http {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr int64_t kT0 = 1'700'000'000'000;

std::string RemoteWriteBody(
    const std::vector<std::pair<std::vector<std::pair<std::string, std::string>>,
                                std::vector<std::pair<int64_t, double>>>>& series) {
  prometheus::WriteRequest req;
  for (const auto& [labels, samples] : series) {
    auto* ts = req.add_timeseries();
    for (const auto& [n, v] : labels) {
      auto* l = ts->add_labels();
      l->set_name(n);
      l->set_value(v);
    }
    for (const auto& [t, v] : samples) {
      auto* s = ts->add_samples();
      s->set_timestamp(t);
      s->set_value(v);
    }
  }
  std::string raw = req.SerializeAsString(), out;
  snappy::Compress(raw.data(), raw.size(), &out);
  return out;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.Register(&router_);
    ServerOptions opts;
    opts.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(opts, &router_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void TearDown() override {
    client_.reset();
    server_->Stop();
    if (db_) {
      ASSERT_TRUE(db_->Close().ok());
    }
  }

  void OpenDb() {
    storage::Options o;
    o.path = "/data";
    o.fs = fs_.get();
    o.background_compaction = false;
    auto db = storage::DB::Open(o);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ingester_ = std::make_unique<ingest::RemoteWriteIngester>(db_.get(), &registry_);
    api_.AttachStorage(db_.get(), ingester_.get());
  }

  // Stores two series of `up` and one of `temp`.
  void Load() {
    OpenDb();
    auto r = Post("/api/v1/write",
                  RemoteWriteBody({{{{"__name__", "up"}, {"job", "a"}, {"instance", "h1"}},
                                    {{kT0, 1}, {kT0 + 15000, 0}}},
                                   {{{"__name__", "up"}, {"job", "b"}, {"instance", "h2"}},
                                    {{kT0, 1}}},
                                   {{{"__name__", "temp"}, {"job", "a"}}, {{kT0, -2.5}}}}),
                  {{"Content-Encoding", "snappy"}, {"Content-Type", "application/x-protobuf"}});
    ASSERT_EQ(r.status, 204) << r.body;
  }

  TestResponse Get(const std::string& target) { return client_->Do("GET", target); }
  TestResponse Post(const std::string& target, const std::string& body = "",
                    const std::map<std::string, std::string>& headers = {}) {
    return client_->Do("POST", target, body, headers);
  }

  metrics::Registry registry_;
  Api api_{{"0.1.0", "abc123", "main", "tester", "20260101-00:00:00"}, &registry_};
  Router router_{&registry_};
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestClient> client_;
  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
  std::unique_ptr<storage::DB> db_;
  std::unique_ptr<ingest::RemoteWriteIngester> ingester_;
};

TEST_F(ApiTest, HealthyAlwaysReadyOnlyOnceStorageIsAttached) {
  EXPECT_EQ(Get("/-/healthy").body, "Vigil is Healthy.\n");
  EXPECT_EQ(Get("/-/ready").status, 503);
  EXPECT_EQ(Get("/api/v1/labels").status, 503);
  OpenDb();
  auto r = Get("/-/ready");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "Vigil is Ready.\n");
}

TEST_F(ApiTest, DetachedStorageAnswers503Again) {
  Load();
  api_.DetachStorage();
  EXPECT_EQ(Get("/-/ready").status, 503);
  auto r = Get("/api/v1/series?match[]=up");
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, HasSubstr("storage is not ready"));
  EXPECT_EQ(Post("/api/v1/write", RemoteWriteBody({{{{"__name__", "x"}}, {{kT0, 1}}}})).status, 503);
}

TEST_F(ApiTest, BuildInfoHasPrometheusShape) {
  EXPECT_EQ(Get("/api/v1/status/buildinfo").body,
            R"({"status":"success","data":{"version":"0.1.0","revision":"abc123","branch":"main",)"
            R"("buildUser":"tester","buildDate":"20260101-00:00:00","goVersion":"n/a"}})");
}

TEST_F(ApiTest, SeriesReturnsMatchingLabelSetsSortedWithoutTenant) {
  Load();
  auto r = Get("/api/v1/series?match[]=up&match[]=%7Bjob%3D%22a%22%7D");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_EQ(r.body,
            R"({"status":"success","data":[{"__name__":"temp","job":"a"},)"
            R"({"__name__":"up","instance":"h1","job":"a"},)"
            R"({"__name__":"up","instance":"h2","job":"b"}]})");
  r = Get("/api/v1/series?match[]=up&limit=1");
  EXPECT_EQ(r.body,
            R"({"status":"success","data":[{"__name__":"up","instance":"h1","job":"a"}],)"
            R"("warnings":["results truncated due to limit"]})");
}

TEST_F(ApiTest, SeriesAcceptsFormPosts) {
  Load();
  auto r = Post("/api/v1/series", "match%5B%5D=temp",
                {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.body, R"({"status":"success","data":[{"__name__":"temp","job":"a"}]})");
}

TEST_F(ApiTest, SeriesRespectsTheTimeRange) {
  Load();
  auto r = Get("/api/v1/series?match[]=up&start=" + std::to_string((kT0 + 10000) / 1000));
  EXPECT_EQ(r.body,
            R"({"status":"success","data":[{"__name__":"up","instance":"h1","job":"a"}]})");
}

TEST_F(ApiTest, BadRequestsAnswer400WithPrometheusErrors) {
  OpenDb();
  struct Case {
    const char* target;
    const char* want;
  } cases[] = {
      {"/api/v1/series", "no match[] parameter provided"},
      {"/api/v1/series?match[]=up{", "parse error"},
      {"/api/v1/series?match[]={a=\"\"}", "at least one non-empty matcher"},
      {"/api/v1/series?match[]=up&start=abc", "invalid time value for 'start': cannot parse"},
      {"/api/v1/series?match[]=up&start=10&end=5", "end timestamp must not be before start"},
      {"/api/v1/label/a-b/values", "invalid label name: \\\"a-b\\\""},
      {"/api/v1/export", "no match[] parameter provided"},
      {"/api/v1/status/tsdb?limit=0", "limit must be a positive number"},
      {"/api/v1/labels?limit=x", "invalid parameter 'limit'"},
  };
  for (const auto& c : cases) {
    auto r = Get(c.target);
    EXPECT_EQ(r.status, 400) << c.target;
    EXPECT_THAT(r.body, StartsWith(R"({"status":"error","errorType":"bad_data","error":")"))
        << c.target;
    EXPECT_THAT(r.body, HasSubstr(c.want)) << c.target;
  }
}

TEST_F(ApiTest, LabelsAndLabelValues) {
  Load();
  EXPECT_EQ(Get("/api/v1/labels").body,
            R"({"status":"success","data":["__name__","instance","job"]})");
  EXPECT_EQ(Get("/api/v1/labels?match[]=temp").body,
            R"({"status":"success","data":["__name__","job"]})");
  EXPECT_EQ(Get("/api/v1/label/__name__/values").body,
            R"({"status":"success","data":["temp","up"]})");
  EXPECT_EQ(Get("/api/v1/label/job/values?match[]=up%7Bjob%3D%22b%22%7D").body,
            R"({"status":"success","data":["b"]})");
  EXPECT_EQ(Get("/api/v1/label/nothere/values").body, R"({"status":"success","data":[]})");
}

TEST_F(ApiTest, ExportReturnsJsonLinesWithEverySample) {
  Load();
  auto r = Get("/api/v1/export?match[]=up%7Bjob%3D%22a%22%7D");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body,
            "{\"metric\":{\"__name__\":\"up\",\"instance\":\"h1\",\"job\":\"a\"},"
            "\"values\":[1,0],\"timestamps\":[1700000000000,1700000015000]}\n");
  r = Get("/api/v1/export?match[]=temp&match[]=%7Bjob%3D%22a%22%7D");
  EXPECT_EQ(std::count(r.body.begin(), r.body.end(), '\n'), 2);
  EXPECT_THAT(r.body, HasSubstr("\"values\":[-2.5]"));
}

// Besides snappy (remote write 1.0), the encodings every other push endpoint reads: the
// protobuf body compressed with zstd (as vmagent can send it) or not at all.
TEST_F(ApiTest, RemoteWriteReadsZstdGzipAndIdentityBodiesToo) {
  OpenDb();
  std::string compressed = RemoteWriteBody({{{{"__name__", "x"}}, {{kT0, 1}}}});
  std::string raw;
  ASSERT_TRUE(snappy::Uncompress(compressed.data(), compressed.size(), &raw));
  std::string zstd(ZSTD_compressBound(raw.size()), '\0');
  zstd.resize(ZSTD_compress(zstd.data(), zstd.size(), raw.data(), raw.size(), 1));
  EXPECT_EQ(Post("/api/v1/write", zstd, {{"Content-Encoding", "zstd"}}).status, 204);
  std::string raw2 = RemoteWriteBody({{{{"__name__", "y"}}, {{kT0, 2}}}});
  ASSERT_TRUE(snappy::Uncompress(raw2.data(), raw2.size(), &raw));
  EXPECT_EQ(Post("/api/v1/write", raw, {{"Content-Encoding", "identity"}}).status, 204);
  EXPECT_EQ(Get("/api/v1/label/__name__/values").body, R"({"status":"success","data":["x","y"]})");
}

TEST_F(ApiTest, RemoteWriteRefusesUnknownEncodingsAndReportsBadData) {
  OpenDb();
  std::string body = RemoteWriteBody({{{{"__name__", "x"}}, {{kT0, 1}}}});
  auto unknown = Post("/api/v1/write", body, {{"Content-Encoding", "br"}});
  EXPECT_EQ(unknown.status, 415);
  EXPECT_THAT(unknown.body, HasSubstr("unsupported Content-Encoding \"br\""));
  EXPECT_EQ(Post("/api/v1/write", body, {{"Content-Type", "application/json"}}).status, 415);
  // A snappy body labelled zstd does not decode.
  EXPECT_EQ(Post("/api/v1/write", body, {{"Content-Encoding", "zstd"}}).status, 400);
  auto r = Post("/api/v1/write", "garbage", {{"Content-Encoding", "snappy"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("cannot decode remote write request"));
  r = Post("/api/v1/write", RemoteWriteBody({{{{"__name__", "x"}, {"__tenant__", "t"}}, {{kT0, 1}}}}));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("reserved"));
  // Out of order against what is stored: 400 naming the reason, the rest stored.
  ASSERT_EQ(Post("/api/v1/write", body).status, 204);
  r = Post("/api/v1/write", RemoteWriteBody({{{{"__name__", "x"}}, {{kT0 - 1000, 1}}},
                                             {{{"__name__", "y"}}, {{kT0, 1}}}}));
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("1 out_of_order"));
  EXPECT_EQ(Get("/api/v1/label/__name__/values").body, R"({"status":"success","data":["x","y"]})");
}

TEST_F(ApiTest, DeleteSeriesHidesDataAndCleanTombstonesSucceeds) {
  Load();
  EXPECT_EQ(Post("/api/v1/admin/tsdb/delete_series?match[]=temp").status, 204);
  EXPECT_EQ(Get("/api/v1/export?match[]=temp").body, "");
  EXPECT_EQ(Post("/api/v1/admin/tsdb/delete_series").status, 400);
  EXPECT_EQ(Post("/api/v1/admin/tsdb/clean_tombstones").status, 204);
  EXPECT_EQ(Get("/api/v1/admin/tsdb/clean_tombstones").status, 405);
}

TEST_F(ApiTest, SnapshotNamesTheDirectory) {
  Load();
  auto r = Post("/api/v1/admin/tsdb/snapshot?skip_head=false");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_THAT(r.body, StartsWith(R"({"status":"success","data":{"name":")"));
  EXPECT_EQ(Post("/api/v1/admin/tsdb/snapshot?skip_head=maybe").status, 400);
}

TEST_F(ApiTest, TsdbStatusHasPrometheusShape) {
  Load();
  auto r = Get("/api/v1/status/tsdb");
  EXPECT_EQ(r.status, 200);
  EXPECT_THAT(r.body, StartsWith(R"({"status":"success","data":{"headStats":{"numSeries":3,)"));
  EXPECT_THAT(r.body, HasSubstr(R"("seriesCountByMetricName":[{"name":"up","value":2},)"
                                R"({"name":"temp","value":1}])"));
  EXPECT_THAT(r.body, HasSubstr(R"("labelValueCountByLabelName":[)"));
  EXPECT_THAT(r.body, HasSubstr(R"("memoryInBytesByLabelName":[)"));
  EXPECT_THAT(r.body, HasSubstr(R"("seriesCountByLabelValuePair":[)"));
  EXPECT_THAT(r.body, ::testing::Not(HasSubstr("__tenant__")));
}

TEST_F(ApiTest, MetricsExposeIngestHttpAndProcessFigures) {
  Load();
  AddProcessCollector(&registry_);
  int id = AddStorageCollector(&registry_, db_.get());
  auto r = Get("/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("vigil_ingest_samples_total{protocol=\"remote_write\"} 4\n"));
  EXPECT_THAT(r.body, HasSubstr("prometheus_tsdb_head_series 3\n"));
  EXPECT_THAT(r.body, HasSubstr("vigil_tsdb_head_samples_appended_total 4\n"));
  EXPECT_THAT(r.body, HasSubstr("vigil_http_requests_total{handler=\"/api/v1/write\",code=\"204\"} 1\n"));
  EXPECT_THAT(r.body, HasSubstr("process_resident_memory_bytes "));
  EXPECT_THAT(r.body, HasSubstr("process_cpu_seconds_total "));
  EXPECT_THAT(r.body, HasSubstr("process_start_time_seconds "));
  EXPECT_THAT(r.body, HasSubstr("process_open_fds "));
  registry_.RemoveCollector(id);
}

}  // namespace
}  // namespace vigil::http
