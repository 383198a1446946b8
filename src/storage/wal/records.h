// Codecs for the WAL's record payloads: series (ref -> labels), sample batches,
// tombstones and exemplars. Each encoder writes one whole record (type byte + payload) into a
// caller-owned buffer, which it clears first and whose capacity it reuses, so a committer
// encoding one 2000-sample batch after another allocates nothing in steady state.
// Decoders validate everything (counts against remaining bytes, label order, trailing
// bytes) and name what broke and where; they never trust the input, since the fuzzers and
// a corrupt-but-checksummed file can hand them anything.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "model/labels.h"
#include "storage/wal/wal_format.h"

namespace vigil::storage::wal {

// A series as the head knows it: its in-memory reference and its labels, `__tenant__`
// included.
struct RefSeries {
  uint64_t ref = 0;
  model::Labels labels;
  friend bool operator==(const RefSeries&, const RefSeries&) = default;
};

struct RefSample {
  uint64_t ref = 0;
  int64_t t = 0;
  double v = 0;
  // Values compare bit for bit, so NaNs and the staleness marker round-trip exactly.
  friend bool operator==(const RefSample& a, const RefSample& b);
};

// Deletes the samples of series `ref` in [mint, maxt].
struct RefTombstone {
  uint64_t ref = 0;
  int64_t mint = 0;
  int64_t maxt = 0;
  friend bool operator==(const RefTombstone&, const RefTombstone&) = default;
};

// An exemplar (e.g. a trace id) attached to a sample of series `ref`. Labels may be empty.
struct RefExemplar {
  uint64_t ref = 0;
  int64_t t = 0;
  double v = 0;
  model::Labels labels;
  // Values compare bit for bit, like RefSample.
  friend bool operator==(const RefExemplar& a, const RefExemplar& b);
};

// The record's type byte, or kInvalid for an empty record.
RecordType GetRecordType(std::string_view record);

void EncodeSeries(std::span<const RefSeries> series, std::string* out);
// Writes a samples v2 record (compact values: see docs/format/wal.md).
void EncodeSamples(std::span<const RefSample> samples, std::string* out);
// Writes the older samples v1 record (raw values), for tests of logs written before v2.
void EncodeSamplesV1(std::span<const RefSample> samples, std::string* out);
void EncodeTombstones(std::span<const RefTombstone> tombstones, std::string* out);
void EncodeExemplars(std::span<const RefExemplar> exemplars, std::string* out);

// Decoders replace the contents of `out`, reusing its capacity (and, for series, the
// capacity of the label strings already in it). On error `out` holds unspecified values.
absl::Status DecodeSeries(std::string_view record, std::vector<RefSeries>* out);
// Reads samples v1 and v2 records.
absl::Status DecodeSamples(std::string_view record, std::vector<RefSample>* out);
absl::Status DecodeTombstones(std::string_view record, std::vector<RefTombstone>* out);
absl::Status DecodeExemplars(std::string_view record, std::vector<RefExemplar>* out);

}  // namespace vigil::storage::wal
