#include "scrape/discovery/discovery.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <curl/curl.h>
#include <glob.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>

#include "base/log.h"
#include "base/status.h"
#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace vigil::scrape::discovery {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

class FileProvider : public Provider {
 public:
  explicit FileProvider(FileSdConfig cfg) : cfg_(std::move(cfg)) {}

  absl::StatusOr<std::vector<TargetGroup>> Refresh() override {
    std::vector<TargetGroup> out;
    stamps_ = Stamps();
    for (const auto& [path, mtime] : stamps_) {
      std::ifstream in(path, std::ios::binary);
      if (!in) return absl::NotFoundError(fmt::format("cannot read {}", path));
      std::stringstream ss;
      ss << in.rdbuf();
      auto groups = ParseTargetGroups(ss.str(), path, model::Labels{{"__meta_filepath", path}});
      if (!groups.ok()) {
        return absl::InvalidArgumentError(
            fmt::format("file_sd {}: {}", path, Msg(groups.status())));
      }
      for (TargetGroup& g : *groups) out.push_back(std::move(g));
    }
    return out;
  }
  bool Changed() override { return Stamps() != stamps_; }
  int64_t refresh_interval_ms() const override { return cfg_.refresh_interval_ms; }
  std::string name() const override { return "file"; }

 private:
  // Every matching file with its modification time (ns).
  std::map<std::string, int64_t> Stamps() const {
    std::map<std::string, int64_t> out;
    for (const std::string& pattern : cfg_.files) {
      glob_t g{};
      if (glob(pattern.c_str(), 0, nullptr, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; ++i) {
          struct stat st{};
          if (stat(g.gl_pathv[i], &st) == 0) {
            out[g.gl_pathv[i]] = int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec +
                                 st.st_size;  // size too: same-tick rewrites still show
          }
        }
      }
      globfree(&g);
    }
    return out;
  }

  const FileSdConfig cfg_;
  std::map<std::string, int64_t> stamps_;
};

size_t CollectBody(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  if (out->size() + size * n > (64u << 20)) return 0;  // refuse absurd documents
  out->append(data, size * n);
  return size * n;
}

class HttpProvider : public Provider {
 public:
  explicit HttpProvider(HttpSdConfig cfg) : cfg_(std::move(cfg)) {}

  absl::StatusOr<std::vector<TargetGroup>> Refresh() override {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
    if (!h) return absl::InternalError("curl_easy_init failed");
    std::string body;
    curl_easy_setopt(h.get(), CURLOPT_URL, cfg_.url.c_str());
    curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, CollectBody);
    curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h.get(), CURLOPT_TIMEOUT_MS, 30'000L);
    curl_easy_setopt(h.get(), CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h.get(), CURLOPT_USERAGENT, "Vigil/http-sd");
    CURLcode rc = curl_easy_perform(h.get());
    if (rc != CURLE_OK) {
      return absl::UnavailableError(
          fmt::format("http_sd {}: {}", cfg_.url, curl_easy_strerror(rc)));
    }
    long code = 0;
    curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
      return absl::UnavailableError(
          fmt::format("http_sd {}: server returned HTTP status {}", cfg_.url, code));
    }
    auto groups = ParseTargetGroups(body, cfg_.url, model::Labels{{"__meta_url", cfg_.url}});
    if (!groups.ok()) {
      return absl::InvalidArgumentError(
          fmt::format("http_sd {}: {}", cfg_.url, Msg(groups.status())));
    }
    return groups;
  }
  int64_t refresh_interval_ms() const override { return cfg_.refresh_interval_ms; }
  std::string name() const override { return "http"; }

 private:
  const HttpSdConfig cfg_;
};

class DnsProvider : public Provider {
 public:
  explicit DnsProvider(DnsSdConfig cfg) : cfg_(std::move(cfg)) {}

  absl::StatusOr<std::vector<TargetGroup>> Refresh() override {
    std::vector<TargetGroup> out;
    for (const std::string& name : cfg_.names) {
      TargetGroup g;
      g.source = name;
      if (cfg_.type == "SRV") {
        RETURN_IF_ERROR(LookupSrv(name, &g));
      } else {
        RETURN_IF_ERROR(LookupAddr(name, &g));
      }
      out.push_back(std::move(g));
    }
    return out;
  }
  int64_t refresh_interval_ms() const override { return cfg_.refresh_interval_ms; }
  std::string name() const override { return "dns"; }

