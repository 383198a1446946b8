#include "notify/notifier.h"

#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>

#include "base/log.h"
#include "notify/templates.h"
#include "fmt/format.h"
#include "simdjson.h"

namespace vigil::notify {
namespace {

constexpr int64_t kResolvedRetentionMs = 15 * 60'000;
// The dispatcher sleeps until the next group is due, but at most this long, so that alerts
// resolved long ago are forgotten even when no group is active.
constexpr int64_t kHousekeepingUs = 1'000'000;

int64_t WallUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool MatchAll(const model::Matchers& ms, const model::Labels& l) {
  for (const auto& m : ms) {
    if (!m.Matches(l.Get(m.name()))) return false;
  }
  return true;
}

bool Subset(const std::set<uint64_t>& a, const std::set<uint64_t>& b) {
  return std::includes(b.begin(), b.end(), a.begin(), a.end());
}

// Labels shared (same name and value) by every alert.
model::Labels Common(const std::vector<Alert>& alerts, bool annotations) {
  if (alerts.empty()) return {};
  std::vector<model::Label> out;
  const model::Labels& first = annotations ? alerts[0].annotations : alerts[0].labels;
  for (const auto& l : first) {
    bool all = true;
    for (const auto& a : alerts) {
      const model::Labels& x = annotations ? a.annotations : a.labels;
      all = all && x.Has(l.name) && x.Get(l.name) == l.value;
    }
    if (all) out.push_back(l);
  }
  return model::Labels(std::move(out));
}

}  // namespace

struct Notifier::Group {
  std::string key;
  const notify::Route* route;
  model::Labels labels;
  std::set<uint64_t> fps;
  int64_t next_flush_ms;
  bool flushed = false;  // group_wait is over
};

struct Notifier::Job {
  std::string log_key;
  Notification n;
  std::set<uint64_t> firing, resolved;
  int64_t flushed_at_us = 0;
};

// One receiver integration (e.g. "team/webhook/0") with its own sender thread.
class Notifier::Integration {
 public:
  enum Kind { kWebhook, kSlack, kPagerDuty, kEmail };
  Integration(Notifier* owner, std::string name, Kind kind, size_t index)
      : owner_(owner), name_(std::move(name)), kind_(kind), index_(index) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Integration() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  const std::string& name() const { return name_; }
  std::string_view type() const {
    switch (kind_) {
      case kWebhook: return "webhook";
      case kSlack: return "slack";
      case kPagerDuty: return "pagerduty";
      case kEmail: return "email";
    }
    return "";
  }
  void Enqueue(Job j) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queue_.push_back(std::move(j));
    }
    cv_.notify_all();
  }
  void WaitIdle() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [this] { return queue_.empty() && !busy_; });
  }
  Receiver receiver;  // copy of the config it sends for

 private:
  absl::Status SendOnce(const Notification& n) {
    switch (kind_) {
      case kWebhook: {
        const WebhookConfig& c = receiver.webhooks[index_];
        Notification copy = n;
        if (c.max_alerts > 0 && copy.alerts.size() > static_cast<size_t>(c.max_alerts)) {
          copy.truncated_alerts = static_cast<int64_t>(copy.alerts.size()) - c.max_alerts;
          copy.alerts.resize(c.max_alerts);
        }
        return owner_->opts_.http_post(c.url, WebhookPayload(copy));
      }
      case kSlack: {
        const SlackConfig& c = receiver.slacks[index_];
        auto body = SlackPayload(n, c);
        if (!body.ok()) return Permanent(body.status());
        return owner_->opts_.http_post(c.api_url, *body);
      }
      case kPagerDuty: {
        const PagerDutyConfig& c = receiver.pagerduties[index_];
        auto body = PagerDutyPayload(n, c);
        if (!body.ok()) return Permanent(body.status());
        return owner_->opts_.http_post(c.url, *body);
      }
      case kEmail: {
        const EmailConfig& c = receiver.emails[index_];
        auto env = EmailEnvelope(n, c);
        if (!env.ok()) return Permanent(env.status());
        auto msg = EmailMessage(n, c);
        if (!msg.ok()) return Permanent(msg.status());
        return owner_->opts_.smtp_send(c, *env, *msg);
      }
    }
    return absl::OkStatus();
  }

  // A notification that cannot be built (a template fails) is not retried: it would fail
  // the same way every time.
  static absl::Status Permanent(const absl::Status& s) {
    return absl::FailedPreconditionError(fmt::format("cannot build notification: {}", std::string(s.message())));
  }

  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      Job j = std::move(queue_.front());
      queue_.pop_front();
      busy_ = true;
      lock.unlock();
      const std::vector<std::string> lv{std::string(type()), receiver.name};
      absl::Status st;
      int64_t backoff = owner_->opts_.initial_backoff_ms;
      const int64_t first_attempt_us = owner_->NowUs();
      for (int attempt = 0; attempt < owner_->opts_.max_attempts; ++attempt) {
        const auto t0 = std::chrono::steady_clock::now();
        st = SendOnce(j.n);
        owner_->latency_->WithLabelValues(lv)->Observe(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
        owner_->sent_->WithLabelValues(lv)->Inc();
        if (st.ok()) break;
        owner_->failed_->WithLabelValues(lv)->Inc();
        VLOG_WARN("notify", "{}: attempt {} failed: {}", name_, attempt + 1, std::string(st.message()));
        if (absl::IsFailedPrecondition(st)) break;
        std::unique_lock<std::mutex> l2(mu_);
        if (cv_.wait_for(l2, std::chrono::milliseconds(backoff), [this] { return stop_; })) break;
        backoff = std::min<int64_t>(backoff * 2, 60'000);
      }
      if (st.ok()) {
        const int64_t sent_at_us = owner_->NowUs();
        std::lock_guard<std::mutex> l(owner_->mu_);
        auto& e = owner_->nflog_[j.log_key];
        for (const Alert& a : j.n.alerts) {
          if (!a.Resolved(j.n.now_ms) && e.firing.count(a.Fingerprint()) == 0 && a.starts_at_ms > 0) {
            owner_->ObserveFirstNotification(a, j.flushed_at_us, first_attempt_us, sent_at_us);
          }
        }
        e.firing = j.firing;
        e.resolved = j.resolved;
        e.sent_at_ms = j.n.now_ms;
        owner_->SaveLogLocked();
      } else {
        VLOG_ERROR("notify", "{}: giving up on notification for {}: {}", name_, j.n.group_key,
                   std::string(st.message()));
      }
      lock.lock();
      busy_ = false;
      idle_cv_.notify_all();
    }
  }

  Notifier* owner_;
  const std::string name_;
  const Kind kind_;
  const size_t index_;
  std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<Job> queue_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

