// Durations and byte sizes as Prometheus writes them in flags and config files.
//
// Durations: one or more <number><unit> with units y, w, d, h, m, s, ms in that order,
// e.g. "15d", "1h30m", "500ms", or "0". A year is 365 days. Sizes: <number><unit> with
// B, KB, MB, GB, TB, PB, EB (powers of 1024, as Prometheus's --storage.tsdb.retention.size),
// the explicit binary forms KiB, MiB, ..., or a bare number of bytes. Units are
// case-sensitive, as in Prometheus.
//
// Thread-safety: stateless.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::config {

// Milliseconds. Errors say what was wrong: "invalid duration \"5x\": unknown unit \"x\"".
absl::StatusOr<int64_t> ParseDuration(std::string_view s);
// The shortest Prometheus form: 90000 -> "1m30s", 0 -> "0s".
std::string FormatDuration(int64_t ms);

absl::StatusOr<int64_t> ParseBytes(std::string_view s);

}  // namespace vigil::config
