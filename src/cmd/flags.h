// Parsing of command-line values in Prometheus's syntax, kept apart from main so it can
// be tested: durations ("15d", "2h30m", "100ms"), byte sizes ("512MB", "1TiB") and the
// WAL sync policy ("always" or a duration).
//
// Thread-safety: stateless functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "config/units.h"

namespace vigil::cmd {

// Durations ("15d", "2h30m", "100ms") and byte sizes ("512MB", "1TiB") are read exactly
// as in config files (config/units.h).
using config::ParseBytes;
using config::ParseDuration;

struct WalSyncPolicy {
  bool always = false;
  int64_t interval_ms = 0;  // when !always
};
// "always", or a positive duration for grouped fsync every N ms.
absl::StatusOr<WalSyncPolicy> ParseWalSync(std::string_view s);

}  // namespace vigil::cmd
