#include "config/config.h"

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gtest/gtest.h"

namespace vigil::config {
namespace {

TEST(Config, EmptyIsTheDefault) {
  auto c = Parse("");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->global.scrape_interval_ms, 60000);
  EXPECT_FALSE(c->storage.out_of_order_time_window_ms.has_value());
  EXPECT_EQ(c->storage.max_exemplars, 100000);
  EXPECT_TRUE(c->tenants.empty());
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

TEST(Config, ReadsTenantsAuthAndLimits) {
  auto c = Parse(R"(
global:
  sample_limit: 5000
  body_size_limit: 10MB
limits:
  max_series_per_tenant: 1000
  ingestion_rate: 2500.5
auth:
  tenant_header: X-Scope-OrgID
  open_paths: [/-/healthy]
tenants:
  - name: team-a
    tokens: ["secret-a1", "secret-a2"]
    limits: {max_series: 100000, max_series_per_metric: 20000, ingestion_rate: 50000, ingestion_burst: 100000}
  - name: ops
    tokens: [secret-ops]
    admin: true
  - name: proxied
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->global.sample_limit, 5000);
  EXPECT_EQ(c->global.body_size_limit, 10 << 20);
  EXPECT_EQ(c->limits.max_series_per_tenant, 1000);
  EXPECT_EQ(c->limits.ingestion_rate, 2500.5);
  EXPECT_EQ(c->auth.tenant_header, "X-Scope-OrgID");
  EXPECT_EQ(c->auth.open_paths, std::vector<std::string>{"/-/healthy"});
  ASSERT_EQ(c->tenants.size(), 3u);
  const TenantConfig& a = c->tenants[0];
  EXPECT_EQ(a.name, "team-a");
  EXPECT_EQ(a.resolved_tokens, (std::vector<std::string>{"secret-a1", "secret-a2"}));
  EXPECT_FALSE(a.admin);
  LimitsConfig la = a.limits.Over(c->limits);
  EXPECT_EQ(la.max_series_per_tenant, 100000);
  EXPECT_EQ(la.max_series_per_metric, 20000);
  EXPECT_EQ(la.ingestion_rate, 50000);
  EXPECT_EQ(la.ingestion_burst, 100000);
  EXPECT_TRUE(c->tenants[1].admin);
  // Unset tenant limits fall back to the limits section.
  LimitsConfig lo = c->tenants[1].limits.Over(c->limits);
  EXPECT_EQ(lo.max_series_per_tenant, 1000);
  EXPECT_EQ(lo.ingestion_rate, 2500.5);
  EXPECT_TRUE(c->tenants[2].resolved_tokens.empty());
}

TEST(Config, TenantErrorsArePreciseAndNeverQuoteTokens) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"tenants: {name: a}\n", "prom.yml:1:10: tenants must be a list"},
      {"tenants:\n  - tokens: [x]\n", "prom.yml:2:5: tenants[0]: name is missing"},
      {"tenants:\n  - name: a b\n    tokens: [x]\n",
       "prom.yml:2:11: tenants[0]: invalid tenant name \"a b\""},
      {"tenants:\n  - name: a\n    tokens: [x]\n  - name: a\n    tokens: [y]\n",
       "prom.yml:4:11: tenants[1] (a): tenant \"a\" is defined twice"},
      {"tenants:\n  - name: a\n", "prom.yml:2:5: tenants[0] (a): no tokens or token_files"},
      {"tenants:\n  - name: a\n    tokens: [\"\"]\n", "prom.yml:3:14: tenants[0] (a): empty token"},
      {"tenants:\n  - name: a\n    tokens: [tok1]\n  - name: b\n    tokens: [tok2, tok1]\n",
       "prom.yml:5:20: tenants[1] (b): this token is also a token of tenant \"a\""},
      {"tenants:\n  - name: a\n    tokens: [t]\n    limits: {max_series_per_tenant: 5}\n",
       "prom.yml:4:14: unknown field \"max_series_per_tenant\" in tenants[0] (a).limits (a tenant's "
       "own limit is max_series)"},
      {"tenants:\n  - name: a\n    tokens: [t]\n    limits: {ingestion_rate: -1}\n",
       "prom.yml:4:30: ingestion_rate must be a non-negative number, got \"-1\""},
      {"tenants:\n  - name: a\n    tokens: [t]\n    admin: maybe\n",
       "prom.yml:4:12: tenants[0] (a): admin must be true or false"},
      {"tenants:\n  - name: a\n    token: [t]\n", "prom.yml:3:5: unknown field \"token\" in tenants[0]"},
      {"auth:\n  tenant_header: Authorization\n", "tenant_header must not be Authorization"},
      {"auth:\n  open_paths: [metrics]\n", "open_paths: \"metrics\" must start with '/'"},
      {"limits:\n  ingestion_rate: fast\n", "prom.yml:2:19: ingestion_rate must be a number"},
      {"global:\n  sample_limit: -5\n", "sample_limit must not be negative"},
  };
  for (const auto& c : cases) {
    auto got = Parse(c.yaml, "prom.yml");
    ASSERT_FALSE(got.ok()) << c.yaml;
    EXPECT_NE(got.status().message().find(c.want), std::string::npos)
        << "got: " << got.status().message() << "\nwant: " << c.want;
    EXPECT_EQ(got.status().message().find("tok1"), std::string::npos) << got.status().message();
  }
}

