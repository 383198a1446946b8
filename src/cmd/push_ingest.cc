#include "cmd/push_ingest.h"

#include "base/log.h"
#include "cmd/flags.h"
#include "fmt/format.h"

namespace vigil::cmd {
namespace {

http::IngestApiOptions ApiOptions(const PushIngestConfig& cfg) {
  http::IngestApiOptions o;
  o.rate_limit = {cfg.rate_limit, cfg.rate_limit_burst};
  o.max_inflight_bytes = cfg.max_inflight_bytes;
  return o;
}

}  // namespace

void PushIngestFlags::Add(CLI::App* server) {
  server->add_option("--statsd.listen-address", statsd_listen_address,
                     "UDP address (host:port) to receive StatsD/DogStatsD on, e.g. "
                     "127.0.0.1:9125. Empty: StatsD is off.");
  server->add_option("--statsd.flush-interval", statsd_flush_interval,
                     "How often aggregated StatsD series are written (a duration).")
      ->capture_default_str();
  server->add_option("--statsd.observer", statsd_observer,
                     "StatsD timers and histograms become a \"summary\" (quantiles 0.5, 0.9, "
                     "0.99 over 10m) or a \"histogram\" (Prometheus default buckets).")
      ->capture_default_str()
      ->check(CLI::IsMember({"summary", "histogram"}));
  server->add_option("--ingest.rate-limit", rate_limit,
                     "Samples per second each tenant may push (all push protocols, remote_write "
                     "included); over it requests get 429 with Retry-After. 0 = unlimited. "
                     "Overrides limits.ingestion_rate in --config.file.")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  server->add_option("--ingest.rate-limit-burst", rate_limit_burst,
                     "Samples a quiet tenant may push at once; 0 = one second's worth. "
                     "Overrides limits.ingestion_burst in --config.file.")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  server->add_option("--ingest.max-inflight-bytes", max_inflight_bytes,
                     "Request bytes decoded at once before new push requests are shed with "
                     "429; 0 = unlimited.")
      ->capture_default_str();
}

absl::Status PushIngestFlags::Resolve(PushIngestConfig* out) const {
  out->statsd_listen_address = statsd_listen_address;
  if (!statsd_listen_address.empty() && statsd_listen_address.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "invalid value \"{}\" for --statsd.listen-address: want host:port, e.g. 127.0.0.1:9125",
        statsd_listen_address));
  }
  auto fi = ParseDuration(statsd_flush_interval);
  if (!fi.ok() || *fi <= 0) {
    return absl::InvalidArgumentError(
        fmt::format("invalid value \"{}\" for --statsd.flush-interval: {}", statsd_flush_interval,
                    fi.ok() ? std::string("must be positive") : std::string(fi.status().message())));
  }
  out->statsd_flush_interval_ms = *fi;
  out->statsd_histograms = statsd_observer == "histogram";
  out->rate_limit = rate_limit;
  out->rate_limit_burst = rate_limit_burst;
  auto mb = ParseBytes(max_inflight_bytes);
  if (!mb.ok()) {
    return absl::InvalidArgumentError(fmt::format("invalid value \"{}\" for --ingest.max-inflight-bytes: {}",
                                                  max_inflight_bytes, std::string(mb.status().message())));
  }
  out->max_inflight_bytes = *mb;
  return absl::OkStatus();
}

class PushIngest::Svc : public Service {
 public:
  Svc(PushIngest* p, std::function<storage::DB*()> db) : p_(p), db_(std::move(db)) {}
  std::string_view name() const override { return "push ingestion"; }
  absl::Status Start() override {
    storage::DB* db = db_();
    if (!p_->cfg_.statsd_listen_address.empty()) {
      ingest::StatsdServerOptions so;
      so.listen_address = p_->cfg_.statsd_listen_address;
      so.flush_interval_ms = p_->cfg_.statsd_flush_interval_ms;
      if (p_->cfg_.statsd_histograms) so.aggregator.observer = ingest::StatsdOptions::Observer::kHistogram;
      statsd_ = std::make_unique<ingest::StatsdServer>(so, db, p_->api_.ingest_metrics());
      if (absl::Status st = statsd_->Start(); !st.ok()) {
        statsd_.reset();
        return st;
      }
    }
    p_->api_.Attach(db, db);  // the DB logs exemplars to its WAL before storing them
    return absl::OkStatus();
  }
  void Stop() override {
    p_->api_.Detach();
    if (statsd_) {
      statsd_->Stop();
      statsd_.reset();
    }
  }

 private:
  PushIngest* p_;
  std::function<storage::DB*()> db_;
  std::unique_ptr<ingest::StatsdServer> statsd_;
};

PushIngest::PushIngest(PushIngestConfig cfg, metrics::Registry* registry)
    : cfg_(std::move(cfg)), api_(ApiOptions(cfg_), registry) {}

PushIngest::~PushIngest() = default;

void PushIngest::Register(http::Router* router) { api_.Register(router); }

std::unique_ptr<Service> PushIngest::NewService(std::function<storage::DB*()> db) {
  return std::make_unique<Svc>(this, std::move(db));
}

}  // namespace vigil::cmd
