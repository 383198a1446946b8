// ChunkSeriesSet: series with their encoded chunks, the block writer's input.
//
// The head produces one from memory when it persists a time range; a Block produces one
// over its own data for compaction. Series come in ascending label order, each label set
// once, and labels include the reserved `__tenant__` label. A series' chunks are in time
// order; they may overlap (compaction input) — the writer merges them sample by sample.
//
// Lifetimes: the reference returned by At() is valid until the next Next().
// Thread-safety: a ChunkSeriesSet is used by one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "model/labels.h"
#include "storage/chunkenc/chunk.h"

namespace vigil::storage::block {

struct ChunkMeta {
  int64_t mint = 0;  // first sample's timestamp
  int64_t maxt = 0;  // last sample's timestamp (inclusive)
  chunkenc::Encoding encoding = chunkenc::Encoding::kXor;
  std::string bytes;  // the encoded chunk, without the encoding byte
};

struct ChunkSeries {
  model::Labels labels;
  std::vector<ChunkMeta> chunks;
};

class ChunkSeriesSet {
 public:
  virtual ~ChunkSeriesSet() = default;
  virtual bool Next() = 0;
  virtual const ChunkSeries& At() const = 0;
  virtual absl::Status Err() const = 0;
};

// A set over series held in memory. Sorts them by labels (the input may be in any order;
// duplicate label sets are a BUG check).
std::unique_ptr<ChunkSeriesSet> NewVectorChunkSeriesSet(std::vector<ChunkSeries> series);

}  // namespace vigil::storage::block
