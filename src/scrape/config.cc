#include "scrape/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "base/status.h"
#include "config/units.h"
#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace vigil::scrape {
namespace {

class Parser {
 public:
  Parser(std::string_view filename, const config::GlobalConfig& global)
      : filename_(filename), global_(global) {}

  absl::Status Error(const YAML::Node& n, std::string_view what) const {
    const YAML::Mark m = n.Mark();
    return absl::InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", filename_, m.line + 1, m.column + 1, what));
  }

  absl::StatusOr<std::string> Str(const YAML::Node& n, std::string_view field) const {
    if (!n.IsDefined() || n.IsNull()) return std::string();
    if (!n.IsScalar()) return Error(n, fmt::format("{} must be a string", field));
    return n.Scalar();
  }

  absl::StatusOr<bool> Bool(const YAML::Node& n, std::string_view field) const {
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      return Error(n, fmt::format("{} must be true or false", field));
    }
  }

  absl::StatusOr<int64_t> Int(const YAML::Node& n, std::string_view field) const {
    try {
      int64_t v = n.as<int64_t>();
      if (v < 0) return Error(n, fmt::format("{} must not be negative", field));
      return v;
    } catch (const YAML::Exception&) {
      return Error(n, fmt::format("{} must be an integer", field));
    }
  }

  absl::StatusOr<int64_t> Duration(const YAML::Node& n, std::string_view field) const {
    ASSIGN_OR_RETURN(std::string s, Str(n, field));
    absl::StatusOr<int64_t> d = config::ParseDuration(s);
    if (!d.ok()) return Error(n, fmt::format("{}: {}", field, std::string(d.status().message())));
    return *d;
  }

  absl::StatusOr<std::vector<std::string>> StrList(const YAML::Node& n,
                                                   std::string_view field) const {
    std::vector<std::string> out;
    if (!n.IsDefined() || n.IsNull()) return out;
    if (!n.IsSequence()) return Error(n, fmt::format("{} must be a list", field));
    for (const YAML::Node& e : n) {
      ASSIGN_OR_RETURN(std::string s, Str(e, field));
      out.push_back(std::move(s));
    }
    return out;
  }

