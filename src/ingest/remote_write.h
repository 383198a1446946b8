// RemoteWriteIngester: Prometheus remote_write 1.0 requests -> storage::Appender.
//
// Write() takes the raw (snappy-compressed) request body, decodes it with the zero-copy
// reader (remote_write_decoder.h), checks every series and sample, appends through one
// Appender for the tenant and commits once. What the sender should be told comes back as
// a WriteResult with the HTTP status the remote_write spec asks for:
//   204  everything stored;
//   400  the body could not be decoded (nothing stored), or some samples were refused for
//        a permanent reason (bad labels, too far in the future, out of order, duplicate,
//        too old, a cardinality limit). The rest of the batch is stored, as Prometheus
//        does, and the message names the first few bad series and counts per reason.
//        Limits answer 400 rather than 429 because retrying the same series cannot
//        succeed until an operator acts, and senders retry 429 forever.
//   500  Vigil's own fault (the WAL write failed); the sender retries.
//
// Counters (in the registry given at construction):
//   vigil_ingest_samples_total{protocol="remote_write"}            stored samples
//   vigil_ingest_samples_rejected_total{protocol,reason}           refused samples
//   vigil_ingest_requests_total{protocol,result}                   requests by outcome
//
// Exemplars are stored after the request's samples are committed, for series whose labels
// are valid; a refused exemplar (out of order, bad labels) never fails the request, as in
// Prometheus, and is counted in vigil_ingest_exemplars_total{protocol,result}. Metadata
// entries are handed to RemoteWriteOptions::on_metadata with their type in Prometheus's
// words ("counter", "gaugehistogram", ...).
//
// Series refs are cached by a 128-bit hash of the series' encoded labels, so a series seen
// before skips label copying, validation and the head's label lookup.
//
// Thread-safety: Write() may be called from many threads at once. Each thread reuses its
// own decode scratch buffers (thread_local), so a steady stream allocates nothing per
// sample.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "base/metrics.h"
#include "storage/appender.h"
#include "storage/exemplars.h"

namespace vigil::ingest {

struct MetricMetadata;  // decoded.h

struct RemoteWriteOptions {
  // Samples stamped further than this ahead of the wall clock are refused.
  int64_t max_future_ms = 10 * 60 * 1000;
  // Largest decompressed request accepted.
  size_t max_decompressed_bytes = 256u << 20;
  // Entries kept in the series-ref cache (0 disables it); past this the cache is reset.
  size_t ref_cache_entries = 4u << 20;
  // Wall clock in milliseconds; tests replace it.
  std::function<int64_t()> now_ms;
  // Where the requests' exemplars go (after their samples are committed); nullptr drops
  // them. Must outlive the ingester.
  storage::ExemplarAppendable* exemplars = nullptr;
  // Receives each request's metric metadata (type, help, unit per family), e.g. for
  // /api/v1/metadata; unset drops it.
  std::function<void(std::string_view tenant, const std::vector<MetricMetadata>& md)>
      on_metadata;
};

struct WriteResult {
  int http_status = 204;
  // Empty for 204; otherwise a message for the sender (and the log).
  std::string message;
  int64_t samples_stored = 0;
  int64_t samples_refused = 0;
  int64_t series = 0;
};

class RemoteWriteIngester {
 public:
  // `db` must outlive the ingester. `registry` may be nullptr (no metrics).
  RemoteWriteIngester(storage::Appendable* db, metrics::Registry* registry,
                      RemoteWriteOptions opts = {});
  ~RemoteWriteIngester();

  // Decompresses, decodes and stores one request for `tenant`.
  WriteResult Write(std::string_view tenant, std::string_view snappy_body);
  // The same for an already decompressed protobuf body.
  WriteResult WriteDecoded(std::string_view tenant, std::string_view proto_body);
  // The largest decompressed body Write accepts (for callers that decompress themselves).
  size_t max_decompressed_bytes() const { return opts_.max_decompressed_bytes; }

  // Empties the series-ref cache (e.g. after the head dropped series).
  void ResetCache();

 private:
  class RefCache;
  struct Counters;

  storage::Appendable* const db_;
  const RemoteWriteOptions opts_;
  std::unique_ptr<RefCache> cache_;
  std::unique_ptr<Counters> counters_;
};

}  // namespace vigil::ingest
