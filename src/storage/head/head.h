// Head: the in-memory part of the storage engine. It holds the most recent samples of
// every active series in open XOR chunks, indexes series by their labels (postings), and
// serves appends and queries. The DB logs every commit to the WAL through a WalLogger
// before the head applies it, replays the WAL into a fresh Head at startup, and
// periodically persists the oldest part of the head into a block and truncates it.
//
// Series identity: the full label set including the reserved `__tenant__` label, hashed
// with the same stable xxHash64 as model::Labels::Hash(). Refs are dense uint64 handed out
// in creation order (replay restores them as logged).
//
// Thread-safety: every public method may be called from any thread. Appenders and
// Queriers follow storage/appender.h and storage/querier.h. Internally: the series maps
// are striped (hash -> series for lookups by labels, ref -> series for ownership), series
// state is guarded by striped mutexes, postings and symbols have their own locks. Lock
// order: hash stripe -> ref stripe -> series lock; postings and symbol locks are leaves.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model/labels.h"
#include "model/matcher.h"
#include "storage/appender.h"
#include "storage/db.h"
#include "storage/head/mem_postings.h"
#include "storage/head/mem_series.h"
#include "storage/head/symbols.h"
#include "storage/querier.h"
#include "storage/wal/records.h"

namespace vigil::storage::head {

inline constexpr std::string_view kTenantLabel = "__tenant__";

// The records the head asks to be logged (labels include `__tenant__`): the WAL's own
// record structs, so the DB encodes them without copying.
using RefSeries = wal::RefSeries;
using RefSample = wal::RefSample;
using RefTombstone = wal::RefTombstone;

// Where commits go before they are applied (the DB wires this to the WAL). A failed Log
// makes the commit fail with nothing applied.
class WalLogger {
 public:
  virtual ~WalLogger() = default;
  virtual absl::Status LogCommit(std::span<const RefSeries> series,
                                 std::span<const RefSample> samples) = 0;
  virtual absl::Status LogTombstones(std::span<const RefTombstone> tombstones) = 0;
};

struct HeadOptions {
  // Chunks are cut at multiples of this (the block range), so blocks never split one.
  int64_t chunk_range_ms = 2LL * 3600 * 1000;
  int max_samples_per_chunk = 120;
  int64_t out_of_order_window_ms = 0;
  Limits limits;
  TenantLimits tenant_limits;  // replace `limits` for the tenants named
  // Not owned; null means nothing is logged (tests, or replay into a fresh head).
  WalLogger* wal = nullptr;
};

struct HeadStats {
  int64_t series = 0;
  int64_t chunks = 0;
  int64_t min_time = model::kMaxTime;  // kMaxTime / kMinTime when empty
  int64_t max_time = model::kMinTime;
  int64_t samples_appended = 0;
  int64_t series_created = 0;
  int64_t series_removed = 0;
  int64_t samples_rejected[8] = {};
};

// One series' data in a time range, as captured under its lock. Used by queriers and by
// block writing; independent of the head afterwards: completed chunks are shared (they are
// immutable), the open chunk, which appends keep changing, is copied into `open`.
struct SeriesData {
  Ref ref = 0;
  model::Labels labels;                                   // with __tenant__
  // In time order, disjoint. A series in a query's range typically has one to three
  // (a chunk holds 120 samples), so they are kept inline.
  absl::InlinedVector<HeadChunk, 3> chunks;
  std::string open;  // the open chunk's bytes, if captured: its entry's `chunk` is null
  std::vector<model::Sample> ooo;                          // sorted, within the range
  std::vector<Interval> tombstones;
  int64_t mint = model::kMinTime;
  int64_t maxt = model::kMaxTime;

  chunkenc::Encoding Encoding(const HeadChunk& c) const {
    return c.chunk ? c.chunk->encoding() : chunkenc::Encoding::kXor;
  }
  std::string_view Bytes(const HeadChunk& c) const {
    return c.chunk ? c.chunk->bytes() : std::string_view(open);
  }
};

// Iterates the samples of a SeriesData within [mint, maxt], merging the out-of-order
// buffer and skipping tombstoned ranges. Keeps `data` alive.
std::unique_ptr<storage::SampleIterator> NewSeriesIterator(std::shared_ptr<const SeriesData> data);

class Head {
 public:
  explicit Head(HeadOptions opts);
  ~Head();
  Head(const Head&) = delete;
  Head& operator=(const Head&) = delete;

