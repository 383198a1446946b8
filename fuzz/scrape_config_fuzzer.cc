// Fuzzes the scrape configuration path on untrusted text: prometheus.yml parsing (scrape
// configs with relabeling) and file_sd / http_sd target group documents. Whatever parses
// is pushed through target label population against a fixed counterpart (fixed groups for
// a parsed config, a fixed relabeling config for parsed groups). Properties: no crash, and
// every kept target's labels validate.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "scrape/config.h"
#include "scrape/discovery/discovery.h"
#include "scrape/target.h"

namespace {

void Check(const vigil::scrape::ScrapeConfig& sc,
           const std::vector<vigil::scrape::TargetGroup>& groups) {
  for (const auto& spec : vigil::scrape::TargetsFromGroups(sc, groups)) {
    if (!spec.dropped && !spec.labels.Validate().ok()) __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto* kFixedConfig = [] {
    auto c = vigil::scrape::ParseConfigText(R"(
scrape_configs:
  - job_name: fixed
    relabel_configs:
      - action: labelmap
        regex: __meta_(.+)
      - source_labels: [__address__]
        regex: (.*):(\d+)
        target_label: port
        replacement: ${2}
)",
                                            "fixed.yml");
    return new vigil::scrape::ScrapeConfig(c->scrape_configs.at(0));
  }();
  static const std::vector<vigil::scrape::TargetGroup> kFixedGroups = {
      {"0", {vigil::model::Labels{{"__address__", "h:1"}, {"__meta_x", "y"}}}, {}}};

  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto cfg = vigil::scrape::ParseConfigText(text, "fuzz.yml"); cfg.ok()) {
    for (const auto& sc : cfg->scrape_configs) Check(sc, kFixedGroups);
  }
  if (auto groups = vigil::scrape::discovery::ParseTargetGroups(text, "fuzz", {}); groups.ok()) {
    Check(*kFixedConfig, *groups);
  }
  return 0;
}
