#include "cmd/scrape_service.h"

#include <algorithm>

#include "base/log.h"
#include "base/status.h"
#include "http/targets_api.h"
#include "scrape/config.h"

namespace vigil::cmd {

ScrapeService::ScrapeService(std::string config_file, std::function<storage::Appendable*()> db,
                             metrics::Registry* registry, http::TargetsApi* targets_api,
                             scrape::ManagerOptions opts,
                             std::function<void(const scrape::LoadedConfig&)> on_config)
    : config_file_(std::move(config_file)),
      db_(std::move(db)),
      registry_(registry),
      targets_api_(targets_api),
      opts_(std::move(opts)),
      on_config_(std::move(on_config)) {}

ScrapeService::~ScrapeService() = default;

absl::Status ScrapeService::Start() {
  std::vector<scrape::ScrapeConfig> cfgs;
  if (!config_file_.empty()) {
    auto loaded = scrape::LoadConfigFile(config_file_);
    if (!loaded.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("cannot load config file: {}", std::string(loaded.status().message())));
    }
    if (on_config_) on_config_(*loaded);
    cfgs = std::move(loaded->scrape_configs);
  }
  RETURN_IF_ERROR(AddSelfScrape(&cfgs));
  reloads_ok_ = registry_->NewCounterFamily("vigil_config_reloads_total",
                                            "Configuration reloads by result.", {"result"})
                    ->WithLabelValues({"success"});
  reloads_failed_ = registry_->NewCounterFamily("vigil_config_reloads_total",
                                                "Configuration reloads by result.", {"result"})
                        ->WithLabelValues({"failure"});
  ingest_metrics_ = std::make_unique<ingest::IngestMetrics>(registry_);
  manager_ = std::make_unique<scrape::Manager>(db_(), ingest_metrics_.get(), registry_, opts_);
  manager_->ApplyConfig(cfgs);
  RETURN_IF_ERROR(manager_->Start());
  if (targets_api_ != nullptr) {
    targets_api_->Attach(manager_.get(),
                         reload_fn_ ? reload_fn_ : std::function<absl::Status()>([this] { return Reload(); }));
  }
  VLOG_INFO("scrape", "scraping {} job(s)", cfgs.size());
  return absl::OkStatus();
}

void ScrapeService::Stop() {
  if (targets_api_ != nullptr) targets_api_->Detach();
  manager_->Stop();
  VLOG_INFO("scrape", "stopped; running targets ended with staleness markers");
}

absl::Status ScrapeService::Apply(const scrape::LoadedConfig& loaded) {
  std::lock_guard lock(reload_mu_);
  std::vector<scrape::ScrapeConfig> cfgs = loaded.scrape_configs;
  RETURN_IF_ERROR(AddSelfScrape(&cfgs));
  manager_->ApplyConfig(cfgs);
  if (on_config_) on_config_(loaded);
  VLOG_INFO("scrape", "applied {} scrape job(s)", cfgs.size());
  return absl::OkStatus();
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
  if (absl::Status s = AddSelfScrape(&loaded->scrape_configs); !s.ok()) return s;
  manager_->ApplyConfig(loaded->scrape_configs);
  if (on_config_) on_config_(*loaded);
  reloads_ok_->Inc();
  VLOG_INFO("main", "reloaded {}: {} scrape job(s)", config_file_,
            loaded->scrape_configs.size());
  return absl::OkStatus();
}

std::string SelfScrapeAddress(const std::string& listen_address) {
  const size_t colon = listen_address.rfind(':');
  if (colon == std::string::npos) return listen_address;
  const std::string host = listen_address.substr(0, colon);
  const std::string port = listen_address.substr(colon + 1);
  if (host.empty() || host == "0.0.0.0") return "127.0.0.1:" + port;
  if (host == "[::]") return "[::1]:" + port;
  return listen_address;
}

absl::Status ScrapeService::AddSelfScrape(std::vector<scrape::ScrapeConfig>* cfgs) const {
  if (self_interval_ms_ <= 0) return absl::OkStatus();
  for (const auto& c : *cfgs) {
    if (c.job_name == "vigil") return absl::OkStatus();
  }
  // Written as a config file would be, so the job gets every default a configured one gets.
  const std::string yaml = fmt::format(
      "scrape_configs:\n"
      "  - job_name: vigil\n"
      "    scrape_interval: {}ms\n"
      "    scrape_timeout: {}ms\n"
      "    static_configs: [{{targets: [\"{}\"]}}]\n",
      self_interval_ms_, std::min<int64_t>(self_interval_ms_, 10'000), self_address_);
  auto parsed = scrape::ParseConfigText(yaml, "--self-scrape.interval");
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(fmt::format("cannot set up the self-scrape of {}: {}", self_address_,
                                                  std::string(parsed.status().message())));
  }
  for (auto& c : parsed->scrape_configs) cfgs->push_back(std::move(c));
  return absl::OkStatus();
}

}  // namespace vigil::cmd
