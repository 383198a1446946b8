#include "scrape/manager.h"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "base/log.h"
#include "fmt/format.h"
#include "ingest/text_parser.h"
#include "model/relabel.h"
#include "model/sample.h"
#include "scrape/discovery/discovery.h"

namespace vigil::scrape {
namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// What Prometheus 2.x sends: OpenMetrics preferred, the text format as fallback.
constexpr const char* kAcceptHeader =
    "Accept: application/openmetrics-text;version=1.0.0;q=0.5,"
    "application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,"
    "*/*;q=0.2";

std::string ReadFileTrimmed(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

// For tls_config.server_name: rewrites an https URL so that libcurl sends `server_name`
// in SNI and checks the certificate against it, and gives the CONNECT_TO entry that still
// takes the connection to the URL's own host and port, and the Host header naming them.
// False if the URL cannot be parsed (the scrape then fails on it as it would anyway).
bool WithServerName(const std::string& url, const std::string& server_name,
                    std::string* out_url, std::string* connect_to, std::string* host_header) {
  CURLU* u = curl_url();
  bool ok = curl_url_set(u, CURLUPART_URL, url.c_str(), 0) == CURLUE_OK;
  char* host = nullptr;
  char* port = nullptr;
  char* given_port = nullptr;
  char* rewritten = nullptr;
  ok = ok && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
       curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK;
  if (ok) {
    const bool explicit_port = curl_url_get(u, CURLUPART_PORT, &given_port, 0) == CURLUE_OK;
    *host_header = explicit_port ? fmt::format("{}:{}", host, given_port) : std::string(host);
    *connect_to = fmt::format("{}:{}:{}:{}", server_name, port, host, port);
    ok = curl_url_set(u, CURLUPART_HOST, server_name.c_str(), 0) == CURLUE_OK &&
         curl_url_get(u, CURLUPART_URL, &rewritten, 0) == CURLUE_OK;
    if (ok) *out_url = rewritten;
  }
  curl_free(host);
  curl_free(port);
  curl_free(given_port);
  curl_free(rewritten);
  curl_url_cleanup(u);
  return ok;
}

// A few threads that parse and append finished scrapes, so the loop thread only moves
// bytes and one core's worth of parsing does not bound the fleet.
class WorkerPool {
 public:
  explicit WorkerPool(int n) {
    for (int i = 0; i < n; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~WorkerPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
  }
  void Post(std::function<void()> f) {
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(f));
    }
    cv_.notify_one();
  }
  // Returns once every posted job has run.
  void WaitIdle() {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [this] { return queue_.empty() && running_ == 0; });
  }

 private:
  void Work() {
    while (true) {
      std::function<void()> f;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (queue_.empty()) return;
        f = std::move(queue_.front());
        queue_.pop_front();
        ++running_;
      }
      f();
      std::lock_guard lock(mu_);
      if (--running_ == 0 && queue_.empty()) idle_cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<std::function<void()>> queue_;
  int running_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

int WorkerThreads(int configured) {
  if (configured > 0) return configured;
  return std::clamp(static_cast<int>(std::thread::hardware_concurrency()), 1, 8);
}

}  // namespace

struct ScrapeMetrics {
  std::atomic<int64_t> scrapes{0};
  std::atomic<int64_t> missed{0};
  metrics::Counter* scrapes_counter = nullptr;
  metrics::Counter* missed_counter = nullptr;
  metrics::Counter* failed_counter = nullptr;
  metrics::Counter* sample_limit_counter = nullptr;
  metrics::Counter* exemplars_stored = nullptr;
  metrics::Counter* exemplars_refused = nullptr;
};

struct Manager::Target {
  // Set under the loop's mutex; read by the loop thread.
  std::string pool;
  std::string key;
  std::shared_ptr<const ScrapeConfig> cfg;
  TargetSpec spec;
  int64_t offset_ms = 0;
  int64_t next_ms = 0;  // wall clock of the next scrape; 0: not scheduled yet
  bool removed = false;
  bool reset_cache = false;

  // Loop thread only.
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  curl_slist* connect_to = nullptr;
  char curl_error[CURL_ERROR_SIZE] = {0};  // libcurl's detail for a failed transfer
  std::string body;
  int64_t body_limit = 0;
  bool body_too_large = false;
  bool inflight = false;
  int64_t start_ms = 0;
  std::chrono::steady_clock::time_point start_steady;
  struct Entry {
    model::Labels labels;
    storage::SeriesRef ref = 0;
    bool dropped = false;
    bool track = false;  // gets a staleness marker when it disappears
    uint64_t seen = 0;   // last scrape iteration that stored it
  };
  std::unordered_map<std::string, Entry> cache;
  uint64_t iter = 0;
  bool report_written = false;
  storage::SeriesRef report_refs[5] = {0, 0, 0, 0, 0};