  std::unique_ptr<storage::Appender> NewAppender(std::string_view tenant);
  // A querier over the head for `tenant` (labels returned without __tenant__).
  std::unique_ptr<storage::Querier> NewQuerier(std::string_view tenant, int64_t mint,
                                               int64_t maxt);

  // Refs of the series matching all `matchers` (the tenant matcher included by the
  // caller when wanted), sorted by ref.
  RefList Postings(const model::Matchers& matchers) const;
  // Captures the data of `ref` in [mint, maxt]; false if the series is gone.
  bool Capture(Ref ref, int64_t mint, int64_t maxt, SeriesData* out) const;
  // Every series with data in [mint, maxt], sorted by labels (with __tenant__), for
  // writing a block. Tombstones are applied by the iterator.
  std::vector<std::shared_ptr<const SeriesData>> SeriesInRange(int64_t mint, int64_t maxt) const;

  // Adds tombstones for matching series in [mint, maxt]; logs them first.
  absl::Status Delete(std::string_view tenant, int64_t mint, int64_t maxt,
                      const model::Matchers& matchers);

  // Drops everything before `t` (already persisted in a block), refuses new samples
  // older than it (kTooOld), and garbage-collects series left empty. Returns the number
  // of series removed.
  int64_t Truncate(int64_t t);
  int64_t min_valid_time() const { return min_valid_time_.load(std::memory_order_acquire); }

  // Replay entry points (no logging, no limits, no order errors reported). Single-threaded,
  // before the head is used; EndReplay frees the replay index.
  void ReplaySeries(Ref ref, const model::Labels& labels);
  // Applies a batch of samples; returns how many referred to unknown series.
  int64_t ReplaySamples(std::span<const RefSample> samples);
  // The same in two steps, so that replay can apply samples on several threads while one
  // thread reads the log. ResolveReplay (on the replay thread, like ReplaySeries) maps the
  // samples' refs to their series and appends each sample to out[shard], where the shard
  // depends only on the series, so all samples of a series land in one shard in log order;
  // it returns how many referred to unknown series. ApplyReplay may then run concurrently
  // for different shards (and with ReplaySeries and ReplayTombstone), each shard's batches
  // in the order resolved.
  struct ReplayTarget {
    MemSeries* series;
    int64_t t;
    double v;
  };
  int64_t ResolveReplay(std::span<const RefSample> samples,
                        std::span<std::vector<ReplayTarget>> out) const;
  void ApplyReplay(std::span<const ReplayTarget> samples);
  void ReplayTombstone(Ref ref, int64_t mint, int64_t maxt);
  void EndReplay() { std::vector<MemSeries*>().swap(replay_index_); }
  // The tenant and labels (without __tenant__) of the series replayed as `ref`, for the
  // WAL's exemplar records; false if no series record gave that ref. Replay thread only.
  bool ReplayLabels(Ref ref, std::string* tenant, model::Labels* labels) const;
  // Refs of live series, for WAL checkpoints (keep the series records of these).
  bool SeriesExists(Ref ref) const;

  // The series `labels` (sorted, without __tenant__) of `tenant` as the WAL knows it: its
  // ref and, if its series record is not logged yet, that record. Exemplars are logged by
  // ref, so the DB looks their series up here; nullopt if the head has no such series.
  struct LoggedSeries {
    Ref ref = 0;
    std::optional<RefSeries> unlogged;  // the series record to log first, labels with tenant
  };
  std::optional<LoggedSeries> FindSeries(std::string_view tenant, const model::Labels& labels);
  Ref last_ref() const { return next_ref_.load() - 1; }

  int64_t MinTime() const;  // kMaxTime if empty
  int64_t MaxTime() const;  // kMinTime if empty
  HeadStats Stats() const;
  // Cardinality report for one tenant (empty tenant = all), top `limit` of each list.
  TsdbStatus Status(std::string_view tenant, int limit) const;
  // Approximate resident bytes of series, chunks, postings and symbols.
  size_t MemoryBytes() const;

  // Re-encodes the chunks completed since the last call with the block codec when that is
  // smaller (typically 3-5x for node_exporter-like data), off the append path. Returns the
  // bytes saved. The DB calls it from its background loop.
  int64_t RecodeChunks();

  const HeadOptions& options() const { return opts_; }