  absl::Status CheckKeys(const YAML::Node& map, std::string_view what,
                         std::initializer_list<std::string_view> allowed) const {
    if (!map.IsMap()) return Error(map, fmt::format("{} must be a mapping", what));
    for (const auto& kv : map) {
      const std::string& k = kv.first.Scalar();
      bool ok = false;
      for (std::string_view a : allowed) ok = ok || a == k;
      if (!ok) return Error(kv.first, fmt::format("unknown field \"{}\" in {}", k, what));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::vector<TargetGroup>> StaticConfigs(const YAML::Node& n) const {
    std::vector<TargetGroup> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence()) return Error(n, "static_configs must be a list");
    int i = 0;
    for (const YAML::Node& g : n) {
      RETURN_IF_ERROR(CheckKeys(g, "static config", {"targets", "labels"}));
      TargetGroup tg;
      tg.source = fmt::format("{}", i++);
      ASSIGN_OR_RETURN(std::vector<std::string> addrs, StrList(g["targets"], "targets"));
      for (const std::string& a : addrs) {
        if (a.empty()) return Error(g["targets"], "empty target address");
        tg.targets.push_back(model::Labels{{"__address__", a}});
      }
      ASSIGN_OR_RETURN(tg.labels, LabelMap(g["labels"]));
      out.push_back(std::move(tg));
    }
    return out;
  }

  absl::StatusOr<model::Labels> LabelMap(const YAML::Node& n) const {
    model::LabelsBuilder b;
    if (!n || n.IsNull()) return b.Build();
    if (!n.IsMap()) return Error(n, "labels must be a mapping");
    for (const auto& kv : n) {
      const std::string& name = kv.first.Scalar();
      if (!model::IsValidLabelName(name)) {
        return Error(kv.first, fmt::format("\"{}\" is not a valid label name", name));
      }
      ASSIGN_OR_RETURN(std::string v, Str(kv.second, "label value"));
      b.Set(name, v);
    }
    return b.Build();
  }

  absl::StatusOr<ScrapeConfig> Job(const YAML::Node& n) const {
    RETURN_IF_ERROR(CheckKeys(
        n, "scrape config",
        {"job_name", "scrape_interval", "scrape_timeout", "metrics_path", "scheme", "params",
         "honor_labels", "honor_timestamps", "sample_limit", "label_limit",
         "label_name_length_limit", "label_value_length_limit", "body_size_limit",
         "basic_auth", "authorization", "bearer_token", "bearer_token_file", "tls_config",
         "relabel_configs", "metric_relabel_configs", "static_configs", "file_sd_configs",
         "http_sd_configs", "dns_sd_configs", "follow_redirects", "enable_http2",
         "scrape_protocols", "target_limit"}));
    ScrapeConfig c;
    c.scrape_interval_ms = global_.scrape_interval_ms;
    c.scrape_timeout_ms = global_.scrape_timeout_ms;
    // The global section's limits are every job's defaults, as in Prometheus.
    c.sample_limit = global_.sample_limit;
    c.label_limit = global_.label_limit;
    c.label_name_length_limit = global_.label_name_length_limit;
    c.label_value_length_limit = global_.label_value_length_limit;
    c.body_size_limit = global_.body_size_limit;
    bool timeout_set = false;
    if (!n["job_name"]) return Error(n, "job_name is empty");
    ASSIGN_OR_RETURN(c.job_name, Str(n["job_name"], "job_name"));
    if (c.job_name.empty()) return Error(n["job_name"], "job_name is empty");
    for (const auto& kv : n) {
      const std::string& k = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (k == "scrape_interval") {
        ASSIGN_OR_RETURN(c.scrape_interval_ms, Duration(v, k));
        if (c.scrape_interval_ms <= 0) return Error(v, "scrape_interval must be positive");
      } else if (k == "scrape_timeout") {
        ASSIGN_OR_RETURN(c.scrape_timeout_ms, Duration(v, k));
        timeout_set = true;
      } else if (k == "metrics_path") {
        ASSIGN_OR_RETURN(c.metrics_path, Str(v, k));
        if (c.metrics_path.empty() || c.metrics_path[0] != '/') {
          return Error(v, "metrics_path must start with '/'");
        }
      } else if (k == "scheme") {
        ASSIGN_OR_RETURN(c.scheme, Str(v, k));
        if (c.scheme != "http" && c.scheme != "https") {
          return Error(v, fmt::format("URL scheme must be 'http' or 'https', got \"{}\"",
                                      c.scheme));
        }
      } else if (k == "params") {
        if (!v.IsMap()) return Error(v, "params must be a mapping of lists");
        for (const auto& p : v) {
          ASSIGN_OR_RETURN(c.params[p.first.Scalar()], StrList(p.second, "params"));
        }
      } else if (k == "honor_labels") {
        ASSIGN_OR_RETURN(c.honor_labels, Bool(v, k));
      } else if (k == "honor_timestamps") {
        ASSIGN_OR_RETURN(c.honor_timestamps, Bool(v, k));
      } else if (k == "sample_limit") {
        ASSIGN_OR_RETURN(c.sample_limit, Int(v, k));
      } else if (k == "label_limit") {
        ASSIGN_OR_RETURN(c.label_limit, Int(v, k));
      } else if (k == "label_name_length_limit") {
        ASSIGN_OR_RETURN(c.label_name_length_limit, Int(v, k));
      } else if (k == "label_value_length_limit") {
        ASSIGN_OR_RETURN(c.label_value_length_limit, Int(v, k));
      } else if (k == "body_size_limit") {
        ASSIGN_OR_RETURN(std::string s, Str(v, k));
        absl::StatusOr<int64_t> b = config::ParseBytes(s);
        if (!b.ok()) return Error(v, fmt::format("body_size_limit: {}",
                                                 std::string(b.status().message())));
        c.body_size_limit = *b;
      } else if (k == "basic_auth") {
        RETURN_IF_ERROR(CheckKeys(v, "basic_auth", {"username", "password", "password_file"}));
        c.has_basic_auth = true;
        ASSIGN_OR_RETURN(c.basic_auth.username, Str(v["username"], "username"));
        ASSIGN_OR_RETURN(c.basic_auth.password, Str(v["password"], "password"));
        ASSIGN_OR_RETURN(c.basic_auth.password_file, Str(v["password_file"], "password_file"));
        if (!c.basic_auth.password.empty() && !c.basic_auth.password_file.empty()) {
          return Error(v, "at most one of basic_auth password & password_file must be configured");
        }
      } else if (k == "authorization") {
        RETURN_IF_ERROR(
            CheckKeys(v, "authorization", {"type", "credentials", "credentials_file"}));
        ASSIGN_OR_RETURN(c.authorization_type, Str(v["type"], "type"));
        if (c.authorization_type.empty()) c.authorization_type = "Bearer";
        if (c.authorization_type == "Basic" || c.authorization_type == "basic") {
          return Error(v, "authorization type cannot be set to \"basic\", use \"basic_auth\" instead");
        }
        ASSIGN_OR_RETURN(c.authorization_credentials, Str(v["credentials"], "credentials"));
        ASSIGN_OR_RETURN(c.authorization_credentials_file,
                         Str(v["credentials_file"], "credentials_file"));
      } else if (k == "bearer_token") {
        c.authorization_type = "Bearer";
        ASSIGN_OR_RETURN(c.authorization_credentials, Str(v, k));
      } else if (k == "bearer_token_file") {
        c.authorization_type = "Bearer";
        ASSIGN_OR_RETURN(c.authorization_credentials_file, Str(v, k));
      } else if (k == "tls_config") {
        RETURN_IF_ERROR(CheckKeys(v, "tls_config",
                                  {"ca_file", "cert_file", "key_file", "server_name",
                                   "insecure_skip_verify", "min_version"}));
        ASSIGN_OR_RETURN(c.tls.ca_file, Str(v["ca_file"], "ca_file"));
        ASSIGN_OR_RETURN(c.tls.cert_file, Str(v["cert_file"], "cert_file"));
        ASSIGN_OR_RETURN(c.tls.key_file, Str(v["key_file"], "key_file"));
        ASSIGN_OR_RETURN(c.tls.server_name, Str(v["server_name"], "server_name"));
        if (v["insecure_skip_verify"]) {
          ASSIGN_OR_RETURN(c.tls.insecure_skip_verify,
                           Bool(v["insecure_skip_verify"], "insecure_skip_verify"));
        }
        if (c.tls.cert_file.empty() != c.tls.key_file.empty()) {
          return Error(v, "tls_config needs both cert_file and key_file, or neither");
        }
      } else if (k == "relabel_configs") {
        ASSIGN_OR_RETURN(c.relabel_configs, model::ParseRelabelConfigs(v, filename_));
      } else if (k == "metric_relabel_configs") {
        ASSIGN_OR_RETURN(c.metric_relabel_configs, model::ParseRelabelConfigs(v, filename_));
      } else if (k == "static_configs") {
        ASSIGN_OR_RETURN(c.static_configs, StaticConfigs(v));
      } else if (k == "file_sd_configs") {
        if (!v.IsSequence()) return Error(v, "file_sd_configs must be a list");
        for (const YAML::Node& f : v) {
          RETURN_IF_ERROR(CheckKeys(f, "file_sd_config", {"files", "refresh_interval"}));
          FileSdConfig fc;
          ASSIGN_OR_RETURN(fc.files, StrList(f["files"], "files"));
          if (fc.files.empty()) return Error(f, "file service discovery config must contain at least one path name");
          for (const std::string& p : fc.files) {
            if (!(p.ends_with(".json") || p.ends_with(".yml") || p.ends_with(".yaml"))) {
              return Error(f["files"], fmt::format("path name \"{}\" is not valid for file discovery (must end in .json, .yml or .yaml)", p));
            }
          }
          if (f["refresh_interval"]) {
            ASSIGN_OR_RETURN(fc.refresh_interval_ms,
                             Duration(f["refresh_interval"], "refresh_interval"));
          }
          c.file_sd_configs.push_back(std::move(fc));
        }
      } else if (k == "http_sd_configs") {
        if (!v.IsSequence()) return Error(v, "http_sd_configs must be a list");
        for (const YAML::Node& h : v) {
          RETURN_IF_ERROR(CheckKeys(h, "http_sd_config", {"url", "refresh_interval"}));
          HttpSdConfig hc;
          ASSIGN_OR_RETURN(hc.url, Str(h["url"], "url"));
          if (!(hc.url.starts_with("http://") || hc.url.starts_with("https://"))) {
            return Error(h, "URL scheme must be 'http' or 'https'");
          }
          if (h["refresh_interval"]) {
            ASSIGN_OR_RETURN(hc.refresh_interval_ms,
                             Duration(h["refresh_interval"], "refresh_interval"));
          }
          c.http_sd_configs.push_back(std::move(hc));
        }
      } else if (k == "dns_sd_configs") {
        if (!v.IsSequence()) return Error(v, "dns_sd_configs must be a list");
        for (const YAML::Node& d : v) {
          RETURN_IF_ERROR(CheckKeys(d, "dns_sd_config", {"names", "type", "port", "refresh_interval"}));
          DnsSdConfig dc;
          ASSIGN_OR_RETURN(dc.names, StrList(d["names"], "names"));
          if (dc.names.empty()) return Error(d, "DNS-SD config must contain at least one SRV record name");
          if (d["type"]) {
            ASSIGN_OR_RETURN(dc.type, Str(d["type"], "type"));
            for (char& ch : dc.type) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
          }
          if (dc.type != "SRV" && dc.type != "A" && dc.type != "AAAA") {
            return Error(d["type"], fmt::format("invalid DNS-SD records type {}", dc.type));
          }
          if (d["port"]) {
            ASSIGN_OR_RETURN(int64_t port, Int(d["port"], "port"));
            dc.port = static_cast<int>(port);
          }
          if (dc.type != "SRV" && dc.port == 0) {
            return Error(d, "a port is required in DNS-SD configs for all record types except SRV");
          }
          if (d["refresh_interval"]) {
            ASSIGN_OR_RETURN(dc.refresh_interval_ms,
                             Duration(d["refresh_interval"], "refresh_interval"));
          }
          c.dns_sd_configs.push_back(std::move(dc));
        }
      }
      // follow_redirects, enable_http2, scrape_protocols and target_limit are accepted for
      // compatibility; redirects are always followed.
    }
    if (!timeout_set && c.scrape_timeout_ms > c.scrape_interval_ms) {
      // As Prometheus: an unset timeout never exceeds the job's own interval.
      c.scrape_timeout_ms = c.scrape_interval_ms;
    }
    if (c.scrape_timeout_ms > c.scrape_interval_ms) {
      return Error(n, fmt::format("scrape timeout greater than scrape interval for scrape "
                                  "config with job name \"{}\"",
                                  c.job_name));
    }
    if (c.scrape_timeout_ms <= 0) return Error(n, "scrape_timeout must be positive");
    if (c.has_basic_auth && !c.authorization_type.empty()) {
      return Error(n, "at most one of basic_auth, oauth2, bearer_token & bearer_token_file "
                      "must be configured");
    }
    if (!c.authorization_credentials.empty() && !c.authorization_credentials_file.empty()) {
      return Error(n, "at most one of bearer_token & bearer_token_file must be configured");
    }
    c.fingerprint = fmt::format("{}|{}|{}|{}|{}|{}|{}|{}", YAML::Dump(n), c.scrape_interval_ms,
                                c.scrape_timeout_ms, c.sample_limit, c.label_limit,
                                c.label_name_length_limit, c.label_value_length_limit,
                                c.body_size_limit);
    return c;
  }

 private:
  std::string filename_;
  const config::GlobalConfig& global_;
};

}  // namespace