  // Status for the API, under the loop's mutex.
  std::string health = "unknown";
  std::string last_error;
  int64_t last_scrape_ms = 0;
  double last_duration_s = 0;
  std::map<std::string, MetricMetadata> metadata;

  ~Target() {
    if (easy != nullptr) curl_easy_cleanup(easy);
    if (headers != nullptr) curl_slist_free_all(headers);
    if (connect_to != nullptr) curl_slist_free_all(connect_to);
  }
};

struct Manager::Pool {
  std::shared_ptr<const ScrapeConfig> cfg;
  std::map<std::string, std::shared_ptr<Target>> targets;
  std::vector<DroppedTargetStatus> dropped;
  std::vector<TargetGroup> groups;
};

class Manager::Loop {
 public:
  Loop(Manager* m)
      : m_(m), workers_(std::make_unique<WorkerPool>(WorkerThreads(m->opts_.append_threads))) {
    multi_ = curl_multi_init();
  }
  ~Loop() {
    Stop();
    workers_.reset();
    curl_multi_cleanup(multi_);
  }

  void Start() {
    std::lock_guard lock(mu_);
    if (thread_.joinable()) return;
    stop_ = false;
    thread_ = std::thread([this] { Run(); });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      if (!thread_.joinable()) return;
      stop_ = true;
    }
    curl_multi_wakeup(multi_);
    thread_.join();
  }

  void Wake() { curl_multi_wakeup(multi_); }

  std::mutex mu_;
  std::map<std::string, Pool> pools_;
  std::vector<std::shared_ptr<Target>> retiring_;
  bool dirty_ = true;

  void Retire(const std::shared_ptr<Target>& t) {
    t->removed = true;
    retiring_.push_back(t);
    dirty_ = true;
  }

 private:
  void Run();
  void Schedule(Target* t, int64_t now);
  void StartScrape(Target* t, int64_t now);
  // On the loop thread: a transfer ended; hands the rest to a worker.
  void Finish(Target* t, CURLcode rc);
  // On a worker: parses and appends the scrape, writes the report series, ends the
  // target's in-flight state.
  void Process(Target* t, std::shared_ptr<const ScrapeConfig> cfg, absl::Status err,
               std::string content_type);
  // An exemplar waiting for its scrape's samples to be committed.
  struct PendingExemplar {
    const Target::Entry* series;
    storage::Exemplar ex;
  };
  absl::Status ParseAndAppend(Target* t, const ScrapeConfig& cfg, std::string_view content_type,
                              int64_t ts, ingest::BatchWriter* w, int64_t* scraped,
                              int64_t* post, int64_t* added,
                              std::map<std::string, MetricMetadata>* meta,
                              std::vector<PendingExemplar>* exemplars);
  void StoreExemplars(Target* t, const std::vector<PendingExemplar>& exemplars);
  void AppendStale(Target* t, ingest::BatchWriter* w, int64_t ts, bool all);
  void WriteReport(Target* t, ingest::BatchWriter* w, int64_t ts, bool up, double duration,
                   int64_t scraped, int64_t post, int64_t added);
  void EndOfRun(Target* t);

