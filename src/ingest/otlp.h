// DecodeOtlp, DecodeOtlpJson: an OTLP/HTTP metrics export request (ExportMetricsServiceRequest
// as protobuf or as JSON, already decompressed) -> DecodedBatch, mapped the way
// Prometheus's OTLP receiver maps it:
//
//   names    the metric name with characters outside [a-zA-Z0-9_:] turned into '_', then
//            the unit as a word suffix ("s" -> _seconds, "By" -> _bytes, "ms" ->
//            _milliseconds, "1" -> _ratio for gauges, "{requests}" dropped, "By/s" ->
//            _bytes_per_second), then _total for monotonic sums;
//   labels   data point attributes, names sanitized (a leading digit gets "key_");
//            job = service.namespace + "/" + service.name (or just service.name),
//            instance = service.instance.id;
//   target_info  one series per resource carrying its other attributes (with job and
//            instance), value 1, at the resource's latest data point time;
//   kinds    gauge and non-monotonic sum -> one series; monotonic sum -> _total;
//            histogram -> _bucket{le} (cumulative), _sum, _count; summary ->
//            {quantile}, _sum, _count; a point flagged "no recorded value" is stored as
//            the staleness marker.
// Delta temporality and exponential histograms are refused (reason "unsupported_type"),
// as Prometheus refuses them; the rest of the request is stored.
//
// Thread-safety: stateless function.
#pragma once

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "ingest/decoded.h"

namespace vigil::ingest {

absl::Status DecodeOtlp(std::string_view body, int64_t now_ms, DecodedBatch* out);
// The same request in OTLP/HTTP's JSON encoding (Content-Type application/json): the
// protobuf JSON mapping with lowerCamelCase or original field names, enums as integers,
// 64-bit integers as strings or numbers; unknown fields are ignored.
absl::Status DecodeOtlpJson(std::string_view body, int64_t now_ms, DecodedBatch* out);

// The Prometheus name for an OTLP metric (exposed for tests).
enum class OtlpKind { kGauge, kCounter, kOther };
std::string OtlpMetricName(std::string_view name, std::string_view unit, OtlpKind kind);

}  // namespace vigil::ingest

namespace vigil::ingest {
// The ExportMetricsServiceResponse: empty on full success, or partial_success with the
// refused point count and a message (OTLP answers 200 for partial success). Protobuf, or
// JSON when `json` (a response is encoded as its request was).
std::string OtlpResponse(int64_t rejected, std::string_view message, bool json = false);
}  // namespace vigil::ingest
