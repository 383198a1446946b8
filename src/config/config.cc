#include "config/config.h"

#include <filesystem>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/units.h"
#include "fmt/format.h"
#include "fmt/ranges.h"
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

  // A non-negative number of samples per second (fractions allowed).
  absl::Status Rate(const YAML::Node& node, std::string_view field, double* out) const {
    if (!node.IsScalar()) return Error(node, fmt::format("{} must be a number", field));
    try {
      *out = node.as<double>();
    } catch (const YAML::Exception&) {
      return Error(node, fmt::format("{} must be a number, got \"{}\"", field, node.Scalar()));
    }
    if (!(*out >= 0) || *out > 1e15) {
      return Error(node, fmt::format("{} must be a non-negative number, got \"{}\"", field,
                                     node.Scalar()));
    }
    return absl::OkStatus();
  }

  absl::Status String(const YAML::Node& node, std::string_view field, std::string* out) const {
    if (!node.IsScalar()) return Error(node, fmt::format("{} must be a string", field));
    *out = node.Scalar();
    return absl::OkStatus();
  }

  absl::Status StringList(const YAML::Node& node, std::string_view field,
                          std::vector<std::string>* out) const {
    if (!node.IsSequence()) return Error(node, fmt::format("{} must be a list of strings", field));
    for (const auto& item : node) {
      std::string v;
      if (auto s = String(item, field, &v); !s.ok()) return s;
      out->push_back(std::move(v));
    }
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
    for (auto [key, out] : {std::pair<const char*, int64_t*>{"sample_limit", &g->sample_limit},
                            {"label_limit", &g->label_limit},
                            {"label_name_length_limit", &g->label_name_length_limit},
                            {"label_value_length_limit", &g->label_value_length_limit}}) {
      if (n[key]) {
        if (auto s = Count(n[key], key, out); !s.ok()) return s;
      }
    }
    if (const YAML::Node b = n["body_size_limit"]; b) {
      auto bytes = ParseBytes(b.Scalar());
      if (!b.IsScalar() || !bytes.ok()) {
        return Error(b, fmt::format("body_size_limit: {}",
                                    bytes.ok() ? std::string("must be a size such as 10MB")
                                               : std::string(bytes.status().message())));
      }
      g->body_size_limit = *bytes;
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
        int64_t ms = 0;
        if (auto s = Duration(tsdb["out_of_order_time_window"], "out_of_order_time_window", &ms);
            !s.ok()) {
          return s;
        }
        st->out_of_order_time_window_ms = ms;
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
    if (auto s = CheckKeys(n, "limits", {"max_series_per_tenant", "max_series_per_metric",
                                         "ingestion_rate", "ingestion_burst"});
        !s.ok()) {
      return s;
    }
    if (n["max_series_per_tenant"]) {
      if (auto s = Count(n["max_series_per_tenant"], "max_series_per_tenant", &l->max_series_per_tenant); !s.ok()) return s;
    }
    if (n["max_series_per_metric"]) {
      if (auto s = Count(n["max_series_per_metric"], "max_series_per_metric", &l->max_series_per_metric); !s.ok()) return s;
    }
    if (n["ingestion_rate"]) {
      if (auto s = Rate(n["ingestion_rate"], "ingestion_rate", &l->ingestion_rate); !s.ok()) return s;
    }
    if (n["ingestion_burst"]) {
      if (auto s = Rate(n["ingestion_burst"], "ingestion_burst", &l->ingestion_burst); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

  absl::Status TenantLimits(const YAML::Node& n, std::string_view where,
                            TenantLimitsConfig* l) const {
    if (!n.IsMap()) return Error(n, fmt::format("{} must be a mapping", where));
    for (const auto& kv : n) {
      const std::string key = kv.first.as<std::string>();
      int64_t count = 0;
      double rate = 0;
      if (key == "max_series" || key == "max_series_per_metric") {
        if (auto s = Count(kv.second, key, &count); !s.ok()) return s;
        (key == "max_series" ? l->max_series : l->max_series_per_metric) = count;
      } else if (key == "ingestion_rate" || key == "ingestion_burst") {
        if (auto s = Rate(kv.second, key, &rate); !s.ok()) return s;
        (key == "ingestion_rate" ? l->ingestion_rate : l->ingestion_burst) = rate;
      } else {
        std::string hint = key == "max_series_per_tenant" ? " (a tenant's own limit is max_series)" : "";
        return Error(kv.first, fmt::format("unknown field \"{}\" in {}{}", key, where, hint));
      }
    }
    return absl::OkStatus();
  }

  static bool IsValidTenantName(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '.') return false;
    }
    return true;
  }

  absl::Status Tenants(const YAML::Node& n, const AuthConfig& auth,
                       std::vector<TenantConfig>* out) const {
    if (n.IsNull()) return absl::OkStatus();
    if (!n.IsSequence()) return Error(n, "tenants must be a list of {name, tokens, limits}");
    std::map<std::string, std::string> token_owner;  // token -> tenant, to find reuse
    for (size_t i = 0; i < n.size(); ++i) {
      const YAML::Node t = n[i];
      std::string where = fmt::format("tenants[{}]", i);
      if (auto s = CheckKeys(t, where, {"name", "tokens", "token_files", "admin", "limits"}); !s.ok()) return s;
      TenantConfig tc;
      if (!t["name"]) return Error(t, fmt::format("{}: name is missing", where));
      if (auto s = String(t["name"], "name", &tc.name); !s.ok()) return s;
      if (!IsValidTenantName(tc.name)) {
        return Error(t["name"], fmt::format("{}: invalid tenant name \"{}\": want 1 to 64 of "
                                            "[a-zA-Z0-9_.-]", where, tc.name));
      }
      where = fmt::format("tenants[{}] ({})", i, tc.name);
      for (const auto& other : *out) {
        if (other.name == tc.name) {
          return Error(t["name"], fmt::format("{}: tenant \"{}\" is defined twice", where, tc.name));
        }
      }
      if (t["tokens"]) {
        if (auto s = StringList(t["tokens"], "tokens", &tc.tokens); !s.ok()) return s;
        for (size_t j = 0; j < tc.tokens.size(); ++j) {
          // Never quote a token in an error: positions say which one.
          if (tc.tokens[j].empty()) return Error(t["tokens"][j], fmt::format("{}: empty token", where));
          if (tc.tokens[j].find_first_of(" \t\r\n") != std::string::npos) {
            return Error(t["tokens"][j], fmt::format("{}: a token must not contain whitespace", where));
          }
          auto [it, fresh] = token_owner.emplace(tc.tokens[j], tc.name);
          if (!fresh) {
            return Error(t["tokens"][j], it->second == tc.name
                                             ? fmt::format("{}: the same token is listed twice", where)
                                             : fmt::format("{}: this token is also a token of tenant \"{}\"",
                                                           where, it->second));
          }
        }
      }
      if (t["token_files"]) {
        if (auto s = StringList(t["token_files"], "token_files", &tc.token_files); !s.ok()) return s;
      }
      if (tc.tokens.empty() && tc.token_files.empty() && auth.tenant_header.empty()) {
        return Error(t, fmt::format("{}: no tokens or token_files (without auth.tenant_header a "
                                    "tenant without tokens cannot be reached)", where));
      }
      if (t["admin"]) {
        try {
          tc.admin = t["admin"].as<bool>();
        } catch (const YAML::Exception&) {
          return Error(t["admin"], fmt::format("{}: admin must be true or false", where));
        }
      }
      if (t["limits"]) {
        if (auto s = TenantLimits(t["limits"], where + ".limits", &tc.limits); !s.ok()) return s;
      }
      tc.resolved_tokens = tc.tokens;
      out->push_back(std::move(tc));
    }
    return absl::OkStatus();
  }

  absl::Status Auth(const YAML::Node& n, AuthConfig* a) const {
    if (auto s = CheckKeys(n, "auth", {"tenant_header", "open_paths"}); !s.ok()) return s;
    if (n["tenant_header"]) {
      if (auto s = String(n["tenant_header"], "tenant_header", &a->tenant_header); !s.ok()) return s;
      for (char c : a->tenant_header) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
          return Error(n["tenant_header"], fmt::format("tenant_header: invalid header name \"{}\"",
                                                       a->tenant_header));
        }
      }
      if (a->tenant_header.empty()) {
        return Error(n["tenant_header"], "tenant_header: empty; leave it out to refuse the header");
      }
      std::string lower = a->tenant_header;
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (lower == "authorization") {
        return Error(n["tenant_header"], "tenant_header must not be Authorization");
      }
    }
    if (n["open_paths"]) {
      a->open_paths.clear();
      if (auto s = StringList(n["open_paths"], "open_paths", &a->open_paths); !s.ok()) return s;
      for (size_t i = 0; i < a->open_paths.size(); ++i) {
        if (a->open_paths[i].empty() || a->open_paths[i][0] != '/') {
          return Error(n["open_paths"][i], fmt::format("open_paths: \"{}\" must start with '/'",
                                                       a->open_paths[i]));
        }
      }
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
                                            "notify", "tenants", "auth"});
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
      if (root["auth"]) {
        if (auto s = Auth(root["auth"], &cfg.auth); !s.ok()) return s;
      }
      if (root["tenants"]) {
        if (auto s = Tenants(root["tenants"], cfg.auth, &cfg.tenants); !s.ok()) return s;
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
      for (const char* key : {"remote_write", "remote_read", "tracing", "scrape_config_files"}) {
        if (root[key] && !root[key].IsNull()) cfg.unused.push_back(key);
      }
      if (const YAML::Node g = root["global"]; g && g.IsMap()) {
        for (const char* key : {"query_log_file", "scrape_protocols", "target_limit"}) {
          if (g[key]) cfg.unused.push_back(fmt::format("global.{}", key));
        }
      }
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

LimitsConfig TenantLimitsConfig::Over(const LimitsConfig& defaults) const {
  LimitsConfig l = defaults;
  if (max_series) l.max_series_per_tenant = *max_series;
  if (max_series_per_metric) l.max_series_per_metric = *max_series_per_metric;
  if (ingestion_rate) l.ingestion_rate = *ingestion_rate;
  if (ingestion_burst) l.ingestion_burst = *ingestion_burst;
  return l;
}

absl::StatusOr<Config> LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("cannot read config file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  absl::StatusOr<Config> cfg = Parse(ss.str(), path);
  if (!cfg.ok()) return cfg;
  if (absl::Status s = ReadTokenFiles(&*cfg, path); !s.ok()) return s;
  return cfg;
}

absl::Status ReadTokenFiles(Config* cfg, const std::string& path) {
  // Token files: one token each, surrounding whitespace (a trailing newline) dropped.
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::map<std::string, std::string> owner;
  for (const TenantConfig& t : cfg->tenants) {
    for (const auto& tok : t.tokens) owner.emplace(tok, t.name);
  }
  for (TenantConfig& t : cfg->tenants) {
    t.resolved_tokens = t.tokens;
    for (const std::string& f : t.token_files) {
      std::filesystem::path p(f);
      if (p.is_relative()) p = dir / p;
      std::ifstream tf(p);
      if (!tf) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: tenant \"{}\": cannot read token file {}: {}", path, t.name, p.string(),
            std::strerror(errno)));
      }
      std::stringstream ts;
      ts << tf.rdbuf();
      std::string tok = ts.str();
      const size_t b = tok.find_first_not_of(" \t\r\n");
      const size_t e = tok.find_last_not_of(" \t\r\n");
      tok = b == std::string::npos ? "" : tok.substr(b, e - b + 1);
      if (tok.empty()) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: tenant \"{}\": token file {} is empty", path, t.name, p.string()));
      }
      if (tok.find_first_of(" \t\r\n") != std::string::npos) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: tenant \"{}\": token file {} holds more than one word; want one token",
            path, t.name, p.string()));
      }
      auto [it, fresh] = owner.emplace(tok, t.name);
      if (!fresh && it->second != t.name) {
        return absl::InvalidArgumentError(fmt::format(
            "{}: tenant \"{}\": the token in {} is also a token of tenant \"{}\"", path,
            t.name, p.string(), it->second));
      }
      t.resolved_tokens.push_back(std::move(tok));
    }
  }
  return absl::OkStatus();
}

