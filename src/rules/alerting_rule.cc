#include "rules/alerting_rule.h"

#include <cctype>
#include <cmath>
#include <set>

#include "base/log.h"
#include "fmt/format.h"
#include "promql/parser.h"

namespace vigil::rules {
namespace {

// Resolved alerts are kept this long so that notifiers hear about the resolution.
constexpr int64_t kResolvedRetentionMs = 15 * 60 * 1000;

std::string LabelMatchers(const model::Labels& l) {
  std::string out;
  for (const auto& p : l) {
    if (!out.empty()) out += ',';
    out += p.name + "=" + promql::QuoteString(p.value);
  }
  return out;
}

}  // namespace

std::string GeneratorURL(std::string_view external_url, std::string_view expr) {
  // As Prometheus's graph link: the expression query-escaped, table tab.
  std::string out = std::string(external_url) + "/graph?g0.expr=";
  for (unsigned char c : expr) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out + "&g0.tab=1";
}

std::string_view AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive: return "inactive";
    case AlertState::kPending: return "pending";
    case AlertState::kFiring: return "firing";
  }
  return "inactive";
}

std::vector<promql::Sample> ResultToVector(const promql::QueryResult& r, int64_t ts) {
  if (r.type == promql::ValueType::kScalar) return {promql::Sample{model::Labels(), ts, r.scalar.v}};
  return r.vector;
}

AlertingRule::AlertingRule(RuleSpec spec, RuleContext ctx)
    : spec_(std::move(spec)), ctx_(std::move(ctx)) {}

model::Labels AlertingRule::Expand(
    const std::vector<std::pair<std::string, std::string>>& templates,
    const model::Labels& series, double value, int64_t ts, const QueryFunc& query,
    bool is_label) const {
  TemplateData data;
  data.labels = series;
  data.external_labels = ctx_.external_labels;
  data.external_url = ctx_.external_url;
  data.value = value;
  TemplateQueryFunc tq = [&](std::string_view q) -> absl::StatusOr<std::vector<QuerySample>> {
    auto r = query(q, ts);
    if (!r.ok()) return r.status();
    std::vector<QuerySample> out;
    for (auto& s : ResultToVector(*r, ts)) out.push_back({s.labels, s.v});
    return out;
  };
  model::LabelsBuilder b(is_label ? series : model::Labels());
  for (const auto& [k, t] : templates) {
    auto v = ExpandTemplate(t, data, tq);
    if (!v.ok()) {
      // As Prometheus: keep going, with the error text as the value, and log it.
      VLOG_WARN("rules", "alert {}: expanding {} {}: {}", spec_.alert, is_label ? "label" : "annotation",
                k, std::string(v.status().message()));
      b.Set(k, std::string(v.status().message()));
    } else {
      b.Set(k, *v);
    }
  }
  return b.Build();
}

absl::StatusOr<std::vector<OutSample>> AlertingRule::Eval(int64_t ts, const QueryFunc& query,
                                                          int64_t limit) {
  auto res = query(spec_.expr, ts);
  if (!res.ok()) return res.status();
  std::vector<promql::Sample> vec = ResultToVector(*res, ts);

  // Build the alerts of this evaluation, keyed by their final label set.
  std::map<uint64_t, ActiveAlert> fresh;
  for (const auto& s : vec) {
    model::LabelsBuilder base(s.labels);
    base.Del(model::kMetricName);
    const model::Labels series = base.Build();
    model::Labels labels = Expand(spec_.labels, series, s.v, ts, query, /*is_label=*/true);
    labels = model::LabelsBuilder(labels).Set("alertname", spec_.alert).Build();
    ActiveAlert a;
    a.annotations = Expand(spec_.annotations, series, s.v, ts, query, /*is_label=*/false);
    a.labels = std::move(labels);
    a.value = s.v;
    const uint64_t h = a.labels.Hash();
    if (fresh.count(h) != 0) {
      return absl::InvalidArgumentError(
          "vector contains metrics with the same labelset after applying alert labels");
    }
    fresh.emplace(h, std::move(a));
  }

  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [h, a] : fresh) {
    auto it = active_.find(h);
    if (it != active_.end() && it->second.state != AlertState::kInactive) {
      it->second.value = a.value;
      it->second.annotations = std::move(a.annotations);
      it->second.labels = std::move(a.labels);
      continue;
    }
    a.state = AlertState::kPending;
    a.active_at_ms = ts;
    active_[h] = std::move(a);
  }

  std::vector<OutSample> out;
  int64_t active_count = 0;
  for (auto it = active_.begin(); it != active_.end();) {
    ActiveAlert& a = it->second;
    if (fresh.count(it->first) == 0) {
      bool keep_firing = false;
      if (a.state == AlertState::kFiring && spec_.keep_firing_for_ms > 0) {
        if (a.keep_firing_since_ms == 0) a.keep_firing_since_ms = ts;
        if (ts - a.keep_firing_since_ms < spec_.keep_firing_for_ms) keep_firing = true;
      }
      if (a.state == AlertState::kPending ||
          (a.resolved_at_ms != 0 && ts - a.resolved_at_ms > kResolvedRetentionMs)) {
        it = active_.erase(it);
        continue;
      }
      if (!keep_firing) {
        if (a.state != AlertState::kInactive) {
          a.state = AlertState::kInactive;
          a.resolved_at_ms = ts;
        }
        ++it;
        continue;
      }
    } else {
      a.keep_firing_since_ms = 0;
    }
    ++active_count;
    if (a.state == AlertState::kPending && ts - a.active_at_ms >= spec_.for_ms) {
      a.state = AlertState::kFiring;
      a.fired_at_ms = ts;
    }
    if (restored_) {
      model::LabelsBuilder b(a.labels);
      b.Set(model::kMetricName, "ALERTS");
      b.Set("alertstate", AlertStateName(a.state));
      out.push_back({b.Build(), ts, 1});
      model::LabelsBuilder f(a.labels);
      f.Set(model::kMetricName, "ALERTS_FOR_STATE");
      out.push_back({f.Build(), ts, static_cast<double>(a.active_at_ms / 1000)});
    }
    ++it;
  }
  if (limit > 0 && active_count > limit) {
    active_.clear();
    return absl::ResourceExhaustedError(
        fmt::format("exceeded limit of {} with {} alerts", limit, active_count));
  }
  return out;
}

