#include "scrape/manager.h"

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <thread>

#include "gtest/gtest.h"
#include "model/sample.h"
#include "scrape/test_util.h"
#include "storage/exemplar/circular_storage.h"

namespace vigil::scrape {
namespace {

using testing::FakeExporter;
using testing::RecordingAppendable;

bool Eventually(const std::function<bool()>& f, int ms = 15000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

class ManagerTest : public ::testing::Test {
 protected:
  ManagerTest() : ingest_metrics_(nullptr), mgr_(&db_, &ingest_metrics_, nullptr, Options()) {}

  ManagerOptions Options() {
    ManagerOptions o;
    o.exemplars = &exemplars_;
    o.on_metadata = [this](std::string_view tenant, const std::vector<ingest::MetricMetadata>& md) {
      std::lock_guard lock(md_mu_);
      for (const auto& m : md) md_.push_back(fmt::format("{} {} {} {} {}", tenant, m.metric, m.type, m.help, m.unit));
    };
    return o;
  }
  std::vector<std::string> MetadataSeen() {
    std::lock_guard lock(md_mu_);
    return md_;
  }
  ~ManagerTest() override { mgr_.Stop(); }

  // One job scraping the given paths of the fake exporter every 200 ms.
  void Apply(const std::string& extra, std::vector<std::string> paths = {"/metrics"},
             const std::string& job = "j") {
    std::string targets;
    for (const std::string& p : paths) {
      targets += fmt::format("      - targets: ['{}']\n        labels: {{path: '{}'}}\n",
                             exporter_.address(), p);
    }
    auto cfg = ParseConfigText(fmt::format(R"(
scrape_configs:
  - job_name: {}
    scrape_interval: 200ms
    scrape_timeout: 150ms
    relabel_configs:
      - source_labels: [path]
        target_label: __metrics_path__
{}
    static_configs:
{}
)",
                                           job, extra, targets),
                               "t.yml");
    ASSERT_TRUE(cfg.ok()) << cfg.status();
    mgr_.ApplyConfig(cfg->scrape_configs);
  }

  // The stored series string for `name` scraped from `path`, plus `extra` labels.
  std::string Series(std::string_view name, std::string_view path = "/metrics",
                     model::Labels extra = {}) {
    model::LabelsBuilder b(extra);
    b.Set("__name__", name).Set("instance", exporter_.address()).Set("job", "j").Set("path", path);
    return b.Build().ToString();
  }
  std::vector<RecordingAppendable::Point> Points(const std::string& s) { return db_.Get(s); }
  bool HasStale(const std::string& s) {
    for (const auto& p : db_.Get(s)) {
      if (model::IsStaleNaN(p.v)) return true;
    }
    return false;
  }
  double Last(const std::string& s) {
    auto p = db_.Get(s);
    return p.empty() ? -1 : p.back().v;
  }

  FakeExporter exporter_;
  RecordingAppendable db_;
  ingest::IngestMetrics ingest_metrics_;
  storage::exemplar::CircularExemplarStorage exemplars_{100};
  std::mutex md_mu_;
  std::vector<std::string> md_;
  Manager mgr_;
};

TEST_F(ManagerTest, ScrapesTargetsAndWritesReportSeries) {
  exporter_.Set("/metrics", {200, "# TYPE a counter\n# HELP a An a.\na 1\nb{x=\"y\"} 2.5\n"});
  Apply("");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Points(Series("up")).size() >= 2; }));
  EXPECT_EQ(Last(Series("up")), 1);
  EXPECT_EQ(Last(Series("a")), 1);
  EXPECT_EQ(Last(Series("b", "/metrics", {{"x", "y"}})), 2.5);
  EXPECT_EQ(Last(Series("scrape_samples_scraped")), 2);
  EXPECT_EQ(Last(Series("scrape_samples_post_metric_relabeling")), 2);
  auto added = Points(Series("scrape_series_added"));
  EXPECT_EQ(added.front().v, 2);
  EXPECT_EQ(added.back().v, 0);  // known from the cache on later scrapes
  EXPECT_GE(Last(Series("scrape_duration_seconds")), 0);
  // Timestamps of one scrape are equal and step by the interval.
  auto up = Points(Series("up"));
  EXPECT_EQ(up[1].t - up[0].t, 200);
  // The request negotiates OpenMetrics and gzip and says its timeout.
  std::string req = exporter_.last_request("/metrics");
  EXPECT_NE(req.find("application/openmetrics-text"), std::string::npos);
  EXPECT_NE(req.find("gzip"), std::string::npos);
  EXPECT_NE(req.find("X-Prometheus-Scrape-Timeout-Seconds: 0.15"), std::string::npos);

  auto active = mgr_.ActiveTargets();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].health, "up");
  EXPECT_EQ(active[0].scrape_pool, "j");
  EXPECT_EQ(active[0].scrape_url, "http://" + exporter_.address() + "/metrics");
  EXPECT_EQ(active[0].discovered_labels.Get("__address__"), exporter_.address());
  auto meta = mgr_.Metadata();
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_EQ(meta[0].metrics.at("a").type, "counter");
  EXPECT_EQ(meta[0].metrics.at("a").help, "An a.");
}