  static size_t OnBody(char* data, size_t size, size_t n, void* user) {
    auto* t = static_cast<Target*>(user);
    size_t len = size * n;
    if (t->body_limit > 0 && static_cast<int64_t>(t->body.size() + len) > t->body_limit) {
      t->body_too_large = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    t->body.append(data, len);
    return len;
  }

  Manager* const m_;
  std::unique_ptr<WorkerPool> workers_;
  CURLM* multi_ = nullptr;
  bool stop_ = false;
  std::thread thread_;
  int64_t earliest_due_ = 0;
  int inflight_ = 0;
};

void Manager::Loop::Schedule(Target* t, int64_t now) {
  const int64_t iv = t->spec.interval_ms;
  int64_t base = now - now % iv + t->offset_ms % iv;
  if (base < now) base += iv;
  t->next_ms = base;
}

void Manager::Loop::Run() {
  int64_t stop_deadline = 0;
  while (true) {
    const int64_t now = m_->opts_.now_ms ? m_->opts_.now_ms() : WallMs();
    std::vector<std::shared_ptr<Target>> to_start;
    std::vector<std::shared_ptr<Target>> to_end;
    bool stopping;
    {
      std::lock_guard lock(mu_);
      stopping = stop_;
      if (stopping && stop_deadline == 0) {
        // Every target goes away: they end as removed targets do, with staleness markers.
        for (auto& [name, pool] : pools_) {
          for (auto& [key, t] : pool.targets) Retire(t);
        }
        pools_.clear();
        stop_deadline = now + 5000;
      }
      for (auto it = retiring_.begin(); it != retiring_.end();) {
        if ((*it)->inflight) {
          ++it;
          continue;
        }
        to_end.push_back(std::move(*it));
        it = retiring_.erase(it);
      }
      if (!stopping && (dirty_ || now >= earliest_due_)) {
        dirty_ = false;
        earliest_due_ = now + 1000;
        for (auto& [name, pool] : pools_) {
          for (auto& [key, t] : pool.targets) {
            if (t->next_ms == 0) Schedule(t.get(), now);
            if (t->next_ms <= now) {
              if (t->inflight) {
                // Still waiting for the previous scrape: this slot is lost.
                m_->metrics_->missed.fetch_add(1);
                if (m_->metrics_->missed_counter) m_->metrics_->missed_counter->Inc();
                t->next_ms += t->spec.interval_ms;
              } else {
                to_start.push_back(t);
              }
            }
            if (t->next_ms > now) earliest_due_ = std::min(earliest_due_, t->next_ms);
          }
        }
      }
    }
    for (auto& t : to_end) EndOfRun(t.get());
    for (auto& t : to_start) {
      // Samples carry the slot's time, so a target's timestamps step by exactly the
      // interval (cheaper to store than the loop's jitter).
      StartScrape(t.get(), t->next_ms);
      std::lock_guard lock(mu_);
      t->next_ms += t->spec.interval_ms;
      if (t->next_ms <= now) {
        // The loop fell behind by whole intervals: count them and move on.
        int64_t behind = (now - t->next_ms) / t->spec.interval_ms + 1;
        m_->metrics_->missed.fetch_add(behind);
        if (m_->metrics_->missed_counter) m_->metrics_->missed_counter->Inc(behind);
        t->next_ms += behind * t->spec.interval_ms;
      }
      earliest_due_ = std::min(earliest_due_, t->next_ms);
    }
    if (stopping) {
      std::lock_guard lock(mu_);
      if ((inflight_ == 0 && retiring_.empty()) || now > stop_deadline) break;
    }
    int running = 0;
    curl_multi_perform(multi_, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi_, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Target* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      CURLcode rc = msg->data.result;
      curl_multi_remove_handle(multi_, msg->easy_handle);
      Finish(t, rc);
    }
    int64_t wait;
    {
      std::lock_guard lock(mu_);
      if (stop_ && !stopping) continue;
      wait = dirty_ ? 0 : earliest_due_ - (m_->opts_.now_ms ? m_->opts_.now_ms() : WallMs());
    }
    wait = std::clamp<int64_t>(wait, 0, 1000);
    if (stopping) wait = std::min<int64_t>(wait, 50);
    curl_multi_poll(multi_, nullptr, 0, static_cast<int>(wait), nullptr);
  }
  // Scrapes being parsed finish; whatever is still in flight after the deadline is
  // abandoned.
  workers_->WaitIdle();
  std::lock_guard lock(mu_);
  for (auto& t : retiring_) {
    if (t->inflight) curl_multi_remove_handle(multi_, t->easy);
    t->inflight = false;
  }
  retiring_.clear();
}

void Manager::Loop::StartScrape(Target* t, int64_t now) {
  std::shared_ptr<const ScrapeConfig> cfg;
  std::string url;
  int64_t timeout;
  {
    std::lock_guard lock(mu_);
    cfg = t->cfg;
    url = t->spec.url;
    timeout = t->spec.timeout_ms;
  }
  if (t->easy == nullptr) t->easy = curl_easy_init();
  CURL* h = t->easy;
  curl_easy_reset(h);
  if (t->headers != nullptr) curl_slist_free_all(t->headers);
  t->headers = nullptr;
  t->headers = curl_slist_append(t->headers, kAcceptHeader);
  t->headers = curl_slist_append(
      t->headers,
      fmt::format("X-Prometheus-Scrape-Timeout-Seconds: {}", timeout / 1000.0).c_str());
  if (!cfg->authorization_type.empty()) {
    std::string cred = cfg->authorization_credentials_file.empty()
                           ? cfg->authorization_credentials
                           : ReadFileTrimmed(cfg->authorization_credentials_file);
    t->headers = curl_slist_append(
        t->headers, fmt::format("Authorization: {} {}", cfg->authorization_type, cred).c_str());
  }
  if (t->connect_to != nullptr) curl_slist_free_all(t->connect_to);
  t->connect_to = nullptr;
  std::string connect_to, host_header;
  if (!cfg->tls.server_name.empty() && url.starts_with("https://") &&
      WithServerName(url, cfg->tls.server_name, &url, &connect_to, &host_header)) {
    t->connect_to = curl_slist_append(nullptr, connect_to.c_str());
    t->headers = curl_slist_append(t->headers, fmt::format("Host: {}", host_header).c_str());
    curl_easy_setopt(h, CURLOPT_CONNECT_TO, t->connect_to);
  }
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(h, CURLOPT_PRIVATE, t);
  t->curl_error[0] = '\0';
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->curl_error);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &Loop::OnBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout));
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, m_->opts_.user_agent.c_str());
  if (cfg->has_basic_auth) {
    std::string pw = cfg->basic_auth.password_file.empty()
                         ? cfg->basic_auth.password
                         : ReadFileTrimmed(cfg->basic_auth.password_file);
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, cfg->basic_auth.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, pw.c_str());  // curl copies option strings
  }
  if (!cfg->tls.ca_file.empty()) curl_easy_setopt(h, CURLOPT_CAINFO, cfg->tls.ca_file.c_str());
  if (!cfg->tls.cert_file.empty()) {
    curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->tls.cert_file.c_str());
    curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->tls.key_file.c_str());
  }
  if (cfg->tls.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  t->body.clear();
  t->body_limit = cfg->body_size_limit;
  t->body_too_large = false;
  t->start_ms = now;
  t->start_steady = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    t->inflight = true;
    ++inflight_;
  }
  curl_multi_add_handle(multi_, h);
}

