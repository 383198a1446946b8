// ScrapeService: runs the scrape manager for the server, fed from --config.file, and
// reloads it on SIGHUP and POST /-/reload.
//
// A reload re-reads and fully validates the file first; a bad file is refused with the
// reason (logged, and returned to /-/reload) and the running configuration stays. A good
// one is applied with Manager::ApplyConfig, which keeps unchanged targets' state.
//
// Thread-safety: Reload() may be called from any thread (serialized internally).
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/status.h"
#include "base/metrics.h"
#include "cmd/service.h"
#include "ingest/writer.h"
#include "scrape/config.h"
#include "scrape/manager.h"
#include "storage/appender.h"

namespace vigil::http {
class TargetsApi;
}

namespace vigil::cmd {

class ScrapeService : public Service {
 public:
  // `db` is called at Start (the storage service opens the DB first). `targets_api` may be
  // nullptr. All must outlive the service.
  // `opts` seeds the manager's options (exemplar storage, metadata sink); `on_config`, if
  // set, is called with every configuration applied (at Start and on each good reload).
  ScrapeService(std::string config_file, std::function<storage::Appendable*()> db,
                metrics::Registry* registry, http::TargetsApi* targets_api,
                scrape::ManagerOptions opts = {},
                std::function<void(const scrape::LoadedConfig&)> on_config = nullptr);
  ~ScrapeService() override;

  std::string_view name() const override { return "scrape manager"; }
  absl::Status Start() override;
  void Stop() override;

  absl::Status Reload();
  // Applies scrape configs already loaded and validated (the server's whole-config
  // reload), plus the self-scrape job when one is set.
  // Calls on_config like Reload does.
  absl::Status Apply(const scrape::LoadedConfig& loaded);
  // What POST /-/reload runs; by default Reload(). Call before Start.
  void SetReloadFunction(std::function<absl::Status()> fn) { reload_fn_ = std::move(fn); }

  // Adds a job "vigil" that scrapes this server's own /metrics at `address` ("host:port")
  // every `interval_ms`, beside the configured jobs (and across reloads), so the built-in
  // "Vigil overview" dashboard has data. A configured job of the same name wins. Call
  // before Start.
  void SetSelfScrape(std::string address, int64_t interval_ms) {
    self_address_ = std::move(address);
    self_interval_ms_ = interval_ms;
  }

 private:
  // Appends the self-scrape job to `cfgs` when it is on and not configured already.
  absl::Status AddSelfScrape(std::vector<scrape::ScrapeConfig>* cfgs) const;

  const std::string config_file_;
  const std::function<storage::Appendable*()> db_;
  metrics::Registry* const registry_;
  http::TargetsApi* const targets_api_;
  const scrape::ManagerOptions opts_;
  const std::function<void(const scrape::LoadedConfig&)> on_config_;
  std::function<absl::Status()> reload_fn_;
  std::mutex reload_mu_;
  std::unique_ptr<ingest::IngestMetrics> ingest_metrics_;
  std::unique_ptr<scrape::Manager> manager_;
  metrics::Counter* reloads_ok_ = nullptr;
  metrics::Counter* reloads_failed_ = nullptr;
  std::string self_address_;
  int64_t self_interval_ms_ = 0;
};

// The address a server listening on `listen_address` scrapes itself at: the same, with a
// wildcard host ("", 0.0.0.0, [::]) replaced by the loopback address.
std::string SelfScrapeAddress(const std::string& listen_address);

}  // namespace vigil::cmd