Notifier::Notifier(NotifierOptions opts, Config config)
    : opts_(std::move(opts)),
      silences_(opts_.data_dir.empty() ? "" : opts_.data_dir + "/silences.json"),
      config_(std::move(config)) {
  static metrics::Registry dummy;
  metrics::Registry* reg = opts_.registry != nullptr ? opts_.registry : &dummy;
  received_ = reg->NewCounter("vigil_alerts_received_total", "Alerts received by the notifier.");
  sent_ = reg->NewCounterFamily("vigil_notifications_total", "Notification attempts.",
                                {"integration", "receiver"});
  failed_ = reg->NewCounterFamily("vigil_notifications_failed_total", "Failed notification attempts.",
                                  {"integration", "receiver"});
  latency_ = reg->NewHistogramFamily("vigil_notification_latency_seconds",
                                     "Duration of notification attempts.", {"integration", "receiver"},
                                     metrics::DefaultDurationBuckets());
  first_delay_ = reg->NewHistogramFamily("vigil_alert_first_notification_delay_seconds",
                                         "Time from an alert's start (the evaluation that fired it) to "
                                         "its first successful notification, per integration.",
                                         {}, metrics::DefaultDurationBuckets())
                     ->WithLabelValues({});
  first_stages_ = reg->NewHistogramFamily(
      "vigil_alert_first_notification_stage_seconds",
      "The first notification delay of an alert split into stages: evaluation (alert start to "
      "received by the notifier), group_wait (to its group's flush), dispatch (to the first "
      "send attempt) and send (to the receiver's answer).",
      {"stage"},
      {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5, 30, 300});
  reloads_ = reg->NewCounter("vigil_notifier_config_applied_total",
                             "Notifier configurations applied (startup and reloads).");
  ApplyConfig(config_);
}

Notifier::~Notifier() { Stop(); }

int64_t Notifier::Now() const { return NowUs() / 1000; }

int64_t Notifier::NowUs() const { return opts_.now_ms ? opts_.now_ms() * 1000 : WallUs(); }

