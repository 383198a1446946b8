// Request body decompression for the push endpoints: Content-Encoding identity, gzip,
// deflate (zlib), snappy (block format, as remote_write and VictoriaMetrics' importers
// use it) and zstd.
//
// Every decoder stops at `max_bytes` of output and fails with ResourceExhausted (the
// HTTP layer answers 413), so a small "zip bomb" cannot grow into gigabytes of memory.
//
// Thread-safety: stateless functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace vigil::ingest {

// Decompresses `body` sent with Content-Encoding `encoding`. Returns a view of the result:
// of `body` itself for "" and "identity" (no copy; the size is still checked), otherwise
// of `*scratch`, which the caller keeps alive while it uses the view. Unknown encodings
// fail with Unimplemented (415).
absl::StatusOr<std::string_view> Decompress(std::string_view encoding, std::string_view body,
                                            size_t max_bytes, std::string* scratch);

}  // namespace vigil::ingest
