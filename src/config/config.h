// Config: prometheus.yml plus Vigil's own sections, parsed into typed structs.
//
// Prometheus's sections keep their names and meaning (`global`, `scrape_configs`,
// `rule_files`, `alerting`, `remote_write`, `remote_read`, `storage.tsdb`); Vigil adds
// `limits` (cardinality guard) and `notify` (the built-in notifier, in Alertmanager's
// format). Sections that later modules own are kept as YAML text until those modules parse
// them, so a config that works for Prometheus loads here.
// Unknown keys are errors, as in Prometheus, and every error names the file, line and
// column: "prometheus.yml:3:1: unknown field \"scrap_configs\" in config".
//
// Thread-safety: a Config is a plain value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"

namespace vigil::config {

struct GlobalConfig {
  int64_t scrape_interval_ms = 60'000;
  int64_t scrape_timeout_ms = 10'000;
  int64_t evaluation_interval_ms = 60'000;
  model::Labels external_labels;
};

struct StorageConfig {
  // storage.tsdb.out_of_order_time_window, as in Prometheus.
  int64_t out_of_order_time_window_ms = 0;
  // storage.exemplars.max_exemplars, as in Prometheus: the size of each tenant's
  // in-memory exemplar ring (0 keeps no exemplars).
  int64_t max_exemplars = 100'000;
};

struct LimitsConfig {
  int64_t max_series_per_tenant = 0;  // 0 = unlimited
  int64_t max_series_per_metric = 0;
};

struct Config {
  GlobalConfig global;
  StorageConfig storage;
  LimitsConfig limits;
  std::vector<std::string> rule_files;
  // Raw YAML of sections parsed by the modules that own them.
  std::string scrape_configs_yaml;
  std::string alerting_yaml;
  std::string remote_write_yaml;
  std::string remote_read_yaml;
  // `notify:` (Alertmanager's configuration format), parsed by notify/ from the file itself.
  std::string notify_yaml;
};

// Parses `yaml`; `filename` is only used in error messages. Empty input is the default config.
absl::StatusOr<Config> Parse(std::string_view yaml, std::string_view filename = "config");
absl::StatusOr<Config> LoadFile(const std::string& path);

}  // namespace vigil::config