void Notifier::ObserveFirstNotification(const Alert& a, int64_t flushed_at_us, int64_t attempt_us,
                                        int64_t sent_at_us) {
  const auto seconds = [](int64_t us) { return std::max<double>(0, static_cast<double>(us) / 1e6); };
  const int64_t start_us = a.starts_at_ms * 1000;
  first_delay_->Observe(seconds(sent_at_us - start_us));
  // An alert received before its group's flush has all four stages; one that started long
  // before it reached the notifier (a restart, a resend) only counts in the total.
  if (a.received_at_us < start_us || a.received_at_us > flushed_at_us) return;
  first_stages_->WithLabelValues({"evaluation"})->Observe(seconds(a.received_at_us - start_us));
  first_stages_->WithLabelValues({"group_wait"})->Observe(seconds(flushed_at_us - a.received_at_us));
  first_stages_->WithLabelValues({"dispatch"})->Observe(seconds(attempt_us - flushed_at_us));
  first_stages_->WithLabelValues({"send"})->Observe(seconds(sent_at_us - attempt_us));
}

namespace {

void RoutesById(const notify::Route& r, std::map<std::string, const notify::Route*>* out) {
  (*out)[r.id] = &r;
  for (const auto& c : r.routes) RoutesById(c, out);
}

// Whether an aggregation group of route `a` can continue as one of route `b`.
bool SameGrouping(const notify::Route& a, const notify::Route& b) {
  return a.receiver == b.receiver && a.group_by == b.group_by && a.group_by_all == b.group_by_all;
}

// Whether integration `index` of type `type` is configured identically in both receivers.
bool SameIntegration(const Receiver& a, const Receiver& b, std::string_view type, size_t i) {
  if (a.name != b.name) return false;
  if (type == "webhook") return i < a.webhooks.size() && i < b.webhooks.size() && a.webhooks[i] == b.webhooks[i];
  if (type == "slack") return i < a.slacks.size() && i < b.slacks.size() && a.slacks[i] == b.slacks[i];
  if (type == "pagerduty") {
    return i < a.pagerduties.size() && i < b.pagerduties.size() && a.pagerduties[i] == b.pagerduties[i];
  }
  if (type == "email") return i < a.emails.size() && i < b.emails.size() && a.emails[i] == b.emails[i];
  return false;
}

}  // namespace

void Notifier::ApplyConfig(Config config) {
  if (!config.templates) config.templates = DefaultTemplateSet();
  std::map<std::string, std::unique_ptr<Integration>> retired;
  size_t kept_groups = 0, dropped_groups = 0, kept_integrations = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Config old = std::move(config_);  // alive until the end of this block: groups point into it
    config_ = std::move(config);
    // Aggregation groups of unchanged routes carry on (their timers and alerts); the others
    // end, and their alerts form new groups (below). The notification log is kept
    // either way, so an alert already notified is not notified again.
    std::map<std::string, const notify::Route*> fresh;
    RoutesById(config_.route, &fresh);
    for (auto it = groups_.begin(); it != groups_.end();) {
      Group& g = *it->second;
      auto r = fresh.find(g.route->id);
      if (r == fresh.end() || !SameGrouping(*g.route, *r->second)) {
        it = groups_.erase(it);
        ++dropped_groups;
        continue;
      }
      g.route = r->second;
      // Alerts that the new tree routes elsewhere leave the group.
      for (auto fp = g.fps.begin(); fp != g.fps.end();) {
        auto a = alerts_.find(*fp);
        bool still = false;
        if (a != alerts_.end()) {
          std::vector<const notify::Route*> routes;
          Route(a->second.labels, config_.route, &routes);
          still = std::find(routes.begin(), routes.end(), g.route) != routes.end();
        }
        fp = still ? std::next(fp) : g.fps.erase(fp);
      }
      ++kept_groups;
      ++it;
    }
    // Integrations configured as before keep their sender thread and queue.
    std::map<std::string, std::unique_ptr<Integration>> integrations;
    for (const Receiver& r : config_.receivers) {
      auto add = [&](Integration::Kind k, size_t n, const char* type) {
        for (size_t i = 0; i < n; ++i) {
          const std::string name = fmt::format("{}/{}/{}", r.name, type, i);
          auto prev = integrations_.find(name);
          if (prev != integrations_.end() && SameIntegration(prev->second->receiver, r, type, i)) {
            integrations[name] = std::move(prev->second);
            integrations_.erase(prev);
            ++kept_integrations;
            continue;
          }
          auto in = std::make_unique<Integration>(this, name, k, i);
          in->receiver = r;
          integrations[name] = std::move(in);
        }
      };
      add(Integration::kWebhook, r.webhooks.size(), "webhook");
      add(Integration::kSlack, r.slacks.size(), "slack");
      add(Integration::kPagerDuty, r.pagerduties.size(), "pagerduty");
      add(Integration::kEmail, r.emails.size(), "email");
    }
    retired.swap(integrations_);
    integrations_ = std::move(integrations);
    if (AssignLocked(Now(), nullptr)) WakeDispatcher();
  }
  reloads_->Inc();
  if (kept_groups + dropped_groups + kept_integrations + retired.size() > 0) {
    VLOG_INFO("notify", "configuration applied: {} alert group(s) kept, {} ended; {} integration(s) kept, {} replaced or removed",
              kept_groups, dropped_groups, kept_integrations, retired.size());
  }
  retired.clear();  // joins the retired sender threads outside the lock
}