  // Replaces the limits checked when a series is created (options().limits keeps the
  // values given at construction).
  void SetLimits(const Limits& defaults, const TenantLimits& per_tenant);
  // Active series per tenant, sorted by tenant.
  std::vector<std::pair<std::string, int64_t>> SeriesByTenant() const;

 private:
  friend class HeadAppender;
  friend class HeadQuerier;
  friend class HeadSeriesSet;

  static constexpr size_t kStripes = 1024;
  static constexpr size_t kLockStripes = 4096;

  struct HashStripe {
    std::mutex mu;
    absl::flat_hash_map<uint64_t, MemSeries*> by_hash;  // chain via next_in_bucket
  };
  struct RefStripe {
    mutable std::mutex mu;
    absl::flat_hash_map<Ref, std::unique_ptr<MemSeries>> by_ref;
  };
  struct TenantCounts {
    int64_t series = 0;
    absl::flat_hash_map<std::string, int64_t> by_metric;
  };

  // Ref -> series without locks, for the append path (refs are dense, so this is a two-level
  // array rather than a hash map, and a lookup costs two dependent loads instead of a
  // stripe lock plus a hash probe). Slots are set when a series is created and cleared by
  // garbage collection while it holds the series' lock, so a reader that loads a pointer
  // and then, under the series lock, finds the slot unchanged knows the series is alive;
  // it never dereferences a pointer it has not re-checked that way. Blocks of slots are
  // allocated on demand and live as long as the Head. Refs past the capacity are simply
  // not indexed (lookups return null and callers take the locked path).
  class RefIndex {
   public:
    RefIndex();
    ~RefIndex();
    MemSeries* Load(Ref ref) const {
      const uint64_t b = ref >> kBlockBits;
      if (b >= kMaxBlocks) return nullptr;
      const std::atomic<MemSeries*>* blk = blocks_[b].load(std::memory_order_acquire);
      if (blk == nullptr) return nullptr;
      return blk[ref & kBlockMask].load(std::memory_order_acquire);
    }
    void Store(Ref ref, MemSeries* s);
    // Clears the slot of `ref` if it still holds `s`.
    void Clear(Ref ref, const MemSeries* s);

   private:
    static constexpr int kBlockBits = 14;
    static constexpr uint64_t kBlockSize = uint64_t{1} << kBlockBits;
    static constexpr uint64_t kBlockMask = kBlockSize - 1;
    static constexpr uint64_t kMaxBlocks = uint64_t{1} << 14;  // 268M refs
    std::mutex mu_;  // serializes block allocation
    std::unique_ptr<std::atomic<std::atomic<MemSeries*>*>[]> blocks_;
  };

  std::mutex& SeriesLock(Ref ref) const { return series_locks_[ref & (kLockStripes - 1)]; }
  HashStripe& HashStripeFor(uint64_t hash) { return hash_stripes_[hash & (kStripes - 1)]; }
  RefStripe& RefStripeFor(Ref ref) const { return ref_stripes_[ref & (kStripes - 1)]; }

  // True if series `s` has exactly `labels` (sorted, with the tenant pair).
  bool LabelsEqual(const MemSeries& s, std::span<const std::pair<std::string_view, std::string_view>> labels) const;
  model::Labels LabelsOf(const MemSeries& s, bool strip_tenant) const;
  // The same into `out`, reusing its strings' buffers. With `assigned`, which holds the
  // symbols (name, value, name, ...) `out`'s strings were last assigned from and is kept
  // beside `out` by the caller (same strip_tenant each time), strings whose symbol is
  // unchanged are not copied again: series visited in labels order mostly share names
  // and many values. The symbols in `assigned` must still be referenced (the series they
  // came from pinned), so that an id still names the same string.
  void AssignLabels(const MemSeries& s, bool strip_tenant, model::Labels* out,
                    std::vector<SymbolId>* assigned = nullptr) const;
  // Capture's samples part for a series the caller keeps alive (by a pin or the ref
  // stripe lock): takes the series lock; leaves out->labels alone.
  bool CaptureSamples(const MemSeries& s, int64_t mint, int64_t maxt, SeriesData* out) const;
  // The newest sample of `s` for a Select hinted newest_only, read under the series lock
  // without touching its chunks. kUnknown when the cheap answer may be wrong (the newest
  // sample is after `maxt`, tombstones, no in-order chunk): the caller captures instead.
  enum class Newest { kFound, kNone, kUnknown };
  Newest NewestSample(const MemSeries& s, int64_t mint, int64_t maxt, model::Sample* out) const;
  // Sorts `series` in labels order (as model::Labels' operator<), ignoring the tenant label
  // (`tenant_name` is its symbol). The caller keeps the series alive (pinned).
  void SortByLabels(std::vector<MemSeries*>* series, SymbolId tenant_name) const;

