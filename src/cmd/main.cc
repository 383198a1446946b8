// vigil: the single binary. Parses the command line and runs a subcommand.
//
// Exit codes: 0 success, 1 startup impossible ("FATAL:" in the log), 2 usage errors (bad
// flags or values, with a message naming the flag).
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "base/log.h"
#include "cmd/check_config_cmd.h"
#include "cmd/check_cmd.h"
#include "cmd/flags.h"
#include "cmd/query_cmd.h"
#include "cmd/server_cmd.h"
#include "fmt/format.h"

#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.0.0"
#endif
#ifndef VIGIL_REVISION
#define VIGIL_REVISION "unknown"
#endif
#ifndef VIGIL_BRANCH
#define VIGIL_BRANCH "unknown"
#endif
#ifndef VIGIL_BUILD_USER
#define VIGIL_BUILD_USER "unknown"
#endif
#ifndef VIGIL_BUILD_DATE
#define VIGIL_BUILD_DATE "unknown"
#endif

namespace {

constexpr int kUsageError = 2;

int UsageError(const std::string& flag, const std::string& value, const std::string& why) {
  std::fprintf(stderr, "vigil: invalid value \"%s\" for %s: %s\n", value.c_str(), flag.c_str(),
               why.c_str());
  return kUsageError;
}

}  // namespace

