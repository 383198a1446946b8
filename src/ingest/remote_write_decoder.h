// Remote write decoding: snappy block decompression and a zero-copy reader of the
// protobuf `prometheus.WriteRequest` wire format (remote_write.proto documents the schema).
//
// This is ingestion's hot path, so the reader does not build message objects: it walks the
// bytes once and fills a WriteRequestView with string_views into the decompressed buffer
// and flat arrays of samples, reusing the arrays' capacity from one request to the next.
// It follows libprotobuf's rules so that anything libprotobuf accepts decodes to the same
// content here (the fuzzer checks this on random inputs):
//   - fields may come in any order and repeat; for a singular field the last one wins;
//   - unknown fields (any wire type, groups included) are skipped;
//   - a known field number with an unexpected wire type is skipped as an unknown field;
//   - tags are varints of at most 5 bytes (bits past 32 dropped), lengths at most 5 bytes
//     and below 2^31, other varints at most 10 bytes (bits past 64 dropped);
//   - truncated varints, lengths past the end, field number 0, wire types 6 and 7 and
//     unbalanced groups are errors.
// Unlike libprotobuf it does not check that strings are valid UTF-8: that is done per series
// by the caller (model::Labels::Validate), so one bad series does not fail a whole batch.
//
// Thread-safety: a WriteRequestView belongs to one thread; the functions are reentrant.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "model/sample.h"

namespace vigil::ingest {

struct LabelView {
  std::string_view name;
  std::string_view value;
};

// One TimeSeries: index ranges into WriteRequestView's arrays. Read its labels with
// AppendLabels.
struct SeriesView {
  // The series' labels in WriteRequestView::labels, unless they are packed (below).
  uint32_t labels_begin = 0;
  uint32_t labels_end = 0;
  // When every Label field of the series is in the layout all senders write (a one-byte
  // tag and length for the name and for the value, nothing else) and the fields are
  // contiguous, the labels are not copied into WriteRequestView::labels: these are the
  // fields' bytes, already validated, and labels_begin == labels_end. Most requests only
  // carry series seen before, whose labels nobody reads, and copying ~10 views per series
  // cost more than the rest of decoding.
  std::string_view packed_labels;
  uint32_t samples_begin = 0;
  uint32_t samples_end = 0;
  uint32_t exemplars = 0;  // how many of WriteRequestView::exemplars belong to the series
  // The encoded label fields of the series, in the order sent, for cheap identity hashing.
  uint64_t labels_hash_lo = 0;
  uint64_t labels_hash_hi = 0;
};

// One Exemplar of a TimeSeries: its labels are exemplar_labels[labels_begin, labels_end).
struct ExemplarView {
  uint32_t series = 0;  // index into WriteRequestView::series
  uint32_t labels_begin = 0;
  uint32_t labels_end = 0;
  double value = 0;
  int64_t t = 0;
};

struct MetadataView {
  int32_t type = 0;
  std::string_view metric_family_name;
  std::string_view help;
  std::string_view unit;
};

// The decoded request. The string_views point into the buffer passed to
// DecodeWriteRequest and are valid as long as it is.
struct WriteRequestView {
  std::vector<SeriesView> series;
  std::vector<LabelView> labels;
  std::vector<model::Sample> samples;
  std::vector<ExemplarView> exemplars;
  std::vector<LabelView> exemplar_labels;
  std::vector<MetadataView> metadata;

  void Clear() {
    series.clear();
    labels.clear();
    samples.clear();
    exemplars.clear();
    exemplar_labels.clear();
    metadata.clear();
  }
};

// Appends the labels of series `s` of `v` to `out`, in the order sent.
void AppendLabels(const WriteRequestView& v, const SeriesView& s, std::vector<LabelView>* out);

// Decodes a serialized WriteRequest into `out` (cleared first). On error `out` holds
// whatever was decoded before the error and the message says what broke and where
// ("timeseries 3: labels 1: truncated varint at offset 812").
absl::Status DecodeWriteRequest(std::string_view data, WriteRequestView* out);

// Decompresses a snappy block (not framed) into `out`, reusing its capacity. Fails if the
// data is not valid snappy (InvalidArgument) or would decompress to more than `max_bytes`
// (ResourceExhausted, which the HTTP layer answers with 413).
absl::Status SnappyDecompress(std::string_view in, size_t max_bytes, std::string* out);

}  // namespace vigil::ingest
