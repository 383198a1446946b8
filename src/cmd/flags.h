// Parsing of command-line values in Prometheus's syntax, kept apart from main so it can
// be tested: durations ("15d", "2h30m", "100ms"), byte sizes ("512MB", "1TiB") and the
// WAL sync policy ("always" or a duration).
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"

namespace vigil::cmd {

// Prometheus duration: one or more <integer><unit> with units y (365d), w, d, h, m, s, ms
// in decreasing order, or "0". Returns milliseconds.
absl::StatusOr<int64_t> ParseDuration(std::string_view s);

// A byte size: an integer with an optional unit B, KB, MB, GB, TB, PB, EB (powers of 1024,
// as Prometheus reads them) or KiB, MiB, ... (the same values). "0" means none.
absl::StatusOr<int64_t> ParseBytes(std::string_view s);

struct WalSyncPolicy {
  bool always = false;
  int64_t interval_ms = 0;  // when !always
};
// "always", or a positive duration for grouped fsync every N ms.
absl::StatusOr<WalSyncPolicy> ParseWalSync(std::string_view s);

}  // namespace vigil::cmd
