#include "cmd/scrape_service.h"

#include "base/log.h"
#include "base/status.h"
#include "http/targets_api.h"
#include "scrape/config.h"

namespace vigil::cmd {

ScrapeService::ScrapeService(std::string config_file, std::function<storage::Appendable*()> db,
                             metrics::Registry* registry, http::TargetsApi* targets_api)
    : config_file_(std::move(config_file)),
      db_(std::move(db)),
      registry_(registry),
      targets_api_(targets_api) {}

ScrapeService::~ScrapeService() = default;

absl::Status ScrapeService::Start() {
  std::vector<scrape::ScrapeConfig> cfgs;
  if (!config_file_.empty()) {
    auto loaded = scrape::LoadConfigFile(config_file_);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("cannot load config file: {}", std::string(loaded.status().message())));
    }
    cfgs = std::move(loaded->scrape_configs);
  }
  reloads_ok_ = registry_->NewCounterFamily("vigil_config_reloads_total",
                                            "Configuration reloads by result.", {"result"})
                    ->WithLabelValues({"success"});
  reloads_failed_ = registry_->NewCounterFamily("vigil_config_reloads_total",
                                                "Configuration reloads by result.", {"result"})
                        ->WithLabelValues({"failure"});
  ingest_metrics_ = std::make_unique<ingest::IngestMetrics>(registry_);
  manager_ = std::make_unique<scrape::Manager>(db_(), ingest_metrics_.get(), registry_);
  manager_->ApplyConfig(cfgs);
  RETURN_IF_ERROR(manager_->Start());
  if (targets_api_ != nullptr) {
    targets_api_->Attach(manager_.get(), [this] { return Reload(); });
  }
  VLOG_INFO("scrape", "scraping {} job(s)", cfgs.size());
  return absl::OkStatus();
}

void ScrapeService::Stop() {
  if (targets_api_ != nullptr) targets_api_->Detach();
  manager_->Stop();
  VLOG_INFO("scrape", "stopped; running targets ended with staleness markers");
}

absl::Status ScrapeService::Reload() {
  std::lock_guard lock(reload_mu_);
  if (config_file_.empty()) {
    return absl::FailedPreconditionError("no --config.file to reload");
  }
  auto loaded = scrape::LoadConfigFile(config_file_);
  if (!loaded.ok()) {
    reloads_failed_->Inc();
    VLOG_ERROR("main", "reload refused, keeping the running configuration: {}",
               std::string(loaded.status().message()));
    return loaded.status();
  }
  manager_->ApplyConfig(loaded->scrape_configs);
  reloads_ok_->Inc();
  VLOG_INFO("main", "reloaded {}: {} scrape job(s)", config_file_,
            loaded->scrape_configs.size());
  return absl::OkStatus();
}

}  // namespace vigil::cmd
