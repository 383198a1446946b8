// DBImpl: the storage::DB implementation, split by concern across db.cc (open, close,
// append, query, stats) and db_compact.cc (head persistence, compaction, retention,
// deletion, snapshots). Internal to src/storage; other modules see only db.h.
//
// Thread-safety: as db.h. `mu_` guards the block list and is held only briefly (queriers
// copy the list of shared_ptr<Block> under it). `compact_mu_` serializes the background
// work (persisting, compacting, retention, tombstone cleaning, snapshots), so at most one
// of them runs at a time whichever thread started it.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fs/file_system.h"
#include "storage/block/block.h"
#include "storage/db.h"
#include "storage/head/head.h"
#include "storage/wal/wal.h"

namespace vigil::storage {

// Encodes the head's commits into WAL records and logs them. Buffers are per thread, so
// concurrent committers encode in parallel without allocating in steady state.
class WalSink final : public head::WalLogger {
 public:
  void set_writer(wal::Writer* w) { writer_.store(w, std::memory_order_release); }
  absl::Status LogCommit(std::span<const head::RefSeries> series,
                         std::span<const head::RefSample> samples) override;
  absl::Status LogTombstones(std::span<const head::RefTombstone> tombstones) override;
  // Logs `series` (records of series not logged yet, may be empty) and `exemplars` in one
  // write, series first, so replay knows every ref an exemplar names.
  absl::Status LogExemplars(std::span<const wal::RefSeries> series,
                            std::span<const wal::RefExemplar> exemplars);

 private:
  std::atomic<wal::Writer*> writer_{nullptr};
};

// A loaded block plus what it takes to delete it safely: queriers hold shared_ptrs to the
// handle, and a block dropped by compaction or retention is removed from disk only when
// the last of them lets go.
struct BlockHandle {
  ~BlockHandle();
  fs::FileSystem* fs = nullptr;
  std::unique_ptr<block::Block> block;
  std::atomic<bool> remove_on_release{false};
};

class DBImpl final : public DB {
 public:
  explicit DBImpl(const Options& opts);
  ~DBImpl() override;

  absl::Status OpenInternal();

  std::unique_ptr<Appender> NewAppender(std::string_view tenant) override;
  absl::StatusOr<std::unique_ptr<Querier>> NewQuerier(std::string_view tenant, int64_t mint,
                                                      int64_t maxt) override;
  absl::Status Delete(std::string_view tenant, int64_t mint, int64_t maxt,
                      const model::Matchers& matchers) override;
  absl::Status CleanTombstones() override;
  absl::StatusOr<std::string> Snapshot(bool skip_head) override;
  absl::Status Compact() override;
  absl::Status FlushHead() override;
  Stats GetStats() const override;
  TsdbStatus GetTsdbStatus(std::string_view tenant, int limit) const override;
  void SetLimits(const Limits& defaults, const TenantLimits& per_tenant) override;
  std::vector<std::pair<std::string, int64_t>> HeadSeriesByTenant() const override;
  absl::Status Close() override;
  absl::Status AppendExemplar(std::string_view tenant, const model::Labels& series,
                              const Exemplar& e) override;
  void AppendExemplars(std::string_view tenant, std::span<const SeriesExemplar> batch,
                       std::span<absl::Status> results) override;

 private:
  friend class DBQuerier;

  std::string WalDir() const;
  absl::Status ReplayWal();
  // Appends replayed exemplars to opts_.exemplars; returns how many it could not restore.
  int64_t ReplayExemplars(std::span<const wal::RefExemplar> exemplars);
  void BackgroundLoop();

  // db_compact.cc
  absl::Status LoadBlocks();
  // Persists head data in [mint, maxt] into a block, then truncates the head and the WAL.
  absl::Status PersistHeadRange(int64_t mint, int64_t maxt);
  absl::Status PersistDueHeadLocked();
  absl::Status CompactBlocksLocked();
  absl::Status ApplyRetentionLocked();
  absl::Status TruncateWal(int64_t min_time);
  void FillBlockStats(Stats* s) const;
  std::vector<std::shared_ptr<BlockHandle>> Blocks() const;
  static void SortBlocks(std::vector<std::shared_ptr<BlockHandle>>* blocks);
  void SwapBlocks(const std::vector<std::shared_ptr<BlockHandle>>& old,
                  std::vector<std::shared_ptr<BlockHandle>> added);
  absl::StatusOr<std::shared_ptr<BlockHandle>> OpenBlock(const block::Ulid& id);
  std::vector<int64_t> CompactionRanges() const;
  absl::Status LinkTree(const std::string& from, const std::string& to);
  void CloseBlocks();

  const Options opts_;
  fs::FileSystem* fs_;
  std::unique_ptr<fs::FileLock> lock_;
  WalSink sink_;
  std::unique_ptr<wal::Writer> wal_;
  std::unique_ptr<head::Head> head_;

  mutable std::mutex mu_;
  std::vector<std::shared_ptr<BlockHandle>> blocks_;  // sorted by min_time; guarded by mu_
  std::mutex compact_mu_;
  std::mutex close_mu_;
  bool closed_ = false;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  bool bg_stop_ = false;
  std::thread bg_;

  std::atomic<int64_t> wal_corruptions_repaired_{0};
  std::atomic<int64_t> head_persisted_{0};
  std::atomic<int64_t> compactions_{0};
  std::atomic<int64_t> compactions_failed_{0};
  std::atomic<int64_t> retention_deleted_blocks_{0};
};

}  // namespace vigil::storage
