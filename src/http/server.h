// HTTP server: Boost.Beast over Boost.Asio, HTTP/1.1 with keep-alive.
//
// Connections are served by `io_threads` threads running one io_context (reading, parsing
// and writing never block). Handlers make blocking storage calls (a WAL write with fsync,
// a long series scan), so at most `io_threads - 1` of them run inline on the io thread
// that read the request (no hand-off: the cheapest path for short requests such as
// remote_write); past that they run on a pool of `handler_threads` threads, and one io
// thread always stays free for I/O.
// A request body over `max_body_bytes` is answered 413 without running any handler.
//
// Every request is counted by handler name and status code
// (vigil_http_requests_total{handler,code}) and timed
// (vigil_http_request_duration_seconds{handler}) in the registry given to the Router.
//
// Lifecycle: Start() binds and starts serving; Stop() stops accepting, waits up to
// `drain_timeout_ms` for requests already being handled to finish and be written, then
// closes every connection and joins all threads. Stop() is idempotent; the destructor
// calls it.
//
// Thread-safety: Router registration must finish before Start(). Handlers are called
// concurrently from the handler pool and must be thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "base/metrics.h"
#include "http/params.h"

namespace vigil::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // as sent: path and query
  std::string path;    // decoded path, without the query
  // Query parameters, then (for POST/PUT x-www-form-urlencoded bodies) form parameters.
  Params params;
  // Values of ":name" segments of the route pattern, e.g. {"name", "job"}.
  Params path_params;
  // Header names are lower-cased.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // "ip:port" of the client
  // The tenant the request acts for, set by the Router from its credentials (http/auth.h);
  // "default" when authentication is off.
  std::string tenant = "default";

  // First value of a header / parameter, or "" if absent.
  std::string_view Header(std::string_view name) const;
  std::string_view Param(std::string_view name) const;
  bool HasParam(std::string_view name) const;
  std::vector<std::string> ParamValues(std::string_view name) const;
  std::string_view PathParam(std::string_view name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  void Json(int code, std::string json) {
    status = code;
    content_type = "application/json";
    body = std::move(json);
  }
  void Text(int code, std::string text) {
    status = code;
    content_type = "text/plain; charset=utf-8";
    body = std::move(text);
  }
};

using Handler = std::function<void(const Request&, Response*)>;

class Auth;

// Maps method + path to handlers. Patterns are literal paths whose segments may be
// ":name" (one path segment, URL-decoded into Request::path_params); a last segment
// "*name" matches the rest of the path, zero or more segments, joined with '/' (the web
// UI's "/ui/*path"). Routes are tried in registration order.
class Router {
 public:
  explicit Router(metrics::Registry* registry);

  // Checks every request's credentials with `auth` (which must outlive the router) before
  // its handler runs, and sets Request::tenant. Without it every request is "default".
  void SetAuth(const Auth* auth) { auth_ = auth; }

  // `methods` is a list like "GET,POST". `name` labels the handler in metrics (Prometheus
  // uses the route pattern, e.g. "/api/v1/label/:name/values").
  void Handle(std::string_view methods, std::string pattern, Handler h);

  // Finds the handler, authenticates, runs it and counts the request. Unknown paths
  // answer 404, known paths with another method 405, refused credentials 401 or 403.
  void Serve(Request& req, Response* resp) const;

 private:
  struct Route {
    std::vector<std::string> methods;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
    metrics::Histogram* duration = nullptr;
  };
  bool Match(const Route& r, const std::vector<std::string_view>& segs, Params* out) const;

  std::vector<Route> routes_;
  const Auth* auth_ = nullptr;
  metrics::CounterFamily* requests_;
  metrics::HistogramFamily* durations_;
};

struct ServerOptions {
  // "host:port", ":port" (all interfaces) or "[v6]:port".
  std::string listen_address = "127.0.0.1:9460";
  int io_threads = 0;       // 0 = number of cores
  int handler_threads = 0;  // 0 = number of cores, at least 2
  uint64_t max_body_bytes = 64ull << 20;
  int64_t drain_timeout_ms = 10'000;
  // Idle keep-alive connections are closed after this long.
  int64_t idle_timeout_ms = 5 * 60'000;
};

class Server {
 public:
  Server(ServerOptions opts, const Router* router);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds the listening socket and starts the threads. Fails (with the address in the
  // message) if the address is malformed or cannot be bound.
  absl::Status Start();
  void Stop();

  // The bound port (useful with port 0 in tests). Valid after Start().
  int port() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vigil::http