void Manager::Loop::Finish(Target* t, CURLcode rc) {
  std::shared_ptr<const ScrapeConfig> cfg;
  {
    std::lock_guard lock(mu_);
    if (t->removed) {
      t->inflight = false;
      --inflight_;
      return;  // EndOfRun writes its staleness markers
    }
    cfg = t->cfg;
  }
  absl::Status err;
  long code = 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
  const char* ctype = nullptr;
  curl_easy_getinfo(t->easy, CURLINFO_CONTENT_TYPE, &ctype);
  if (rc != CURLE_OK) {
    if (t->body_too_large) {
      err = absl::ResourceExhaustedError(
          fmt::format("body size limit exceeded (limit: {} bytes)", cfg->body_size_limit));
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
      err = absl::DeadlineExceededError(
          fmt::format("Get \"{}\": context deadline exceeded", t->spec.url));
    } else {
      err = absl::UnavailableError(
          fmt::format("Get \"{}\": {}", t->spec.url,
                      t->curl_error[0] != '\0' ? t->curl_error : curl_easy_strerror(rc)));
    }
  } else if (code != 200) {
    err = absl::UnavailableError(fmt::format("server returned HTTP status {}", code));
  }
  // The target stays in flight (so neither a new scrape nor EndOfRun touches it) until
  // Process ends.
  workers_->Post([this, t, cfg = std::move(cfg), err = std::move(err),
                  ct = std::string(ctype == nullptr ? "" : ctype)]() mutable {
    Process(t, std::move(cfg), std::move(err), std::move(ct));
  });
}

