#include "cmd/server_cmd.h"

#include <signal.h>

#include <chrono>
#include <ctime>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <sstream>

#include "base/log.h"
#include "base/metrics.h"
#include "base/status.h"
#include "cmd/push_ingest.h"
#include "cmd/scrape_service.h"
#include "cmd/alerting_service.h"
#include "cmd/service.h"
#include "config/config.h"
#include "fs/file_system.h"
#include "http/auth.h"
#include "http/dashboard_store.h"
#include "http/dashboards_api.h"
#include "http/embedded_files.h"
#include "http/query_api.h"
#include "http/remote_read.h"
#include "http/self_metrics.h"
#include "http/server.h"
#include "http/targets_api.h"
#include "http/ui_handler.h"
#include "ingest/decoded.h"
#include "ingest/remote_write.h"
#include "scrape/config.h"
#include "storage/exemplar/circular_storage.h"

namespace vigil::cmd {
namespace {

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

class HttpService : public Service {
 public:
  HttpService(http::ServerOptions opts, const http::Router* router)
      : server_(opts, router), addr_(opts.listen_address) {}
  std::string_view name() const override { return "http server"; }
  absl::Status Start() override {
    RETURN_IF_ERROR(server_.Start());
    VLOG_INFO("http", "listening on {} (port {})", addr_, server_.port());
    return absl::OkStatus();
  }
  void Stop() override { server_.Stop(); }

 private:
  http::Server server_;
  std::string addr_;
};

// Hands exemplars to the DB, which logs them to its WAL before storing them. Scrapes are
// configured before storage opens, so the DB is looked up on each call.
class DbExemplars final : public storage::ExemplarAppendable {
 public:
  explicit DbExemplars(const std::unique_ptr<storage::DB>* db) : db_(db) {}
  absl::Status AppendExemplar(std::string_view tenant, const model::Labels& series,
                              const storage::Exemplar& e) override {
    if (*db_ == nullptr) return absl::UnavailableError("storage is not open");
    return (*db_)->AppendExemplar(tenant, series, e);
  }
  void AppendExemplars(std::string_view tenant, std::span<const SeriesExemplar> batch,
                       std::span<absl::Status> results) override {
    if (*db_ == nullptr) {
      for (absl::Status& r : results) r = absl::UnavailableError("storage is not open");
      return;
    }
    (*db_)->AppendExemplars(tenant, batch, results);
  }

 private:
  const std::unique_ptr<storage::DB>* db_;
};

// Owns the DB and the ingester that writes into it.
class StorageService : public Service {
 public:
  StorageService(storage::Options opts, ingest::RemoteWriteOptions rw_opts,
                 metrics::Registry* registry)
      : opts_(std::move(opts)), rw_opts_(std::move(rw_opts)), registry_(registry) {}
  std::string_view name() const override { return "storage"; }

  absl::Status Start() override {
    VLOG_INFO("storage", "opening {} (retention {} ms, {} bytes; wal sync {})", opts_.path,
              opts_.retention_ms, opts_.retention_bytes,
              opts_.wal_sync == storage::WalSync::kAlways
                  ? std::string("always")
                  : fmt::format("every {} ms", opts_.wal_sync_interval_ms));
    ASSIGN_OR_RETURN(db_, storage::DB::Open(opts_));
    storage::Stats st = db_->GetStats();
    VLOG_INFO("storage", "opened: {} head series, {} blocks, WAL {} bytes in {} segments",
              st.head_series, st.blocks, st.wal_bytes, st.wal_segments);
    ingest::RemoteWriteOptions rw = rw_opts_;
    rw.exemplars = db_.get();  // the DB logs exemplars to its WAL before storing them
    ingester_ = std::make_unique<ingest::RemoteWriteIngester>(db_.get(), registry_, rw);
    collector_ = http::AddStorageCollector(registry_, db_.get());
    return absl::OkStatus();
  }

