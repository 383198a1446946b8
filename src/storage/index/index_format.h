// Byte-level constants of the block index file (docs/format/index.md is the prose spec).
//
// Thread-safety: constants only.
#pragma once

#include <cstdint>

namespace vigil::storage::index::format {

inline constexpr uint32_t kMagic = 0x56494458;  // "VIDX"
inline constexpr uint8_t kVersion1 = 1;
inline constexpr int kHeaderSize = 5;  // magic + version

// Sections, in file order. Each is: uint32 BE body length, body, uint32 BE CRC32C(body).
enum Section : int {
  kSymbols = 0,         // uvarint count, then count uvarint-length strings, ascending
  kSeries = 1,          // series entries back to back (labels as symbol refs, chunk metas)
  kSeriesOffsets = 2,   // uvarint count, then count uint64 BE offsets into the series body
  kLabelIndex = 3,      // per label name: name symbol, value count, value symbols
  kPostings = 4,        // encoded postings lists back to back (postings.h)
  kPostingsOffsets = 5, // uvarint count, per entry: name sym, value sym, offset into kPostings
  kNumSections = 6,
};

// The table of contents closes the file: kNumSections uint64 BE section offsets (from the
// start of the file) and a uint32 BE CRC32C of those offsets.
inline constexpr int kTocSize = kNumSections * 8 + 4;

// Chunk references: the chunk segment file number (1-based) in the high 32 bits, the byte
// offset of the chunk inside that segment in the low 32 bits.
inline constexpr uint64_t ChunkRef(uint32_t segment, uint32_t offset) {
  return uint64_t{segment} << 32 | offset;
}
inline constexpr uint32_t ChunkRefSegment(uint64_t ref) { return static_cast<uint32_t>(ref >> 32); }
inline constexpr uint32_t ChunkRefOffset(uint64_t ref) { return static_cast<uint32_t>(ref); }

}  // namespace vigil::storage::index::format