void Manager::Loop::Process(Target* t, std::shared_ptr<const ScrapeConfig> cfg,
                            absl::Status err, std::string content_type) {
  {
    std::lock_guard lock(mu_);
    if (t->cfg != cfg) cfg = t->cfg;  // a reload changed the job's config meanwhile
    if (t->reset_cache) {
      // The job's config changed: cached label sets may relabel differently now. As
      // Prometheus does on a config change, the old series are not marked stale.
      t->cache.clear();
      t->reset_cache = false;
    }
  }
  m_->metrics_->scrapes.fetch_add(1);
  if (m_->metrics_->scrapes_counter) m_->metrics_->scrapes_counter->Inc();
  ++t->iter;
  ingest::IngestOptions iopts;
  ingest::BatchWriter w(m_->db_, m_->opts_.tenant, "scrape", m_->ingest_metrics_, iopts);
  int64_t scraped = 0, post = 0, added = 0;
  std::map<std::string, MetricMetadata> meta;
  std::vector<PendingExemplar> exemplars;
  if (err.ok()) {
    err = ParseAndAppend(t, *cfg, content_type, t->start_ms, &w, &scraped, &post, &added,
                         &meta, &exemplars);
  }
  if (!err.ok()) {
    post = 0;
    added = 0;
    if (m_->metrics_->failed_counter) m_->metrics_->failed_counter->Inc();
  }
  // Series stored by the previous scrape and not by this one (all of them when this one
  // failed) end with a staleness marker.
  AppendStale(t, &w, t->start_ms, /*all=*/false);
  // As in Prometheus, the duration covers the request, parsing and appending (not the
  // commit), so it shows a scrape slowed by a large body as well as by a slow target.
  const double duration =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t->start_steady).count();
  WriteReport(t, &w, t->start_ms, err.ok(), duration, scraped, post, added);
  ingest::WriteResult res = w.Finish();
  if (res.http_status >= 500) {
    VLOG_ERROR("scrape", "{}: cannot store scraped samples: {}", t->spec.url, res.message);
  } else if (err.ok() && !exemplars.empty()) {
    StoreExemplars(t, exemplars);
  }
  bool meta_changed = false;
  if (err.ok() && m_->opts_.on_metadata) {
    std::lock_guard lock(mu_);
    meta_changed = meta != t->metadata;
  }
  if (meta_changed) {
    std::vector<ingest::MetricMetadata> md;
    md.reserve(meta.size());
    for (const auto& [name, m] : meta) {
      md.push_back({name, m.type.empty() ? "unknown" : m.type, m.help, m.unit});
    }
    m_->opts_.on_metadata(m_->opts_.tenant, md);
  }
  std::lock_guard lock(mu_);
  t->health = err.ok() ? "up" : "down";
  t->last_error = err.ok() ? "" : Msg(err);
  t->last_scrape_ms = t->start_ms;
  t->last_duration_s = duration;
  if (err.ok()) t->metadata = std::move(meta);
  t->body.clear();
  if (t->body.capacity() > (4u << 20)) t->body.shrink_to_fit();
  t->inflight = false;
  --inflight_;
  // The loop may be waiting for this target to end (a removal, a stop).
  if (t->removed || stop_) Wake();
}

