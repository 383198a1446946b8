#include "http/server.h"

#include <algorithm>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "base/log.h"
#include "fmt/format.h"
#include "http/auth.h"
#include "http/json.h"

namespace vigil::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Beast (Boost 1.74) has its own string_view type.
std::string_view SV(boost::beast::string_view s) { return {s.data(), s.size()}; }

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

std::string_view Find(const std::vector<std::pair<std::string, std::string>>& v,
                      std::string_view name) {
  for (const auto& [k, val] : v) {
    if (k == name) return val;
  }
  return {};
}

}  // namespace

std::string_view Request::Header(std::string_view name) const { return Find(headers, name); }
std::string_view Request::Param(std::string_view name) const { return Find(params, name); }
std::string_view Request::PathParam(std::string_view name) const { return Find(path_params, name); }

bool Request::HasParam(std::string_view name) const {
  return std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == name; });
}

std::vector<std::string> Request::ParamValues(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& [k, v] : params) {
    if (k == name) out.push_back(v);
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Router

Router::Router(metrics::Registry* registry)
    : requests_(registry->NewCounterFamily("vigil_http_requests_total",
                                           "HTTP requests by handler and status code.",
                                           {"handler", "code"})),
      durations_(registry->NewHistogramFamily(
          "vigil_http_request_duration_seconds",
          "Time to handle HTTP requests (excluding network transfer), by handler.",
          {"handler"}, metrics::DefaultDurationBuckets())) {}

void Router::Handle(std::string_view methods, std::string pattern, Handler h) {
  Route r;
  size_t i = 0;
  while (i <= methods.size()) {
    size_t j = methods.find(',', i);
    if (j == std::string_view::npos) j = methods.size();
    if (j > i) r.methods.emplace_back(methods.substr(i, j - i));
    i = j + 1;
  }
  for (auto seg : SplitPath(pattern)) r.segments.emplace_back(seg);
  r.pattern = std::move(pattern);
  r.handler = std::move(h);
  r.duration = durations_->WithLabelValues({r.pattern});
  routes_.push_back(std::move(r));
}

bool Router::Match(const Route& r, const std::vector<std::string_view>& segs, Params* out) const {
  const bool rest = !r.segments.empty() && r.segments.back().starts_with('*');
  if (rest ? segs.size() + 1 < r.segments.size() : r.segments.size() != segs.size()) return false;
  Params params;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& want = r.segments[i];
    if (rest && i + 1 == r.segments.size()) {
      std::string tail(segs[i]);
      for (size_t j = i + 1; j < segs.size(); ++j) tail.append("/").append(segs[j]);
      params.emplace_back(want.substr(1), std::move(tail));
      break;
    }
    if (!want.empty() && want[0] == ':') {
      params.emplace_back(want.substr(1), std::string(segs[i]));  // the path is decoded
    } else if (want != segs[i]) {
      return false;
    }
  }
  if (rest && segs.size() + 1 == r.segments.size()) params.emplace_back(r.segments.back().substr(1), "");
  *out = std::move(params);
  return true;
}

