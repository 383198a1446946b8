// Files compiled into the binary: the web UI's build output and the built-in dashboards.
//
// At build time `embed_gen` (src/http/embed_gen.cc) turns every file under a directory into
// a generated C++ source that defines one function returning the files as a span of
// EmbeddedFile, sorted by path. The bytes live in static storage for the whole life of the
// process, so the string_views never dangle.
//
// Thread-safety: the data is immutable; read it from any thread.
#pragma once

#include <span>
#include <string_view>

namespace vigil::http {

struct EmbeddedFile {
  // Relative to the embedded directory, '/'-separated, e.g. "assets/app-3F2A1B.js".
  std::string_view path;
  std::string_view data;
  // The same bytes gzip-compressed at build time, or empty when compressing does not pay
  // (already-compressed formats, tiny files).
  std::string_view gzip;
  // A strong HTTP entity tag of `data`, quotes included: "\"1f3a...\"".
  std::string_view etag;
};

// The web UI (ui/build.sh's output, or a placeholder page when the UI was not built).
// Defined in the generated source of the vigil_http_ui_assets library.
std::span<const EmbeddedFile> EmbeddedUiFiles();

// The dashboards the server seeds on first start (src/http/dashboards/*.json).
// Defined in the generated source of the vigil_http_builtin_dashboards library.
std::span<const EmbeddedFile> BuiltinDashboardFiles();

}  // namespace vigil::http