TEST_F(ManagerTest, ParsesOpenMetricsByContentType) {
  exporter_.Set("/metrics", {200, "# TYPE c counter\nc_total 3 1.5\n# EOF\n",
                             "application/openmetrics-text; version=1.0.0; charset=utf-8"});
  Apply("    honor_timestamps: true\n");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return !Points(Series("c_total")).empty(); }));
  EXPECT_EQ(Points(Series("c_total"))[0].t, 1500);  // the exposed timestamp, in ms
}

TEST_F(ManagerTest, StoresOpenMetricsExemplarsAndReportsMetadataChanges) {
  exporter_.Set("/metrics",
                {200,
                 "# TYPE req counter\n# HELP req Requests.\n"
                 "req_total{code=\"200\"} 3 # {trace_id=\"abc\"} 1.5 1.25\n"
                 "# TYPE lat_seconds histogram\n# UNIT lat_seconds seconds\n"
                 "lat_seconds_bucket{le=\"+Inf\"} 1 # {trace_id=\"def\"} 0.2\n"
                 "lat_seconds_sum 0.2\nlat_seconds_count 1\n"
                 "# EOF\n",
                 "application/openmetrics-text; version=1.0.0; charset=utf-8"});
  Apply("");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Points(Series("up")).size() >= 3; }));
  ASSERT_EQ(mgr_.ActiveTargets()[0].last_error, "");
  auto got = exemplars_.SelectExemplars(
      "default", 0, std::numeric_limits<int64_t>::max(),
      {{model::Matcher::MustMake(model::MatchType::kRegexMatch, "__name__", "req_total|lat_seconds_bucket")}});
  ASSERT_EQ(got.size(), 2u);
  // The exemplar's own timestamp; the series' labels after target labels were attached.
  EXPECT_EQ(got[1].series_labels.ToString(), Series("req_total", "/metrics", {{"code", "200"}}));
  ASSERT_EQ(got[1].exemplars.size(), 1u);  // repeated by every scrape, stored once
  EXPECT_EQ(got[1].exemplars[0], (storage::Exemplar{{{"trace_id", "abc"}}, 1.5, 1250}));
  // Without a timestamp it takes the sample's (the scrape's) time, so every scrape adds
  // one, as in Prometheus.
  ASSERT_GE(got[0].exemplars.size(), 2u);
  EXPECT_EQ(got[0].exemplars[0].t, Points(Series("lat_seconds_bucket", "/metrics", {{"le", "+Inf"}}))[0].t);
  // Metadata is handed over once: later scrapes expose the same.
  EXPECT_EQ(MetadataSeen(), (std::vector<std::string>{"default lat_seconds histogram  seconds",
                                                      "default req counter Requests. "}));
}

