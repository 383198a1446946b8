#include "http/ui_handler.h"

#include <algorithm>
#include <cctype>

namespace vigil::http {
namespace {

constexpr std::string_view kIndex = "index.html";

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Calls f(element) for each comma-separated, trimmed, non-empty element of a header value.
template <typename F>
void ForEachListElement(std::string_view v, F f) {
  size_t i = 0;
  while (i <= v.size()) {
    size_t j = v.find(',', i);
    if (j == std::string_view::npos) j = v.size();
    std::string_view e = Trim(v.substr(i, j - i));
    if (!e.empty()) f(e);
    i = j + 1;
  }
}

void Redirect(std::string_view to, Response* resp) {
  resp->Text(302, "");
  resp->headers.emplace_back("Location", std::string(to));
}

}  // namespace

bool AcceptsGzip(std::string_view accept_encoding) {
  bool gzip = false;
  ForEachListElement(accept_encoding, [&](std::string_view e) {
    std::string_view coding = Trim(e.substr(0, e.find(';')));
    if (!EqualsIgnoreCase(coding, "gzip") && coding != "*") return;
    bool zero = false;
    if (size_t semi = e.find(';'); semi != std::string_view::npos) {
      std::string_view param = Trim(e.substr(semi + 1));
      if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
        std::string_view q = param.substr(2);
        zero = std::all_of(q.begin(), q.end(), [](char c) { return c == '0' || c == '.'; });
      }
    }
    if (!zero) gzip = true;
  });
  return gzip;
}

bool EtagMatches(std::string_view if_none_match, std::string_view etag) {
  bool match = false;
  ForEachListElement(if_none_match, [&](std::string_view e) {
    if (e == "*") match = true;
    if (e.starts_with("W/")) e.remove_prefix(2);
    if (e == etag) match = true;
  });
  return match;
}

UiHandler::UiHandler(std::span<const EmbeddedFile> files) {
  for (const EmbeddedFile& f : files) {
    Entry e{&f, {}};
    if (!f.gzip.empty() && f.etag.size() >= 2) {
      // "abc" -> "abc-gzip": a different representation needs a different strong tag.
      e.gzip_etag = std::string(f.etag.substr(0, f.etag.size() - 1)) + "-gzip\"";
    }
    files_.emplace(f.path, std::move(e));
  }
}

void UiHandler::Register(Router* router) const {
  router->Handle("GET,HEAD", "/", [](const Request&, Response* resp) { Redirect("/ui/", resp); });
  router->Handle("GET,HEAD", "/ui/*path", [this](const Request& req, Response* resp) {
    // "/ui" itself: relative asset URLs would resolve against "/", so send the slash.
    if (req.path == "/ui") return Redirect("/ui/", resp);
    Serve(req, req.PathParam("path"), resp);
  });
}

const UiHandler::Entry* UiHandler::Find(std::string_view rel) const {
  auto it = files_.find(rel);
  return it == files_.end() ? nullptr : &it->second;
}

std::string_view UiHandler::ContentType(std::string_view path) {
  struct Type {
    std::string_view ext, type;
  };
  static constexpr Type kTypes[] = {
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".jpg", "image/jpeg"},
      {".jpeg", "image/jpeg"},
      {".gif", "image/gif"},
      {".webp", "image/webp"},
      {".ico", "image/x-icon"},
      {".woff", "font/woff"},
      {".woff2", "font/woff2"},
      {".ttf", "font/ttf"},
      {".txt", "text/plain; charset=utf-8"},
      {".wasm", "application/wasm"},
  };
  for (const Type& t : kTypes) {
    if (path.size() > t.ext.size() && EqualsIgnoreCase(path.substr(path.size() - t.ext.size()), t.ext)) {
      return t.type;
    }
  }
  return "application/octet-stream";
}

void UiHandler::Serve(const Request& req, std::string_view rel, Response* resp) const {
  if (rel.empty()) rel = kIndex;
  const Entry* e = Find(rel);
  if (e == nullptr) {
    // Client-side routes have no extension; a missing file that has one is a real 404
    // (an old asset, a typo), and answering it with HTML would only confuse the browser.
    std::string_view last = rel.substr(rel.rfind('/') + 1);
    if (last.find('.') == std::string_view::npos) e = Find(kIndex);
    if (e == nullptr) {
      resp->Text(404, "404 page not found\n");
      return;
    }
  }
  const EmbeddedFile& f = *e->file;
  const bool gzip = !f.gzip.empty() && AcceptsGzip(req.Header("accept-encoding"));
  const std::string_view etag = gzip ? std::string_view(e->gzip_etag) : f.etag;

  resp->headers.emplace_back("Cache-Control", f.path.starts_with("assets/")
                                                  ? "public, max-age=31536000, immutable"
                                                  : "no-cache");
  if (!etag.empty()) resp->headers.emplace_back("ETag", std::string(etag));
  if (!f.gzip.empty()) resp->headers.emplace_back("Vary", "Accept-Encoding");
  resp->headers.emplace_back("X-Content-Type-Options", "nosniff");
  resp->status = 200;
  resp->content_type = std::string(ContentType(f.path));
  if (!etag.empty() && EtagMatches(req.Header("if-none-match"), etag)) {
    resp->status = 304;
    resp->body.clear();
    return;
  }
  if (gzip) {
    resp->headers.emplace_back("Content-Encoding", "gzip");
    resp->body.assign(f.gzip);
  } else {
    resp->body.assign(f.data);
  }
}

}  // namespace vigil::http
