#include "scrape/target.h"

#include "base/log.h"
#include "config/units.h"
#include "fmt/format.h"
#include "model/relabel.h"

namespace vigil::scrape {
namespace {

bool NeedsEscape(char c) {
  return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '.' || c == '~');
}

void AppendQueryEscaped(std::string* out, std::string_view s) {
  for (char c : s) {
    if (c == ' ') {
      out->push_back('+');
    } else if (NeedsEscape(c)) {
      out->append(fmt::format("%{:02X}", static_cast<unsigned char>(c)));
    } else {
      out->push_back(c);
    }
  }
}

}  // namespace

absl::StatusOr<TargetSpec> PopulateLabels(const ScrapeConfig& cfg, const TargetGroup& group,
                                          const model::Labels& target) {
  model::LabelsBuilder b(group.labels);
  for (const model::Label& l : target) b.Set(l.name, l.value);
  model::Labels base = b.Build();
  auto set_default = [&](std::string_view name, std::string_view value) {
    if (!base.Has(name)) b.Set(name, value);
  };
  set_default("job", cfg.job_name);
  set_default("__scrape_interval__", config::FormatDuration(cfg.scrape_interval_ms));
  set_default("__scrape_timeout__", config::FormatDuration(cfg.scrape_timeout_ms));
  set_default("__metrics_path__", cfg.metrics_path);
  set_default("__scheme__", cfg.scheme);
  for (const auto& [name, values] : cfg.params) {
    if (!values.empty()) set_default("__param_" + name, values.front());
  }
  TargetSpec spec;
  spec.discovered = b.Build();
  std::optional<model::Labels> rl = model::Relabel(spec.discovered, cfg.relabel_configs);
  if (!rl.has_value()) {
    spec.dropped = true;
    return spec;
  }
  const model::Labels& l = *rl;
  std::string_view addr = l.Get("__address__");
  if (addr.empty()) return absl::InvalidArgumentError("no address");
  if (addr.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format("invalid address \"{}\"", addr));
  }
  auto interval = config::ParseDuration(l.Get("__scrape_interval__"));
  if (!interval.ok() || *interval <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("error parsing scrape interval \"{}\"", l.Get("__scrape_interval__")));
  }
  auto timeout = config::ParseDuration(l.Get("__scrape_timeout__"));
  if (!timeout.ok() || *timeout <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("error parsing scrape timeout \"{}\"", l.Get("__scrape_timeout__")));
  }
  if (*timeout > *interval) {
    return absl::InvalidArgumentError(fmt::format(
        "scrape timeout cannot be greater than scrape interval (\"{}\" > \"{}\")",
        l.Get("__scrape_timeout__"), l.Get("__scrape_interval__")));
  }
  spec.interval_ms = *interval;
  spec.timeout_ms = *timeout;

  // URL: scheme://address/path?params, where __param_<name> labels override the first
  // value of the configured parameter of that name.
  spec.url = fmt::format("{}://{}{}", l.Get("__scheme__"), addr, l.Get("__metrics_path__"));
  std::map<std::string, std::vector<std::string>> params = cfg.params;
  for (const model::Label& p : l) {
    if (!p.name.starts_with("__param_")) continue;
    std::vector<std::string>& vals = params[p.name.substr(8)];
    if (vals.empty()) {
      vals.push_back(p.value);
    } else {
      vals[0] = p.value;
    }
  }
  char sep = spec.url.find('?') == std::string::npos ? '?' : '&';
  for (const auto& [name, vals] : params) {
    for (const std::string& v : vals) {
      spec.url.push_back(sep);
      sep = '&';
      AppendQueryEscaped(&spec.url, name);
      spec.url.push_back('=');
      AppendQueryEscaped(&spec.url, v);
    }
  }

  model::LabelsBuilder out;
  for (const model::Label& p : l) {
    if (!p.name.starts_with("__")) out.Set(p.name, p.value);
  }
  if (!l.Has("instance")) out.Set("instance", addr);
  spec.labels = out.Build();
  for (const model::Label& p : spec.labels) {
    if (!model::IsValidLabelName(p.name)) {
      return absl::InvalidArgumentError(fmt::format("invalid label name \"{}\"", p.name));
    }
    if (!model::IsValidUtf8(p.value)) {
      return absl::InvalidArgumentError(fmt::format("invalid label value for \"{}\"", p.name));
    }
  }
  return spec;
}

std::vector<TargetSpec> TargetsFromGroups(const ScrapeConfig& cfg,
                                          const std::vector<TargetGroup>& groups) {
  std::vector<TargetSpec> out;
  for (const TargetGroup& g : groups) {
    for (const model::Labels& t : g.targets) {
      absl::StatusOr<TargetSpec> spec = PopulateLabels(cfg, g, t);
      if (!spec.ok()) {
        VLOG_WARN("scrape", "job {}: dropping target {}: {}", cfg.job_name, t.ToString(),
                  std::string(spec.status().message()));
        TargetSpec dropped;
        dropped.dropped = true;
        dropped.discovered = t;
        out.push_back(std::move(dropped));
        continue;
      }
      out.push_back(std::move(*spec));
    }
  }
  return out;
}

}  // namespace vigil::scrape
