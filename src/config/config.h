// Config: prometheus.yml plus Vigil's own sections, parsed into typed structs.
//
// Prometheus's sections keep their names and meaning (`global`, `scrape_configs`,
// `rule_files`, `alerting`, `remote_write`, `remote_read`, `storage.tsdb`); Vigil adds
// `limits` (cardinality guard and ingestion rate, the defaults of every tenant), `tenants`
// (tenants by token, each with its own limits), `auth` (docs/tenants.md) and `notify` (the
// built-in notifier, in Alertmanager's format). Sections that other modules own are kept
// as YAML text for them to parse, so a config that works for Prometheus loads here.
// Unknown keys are errors, as in Prometheus, and every error names the file, line and
// column: "prometheus.yml:3:1: unknown field \"scrap_configs\" in config".
//
// Secrets (tenant tokens) are kept in the Config, so never log one; RedactedYaml() gives
// the text to show instead.
//
// Thread-safety: a Config is a plain value.
#pragma once

#include <cstdint>
#include <optional>
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
  // Defaults for every scrape job, as in Prometheus (0 = no limit).
  int64_t sample_limit = 0;
  int64_t label_limit = 0;
  int64_t label_name_length_limit = 0;
  int64_t label_value_length_limit = 0;
  int64_t body_size_limit = 0;  // bytes
};

struct StorageConfig {
  // storage.tsdb.out_of_order_time_window, as in Prometheus. Unset: the flag's value.
  std::optional<int64_t> out_of_order_time_window_ms;
  // storage.exemplars.max_exemplars, as in Prometheus: the size of each tenant's
  // in-memory exemplar ring (0 keeps no exemplars).
  int64_t max_exemplars = 100'000;
};

// The `limits` section: what every tenant gets unless its own `limits` say otherwise.
struct LimitsConfig {
  int64_t max_series_per_tenant = 0;  // active series; 0 = unlimited
  int64_t max_series_per_metric = 0;  // active series of one metric name within a tenant
  double ingestion_rate = 0;          // samples/s over every push protocol; 0 = unlimited
  double ingestion_burst = 0;         // samples at once after a quiet spell; 0 = 1s worth

  bool operator==(const LimitsConfig&) const = default;
};

// A tenant's own `limits`; an absent field falls back to the `limits` section.
struct TenantLimitsConfig {
  std::optional<int64_t> max_series;
  std::optional<int64_t> max_series_per_metric;
  std::optional<double> ingestion_rate;
  std::optional<double> ingestion_burst;

  bool operator==(const TenantLimitsConfig&) const = default;
  // These limits over `defaults`.
  LimitsConfig Over(const LimitsConfig& defaults) const;
};

struct TenantConfig {
  std::string name;  // [a-zA-Z0-9_.-]{1,64}; "default" is the tenant of scraped series and rules
  std::vector<std::string> tokens;       // as written in the file
  std::vector<std::string> token_files;  // paths as written (relative to the config file)
  // tokens plus one token per token file (its content without surrounding whitespace),
  // filled by LoadFile; Parse alone leaves it equal to `tokens`.
  std::vector<std::string> resolved_tokens;
  // Admin tenants may also call the server-wide endpoints (snapshot, clean_tombstones,
  // reload, status/config) and those of tenant "default" (rules, alerts, targets).
  bool admin = false;
  TenantLimitsConfig limits;
};

struct AuthConfig {
  // A header that names the tenant of a request without credentials (e.g. X-Scope-OrgID),
  // for deployments behind a proxy that authenticates; empty (default): not accepted.
  std::string tenant_header;
  // Paths answered without credentials (exact route patterns).
  std::vector<std::string> open_paths = {"/-/healthy", "/-/ready", "/metrics", "/ping"};

  bool operator==(const AuthConfig&) const = default;
};

struct Config {
  GlobalConfig global;
  StorageConfig storage;
  LimitsConfig limits;
  // Empty: no authentication, every request is tenant "default".
  std::vector<TenantConfig> tenants;
  AuthConfig auth;
  std::vector<std::string> rule_files;
  // Raw YAML of sections parsed by the modules that own them.
  std::string scrape_configs_yaml;
  std::string alerting_yaml;
  std::string remote_write_yaml;
  std::string remote_read_yaml;
  // `notify:` (Alertmanager's configuration format), parsed by notify/ from the file itself.
  std::string notify_yaml;
  // Settings accepted for compatibility with prometheus.yml that Vigil does not act on
  // ("remote_write", "global.query_log_file", ...), for a warning at load.
  std::vector<std::string> unused;
};

// Parses `yaml`; `filename` is only used in error messages. Empty input is the default config.
absl::StatusOr<Config> Parse(std::string_view yaml, std::string_view filename = "config");
// Parse, then reads every tenant's token_files (relative paths from the file's directory).
absl::StatusOr<Config> LoadFile(const std::string& path);
// The token-file part of LoadFile, for a Config parsed from the text of `config_path`.
absl::Status ReadTokenFiles(Config* cfg, const std::string& config_path);

// `yaml` with every tenant token replaced by "<secret>", for /api/v1/status/config.
std::string RedactedYaml(std::string_view yaml);

// What a reload changes in the parts applied at runtime (tenants, auth, limits), one line
// each ("tenant \"team-a\" added", "limits.ingestion_rate: 0 -> 5000"), plus a line for
// each changed setting that needs a restart. Never contains a token.
std::vector<std::string> DescribeChanges(const Config& before, const Config& after);

}  // namespace vigil::config
