#include "scrape/config.h"

#include <string>

#include "gtest/gtest.h"

namespace vigil::scrape {
namespace {

TEST(ParseConfigText, FillsPrometheusDefaults) {
  auto got = ParseConfigText(R"(
global:
  scrape_interval: 15s
scrape_configs:
  - job_name: node
    static_configs:
      - targets: ['a:9100', 'b:9100']
        labels: {env: prod}
  - job_name: app
    scrape_interval: 5s
    scheme: https
    metrics_path: /m
    params: {module: [x, y]}
    honor_labels: true
    honor_timestamps: false
    sample_limit: 100
    label_limit: 10
    body_size_limit: 1MB
    bearer_token: secret
    tls_config: {insecure_skip_verify: true}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: go_.*
        action: drop
    file_sd_configs:
      - files: [/tmp/x/*.json]
        refresh_interval: 1m
    http_sd_configs:
      - url: http://127.0.0.1:1/sd
    dns_sd_configs:
      - names: [_prom._tcp.example.org]
)",
                             "p.yml");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->scrape_configs.size(), 2u);
  const ScrapeConfig& node = got->scrape_configs[0];
  EXPECT_EQ(node.scrape_interval_ms, 15000);
  EXPECT_EQ(node.scrape_timeout_ms, 10000);
  EXPECT_EQ(node.metrics_path, "/metrics");
  EXPECT_EQ(node.scheme, "http");
  EXPECT_TRUE(node.honor_timestamps);
  ASSERT_EQ(node.static_configs.size(), 1u);
  EXPECT_EQ(node.static_configs[0].targets.size(), 2u);
  EXPECT_EQ(node.static_configs[0].labels.Get("env"), "prod");
  const ScrapeConfig& app = got->scrape_configs[1];
  EXPECT_EQ(app.scrape_interval_ms, 5000);
  EXPECT_EQ(app.scrape_timeout_ms, 5000);  // capped by the job's own interval
  EXPECT_EQ(app.scheme, "https");
  EXPECT_EQ(app.params.at("module").size(), 2u);
  EXPECT_TRUE(app.honor_labels);
  EXPECT_FALSE(app.honor_timestamps);
  EXPECT_EQ(app.sample_limit, 100);
  EXPECT_EQ(app.body_size_limit, 1 << 20);
  EXPECT_EQ(app.authorization_type, "Bearer");
  EXPECT_EQ(app.authorization_credentials, "secret");
  EXPECT_TRUE(app.tls.insecure_skip_verify);
  EXPECT_EQ(app.metric_relabel_configs.size(), 1u);
  EXPECT_EQ(app.file_sd_configs[0].refresh_interval_ms, 60000);
  EXPECT_EQ(app.http_sd_configs[0].refresh_interval_ms, 60000);
  EXPECT_EQ(app.dns_sd_configs[0].type, "SRV");
  EXPECT_NE(node.fingerprint, app.fingerprint);
}

TEST(ParseConfigText, ErrorsNameFileLineAndColumn) {
  struct Bad {
    std::string yaml;
    std::string want;
  };
  std::vector<Bad> cases = {
      {"scrape_configs:\n  - job_name: a\n    scrape_intervall: 1s\n",
       "p.yml:3:5: unknown field \"scrape_intervall\" in scrape config"},
      {"scrape_configs:\n  - job_name: a\n    scrape_interval: 5s\n    scrape_timeout: 10s\n",
       "p.yml:2:5: scrape timeout greater than scrape interval for scrape config with job "
       "name \"a\""},
      {"scrape_configs:\n  - job_name: a\n  - job_name: a\n",
       "p.yml:3:15: found multiple scrape configs with job name \"a\""},
      {"scrape_configs:\n  - job_name: a\n    scheme: ftp\n", "p.yml:3:13: URL scheme"},
      {"scrape_configs:\n  - job_name: a\n    scrape_interval: 5x\n", "p.yml:3:22:"},
      {"scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - action: nope\n",
       "p.yml:4:17: unknown relabel action \"nope\""},
      {"scrape_configs:\n  - job_name: a\n    basic_auth: {username: u}\n    bearer_token: t\n",
       "at most one of basic_auth"},
      {"scrape_configs:\n  - job_name: a\n    file_sd_configs:\n      - files: [x.txt]\n",
       "is not valid for file discovery"},
      {"scrape_configs:\n  - job_name: a\n    dns_sd_configs:\n      - names: [x]\n        type: A\n",
       "a port is required"},
      {"scrape_configs:\n  - scrape_interval: 1s\n", "p.yml:2:5: job_name is empty"},
  };
  for (const Bad& b : cases) {
    auto got = ParseConfigText(b.yaml, "p.yml");
    ASSERT_FALSE(got.ok()) << b.yaml;
    EXPECT_NE(std::string(got.status().message()).find(b.want), std::string::npos)
        << got.status() << "\nwant: " << b.want;
  }
}

}  // namespace
}  // namespace vigil::scrape
