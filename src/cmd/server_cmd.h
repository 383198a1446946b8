// `vigil server`: storage + HTTP (remote_write ingestion and the storage API) in this
// process, until SIGINT or SIGTERM.
//
// Startup: HTTP first (so /-/healthy answers and /-/ready says 503 while the WAL replays),
// then storage (open the DB, replay), then the roles that use it (dashboards, scrape, push,
// alerting), then "ready" (attach storage to the API; /-/ready says 200 only now). Shutdown
// stops them in reverse: ready (new storage requests get 503, in-flight ones finish),
// storage (flush and fsync the WAL, release the lock), HTTP (stop accepting, drain,
// close connections). Each step is logged.
//
// Configuration: --config.file is loaded and fully validated before anything starts (a
// bad file is FATAL). Its tenants, auth and limits are applied (cmd/runtime_config.h says
// how flags override the file). SIGHUP and POST /-/reload re-read the file: a bad one is
// refused with the reason and everything keeps running as before; a good one is applied
// to auth, limits, scrape jobs and rules, and the log lists what changed.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cmd/push_ingest.h"
#include "cmd/runtime_config.h"
#include "http/api.h"
#include "storage/db.h"

namespace vigil::cmd {

struct ServerConfig {
  std::string config_file;  // empty: embedded defaults
  std::string listen_address;
  std::string log_level = "info";
  storage::Options storage;
  int http_io_threads = 0;       // 0 = cores
  int http_handler_threads = 0;  // 0 = cores
  http::BuildInfo build;
  // Every server flag with its value, for /api/v1/status/flags.
  std::vector<std::pair<std::string, std::string>> flags;
  std::string retention_text = "15d";  // as given, for /api/v1/status/runtimeinfo
  PushIngestConfig push;               // push endpoints, StatsD, ingestion limits
  std::string alertmanager_config_file;  // --alertmanager.config.file (notify routing)
  std::string external_url;              // --web.external-url, for alert links
  int64_t self_scrape_interval_ms = 0;   // --self-scrape.interval; 0 = off
  // Flags given explicitly; they override the config file (storage.limits and
  // storage.out_of_order_window_ms above hold the flags' values or defaults).
  FlagOverrides overrides;
};

// Runs the server; returns the process exit code (0 after a clean shutdown, 1 when startup
// is impossible, with a "FATAL:" log line saying why).
int RunServer(const ServerConfig& cfg);

}  // namespace vigil::cmd
