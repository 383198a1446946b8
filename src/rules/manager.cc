#include "rules/manager.h"

#include <sys/prctl.h>

#include <chrono>
#include <map>
#include <set>

#include "base/log.h"
#include "fmt/format.h"
#include "model/sample.h"
#include "xxhash.h"

namespace vigil::rules {
namespace {

int64_t WallUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Buckets for scheduling delays, which are normally well under a millisecond.
std::vector<double> DelayBuckets() { return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 5}; }

struct GroupMetrics {
  metrics::Counter* iterations = nullptr;
  metrics::Counter* missed = nullptr;
  metrics::Counter* evaluations = nullptr;
  metrics::Counter* failures = nullptr;
  metrics::Gauge* last_eval = nullptr;
  metrics::Gauge* last_duration = nullptr;
  metrics::Gauge* interval = nullptr;
  metrics::Gauge* rules = nullptr;
  metrics::Histogram* start_delay = nullptr;
};

GroupMetrics NewGroupMetrics(metrics::Registry* reg, const std::string& key) {
  static metrics::Registry dummy;
  if (reg == nullptr) reg = &dummy;
  GroupMetrics m;
  const std::vector<std::string> l{"rule_group"};
  m.iterations = reg->NewCounterFamily("vigil_rule_group_iterations_total",
                                       "Scheduled iterations of a rule group.", l)
                     ->WithLabelValues({key});
  m.missed = reg->NewCounterFamily("vigil_rule_group_iterations_missed_total",
                                   "Iterations of a rule group skipped because the previous "
                                   "one ran longer than the interval.",
                                   l)
                 ->WithLabelValues({key});
  m.evaluations = reg->NewCounterFamily("vigil_rule_evaluations_total",
                                        "Rule evaluations.", l)
                      ->WithLabelValues({key});
  m.failures = reg->NewCounterFamily("vigil_rule_evaluation_failures_total",
                                     "Rule evaluations that failed.", l)
                   ->WithLabelValues({key});
  m.last_eval = reg->NewGaugeFamily("vigil_rule_group_last_evaluation_timestamp_seconds",
                                    "When the group was last evaluated.", l)
                    ->WithLabelValues({key});
  m.last_duration = reg->NewGaugeFamily("vigil_rule_group_last_duration_seconds",
                                        "How long the last evaluation of the group took.", l)
                        ->WithLabelValues({key});
  m.interval = reg->NewGaugeFamily("vigil_rule_group_interval_seconds",
                                   "The evaluation interval of the group.", l)
                   ->WithLabelValues({key});
  m.rules = reg->NewGaugeFamily("vigil_rule_group_rules", "Rules in the group.", l)
                ->WithLabelValues({key});
  m.start_delay = reg->NewHistogramFamily("vigil_rule_group_iteration_start_delay_seconds",
                                          "How late an iteration of a rule group started after it "
                                          "was due (its slot plus the settle delay).",
                                          l, DelayBuckets())
                      ->WithLabelValues({key});
  return m;
}

}  // namespace

// One rule of a group: either recording (alerting == nullptr) or alerting.
struct RuleEntry {
  RuleSpec spec;
  std::unique_ptr<AlertingRule> alerting;
  std::map<uint64_t, model::Labels> last_series;  // output of the previous evaluation
  mutable std::mutex mu;
  std::string health = "unknown";
  std::string last_error;
  int64_t last_eval_ms = 0;
  double eval_seconds = 0;
};

