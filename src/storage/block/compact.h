// Compaction: merging blocks into one.
//
// Compact reads every series of the given blocks (tombstoned samples removed), merges
// series with equal labels (chunks merged in time order, samples with equal timestamps
// deduplicated: the block earlier in `blocks` wins), and writes one new block covering the
// union of their time ranges, at level max(levels)+1 with the union of their sources. The
// input blocks are left in place: the caller (the DB) swaps them out and deletes them.
//
// Thread-safety: reads the blocks concurrently with their other readers; do not Delete on
// an input block while it is being compacted (the deletion would not be carried over).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "fs/file_system.h"
#include "storage/block/block.h"
#include "storage/block/ulid.h"
#include "storage/block/writer.h"

namespace vigil::storage::block {

absl::StatusOr<Ulid> Compact(fs::FileSystem* fs, const std::string& dir, const std::vector<Block*>& blocks,
                             WriteOptions opts = {});

// A ChunkSeriesSet merging several sorted sets: equal label sets become one series whose
// chunks are the inputs' chunks, in input order.
std::unique_ptr<ChunkSeriesSet> MergeChunkSeriesSets(std::vector<std::unique_ptr<ChunkSeriesSet>> sets);

}  // namespace vigil::storage::block
