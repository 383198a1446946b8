// The web UI's static files, served from the files compiled into the binary:
//
//   GET|HEAD /            302 to /ui/
//   GET|HEAD /ui          302 to /ui/
//   GET|HEAD /ui/<path>   the embedded file <path>; "" is index.html. A path whose last
//                         segment has no extension and is not a file gets index.html, so
//                         the UI's client-side routes (/ui/dashboards/<uid>) load the app.
//                         Any other unknown path is 404.
//
// Answers carry the Content-Type of the extension and an ETag (If-None-Match -> 304).
// Files under assets/ have content-hashed names and are cached for a year
// ("public, max-age=31536000, immutable"); everything else, index.html above all, is
// "no-cache" so a new binary's UI is picked up at the next load. A client that accepts
// gzip gets the copy compressed at build time.
//
// Thread-safety: immutable after construction; Serve may run concurrently.
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/embedded_files.h"
#include "http/server.h"

namespace vigil::http {

class UiHandler {
 public:
  // `files` must outlive the handler (EmbeddedUiFiles() lives forever).
  explicit UiHandler(std::span<const EmbeddedFile> files);

  void Register(Router* router) const;

  // `rel` is the path below /ui/ ("" for the root).
  void Serve(const Request& req, std::string_view rel, Response* resp) const;

  // The Content-Type for a file name, by extension.
  static std::string_view ContentType(std::string_view path);

 private:
  struct Entry {
    const EmbeddedFile* file;
    std::string gzip_etag;  // the ETag of the gzip variant (a different representation)
  };
  const Entry* Find(std::string_view rel) const;

  std::unordered_map<std::string_view, Entry> files_;
};

// Whether an Accept-Encoding header value accepts gzip (a "gzip" or "*" token without q=0).
bool AcceptsGzip(std::string_view accept_encoding);

// Whether an If-None-Match header value matches `etag` ("*", or one of a list; weak
// comparison, as RFC 9110 asks for If-None-Match).
bool EtagMatches(std::string_view if_none_match, std::string_view etag);

}  // namespace vigil::http