absl::Status Manager::Loop::ParseAndAppend(Target* t, const ScrapeConfig& cfg,
                                           std::string_view content_type, int64_t ts,
                                           ingest::BatchWriter* w, int64_t* scraped,
                                           int64_t* post, int64_t* added,
                                           std::map<std::string, MetricMetadata>* meta,
                                           std::vector<PendingExemplar>* exemplars) {
  struct Pending {
    Target::Entry* e;
    int64_t t;
    double v;
    bool track;
  };
  std::vector<Pending> pending;
  ingest::TextParser p(t->body, ingest::TextFormatFromContentType(content_type));
  std::string key;
  model::Labels scratch;
  const model::Labels& tl = t->spec.labels;
  while (true) {
    absl::StatusOr<ingest::TextParser::Entry> e = p.Next();
    if (!e.ok()) return absl::InvalidArgumentError(fmt::format("parse: {}", Msg(e.status())));
    if (*e == ingest::TextParser::Entry::kEof) break;
    switch (*e) {
      case ingest::TextParser::Entry::kHelp:
        (*meta)[std::string(p.meta_name())].help = std::string(p.help());
        continue;
      case ingest::TextParser::Entry::kType:
        (*meta)[std::string(p.meta_name())].type = std::string(ingest::MetricTypeName(p.type()));
        continue;
      case ingest::TextParser::Entry::kUnit:
        (*meta)[std::string(p.meta_name())].unit = std::string(p.unit());
        continue;
      default:
        break;
    }
    ++*scraped;
    key.assign(p.metric_name());
    for (size_t i = 0; i < p.num_labels(); ++i) {
      key.push_back('\xff');
      key.append(p.label_name(i));
      key.push_back('\xfe');
      key.append(p.label_value(i));
    }
    auto [it, inserted] = t->cache.try_emplace(key);
    Target::Entry& ce = it->second;
    if (inserted) {
      p.FillLabels(&scratch);
      ingest::NormalizeLabels(&scratch);
      model::LabelsBuilder b(scratch);
      if (cfg.honor_labels) {
        for (const model::Label& l : tl) {
          if (!scratch.Has(l.name)) b.Set(l.name, l.value);
        }
      } else {
        for (const model::Label& l : tl) {
          std::string_view existing = scratch.Get(l.name);
          if (!existing.empty()) {
            std::string name = "exported_" + l.name;
            while (scratch.Has(name)) name = "exported_" + name;
            b.Set(name, existing);
          }
          b.Set(l.name, l.value);
        }
      }
      std::optional<model::Labels> out = model::Relabel(b.Build(), cfg.metric_relabel_configs);
      if (!out.has_value() || out->empty()) {
        ce.dropped = true;
      } else {
        ce.labels = std::move(*out);
        absl::Status lim;
        if (cfg.label_limit > 0 && static_cast<int64_t>(ce.labels.size()) > cfg.label_limit) {
          lim = absl::ResourceExhaustedError(fmt::format(
              "label_limit exceeded (metric: {}, number of labels: {}, limit: {})",
              ce.labels.MetricName(), ce.labels.size(), cfg.label_limit));
        }
        for (const model::Label& l : ce.labels) {
          if (!lim.ok()) break;
          if (cfg.label_name_length_limit > 0 &&
              static_cast<int64_t>(l.name.size()) > cfg.label_name_length_limit) {
            lim = absl::ResourceExhaustedError(fmt::format(
                "label_name_length_limit exceeded (metric: {}, label name: {}, limit: {})",
                ce.labels.MetricName(), l.name, cfg.label_name_length_limit));
          } else if (cfg.label_value_length_limit > 0 &&
                     static_cast<int64_t>(l.value.size()) > cfg.label_value_length_limit) {
            lim = absl::ResourceExhaustedError(fmt::format(
                "label_value_length_limit exceeded (metric: {}, label name: {}, value: "
                "\"{}\", limit: {})",
                ce.labels.MetricName(), l.name, l.value, cfg.label_value_length_limit));
          }
        }
        if (!lim.ok()) {
          t->cache.erase(it);  // a later scrape re-checks it under the then-current config
          return lim;
        }
        ++*added;
      }
    }
    if (ce.dropped) {
      ce.seen = t->iter;
      continue;
    }
    ++*post;
    std::optional<int64_t> exposed = p.timestamp_ms();
    const bool use_exposed = cfg.honor_timestamps && exposed.has_value();
    pending.push_back({&ce, use_exposed ? *exposed : ts, p.value(), !use_exposed});
    if (p.has_exemplar() && m_->opts_.exemplars != nullptr) {
      PendingExemplar& pe = exemplars->emplace_back();
      pe.series = &ce;
      p.FillExemplarLabels(&pe.ex.labels);
      pe.ex.value = p.exemplar_value();
      pe.ex.t = p.exemplar_timestamp_ms().value_or(pending.back().t);
    }
  }
  if (cfg.sample_limit > 0 && *post > cfg.sample_limit) {
    if (m_->metrics_->sample_limit_counter) m_->metrics_->sample_limit_counter->Inc();
    return absl::ResourceExhaustedError(
        fmt::format("sample limit exceeded (limit: {}, samples: {})", cfg.sample_limit, *post));
  }
  for (Pending& s : pending) {
    w->Add(&s.e->labels, s.t, s.v, &s.e->ref);
    s.e->seen = t->iter;
    s.e->track = s.track;
  }
  // Forget series gone for a while, so a target whose series churn does not grow the
  // cache without bound.
  if (t->cache.size() > 2 * pending.size() + 1024) {
    for (auto c = t->cache.begin(); c != t->cache.end();) {
      if (c->second.seen + 1 < t->iter) {
        c = t->cache.erase(c);
      } else {
        ++c;
      }
    }
  }
  return absl::OkStatus();
}

void Manager::Loop::StoreExemplars(Target* t, const std::vector<PendingExemplar>& exemplars) {
  // One batch, so storage logs the scrape's exemplars with one WAL write.
  std::vector<storage::ExemplarAppendable::SeriesExemplar> batch;
  batch.reserve(exemplars.size());
  for (const PendingExemplar& pe : exemplars) batch.push_back({&pe.series->labels, pe.ex});
  std::vector<absl::Status> results(batch.size());
  m_->opts_.exemplars->AppendExemplars(m_->opts_.tenant, batch, results);
  int64_t refused = 0;
  absl::Status first;
  for (const absl::Status& s : results) {
    if (!s.ok() && refused++ == 0) first = s;
  }
  if (m_->metrics_->exemplars_stored) {
    m_->metrics_->exemplars_stored->Inc(static_cast<double>(exemplars.size() - refused));
  }
  if (refused > 0) {
    if (m_->metrics_->exemplars_refused) m_->metrics_->exemplars_refused->Inc(refused);
    VLOG_DEBUG("scrape", "{}: {} exemplar(s) refused, first: {}", t->spec.url, refused, Msg(first));
  }
}

