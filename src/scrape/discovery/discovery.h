// Service discovery: providers that turn a *_sd_config into target groups, and the
// DiscoveryManager that refreshes them and hands each job's current groups to a callback.
//
//   file   file_sd_configs: JSON or YAML lists of {targets, labels}; the files (globs
//          allowed in the last path element) are re-read when their set or modification
//          times change (checked every poll, default 5 s) and every refresh_interval.
//          Targets get __meta_filepath.
//   http   http_sd_configs: GET the URL, expect 200 and a JSON list of {targets, labels};
//          targets get __meta_url.
//   dns    dns_sd_configs: SRV (res_query) or A/AAAA (getaddrinfo) lookups; targets get
//          __meta_dns_name and, for SRV, __meta_dns_srv_record_target and
//          __meta_dns_srv_record_port.
// A provider that fails keeps its last good groups (as Prometheus does) and logs why.
//
// Thread-safety: a Provider is used by one thread. DiscoveryManager is thread-safe; the
// callback runs on its own thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "scrape/config.h"

namespace vigil::scrape::discovery {

class Provider {
 public:
  virtual ~Provider() = default;
  // The current groups.
  virtual absl::StatusOr<std::vector<TargetGroup>> Refresh() = 0;
  // Cheap check between refreshes (e.g. file modification times); true asks for a Refresh.
  virtual bool Changed() { return false; }
  virtual int64_t refresh_interval_ms() const = 0;
  virtual std::string name() const = 0;
};

std::unique_ptr<Provider> NewFileProvider(FileSdConfig cfg);
std::unique_ptr<Provider> NewHttpProvider(HttpSdConfig cfg);
std::unique_ptr<Provider> NewDnsProvider(DnsSdConfig cfg);

// Parses a file_sd / http_sd document: a JSON or YAML list of {targets: [..], labels: {..}}.
// `source` prefixes each group's source; `meta` is added to every group's labels.
absl::StatusOr<std::vector<TargetGroup>> ParseTargetGroups(std::string_view text,
                                                           std::string_view source,
                                                           const model::Labels& meta);

class DiscoveryManager {
 public:
  // Called with a job's full list of groups whenever it may have changed.
  using Callback = std::function<void(const std::string& job, std::vector<TargetGroup>)>;

  // `poll_ms`: how often providers are checked for changes.
  DiscoveryManager(Callback cb, int64_t poll_ms = 5000);
  ~DiscoveryManager();

  // Replaces the set of jobs. Jobs whose fingerprint is unchanged keep their providers and
  // last groups. Every job is refreshed soon after (static ones at once, in this call).
  void ApplyConfig(const std::vector<ScrapeConfig>& cfgs);
  void Start();
  void Stop();

 private:
  struct Job {
    std::string fingerprint;
    std::vector<TargetGroup> static_groups;
    struct P {
      std::unique_ptr<Provider> provider;
      std::vector<TargetGroup> groups;
      int64_t next_refresh_ms = 0;
    };
    std::vector<P> providers;
  };
  void Run();

  const Callback cb_;
  const int64_t poll_ms_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool kick_ = false;
  std::map<std::string, Job> jobs_;
  std::thread thread_;
};

}  // namespace vigil::scrape::discovery
