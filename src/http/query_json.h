// Encoders of PromQL results as the query endpoints answer them.
//
// AppendQueryData writes Prometheus's `data` object for /api/v1/query and query_range:
//   {"resultType":"vector","result":[{"metric":{...},"value":[1435781451.781,"1"]}]}
//   {"resultType":"matrix","result":[{"metric":{...},"values":[[t,"v"],...]}]}
//   {"resultType":"scalar","result":[t,"v"]}     {"resultType":"string","result":[t,"s"]}
// with timestamps as seconds (three decimals when not whole) and values as strings in Go's
// shortest round-trip form ("NaN", "+Inf", "-Inf", "1e-07", ...), byte for byte what
// Prometheus writes.
//
// AppendSeedData writes the same result in the shape of Vigil's own query API
// (GET /query/instant and /query/range; docs/api/query.md describes it): millisecond
// integer timestamps and JSON number values, the metric name outside the labels.
//
// Every point is appended to one output buffer with no allocation per point.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "model/labels.h"
#include "promql/engine.h"

namespace vigil::http {

// Appends a sample value as Prometheus formats it (without quotes).
void AppendPromValue(std::string* out, double v);
// Appends a label set as a JSON object, keys in label order.
void AppendLabelsObject(std::string* out, const model::Labels& ls);

// Appends the `data` object of a query answer (see above). `stats_json`, if not empty, is
// pre-encoded JSON appended as the "stats" member.
void AppendQueryData(std::string* out, const promql::QueryResult& r,
                     std::string_view stats_json = {});

// Appends the `data` object of a /query/instant or /query/range answer.
void AppendSeedData(std::string* out, const promql::QueryResult& r);

// The whole success answer: {"status":"success","data":...,"warnings":[..],"infos":[..]}
// (warnings and infos only when present, as Prometheus omits empty ones).
std::string QuerySuccessJson(const promql::QueryResult& r, std::string_view stats_json = {});

}  // namespace vigil::http
