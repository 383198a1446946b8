// Block: one immutable, persisted time range of series (a directory, docs/format/block.md).
//
// Open maps the index and chunk segment files through the FileSystem (memory-mapped by
// fs::Posix()), verifies the index checksums, and reads meta.json and tombstones. Reads
// never copy the files into the heap: chunk bytes are decoded straight from the mapping,
// and each chunk's CRC32C is checked when it is read.
//
// A Querier over a block sees one tenant: it adds the matcher __tenant__="<tenant>" and
// strips __tenant__ from every label set, name list and value list it returns.
//
// Lifetimes: the Block must outlive every Querier, SeriesSet, iterator and ChunkSeriesSet
// it hands out.
// Thread-safety: all const methods may be called from many threads. Delete may run
// concurrently with reads: readers created before it keep the tombstones they started with.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "fs/file_system.h"
#include "model/matcher.h"
#include "storage/block/chunk_series.h"
#include "storage/block/meta.h"
#include "storage/block/tombstones.h"
#include "storage/chunkenc/chunk.h"
#include "storage/index/index.h"
#include "storage/querier.h"

namespace vigil::storage::block {

inline constexpr std::string_view kTenantLabel = "__tenant__";

// Series ids matching all `matchers`, as Prometheus's PostingsForMatchers: `=` looks up
// one list; `=~` with literal alternatives merges their lists; other regexes scan the
// label's values; matchers that accept the empty string (`!=`, `!~`, `=""`, `=~".*"`...)
// subtract the lists of the values they reject. With no positive matcher it starts from
// every series.
index::PostingsPtr PostingsForMatchers(const index::IndexReader& ir, const model::Matchers& matchers);

class Block {
 public:
  static absl::StatusOr<std::unique_ptr<Block>> Open(fs::FileSystem* fs, const std::string& dir);

  const BlockMeta& meta() const { return meta_; }
  const std::string& dir() const { return dir_; }
  // Bytes of every file of the block.
  uint64_t size_bytes() const { return size_bytes_; }
  const index::IndexReader& index() const { return *index_; }
  std::shared_ptr<const Tombstones> tombstones() const;

  // A Querier for `tenant` over [mint, maxt] (inclusive).
  std::unique_ptr<storage::Querier> Querier(std::string_view tenant, int64_t mint, int64_t maxt) const;

  // Every series of every tenant (labels keep __tenant__) in label order, with tombstoned
  // samples removed (affected series are re-encoded), for compaction.
  std::unique_ptr<ChunkSeriesSet> ChunkSeries() const;

  // Marks samples in [mint, maxt] of `tenant`'s series matching `matchers` as deleted and
  // persists the tombstones file (written to a temp file, fsynced, renamed).
  absl::Status Delete(std::string_view tenant, const model::Matchers& matchers, int64_t mint,
                      int64_t maxt);

  // The encoding and bytes (a view into the mapped segment) of chunk `ref`, CRC-checked.
  absl::StatusOr<std::pair<chunkenc::Encoding, std::string_view>> Chunk(uint64_t ref) const;

 private:
  Block() = default;

  fs::FileSystem* fs_ = nullptr;
  std::string dir_;
  BlockMeta meta_;
  uint64_t size_bytes_ = 0;
  std::unique_ptr<fs::MappedFile> index_file_;
  std::unique_ptr<index::IndexReader> index_;
  std::vector<std::unique_ptr<fs::MappedFile>> segments_;  // segments_[i] is file i+1
  mutable std::mutex mu_;
  std::shared_ptr<const Tombstones> tombstones_;  // guarded by mu_
};

}  // namespace vigil::storage::block
