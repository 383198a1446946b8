// The PromQL side of the HTTP API, over promql::Engine:
//
//   GET|POST /api/v1/query          query, time, timeout, limit, lookback_delta, stats
//   GET|POST /api/v1/query_range    query, start, end, step, timeout, limit, lookback_delta, stats
//   GET|POST /api/v1/format_query   query -> the prettified expression
//   GET|POST /api/v1/parse_query    query -> the syntax tree as JSON (Prometheus 3 shape)
//   GET|POST /api/v1/query_exemplars  query, start, end -> exemplars of the selected series
//   GET /api/v1/status/runtimeinfo, /api/v1/status/flags, /api/v1/status/config
//   GET /query/instant?expr=...&time=...                      Vigil's own query API
//   GET /query/range?metric=...&labels={...}&start=&end=&step=  (docs/api/query.md)
//
// Parameters, status codes and JSON follow Prometheus's API: times are Unix seconds
// (fractions allowed) or RFC 3339, durations are float seconds or Prometheus durations
// ("1m30s"); a bad parameter answers 400 bad_data with Prometheus's wording
// (`invalid parameter "step": ...`); a failure while evaluating answers 422 execution, a
// timeout 503 timeout, a storage failure 500 internal.
//
// Thread-safety: handlers run concurrently; a QueryApi is immutable after Register().
#pragma once

#include <mutex>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "http/api.h"
#include "http/server.h"
#include "promql/engine.h"
#include "storage/exemplars.h"

namespace vigil::http {

struct QueryApiOptions {
  promql::EngineOptions engine;
  // Prometheus refuses range queries of more points than this per series.
  int64_t max_points_per_series = 11'000;
  // What /api/v1/status/flags and /status/runtimeinfo and /status/config report.
  std::vector<std::pair<std::string, std::string>> flags;
  std::string config_yaml;
  std::string storage_retention = "15d";
  // Where /api/v1/query_exemplars reads; nullptr answers no exemplars. Must outlive the
  // QueryApi.
  const storage::ExemplarQueryable* exemplars = nullptr;
};

// A duration parameter as Prometheus's API parses it: float seconds ("1.5") or a
// Prometheus duration ("5m", "1h30m", "2d"). Returns milliseconds (rounded down).
absl::StatusOr<int64_t> ParseDurationParam(std::string_view s);

// Writes a Prometheus-style error answer: the type decides the HTTP status (bad_data 400,
// execution 422, timeout and canceled and unavailable 503, internal 500, not_found 404).
void RespondError(Response* resp, std::string_view type, std::string_view message);

// Maps an evaluation error from promql::Engine to Prometheus's error type.
std::string_view ErrorTypeFor(const absl::Status& s);

class QueryApi {
 public:
  // `api` gives access to storage (its Lease) and must outlive this object.
  QueryApi(const Api* api, QueryApiOptions opts);

  void Register(Router* router);

  // Replaces what /api/v1/status/config shows (after a reload; secrets already redacted).
  void SetConfigYaml(std::string yaml);

  // Milliseconds since the epoch; a test may fix it.
  void SetClockForTest(int64_t (*now_ms)()) { now_ms_ = now_ms; }

 private:
  void Query(const Request& req, Response* resp) const;
  void QueryRange(const Request& req, Response* resp) const;
  void FormatQuery(const Request& req, Response* resp) const;
  void ParseQuery(const Request& req, Response* resp) const;
  void QueryExemplars(const Request& req, Response* resp) const;
  void RuntimeInfo(const Request& req, Response* resp) const;
  void Flags(const Request& req, Response* resp) const;
  void Config(const Request& req, Response* resp) const;
  void SeedInstant(const Request& req, Response* resp) const;
  void SeedRange(const Request& req, Response* resp) const;

  // Reads timeout and lookback_delta into engine options; false after answering 400.
  bool EngineParams(const Request& req, promql::EngineOptions* eo, Response* resp) const;

  const Api* const api_;
  const QueryApiOptions opts_;
  const int64_t start_time_ms_;
  int64_t (*now_ms_)();
  mutable std::mutex config_mu_;
  std::string config_yaml_;  // guarded by config_mu_
};

}  // namespace vigil::http