void Manager::Loop::AppendStale(Target* t, ingest::BatchWriter* w, int64_t ts, bool all) {
  const double stale = model::StaleNaN();
  for (auto& [key, e] : t->cache) {
    if (e.dropped || !e.track) continue;
    // After a scrape: what the previous one stored and this one did not. At the end of
    // the run: what the last scrape stored.
    const bool gone = all ? e.seen == t->iter : e.seen + 1 == t->iter;
    if (gone) w->Add(&e.labels, ts, stale, &e.ref);
  }
}

namespace {
constexpr std::string_view kReportNames[5] = {
    "up", "scrape_duration_seconds", "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling", "scrape_series_added"};
}

void Manager::Loop::WriteReport(Target* t, ingest::BatchWriter* w, int64_t ts, bool up,
                                double duration, int64_t scraped, int64_t post,
                                int64_t added) {
  const double values[5] = {up ? 1.0 : 0.0, duration, static_cast<double>(scraped),
                            static_cast<double>(post), static_cast<double>(added)};
  for (int i = 0; i < 5; ++i) {
    model::Labels l = model::LabelsBuilder(t->spec.labels).Set("__name__", kReportNames[i]).Build();
    w->Add(&l, ts, values[i], &t->report_refs[i]);
  }
  t->report_written = true;
}

void Manager::Loop::EndOfRun(Target* t) {
  // The target is gone: its series and its report series end now.
  const int64_t now = m_->opts_.now_ms ? m_->opts_.now_ms() : WallMs();
  if (!t->report_written) return;
  ingest::IngestOptions iopts;
  ingest::BatchWriter w(m_->db_, m_->opts_.tenant, "scrape", m_->ingest_metrics_, iopts);
  // Entries stored by the last scrape have seen == iter.
  AppendStale(t, &w, now, /*all=*/true);
  for (int i = 0; i < 5; ++i) {
    model::Labels l = model::LabelsBuilder(t->spec.labels).Set("__name__", kReportNames[i]).Build();
    w.Add(&l, now, model::StaleNaN(), &t->report_refs[i]);
  }
  w.Finish();
}

Manager::Manager(storage::Appendable* db, ingest::IngestMetrics* ingest_metrics,
                 metrics::Registry* registry, ManagerOptions opts)
    : db_(db), ingest_metrics_(ingest_metrics), opts_(std::move(opts)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  metrics_ = std::make_unique<ScrapeMetrics>();
  if (registry != nullptr) {
    metrics_->scrapes_counter =
        registry->NewCounter("vigil_scrape_scrapes_total", "Scrapes completed (any outcome).");
    metrics_->failed_counter =
        registry->NewCounter("vigil_scrape_failed_total", "Scrapes that ended with up=0.");
    metrics_->missed_counter = registry->NewCounter(
        "vigil_scrape_missed_total",
        "Scrape slots skipped because the previous scrape of the target was still running "
        "or the scrape loop fell behind.");
    metrics_->sample_limit_counter = registry->NewCounter(
        "vigil_scrape_exceeded_sample_limit_total", "Scrapes refused for sample_limit.");
    auto* ex = registry->NewCounterFamily(
        "vigil_ingest_exemplars_total", "Exemplars stored or refused by ingestion, by protocol.",
        {"protocol", "result"});
    metrics_->exemplars_stored = ex->WithLabelValues({"scrape", "stored"});
    metrics_->exemplars_refused = ex->WithLabelValues({"scrape", "refused"});
  }
  loop_ = std::make_unique<Loop>(this);
  discovery_ = std::make_unique<discovery::DiscoveryManager>(
      [this](const std::string& job, std::vector<TargetGroup> groups) {
        UpdateGroups(job, std::move(groups));
      },
      opts_.discovery_poll_ms);
}

Manager::~Manager() { Stop(); }

void Manager::ApplyConfig(const std::vector<ScrapeConfig>& cfgs) {
  {
    std::lock_guard lock(loop_->mu_);
    std::map<std::string, const ScrapeConfig*> want;
    for (const ScrapeConfig& c : cfgs) want[c.job_name] = &c;
    for (auto it = loop_->pools_.begin(); it != loop_->pools_.end();) {
      if (want.count(it->first) == 0) {
        for (auto& [key, t] : it->second.targets) loop_->Retire(t);
        it = loop_->pools_.erase(it);
      } else {
        ++it;
      }
    }
    for (const ScrapeConfig& c : cfgs) {
      Pool& pool = loop_->pools_[c.job_name];
      if (pool.cfg == nullptr || pool.cfg->fingerprint != c.fingerprint) {
        pool.cfg = std::make_shared<const ScrapeConfig>(c);
      }
    }
  }
  // Re-derives the targets of changed jobs from their last groups now; discovery then
  // publishes fresh groups for every job.
  for (const ScrapeConfig& c : cfgs) {
    std::vector<TargetGroup> groups;
    {
      std::lock_guard lock(loop_->mu_);
      groups = loop_->pools_[c.job_name].groups;
    }
    UpdateGroups(c.job_name, std::move(groups));
  }
  discovery_->ApplyConfig(cfgs);
}

