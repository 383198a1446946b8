#include "config/config.h"

#include "gtest/gtest.h"

namespace vigil::config {
namespace {

TEST(Config, EmptyIsTheDefault) {
  auto c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->global.scrape_interval_ms, 60000);
  EXPECT_EQ(c->storage.out_of_order_time_window_ms, 0);
  EXPECT_EQ(c->storage.max_exemplars, 100000);
}

TEST(Config, ReadsAPrometheusConfig) {
  auto c = Parse(R"(
global:
  scrape_interval: 15s
  evaluation_interval: 30s
  external_labels:
    region: eu-1
rule_files:
  - rules/*.yml
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['127.0.0.1:9100']
storage:
  tsdb:
    out_of_order_time_window: 30m
  exemplars:
    max_exemplars: 5000
limits:
  max_series_per_metric: 1000
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->global.scrape_interval_ms, 15000);
  EXPECT_EQ(c->global.scrape_timeout_ms, 10000);
  EXPECT_EQ(c->global.evaluation_interval_ms, 30000);
  EXPECT_EQ(c->global.external_labels.Get("region"), "eu-1");
  EXPECT_EQ(c->rule_files, std::vector<std::string>{"rules/*.yml"});
  EXPECT_NE(c->scrape_configs_yaml.find("job_name: node"), std::string::npos);
  EXPECT_EQ(c->storage.out_of_order_time_window_ms, 30 * 60000);
  EXPECT_EQ(c->storage.max_exemplars, 5000);
  EXPECT_EQ(c->limits.max_series_per_metric, 1000);
}

TEST(Config, ErrorsNameFileLineAndColumn) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"scrap_configs: []\n", "prom.yml:1:1: unknown field \"scrap_configs\" in config"},
      {"global:\n  scrape_interval: 5x\n", "prom.yml:2:20: scrape_interval: invalid duration"},
      {"global:\n  scrape_interval: 10s\n  scrape_timeout: 20s\n",
       "scrape_timeout is greater than scrape_interval"},
      {"global: [1, 2]\n", "global must be a mapping"},
      {"global:\n  external_labels:\n    bad-name: x\n", "invalid external label name \"bad-name\""},
      {"limits:\n  max_series_per_tenant: lots\n", "must be a whole number"},
      {"global: {scrape_interval: 15s\n", "prom.yml:2:1: cannot parse YAML"},
      {"rule_files: x.yml\n", "rule_files must be a list"},
      {"storage:\n  tsdb:\n    retention: 1d\n", "unknown field \"retention\" in storage.tsdb"},
      {"storage:\n  exemplars:\n    max_exemplars: -1\n", "max_exemplars must not be negative"},
      {"storage:\n  exemplars:\n    max_exemplar: 1\n",
       "unknown field \"max_exemplar\" in storage.exemplars"},
  };
  for (const auto& c : cases) {
    auto got = Parse(c.yaml, "prom.yml");
    ASSERT_FALSE(got.ok()) << c.yaml;
    EXPECT_NE(got.status().message().find(c.want), std::string::npos)
        << "got: " << got.status().message() << "\nwant: " << c.want;
  }
}

TEST(Config, MissingFileIsNotFound) {
  auto c = LoadFile("/nonexistent/prometheus.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil::config