  // Finds or creates the series with `labels` (sorted pairs including the tenant). On
  // creation checks limits unless `check_limits` is false; `ref` forces the ref (replay).
  // The returned series has `pending` incremented if `pin` is true.
  absl::StatusOr<MemSeries*> GetOrCreate(
      std::span<const std::pair<std::string_view, std::string_view>> labels, uint64_t hash,
      std::string_view tenant, bool check_limits, Ref forced_ref, bool pin, bool* created);
  // Looks up by ref and pins (pending++) the series; null if unknown.
  MemSeries* PinByRef(Ref ref) const;
  // PinByRef for each of `refs`, appending the series found to `out`: through the
  // lock-free index where it has them, a few refs ahead of the series it pins.
  void PinAll(std::span<const Ref> refs, std::vector<MemSeries*>* out) const;
  // The append path's lookup: finds `ref` through the lock-free index and, under one
  // acquisition of its series lock, pins it and classifies (t, v) against it (see
  // MemSeries::Check). Null if the ref is not indexed or the series is gone.
  MemSeries* PinAndCheck(Ref ref, int64_t t, double v, AppendCheck* check, Reject* reject,
                         int64_t* last_t, AppendHints* hints);
  // Prefetches what PinAndCheck will touch. The series may be freed meanwhile: a prefetch
  // of a stale address is harmless, and nothing is dereferenced.
  void PrefetchSeries(Ref ref) const {
    const MemSeries* s = ref_index_.Load(ref);
    if (s != nullptr) {
      __builtin_prefetch(s);
      __builtin_prefetch(reinterpret_cast<const char*>(s) + 64);
    }
    __builtin_prefetch(&SeriesLock(ref));
  }
  void Unpin(MemSeries* s) const { s->pending.fetch_sub(1, std::memory_order_acq_rel); }

  absl::Status CheckLimits(std::string_view tenant, std::string_view metric);
  void UpdateTimeBounds(int64_t t);
  void CountReject(Reject r) { rejected_[static_cast<int>(r)].fetch_add(1, std::memory_order_relaxed); }

  const HeadOptions opts_;
  SymbolTable symbols_;
  MemPostings postings_;
  std::unique_ptr<HashStripe[]> hash_stripes_;
  std::unique_ptr<RefStripe[]> ref_stripes_;
  std::unique_ptr<std::mutex[]> series_locks_;
  RefIndex ref_index_;
  std::atomic<Ref> next_ref_{1};

  mutable std::mutex limits_mu_;
  absl::flat_hash_map<std::string, TenantCounts> tenants_;
  Limits limits_;               // guarded by limits_mu_
  TenantLimits tenant_limits_;  // guarded by limits_mu_

  std::atomic<int64_t> min_valid_time_{model::kMinTime};
  std::atomic<int64_t> min_time_{model::kMaxTime};
  std::atomic<int64_t> max_time_{model::kMinTime};

  std::atomic<int64_t> num_series_{0};
  std::atomic<int64_t> num_chunks_{0};
  std::atomic<int64_t> samples_appended_{0};
  std::atomic<int64_t> series_created_{0};
  std::atomic<int64_t> series_removed_{0};
  std::array<std::atomic<int64_t>, 8> rejected_{};

  // Series that completed a chunk since the last RecodeChunks.
  std::mutex recode_mu_;
  std::vector<Ref> recode_queue_;
  void QueueRecode(std::span<const Ref> refs) {
    std::lock_guard lock(recode_mu_);
    recode_queue_.insert(recode_queue_.end(), refs.begin(), refs.end());
  }

  // Ref -> series during replay (refs are dense, so a vector beats the striped maps on
  // the hot loop; a series logged twice under different refs has both slots pointing to
  // the live one). Written and read only by the single replay thread, before the head
  // serves anything; cleared by EndReplay.
  std::vector<MemSeries*> replay_index_;
};

}  // namespace vigil::storage::head
