// DecodedBatch: what a push decoder makes of one request before anything is stored, so
// the HTTP layer can ask the rate limiter about the whole request first and then write it
// through one BatchWriter.
//
// Thread-safety: plain data.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ingest/writer.h"
#include "storage/exemplars.h"

namespace vigil::ingest {

struct MetricMetadata {
  std::string metric;  // family name
  std::string type;    // "counter", "gauge", "histogram", "summary", "unknown", ...
  std::string help;
  std::string unit;
  friend bool operator==(const MetricMetadata&, const MetricMetadata&) = default;
  friend auto operator<=>(const MetricMetadata&, const MetricMetadata&) = default;
};

struct DecodedBatch {
  struct Refusal {
    std::string reason;
    int64_t n = 0;
    std::string why;
  };
  // An exemplar riding on samples[sample] (OpenMetrics "# {trace_id="x"} 1.5 123.4").
  struct SampleExemplar {
    size_t sample = 0;
    storage::Exemplar exemplar;
  };
  std::vector<PendingSample> samples;
  std::vector<Refusal> refusals;
  std::vector<MetricMetadata> metadata;
  std::vector<SampleExemplar> exemplars;

  void Refuse(std::string_view reason, int64_t n, std::string why) {
    refusals.push_back({std::string(reason), n, std::move(why)});
  }
};

// Appends every sample and refusal of `batch` through `w` and returns w->Finish().
// Consecutive samples with equal labels share the series ref lookup.
WriteResult WriteBatch(DecodedBatch* batch, BatchWriter* w);

// After WriteBatch committed the batch's samples (their labels now normalized), stores its
// exemplars in one call to `st` and counts them in
// vigil_ingest_exemplars_total{protocol,result="stored"|"refused"}. As in Prometheus and
// in remote_write, a refused exemplar (bad labels, out of order, a series that was not
// stored) never fails the request.
void StoreExemplars(const DecodedBatch& batch, std::string_view tenant, std::string_view protocol,
                    storage::ExemplarAppendable* st, IngestMetrics* metrics);

}  // namespace vigil::ingest
