// The block index file: which series a block holds, their chunks, and postings to find them.
//
// BuildIndex serializes a block's series (given in label order) into one index file image;
// IndexReader reads such an image in place (typically a memory-mapped file), verifying the
// header, the table of contents and every section's CRC32C on Open, so later lookups can
// only fail on a bad reference inside a section that passed its checksum.
//
// Series are numbered 0..n-1 in label order; those numbers are the ids in postings lists.
// The empty pair ("", "") holds the postings of every series.
//
// Ownership: IndexReader borrows the bytes given to Open; they must outlive it and every
// Postings and string_view it returns.
// Thread-safety: BuildIndex is stateless; a built IndexReader is immutable and may be used
// by many threads.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"
#include "storage/index/postings.h"

namespace vigil::storage::index {

struct ChunkMetaRef {
  int64_t mint = 0;
  int64_t maxt = 0;  // inclusive
  uint64_t ref = 0;  // format::ChunkRef(segment, offset)
  friend bool operator==(const ChunkMetaRef&, const ChunkMetaRef&) = default;
};

struct IndexSeries {
  model::Labels labels;
  std::vector<ChunkMetaRef> chunks;  // in time order
};

// Serializes `series`, which must be sorted by labels with no duplicates (a BUG check).
std::string BuildIndex(const std::vector<IndexSeries>& series);

class IndexReader {
 public:
  // Verifies and indexes `bytes` (borrowed). DataLoss with the failing part on corruption.
  static absl::StatusOr<std::unique_ptr<IndexReader>> Open(std::string_view bytes);

  uint64_t num_series() const { return num_series_; }
  // Series with name=value (empty if the pair does not occur).
  PostingsPtr Postings(std::string_view name, std::string_view value) const;
  // Every series.
  PostingsPtr AllPostings() const { return Postings("", ""); }
  // Sorted label names (never "").
  std::vector<std::string_view> LabelNames() const;
  // Sorted values of `name`.
  std::vector<std::string_view> LabelValues(std::string_view name) const;
  // Decodes series `id`'s labels and chunk metas.
  absl::Status Series(uint64_t id, model::Labels* labels, std::vector<ChunkMetaRef>* chunks) const;

 private:
  IndexReader() = default;
  absl::Status Parse();

  std::string_view b_;
  std::string_view sections_[6];
  std::vector<std::string_view> symbols_;
  uint64_t num_series_ = 0;
  const uint8_t* series_offsets_ = nullptr;  // num_series_ BE64 values
  // name -> sorted (value, offset of its postings in the postings section)
  std::map<std::string_view, std::vector<std::pair<std::string_view, uint64_t>>, std::less<>>
      postings_;
  // name -> sorted values, from the label index section
  std::map<std::string_view, std::vector<std::string_view>, std::less<>> label_values_;
};

}  // namespace vigil::storage::index