absl::Status Notifier::Start() {
  if (absl::Status s = silences_.Load(); !s.ok()) return s;
  LoadLog();
  std::lock_guard<std::mutex> lock(run_mu_);
  if (!stop_) return absl::OkStatus();
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
  return absl::OkStatus();
}

void Notifier::Run() {
  // Timed waits of this thread may end 1 us late instead of Linux's default 50 us.
  prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  std::unique_lock<std::mutex> lock(run_mu_);
  while (!stop_) {
    lock.unlock();
    Tick(Now());
    // Sleep until the next group is due, to the microsecond (so group_wait is kept exactly,
    // not to a polling tick); Receive() wakes us when a group opens or becomes due earlier.
    int64_t due_us = NowUs() + kHousekeepingUs;
    {
      std::lock_guard<std::mutex> l(mu_);
      for (const auto& [key, g] : groups_) due_us = std::min(due_us, g->next_flush_ms * 1000);
    }
    lock.lock();
    if (!wake_) {
      const int64_t wait_us = due_us - NowUs();
      if (wait_us > 0) {
        run_cv_.wait_for(lock, std::chrono::microseconds(wait_us), [this] { return stop_ || wake_; });
      }
    }
    wake_ = false;
  }
}

void Notifier::Stop() {
  {
    std::lock_guard<std::mutex> lock(run_mu_);
    if (stop_) return;
    stop_ = true;
  }
  run_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Notifier::Receive(const std::vector<Alert>& in) {
  const int64_t now_us = NowUs();
  const int64_t now = now_us / 1000;
  std::lock_guard<std::mutex> lock(mu_);
  std::set<uint64_t> arriving;
  for (Alert a : in) {
    received_->Inc();
    if (a.starts_at_ms == 0) a.starts_at_ms = now;
    if (a.ends_at_ms == 0) a.ends_at_ms = now + config_.resolve_timeout_ms;
    a.updated_at_ms = now;
    a.received_at_us = now_us;
    auto it = alerts_.find(a.Fingerprint());
    if (it != alerts_.end()) {
      Alert& old = it->second;
      // Same alert still (or again within its lifetime): keep the earliest start.
      if (!old.Resolved(now) || a.starts_at_ms <= old.ends_at_ms) {
        a.starts_at_ms = std::min(a.starts_at_ms, old.starts_at_ms);
        a.received_at_us = old.received_at_us;
      }
    }
    arriving.insert(a.Fingerprint());
    alerts_[a.Fingerprint()] = std::move(a);
  }
  // Groups start their group_wait when the first alert arrives, not at the next tick.
  if (AssignLocked(now, &arriving)) WakeDispatcher();
}

void Notifier::WakeDispatcher() {
  std::lock_guard<std::mutex> run(run_mu_);
  wake_ = true;
  run_cv_.notify_all();
}

void Notifier::Route(const model::Labels& l, const notify::Route& r,
                     std::vector<const notify::Route*>* out) const {
  if (!MatchAll(r.matchers, l)) return;
  bool child = false;
  for (const auto& c : r.routes) {
    const size_t before = out->size();
    Route(l, c, out);
    if (out->size() > before) {
      child = true;
      if (!c.cont) break;
    }
  }
  if (!child) out->push_back(&r);
}

bool Notifier::Inhibited(const Alert& a, int64_t now, std::vector<std::string>* by) const {
  for (const auto& ir : config_.inhibit_rules) {
    if (!MatchAll(ir.target, a.labels)) continue;
    for (const auto& [fp, src] : alerts_) {
      if (fp == a.Fingerprint() || src.Resolved(now) || !MatchAll(ir.source, src.labels)) continue;
      bool equal = true;
      for (const auto& e : ir.equal) equal = equal && src.labels.Get(e) == a.labels.Get(e);
      if (equal) {
        by->push_back(fmt::format("{:016x}", fp));
        return true;
      }
    }
  }
  return false;
}

bool Notifier::Muted(const notify::Route& r, int64_t now, std::vector<std::string>* by) const {
  for (const auto& t : config_.time_intervals) {
    for (const auto& name : r.mute_time_intervals) {
      if (t.name == name && t.Contains(now)) by->push_back(name);
    }
  }
  if (!r.active_time_intervals.empty()) {
    bool active = false;
    for (const auto& t : config_.time_intervals) {
      for (const auto& name : r.active_time_intervals) active = active || (t.name == name && t.Contains(now));
    }
    if (!active) by->insert(by->end(), r.active_time_intervals.begin(), r.active_time_intervals.end());
  }
  return !by->empty();
}

void Notifier::Tick(int64_t now) {
  std::lock_guard<std::mutex> lock(mu_);
  // Forget alerts resolved long ago.
  for (auto it = alerts_.begin(); it != alerts_.end();) {
    if (it->second.Resolved(now) && now - it->second.ends_at_ms > kResolvedRetentionMs) {
      it = alerts_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto it = groups_.begin(); it != groups_.end();) {
    Group& g = *it->second;
    if (now >= g.next_flush_ms) {
      FlushGroup(g, now);
      g.next_flush_ms = now + g.route->group_interval_ms;
      g.flushed = true;
    }
    if (g.fps.empty()) {
      it = groups_.erase(it);
    } else {
      ++it;
    }
  }
}

bool Notifier::AssignLocked(int64_t now, const std::set<uint64_t>* arriving) {
  bool sooner = false;
  if (arriving == nullptr) {
    for (const auto& [fp, a] : alerts_) sooner |= AssignAlertLocked(fp, a, now, /*arriving=*/false);
    return sooner;
  }
  for (uint64_t fp : *arriving) {
    auto a = alerts_.find(fp);
    if (a != alerts_.end()) sooner |= AssignAlertLocked(fp, a->second, now, /*arriving=*/true);
  }
  return sooner;
}

bool Notifier::AssignAlertLocked(uint64_t fp, const Alert& a, int64_t now, bool arriving) {
  bool sooner = false;
  std::vector<const notify::Route*> routes;
  Route(a.labels, config_.route, &routes);
  for (const notify::Route* r : routes) {
    model::LabelsBuilder b;
    if (r->group_by_all) {
      b = model::LabelsBuilder(a.labels);
    } else {
      for (const auto& name : r->group_by) {
        if (a.labels.Has(name)) b.Set(name, a.labels.Get(name));
      }
    }
    model::Labels gl = b.Build();
    const std::string key = fmt::format("{{}}/{}:{}", r->id, gl.ToString());
    // An arriving alert's group_wait counts from the alert's start (the evaluation that
    // fired it), so the evaluation's own time is not added on top. This is Alertmanager's
    // rule (an alert that started more than group_wait ago flushes its new group at once)
    // kept to the millisecond. Alerts regrouped after a reload wait a full group_wait.
    const int64_t due = (arriving ? std::min(now, a.starts_at_ms) : now) + r->group_wait_ms;
    auto it = groups_.find(key);
    if (it == groups_.end()) {
      if (a.Resolved(now)) continue;  // a resolved alert does not open a group
      auto g = std::make_unique<Group>();
      g->key = key;
      g->route = r;
      g->labels = gl;
      g->next_flush_ms = due;
      it = groups_.emplace(key, std::move(g)).first;
      sooner = true;
    } else if (!it->second->flushed && due < it->second->next_flush_ms) {
      it->second->next_flush_ms = due;
      sooner = true;
    }
    it->second->fps.insert(fp);
  }
  return sooner;
}

void Notifier::FlushGroup(Group& g, int64_t now) {
  std::vector<std::string> muted_by;
  if (Muted(*g.route, now, &muted_by)) return;
  std::vector<Alert> alerts;
  std::set<uint64_t> firing, resolved;
  for (auto it = g.fps.begin(); it != g.fps.end();) {
    auto a = alerts_.find(*it);
    if (a == alerts_.end()) {
      it = g.fps.erase(it);
      continue;
    }
    std::vector<std::string> by;
    const bool suppressed = !silences_.Mutes(a->second.labels, now).empty() || Inhibited(a->second, now, &by);
    if (!suppressed) {
      alerts.push_back(a->second);
      (a->second.Resolved(now) ? resolved : firing).insert(*it);
    }
    ++it;
  }
  for (auto& [name, in] : integrations_) {
    if (in->receiver.name != g.route->receiver) continue;
    bool send_resolved = false;
    const size_t idx = static_cast<size_t>(std::stoul(name.substr(name.rfind('/') + 1)));
    if (in->type() == "webhook") send_resolved = in->receiver.webhooks[idx].send_resolved;
    if (in->type() == "slack") send_resolved = in->receiver.slacks[idx].send_resolved;
    if (in->type() == "pagerduty") send_resolved = in->receiver.pagerduties[idx].send_resolved;
    if (in->type() == "email") send_resolved = in->receiver.emails[idx].send_resolved;
    const std::string log_key = g.key + "|" + name;
    auto e = nflog_.find(log_key);
    bool needs;
    if (e == nflog_.end()) {
      needs = !firing.empty();
    } else if (!Subset(firing, e->second.firing)) {
      needs = true;
    } else if (firing.empty()) {
      needs = !e->second.firing.empty();
    } else if (send_resolved && !Subset(resolved, e->second.resolved)) {
      needs = true;
    } else {
      needs = now - e->second.sent_at_ms >= g.route->repeat_interval_ms;
    }
    if (!needs) continue;
    Job j;
    j.flushed_at_us = NowUs();
    j.log_key = log_key;
    j.firing = firing;
    j.resolved = resolved;
    j.n.receiver = g.route->receiver;
    j.n.group_labels = g.labels;
    j.n.group_key = g.key;
    j.n.external_url = opts_.external_url;
    j.n.now_ms = now;
    j.n.templates = config_.templates;
    for (const auto& a : alerts) {
      if (send_resolved || !a.Resolved(now)) j.n.alerts.push_back(a);
    }
    if (j.n.alerts.empty()) {
      // Only resolved alerts and a receiver that does not want them: record, don't send.
      auto& le = nflog_[log_key];
      le.firing = firing;
      le.resolved = resolved;
      le.sent_at_ms = now;
      SaveLogLocked();
      continue;
    }
    j.n.status = firing.empty() ? "resolved" : "firing";
    j.n.common_labels = Common(j.n.alerts, false);
    j.n.common_annotations = Common(j.n.alerts, true);
    in->Enqueue(std::move(j));
  }
  // Resolved alerts leave the group once told.
  for (uint64_t fp : resolved) g.fps.erase(fp);
}

void Notifier::SaveLogLocked() const {
  if (opts_.data_dir.empty()) return;
  std::string o = "{\"version\":1,\"entries\":[";
  bool first = true;
  for (const auto& [k, e] : nflog_) {
    if (!first) o += ',';
    first = false;
    o += "{\"key\":";
    AppendJsonString(&o, k);
    o += fmt::format(",\"sentAtMs\":{},\"firing\":[", e.sent_at_ms);
    bool f = true;
    for (uint64_t fp : e.firing) {
      o += fmt::format("{}\"{:016x}\"", f ? "" : ",", fp);
      f = false;
    }
    o += "],\"resolved\":[";
    f = true;
    for (uint64_t fp : e.resolved) {
      o += fmt::format("{}\"{:016x}\"", f ? "" : ",", fp);
      f = false;
    }
    o += "]}";
  }
  o += "]}\n";
  const std::string path = opts_.data_dir + "/nflog.json";
  std::ofstream out(path + ".tmp", std::ios::trunc);
  out << o;
  out.close();
  if (!out || std::rename((path + ".tmp").c_str(), path.c_str()) != 0) {
    VLOG_WARN("notify", "cannot write notification log {}", path);
  }
}

void Notifier::LoadLog() {
  if (opts_.data_dir.empty()) return;
  std::ifstream in(opts_.data_dir + "/nflog.json");
  if (!in) return;
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  simdjson::dom::parser p;
  simdjson::dom::element root;
  simdjson::dom::array entries;
  if (p.parse(text).get(root) != simdjson::SUCCESS || root["entries"].get_array().get(entries) != simdjson::SUCCESS) {
    VLOG_WARN("notify", "notification log {}/nflog.json is corrupt; starting without it", opts_.data_dir);
    return;
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (simdjson::dom::element e : entries) {
    std::string_view key;
    int64_t at = 0;
    if (e["key"].get_string().get(key) != simdjson::SUCCESS) continue;
    if (e["sentAtMs"].get_int64().get(at) != simdjson::SUCCESS) at = 0;
    LogEntry le;
    le.sent_at_ms = at;
    for (const char* field : {"firing", "resolved"}) {
      simdjson::dom::array arr;
      if (e[field].get_array().get(arr) != simdjson::SUCCESS) continue;
      for (simdjson::dom::element fp : arr) {
        std::string_view s;
        if (fp.get_string().get(s) != simdjson::SUCCESS) continue;
        uint64_t v = std::stoull(std::string(s), nullptr, 16);
        (std::string_view(field) == "firing" ? le.firing : le.resolved).insert(v);
      }
    }
    nflog_[std::string(key)] = std::move(le);
  }
}

std::vector<AlertStatus> Notifier::Alerts() const {
  const int64_t now = Now();
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<AlertStatus> out;
  for (const auto& [fp, a] : alerts_) {
    if (a.Resolved(now)) continue;
    AlertStatus s;
    s.alert = a;
    s.silenced_by = silences_.Mutes(a.labels, now);
    Inhibited(a, now, &s.inhibited_by);
    std::vector<const notify::Route*> routes;
    Route(a.labels, config_.route, &routes);
    for (const auto* r : routes) {
      s.receivers.push_back(r->receiver);
      Muted(*r, now, &s.muted_by);
    }
    s.state = s.silenced_by.empty() && s.inhibited_by.empty() && s.muted_by.empty() ? "active" : "suppressed";
    out.push_back(std::move(s));
  }
  return out;
}

void Notifier::Flush() {
  std::vector<Integration*> ins;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [n, i] : integrations_) ins.push_back(i.get());
  }
  for (auto* i : ins) i->WaitIdle();
}

AlertmanagerForwarder::AlertmanagerForwarder(std::vector<std::string> urls, HttpPostFunc post,
                                             metrics::Registry* reg)
    : urls_(std::move(urls)), post_(std::move(post)) {
  static metrics::Registry dummy;
  if (reg == nullptr) reg = &dummy;
  sent_ = reg->NewCounterFamily("vigil_notifications_sent_total",
                                "Alerts sent to external Alertmanagers.", {"alertmanager"});
  errors_ = reg->NewCounterFamily("vigil_notifications_errors_total",
                                  "Errors sending alerts to external Alertmanagers.", {"alertmanager"});
  thread_ = std::thread([this] { Loop(); });
}

AlertmanagerForwarder::~AlertmanagerForwarder() { Stop(); }

void AlertmanagerForwarder::Send(const std::vector<Alert>& alerts) {
  if (urls_.empty() || alerts.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    // Bounded: under a long outage the oldest batches go (the next evaluation resends).
    if (queue_.size() >= 1000) queue_.pop_front();
    queue_.push_back(alerts);
  }
  cv_.notify_all();
}

void AlertmanagerForwarder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertmanagerForwarder::Flush() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!queue_.empty() || busy_ > 0) {
    lock.unlock();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    lock.lock();
  }
}

void AlertmanagerForwarder::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (stop_) return;
    std::vector<Alert> batch = std::move(queue_.front());
    queue_.pop_front();
    ++busy_;
    lock.unlock();
    const std::string body = AlertsV2Json(batch);
    for (const auto& u : urls_) {
      absl::Status st;
      int64_t backoff = 100;
      for (int attempt = 0; attempt < 3; ++attempt) {
        st = post_(u + "/api/v2/alerts", body);
        if (st.ok()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(backoff));
        backoff *= 2;
      }
      if (st.ok()) {
        sent_->WithLabelValues({u})->Inc(static_cast<double>(batch.size()));
      } else {
        errors_->WithLabelValues({u})->Inc();
        VLOG_WARN("notify", "forwarding {} alerts to {}: {}", batch.size(), u, std::string(st.message()));
      }
    }
    lock.lock();
    --busy_;
  }
}

}  // namespace vigil::notify