std::string RedactedYaml(std::string_view yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception&) {
    return "";  // only valid configs are shown
  }
  if (!root.IsMap() || !root["tenants"] || !root["tenants"].IsSequence()) {
    return std::string(yaml);
  }
  for (YAML::Node t : root["tenants"]) {
    if (!t.IsMap() || !t["tokens"] || !t["tokens"].IsSequence()) continue;
    YAML::Node redacted(YAML::NodeType::Sequence);
    for (size_t i = 0; i < t["tokens"].size(); ++i) redacted.push_back("<secret>");
    t["tokens"] = redacted;
  }
  return YAML::Dump(root) + "\n";
}

namespace {

std::string Num(double v) { return fmt::format("{}", v); }

// `tenant`: name the series limit as a tenant's own limits do (max_series).
void DiffLimits(std::string_view prefix, bool tenant, const LimitsConfig& a,
                const LimitsConfig& b, std::vector<std::string>* out) {
  auto one = [&](std::string_view name, double x, double y) {
    if (x != y) out->push_back(fmt::format("{}{}: {} -> {}", prefix, name, Num(x), Num(y)));
  };
  one(tenant ? "max_series" : "max_series_per_tenant", a.max_series_per_tenant,
      b.max_series_per_tenant);
  one("max_series_per_metric", a.max_series_per_metric, b.max_series_per_metric);
  one("ingestion_rate", a.ingestion_rate, b.ingestion_rate);
  one("ingestion_burst", a.ingestion_burst, b.ingestion_burst);
}

}  // namespace