  void Stop() override {
    registry_->RemoveCollector(collector_);
    ingester_.reset();
    if (absl::Status s = db_->Close(); !s.ok()) {
      VLOG_ERROR("storage", "close: {}", Msg(s));
    } else {
      VLOG_INFO("storage", "closed: WAL flushed and synced, lock released");
    }
    db_.reset();
  }

  storage::DB* db() const { return db_.get(); }
  ingest::RemoteWriteIngester* ingester() const { return ingester_.get(); }
  // The DB's exemplar appending, usable before Start (it refuses until the DB is open).
  storage::ExemplarAppendable* exemplars() { return &exemplars_; }

 private:
  const storage::Options opts_;
  const ingest::RemoteWriteOptions rw_opts_;
  metrics::Registry* const registry_;
  std::unique_ptr<storage::DB> db_;
  DbExemplars exemplars_{&db_};
  std::unique_ptr<ingest::RemoteWriteIngester> ingester_;
  int collector_ = 0;
};

// Connects the API to storage: the server is ready from Start until Stop.
class ReadyService : public Service {
 public:
  ReadyService(http::Api* api, const StorageService* storage) : api_(api), storage_(storage) {}
  std::string_view name() const override { return "api"; }
  absl::Status Start() override {
    api_->AttachStorage(storage_->db(), storage_->ingester());
    VLOG_INFO("main", "ready to serve requests");
    return absl::OkStatus();
  }
  void Stop() override { api_->DetachStorage(); }

 private:
  http::Api* api_;
  const StorageService* storage_;
};

// Opens the web UI's dashboards (<data dir>/dashboards, seeded with the built-in ones on
// first start) once storage holds the data directory's lock, and hands them to the API.
// The store stays alive until the service is destroyed, after the HTTP server stopped.
class DashboardService : public Service {
 public:
  DashboardService(std::string data_dir, http::DashboardsApi* api)
      : store_(fs::Posix(), fs::JoinPath(data_dir, "dashboards")), api_(api) {}
  std::string_view name() const override { return "dashboards"; }
  absl::Status Start() override {
    RETURN_IF_ERROR(store_.Open(http::BuiltinDashboardFiles()));
    api_->Attach(&store_);
    return absl::OkStatus();
  }
  void Stop() override { api_->Attach(nullptr); }

 private:
  http::DashboardStore store_;
  http::DashboardsApi* api_;
};

// --config.file, read whole: the common sections, the scrape jobs and the token files.
struct LoadedFile {
  std::string text;
  scrape::LoadedConfig cfg;
};

absl::StatusOr<LoadedFile> LoadConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("cannot read config file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  LoadedFile out;
  out.text = ss.str();
  ASSIGN_OR_RETURN(out.cfg, scrape::ParseConfigText(out.text, path));
  RETURN_IF_ERROR(config::ReadTokenFiles(&out.cfg.config, path));
  return out;
}

// Applies the runtime parts of the config (auth, limits, the redacted text for
// /api/v1/status/config) and runs reloads: validate everything first, then apply to every
// part, so a bad file changes nothing. Reloads are serialised.
class ConfigReloader {
 public:
  struct Parts {
    http::Auth* auth = nullptr;
    http::IngestApi* ingest = nullptr;
    http::QueryApi* query = nullptr;
    const http::Api* api = nullptr;  // storage access (its lease)
    ScrapeService* scrape = nullptr;
    AlertingService* alerting = nullptr;
  };

  ConfigReloader(std::string path, FlagOverrides flags, metrics::Registry* registry, Parts parts)
      : path_(std::move(path)), flags_(flags), parts_(parts) {
    auto* reloads = registry->NewCounterFamily("vigil_config_reloads_total",
                                               "Configuration reloads by result.", {"result"});
    reloads_ok_ = reloads->WithLabelValues({"success"});
    reloads_failed_ = reloads->WithLabelValues({"failure"});
    last_ok_ = registry->NewGauge("vigil_config_last_reload_successful",
                                  "Whether the last configuration reload succeeded (1) or not.");
    last_ok_time_ = registry->NewGauge(
        "vigil_config_last_reload_success_timestamp_seconds",
        "Time of the last successful configuration load (Unix seconds).");
  }