 private:
  absl::Status LookupSrv(const std::string& name, TargetGroup* g) {
    unsigned char answer[NS_PACKETSZ * 16];
    struct __res_state st{};
    if (res_ninit(&st) != 0) return absl::UnavailableError("res_ninit failed");
    int len = res_nquery(&st, name.c_str(), ns_c_in, ns_t_srv, answer, sizeof(answer));
    res_nclose(&st);
    if (len < 0) {
      return absl::UnavailableError(fmt::format("dns_sd: SRV lookup of {} failed", name));
    }
    ns_msg msg;
    if (ns_initparse(answer, len, &msg) != 0) {
      return absl::UnavailableError(fmt::format("dns_sd: bad SRV answer for {}", name));
    }
    for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
      ns_rr rr;
      if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_srv) continue;
      const unsigned char* rd = ns_rr_rdata(rr);
      if (ns_rr_rdlen(rr) < 7) continue;
      int port = (rd[4] << 8) | rd[5];
      char target[NS_MAXDNAME];
      if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 6, target, sizeof(target)) < 0) {
        continue;
      }
      std::string t = target;
      if (!t.empty() && t.back() == '.') t.pop_back();
      std::string fq = t + ".";
      g->targets.push_back(model::Labels{{"__address__", fmt::format("{}:{}", t, port)},
                                         {"__meta_dns_name", name},
                                         {"__meta_dns_srv_record_target", fq},
                                         {"__meta_dns_srv_record_port", fmt::format("{}", port)}});
    }
    return absl::OkStatus();
  }

  absl::Status LookupAddr(const std::string& name, TargetGroup* g) {
    addrinfo hints{};
    hints.ai_family = cfg_.type == "AAAA" ? AF_INET6 : AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = getaddrinfo(name.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
      return absl::UnavailableError(
          fmt::format("dns_sd: lookup of {} failed: {}", name, gai_strerror(rc)));
    }
    std::set<std::string> seen;
    for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
      char buf[INET6_ADDRSTRLEN] = {0};
      std::string addr;
      if (a->ai_family == AF_INET) {
        inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ai_addr)->sin_addr, buf,
                  sizeof(buf));
        addr = fmt::format("{}:{}", buf, cfg_.port);
      } else if (a->ai_family == AF_INET6) {
        inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(a->ai_addr)->sin6_addr, buf,
                  sizeof(buf));
        addr = fmt::format("[{}]:{}", buf, cfg_.port);
      } else {
        continue;
      }
      if (!seen.insert(addr).second) continue;
      g->targets.push_back(
          model::Labels{{"__address__", addr}, {"__meta_dns_name", name}});
    }
    freeaddrinfo(res);
    return absl::OkStatus();
  }

  const DnsSdConfig cfg_;
};

}  // namespace

std::unique_ptr<Provider> NewFileProvider(FileSdConfig cfg) {
  return std::make_unique<FileProvider>(std::move(cfg));
}
std::unique_ptr<Provider> NewHttpProvider(HttpSdConfig cfg) {
  return std::make_unique<HttpProvider>(std::move(cfg));
}
std::unique_ptr<Provider> NewDnsProvider(DnsSdConfig cfg) {
  return std::make_unique<DnsProvider>(std::move(cfg));
}

