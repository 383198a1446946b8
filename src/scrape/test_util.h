// Test helpers for the scrape module: a tiny HTTP server on 127.0.0.1 serving canned
// bodies per path (optionally slow or failing), and an Appendable that records what was
// committed.
//
// Thread-safety: both are thread-safe.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "model/labels.h"
#include "storage/appender.h"

namespace vigil::scrape::testing {

class FakeExporter {
 public:
  struct Reply {
    int status = 200;
    std::string body;
    std::string content_type = "text/plain; version=0.0.4";
    int delay_ms = 0;
  };

  FakeExporter() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    listen(fd_, 128);
    socklen_t len = sizeof(a);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeExporter() {
    stop_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (auto& t : workers_) t.join();
  }

  std::string address() const { return fmt::format("127.0.0.1:{}", port_); }
  void Set(const std::string& path, Reply r) {
    std::lock_guard lock(mu_);
    replies_[path] = std::move(r);
  }
  int hits(const std::string& path) {
    std::lock_guard lock(mu_);
    return hits_[path];
  }
  std::string last_request(const std::string& path) {
    std::lock_guard lock(mu_);
    return requests_[path];
  }

 private:
  void Serve() {
    while (!stop_) {
      int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::lock_guard lock(mu_);
      workers_.emplace_back([this, c] { Handle(c); });
    }
  }
  void Handle(int c) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      req.append(buf, n);
    }
    std::string path;
    size_t sp = req.find(' ');
    if (sp != std::string::npos) path = req.substr(sp + 1, req.find(' ', sp + 1) - sp - 1);
    path = path.substr(0, path.find('?'));
    Reply r;
    bool found;
    {
      std::lock_guard lock(mu_);
      found = replies_.count(path) != 0;
      if (found) r = replies_[path];
      ++hits_[path];
      requests_[path] = req;
    }
    if (!found) r = Reply{404, "not found"};
    for (int waited = 0; waited < r.delay_ms && !stop_; waited += 10) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::string resp = fmt::format(
        "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
        r.status, r.content_type, r.body.size(), r.body);
    size_t off = 0;
    while (off < resp.size()) {
      ssize_t n = send(c, resp.data() + off, resp.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += n;
    }
    close(c);
  }

  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
  std::map<std::string, Reply> replies_;
  std::map<std::string, int> hits_;
  std::map<std::string, std::string> requests_;
};

// Records committed samples: series string -> samples in commit order.
class RecordingAppendable : public storage::Appendable {
 public:
  struct Point {
    int64_t t;
    double v;
  };
  std::unique_ptr<storage::Appender> NewAppender(std::string_view) override {
    return std::make_unique<App>(this);
  }
  std::map<std::string, std::vector<Point>> Snapshot() {
    std::lock_guard lock(mu_);
    return series_;
  }
  std::vector<Point> Get(const std::string& s) {
    std::lock_guard lock(mu_);
    auto it = series_.find(s);
    return it == series_.end() ? std::vector<Point>{} : it->second;
  }

 private:
  class App : public storage::Appender {
   public:
    explicit App(RecordingAppendable* db) : db_(db) {}
    absl::StatusOr<storage::SeriesRef> Append(storage::SeriesRef, const model::Labels& l,
                                              int64_t t, double v) override {
      pending_.push_back({l.ToString(), {t, v}});
      return 1;  // refs are ignored here; labels always come along
    }
    absl::Status Commit() override {
      std::lock_guard lock(db_->mu_);
      for (auto& [s, p] : pending_) db_->series_[s].push_back(p);
      pending_.clear();
      return absl::OkStatus();
    }
    void Rollback() override { pending_.clear(); }

   private:
    RecordingAppendable* db_;
    std::vector<std::pair<std::string, Point>> pending_;
  };
  std::mutex mu_;
  std::map<std::string, std::vector<Point>> series_;
};

}  // namespace vigil::scrape::testing
