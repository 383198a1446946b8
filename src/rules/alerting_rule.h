// AlertingRule: one `alert:` rule and the state of every alert it produced.
//
// Each evaluation runs the rule's query and moves each resulting series through
//   inactive -> pending (present, `for` not yet elapsed) -> firing -> inactive (resolved)
// as Prometheus does:
//   - a series seen for the first time becomes pending with active_at = now; it fires once
//     now - active_at >= `for` (at once when `for` is 0);
//   - a pending alert whose series disappears is dropped (a spike shorter than `for` never
//     fires);
//   - a firing alert whose series disappears stays firing until it has been absent for
//     `keep_firing_for` (a dip shorter than that never resolves), then resolves; resolved
//     alerts are kept 15 minutes so notifiers learn they ended;
//   - labels and annotations are templates expanded per series with $labels and $value.
// Eval returns the ALERTS{alertstate=...} and ALERTS_FOR_STATE series (value = active_at
// in seconds) for storage. After a restart, RestoreForState() reads ALERTS_FOR_STATE back
// so firing alerts keep their start and pending ones keep counting towards `for`.
//
// Thread-safety: Eval, RestoreForState and AlertsToSend are called by the one group
// thread; ActiveAlerts and the status getters may be called concurrently (internal mutex).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"
#include "promql/engine.h"
#include "rules/rule_file.h"
#include "rules/template.h"

namespace vigil::rules {

// Runs an instant PromQL query at t (ms). The seam to the engine, wired in cmd.
using QueryFunc =
    std::function<absl::StatusOr<promql::QueryResult>(std::string_view query, int64_t t_ms)>;

enum class AlertState { kInactive, kPending, kFiring };
std::string_view AlertStateName(AlertState s);  // "inactive", "pending", "firing"

struct ActiveAlert {
  model::Labels labels;       // includes alertname, excludes __name__
  model::Labels annotations;  // expanded
  AlertState state = AlertState::kInactive;
  double value = 0;
  int64_t active_at_ms = 0;
  int64_t fired_at_ms = 0;
  int64_t resolved_at_ms = 0;  // 0 while not resolved
  int64_t last_sent_at_ms = 0;
  bool sent = false;  // last_sent_at_ms is meaningful
  int64_t valid_until_ms = 0;
  int64_t keep_firing_since_ms = 0;
};

// What a rule hands to the notifier (Prometheus's notifier.Alert).
struct Alert {
  model::Labels labels;
  model::Labels annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // in the future for a firing alert (valid until), past when resolved
  std::string generator_url;
};

struct RuleContext {
  model::Labels external_labels;
  std::string external_url;
};

// Output series sample of a rule evaluation.
struct OutSample {
  model::Labels labels;  // with __name__
  int64_t t;
  double v;
};

class AlertingRule {
 public:
  AlertingRule(RuleSpec spec, RuleContext ctx);

  // Evaluates at `ts`; returns the ALERTS and ALERTS_FOR_STATE samples. `limit` > 0 caps
  // the number of pending+firing alerts (over it, every alert is dropped and an error
  // returned, as Prometheus does).
  absl::StatusOr<std::vector<OutSample>> Eval(int64_t ts, const QueryFunc& query, int64_t limit);

  // Restores active_at of current alerts from ALERTS_FOR_STATE over
  // [ts - outage_tolerance, ts]; see Prometheus's --rules.alert.for-outage-tolerance and
  // --rules.alert.for-grace-period.
  void RestoreForState(int64_t ts, const QueryFunc& query, int64_t outage_tolerance_ms,
                       int64_t grace_period_ms);

  // The alerts due to be (re)sent at `ts`: firing ones every `resend_delay`, and resolved
  // ones once. Updates last_sent/valid_until.
  std::vector<Alert> AlertsToSend(int64_t ts, int64_t resend_delay_ms, int64_t interval_ms);

  std::vector<ActiveAlert> ActiveAlerts() const;
  // Adopts the alerts of the same rule from before a reload.
  void CopyStateFrom(const AlertingRule& old);
  // Rule state: the most severe state among its alerts.
  AlertState State() const;

  const RuleSpec& spec() const { return spec_; }
  bool restored() const { return restored_; }
  void set_restored(bool r) { restored_ = r; }

 private:
  model::Labels Expand(const std::vector<std::pair<std::string, std::string>>& templates,
                       const model::Labels& series, double value, int64_t ts,
                       const QueryFunc& query, bool is_label) const;

  const RuleSpec spec_;
  const RuleContext ctx_;
  bool restored_ = true;
  mutable std::mutex mu_;
  std::map<uint64_t, ActiveAlert> active_;  // by labels hash
};

// The link an alert carries back to its expression: <external_url>/graph?g0.expr=<escaped
// expr>&g0.tab=1, as Prometheus builds it.
std::string GeneratorURL(std::string_view external_url, std::string_view expr);

// Converts an engine result to samples (a scalar becomes one sample without labels).
std::vector<promql::Sample> ResultToVector(const promql::QueryResult& r, int64_t ts);

}  // namespace vigil::rules