absl::StatusOr<std::vector<TargetGroup>> ParseTargetGroups(std::string_view text,
                                                           std::string_view source,
                                                           const model::Labels& meta) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}: cannot parse: {}", e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  std::vector<TargetGroup> out;
  if (root.IsNull()) return out;
  if (!root.IsSequence()) return absl::InvalidArgumentError("expected a list of target groups");
  int i = 0;
  for (const YAML::Node& g : root) {
    const YAML::Mark m = g.Mark();
    auto err = [&](std::string_view what) {
      return absl::InvalidArgumentError(
          fmt::format("{}:{}: {}", m.line + 1, m.column + 1, what));
    };
    if (!g.IsMap()) return err("target group must be a mapping");
    TargetGroup tg;
    tg.source = fmt::format("{}:{}", source, i++);
    model::LabelsBuilder lb(meta);
    for (const auto& kv : g) {
      const std::string& k = kv.first.Scalar();
      if (k == "targets") {
        if (!kv.second.IsSequence()) return err("targets must be a list");
        for (const YAML::Node& t : kv.second) {
          if (!t.IsScalar() || t.Scalar().empty()) return err("target must be a string");
          tg.targets.push_back(model::Labels{{"__address__", t.Scalar()}});
        }
      } else if (k == "labels") {
        if (kv.second.IsNull()) continue;
        if (!kv.second.IsMap()) return err("labels must be a mapping");
        for (const auto& l : kv.second) {
          const std::string& name = l.first.Scalar();
          if (!model::IsValidLabelName(name)) {
            return err(fmt::format("\"{}\" is not a valid label name", name));
          }
          lb.Set(name, l.second.IsScalar() ? l.second.Scalar() : std::string());
        }
      } else {
        return err(fmt::format("unknown field \"{}\" in target group", k));
      }
    }
    tg.labels = lb.Build();
    out.push_back(std::move(tg));
  }
  return out;
}

DiscoveryManager::DiscoveryManager(Callback cb, int64_t poll_ms)
    : cb_(std::move(cb)), poll_ms_(poll_ms) {}

DiscoveryManager::~DiscoveryManager() { Stop(); }

void DiscoveryManager::ApplyConfig(const std::vector<ScrapeConfig>& cfgs) {
  std::vector<std::pair<std::string, std::vector<TargetGroup>>> publish;
  {
    std::lock_guard lock(mu_);
    std::map<std::string, Job> next;
    for (const ScrapeConfig& c : cfgs) {
      auto old = jobs_.find(c.job_name);
      if (old != jobs_.end() && old->second.fingerprint == c.fingerprint) {
        next[c.job_name] = std::move(old->second);
        continue;
      }
      Job j;
      j.fingerprint = c.fingerprint;
      j.static_groups = c.static_configs;
      for (const FileSdConfig& f : c.file_sd_configs) j.providers.push_back({NewFileProvider(f)});
      for (const HttpSdConfig& h : c.http_sd_configs) j.providers.push_back({NewHttpProvider(h)});
      for (const DnsSdConfig& d : c.dns_sd_configs) j.providers.push_back({NewDnsProvider(d)});
      next[c.job_name] = std::move(j);
    }
    jobs_ = std::move(next);
    // Static groups are known now: publish them at once so targets start without waiting
    // for the discovery thread. Provider-backed jobs follow on the next tick.
    for (auto& [name, job] : jobs_) {
      std::vector<TargetGroup> all = job.static_groups;
      for (const auto& p : job.providers) all.insert(all.end(), p.groups.begin(), p.groups.end());
      publish.emplace_back(name, std::move(all));
    }
    kick_ = true;
  }
  cv_.notify_all();
  for (auto& [name, groups] : publish) cb_(name, std::move(groups));
}

void DiscoveryManager::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void DiscoveryManager::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DiscoveryManager::Run() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    kick_ = false;
    const int64_t now = NowMs();
    std::vector<std::pair<std::string, std::vector<TargetGroup>>> publish;
    for (auto& [name, job] : jobs_) {
      bool changed = false;
      for (auto& p : job.providers) {
        if (now < p.next_refresh_ms && !p.provider->Changed()) continue;
        p.next_refresh_ms = now + std::max<int64_t>(p.provider->refresh_interval_ms(), 1000);
        absl::StatusOr<std::vector<TargetGroup>> got = p.provider->Refresh();
        if (!got.ok()) {
          VLOG_WARN("discovery", "job {}: {} discovery failed, keeping the last targets: {}",
                    name, p.provider->name(), Msg(got.status()));
          continue;
        }
        p.groups = std::move(*got);
        changed = true;
      }
      if (!changed) continue;
      std::vector<TargetGroup> all = job.static_groups;
      for (const auto& p : job.providers) all.insert(all.end(), p.groups.begin(), p.groups.end());
      publish.emplace_back(name, std::move(all));
    }
    if (!publish.empty()) {
      lock.unlock();
      for (auto& [name, groups] : publish) cb_(name, std::move(groups));
      lock.lock();
    }
    cv_.wait_for(lock, std::chrono::milliseconds(poll_ms_), [this] { return stop_ || kick_; });
  }
}

}  // namespace vigil::scrape::discovery
