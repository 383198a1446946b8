// MetadataStore: the HELP/TYPE/UNIT of metric families seen by ingestion, per tenant,
// served at /api/v1/metadata in Prometheus's shape. Kept in memory only (as Prometheus
// keeps scrape metadata), bounded by `max_entries` per tenant: past it new families are
// not recorded (existing ones still update).
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ingest/decoded.h"

namespace vigil::ingest {

class MetadataStore {
 public:
  explicit MetadataStore(size_t max_entries = 100'000) : max_entries_(max_entries) {}

  void Update(std::string_view tenant, const std::vector<MetricMetadata>& md);

  // Metric name -> its distinct metadata, as /api/v1/metadata answers: `metric` filters to
  // one name (empty: all), `limit` caps the metrics (0: none), `limit_per_metric` the
  // entries per metric (0: none).
  std::map<std::string, std::vector<MetricMetadata>> Get(std::string_view tenant,
                                                         std::string_view metric, int64_t limit,
                                                         int64_t limit_per_metric) const;

 private:
  const size_t max_entries_;
  mutable std::mutex mu_;
  // tenant -> metric -> distinct (type, help, unit)
  std::map<std::string, std::map<std::string, std::set<MetricMetadata>, std::less<>>, std::less<>>
      by_tenant_;
};

}  // namespace vigil::ingest