class Group {
 public:
  Group(const GroupSpec& spec, std::string file, int64_t interval_ms, const ManagerOptions* opts)
      : name_(spec.name),
        file_(std::move(file)),
        interval_ms_(interval_ms),
        limit_(spec.limit),
        query_offset_ms_(spec.query_offset_ms),
        opts_(opts),
        metrics_(NewGroupMetrics(opts->registry, file_ + ";" + name_)) {
    for (const RuleSpec& r : spec.rules) {
      auto e = std::make_unique<RuleEntry>();
      e->spec = r;
      if (r.is_alert()) {
        e->alerting = std::make_unique<AlertingRule>(r, opts->context);
        // A fresh rule must first learn its alerts from the query, then restore their
        // state from ALERTS_FOR_STATE before it writes any ALERTS series.
        e->alerting->set_restored(false);
      }
      rules_.push_back(std::move(e));
    }
    metrics_.interval->Set(static_cast<double>(interval_ms_) / 1000.0);
    metrics_.rules->Set(static_cast<double>(rules_.size()));
  }

  ~Group() { Stop(); }

  std::string Key() const { return file_ + ";" + name_; }

  // Adopts alert state and series bookkeeping from the group it replaces.
  void CopyStateFrom(const Group& old) {
    for (auto& r : rules_) {
      for (const auto& o : old.rules_) {
        if (o->spec.name() != r->spec.name() || o->spec.expr != r->spec.expr) continue;
        if (r->alerting && o->alerting) r->alerting->CopyStateFrom(*o->alerting);
        r->last_series = o->last_series;
        break;
      }
    }
    last_eval_ms_ = old.last_eval_ms_.load();
  }

