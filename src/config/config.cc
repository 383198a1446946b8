#include "config/config.h"

#include <fstream>
#include <set>
#include <sstream>

#include "config/units.h"
#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace vigil::config {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view filename) : filename_(filename) {}

  absl::Status Error(const YAML::Node& at, std::string_view what) const {
    const YAML::Mark m = at.Mark();
    if (m.is_null()) return absl::InvalidArgumentError(fmt::format("{}: {}", filename_, what));
    return absl::InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", filename_, m.line + 1, m.column + 1, what));
  }

  // Fails on keys of `node` outside `known`; `where` names the section.
  absl::Status CheckKeys(const YAML::Node& node, std::string_view where,
                         const std::set<std::string>& known) const {
    if (!node.IsMap()) return Error(node, fmt::format("{} must be a mapping", where));
    for (const auto& kv : node) {
      const std::string key = kv.first.as<std::string>();
      if (!known.count(key)) {
        return Error(kv.first, fmt::format("unknown field \"{}\" in {}", key, where));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Duration(const YAML::Node& node, std::string_view field, int64_t* out) const {
    if (!node.IsScalar()) return Error(node, fmt::format("{} must be a duration", field));
    auto d = ParseDuration(node.Scalar());
    if (!d.ok()) return Error(node, fmt::format("{}: {}", field, std::string(d.status().message())));
    *out = *d;
    return absl::OkStatus();
  }

  absl::Status Count(const YAML::Node& node, std::string_view field, int64_t* out) const {
    if (!node.IsScalar()) return Error(node, fmt::format("{} must be a number", field));
    try {
      *out = node.as<int64_t>();
    } catch (const YAML::Exception&) {
      return Error(node, fmt::format("{} must be a whole number, got \"{}\"", field, node.Scalar()));
    }
    if (*out < 0) return Error(node, fmt::format("{} must not be negative", field));
    return absl::OkStatus();
  }

  absl::Status Global(const YAML::Node& n, GlobalConfig* g) const {
    if (auto s = CheckKeys(n, "global", {"scrape_interval", "scrape_timeout",
                                         "evaluation_interval", "external_labels",
                                         "query_log_file", "scrape_protocols",
                                         "body_size_limit", "sample_limit", "label_limit",
                                         "label_name_length_limit",
                                         "label_value_length_limit", "target_limit"});
        !s.ok()) {
      return s;
    }
    if (n["scrape_interval"]) {
      if (auto s = Duration(n["scrape_interval"], "scrape_interval", &g->scrape_interval_ms); !s.ok()) return s;
    }
    if (n["scrape_timeout"]) {
      if (auto s = Duration(n["scrape_timeout"], "scrape_timeout", &g->scrape_timeout_ms); !s.ok()) return s;
    }
    if (n["evaluation_interval"]) {
      if (auto s = Duration(n["evaluation_interval"], "evaluation_interval", &g->evaluation_interval_ms); !s.ok()) return s;
    }
    if (g->scrape_timeout_ms > g->scrape_interval_ms) {
      // Prometheus caps the default timeout at the interval; an explicit larger one is an error.
      if (n["scrape_timeout"]) {
        return Error(n["scrape_timeout"], "scrape_timeout is greater than scrape_interval");
      }
      g->scrape_timeout_ms = g->scrape_interval_ms;
    }
    if (const YAML::Node el = n["external_labels"]; el) {
      if (!el.IsMap()) return Error(el, "external_labels must be a mapping of label names to values");
      std::vector<model::Label> labels;
      for (const auto& kv : el) {
        std::string name = kv.first.as<std::string>();
        if (!model::IsValidLabelName(name)) {
          return Error(kv.first, fmt::format("invalid external label name \"{}\"", name));
        }
        labels.push_back({name, kv.second.as<std::string>()});
      }
      g->external_labels = model::Labels(std::move(labels));
    }
    return absl::OkStatus();
  }

  absl::Status Storage(const YAML::Node& n, StorageConfig* st) const {
    if (auto s = CheckKeys(n, "storage", {"tsdb", "exemplars"}); !s.ok()) return s;
    if (const YAML::Node tsdb = n["tsdb"]; tsdb) {
      if (auto s = CheckKeys(tsdb, "storage.tsdb", {"out_of_order_time_window"}); !s.ok()) return s;
      if (tsdb["out_of_order_time_window"]) {
        if (auto s = Duration(tsdb["out_of_order_time_window"], "out_of_order_time_window",
                              &st->out_of_order_time_window_ms);
            !s.ok()) {
          return s;
        }
      }
    }
    if (const YAML::Node ex = n["exemplars"]; ex) {
      if (auto s = CheckKeys(ex, "storage.exemplars", {"max_exemplars"}); !s.ok()) return s;
      if (ex["max_exemplars"]) {
        if (auto s = Count(ex["max_exemplars"], "max_exemplars", &st->max_exemplars); !s.ok()) {
          return s;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status Limits(const YAML::Node& n, LimitsConfig* l) const {
    if (auto s = CheckKeys(n, "limits", {"max_series_per_tenant", "max_series_per_metric"}); !s.ok()) return s;
    if (n["max_series_per_tenant"]) {
      if (auto s = Count(n["max_series_per_tenant"], "max_series_per_tenant", &l->max_series_per_tenant); !s.ok()) return s;
    }
    if (n["max_series_per_metric"]) {
      if (auto s = Count(n["max_series_per_metric"], "max_series_per_metric", &l->max_series_per_metric); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Config> Run(std::string_view text) const {
    Config cfg;
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::ParserException& e) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}:{}: cannot parse YAML: {}", filename_, e.mark.line + 1,
                      e.mark.column + 1, e.msg));
    }
    if (root.IsNull()) return cfg;
    if (auto s = CheckKeys(root, "config", {"global", "scrape_configs", "scrape_config_files",
                                            "rule_files", "alerting", "remote_write",
                                            "remote_read", "storage", "tracing", "limits",
                                            "notify"});
        !s.ok()) {
      return s;
    }
    try {
      if (root["global"]) {
        if (auto s = Global(root["global"], &cfg.global); !s.ok()) return s;
      }
      if (root["storage"]) {
        if (auto s = Storage(root["storage"], &cfg.storage); !s.ok()) return s;
      }
      if (root["limits"]) {
        if (auto s = Limits(root["limits"], &cfg.limits); !s.ok()) return s;
      }
      if (const YAML::Node rf = root["rule_files"]; rf && !rf.IsNull()) {
        if (!rf.IsSequence()) return Error(rf, "rule_files must be a list of file globs");
        for (const auto& f : rf) cfg.rule_files.push_back(f.as<std::string>());
      }
      auto raw = [&](const char* key, std::string* out) {
        if (root[key]) *out = YAML::Dump(root[key]);
      };
      raw("scrape_configs", &cfg.scrape_configs_yaml);
      raw("alerting", &cfg.alerting_yaml);
      raw("remote_write", &cfg.remote_write_yaml);
      raw("remote_read", &cfg.remote_read_yaml);
      raw("notify", &cfg.notify_yaml);
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(fmt::format("{}:{}:{}: {}", filename_, e.mark.line + 1,
                                                    e.mark.column + 1, e.msg));
    }
    return cfg;
  }

 private:
  std::string filename_;
};

}  // namespace

absl::StatusOr<Config> Parse(std::string_view yaml, std::string_view filename) {
  return Parser(filename).Run(yaml);
}

absl::StatusOr<Config> LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("cannot read config file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return Parse(ss.str(), path);
}

}  // namespace vigil::config