void AlertingRule::RestoreForState(int64_t ts, const QueryFunc& query,
                                   int64_t outage_tolerance_ms, int64_t grace_period_ms) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [h, a] : active_) {
    if (a.state == AlertState::kInactive) continue;
    const std::string q = fmt::format("ALERTS_FOR_STATE{{{}}}[{}ms]", LabelMatchers(a.labels),
                                      outage_tolerance_ms);
    auto r = query(q, ts);
    if (!r.ok()) {
      VLOG_WARN("rules", "alert {}: restoring state: {}", spec_.alert, std::string(r.status().message()));
      continue;
    }
    if (r->matrix.empty() || r->matrix[0].points.empty()) continue;
    const promql::Point last = r->matrix[0].points.back();
    int64_t restored_active_at = static_cast<int64_t>(last.v) * 1000;
    const int64_t down_at = last.t;
    if (spec_.for_ms > 0) {
      const int64_t spent_pending = down_at - restored_active_at;
      const int64_t remaining = spec_.for_ms - spent_pending;
      if (remaining <= 0) {
        // It was firing before the restart: keep its original start.
      } else if (remaining < grace_period_ms) {
        restored_active_at = ts + grace_period_ms - spec_.for_ms;
      } else {
        restored_active_at += ts - down_at;
      }
    }
    a.active_at_ms = restored_active_at;
    if (a.state == AlertState::kFiring && ts - a.active_at_ms < spec_.for_ms) {
      a.state = AlertState::kPending;
    }
    if (a.state == AlertState::kFiring) a.fired_at_ms = std::min(a.fired_at_ms, restored_active_at + spec_.for_ms);
    VLOG_INFO("rules", "alert {}: restored {} active since {} ms", spec_.alert, a.labels.ToString(),
              a.active_at_ms);
  }
}

std::vector<Alert> AlertingRule::AlertsToSend(int64_t ts, int64_t resend_delay_ms,
                                              int64_t interval_ms) {
  std::vector<Alert> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [h, a] : active_) {
    if (a.state == AlertState::kPending) continue;
    bool needs = false;
    if (a.resolved_at_ms != 0 && (!a.sent || a.resolved_at_ms > a.last_sent_at_ms)) {
      needs = true;
    } else if (a.state == AlertState::kFiring) {
      needs = !a.sent || a.last_sent_at_ms + resend_delay_ms <= ts;
    }
    if (!needs) continue;
    a.last_sent_at_ms = ts;
    a.sent = true;
    const int64_t delta = std::max(resend_delay_ms, interval_ms);
    a.valid_until_ms = ts + 4 * delta;
    Alert n;
    n.labels = a.labels;
    n.annotations = a.annotations;
    n.starts_at_ms = a.fired_at_ms;
    n.ends_at_ms = a.resolved_at_ms != 0 ? a.resolved_at_ms : a.valid_until_ms;
    n.generator_url = GeneratorURL(ctx_.external_url, spec_.expr);
    out.push_back(std::move(n));
  }
  return out;
}

std::vector<ActiveAlert> AlertingRule::ActiveAlerts() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ActiveAlert> out;
  for (const auto& [h, a] : active_) {
    if (a.state != AlertState::kInactive) out.push_back(a);
  }
  return out;
}

void AlertingRule::CopyStateFrom(const AlertingRule& old) {
  std::scoped_lock lock(mu_, old.mu_);
  active_ = old.active_;
  restored_ = old.restored_;
}

AlertState AlertingRule::State() const {
  std::lock_guard<std::mutex> lock(mu_);
  AlertState s = AlertState::kInactive;
  for (const auto& [h, a] : active_) {
    if (a.state == AlertState::kFiring) return AlertState::kFiring;
    if (a.state == AlertState::kPending) s = AlertState::kPending;
  }
  return s;
}

}  // namespace vigil::rules