  void Start() {
    std::lock_guard<std::mutex> lock(mu_);
    if (thread_.joinable()) return;
    stop_ = false;
    thread_ = std::thread([this] { Loop(); });
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // First aligned evaluation time at or after `now` (Prometheus's EvalTimestamp).
  int64_t AlignedAfter(int64_t now) const {
    const std::string key = Key();
    const uint64_t h = XXH64(key.data(), key.size(), 0);
    const int64_t offset = static_cast<int64_t>(h % static_cast<uint64_t>(interval_ms_));
    int64_t adj = now - offset;
    int64_t base = adj - ((adj % interval_ms_) + interval_ms_) % interval_ms_;
    int64_t t = base + offset;
    if (t < now) t += interval_ms_;
    return t;
  }

  void Eval(int64_t ts) {
    const auto t0 = std::chrono::steady_clock::now();
    metrics_.iterations->Inc();
    const int64_t qts = ts - query_offset_ms_;
    std::unique_ptr<storage::Appender> app;
    if (opts_->appendable != nullptr) app = opts_->appendable->NewAppender(opts_->tenant);
    for (auto& r : rules_) {
      const auto r0 = std::chrono::steady_clock::now();
      metrics_.evaluations->Inc();
      absl::StatusOr<std::vector<OutSample>> out = EvalRule(*r, qts);
      std::string err;
      if (!out.ok()) {
        metrics_.failures->Inc();
        err = std::string(out.status().message());
        VLOG_WARN("rules", "group {} rule {}: evaluation failed: {}", name_, r->spec.name(), err);
      }
      if (r->alerting) {
        if (!r->alerting->restored()) {
          r->alerting->RestoreForState(qts, opts_->query, opts_->outage_tolerance_ms,
                                       opts_->for_grace_period_ms);
          r->alerting->set_restored(true);
        }
        // Due alerts go to the notifier as soon as their rule is evaluated, before the
        // rule's series are appended and the group's results committed (Prometheus's order),
        // so that neither the later rules nor the storage write delay a notification.
        std::vector<Alert> due = r->alerting->AlertsToSend(ts, opts_->resend_delay_ms, interval_ms_);
        if (!due.empty() && opts_->notify) opts_->notify(due);
      }
      std::map<uint64_t, model::Labels> seen;
      if (out.ok() && app) {
        for (const auto& s : *out) {
          auto ref = app->Append(0, s.labels, ts, s.v);
          if (!ref.ok() && err.empty()) err = std::string(ref.status().message());
          seen.emplace(s.labels.Hash(), s.labels);
        }
        // Series that the rule produced last time and not now end with a stale marker.
        for (const auto& [h, l] : r->last_series) {
          if (seen.count(h) == 0) (void)app->Append(0, l, ts, model::StaleNaN());
        }
        r->last_series = std::move(seen);
      }
      std::lock_guard<std::mutex> lock(r->mu);
      r->health = err.empty() ? "ok" : "err";
      r->last_error = err;
      r->last_eval_ms = ts;
      r->eval_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - r0).count();
    }
    if (app) {
      if (absl::Status s = app->Commit(); !s.ok()) {
        VLOG_WARN("rules", "group {}: writing results: {}", name_, std::string(s.message()));
      }
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    eval_seconds_.store(secs);
    last_eval_ms_.store(ts);
    metrics_.last_duration->Set(secs);
    metrics_.last_eval->Set(static_cast<double>(ts) / 1000.0);
  }

  GroupStatus Status() const {
    GroupStatus g;
    g.name = name_;
    g.file = file_;
    g.interval_ms = interval_ms_;
    g.limit = limit_;
    g.last_evaluation_ms = last_eval_ms_.load();
    g.evaluation_seconds = eval_seconds_.load();
    for (const auto& r : rules_) {
      RuleStatus s;
      s.spec = r->spec;
      {
        std::lock_guard<std::mutex> lock(r->mu);
        s.health = r->health;
        s.last_error = r->last_error;
        s.last_evaluation_ms = r->last_eval_ms;
        s.evaluation_seconds = r->eval_seconds;
      }
      if (r->alerting) {
        s.state = r->alerting->State();
        s.alerts = r->alerting->ActiveAlerts();
      }
      g.rules.push_back(std::move(s));
    }
    return g;
  }

 private:
  absl::StatusOr<std::vector<OutSample>> EvalRule(RuleEntry& r, int64_t ts) {
    if (r.alerting) return r.alerting->Eval(ts, opts_->query, limit_);
    auto res = opts_->query(r.spec.expr, ts);
    if (!res.ok()) return res.status();
    std::vector<OutSample> out;
    std::set<uint64_t> seen;
    for (const auto& s : ResultToVector(*res, ts)) {
      model::LabelsBuilder b(s.labels);
      b.Set(model::kMetricName, r.spec.record);
      for (const auto& [k, v] : r.spec.labels) b.Set(k, v);
      model::Labels l = b.Build();
      if (!seen.insert(l.Hash()).second) {
        return absl::InvalidArgumentError(
            "vector contains metrics with the same labelset after applying rule labels");
      }
      out.push_back({std::move(l), ts, s.v});
    }
    if (limit_ > 0 && static_cast<int64_t>(out.size()) > limit_) {
      return absl::ResourceExhaustedError(
          fmt::format("exceeded limit of {} with {} series", limit_, out.size()));
    }
    return out;
  }

  void Loop() {
    // The schedule is kept in microseconds of the wall clock: an iteration starts when it is
    // due, not up to a millisecond after it (a millisecond clock rounds every wait down).
    const auto now_us = [this] { return opts_->now_ms ? opts_->now_ms() * 1000 : WallUs(); };
    // Timed waits of this thread may end 1 us late instead of Linux's default 50 us.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    int64_t next = AlignedAfter((now_us() + 999) / 1000);
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      const int64_t due_us = (next + opts_->settle_ms) * 1000;
      const int64_t wait_us = due_us - now_us();
      if (wait_us > 0) {
        cv_.wait_for(lock, std::chrono::microseconds(wait_us), [this] { return stop_; });
        if (stop_) break;
        if (now_us() < due_us) continue;
      }
      metrics_.start_delay->Observe(static_cast<double>(now_us() - due_us) / 1e6);
      lock.unlock();
      Eval(next);
      lock.lock();
      // Skip (and count) the iterations that the evaluation overran.
      const int64_t missed = (now_us() / 1000 - next) / interval_ms_;
      if (missed > 0) {
        metrics_.missed->Inc(static_cast<double>(missed));
        VLOG_WARN("rules", "group {}: evaluation took longer than the interval; {} iterations missed",
                  name_, missed);
      }
      next += (missed + 1) * interval_ms_;
    }
  }

