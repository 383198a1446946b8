// Manager: scrapes every target of every scrape config and appends the samples through
// ingest's BatchWriter (the same validation and counters as pushed data) into a
// storage::Appendable.
//
// One event-loop thread drives all scrapes with libcurl's multi interface, so thousands of
// targets need no thread each and a slow or hanging target only holds its own connection
// until its scrape_timeout. Each target is scraped every interval at a fixed offset
// within the interval taken from the hash of its identity, so a fleet's scrapes are spread
// evenly rather than bunched. Parsing and appending happen on a small pool of worker
// threads (ManagerOptions::append_threads) once a body is complete, so a large fleet's
// parsing uses every core while the loop keeps moving bytes; a target stays "in flight"
// until its worker is done, so one target never has two scrapes at once.
//
// Per scrape, as Prometheus does:
//   - Accept negotiates OpenMetrics 1.0 / 0.0.1 and the text format 0.0.4; gzip is
//     accepted; body_size_limit caps the decoded body;
//   - target labels are attached (honor_labels: scraped labels win; otherwise a clashing
//     scraped label is kept as exported_<name>), then metric_relabel_configs run;
//   - honor_timestamps: false ignores the exposed timestamps;
//   - exemplars of an OpenMetrics scrape are stored (ManagerOptions::exemplars) after its
//     samples, with the sample's timestamp when they carry none;
//   - tls_config.server_name is the name sent in SNI and checked in the certificate,
//     while the connection still goes to the target's address (libcurl's CONNECT_TO) and
//     the Host header stays the target's;
//   - sample_limit / label_limit / label_*_length_limit failures fail the whole scrape:
//     nothing of it is stored, `up` is 0;
//   - the report series up, scrape_duration_seconds, scrape_samples_scraped,
//     scrape_samples_post_metric_relabeling and scrape_series_added are written at the
//     scrape's start time;
//   - a series present in the previous scrape (without an explicit timestamp) and absent
//     from this one, every series after a failed scrape, and every series and report
//     series of a target that goes away get a staleness marker (StaleNaN).
// Reload (ApplyConfig) keeps the state of targets whose identity (labels and URL) and
// job config are unchanged; their scrape caches, staleness state and health survive.
//
// Thread-safety: all public methods are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "base/metrics.h"
#include "ingest/decoded.h"
#include "ingest/writer.h"
#include "model/labels.h"
#include "scrape/config.h"
#include "scrape/target.h"
#include "storage/appender.h"
#include "storage/exemplars.h"

namespace vigil::scrape {

namespace discovery {
class DiscoveryManager;
}

struct ManagerOptions {
  std::string tenant = std::string(storage::kDefaultTenant);
  // How often discovery providers are checked for changes.
  int64_t discovery_poll_ms = 5000;
  std::string user_agent = "Vigil";
  // Wall clock in milliseconds (sample timestamps and scheduling); tests replace it.
  std::function<int64_t()> now_ms;
  // Threads that parse and append finished scrapes (0: one per core, at most 8). The
  // libcurl loop itself runs on one more thread.
  int append_threads = 0;
  // Where exemplars of OpenMetrics scrapes go; nullptr drops them. Must outlive the
  // manager.
  storage::ExemplarAppendable* exemplars = nullptr;
  // Receives a target's metric metadata (HELP, TYPE, UNIT) when it differs from what the
  // target's previous successful scrape exposed, e.g. for /api/v1/metadata.
  std::function<void(std::string_view tenant, const std::vector<ingest::MetricMetadata>& md)>
      on_metadata;
};

// What /api/v1/targets shows for one active target.
struct TargetStatus {
  std::string scrape_pool;
  std::string scrape_url;
  model::Labels labels;
  model::Labels discovered_labels;
  std::string health = "unknown";  // "up", "down" or "unknown" (not scraped yet)
  std::string last_error;
  int64_t last_scrape_ms = 0;  // wall clock; 0: never
  double last_scrape_duration_s = 0;
  int64_t interval_ms = 0;
  int64_t timeout_ms = 0;
};

struct DroppedTargetStatus {
  std::string scrape_pool;
  model::Labels discovered_labels;
};

// One metric's metadata as a target exposed it in its last successful scrape.
struct MetricMetadata {
  std::string type;  // "counter", "gauge", ... ("unknown" when not given)
  std::string help;
  std::string unit;
  friend bool operator==(const MetricMetadata&, const MetricMetadata&) = default;
};

struct TargetMetadata {
  model::Labels target;
  std::map<std::string, MetricMetadata> metrics;
};

// Counters about the scraper itself (nullptr registry: not counted).
struct ScrapeMetrics;

class Manager {
 public:
  // `db` and `ingest_metrics` must outlive the manager. `registry` may be nullptr.
  Manager(storage::Appendable* db, ingest::IngestMetrics* ingest_metrics,
          metrics::Registry* registry, ManagerOptions opts = {});
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Replaces the scrape configs. Safe before or after Start.
  void ApplyConfig(const std::vector<ScrapeConfig>& cfgs);

  absl::Status Start();
  // Stops discovery and the loop; targets still running get their staleness markers.
  void Stop();

  std::vector<TargetStatus> ActiveTargets() const;
  std::vector<DroppedTargetStatus> DroppedTargets() const;
  std::vector<TargetMetadata> Metadata() const;

  // Replaces a job's discovered groups (the discovery callback; also used by tests).
  void UpdateGroups(const std::string& job, std::vector<TargetGroup> groups);

  // Counters for tests and the benchmark.
  int64_t scrapes_total() const;
  int64_t scrapes_missed() const;

 private:
  struct Target;
  struct Pool;
  class Loop;

  storage::Appendable* const db_;
  ingest::IngestMetrics* const ingest_metrics_;
  const ManagerOptions opts_;
  std::unique_ptr<ScrapeMetrics> metrics_;
  std::unique_ptr<Loop> loop_;
  std::unique_ptr<discovery::DiscoveryManager> discovery_;
};

}  // namespace vigil::scrape
