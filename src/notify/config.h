// Alertmanager-compatible notification configuration: a `notify:` section of Vigil's
// config or an alertmanager.yml, with the same keys:
//
//   global: {resolve_timeout, smtp_smarthost, smtp_from, smtp_auth_username,
//            smtp_auth_password, smtp_require_tls, slack_api_url, pagerduty_url}
//   route: {receiver, group_by, group_wait, group_interval, repeat_interval, matchers,
//           match, match_re, continue, mute_time_intervals, active_time_intervals, routes}
//   receivers: [{name, webhook_configs, slack_configs, pagerduty_configs, email_configs}]
//   inhibit_rules: [{source_matchers, target_matchers, source_match(_re), target_match(_re), equal}]
//   time_intervals / mute_time_intervals: [{name, time_intervals: [{times, weekdays,
//           days_of_month, months, years}]}]   (UTC)
//   templates: [glob, ...]   files of {{ define "name" }} blocks (notify/templates.h)
//
// Plus `alertmanagers`: URLs of external Alertmanagers that receive every alert (from
// prometheus.yml's `alerting.alertmanagers[].static_configs[].targets`).
//
// Errors name the file and line:col. Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"
#include "model/matcher.h"

namespace vigil::rules {
class TemplateSet;
}

namespace vigil::notify {

// Text fields marked "template" are Alertmanager-style Go templates over the notification
// data (notify/templates.h); their defaults call the default templates by Alertmanager's
// names ("slack.default.title", "email.default.html", ...).
struct WebhookConfig {
  std::string url;
  bool send_resolved = true;
  int max_alerts = 0;
  bool operator==(const WebhookConfig&) const = default;
};
struct SlackConfig {
  std::string api_url;
  std::string channel;    // template
  std::string username;   // template
  std::string color;      // template
  std::string title;      // template
  std::string title_link; // template
  std::string pretext;    // template
  std::string text;       // template
  std::string fallback;   // template
  std::string footer;     // template
  std::string icon_emoji; // template
  std::string icon_url;   // template
  bool send_resolved = false;
  bool operator==(const SlackConfig&) const = default;
};
struct PagerDutyConfig {
  std::string routing_key;  // template
  std::string url;
  std::string severity;     // template
  std::string description;  // template
  std::string client;       // template
  std::string client_url;   // template
  std::string source;       // template
  std::string component, group, class_;  // templates
  std::vector<std::pair<std::string, std::string>> details;  // values are templates
  bool send_resolved = true;
  bool operator==(const PagerDutyConfig&) const = default;
};
struct EmailConfig {
  std::string to;    // template
  std::string from;  // template
  std::string smarthost;  // host:port
  std::string auth_username;
  std::string auth_password;
  bool require_tls = true;
  std::string subject;  // template (the Subject header)
  std::string html;     // template
  std::string text;     // template
  std::vector<std::pair<std::string, std::string>> headers;  // other headers; templates
  bool send_resolved = false;
  bool operator==(const EmailConfig&) const = default;
};

struct Receiver {
  std::string name;
  std::vector<WebhookConfig> webhooks;
  std::vector<SlackConfig> slacks;
  std::vector<PagerDutyConfig> pagerduties;
  std::vector<EmailConfig> emails;
};

struct Route {
  std::string receiver;
  std::vector<std::string> group_by;  // "..." means every label
  bool group_by_all = false;
  int64_t group_wait_ms = 30'000;
  int64_t group_interval_ms = 5 * 60'000;
  int64_t repeat_interval_ms = 4 * 3600'000;
  model::Matchers matchers;
  bool cont = false;
  std::vector<std::string> mute_time_intervals;
  std::vector<std::string> active_time_intervals;
  std::vector<Route> routes;
  std::string id;  // position in the tree ("0", "0/1", ...), names aggregation groups
};

struct InhibitRule {
  model::Matchers source;
  model::Matchers target;
  std::vector<std::string> equal;
};

struct TimeRange {
  int start_minute = 0;  // of the day, [start, end)
  int end_minute = 24 * 60;
};
struct IntRange {
  int lo, hi;  // inclusive
};
struct TimeInterval {
  std::vector<TimeRange> times;
  std::vector<IntRange> weekdays;       // 0 = sunday
  std::vector<IntRange> days_of_month;  // 1..31, negative counts from the end
  std::vector<IntRange> months;         // 1..12
  std::vector<IntRange> years;
  bool Contains(int64_t unix_ms) const;
};
struct NamedTimeInterval {
  std::string name;
  std::vector<TimeInterval> intervals;  // any
  bool Contains(int64_t unix_ms) const;
};

struct Config {
  int64_t resolve_timeout_ms = 5 * 60'000;
  Route route;
  std::vector<Receiver> receivers;
  std::vector<InhibitRule> inhibit_rules;
  std::vector<NamedTimeInterval> time_intervals;
  std::vector<std::string> alertmanagers;  // base URLs, e.g. http://127.0.0.1:9093
  // `templates:` globs as written, and the default templates plus those files' {{ define }}s
  // (never null after ParseConfig).
  std::vector<std::string> template_files;
  std::shared_ptr<const rules::TemplateSet> templates;
};

// Parses Alertmanager YAML. `filename` is for messages, and `templates:` globs are relative
// to its directory (as Alertmanager resolves them against its config file). Every template
// field is parsed here, so a syntax error refuses the config with its position.
absl::StatusOr<Config> ParseConfig(std::string_view yaml, std::string_view filename);
absl::StatusOr<Config> LoadConfigFile(const std::string& path);
// Parses the `section` key of a larger YAML file (Vigil's config's `notify:`), with errors
// at their line and column in that file. NotFound when the file has no such key.
absl::StatusOr<Config> ParseConfigSection(std::string_view file_yaml, std::string_view section,
                                          std::string_view filename);
// Reads `alerting.alertmanagers` from prometheus.yml's raw `alerting` section into URLs
// (scheme + target + path_prefix).
absl::StatusOr<std::vector<std::string>> ParseAlertmanagersSection(std::string_view alerting_yaml);

// One Alertmanager matcher: `name="value"`, `name=~"re"`, `name!=value`, `name!~re`.
absl::StatusOr<model::Matcher> ParseMatcher(std::string_view s);

}  // namespace vigil::notify