absl::StatusOr<std::vector<ScrapeConfig>> ParseScrapeConfigs(const YAML::Node& seq,
                                                            const config::GlobalConfig& global,
                                                            std::string_view filename) {
  Parser p(filename, global);
  std::vector<ScrapeConfig> out;
  if (!seq || seq.IsNull()) return out;
  if (!seq.IsSequence()) return p.Error(seq, "scrape_configs must be a list");
  std::set<std::string> names;
  for (const YAML::Node& n : seq) {
    ASSIGN_OR_RETURN(ScrapeConfig c, p.Job(n));
    if (!names.insert(c.job_name).second) {
      return p.Error(n["job_name"], fmt::format("found multiple scrape configs with job name \"{}\"",
                                                c.job_name));
    }
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<LoadedConfig> ParseConfigText(std::string_view yaml, std::string_view filename) {
  LoadedConfig out;
  ASSIGN_OR_RETURN(out.config, config::Parse(yaml, filename));
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: cannot parse YAML: {}", filename,
                                                  e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (root.IsMap() && root["scrape_configs"]) {
    ASSIGN_OR_RETURN(out.scrape_configs,
                     ParseScrapeConfigs(root["scrape_configs"], out.config.global, filename));
  }
  return out;
}

absl::StatusOr<LoadedConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(fmt::format("cannot read config file {}", path));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfigText(ss.str(), path);
}

}  // namespace vigil::scrape