void Router::Serve(Request& req, Response* resp) const {
  const auto start = std::chrono::steady_clock::now();
  auto segs = SplitPath(req.path);
  const Route* found = nullptr;
  bool path_known = false;
  for (const auto& r : routes_) {
    Params pp;
    if (!Match(r, segs, &pp)) continue;
    path_known = true;
    if (std::find(r.methods.begin(), r.methods.end(), req.method) == r.methods.end()) continue;
    req.path_params = std::move(pp);
    found = &r;
    break;
  }
  std::string handler_name;
  if (found != nullptr) {
    handler_name = found->pattern;
    Auth::Decision d;
    if (auth_ != nullptr) d = auth_->Authorize(req, found->pattern);
    if (d.status != 200) {
      Auth::Refuse(d, resp);
    } else {
      if (auth_ != nullptr) req.tenant = std::move(d.tenant);
      found->handler(req, resp);
    }
  } else if (path_known) {
    handler_name = "method_not_allowed";
    resp->Text(405, fmt::format("method {} not allowed for {}\n", req.method, req.path));
  } else {
    handler_name = "not_found";
    resp->Text(404, "404 page not found\n");
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  requests_->WithLabelValues({handler_name, std::to_string(resp->status)})->Inc();
  if (found != nullptr) found->duration->Observe(secs);
}

// ---------------------------------------------------------------------------------------
// Server

class Session;

class Server::Impl {
 public:
  Impl(ServerOptions o, const Router* r) : opts(std::move(o)), router(r) {}

  absl::Status Start();
  void Stop();
  void Accept();

  void Register(Session* s, std::weak_ptr<Session> w) {
    std::lock_guard<std::mutex> lock(mu);
    sessions[s] = std::move(w);
  }
  void Unregister(Session* s) {
    std::lock_guard<std::mutex> lock(mu);
    sessions.erase(s);
  }

  // Claims the right to run a handler on the calling io thread. At most all io threads
  // but one hold it, so however long the handlers take (a WAL fsync, a big query), one io
  // thread keeps accepting, reading and writing; past that, requests go to the pool.
  bool TryEnterInline() {
    int busy = inline_busy.load(std::memory_order_relaxed);
    while (busy < max_inline) {
      if (inline_busy.compare_exchange_weak(busy, busy + 1, std::memory_order_acquire)) return true;
    }
    return false;
  }
  void ExitInline() { inline_busy.fetch_sub(1, std::memory_order_release); }

  const ServerOptions opts;
  const Router* const router;
  // Declared before the io_context so they outlive handlers it destroys.
  std::mutex mu;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;
  std::atomic<int> in_flight{0};
  // Requests being handled inline on io threads, at most max_inline (see TryEnterInline).
  std::atomic<int> inline_busy{0};
  int max_inline = 0;
  std::atomic<bool> stopping{false};
  bool started = false;
  bool stopped = false;
  int bound_port = 0;

  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  tcp::acceptor acceptor{ioc};
  std::unique_ptr<asio::thread_pool> pool;
  std::vector<std::thread> threads;
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server::Impl* srv) : stream_(std::move(socket)), srv_(srv) {
    beast::error_code ec;
    // Synchronous writes (see Write) return would_block instead of waiting.
    stream_.socket().non_blocking(true, ec);
    non_blocking_ = !ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = fmt::format("{}:{}", ep.address().to_string(), ep.port());
  }
  ~Session() { srv_->Unregister(this); }

  void Start() {
    srv_->Register(this, weak_from_this());
    asio::dispatch(stream_.get_executor(),
                   beast::bind_front_handler(&Session::Read, shared_from_this()));
  }

  // Called from any thread during shutdown.
  void Shutdown() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] {
      beast::error_code ec;
      self->stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
      self->stream_.close();
    });
  }

 private:
  void Read() {
    parser_.emplace();
    parser_->body_limit(srv_->opts.max_body_bytes);
    // Long match[] lists go in the URL; allow more than Beast's default 8 KiB of header.
    parser_->header_limit(1u << 20);
    stream_.expires_after(std::chrono::milliseconds(srv_->opts.idle_timeout_ms));
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             beast::bind_front_handler(&Session::OnHeader, shared_from_this()));
  }

  // Beast reads into the spare capacity of buffer_, but at least 512 bytes and at most
  // 64 KiB at a time, and a flat_buffer only grows to what it holds. Left alone, a 40 KB
  // remote_write body arrives in ~75 reads of 512 bytes, each a recvmsg plus a trip
  // through the reactor; room for the whole body (up to the 64 KiB Beast reads at once)
  // makes that one or two.
  void OnHeader(beast::error_code ec, size_t) {
    if (ec || parser_->is_done()) return OnRead(ec, 0);
    constexpr uint64_t kReadChunk = 64u << 10;
    const uint64_t body = std::min(parser_->content_length().value_or(kReadChunk), kReadChunk);
    buffer_.reserve(buffer_.size() + body);
    bhttp::async_read(stream_, buffer_, *parser_,
                      beast::bind_front_handler(&Session::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, size_t) {
    if (ec == bhttp::error::end_of_stream || ec == asio::error::operation_aborted ||
        ec == beast::error::timeout) {
      return Close();
    }
    if (ec == bhttp::error::body_limit) {
      return WriteDirect(413, fmt::format("request body exceeds the limit of {} bytes\n",
                                          srv_->opts.max_body_bytes));
    }
    if (ec) {
      // A malformed request gets an answer; a broken connection does not.
      if (ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category()) {
        return WriteDirect(400, fmt::format("bad request: {}\n", ec.message()));
      }
      return Close();
    }
    if (srv_->stopping.load()) return WriteDirect(503, "server is shutting down\n");

    auto req = std::make_shared<bhttp::request<bhttp::string_body>>(parser_->release());
    keep_alive_ = req->keep_alive();
    srv_->in_flight.fetch_add(1);
    if (srv_->TryEnterInline()) {
      // Handing the request to the pool and the answer back costs two thread wake-ups
      // (futex, scheduling and an epoll interrupt), a tenth of the server's CPU under
      // remote_write load; an io thread runs it itself while another stays free for I/O.
      auto res = Handle(std::move(*req));
      srv_->ExitInline();
      return Write(res, /*counted=*/true);
    }
    asio::post(*srv_->pool, [self = shared_from_this(), req] {
      auto res = self->Handle(std::move(*req));
      asio::post(self->stream_.get_executor(),
                 [self, res] { self->Write(res, /*counted=*/true); });
    });
  }

  // Runs the router on `req` and builds the answer. Called on a handler thread or, inline,
  // on the session's io thread; touches only immutable session state.
  std::shared_ptr<bhttp::response<bhttp::string_body>> Handle(
      bhttp::request<bhttp::string_body>&& req) const {
    Response resp;
    Request r;
    if (auto st = Convert(std::move(req), &r); !st.ok()) {
      resp.Json(400, ErrorJson("bad_data", std::string(st.message())));
    } else {
      r.remote = remote_;
      srv_->router->Serve(r, &resp);
    }
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(req.version());
    res->result(static_cast<unsigned>(resp.status));
    if (resp.status != 204) res->set(bhttp::field::content_type, resp.content_type);
    // insert, not set: a header may repeat (WWW-Authenticate with two schemes).
    for (const auto& [k, v] : resp.headers) res->insert(k, v);
    res->body() = std::move(resp.body);
    res->keep_alive(keep_alive_ && !srv_->stopping.load());
    res->prepare_payload();
    // A HEAD answer carries the headers of the GET answer (Content-Length included) and
    // no body.
    if (req.method() == bhttp::verb::head) res->body().clear();
    return res;
  }

  // Moves the body out of `in`; its method, target and version stay readable.
  static absl::Status Convert(bhttp::request<bhttp::string_body>&& in, Request* out) {
    out->method = std::string(SV(in.method_string()));
    out->target = std::string(SV(in.target()));
    std::string_view target = SV(in.target());
    size_t q = target.find('?');
    auto path = UrlDecode(target.substr(0, q));
    if (!path.ok()) return path.status();
    // '+' in a path is a literal plus, not a space; re-decode without that rule.
    out->path = std::string(target.substr(0, q));
    if (out->path.find('%') != std::string::npos) {
      std::string p;
      for (size_t i = 0; i < out->path.size(); ++i) {
        if (out->path[i] == '+') {
          p += "%2B";
        } else {
          p.push_back(out->path[i]);
        }
      }
      auto d = UrlDecode(p);
      if (!d.ok()) return d.status();
      out->path = std::move(*d);
    }
    if (q != std::string_view::npos) {
      if (auto st = ParseQueryString(target.substr(q + 1), &out->params); !st.ok()) return st;
    }
    for (const auto& f : in) {
      out->headers.emplace_back(Lower(SV(f.name_string())), std::string(SV(f.value())));
    }
    out->body = std::move(in.body());
    if ((out->method == "POST" || out->method == "PUT") &&
        Lower(out->Header("content-type")).starts_with("application/x-www-form-urlencoded")) {
      if (auto st = ParseQueryString(out->body, &out->params); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

  void WriteDirect(unsigned status, std::string text) {
    auto res = std::make_shared<bhttp::response<bhttp::string_body>>();
    res->version(11);
    res->result(status);
    res->set(bhttp::field::content_type, "text/plain; charset=utf-8");
    res->body() = std::move(text);
    res->keep_alive(false);
    res->prepare_payload();
    Write(res, /*counted=*/false);
  }

  // Called on the session's io thread.
  void Write(std::shared_ptr<bhttp::response<bhttp::string_body>> res, bool counted) {
    // Most answers fit in the socket's send buffer: written at once, without the
    // asynchronous write's timer and completion, which cost the io threads a wake-up and a
    // context switch each per request. What does not fit goes on asynchronously.
    auto sr = std::make_shared<bhttp::serializer<false, bhttp::string_body>>(*res);
    beast::error_code ec = asio::error::would_block;
    if (non_blocking_) bhttp::write(stream_.socket(), *sr, ec);
    if (ec != asio::error::would_block) return Written(ec, *res, counted);
    stream_.expires_after(std::chrono::seconds(60));
    bhttp::async_write(stream_, *sr,
                       [self = shared_from_this(), res, sr, counted](beast::error_code ec, size_t) {
                         self->Written(ec, *res, counted);
                       });
  }

  void Written(beast::error_code ec, const bhttp::response<bhttp::string_body>& res, bool counted) {
    if (counted) srv_->in_flight.fetch_sub(1);
    if (ec || res.need_eof()) return Close();
    Read();
  }

  void Close() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  Server::Impl* srv_;
  std::string remote_;
  bool keep_alive_ = false;
  bool non_blocking_ = false;  // the socket's synchronous operations never wait
};

absl::Status Server::Impl::Start() {
  // Split "host:port"; the host may be empty (all interfaces) or a bracketed IPv6 address.
  const std::string& addr = opts.listen_address;
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("listen address \"{}\": missing port (want host:port)", addr));
  }
  std::string host = addr.substr(0, colon);
  std::string port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty()) host = "0.0.0.0";
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("listen address \"{}\": cannot resolve: {}", addr, ec.message()));
  }
  tcp::endpoint ep = results.begin()->endpoint();
  auto fail = [&](std::string_view what) {
    return absl::UnavailableError(fmt::format("listen on {}: {}: {}", addr, what, ec.message()));
  };
  acceptor.open(ep.protocol(), ec);
  if (ec) return fail("open");
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  acceptor.bind(ep, ec);
  if (ec) return fail("bind");
  acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen");
  bound_port = acceptor.local_endpoint().port();

  const int cores = std::max(1u, std::thread::hardware_concurrency());
  const int nio = opts.io_threads > 0 ? opts.io_threads : cores;
  const int nhandlers = opts.handler_threads > 0 ? opts.handler_threads : std::max(2, cores);
  pool = std::make_unique<asio::thread_pool>(nhandlers);
  max_inline = nio - 1;
  work.emplace(ioc.get_executor());
  Accept();
  for (int i = 0; i < nio; ++i) threads.emplace_back([this] { ioc.run(); });
  started = true;
  return absl::OkStatus();
}