TEST_F(ManagerTest, RequestsCarryParamsAndCredentials) {
  struct Case {
    std::string extra;
    std::string want;  // in the request
  };
  const std::string token_file = ::testing::TempDir() + "/scrape_token";
  {
    std::ofstream(token_file) << "from-file\n";
  }
  std::vector<Case> cases = {
      {"    params: {module: [a, b], x: ['1 2']}\n", "GET /metrics?module=a&module=b&x=1+2 "},
      {"    basic_auth: {username: u, password: p}\n", "Authorization: Basic dTpw"},
      {"    basic_auth: {username: u, password_file: " + token_file + "}\n",
       "Authorization: Basic dTpmcm9tLWZpbGU="},  // u:from-file
      {"    bearer_token: secret\n", "Authorization: Bearer secret"},
      {"    authorization: {type: Token, credentials_file: " + token_file + "}\n",
       "Authorization: Token from-file"},
  };
  exporter_.Set("/metrics", {200, "a 1\n"});
  for (const Case& c : cases) {
    Apply(c.extra);
    ASSERT_TRUE(mgr_.Start().ok());
    ASSERT_TRUE(Eventually([&] {
      return exporter_.last_request("/metrics").find(c.want) != std::string::npos;
    })) << c.want << " not in " << exporter_.last_request("/metrics");
    mgr_.ApplyConfig({});
  }
}

TEST_F(ManagerTest, HonorTimestampsFalseUsesTheScrapeTime) {
  exporter_.Set("/metrics", {200, "a 1 1500\n"});
  Apply("    honor_timestamps: false\n");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return !Points(Series("a")).empty(); }));
  EXPECT_EQ(Points(Series("a"))[0].t, Points(Series("up"))[0].t);
}

TEST_F(ManagerTest, ClashingLabelsFollowHonorLabels) {
  exporter_.Set("/metrics", {200, "m{job=\"other\"} 1\n"});
  Apply("");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return !Points(Series("m", "/metrics", {{"exported_job", "other"}})).empty(); }));
  mgr_.Stop();

  RecordingAppendable db2;
  Manager honoring(&db2, &ingest_metrics_, nullptr);
  auto cfg = ParseConfigText(fmt::format(R"(
scrape_configs:
  - job_name: j
    scrape_interval: 200ms
    honor_labels: true
    static_configs: [{{targets: ['{}']}}]
)",
                                         exporter_.address()),
                             "t.yml");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  honoring.ApplyConfig(cfg->scrape_configs);
  ASSERT_TRUE(honoring.Start().ok());
  std::string want = fmt::format("m{{instance=\"{}\", job=\"other\"}}", exporter_.address());
  ASSERT_TRUE(Eventually([&] { return !db2.Get(want).empty(); }));
  honoring.Stop();
}

TEST_F(ManagerTest, MetricRelabelingDropsSeries) {
  exporter_.Set("/metrics", {200, "keep_me 1\ngo_drop 2\n"});
  Apply(R"(    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
)");
  ASSERT_TRUE(mgr_.Start().ok());
  // Everything checked below, not just `up`: on a loaded machine a check can run between
  // the report series becoming visible and the scraped ones.
  ASSERT_TRUE(Eventually([&] {
    return !Points(Series("scrape_samples_scraped")).empty() &&
           !Points(Series("scrape_samples_post_metric_relabeling")).empty() &&
           !Points(Series("keep_me")).empty();
  }));
  EXPECT_EQ(Last(Series("scrape_samples_scraped")), 2);
  EXPECT_EQ(Last(Series("scrape_samples_post_metric_relabeling")), 1);
  EXPECT_TRUE(Points(Series("go_drop")).empty());
  EXPECT_EQ(Last(Series("keep_me")), 1);
}

TEST_F(ManagerTest, VanishedSeriesGetStalenessMarkers) {
  exporter_.Set("/metrics", {200, "a 1\nb 2\n"});
  Apply("");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return !Points(Series("b")).empty(); }));
  exporter_.Set("/metrics", {200, "a 1\n"});
  ASSERT_TRUE(Eventually([&] { return HasStale(Series("b")); }));
  EXPECT_FALSE(HasStale(Series("a")));
  // One marker only, at a scrape's timestamp.
  auto b = Points(Series("b"));
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(Points(Series("b")).size(), b.size());
}

TEST_F(ManagerTest, FailedScrapeSetsUpToZeroAndMarksSeriesStale) {
  exporter_.Set("/metrics", {200, "a 1\n"});
  Apply("");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return !Points(Series("a")).empty(); }));
  exporter_.Set("/metrics", {500, "oops"});
  ASSERT_TRUE(Eventually([&] { return Last(Series("up")) == 0; }));
  EXPECT_TRUE(HasStale(Series("a")));
  auto active = mgr_.ActiveTargets();
  ASSERT_EQ(active.size(), 1u);
  EXPECT_EQ(active[0].health, "down");
  EXPECT_EQ(active[0].last_error, "server returned HTTP status 500");
  // Recovery brings the series back.
  exporter_.Set("/metrics", {200, "a 7\n"});
  ASSERT_TRUE(Eventually([&] { return Last(Series("a")) == 7; }));
  EXPECT_EQ(Last(Series("up")), 1);
}

