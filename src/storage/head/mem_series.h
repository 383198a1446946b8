// MemSeries: one series in the head: its interned labels, its chunks (completed ones plus
// the open one being appended to), the last sample for order checks, and rarely used
// extras (out-of-order buffer, tombstones) allocated only when needed.
//
// Thread-safety: `ref`, `hash`, `tenant` and `labels` are immutable after creation. Every
// other field is guarded by the series' lock, which the Head hands out (striped mutexes,
// so a series costs no mutex of its own). `pending` and `wal_logged` are atomics touched
// without the lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "model/sample.h"
#include "storage/appender.h"
#include "storage/chunkenc/xor.h"
#include "storage/head/symbols.h"

namespace vigil::storage::head {

// A deleted time range, both ends inclusive.
struct Interval {
  int64_t mint;
  int64_t maxt;
  friend bool operator==(const Interval&, const Interval&) = default;
};

// True if `t` falls in one of `ivs`.
inline bool IsDeleted(const std::vector<Interval>& ivs, int64_t t) {
  for (const auto& iv : ivs) {
    if (t >= iv.mint && t <= iv.maxt) return true;
  }
  return false;
}

struct HeadChunk {
  int64_t mint;
  int64_t maxt;
  // Shared with queriers that captured it; immutable once it is no longer the last
  // chunk of the series. The open (last) chunk is a chunkenc::XorChunk; completed chunks
  // may be re-encoded with the denser block codec by Head::RecodeChunks.
  std::shared_ptr<chunkenc::Chunk> chunk;
};

struct SeriesExtra {
  std::vector<model::Sample> ooo;  // sorted by t, unique t
  std::vector<Interval> tombstones;
};

// Addresses the commit of a sample will touch, read under the series lock at append time
// so that the commit can prefetch them a few samples ahead. Only ever prefetched, never
// dereferenced: they may be stale by then, which costs a wasted prefetch and nothing else.
struct AppendHints {
  const void* appender = nullptr;
  const void* last_chunk = nullptr;
  // The open chunk's bytes: its sample count at the front, and the last byte, which the
  // next sample's bits start in. They live in the chunk's own heap block, two pointers
  // away from the series; without these prefetches they were the misses that stalled a
  // commit most (17% of the server's CPU profile under remote_write load, in the append
  // or, once the tail was prefetched, in the series lock's release, which waits for the
  // count's store).
  const void* open_head = nullptr;
  const void* open_tail = nullptr;
};

// What a sample would do to a series.
enum class AppendCheck { kInOrder, kOutOfOrderAccepted, kNoop, kReject };

class MemSeries {
 public:
  MemSeries(uint64_t ref, uint64_t hash, SymbolId tenant, std::vector<SymbolId> labels)
      : ref(ref), hash(hash), tenant(tenant), labels(std::move(labels)) {}

  const uint64_t ref;
  const uint64_t hash;
  const SymbolId tenant;
  const std::vector<SymbolId> labels;  // name, value, name, value... sorted by name
  MemSeries* next_in_bucket = nullptr;  // hash collision chain, guarded by the hash stripe

  // Appenders holding this series in an uncommitted batch; GC keeps the series while > 0.
  std::atomic<int32_t> pending{0};
  // True once a WAL series record for it is durable in the log.
  std::atomic<bool> wal_logged{false};

  // --- guarded by the series lock ---
  // Samples in the open chunk, kept here (in what would be padding) so the cut check does
  // not have to touch the chunk's bytes: on the append path that is a cache miss.
  uint16_t open_samples = 0;

  // --- guarded by the series lock ---
  std::vector<HeadChunk> chunks;
  std::unique_ptr<chunkenc::Appender> app;  // appends to chunks.back(); null if none open
  int64_t last_t = model::kMinTime;
  double last_v = 0;
  std::unique_ptr<SeriesExtra> extra;

  // Where the open chunk's bytes begin and end after the last Apply (see AppendHints).
  const char* open_head = nullptr;
  const char* open_tail = nullptr;

  // What Apply will touch, for prefetching.
  AppendHints Hints() const {
    return {app.get(), chunks.empty() ? nullptr : &chunks.back(), open_head, open_tail};
  }

  // Classifies (t, v) against the newest sample. `reject` is set for kReject.
  AppendCheck Check(int64_t t, double v, int64_t ooo_window, Reject* reject) const;
  // Applies a sample that Check accepted. Returns true if it was stored (not a no-op or
  // a rejection found now, e.g. another appender got there first).
  bool Apply(int64_t t, double v, int64_t ooo_window, int64_t chunk_range, int max_samples,
             Reject* reject, bool* new_chunk);

  int64_t MinTime() const;  // kMaxTime if empty
  int64_t MaxTime() const;  // kMinTime if empty
  bool Empty() const { return chunks.empty() && (!extra || extra->ooo.empty()); }
  // Drops chunks and OOO samples entirely before `t`. Returns the chunks dropped.
  int Truncate(int64_t t);
  // Approximate resident bytes (for status pages and memory tests).
  size_t MemoryBytes() const;
};

}  // namespace vigil::storage::head