  const std::string name_;
  const std::string file_;
  const int64_t interval_ms_;
  const int64_t limit_;
  const int64_t query_offset_ms_;
  const ManagerOptions* opts_;
  GroupMetrics metrics_;
  std::vector<std::unique_ptr<RuleEntry>> rules_;
  std::atomic<int64_t> last_eval_ms_{0};
  std::atomic<double> eval_seconds_{0};

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

Manager::Manager(ManagerOptions opts) : opts_(std::move(opts)) {}

Manager::~Manager() { Stop(); }

void Manager::Update(const std::vector<RuleFile>& files, int64_t default_interval_ms) {
  std::vector<std::shared_ptr<Group>> fresh;
  for (const RuleFile& f : files) {
    for (const GroupSpec& g : f.groups) {
      const int64_t interval = g.interval_ms > 0 ? g.interval_ms : default_interval_ms;
      fresh.push_back(std::make_shared<Group>(g, f.filename, interval > 0 ? interval : 60'000, &opts_));
    }
  }
  std::vector<std::shared_ptr<Group>> old;
  {
    std::lock_guard<std::mutex> lock(mu_);
    old = groups_;
  }
  // Stop the old groups first so that no evaluation races with the state copy.
  for (auto& g : old) g->Stop();
  for (auto& g : fresh) {
    for (const auto& o : old) {
      if (o->Key() == g->Key()) {
        g->CopyStateFrom(*o);
        break;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  groups_ = std::move(fresh);
  if (running_) {
    for (auto& g : groups_) g->Start();
  }
}

void Manager::SetContext(RuleContext context) {
  // Only Update() reads the context (when it builds groups), and reloads are serialized by
  // the caller, so no group reads it concurrently.
  std::lock_guard<std::mutex> lock(mu_);
  opts_.context = std::move(context);
}

absl::Status Manager::LoadAndUpdate(const std::vector<std::string>& globs,
                                    int64_t default_interval_ms) {
  auto paths = ExpandRuleFileGlobs(globs);
  if (!paths.ok()) return paths.status();
  std::vector<RuleFile> files;
  std::string errs;
  for (const auto& p : *paths) {
    auto f = LoadRuleFile(p);
    if (!f.ok()) {
      if (!errs.empty()) errs += "\n";
      errs += std::string(f.status().message());
      continue;
    }
    files.push_back(std::move(*f));
  }
  if (!errs.empty()) return absl::InvalidArgumentError(fmt::format("cannot load rule files: {}", errs));
  Update(files, default_interval_ms);
  return absl::OkStatus();
}

void Manager::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  running_ = true;
  for (auto& g : groups_) g->Start();
}

void Manager::Stop() {
  std::vector<std::shared_ptr<Group>> gs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
    gs = groups_;
  }
  for (auto& g : gs) g->Stop();
}

std::vector<GroupStatus> Manager::Groups() const {
  std::vector<std::shared_ptr<Group>> gs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gs = groups_;
  }
  std::vector<GroupStatus> out;
  for (const auto& g : gs) out.push_back(g->Status());
  return out;
}

std::vector<ActiveAlert> Manager::Alerts() const {
  std::vector<ActiveAlert> out;
  for (const auto& g : Groups()) {
    for (const auto& r : g.rules) out.insert(out.end(), r.alerts.begin(), r.alerts.end());
  }
  return out;
}

void Manager::EvalAllOnce(int64_t ts) {
  std::vector<std::shared_ptr<Group>> gs;
  {
    std::lock_guard<std::mutex> lock(mu_);
    gs = groups_;
  }
  for (auto& g : gs) g->Eval(ts);
}

}  // namespace vigil::rules
