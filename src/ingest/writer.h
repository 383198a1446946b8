// The path every push protocol shares after decoding: validate a series, append its
// samples through one storage::Appender, commit once, count what happened and tell the
// sender. Decoders (text, JSON, Influx, OTLP, StatsD) only turn bytes into
// (labels, timestamp, value) and call BatchWriter::Add; the rules about what is refused
// and why live here, in one place.
//
// Refusal reasons (the `reason` label of vigil_ingest_samples_rejected_total and the
// words in a 400 message):
//   invalid_labels      bad metric/label name, duplicate names, empty set, bad UTF-8, the
//                       reserved __tenant__ label;
//   invalid_timestamp   NaN/Inf or out-of-range timestamp (decoders report it);
//   too_far_in_future   later than now + max_future_ms;
//   out_of_order, too_old, duplicate, series_limit   storage's verdicts (storage::Reject);
//   plus decoder-specific reasons passed to Refuse() (e.g. "unsupported_type").
// As Prometheus's receiver does, the good samples of a batch are stored and the answer is
// a 400 naming the first few refused series with the count per reason.
//
// Counters (shared with RemoteWriteIngester, same family names):
//   vigil_ingest_samples_total{protocol}
//   vigil_ingest_samples_rejected_total{protocol,reason}
//   vigil_ingest_requests_total{protocol,result}
//   vigil_ingest_exemplars_total{protocol,result}
//
// Thread-safety: IngestMetrics is thread-safe and shared by all requests. A BatchWriter
// belongs to one request on one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "ingest/remote_write.h"
#include "model/labels.h"
#include "storage/appender.h"

namespace vigil::ingest {

inline constexpr std::string_view kReasonInvalidLabels = "invalid_labels";
inline constexpr std::string_view kReasonInvalidTimestamp = "invalid_timestamp";
inline constexpr std::string_view kReasonTooFarInFuture = "too_far_in_future";
inline constexpr std::string_view kReasonUnsupported = "unsupported_type";

struct IngestOptions {
  // Samples stamped further than this ahead of the wall clock are refused.
  int64_t max_future_ms = 10 * 60 * 1000;
  // Largest decompressed body a decoder accepts (larger answers 413).
  size_t max_decompressed_bytes = 64u << 20;
  // Wall clock in milliseconds; tests replace it.
  std::function<int64_t()> now_ms;

  int64_t Now() const;
};

// The ingest counters for every protocol. Children are looked up once per request.
class IngestMetrics {
 public:
  // `registry` may be nullptr: nothing is counted.
  explicit IngestMetrics(metrics::Registry* registry);

  void Stored(std::string_view protocol, int64_t n);
  void Refused(std::string_view protocol, std::string_view reason, int64_t n);
  void Request(std::string_view protocol, std::string_view result);
  // Exemplars of a request: `stored` kept, `refused` not.
  void Exemplars(std::string_view protocol, int64_t stored, int64_t refused);

 private:
  metrics::CounterFamily* samples_ = nullptr;
  metrics::CounterFamily* rejected_ = nullptr;
  metrics::CounterFamily* requests_ = nullptr;
  metrics::CounterFamily* exemplars_ = nullptr;
};

// Checks what every ingested series must satisfy: model::Labels::Validate (names, UTF-8,
// no duplicates, not empty) and no label name starting with the reserved "__tenant__".
absl::Status ValidateSeries(const model::Labels& labels);

// Sorts `labels` by name (stable, so a duplicate keeps its place for the error) and drops
// pairs with an empty value, which mean "absent".
void NormalizeLabels(model::Labels* labels);

// Seconds (possibly fractional) to milliseconds; fails on NaN, Inf and values outside the
// int64 millisecond range.
absl::StatusOr<int64_t> SecondsToMs(double seconds);

// Replaces every character not allowed in a metric name ([a-zA-Z0-9_:]) with '_' and
// prefixes '_' when the name starts with a digit; `label` also replaces ':' (label names
// are [a-zA-Z_][a-zA-Z0-9_]*). Used by the protocols whose names come from other worlds
// (Influx, StatsD, OTLP).
std::string SanitizeName(std::string_view name, bool label);

// One request's samples on their way to storage.
class BatchWriter {
 public:
  // `db`, `metrics` and `opts` must outlive the writer. `protocol` names the counters.
  BatchWriter(storage::Appendable* db, std::string_view tenant, std::string_view protocol,
              IngestMetrics* metrics, const IngestOptions& opts);
  ~BatchWriter();

  // Normalizes and validates `labels` (in place), then appends the sample. A refusal is
  // recorded and the batch goes on; a storage failure makes Finish() answer 500.
  // `ref` caches the series between calls with the same labels: pass a variable holding
  // 0 the first time and the same variable for further samples of that series.
  void Add(model::Labels* labels, int64_t t, double v, storage::SeriesRef* ref = nullptr);
  // Records `n` samples refused by the decoder itself.
  void Refuse(std::string_view reason, int64_t n, std::string_view why);

  // Commits (unless nothing was appended) and builds the answer: 204 when all was
  // stored, 400 with the per-reason counts when some samples were refused, 500 when
  // storage failed. Call once.
  WriteResult Finish();

  int64_t stored() const { return stored_; }
  int64_t refused() const { return refused_; }

 private:
  void RefuseSeries(std::string_view reason, int64_t n, const model::Labels* labels,
                    std::string_view why);

  storage::Appendable* const db_;
  const std::string tenant_;
  const std::string protocol_;
  IngestMetrics* const metrics_;
  const int64_t max_t_;
  std::unique_ptr<storage::Appender> app_;
  absl::Status failure_;
  int64_t stored_ = 0;
  int64_t refused_ = 0;
  std::map<std::string, int64_t, std::less<>> refused_by_reason_;
  std::vector<std::string> examples_;
};

// A decoded sample as decoders hand them over when they collect a whole request before
// writing (so the rate limiter can be asked first).
struct PendingSample {
  model::Labels labels;
  int64_t t = 0;
  double v = 0;
};

}  // namespace vigil::ingest
