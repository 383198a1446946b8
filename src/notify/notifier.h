// Notifier: Vigil's built-in Alertmanager. Receives alerts (from the rule manager or
// POST /api/v2/alerts), routes them through the route tree into aggregation groups,
// and sends one notification per group and receiver integration:
//
//   - dedup by fingerprint: the same alert (same labels) from two evaluators is one alert;
//   - grouping: the first notification of a group waits group_wait, later ones wait
//     group_interval; an unchanged group is re-sent every repeat_interval;
//   - resolved notifications (send_resolved) when alerts end;
//   - silences (Silences below), inhibit_rules and mute/active time intervals suppress;
//   - a notification log (what each group last told each receiver) is persisted in the
//     data directory, so a restart neither re-pages nor forgets a pending resolution.
//
// Sends run on one worker thread per integration with retries and exponential backoff,
// so a dead receiver never delays the others; results are counted in the registry
// (vigil_notifications_total, vigil_notifications_failed_total{integration}, ...).
//
// Thread-safety: every public method is thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/metrics.h"
#include "model/labels.h"
#include "notify/config.h"
#include "rules/template.h"

namespace vigil::notify {

struct Alert {
  model::Labels labels;
  model::Labels annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // 0: unknown (resolve_timeout applies)
  std::string generator_url;
  int64_t updated_at_ms = 0;
  // When the notifier first received this alert instance (set by Receive, in microseconds
  // of its clock): where the evaluation's share of the alert latency ends.
  int64_t received_at_us = 0;

  uint64_t Fingerprint() const { return labels.Hash(); }
  bool Resolved(int64_t now_ms) const { return ends_at_ms != 0 && ends_at_ms <= now_ms; }
};

// A silence as Alertmanager's API v2 shows it.
struct SilenceMatcher {
  std::string name;
  std::string value;
  bool is_regex = false;
  bool is_equal = true;
};
struct Silence {
  std::string id;
  std::vector<SilenceMatcher> matchers;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string created_by;
  std::string comment;
  // "pending", "active" or "expired" at `now`.
  std::string State(int64_t now_ms) const;
  bool Matches(const model::Labels& l) const;
};

// Silences, persisted as JSON (docs/alerting.md) after every change.
class Silences {
 public:
  explicit Silences(std::string path) : path_(std::move(path)) {}
  absl::Status Load();
  // Creates (empty id) or updates a silence; returns its id. Validates matchers and times.
  absl::StatusOr<std::string> Set(Silence s, int64_t now_ms);
  // Ends a silence now. NotFound for an unknown id.
  absl::Status Expire(const std::string& id, int64_t now_ms);
  std::vector<Silence> List() const;
  absl::StatusOr<Silence> Get(const std::string& id) const;
  // Ids of the active silences that match `labels`.
  std::vector<std::string> Mutes(const model::Labels& labels, int64_t now_ms) const;

 private:
  absl::Status SaveLocked() const;
  const std::string path_;
  mutable std::mutex mu_;
  std::map<std::string, Silence> silences_;
};

// What one notification carries (Alertmanager's template data).
struct Notification {
  std::string receiver;
  std::string status;  // "firing" or "resolved"
  model::Labels group_labels;
  model::Labels common_labels;
  model::Labels common_annotations;
  std::string external_url;
  std::string group_key;
  std::vector<Alert> alerts;
  int64_t now_ms = 0;
  int64_t truncated_alerts = 0;
  // The templates the receiver's fields call; null means the default templates.
  std::shared_ptr<const rules::TemplateSet> templates;
};

// Payload builders (exposed for tests). Template fields are expanded over the
// notification; a template that fails to run is an error naming the field.
std::string WebhookPayload(const Notification& n);
absl::StatusOr<std::string> SlackPayload(const Notification& n, const SlackConfig& c);
absl::StatusOr<std::string> PagerDutyPayload(const Notification& n, const PagerDutyConfig& c);
absl::StatusOr<std::string> EmailMessage(const Notification& n, const EmailConfig& c);
// The default templates alone (shared, loaded once).
std::shared_ptr<const rules::TemplateSet> DefaultTemplateSet();
// Alertmanager API v2 alert list (POST /api/v2/alerts body).
std::string AlertsV2Json(const std::vector<Alert>& alerts);
// RFC 3339 with milliseconds in UTC, as Alertmanager writes times.
std::string Rfc3339(int64_t ms);
absl::StatusOr<int64_t> ParseRfc3339(std::string_view s);
void AppendJsonString(std::string* out, std::string_view s);

// The transport: POST of a JSON body, and SMTP. Tests and cmd use the libcurl ones.
using HttpPostFunc = std::function<absl::Status(const std::string& url, const std::string& body)>;
// The SMTP envelope: sender and recipients after template expansion.
struct SmtpEnvelope {
  std::string from;
  std::vector<std::string> to;
};
using SmtpSendFunc = std::function<absl::Status(const EmailConfig& c, const SmtpEnvelope& env,
                                                const std::string& message)>;
// Builds the envelope of an e-mail notification (expands `to` and `from`).
absl::StatusOr<SmtpEnvelope> EmailEnvelope(const Notification& n, const EmailConfig& c);
absl::Status CurlHttpPost(const std::string& url, const std::string& body);
absl::Status CurlSmtpSend(const EmailConfig& c, const SmtpEnvelope& env, const std::string& message);

struct NotifierOptions {
  std::string data_dir;  // notify/ state (silences, notification log); empty: memory only
  std::string external_url;
  metrics::Registry* registry = nullptr;
  HttpPostFunc http_post = CurlHttpPost;
  SmtpSendFunc smtp_send = CurlSmtpSend;
  int max_attempts = 5;
  int64_t initial_backoff_ms = 200;
  std::function<int64_t()> now_ms;  // wall clock by default
};

// Per-alert status for GET /api/v2/alerts.
struct AlertStatus {
  Alert alert;
  std::string state;  // "active", "suppressed", "unprocessed"
  std::vector<std::string> silenced_by;
  std::vector<std::string> inhibited_by;
  std::vector<std::string> muted_by;  // time intervals
  std::vector<std::string> receivers;
};

class Notifier {
 public:
  Notifier(NotifierOptions opts, Config config);
  ~Notifier();
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Loads silences and the notification log, starts the dispatcher and senders.
  absl::Status Start();
  void Stop();

