// The parts of --config.file that `vigil server` applies while it runs, and how flags
// and the file combine:
//
//   tenants, auth      -> http::Auth (tokens, tenant header, open paths)
//   limits             -> storage cardinality limits and the ingestion rate limiter, as the
//                         defaults of every tenant; a tenant's own `limits` replace them
//                         for that tenant
//   storage.tsdb.out_of_order_time_window -> storage (at startup; a reload says it needs a
//                         restart)
//
// A flag given on the command line overrides the file's value of the same setting (its
// default does not): --storage.tsdb.max-series-per-tenant, --storage.tsdb.max-series-per-
// metric, --ingest.rate-limit, --ingest.rate-limit-burst and
// --storage.tsdb.out-of-order-time-window override limits.max_series_per_tenant,
// limits.max_series_per_metric, limits.ingestion_rate, limits.ingestion_burst and
// storage.tsdb.out_of_order_time_window. Tenants' own limits still apply to those tenants.
//
// Thread-safety: plain functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "http/auth.h"
#include "ingest/limits.h"
#include "storage/db.h"

namespace vigil::cmd {

// Values of flags given explicitly on the command line.
struct FlagOverrides {
  std::optional<int64_t> max_series_per_tenant;
  std::optional<int64_t> max_series_per_metric;
  std::optional<double> ingestion_rate;
  std::optional<double> ingestion_burst;
  std::optional<int64_t> out_of_order_time_window_ms;
};

struct EffectiveLimits {
  storage::Limits storage;
  storage::TenantLimits storage_tenants;
  ingest::RateLimit rate;
  std::map<std::string, ingest::RateLimit, std::less<>> rate_tenants;
};

// The `limits` section with the flags over it: every tenant's defaults.
config::LimitsConfig DefaultLimits(const config::Config& cfg, const FlagOverrides& flags);
EffectiveLimits ResolveLimits(const config::Config& cfg, const FlagOverrides& flags);
http::AuthPolicy ResolveAuth(const config::Config& cfg);

// One line per file setting a flag overrides ("limits.ingestion_rate: 5000 in the file,
// --ingest.rate-limit=100 wins").
std::vector<std::string> DescribeOverrides(const config::Config& cfg, const FlagOverrides& flags);

}  // namespace vigil::cmd
