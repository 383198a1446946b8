// Collectors for Vigil's own /metrics beyond the counters components keep themselves:
//   - process_*: CPU seconds, resident and virtual memory, start time, open and max fds,
//     read from /proc/self at scrape time (the names Prometheus client libraries use);
//   - storage: DB::GetStats() as vigil_tsdb_* series, plus the prometheus_tsdb_* names
//     dashboards and the benchmark read where the meaning carries over.
//
// Thread-safety: the collectors run on the scraping thread; DB::GetStats is thread-safe.
#pragma once

#include "base/metrics.h"
#include "storage/db.h"

namespace vigil::http {

// Adds the process collector to `registry`; returns its id for RemoveCollector.
int AddProcessCollector(metrics::Registry* registry);

// Adds the storage collector; `db` must outlive the collector (remove it before closing).
int AddStorageCollector(metrics::Registry* registry, const storage::DB* db);

}  // namespace vigil::http
