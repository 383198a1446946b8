// The block codec (Encoding::kBlock): how persisted blocks store chunks, denser than XOR.
//
// The block writer re-encodes the head's XOR chunks into long kBlock chunks (up to a whole
// block's samples of a series). Encoding is lossless: every float64 comes back bit for bit.
// Timestamps are delta-of-deltas; values that are all exact decimals (n * 10^-e, checked by
// round trip) are stored as integers, transformed by 0, 1 or 2 orders of differences;
// anything else falls back to Gorilla XOR. Each integer sequence is bit-packed either at one
// frame-of-reference width or with per-chunk variable-width buckets, whichever is shorter.
// docs/format/chunks.md has the byte layout.
//
// Thread-safety: EncodeBlockChunk is stateless; a BlockChunk is immutable.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "model/sample.h"
#include "storage/chunkenc/chunk.h"

namespace vigil::storage::chunkenc {

// Encodes 1..kMaxSamplesPerChunk samples (in time order) as kBlock bytes.
absl::StatusOr<std::string> EncodeBlockChunk(std::span<const model::Sample> samples);

// Decodes kBlock bytes in place (borrowed: they must outlive the iterator).
std::unique_ptr<Iterator> NewBlockIterator(std::string_view bytes);

// An immutable kBlock chunk owning its bytes. NewAppender fails: blocks are never appended.
class BlockChunk final : public Chunk {
 public:
  explicit BlockChunk(std::string bytes) : b_(std::move(bytes)) {}
  Encoding encoding() const override { return Encoding::kBlock; }
  std::string_view bytes() const override { return b_; }
  int num_samples() const override;
  absl::StatusOr<std::unique_ptr<Appender>> NewAppender() override;
  std::unique_ptr<Iterator> NewIterator() const override { return NewBlockIterator(b_); }

 private:
  std::string b_;
};

}  // namespace vigil::storage::chunkenc
