#include "cmd/server_cmd.h"

#include <signal.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>

#include "base/log.h"
#include "base/metrics.h"
#include "base/status.h"
#include "cmd/push_ingest.h"
#include "cmd/scrape_service.h"
#include "cmd/alerting_service.h"
#include "cmd/service.h"
#include "fs/file_system.h"
#include "http/dashboard_store.h"
#include "http/dashboards_api.h"
#include "http/embedded_files.h"
#include "http/query_api.h"
#include "http/remote_read.h"
#include "http/self_metrics.h"
#include "http/server.h"
#include "http/targets_api.h"
#include "http/ui_handler.h"
#include "config/config.h"
#include "ingest/decoded.h"
#include "ingest/remote_write.h"
#include "storage/exemplar/circular_storage.h"
#include "yaml-cpp/yaml.h"

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
    ingester_ = std::make_unique<ingest::RemoteWriteIngester>(db_.get(), registry_, rw_opts_);
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

 private:
  const storage::Options opts_;
  const ingest::RemoteWriteOptions rw_opts_;
  metrics::Registry* const registry_;
  std::unique_ptr<storage::DB> db_;
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

}  // namespace

int RunServer(const ServerConfig& cfg) {
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
  std::string config_yaml;
  if (!cfg.config_file.empty()) {
    // The configuration sections (scrape, rules, tenants) are not wired yet; the file is
    // still checked so that a typo is found at startup rather than later.
    try {
      YAML::LoadFile(cfg.config_file);
      std::ifstream in(cfg.config_file);
      config_yaml.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    } catch (const YAML::Exception& e) {
      VLOG_ERROR("main", "FATAL: cannot load config file {}: {}", cfg.config_file, e.what());
      spdlog::default_logger()->flush();
      return 1;
    }
    VLOG_INFO("main", "loaded config file {}", cfg.config_file);
  }

  metrics::Registry& registry = metrics::Registry::Default();
  int process_collector = http::AddProcessCollector(&registry);
  registry
      .NewGaugeFamily("vigil_build_info", "Vigil's version, revision and branch; always 1.",
                      {"version", "revision", "branch"})
      ->WithLabelValues({cfg.build.version, cfg.build.revision, cfg.build.branch})
      ->Set(1);

  // Exemplars live in memory for the life of the process (storage/exemplar), sized by
  // storage.exemplars.max_exemplars and resized when a reload changes it.
  int64_t max_exemplars = config::StorageConfig{}.max_exemplars;
  if (!config_yaml.empty()) {
    // A bad file is reported by the scrape service's full check at start.
    if (auto c = config::Parse(config_yaml, cfg.config_file); c.ok()) {
      max_exemplars = c->storage.max_exemplars;
    }
  }
  storage::exemplar::CircularExemplarStorage exemplars(max_exemplars);

  http::Api api(cfg.build, &registry);
  http::Router router(&registry);
  api.Register(&router);
  http::TargetsApi targets_api;  // /api/v1/targets, /api/v1/targets/metadata, /-/reload
  targets_api.Register(&router);
  PushIngest push(cfg.push, &registry);
  push.Register(&router);
  http::QueryApiOptions query_opts;
  query_opts.flags = cfg.flags;
  query_opts.config_yaml = config_yaml;
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
  rw_opts.exemplars = &exemplars;
  rw_opts.on_metadata = feed_metadata;
  auto storage = std::make_unique<StorageService>(cfg.storage, rw_opts, &registry);
  StorageService* storage_ptr = storage.get();
  services.Add(std::move(storage));
  services.Add(std::make_unique<DashboardService>(cfg.storage.path, &dashboards_api));
  scrape::ManagerOptions scrape_opts;
  scrape_opts.exemplars = &exemplars;
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
  targets_api.AddReloader([alerting_ptr] { return alerting_ptr->Reload(); });
  services.Add(std::move(alerting));
  // Ready last, once the configuration (scrape jobs, rules, notifier) is loaded, as
  // Prometheus is; stopped first, so writes end before the other roles stop.
  services.Add(std::make_unique<ReadyService>(&api, storage_ptr));

  if (absl::Status s = services.StartAll(); !s.ok()) {
    VLOG_ERROR("main", "FATAL: {}", Msg(s));
    registry.RemoveCollector(process_collector);
    spdlog::default_logger()->flush();
    return 1;
  }

  int sig = 0;
  while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP) {
    VLOG_INFO("main", "received SIGHUP; reloading the configuration");
    (void)scrape_ptr->Reload();  // a refused reload is logged; the old config keeps running
    if (absl::Status rs = alerting_ptr->Reload(); !rs.ok()) {
      VLOG_ERROR("main", "reloading rules and notifier: {}", Msg(rs));
    }
  }
  VLOG_INFO("main", "received {}; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  const auto t0 = std::chrono::steady_clock::now();
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
