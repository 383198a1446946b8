// Decoders of the pushed text and JSON protocols into a DecodedBatch. Each one parses the
// whole request first: a syntax error refuses the request (400, nothing stored) with the
// position of the error, while samples that parse but are not acceptable (bad names,
// timestamps) are refused one by one later by the BatchWriter.
//
//   DecodeText    Prometheus text 0.0.4 / OpenMetrics 1.0 (POST /api/v1/import/prometheus)
//   DecodeJson    the seed API, POST /ingest/metrics:
//                   [{"name": "m", "labels": {"k": "v"}, "timestamp": 1700000000, "value": 1.5}]
//                 (a single object is accepted too). "labels" and "timestamp" are optional.
//                 The timestamp rule: a number below 1e11 is Unix SECONDS (fractions kept to
//                 the millisecond); 1e11 and above is Unix MILLISECONDS. 1e11 seconds is the
//                 year 5138 and 1e11 milliseconds is March 1973, so neither range is
//                 ambiguous for real data. A string timestamp (RFC 3339) is not accepted;
//                 an absent or null timestamp means "now". "value" is a number or one of
//                 the strings "NaN", "+Inf", "-Inf" (or a number in a string).
//   DecodeInflux  InfluxDB line protocol (POST /write, /api/v2/write):
//                   measurement[,tag=v...] field=v[,field=v...] [timestamp]
//                 Each numeric or boolean field becomes the series measurement_field (just
//                 `field` when the measurement is empty) with the tags as labels; names are
//                 sanitized to Prometheus's alphabet (other characters become '_'). String
//                 fields are skipped (counted as refused "unsupported_type"). Timestamps are
//                 in `precision` units: ns (default), us/u, ms, s, m, h; none means "now".
//
// Thread-safety: stateless functions.
#pragma once

#include <optional>
#include <string_view>

#include "absl/status/status.h"
#include "ingest/decoded.h"
#include "ingest/text_parser.h"
#include "model/labels.h"

namespace vigil::ingest {

struct TextImportOptions {
  TextFormat format = TextFormat::kPrometheus;
  // For samples without their own timestamp; nullopt means the time of the request.
  std::optional<int64_t> timestamp_ms;
  // Added to every series, replacing a label of the same name (VictoriaMetrics'
  // extra_label).
  std::vector<model::Label> extra_labels;
};
absl::Status DecodeText(std::string_view body, const TextImportOptions& opts, int64_t now_ms,
                        DecodedBatch* out);

absl::Status DecodeJson(std::string_view body, int64_t now_ms, DecodedBatch* out);

enum class InfluxPrecision { kNanoseconds, kMicroseconds, kMilliseconds, kSeconds, kMinutes, kHours };
// "ns"/"n"/"" , "us"/"u"/"µ", "ms", "s", "m", "h".
absl::StatusOr<InfluxPrecision> ParseInfluxPrecision(std::string_view s);

struct InfluxOptions {
  InfluxPrecision precision = InfluxPrecision::kNanoseconds;
  // Added to every series (e.g. db="telegraf" from the v1 `db` parameter).
  std::vector<model::Label> extra_labels;
};
absl::Status DecodeInflux(std::string_view body, const InfluxOptions& opts, int64_t now_ms,
                          DecodedBatch* out);

}  // namespace vigil::ingest