void Manager::UpdateGroups(const std::string& job, std::vector<TargetGroup> groups) {
  std::shared_ptr<const ScrapeConfig> cfg;
  {
    std::lock_guard lock(loop_->mu_);
    auto it = loop_->pools_.find(job);
    if (it == loop_->pools_.end()) return;
    cfg = it->second.cfg;
  }
  std::vector<TargetSpec> specs = TargetsFromGroups(*cfg, groups);
  std::lock_guard lock(loop_->mu_);
  auto it = loop_->pools_.find(job);
  if (it == loop_->pools_.end() || it->second.cfg != cfg) return;  // a newer config won
  Pool& pool = it->second;
  pool.groups = std::move(groups);
  pool.dropped.clear();
  std::map<std::string, std::shared_ptr<Target>> next;
  for (TargetSpec& s : specs) {
    if (s.dropped) {
      pool.dropped.push_back({job, std::move(s.discovered)});
      continue;
    }
    std::string key = s.labels.ToString() + "|" + s.url;
    if (next.count(key) != 0) continue;  // the same target twice: scrape it once
    auto old = pool.targets.find(key);
    std::shared_ptr<Target> t;
    if (old != pool.targets.end()) {
      t = old->second;
      pool.targets.erase(old);
      if (t->cfg != cfg) {
        t->cfg = cfg;
        t->reset_cache = true;
      }
      // Labels and URL are the key, so equal; only what may differ is updated (the loop
      // reads labels and URL without the lock).
      if (t->spec.interval_ms != s.interval_ms) t->next_ms = 0;
      t->spec.interval_ms = s.interval_ms;
      t->spec.timeout_ms = s.timeout_ms;
      t->spec.discovered = std::move(s.discovered);
    } else {
      t = std::make_shared<Target>();
      t->pool = job;
      t->key = key;
      t->cfg = cfg;
      t->offset_ms = static_cast<int64_t>(model::Labels{{"k", key}}.Hash() % (1ull << 62));
      t->spec = std::move(s);
    }
    next[key] = std::move(t);
  }
  for (auto& [key, t] : pool.targets) loop_->Retire(t);
  pool.targets = std::move(next);
  loop_->dirty_ = true;
  loop_->Wake();
}

absl::Status Manager::Start() {
  loop_->Start();
  discovery_->Start();
  return absl::OkStatus();
}

void Manager::Stop() {
  discovery_->Stop();
  loop_->Stop();
}

std::vector<TargetStatus> Manager::ActiveTargets() const {
  std::vector<TargetStatus> out;
  std::lock_guard lock(loop_->mu_);
  for (const auto& [name, pool] : loop_->pools_) {
    for (const auto& [key, t] : pool.targets) {
      TargetStatus s;
      s.scrape_pool = name;
      s.scrape_url = t->spec.url;
      s.labels = t->spec.labels;
      s.discovered_labels = t->spec.discovered;
      s.health = t->health;
      s.last_error = t->last_error;
      s.last_scrape_ms = t->last_scrape_ms;
      s.last_scrape_duration_s = t->last_duration_s;
      s.interval_ms = t->spec.interval_ms;
      s.timeout_ms = t->spec.timeout_ms;
      out.push_back(std::move(s));
    }
  }
  return out;
}

std::vector<DroppedTargetStatus> Manager::DroppedTargets() const {
  std::vector<DroppedTargetStatus> out;
  std::lock_guard lock(loop_->mu_);
  for (const auto& [name, pool] : loop_->pools_) {
    out.insert(out.end(), pool.dropped.begin(), pool.dropped.end());
  }
  return out;
}

std::vector<TargetMetadata> Manager::Metadata() const {
  std::vector<TargetMetadata> out;
  std::lock_guard lock(loop_->mu_);
  for (const auto& [name, pool] : loop_->pools_) {
    for (const auto& [key, t] : pool.targets) out.push_back({t->spec.labels, t->metadata});
  }
  return out;
}

int64_t Manager::scrapes_total() const { return metrics_->scrapes.load(); }
int64_t Manager::scrapes_missed() const { return metrics_->missed.load(); }

}  // namespace vigil::scrape