void Server::Impl::Accept() {
  acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
      VLOG_WARN("http", "accept failed: {}", ec.message());
    } else {
      s.set_option(tcp::no_delay(true), ec);
      std::make_shared<Session>(std::move(s), this)->Start();
    }
    if (!stopping.load()) Accept();
  });
}

void Server::Impl::Stop() {
  if (!started || stopped) return;
  stopped = true;
  stopping.store(true);
  // 1. Stop accepting.
  asio::post(ioc, [this] {
    beast::error_code ec;
    acceptor.close(ec);
  });
  // 2. Let requests already handed to handlers finish and be written.
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.drain_timeout_ms);
  while (in_flight.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (int n = in_flight.load(); n > 0) {
    VLOG_WARN("http", "{} requests still running after {} ms; closing their connections", n,
              opts.drain_timeout_ms);
  }
  // 3. Close every connection (idle keep-alive ones are waiting in a read).
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [p, w] : sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->Shutdown();
  live.clear();
  pool->join();
  work.reset();
  // Pending operations finish with operation_aborted; give them a moment, then stop.
  for (int i = 0; i < 200 && !ioc.stopped(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ioc.stop();
  for (auto& t : threads) t.join();
  threads.clear();
}

Server::Server(ServerOptions opts, const Router* router)
    : impl_(std::make_unique<Impl>(std::move(opts), router)) {}

Server::~Server() { Stop(); }

absl::Status Server::Start() { return impl_->Start(); }
void Server::Stop() { impl_->Stop(); }
int Server::port() const { return impl_->bound_port; }

}  // namespace vigil::http
