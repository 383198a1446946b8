// Manager: runs rule groups on their schedule.
//
// Each group runs on its own thread. Its evaluations are aligned to its interval and
// offset by a hash of the group's file and name (so groups spread over the interval, and a
// restart keeps the same phase), as Prometheus does. An iteration never overlaps the
// previous one: if an evaluation takes longer than the interval, the iterations that
// could not start are counted in rule_group_iterations_missed_total and skipped.
//
// In one iteration the rules run in file order at one timestamp; recording rules append
// their result through the Appendable (stale markers for series that vanished), alerting
// rules hand due alerts to the notify function as soon as they are evaluated (before the
// group's results are committed, as Prometheus does) and append ALERTS / ALERTS_FOR_STATE.
// Iterations start settle_ms after their slot, to the microsecond; how late they start
// beyond that is observed in vigil_rule_group_iteration_start_delay_seconds.
//
// The seams (STYLE.md): a QueryFunc (PromQL at a time), an Appendable, a NotifyFunc.
//
// Thread-safety: all public methods may be called from any thread. Update() swaps groups
// atomically with respect to the status getters; it keeps the alert state of rules that
// survive a reload (same file, group, name and spec).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "base/metrics.h"
#include "rules/alerting_rule.h"
#include "rules/rule_file.h"
#include "storage/appender.h"

namespace vigil::rules {

using NotifyFunc = std::function<void(const std::vector<Alert>&)>;

struct ManagerOptions {
  QueryFunc query;
  storage::Appendable* appendable = nullptr;  // may be null (check/test tools)
  std::string tenant = std::string(storage::kDefaultTenant);
  NotifyFunc notify;  // may be empty
  RuleContext context;
  metrics::Registry* registry = nullptr;  // may be null
  int64_t outage_tolerance_ms = 60 * 60 * 1000;
  int64_t for_grace_period_ms = 10 * 60 * 1000;
  int64_t resend_delay_ms = 60 * 1000;
  // How long after its slot an iteration starts. The evaluation timestamp stays the slot;
  // the delay lets samples stamped at or before the slot that are still being committed
  // (a push or a scrape in flight) be seen by that slot's query instead of waiting a whole
  // interval. Alerts start at the slot and the notifier counts group_wait from there, so
  // the delay does not reach notifications unless it exceeds group_wait.
  int64_t settle_ms = 5;
  // Wall clock in ms; tests substitute their own.
  std::function<int64_t()> now_ms;
};

// Snapshot of one rule for the API.
struct RuleStatus {
  RuleSpec spec;
  std::string health = "unknown";  // "ok", "err", "unknown"
  std::string last_error;
  int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  AlertState state = AlertState::kInactive;  // alerting rules
  std::vector<ActiveAlert> alerts;           // alerting rules
};

struct GroupStatus {
  std::string name;
  std::string file;
  int64_t interval_ms = 0;
  int64_t limit = 0;
  int64_t last_evaluation_ms = 0;
  double evaluation_seconds = 0;
  std::vector<RuleStatus> rules;
};

class Group;

class Manager {
 public:
  explicit Manager(ManagerOptions opts);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  // Replaces the groups with those of `files` (default interval for groups without one).
  // Unchanged rules keep their alerts. Groups start running if the manager is started.
  void Update(const std::vector<RuleFile>& files, int64_t default_interval_ms);
  // Replaces the external labels and URL that the groups of the next Update() see (in
  // templates as $externalLabels / $externalURL). Call it before Update() on a reload.
  void SetContext(RuleContext context);
  // Loads the files named by the globs and calls Update; on any error nothing changes.
  absl::Status LoadAndUpdate(const std::vector<std::string>& globs, int64_t default_interval_ms);

  void Start();
  void Stop();

  std::vector<GroupStatus> Groups() const;
  // Every pending or firing alert, across groups.
  std::vector<ActiveAlert> Alerts() const;

  // Evaluates every group once at `ts` on the caller's thread (tests, `vigil test rules`).
  void EvalAllOnce(int64_t ts);

 private:
  ManagerOptions opts_;
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Group>> groups_;
  bool running_ = false;
};

}  // namespace vigil::rules
