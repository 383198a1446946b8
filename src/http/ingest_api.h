// The push endpoints beside remote_write (which Api serves), and /api/v1/metadata:
//
//   POST /api/v1/import/prometheus   text 0.0.4 or OpenMetrics (by Content-Type); query
//                                    params `timestamp` (for samples without one) and
//                                    `extra_label=name=value` (repeatable)   -> 204
//   POST /ingest/metrics             JSON list (see ingest/push_decoders.h)   -> 204
//   POST /write, /api/v2/write       Influx line protocol; `precision`, v1 `db` (added as
//                                    label db)                                -> 204
//   GET|HEAD /ping                   204, for Influx clients that probe
//   POST /v1/metrics, /api/v1/otlp/v1/metrics   OTLP/HTTP, protobuf or JSON (by
//                                    Content-Type; answered in the same encoding) -> 200
//   GET  /api/v1/metadata            HELP/TYPE/UNIT seen by the text and OTLP importers,
//                                    remote_write's metadata and scraped targets
//
// Every push request goes the same way: in-flight byte budget (429 + Retry-After: 1 when
// Vigil is already decoding too much), Content-Encoding (gzip, deflate, snappy, zstd;
// 415 for others, 413 past the decompressed size limit), decode (400 with line:col),
// per-tenant rate limit (429 + Retry-After), then the shared BatchWriter (204, or 400
// naming refused series and reasons, or 500). While no storage is attached: 503.
// OpenMetrics exemplars ("# {trace_id="x"} 1.5 123.4") go to the attached
// ExemplarAppendable after their samples are committed, counted in
// vigil_ingest_exemplars_total{protocol,result}; a refused exemplar never fails a request.
// Everything is per request tenant (Request::tenant): its series, its metadata, its rate
// limit (SetRateLimits gives tenants their own). remote_write (Api) shares the in-flight
// budget, the rate limiter and the counters through guards().
//
// Per-tenant counters (tenant names come from the config, so the label stays bounded):
//   vigil_tenant_samples_accepted_total{tenant}
//   vigil_tenant_samples_refused_total{tenant,reason}   rate_limited or rejected
//                                                       (validation, order, series limits)
//   vigil_tenant_requests_refused_total{tenant,reason}  rate_limited or overloaded, for
//                                                       requests refused before decoding
//
// Thread-safety: handlers run concurrently; Attach/Detach may be called at any time.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "base/metrics.h"
#include "http/server.h"
#include "ingest/decoded.h"
#include "ingest/limits.h"
#include "ingest/metadata.h"
#include "ingest/writer.h"
#include "storage/appender.h"

namespace vigil::http {

// Per-tenant sample and request counters (see above). Thread-safe.
class TenantCounters {
 public:
  explicit TenantCounters(metrics::Registry* registry);  // nullptr: counts nothing
  void Accepted(std::string_view tenant, int64_t n);
  void Refused(std::string_view tenant, std::string_view reason, int64_t n);
  void RequestRefused(std::string_view tenant, std::string_view reason);

 private:
  metrics::CounterFamily* accepted_ = nullptr;
  metrics::CounterFamily* refused_ = nullptr;
  metrics::CounterFamily* requests_refused_ = nullptr;
};

// What every push path shares, so remote_write (Api) obeys the same limits.
struct PushGuards {
  ingest::TenantRateLimiter* rate = nullptr;
  ingest::InflightLimiter* inflight = nullptr;
  ingest::IngestMetrics* metrics = nullptr;
  TenantCounters* tenants = nullptr;
};

struct IngestApiOptions {
  ingest::IngestOptions ingest;
  ingest::RateLimit rate_limit;            // per tenant; 0 = unlimited
  int64_t max_inflight_bytes = 512 << 20;  // compressed bodies being handled at once
};

class IngestApi {
 public:
  IngestApi(IngestApiOptions opts, metrics::Registry* registry);
  ~IngestApi();

  void Register(Router* router);
  // `db` and `exemplars` (where OpenMetrics imports' exemplars go; nullptr drops them)
  // must stay valid until Detach() returns.
  void Attach(storage::Appendable* db, storage::ExemplarAppendable* exemplars = nullptr);
  // New requests answer 503; waits for those in flight.
  void Detach();

  ingest::IngestMetrics* ingest_metrics() { return &metrics_; }
  ingest::MetadataStore* metadata() { return &metadata_; }
  PushGuards guards() { return {&rate_, &inflight_, &metrics_, &tenants_}; }
  // Replaces the rate limits (reload): `defaults` for tenants not in `per_tenant`.
  void SetRateLimits(ingest::RateLimit defaults,
                     std::map<std::string, ingest::RateLimit, std::less<>> per_tenant);

 private:
  using Decoder = std::function<absl::Status(std::string_view body, int64_t now_ms,
                                             ingest::DecodedBatch* out)>;
  enum class Dialect { kPlain, kInflux, kOtlp, kOtlpJson };
  // The shared path: every answer, success or failure, is written to `resp`.
  void Push(const Request& req, Response* resp, std::string_view protocol, Dialect dialect,
            const Decoder& decode);

  void ImportPrometheus(const Request& req, Response* resp);
  void IngestJson(const Request& req, Response* resp);
  void InfluxWrite(const Request& req, Response* resp);
  void Otlp(const Request& req, Response* resp);
  void Metadata(const Request& req, Response* resp);

  const IngestApiOptions opts_;
  ingest::IngestMetrics metrics_;
  TenantCounters tenants_;
  ingest::MetadataStore metadata_;
  ingest::TenantRateLimiter rate_;
  ingest::InflightLimiter inflight_;
  std::atomic<storage::Appendable*> db_{nullptr};
  std::atomic<storage::ExemplarAppendable*> exemplars_{nullptr};
  std::atomic<int64_t> in_use_{0};
};

}  // namespace vigil::http