  // The configuration the server starts with (default when there is no file).
  void ApplyInitial(const config::Config& cfg, const std::string& text) {
    std::lock_guard lock(mu_);
    ApplyRuntime(cfg, text);
    current_ = cfg;
    last_ok_->Set(1);
    last_ok_time_->Set(static_cast<double>(std::time(nullptr)));
  }

  // After this, reloads are refused (the services are stopping).
  void Stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
  }

  absl::Status Reload() {
    std::lock_guard lock(mu_);
    if (stopped_) return absl::UnavailableError("the server is shutting down");
    if (path_.empty()) return absl::FailedPreconditionError("no --config.file to reload");
    absl::StatusOr<LoadedFile> loaded = LoadConfig(path_);
    if (!loaded.ok()) {
      reloads_failed_->Inc();
      last_ok_->Set(0);
      VLOG_ERROR("main", "reload refused, keeping the running configuration: {}",
                 Msg(loaded.status()));
      return loaded.status();
    }
    // Rules and the notifier first: they read their own files (rule files, notify section,
    // templates) and refuse a bad one without applying anything, so a failure here leaves
    // the whole running configuration as it was.
    if (parts_.alerting != nullptr) {
      if (absl::Status st = parts_.alerting->Reload(); !st.ok()) {
        reloads_failed_->Inc();
        last_ok_->Set(0);
        VLOG_ERROR("main", "reload refused, keeping the running configuration: {}", Msg(st));
        return st;
      }
    }
    const config::Config& cfg = loaded->cfg.config;
    std::vector<std::string> changes = config::DescribeChanges(current_, cfg);
    ApplyRuntime(cfg, loaded->text);
    current_ = cfg;
    for (const std::string& c : changes) VLOG_INFO("main", "config change: {}", c);
    if (changes.empty()) VLOG_INFO("main", "config change: none to tenants, auth or limits");
    if (parts_.scrape != nullptr) {
      if (absl::Status st = parts_.scrape->Apply(loaded->cfg); !st.ok()) {
        // Only the self-scrape job's setup can fail here; the scrape jobs keep running.
        reloads_failed_->Inc();
        last_ok_->Set(0);
        VLOG_ERROR("main", "reload: {}", Msg(st));
        return st;
      }
    }
    reloads_ok_->Inc();
    last_ok_->Set(1);
    last_ok_time_->Set(static_cast<double>(std::time(nullptr)));
    VLOG_INFO("main", "reloaded {}: {} scrape job(s), {} tenant(s)", path_,
              loaded->cfg.scrape_configs.size(), cfg.tenants.size());
    return absl::OkStatus();
  }

 private:
  void ApplyRuntime(const config::Config& cfg, const std::string& text) {
    for (const std::string& line : DescribeOverrides(cfg, flags_)) {
      VLOG_INFO("main", "flag overrides config: {}", line);
    }
    for (const std::string& key : cfg.unused) {
      VLOG_WARN("main", "config: {} is accepted for compatibility with Prometheus but has no "
                "effect in Vigil", key);
    }
    const EffectiveLimits limits = ResolveLimits(cfg, flags_);
    if (parts_.auth != nullptr) parts_.auth->Update(ResolveAuth(cfg));
    if (parts_.ingest != nullptr) parts_.ingest->SetRateLimits(limits.rate, limits.rate_tenants);
    if (parts_.api != nullptr) {
      http::Response ignored;
      if (http::Api::Lease lease = parts_.api->NeedDb(&ignored)) {
        lease.db()->SetLimits(limits.storage, limits.storage_tenants);
      }
    }
    if (parts_.query != nullptr) parts_.query->SetConfigYaml(config::RedactedYaml(text));
  }

  const std::string path_;
  const FlagOverrides flags_;
  const Parts parts_;
  std::mutex mu_;
  config::Config current_;  // guarded by mu_
  bool stopped_ = false;    // guarded by mu_
  metrics::Counter* reloads_ok_;
  metrics::Counter* reloads_failed_;
  metrics::Gauge* last_ok_;
  metrics::Gauge* last_ok_time_;
};

}  // namespace