TEST(Config, TenantsWithoutTokensNeedTheTenantHeader) {
  auto c = Parse("auth: {tenant_header: X-Scope-OrgID}\ntenants:\n  - name: a\n");
  ASSERT_TRUE(c.ok()) << c.status();
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vigil-config-test-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string Write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ + "/" + name) << text;
    return path_ + "/" + name;
  }

 private:
  std::string path_;
};

TEST(Config, LoadFileReadsTokenFilesRelativeToTheConfig) {
  TempDir dir;
  dir.Write("a.token", "  from-file\n");
  std::string path = dir.Write("vigil.yml", "tenants:\n  - name: a\n    tokens: [inline]\n"
                                            "    token_files: [a.token]\n");
  auto c = LoadFile(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->tenants[0].resolved_tokens, (std::vector<std::string>{"inline", "from-file"}));

  std::string missing = dir.Write("m.yml", "tenants:\n  - name: a\n    token_files: [nope.token]\n");
  auto m = LoadFile(missing);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("tenant \"a\": cannot read token file"), std::string::npos)
      << m.status();

  dir.Write("dup.token", "inline\n");
  std::string dup = dir.Write("d.yml", "tenants:\n  - name: a\n    tokens: [inline]\n"
                                       "  - name: b\n    token_files: [dup.token]\n");
  auto d = LoadFile(dup);
  ASSERT_FALSE(d.ok());
  EXPECT_NE(d.status().message().find("is also a token of tenant \"a\""), std::string::npos)
      << d.status();
  EXPECT_EQ(d.status().message().find("inline"), std::string::npos);
}

TEST(Config, RedactedYamlHidesTokens) {
  std::string out = RedactedYaml("tenants:\n  - name: a\n    tokens: [s3cret, other]\n");
  EXPECT_EQ(out.find("s3cret"), std::string::npos) << out;
  EXPECT_EQ(out.find("other"), std::string::npos) << out;
  EXPECT_NE(out.find("<secret>"), std::string::npos) << out;
  EXPECT_NE(out.find("name: a"), std::string::npos) << out;
}

TEST(Config, DescribeChangesListsWhatAReloadChanges) {
  auto a = Parse("limits: {ingestion_rate: 10}\ntenants:\n  - {name: a, tokens: [t1]}\n"
                 "  - {name: b, tokens: [t2], limits: {max_series: 5}}\n");
  auto b = Parse("limits: {ingestion_rate: 20}\ntenants:\n  - {name: a, tokens: [t9]}\n"
                 "  - {name: b, tokens: [t2], limits: {max_series: 7}}\n  - {name: c, tokens: [t3]}\n"
                 "storage: {tsdb: {out_of_order_time_window: 1h}}\n");
  ASSERT_TRUE(a.ok() && b.ok());
  std::vector<std::string> got = DescribeChanges(*a, *b);
  std::vector<std::string> want = {
      "limits.ingestion_rate: 10 -> 20",
      "tenant \"a\": tokens changed (1 -> 1 token(s))",
      "tenant \"a\" limits.ingestion_rate: 10 -> 20",
      "tenant \"b\" limits.max_series: 5 -> 7",
      "tenant \"b\" limits.ingestion_rate: 10 -> 20",
      "tenant \"c\" added (1 token(s))",
      "storage.tsdb.out_of_order_time_window changed: takes effect after a restart",
  };
  EXPECT_EQ(got, want);
  for (const auto& line : got) EXPECT_EQ(line.find("t9"), std::string::npos) << line;
  EXPECT_TRUE(DescribeChanges(*a, *a).empty());
}

TEST(Config, MissingFileIsNotFound) {
  auto c = LoadFile("/nonexistent/prometheus.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace vigil::config
