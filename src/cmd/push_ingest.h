// The push-ingestion role of `vigil server`: the HTTP push endpoints (http/ingest_api.h)
// and the StatsD UDP listener (ingest/statsd_server.h), with their flags.
//
//   --statsd.listen-address   UDP host:port for StatsD/DogStatsD; empty (the default)
//                             keeps it off, because a metrics database should not open a
//                             UDP port nobody asked for. 127.0.0.1:9125 is the port
//                             statsd_exporter users expect.
//   --statsd.flush-interval   how often the aggregate is written (default 10s)
//   --statsd.observer         timers/histograms as "summary" (default) or "histogram"
//   --ingest.rate-limit       samples/s per tenant over all push endpoints; 0 = none
//   --ingest.rate-limit-burst samples a quiet tenant may send at once (default: 1s worth)
//   --ingest.max-inflight-bytes  request bytes being decoded at once before new push
//                             requests get 429 (default 512MB)
//
// Thread-safety: built and driven by main's thread; see the components for the rest.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "base/metrics.h"
#include "cmd/service.h"
#include "http/ingest_api.h"
#include "ingest/statsd_server.h"
#include "storage/db.h"

namespace vigil::cmd {

struct PushIngestConfig {
  std::string statsd_listen_address;  // empty: off
  int64_t statsd_flush_interval_ms = 10'000;
  bool statsd_histograms = false;
  double rate_limit = 0;
  double rate_limit_burst = 0;
  int64_t max_inflight_bytes = 512ll << 20;
};

// The flags as CLI11 reads them, turned into a PushIngestConfig by Resolve().
struct PushIngestFlags {
  std::string statsd_listen_address;
  std::string statsd_flush_interval = "10s";
  std::string statsd_observer = "summary";
  double rate_limit = 0;
  double rate_limit_burst = 0;
  std::string max_inflight_bytes = "512MB";

  void Add(CLI::App* server);
  // Fails with "invalid value ... for --flag: why".
  absl::Status Resolve(PushIngestConfig* out) const;
};

class PushIngest {
 public:
  PushIngest(PushIngestConfig cfg, metrics::Registry* registry);
  ~PushIngest();

  void Register(http::Router* router);
  // The push endpoints (for their limits and guards, shared with remote_write).
  http::IngestApi* api() { return &api_; }
  // A service that, once storage is open, attaches it to the push endpoints and starts
  // the StatsD listener; Stop stops the listener (after a last flush) and detaches.
  // `db` is asked at Start time.
  std::unique_ptr<Service> NewService(std::function<storage::DB*()> db);
  // The store behind /api/v1/metadata, which remote_write and scrapes feed too.
  ingest::MetadataStore* metadata() { return api_.metadata(); }

 private:
  class Svc;
  const PushIngestConfig cfg_;
  http::IngestApi api_;
};

}  // namespace vigil::cmd