std::vector<std::string> DescribeChanges(const Config& before, const Config& after) {
  std::vector<std::string> out;
  if (before.tenants.empty() != after.tenants.empty()) {
    out.push_back(after.tenants.empty()
                      ? "tenants removed: authentication is off, every request is tenant \"default\""
                      : "tenants configured: every API request now needs a token");
  }
  DiffLimits("limits.", false, before.limits, after.limits, &out);
  std::map<std::string, const TenantConfig*> old_by_name;
  for (const auto& t : before.tenants) old_by_name[t.name] = &t;
  for (const auto& t : after.tenants) {
    auto it = old_by_name.find(t.name);
    if (it == old_by_name.end()) {
      out.push_back(fmt::format("tenant \"{}\" added ({} token(s){})", t.name,
                                t.resolved_tokens.size(), t.admin ? ", admin" : ""));
      continue;
    }
    const TenantConfig& o = *it->second;
    old_by_name.erase(it);
    if (o.resolved_tokens != t.resolved_tokens) {
      out.push_back(fmt::format("tenant \"{}\": tokens changed ({} -> {} token(s))", t.name,
                                o.resolved_tokens.size(), t.resolved_tokens.size()));
    }
    if (o.admin != t.admin) {
      out.push_back(fmt::format("tenant \"{}\": admin {} -> {}", t.name, o.admin, t.admin));
    }
    DiffLimits(fmt::format("tenant \"{}\" limits.", t.name), true, o.limits.Over(before.limits),
               t.limits.Over(after.limits), &out);
  }
  for (const auto& [name, t] : old_by_name) out.push_back(fmt::format("tenant \"{}\" removed", name));
  if (before.auth.tenant_header != after.auth.tenant_header) {
    out.push_back(fmt::format("auth.tenant_header: \"{}\" -> \"{}\"", before.auth.tenant_header,
                              after.auth.tenant_header));
  }
  if (before.auth.open_paths != after.auth.open_paths) {
    out.push_back(fmt::format("auth.open_paths: [{}] -> [{}]", fmt::join(before.auth.open_paths, ", "),
                              fmt::join(after.auth.open_paths, ", ")));
  }
  if (before.storage.out_of_order_time_window_ms != after.storage.out_of_order_time_window_ms) {
    out.push_back("storage.tsdb.out_of_order_time_window changed: takes effect after a restart");
  }
  return out;
}

}  // namespace vigil::config