TEST_F(ManagerTest, LimitsFailTheWholeScrape) {
  struct Case {
    std::string extra;
    std::string body;
    std::string error;
  };
  std::vector<Case> cases = {
      {"    sample_limit: 2\n", "a 1\nb 1\nc 1\n", "sample limit exceeded"},
      {"    label_limit: 3\n", "a{x=\"1\",y=\"2\"} 1\n", "label_limit exceeded"},
      {"    body_size_limit: 10B\n", "a_long_metric_name 1\n", "body size limit exceeded"},
      {"    label_name_length_limit: 3\n", "a{long=\"1\"} 1\n", "label_name_length_limit exceeded"},
      {"    label_value_length_limit: 3\n", "a{x=\"long\"} 1\n", "label_value_length_limit exceeded"},
  };
  for (const Case& c : cases) {
    exporter_.Set("/metrics", {200, c.body});
    Apply(c.extra);
    ASSERT_TRUE(mgr_.Start().ok());
    ASSERT_TRUE(Eventually([&] {
      auto a = mgr_.ActiveTargets();
      return !a.empty() && a[0].health == "down";
    })) << c.error;
    auto a = mgr_.ActiveTargets();
    EXPECT_NE(a[0].last_error.find(c.error), std::string::npos) << a[0].last_error;
    EXPECT_EQ(Last(Series("up")), 0);
    EXPECT_TRUE(Points(Series("a")).empty()) << c.error;
    mgr_.ApplyConfig({});
  }
}

TEST_F(ManagerTest, HangingTargetDoesNotDelayOthers) {
  exporter_.Set("/slow", {200, "a 1\n", "text/plain", 3000});
  exporter_.Set("/fast", {200, "a 1\n"});
  Apply("", {"/slow", "/fast"});
  ASSERT_TRUE(mgr_.Start().ok());
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return Points(Series("up", "/fast")).size() >= 5; }));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2500));
  ASSERT_TRUE(Eventually([&] { return Last(Series("up", "/slow")) == 0; }));
  for (const auto& t : mgr_.ActiveTargets()) {
    if (t.labels.Get("path") == "/slow") {
      EXPECT_NE(t.last_error.find("context deadline exceeded"), std::string::npos);
    }
  }
}

TEST_F(ManagerTest, RemovedTargetEndsWithStalenessMarkers) {
  exporter_.Set("/metrics", {200, "a 1\n"});
  Apply("");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return !Points(Series("a")).empty(); }));
  mgr_.ApplyConfig({});
  ASSERT_TRUE(Eventually([&] { return HasStale(Series("a")) && HasStale(Series("up")); }));
  EXPECT_TRUE(mgr_.ActiveTargets().empty());
}

TEST_F(ManagerTest, ReloadKeepsStateOfUnchangedTargets) {
  exporter_.Set("/metrics", {200, "a 1\n"});
  exporter_.Set("/other", {200, "a 1\n"});
  Apply("");
  ASSERT_TRUE(mgr_.Start().ok());
  ASSERT_TRUE(Eventually([&] { return Points(Series("up")).size() >= 2; }));
  Apply("", {"/metrics", "/other"});  // same job text? no: a target was added
  ASSERT_TRUE(Eventually([&] { return !Points(Series("up", "/other")).empty(); }));
  size_t before = Points(Series("up")).size();
  ASSERT_TRUE(Eventually([&] { return Points(Series("up")).size() >= before + 2; }));
  // The unchanged target kept its series cache: nothing new added, no stale marker.
  EXPECT_EQ(Last(Series("scrape_series_added")), 0);
  EXPECT_FALSE(HasStale(Series("a")));
  for (const auto& t : mgr_.ActiveTargets()) {
    if (t.labels.Get("path") == "/metrics") {
      EXPECT_EQ(t.health, "up");
    }
  }
}

}  // namespace
}  // namespace vigil::scrape