  // Switches to `config` (a reload). Aggregation groups of routes whose receiver and
  // grouping are unchanged keep their alerts and timers; integrations configured as before
  // keep their sender and queue; alerts, silences and the notification log always stay, so
  // a reload neither re-pages nor forgets. The config must come from ParseConfig (valid).
  void ApplyConfig(Config config);
  // Adds or refreshes alerts (merged by fingerprint).
  void Receive(const std::vector<Alert>& alerts);
  std::vector<AlertStatus> Alerts() const;
  Silences& silences() { return silences_; }

  // One dispatcher pass at `now` (tests drive time with it; Start() runs it whenever a group
  // is due).
  void Tick(int64_t now_ms);
  // Waits until every queued send finished (tests).
  void Flush();

 private:
  struct Group;
  struct Job;
  class Integration;

  void Route(const model::Labels& l, const notify::Route& r, std::vector<const notify::Route*>* out) const;
  bool Inhibited(const Alert& a, int64_t now, std::vector<std::string>* by) const;
  bool Muted(const notify::Route& r, int64_t now, std::vector<std::string>* by) const;
  void Run();
  // Makes the dispatcher recompute when the next group is due.
  void WakeDispatcher();
  void FlushGroup(Group& g, int64_t now);
  // Puts alerts into their aggregation groups: those Receive() is adding (`arriving`), or
  // every alert (null, after a reload). Every alert is in its groups from then on, so the
  // dispatcher never regroups (which would cost every pass O(alerts)). Returns whether a
  // group opened or became due earlier.
  bool AssignLocked(int64_t now, const std::set<uint64_t>* arriving);
  bool AssignAlertLocked(uint64_t fp, const Alert& a, int64_t now, bool arriving);
  void SaveLogLocked() const;
  void LoadLog();
  int64_t Now() const;
  int64_t NowUs() const;
  // Observes the first notification delay of `a` and its stages (times in microseconds).
  void ObserveFirstNotification(const Alert& a, int64_t flushed_at_us, int64_t attempt_us, int64_t sent_at_us);

  NotifierOptions opts_;
  Silences silences_;
  mutable std::mutex mu_;
  Config config_;
  std::map<uint64_t, Alert> alerts_;
  std::map<std::string, std::unique_ptr<Group>> groups_;
  // Notification log: group key + integration -> fingerprints last notified firing and
  // when. Persisted.
  struct LogEntry {
    std::set<uint64_t> firing;
    std::set<uint64_t> resolved;
    int64_t sent_at_ms = 0;
  };
  std::map<std::string, LogEntry> nflog_;
  std::map<std::string, std::unique_ptr<Integration>> integrations_;

  std::thread thread_;
  std::mutex run_mu_;
  std::condition_variable run_cv_;
  bool stop_ = true;
  bool wake_ = false;  // a group opened or became due earlier: recompute the sleep

  metrics::Counter* received_ = nullptr;
  metrics::CounterFamily* sent_ = nullptr;
  metrics::CounterFamily* failed_ = nullptr;
  metrics::HistogramFamily* latency_ = nullptr;
  metrics::Histogram* first_delay_ = nullptr;
  // The first notification delay split into its stages (see the constructor).
  metrics::HistogramFamily* first_stages_ = nullptr;
  metrics::Counter* reloads_ = nullptr;
};

// Forwards every alert to external Alertmanagers (POST <url>/api/v2/alerts), on its own
// thread with retries, so a slow Alertmanager never blocks rule evaluation.
class AlertmanagerForwarder {
 public:
  AlertmanagerForwarder(std::vector<std::string> urls, HttpPostFunc post, metrics::Registry* reg);
  ~AlertmanagerForwarder();
  void Send(const std::vector<Alert>& alerts);
  void Stop();
  void Flush();

 private:
  void Loop();
  std::vector<std::string> urls_;
  HttpPostFunc post_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::vector<Alert>> queue_;
  bool stop_ = false;
  int busy_ = 0;
  std::thread thread_;
  metrics::CounterFamily* sent_ = nullptr;
  metrics::CounterFamily* errors_ = nullptr;
};

}  // namespace vigil::notify