int main(int argc, char** argv) {
  using vigil::cmd::ServerConfig;
  vigil::log::Init();

  const std::string version = fmt::format("vigil version {} (branch: {}, revision: {})\n"
                                          "  build user: {}\n  build date: {}",
                                          VIGIL_VERSION, VIGIL_BRANCH, VIGIL_REVISION,
                                          VIGIL_BUILD_USER, VIGIL_BUILD_DATE);
  CLI::App app{"Vigil: a Prometheus-compatible metrics monitoring system in one binary.",
               "vigil"};
  app.set_version_flag("--version", version, "Print version information and exit.");
  app.require_subcommand(1);

  CLI::App* server = app.add_subcommand(
      "server", "Run the server: storage, remote_write ingestion and the HTTP API.");
  std::string config_file;
  std::string data_path = "data";
  std::string listen = "127.0.0.1:9460";
  std::string retention_time = "15d";
  std::string retention_size = "0";
  std::string wal_sync = "100ms";
  std::string ooo_window = "0";
  int64_t max_series_per_tenant = 0;
  int64_t max_series_per_metric = 0;
  std::string log_level = "info";
  int http_threads = 0;
  std::string alertmanager_config_file;
  std::string external_url;
  server->add_option("--alertmanager.config.file", alertmanager_config_file,
                     "Alertmanager-style notification config (route, receivers, inhibit_rules, "
                     "time_intervals) for the built-in notifier.");
  server->add_option("--web.external-url", external_url,
                     "The URL under which Vigil is reached, used in alert links.");

  std::string self_scrape_interval = "0s";
  server->add_option("--self-scrape.interval", self_scrape_interval,
                     "Scrape Vigil's own /metrics into itself this often (job \"vigil\"), "
                     "for the built-in \"Vigil overview\" dashboard; 0s = off. scripts/run.sh "
                     "sets 15s.")
      ->capture_default_str();
  server->add_option("--config.file", config_file,
                     "Configuration file (prometheus.yml syntax plus Vigil's limits, tenants and "
                     "auth sections; docs/tenants.md). Without it Vigil runs on built-in "
                     "defaults. Reloaded on SIGHUP and POST /-/reload. A flag given on the "
                     "command line overrides the file's value of the same setting.");
  server->add_option("--storage.tsdb.path", data_path,
                     "Directory for the WAL, blocks and snapshots; locked while Vigil runs.")
      ->capture_default_str();
  server->add_option("--web.listen-address", listen,
                     "Address to serve HTTP on, host:port (\":port\" for every interface). "
                     "9460 keeps clear of Prometheus's 9090 and VictoriaMetrics's 8428.")
      ->capture_default_str();
  server->add_option("--storage.tsdb.retention.time", retention_time,
                     "How long to keep samples, as a Prometheus duration (15d, 2h30m, 1y); "
                     "0 keeps them forever.")
      ->capture_default_str();
  server->add_option("--storage.tsdb.retention.size", retention_size,
                     "Maximum bytes of blocks to keep, oldest deleted first (512MB, 10GB, "
                     "1TiB; units are powers of 1024); 0 means no limit.")
      ->capture_default_str();
  server->add_option("--storage.tsdb.wal-sync", wal_sync,
                     "When to fsync the WAL: \"always\" (before every write is acknowledged: "
                     "survives power loss) or a duration such as 100ms (grouped fsync at that "
                     "interval: survives a crash of Vigil, may lose that much on power loss).")
      ->capture_default_str();
  server->add_option("--storage.tsdb.out-of-order-time-window", ooo_window,
                     "Accept samples up to this much older than a series' newest sample "
                     "(a duration; 0 = in-order only). Overrides "
                     "storage.tsdb.out_of_order_time_window in --config.file.")
      ->capture_default_str();
  server->add_option("--storage.tsdb.max-series-per-tenant", max_series_per_tenant,
                     "Most active (in-memory) series a tenant may have; new series beyond it "
                     "are refused. 0 = unlimited. Overrides limits.max_series_per_tenant in "
                     "--config.file (tenants' own max_series still apply to them).")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  server->add_option("--storage.tsdb.max-series-per-metric", max_series_per_metric,
                     "Most active series one metric name may have within a tenant. "
                     "0 = unlimited. Overrides limits.max_series_per_metric in --config.file.")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  server->add_option("--log.level", log_level, "Least severe log level shown: debug, info, warn, error.")
      ->capture_default_str()
      ->check(CLI::IsMember({"debug", "info", "warn", "error"}));
  server->add_option("--web.threads", http_threads,
                     "Threads for network I/O and, as many again, for request handlers; "
                     "0 = one per core.")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);

  vigil::cmd::PushIngestFlags push_flags;
  push_flags.Add(server);

  vigil::cmd::QueryCmdOptions query_opts;
  CLI::App* query = app.add_subcommand(
      "query", "Evaluate a PromQL expression on a running server and print the answer.");
  query->add_option("expr", query_opts.expr, "The PromQL expression.")->required();
  query->add_option("--server", query_opts.server, "The server's base URL.")->capture_default_str();
  query->add_option("--time", query_opts.time,
                    "Evaluation time of an instant query: Unix seconds, RFC 3339, \"now\" or "
                    "\"-<duration>\" before now (default: the server's now).");
  query->add_option("--start", query_opts.start, "Start of a range query (default: an hour before --end).");
  query->add_option("--end", query_opts.end, "End of a range query (default: now).");
  query->add_option("--step", query_opts.step, "Step of a range query (default: 60s).");
  query->add_option("--timeout", query_opts.timeout, "Evaluation timeout passed to the server.");
  query->add_option("--token-file", query_opts.token_file,
                    "File holding the tenant token sent as \"Authorization: Bearer\" when the "
                    "server has tenants (default: $VIGIL_TOKEN, if set).");
  query->add_option("-o,--output", query_opts.output, "table or json.")
      ->capture_default_str()
      ->check(CLI::IsMember({"table", "json"}));

  CLI::App* check = app.add_subcommand("check", "Validate configuration and rule files.");
  check->require_subcommand(1);
  std::vector<std::string> check_config_files;
  CLI::App* check_config = check->add_subcommand(
      "config", "Check prometheus.yml files as promtool check config does.");
  check_config->add_option("files", check_config_files, "Config files.")->required();
  std::vector<std::string> check_rules_files;
  CLI::App* check_rules = check->add_subcommand(
      "rules", "Check rule files as promtool check rules does (exit 1 on any error).");
  check_rules->add_option("files", check_rules_files, "Rule files.")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kUsageError;
  }

  if (query->parsed()) return vigil::cmd::RunQuery(query_opts);
  if (check_config->parsed()) return vigil::cmd::RunCheckConfig(check_config_files);
  if (check_rules->parsed()) return vigil::cmd::RunCheckRules(check_rules_files);
  if (server->parsed()) {
    ServerConfig cfg;
    cfg.config_file = config_file;
    cfg.listen_address = listen;
    cfg.log_level = log_level;
    cfg.storage.path = data_path;
    auto rt = vigil::cmd::ParseDuration(retention_time);
    if (!rt.ok()) return UsageError("--storage.tsdb.retention.time", retention_time, std::string(rt.status().message()));
    cfg.storage.retention_ms = *rt;
    auto rs = vigil::cmd::ParseBytes(retention_size);
    if (!rs.ok()) return UsageError("--storage.tsdb.retention.size", retention_size, std::string(rs.status().message()));
    cfg.storage.retention_bytes = *rs;
    auto ws = vigil::cmd::ParseWalSync(wal_sync);
    if (!ws.ok()) return UsageError("--storage.tsdb.wal-sync", wal_sync, std::string(ws.status().message()));
    cfg.storage.wal_sync = ws->always ? vigil::storage::WalSync::kAlways : vigil::storage::WalSync::kGrouped;
    if (!ws->always) cfg.storage.wal_sync_interval_ms = ws->interval_ms;
    auto ooo = vigil::cmd::ParseDuration(ooo_window);
    if (!ooo.ok()) {
      return UsageError("--storage.tsdb.out-of-order-time-window", ooo_window, std::string(ooo.status().message()));
    }
    cfg.storage.out_of_order_window_ms = *ooo;
    cfg.storage.limits.max_series_per_tenant = max_series_per_tenant;
    cfg.storage.limits.max_series_per_metric = max_series_per_metric;
    // Flags given on the command line override the config file.
    auto given = [&](const char* name) { return server->get_option(name)->count() > 0; };
    if (given("--storage.tsdb.max-series-per-tenant")) cfg.overrides.max_series_per_tenant = max_series_per_tenant;
    if (given("--storage.tsdb.max-series-per-metric")) cfg.overrides.max_series_per_metric = max_series_per_metric;
    if (given("--storage.tsdb.out-of-order-time-window")) cfg.overrides.out_of_order_time_window_ms = *ooo;
    if (listen.find(':') == std::string::npos) {
      return UsageError("--web.listen-address", listen, "want host:port, e.g. 127.0.0.1:9460");
    }
    cfg.http_io_threads = http_threads;
    cfg.http_handler_threads = http_threads;
    cfg.build = {VIGIL_VERSION, VIGIL_REVISION, VIGIL_BRANCH, VIGIL_BUILD_USER, VIGIL_BUILD_DATE};
    cfg.retention_text = retention_time;
    if (absl::Status st = push_flags.Resolve(&cfg.push); !st.ok()) {
      std::fprintf(stderr, "vigil: %s\n", std::string(st.message()).c_str());
      return kUsageError;
    }
    auto self_scrape = vigil::cmd::ParseDuration(self_scrape_interval);
    if (!self_scrape.ok() || *self_scrape < 0) {
      return UsageError("--self-scrape.interval", self_scrape_interval,
                        self_scrape.ok() ? "must not be negative" : std::string(self_scrape.status().message()));
    }
    cfg.self_scrape_interval_ms = *self_scrape;
    if (given("--ingest.rate-limit")) cfg.overrides.ingestion_rate = cfg.push.rate_limit;
    if (given("--ingest.rate-limit-burst")) cfg.overrides.ingestion_burst = cfg.push.rate_limit_burst;
    cfg.alertmanager_config_file = alertmanager_config_file;
    cfg.external_url = external_url;
    for (const CLI::Option* opt : server->get_options()) {
      if (opt->get_lnames().empty() || opt->get_lnames()[0] == "help") continue;
      std::vector<std::string> vals = opt->results();
      cfg.flags.emplace_back(opt->get_lnames()[0],
                             vals.empty() ? opt->get_default_str() : vals.back());
    }
    vigil::log::SetLevel(log_level);
    return vigil::cmd::RunServer(cfg);
  }
  return kUsageError;
}