int RunServer(const ServerConfig& server_cfg) {
  ServerConfig cfg = server_cfg;
  // Block the termination signals before any thread exists, so every thread inherits the
  // mask and only sigwait below receives them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);  // reload
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  VLOG_INFO("main", "starting Vigil {} (revision {}, branch {})", cfg.build.version,
            cfg.build.revision, cfg.build.branch);
  // The whole file is validated before anything starts: a typo is found now, not later.
  LoadedFile file;
  if (!cfg.config_file.empty()) {
    absl::StatusOr<LoadedFile> loaded = LoadConfig(cfg.config_file);
    if (!loaded.ok()) {
      VLOG_ERROR("main", "FATAL: cannot load config file: {}", Msg(loaded.status()));
      spdlog::default_logger()->flush();
      return 1;
    }
    file = std::move(*loaded);
  }
  const config::Config& file_cfg = file.cfg.config;
  // Storage settings read once at startup: the file's unless a flag was given.
  if (!cfg.overrides.out_of_order_time_window_ms && file_cfg.storage.out_of_order_time_window_ms) {
    cfg.storage.out_of_order_window_ms = *file_cfg.storage.out_of_order_time_window_ms;
  }
  {
    const EffectiveLimits limits = ResolveLimits(file_cfg, cfg.overrides);
    cfg.storage.limits = limits.storage;
    cfg.storage.tenant_limits = limits.storage_tenants;
  }
  if (!cfg.config_file.empty()) {
    const config::LimitsConfig l = DefaultLimits(file_cfg, cfg.overrides);
    VLOG_INFO("main",
              "loaded config file {}: {} scrape job(s), {} tenant(s) (authentication {}); "
              "limits per tenant: max_series {}, max_series_per_metric {}, ingestion_rate {}/s "
              "(0 = unlimited)",
              cfg.config_file, file.cfg.scrape_configs.size(), file_cfg.tenants.size(),
              file_cfg.tenants.empty() ? "off" : "on", l.max_series_per_tenant,
              l.max_series_per_metric, l.ingestion_rate);
  }

  metrics::Registry& registry = metrics::Registry::Default();
  int process_collector = http::AddProcessCollector(&registry);
  registry
      .NewGaugeFamily("vigil_build_info", "Vigil's version, revision and branch; always 1.",
                      {"version", "revision", "branch"})
      ->WithLabelValues({cfg.build.version, cfg.build.revision, cfg.build.branch})
      ->Set(1);

  // Exemplars are kept in memory (storage/exemplar), sized by
  // storage.exemplars.max_exemplars and resized when a reload changes it; the DB logs them
  // to its WAL and replays them into this store at startup.
  storage::exemplar::CircularExemplarStorage exemplars(file_cfg.storage.max_exemplars);
  cfg.storage.exemplars = &exemplars;

  http::Api api(cfg.build, &registry);
  http::Router router(&registry);
  http::Auth auth(&registry);
  router.SetAuth(&auth);
  api.Register(&router);
  http::TargetsApi targets_api;  // /api/v1/targets, /api/v1/targets/metadata, /-/reload
  targets_api.Register(&router);
  PushIngest push(cfg.push, &registry);
  push.Register(&router);
  api.SetPushGuards(push.api()->guards());  // remote_write obeys the push limits too
  http::QueryApiOptions query_opts;
  query_opts.flags = cfg.flags;
  query_opts.storage_retention = cfg.retention_text;
  query_opts.exemplars = &exemplars;
  http::QueryApi query_api(&api, std::move(query_opts));
  query_api.Register(&router);
  http::RemoteRead remote_read(&api, http::RemoteReadOptions{});
  remote_read.Register(&router);
  http::DashboardsApi dashboards_api;
  dashboards_api.Register(&router);
  const http::UiHandler ui(http::EmbeddedUiFiles());  // GET / and /ui/...
  ui.Register(&router);

  http::ServerOptions http_opts;
  http_opts.listen_address = cfg.listen_address;
  http_opts.io_threads = cfg.http_io_threads;
  http_opts.handler_threads = cfg.http_handler_threads;

  ServiceGroup services;
  services.Add(std::make_unique<HttpService>(http_opts, &router));
  ingest::MetadataStore* metadata = push.metadata();
  auto feed_metadata = [metadata](std::string_view tenant,
                                  const std::vector<ingest::MetricMetadata>& md) {
    metadata->Update(tenant, md);
  };
  ingest::RemoteWriteOptions rw_opts;
  rw_opts.on_metadata = feed_metadata;
  auto storage = std::make_unique<StorageService>(cfg.storage, rw_opts, &registry);
  StorageService* storage_ptr = storage.get();
  services.Add(std::move(storage));
  services.Add(std::make_unique<DashboardService>(cfg.storage.path, &dashboards_api));
  scrape::ManagerOptions scrape_opts;
  scrape_opts.exemplars = storage_ptr->exemplars();
  scrape_opts.on_metadata = feed_metadata;
  auto scrape = std::make_unique<ScrapeService>(
      cfg.config_file, [storage_ptr]() -> storage::Appendable* { return storage_ptr->db(); },
      &registry, &targets_api, scrape_opts, [&exemplars](const scrape::LoadedConfig& c) {
        if (c.config.storage.max_exemplars != exemplars.max_exemplars()) {
          exemplars.Resize(c.config.storage.max_exemplars);
          VLOG_INFO("main", "exemplar storage holds up to {} exemplars per tenant",
                    c.config.storage.max_exemplars);
        }
      });
  ScrapeService* scrape_ptr = scrape.get();
  if (cfg.self_scrape_interval_ms > 0) {
    scrape->SetSelfScrape(SelfScrapeAddress(cfg.listen_address), cfg.self_scrape_interval_ms);
  }
  services.Add(std::move(scrape));
  services.Add(push.NewService([storage_ptr] { return storage_ptr->db(); }));
  // Rules and notifications (engineer H): handlers registered before the server starts.
  auto alerting = std::make_unique<AlertingService>(AlertingOptions{
      cfg.config_file, cfg.alertmanager_config_file, cfg.storage.path, cfg.external_url, &registry,
      [storage_ptr]() -> storage::DB* { return storage_ptr->db(); }});
  alerting->Register(&router);
  AlertingService* alerting_ptr = alerting.get();
  services.Add(std::move(alerting));
  // Ready last, once the configuration (scrape jobs, rules, notifier) is loaded, as
  // Prometheus is; stopped first, so writes end before the other roles stop.
  services.Add(std::make_unique<ReadyService>(&api, storage_ptr));

  ConfigReloader reloader(cfg.config_file, cfg.overrides, &registry,
                          {&auth, push.api(), &query_api, &api, scrape_ptr, alerting_ptr});
  // Auth, limits and the shown config apply before the server answers anything.
  reloader.ApplyInitial(file_cfg, file.text);
  scrape_ptr->SetReloadFunction([&reloader] { return reloader.Reload(); });

  if (absl::Status s = services.StartAll(); !s.ok()) {
    VLOG_ERROR("main", "FATAL: {}", Msg(s));
    registry.RemoveCollector(process_collector);
    spdlog::default_logger()->flush();
    return 1;
  }

  int sig = 0;
  while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
    VLOG_INFO("main", "received SIGHUP; reloading the configuration");
    (void)reloader.Reload();  // a refused reload is logged; the old config keeps running
  }
  VLOG_INFO("main", "received {}; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  const auto t0 = std::chrono::steady_clock::now();
  reloader.Stop();
  services.StopAll();
  registry.RemoveCollector(process_collector);
  VLOG_INFO("main", "shutdown complete in {} ms",
            std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count());
  spdlog::default_logger()->flush();
  return 0;
}

}  // namespace vigil::cmd
