// Request parameter parsing shared by the HTTP handlers: URL query strings and form
// bodies, and Prometheus-style times. Series selectors (match[]) are parsed by the PromQL
// parser (promql::ParseMetricSelector), so they accept exactly what queries accept.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "model/matcher.h"

namespace vigil::http {

using Params = std::vector<std::pair<std::string, std::string>>;

// Decodes %XX escapes and '+' (as space). Fails on a bad escape.
absl::StatusOr<std::string> UrlDecode(std::string_view s);
// Parses "a=1&b=2&a=3" (query string or x-www-form-urlencoded body), appending to `out`.
absl::Status ParseQueryString(std::string_view s, Params* out);

// A time as Prometheus's API takes it: Unix seconds with an optional fraction ("1.5"), or
// RFC 3339 ("2024-01-02T03:04:05.123Z", "...+02:00"). Returns milliseconds.
absl::StatusOr<int64_t> ParseTime(std::string_view s);

}  // namespace vigil::http
