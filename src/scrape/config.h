// ScrapeConfig: one entry of prometheus.yml's `scrape_configs`, parsed and validated.
//
// Field names, defaults and checks follow Prometheus: scrape_interval and scrape_timeout
// default to the global values, metrics_path "/metrics", scheme "http",
// honor_timestamps true, limits 0 (none); a timeout longer than the interval, a duplicate
// job name, an unknown field or both basic_auth and authorization are errors. Every error
// names the file, line and column: "prometheus.yml:7:5: unknown field \"scrape_intervall\"
// in scrape config".
//
// Thread-safety: plain values; share const instances freely.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "config/config.h"
#include "model/labels.h"
#include "model/relabel.h"

namespace YAML {
class Node;
}

namespace vigil::scrape {

// A set of targets sharing labels, as static_configs and every discovery mechanism give
// them. Each target holds at least __address__ plus its own __meta_* labels.
struct TargetGroup {
  std::string source;  // identifies the group within its provider (e.g. file path:index)
  std::vector<model::Labels> targets;
  model::Labels labels;
};

struct FileSdConfig {
  std::vector<std::string> files;  // may hold a '*' glob in the last path element
  int64_t refresh_interval_ms = 5 * 60'000;
};

struct HttpSdConfig {
  std::string url;
  int64_t refresh_interval_ms = 60'000;
};

struct DnsSdConfig {
  std::vector<std::string> names;
  std::string type = "SRV";  // SRV, A or AAAA
  int port = 0;              // required for A and AAAA
  int64_t refresh_interval_ms = 30'000;
};

struct BasicAuth {
  std::string username;
  std::string password;
  std::string password_file;
};

struct TlsConfig {
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string server_name;
  bool insecure_skip_verify = false;
};

struct ScrapeConfig {
  std::string job_name;
  int64_t scrape_interval_ms = 0;
  int64_t scrape_timeout_ms = 0;
  std::string metrics_path = "/metrics";
  std::string scheme = "http";
  std::map<std::string, std::vector<std::string>> params;
  bool honor_labels = false;
  bool honor_timestamps = true;
  int64_t sample_limit = 0;
  int64_t label_limit = 0;
  int64_t label_name_length_limit = 0;
  int64_t label_value_length_limit = 0;
  int64_t body_size_limit = 0;  // bytes
  bool has_basic_auth = false;
  BasicAuth basic_auth;
  // Authorization header: "<type> <credentials>" (bearer_token is type "Bearer").
  std::string authorization_type;
  std::string authorization_credentials;
  std::string authorization_credentials_file;
  TlsConfig tls;
  std::vector<model::RelabelConfig> relabel_configs;
  std::vector<model::RelabelConfig> metric_relabel_configs;

  std::vector<TargetGroup> static_configs;
  std::vector<FileSdConfig> file_sd_configs;
  std::vector<HttpSdConfig> http_sd_configs;
  std::vector<DnsSdConfig> dns_sd_configs;

  // The job's YAML as written plus the effective interval and timeout: two configs with
  // the same fingerprint scrape identically, so a reload keeps their state.
  std::string fingerprint;
};

// Parses the value of `scrape_configs` (a YAML sequence) with `global`'s defaults.
absl::StatusOr<std::vector<ScrapeConfig>> ParseScrapeConfigs(const YAML::Node& seq,
                                                            const config::GlobalConfig& global,
                                                            std::string_view filename);

// A whole configuration file: the common sections through config::Parse, then the
// scrape_configs with positions from the original text.
struct LoadedConfig {
  config::Config config;
  std::vector<ScrapeConfig> scrape_configs;
};
absl::StatusOr<LoadedConfig> ParseConfigText(std::string_view yaml, std::string_view filename);
absl::StatusOr<LoadedConfig> LoadConfigFile(const std::string& path);

}  // namespace vigil::scrape
