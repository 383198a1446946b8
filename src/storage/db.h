// DB: the storage engine. Owns the head (recent data in memory, logged to the WAL), the
// immutable on-disk blocks, and the background work that turns one into the other:
// persisting the head into 2h blocks, compacting blocks, enforcing retention.
//
// Layout of the data directory (docs/format/README.md has the byte-level specs):
//   <path>/lock                  held while a DB is open (a second process fails to open)
//   <path>/wal/00000001 ...      WAL segments (docs/format/wal.md)
//   <path>/<ULID>/               one block: meta.json, index, chunks/000001..., tombstones
//   <path>/snapshots/<name>/     backups made by Snapshot()
//
// Thread-safety: every method may be called from any thread. Appenders and Queriers from
// NewAppender/NewQuerier follow their own headers' rules. Close() must be the last call.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/matcher.h"
#include "storage/appender.h"
#include "storage/exemplars.h"
#include "storage/querier.h"

namespace vigil::fs {
class FileSystem;
}

namespace vigil::storage {

enum class WalSync {
  kAlways,   // fsync before Commit returns: an acknowledged write survives power loss
  kGrouped,  // fsync every wal_sync_interval_ms: Commit returns after write(2)
};

struct Limits {
  // Active (head) series per tenant; 0 = unlimited.
  int64_t max_series_per_tenant = 0;
  // Active (head) series per metric name within a tenant; 0 = unlimited.
  int64_t max_series_per_metric = 0;

  bool operator==(const Limits&) const = default;
};

// Limits of named tenants; they replace Options::limits for those tenants.
using TenantLimits = std::map<std::string, Limits, std::less<>>;

struct Options {
  std::string path = "data";
  // Filesystem seam; nullptr means the real one (fs::Posix()).
  fs::FileSystem* fs = nullptr;

  int64_t retention_ms = 15LL * 24 * 3600 * 1000;  // 0 = keep forever
  int64_t retention_bytes = 0;                      // 0 = no size limit

  WalSync wal_sync = WalSync::kGrouped;
  int64_t wal_sync_interval_ms = 100;
  int64_t wal_segment_bytes = 128LL << 20;

  // The head is cut into a block once it spans 1.5x this; blocks cover this much time.
  int64_t block_range_ms = 2LL * 3600 * 1000;
  // Samples up to this much older than a series' newest are accepted (0 = in order only).
  int64_t out_of_order_window_ms = 0;

  Limits limits;
  TenantLimits tenant_limits;

  // Run compaction/retention on a background thread. Tests turn it off and call Compact().
  bool background_compaction = true;

  // Where exemplars are kept (not owned; must outlive the DB). The DB's AppendExemplar
  // logs each exemplar this store will keep to the WAL and then appends it here, and Open
  // replays the WAL's exemplars into it. nullptr: AppendExemplar refuses every exemplar.
  ExemplarStore* exemplars = nullptr;
};

// Counters and gauges for Vigil's own /metrics. Read with DB::GetStats().
struct Stats {
  int64_t head_series = 0;
  int64_t head_chunks = 0;
  int64_t head_min_time = 0;
  int64_t head_max_time = 0;
  int64_t samples_appended = 0;
  int64_t series_created = 0;
  int64_t series_removed = 0;
  // Refused samples by Reject reason (index = static_cast<int>(Reject)).
  int64_t samples_rejected[8] = {};
  int64_t wal_bytes = 0;
  int64_t wal_segments = 0;
  int64_t wal_fsyncs = 0;
  int64_t wal_corruptions_repaired = 0;
  int64_t blocks = 0;
  int64_t blocks_bytes = 0;
  int64_t head_persisted = 0;  // head -> block cuts
  int64_t compactions = 0;
  int64_t compactions_failed = 0;
  int64_t retention_deleted_blocks = 0;
  int64_t oldest_block_min_time = 0;
};

// What /api/v1/status/tsdb reports, as Prometheus does.
struct TsdbStatus {
  struct Count {
    std::string name;
    int64_t value;
  };
  int64_t num_series = 0;
  int64_t num_label_pairs = 0;
  int64_t chunk_count = 0;
  int64_t min_time = 0;
  int64_t max_time = 0;
  std::vector<Count> series_count_by_metric_name;
  std::vector<Count> label_value_count_by_label_name;
  std::vector<Count> memory_in_bytes_by_label_name;
  std::vector<Count> series_count_by_label_value_pair;
};

// As an ExemplarAppendable, the DB stores exemplars of series that are in the head (a
// sample of theirs was committed first, as Prometheus requires); an exemplar of a series
// the head does not have is refused with FailedPrecondition. An exemplar is logged before
// it is stored, so one whose append returned OK survives a restart.
class DB : public Appendable, public Queryable, public ExemplarAppendable {
 public:
  // Opens (creating if needed) the data directory, takes its lock, loads the blocks and
  // replays the WAL into the head. A torn or corrupt WAL tail is truncated and logged.
  static absl::StatusOr<std::unique_ptr<DB>> Open(const Options& opts);

  ~DB() override;

  // Appendable / Queryable.
  std::unique_ptr<Appender> NewAppender(std::string_view tenant) override = 0;
  absl::StatusOr<std::unique_ptr<Querier>> NewQuerier(std::string_view tenant, int64_t mint,
                                                      int64_t maxt) override = 0;

  // Deletes samples of series matching `matchers` in [mint, maxt] (tombstones; the space
  // is reclaimed by compaction or CleanTombstones).
  virtual absl::Status Delete(std::string_view tenant, int64_t mint, int64_t maxt,
                              const model::Matchers& matchers) = 0;
  // Rewrites blocks that have tombstones without the deleted data.
  virtual absl::Status CleanTombstones() = 0;
  // Writes every block (and the head as a block unless skip_head) into
  // <path>/snapshots/<name>/ using hard links where possible; returns <name>.
  virtual absl::StatusOr<std::string> Snapshot(bool skip_head) = 0;
  // Runs one round of background work now: persist the head if it is due, compact, apply
  // retention. Safe to call while the background thread runs.
  virtual absl::Status Compact() = 0;
  // Persists the whole head into blocks now, whatever its span (for tests and shutdown
  // tools); the WAL is truncated accordingly.
  virtual absl::Status FlushHead() = 0;

  virtual Stats GetStats() const = 0;
  virtual TsdbStatus GetTsdbStatus(std::string_view tenant, int limit) const = 0;

  // Replaces the cardinality limits while running (config reload). Series beyond a lowered
  // limit stay and keep receiving samples; only new series are refused.
  virtual void SetLimits(const Limits& defaults, const TenantLimits& per_tenant) = 0;
  // Active (head) series of each tenant that has any, for Vigil's own /metrics.
  virtual std::vector<std::pair<std::string, int64_t>> HeadSeriesByTenant() const = 0;

  // Stops background work, syncs and closes the WAL, releases the lock. Idempotent.
  virtual absl::Status Close() = 0;
};

}  // namespace vigil::storage
