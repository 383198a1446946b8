// Writing a block: a ChunkSeriesSet in, a new block directory out.
//
// Write re-encodes every series' samples in [mint, maxt) into long kBlock chunks (the
// dense codec of chunkenc/block_codec.h), so a 2-hour block of 15 s scrapes stores one
// chunk of 480 samples per series. Overlapping input chunks are merged by timestamp; on
// equal timestamps the sample from the chunk earlier in the series' list wins. Samples
// outside [mint, maxt) are dropped, and so are series left without samples.
//
// The block is built in `<parent>/<ULID>.tmp`, every file is fsynced, then the directory
// is renamed to `<parent>/<ULID>` and the parent fsynced: a crash leaves either a complete
// block or a `.tmp` directory that Open never reads (and the DB removes on startup).
//
// Thread-safety: Write may run concurrently with anything except another writer of the
// same ChunkSeriesSet.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fs/file_system.h"
#include "storage/block/chunk_series.h"
#include "storage/block/ulid.h"

namespace vigil::storage::block {

struct WriteOptions {
  // Longest chunk the writer makes; longer series are split into equal parts.
  int max_samples_per_chunk = 960;
  // false: keep the head's XOR format (chunks of at most 120 samples). For tests and
  // comparisons; blocks are written with the block codec.
  bool block_codec = true;
  int level = 1;
  std::vector<Ulid> sources;  // empty: the new block's own ULID
};

absl::StatusOr<Ulid> Write(fs::FileSystem* fs, const std::string& parent_dir, ChunkSeriesSet& set,
                           int64_t mint, int64_t maxt, const WriteOptions& opts = {});

}  // namespace vigil::storage::block
