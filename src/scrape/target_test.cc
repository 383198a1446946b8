#include "scrape/target.h"

#include "fmt/format.h"
#include "gtest/gtest.h"

namespace vigil::scrape {
namespace {

ScrapeConfig Job(std::string_view extra = "") {
  auto got = ParseConfigText(fmt::format(R"(
scrape_configs:
  - job_name: node
    scrape_interval: 15s
    scrape_timeout: 5s
    params: {{module: [http_2xx]}}
{}
)",
                                         extra),
                             "t.yml");
  EXPECT_TRUE(got.ok()) << got.status();
  return got->scrape_configs.at(0);
}

TEST(PopulateLabels, AddsJobDefaultsAndInstance) {
  ScrapeConfig cfg = Job();
  TargetGroup g;
  g.labels = model::Labels{{"env", "prod"}};
  auto spec = PopulateLabels(cfg, g, model::Labels{{"__address__", "h:9100"}});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->labels.ToString(), R"({env="prod", instance="h:9100", job="node"})");
  EXPECT_EQ(spec->url, "http://h:9100/metrics?module=http_2xx");
  EXPECT_EQ(spec->discovered.Get("__scrape_interval__"), "15s");
  EXPECT_EQ(spec->discovered.Get("__scrape_timeout__"), "5s");
  EXPECT_EQ(spec->discovered.Get("__metrics_path__"), "/metrics");
  EXPECT_EQ(spec->discovered.Get("__scheme__"), "http");
  EXPECT_EQ(spec->discovered.Get("__param_module"), "http_2xx");
  EXPECT_EQ(spec->interval_ms, 15000);
  EXPECT_EQ(spec->timeout_ms, 5000);
}

TEST(PopulateLabels, RelabelingRewritesAddressParamsAndDrops) {
  ScrapeConfig cfg = Job(R"(    relabel_configs:
      - source_labels: [__address__]
        target_label: __param_target
      - source_labels: [__param_target]
        target_label: instance
      - target_label: __address__
        replacement: prober:9115
      - source_labels: [instance]
        regex: drop.*
        action: drop
      - source_labels: [__meta_x]
        target_label: __scrape_interval__
        regex: (.+)
)");
  TargetGroup g;
  auto spec = PopulateLabels(cfg, g, model::Labels{{"__address__", "example.org"}});
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_FALSE(spec->dropped);
  EXPECT_EQ(spec->url, "http://prober:9115/metrics?module=http_2xx&target=example.org");
  EXPECT_EQ(spec->labels.Get("instance"), "example.org");
  EXPECT_FALSE(spec->labels.Has("__param_target"));

  auto dropped = PopulateLabels(cfg, g, model::Labels{{"__address__", "drop-me"}});
  ASSERT_TRUE(dropped.ok());
  EXPECT_TRUE(dropped->dropped);

  auto faster = PopulateLabels(cfg, g, model::Labels{{"__address__", "a"}, {"__meta_x", "30s"}});
  ASSERT_TRUE(faster.ok());
  EXPECT_EQ(faster->interval_ms, 30000);

  auto bad = PopulateLabels(cfg, g, model::Labels{{"__address__", "a"}, {"__meta_x", "1s"}});
  EXPECT_FALSE(bad.ok());  // timeout 5s > interval 1s
}

TEST(PopulateLabels, TargetWithoutAddressIsInvalid) {
  ScrapeConfig cfg = Job(R"(    relabel_configs:
      - target_label: __address__
        replacement: ""
)");
  auto spec = PopulateLabels(cfg, TargetGroup{}, model::Labels{{"__address__", "a:1"}});
  EXPECT_FALSE(spec.ok());
  std::vector<TargetSpec> all = TargetsFromGroups(
      cfg, {TargetGroup{"0", {model::Labels{{"__address__", "a:1"}}}, {}}});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_TRUE(all[0].dropped);
}

}  // namespace
}  // namespace vigil::scrape
