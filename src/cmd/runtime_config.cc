#include "cmd/runtime_config.h"

#include "config/units.h"
#include "fmt/format.h"

namespace vigil::cmd {

config::LimitsConfig DefaultLimits(const config::Config& cfg, const FlagOverrides& flags) {
  config::LimitsConfig l = cfg.limits;
  if (flags.max_series_per_tenant) l.max_series_per_tenant = *flags.max_series_per_tenant;
  if (flags.max_series_per_metric) l.max_series_per_metric = *flags.max_series_per_metric;
  if (flags.ingestion_rate) l.ingestion_rate = *flags.ingestion_rate;
  if (flags.ingestion_burst) l.ingestion_burst = *flags.ingestion_burst;
  return l;
}

EffectiveLimits ResolveLimits(const config::Config& cfg, const FlagOverrides& flags) {
  const config::LimitsConfig defaults = DefaultLimits(cfg, flags);
  EffectiveLimits out;
  out.storage = {defaults.max_series_per_tenant, defaults.max_series_per_metric};
  out.rate = {defaults.ingestion_rate, defaults.ingestion_burst};
  for (const config::TenantConfig& t : cfg.tenants) {
    const config::LimitsConfig l = t.limits.Over(defaults);
    out.storage_tenants[t.name] = {l.max_series_per_tenant, l.max_series_per_metric};
    out.rate_tenants[t.name] = {l.ingestion_rate, l.ingestion_burst};
  }
  return out;
}

http::AuthPolicy ResolveAuth(const config::Config& cfg) {
  http::AuthPolicy p;
  for (const config::TenantConfig& t : cfg.tenants) {
    p.tenants.push_back({t.name, t.resolved_tokens, t.admin});
  }
  p.tenant_header = cfg.auth.tenant_header;
  p.open_paths = cfg.auth.open_paths;
  return p;
}

std::vector<std::string> DescribeOverrides(const config::Config& cfg, const FlagOverrides& flags) {
  std::vector<std::string> out;
  auto one = [&](std::string_view setting, double file, const auto& flag, std::string_view name) {
    if (flag && static_cast<double>(*flag) != file) {
      out.push_back(fmt::format("{}: {} in the config file, {}={} wins", setting, file, name, *flag));
    }
  };
  one("limits.max_series_per_tenant", static_cast<double>(cfg.limits.max_series_per_tenant),
      flags.max_series_per_tenant, "--storage.tsdb.max-series-per-tenant");
  one("limits.max_series_per_metric", static_cast<double>(cfg.limits.max_series_per_metric),
      flags.max_series_per_metric, "--storage.tsdb.max-series-per-metric");
  one("limits.ingestion_rate", cfg.limits.ingestion_rate, flags.ingestion_rate,
      "--ingest.rate-limit");
  one("limits.ingestion_burst", cfg.limits.ingestion_burst, flags.ingestion_burst,
      "--ingest.rate-limit-burst");
  if (flags.out_of_order_time_window_ms && cfg.storage.out_of_order_time_window_ms &&
      *flags.out_of_order_time_window_ms != *cfg.storage.out_of_order_time_window_ms) {
    out.push_back(fmt::format(
        "storage.tsdb.out_of_order_time_window: {} in the config file, "
        "--storage.tsdb.out-of-order-time-window={} wins",
        config::FormatDuration(*cfg.storage.out_of_order_time_window_ms),
        config::FormatDuration(*flags.out_of_order_time_window_ms)));
  }
  return out;
}

}  // namespace vigil::cmd
