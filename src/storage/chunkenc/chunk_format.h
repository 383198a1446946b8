// Byte-level constants of the chunk encodings (docs/format/chunks.md is the prose spec).
//
// Thread-safety: constants only.
#pragma once

#include <cstdint>

namespace vigil::storage::chunkenc::format {

// Both kXor and kBlock chunks begin with a big-endian uint16 sample count, so a chunk's
// length in samples is readable without decoding it.
inline constexpr int kCountBytes = 2;
inline constexpr int kMaxSamplesPerChunk = 65535;

// kXor: delta-of-delta timestamp buckets. A dod of 0 takes the single bit '0'; otherwise a
// prefix of ones ended by a zero picks the width of a signed (two's complement) field. The
// last bucket '1111' has no terminating zero and carries the dod as a full 64-bit value,
// so any int64 gap (computed modulo 2^64) is representable and nothing ever wraps wrongly.
struct DodBucket {
  int prefix_bits;   // number of prefix bits, ones then a terminating zero
  uint64_t prefix;   // the prefix value
  int value_bits;    // width of the signed dod field
};
inline constexpr DodBucket kDodBuckets[] = {
    {2, 0b10, 14},
    {3, 0b110, 17},
    {4, 0b1110, 20},
};
inline constexpr int kDodWidePrefixBits = 4;  // '1111' then 64 bits
inline constexpr uint64_t kDodWidePrefix = 0b1111;

// kXor value control bits: '0' same value; '10' meaningful bits fit in the previous
// window; '11' new window: 5 bits of leading zeros (capped at 31), 6 bits of meaningful-bit
// count (64 stored as 0), then the meaningful bits.
inline constexpr int kLeadingBits = 5;
inline constexpr int kMaxLeading = 31;
inline constexpr int kSigBits = 6;

// kBlock: the first byte after the count holds the timestamp scheme in the high nibble and
// the value scheme in the low nibble (block_codec.cc documents each).
enum class TsScheme : uint8_t {
  kRegular = 0,   // t0 varint, step varint: every delta equal (no further bits)
  kPackedDod = 1, // t0 varint, first delta varint, then zig-zag dods bit-packed at width w
};
enum class ValueScheme : uint8_t {
  kConstant = 0,  // one raw float64, repeated `count` times
  kDecimal = 1,   // v = n * 10^-e exactly; integers as zig-zag deltas or dods, bit-packed
  kXor = 2,       // Gorilla XOR of the raw float64 bits
};

}  // namespace vigil::storage::chunkenc::format
