// Byte layout constants of the write-ahead log. docs/format/wal.md is the prose spec; the
// two change together.
//
// Segment file (<dir>/00000001, ...; checkpoints use the same format in
// <dir>/checkpoint.NNNNNNNN/):
//   header:  magic "VWAL" (4) | format version (1) | reserved zeros (3)
//   records: length u32 BE | crc32c u32 BE | record (length bytes)
// A record starts with its type byte, which also names the payload's encoding, followed by
// the payload. The CRC32C covers the record bytes (type + payload).
//
// Thread-safety: constants only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace vigil::storage::wal {

inline constexpr std::string_view kSegmentMagic = "VWAL";
inline constexpr uint8_t kSegmentFormatV1 = 1;
inline constexpr size_t kSegmentHeaderSize = 8;

// Record frame: length (4) + crc32c (4), then the record.
inline constexpr size_t kRecordHeaderSize = 8;
// A length above this is treated as corruption rather than an allocation request.
inline constexpr uint32_t kMaxRecordSize = 256u << 20;

// Segment file names are the segment index in 8 zero-padded decimal digits.
inline constexpr int kSegmentNameDigits = 8;
inline constexpr std::string_view kCheckpointPrefix = "checkpoint.";
inline constexpr std::string_view kTmpSuffix = ".tmp";

// The first byte of every record. It names both what the record holds and how the payload
// is encoded, so a new encoding gets a new value and old logs stay readable. 0 is never
// valid, so a zero-filled (preallocated or torn) tail can never parse as a record.
enum class RecordType : uint8_t {
  kInvalid = 0,
  kSeries = 1,      // v1: see EncodeSeries in records.h
  kSamples = 2,     // v1: raw values; still read, written only by EncodeSamplesV1
  kTombstones = 3,  // v1: see EncodeTombstones
  kExemplars = 4,   // v1: see EncodeExemplars
  kSamplesV2 = 5,   // samples, compact values: see EncodeSamples
};

// True for both encodings of a samples record (DecodeSamples reads either).
inline constexpr bool IsSamplesRecord(RecordType t) {
  return t == RecordType::kSamples || t == RecordType::kSamplesV2;
}

// Samples v2: the per-sample header is uvarint((ref delta field << 6) | t flag << 5 | kind).
inline constexpr int kSampleKindBits = 5;
inline constexpr uint64_t kSampleTimeFlag = 1u << kSampleKindBits;
inline constexpr int kSampleHeaderShift = kSampleKindBits + 1;
// The ref delta field saturates here; the full zigzag delta then follows as a uvarint.
inline constexpr uint64_t kSampleRefEscape = (uint64_t{1} << (64 - kSampleHeaderShift)) - 1;
// Value kinds: the same bits as the previous value in the record (the first sample's
// "previous" is +0.0); an exact decimal m / 10^e for e = kind - kSampleDecimal0 in
// [0, kSampleMaxDecimalExp], with m a zigzag varint; or the raw 8 bytes.
inline constexpr uint8_t kSampleSame = 0;
inline constexpr uint8_t kSampleDecimal0 = 1;
inline constexpr int kSampleMaxDecimalExp = 18;
inline constexpr uint8_t kSampleRaw = kSampleDecimal0 + kSampleMaxDecimalExp + 1;  // 20

}  // namespace vigil::storage::wal
