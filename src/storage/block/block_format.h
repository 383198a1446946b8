// Byte-level constants of a block directory's files other than the index
// (docs/format/block.md is the prose spec; the index is in storage/index/index_format.h).
//
// Thread-safety: constants only.
#pragma once

#include <cstdint>
#include <string_view>

namespace vigil::storage::block::format {

inline constexpr std::string_view kMetaFile = "meta.json";
inline constexpr std::string_view kIndexFile = "index";
inline constexpr std::string_view kChunksDir = "chunks";
inline constexpr std::string_view kTombstonesFile = "tombstones";
inline constexpr std::string_view kTmpSuffix = ".tmp";
inline constexpr int kMetaVersion1 = 1;

// Chunk segment files chunks/000001, 000002, ...: an 8-byte header (magic, version, three
// zero bytes), then chunk records. A record is: uint8 encoding, uvarint length, the chunk
// bytes, uint32 BE CRC32C over the encoding byte and the chunk bytes.
inline constexpr uint32_t kChunksMagic = 0x5643484B;  // "VCHK"
inline constexpr uint8_t kChunksVersion1 = 1;
inline constexpr int kChunksHeaderSize = 8;
// A segment is closed once it passes this size; chunk refs keep 32-bit offsets.
inline constexpr uint64_t kMaxSegmentSize = 512ull << 20;

// Tombstones: uint32 BE magic, uint8 version, uvarint count, count x (uvarint series id,
// varint mint, varint maxt) with inclusive ranges, then uint32 BE CRC32C of all before it.
inline constexpr uint32_t kTombstonesMagic = 0x56544D42;  // "VTMB"
inline constexpr uint8_t kTombstonesVersion1 = 1;

}  // namespace vigil::storage::block::format
