#include "ingest/statsd_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "base/log.h"
#include "fmt/format.h"

namespace vigil::ingest {

StatsdServer::StatsdServer(StatsdServerOptions opts, storage::Appendable* db,
                           IngestMetrics* metrics, IngestOptions ingest)
    : opts_(std::move(opts)), db_(db), metrics_(metrics), ingest_(std::move(ingest)),
      agg_(opts_.aggregator) {}

StatsdServer::~StatsdServer() { Stop(); }

absl::Status StatsdServer::Start() {
  const std::string& addr = opts_.listen_address;
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(fmt::format("statsd listen address \"{}\": want host:port", addr));
  }
  std::string host = addr.substr(0, colon), port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_DGRAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        fmt::format("statsd listen address \"{}\": {}", addr, gai_strerror(rc)));
  }
  fd_ = socket(res->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || bind(fd_, res->ai_addr, res->ai_addrlen) != 0) {
    const int err = errno;
    freeaddrinfo(res);
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return absl::UnavailableError(fmt::format("statsd: cannot bind UDP {}: {}", addr, std::strerror(err)));
  }
  freeaddrinfo(res);
  int rcvbuf = 8 << 20;  // absorb bursts while the flush holds the lock
  setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len);
  port_ = ss.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port)
                                   : ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  stop_ = false;
  receiver_ = std::thread([this] { ReceiveLoop(); });
  flusher_ = std::thread([this] { FlushLoop(); });
  VLOG_INFO("statsd", "listening on UDP {} (port {}), flushing every {} ms", addr, port_,
            opts_.flush_interval_ms);
  return absl::OkStatus();
}

void StatsdServer::Stop() {
  if (fd_ < 0) return;
  stop_ = true;
  wake_.notify_all();
  if (receiver_.joinable()) receiver_.join();
  if (flusher_.joinable()) flusher_.join();
  close(fd_);
  fd_ = -1;
  FlushNow();  // what arrived since the last flush
}

void StatsdServer::ReceiveLoop() {
  std::string buf(65536, '\0');
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    const ssize_t n = recv(fd_, buf.data(), buf.size(), 0);
    if (n <= 0) continue;
    StatsdAggregator::Result r;
    {
      std::lock_guard<std::mutex> lock(mu_);
      r = agg_.Ingest(std::string_view(buf.data(), static_cast<size_t>(n)), ingest_.Now());
    }
    if (r.bad_lines > 0) {
      metrics_->Refused("statsd", "invalid_line", r.bad_lines);
      VLOG_DEBUG("statsd", "{} bad lines, first: {}", r.bad_lines, r.first_error);
    }
    if (r.dropped > 0) metrics_->Refused("statsd", "series_limit", r.dropped);
  }
}

void StatsdServer::FlushLoop() {
  while (!stop_) {
    {
      std::unique_lock<std::mutex> lock(wake_mu_);
      wake_.wait_for(lock, std::chrono::milliseconds(opts_.flush_interval_ms),
                     [this] { return stop_.load(); });
    }
    if (stop_) break;
    FlushNow();
  }
}

WriteResult StatsdServer::FlushNow() {
  std::lock_guard<std::mutex> flush_lock(flush_mu_);
  DecodedBatch batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    agg_.Flush(ingest_.Now(), &batch);
  }
  if (batch.samples.empty()) return {};
  BatchWriter w(db_, storage::kDefaultTenant, "statsd", metrics_, ingest_);
  WriteResult r = WriteBatch(&batch, &w);
  if (r.http_status != 204) VLOG_WARN("statsd", "flush: {}", r.message);
  return r;
}

}  // namespace vigil::ingest
