#include "notify/templates.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "notify/notifier.h"
#include "rules/rule_file.h"

namespace vigil::notify {
namespace {

namespace tmpl = rules::tmpl;

// Vigil's defaults. Names follow Alertmanager's default.tmpl so that user files overriding
// them keep working; the texts are Vigil's.
constexpr std::string_view kDefaultTemplates = R"TMPL(
{{ define "__alertmanager" }}Vigil{{ end }}
{{ define "__alertmanagerURL" }}{{ .ExternalURL }}/alerts?receiver={{ .Receiver | urlquery }}{{ end }}

{{/* "[FIRING:2] HighLatency (api prod)": the status, how many fire, the group's label
     values, then in parentheses the other label values every alert shares. */}}
{{ define "__subject" -}}
[{{ toUpper .Status }}{{ if eq .Status "firing" }}:{{ len .Alerts.Firing }}{{ end }}]
{{- with .GroupLabels.SortedPairs.Values }} {{ join " " . }}{{ end }}
{{- with .CommonLabels.Remove .GroupLabels.Names }} ({{ join " " .Values }}){{ end }}
{{- end }}
{{ define "__description" }}{{ end }}

{{/* One paragraph per alert of a list: name and summary, labels, description, start. */}}
{{ define "__text_alert_list" -}}
{{ range . }}* {{ .Labels.alertname }}{{ with .Annotations.summary }}: {{ . }}{{ end }}
{{ range .Labels.SortedPairs }}    {{ .Name }}={{ .Value }}
{{ end }}{{ with .Annotations.description }}    {{ . }}
{{ end }}    since {{ .StartsAt }}{{ with .GeneratorURL }}, source {{ . }}{{ end }}
{{ end }}{{ end }}

{{ define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "slack.default.username" }}{{ template "__alertmanager" . }}{{ end }}
{{ define "slack.default.fallback" }}{{ template "slack.default.title" . }} | {{ template "slack.default.titlelink" . }}{{ end }}
{{ define "slack.default.callbackid" }}{{ end }}
{{ define "slack.default.pretext" }}{{ end }}
{{ define "slack.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{ define "slack.default.iconemoji" }}{{ end }}
{{ define "slack.default.iconurl" }}{{ end }}
{{ define "slack.default.footer" }}{{ end }}
{{ define "slack.default.color" }}{{ if eq .Status "firing" }}danger{{ else }}good{{ end }}{{ end }}
{{ define "slack.default.text" -}}
{{ range .Alerts }}{{ if eq .Status "firing" }}:red_circle:{{ else }}:white_check_mark:{{ end }} *{{ .Labels.alertname }}*
{{- with .Annotations.summary }} {{ . }}{{ else }}{{ with .Annotations.description }} {{ . }}{{ end }}{{ end }}
{{ end }}{{ end }}

{{ define "pagerduty.default.description" }}{{ template "__subject" . }}{{ end }}
{{ define "pagerduty.default.client" }}{{ template "__alertmanager" . }}{{ end }}
{{ define "pagerduty.default.clientURL" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{ define "pagerduty.default.instances" }}{{ template "__text_alert_list" . }}{{ end }}

{{ define "email.default.subject" }}{{ template "__subject" . }}{{ end }}
{{ define "email.default.html" -}}
<!DOCTYPE html>
<html>
<head><meta charset="UTF-8"><title>{{ template "__subject" . }}</title></head>
<body style="margin:0;padding:16px;background:#f4f4f4;font-family:Helvetica,Arial,sans-serif;font-size:14px">
<table style="width:100%;max-width:640px;margin:0 auto;background:#fff;border-collapse:collapse">
<tr><td style="padding:12px 16px;color:#fff;background:{{ if eq .Status "firing" }}#b03a2e{{ else }}#1e8449{{ end }}">
<strong>{{ len .Alerts.Firing }} firing, {{ len .Alerts.Resolved }} resolved</strong>
{{- with .GroupLabels.SortedPairs }} for{{ range . }} {{ .Name }}={{ .Value }}{{ end }}{{ end }}
</td></tr>
{{ range .Alerts -}}
<tr><td style="padding:12px 16px;border-bottom:1px solid #e0e0e0">
<strong>[{{ toUpper .Status }}] {{ .Labels.alertname }}</strong><br>
{{ range .Labels.SortedPairs }}{{ .Name }} = {{ .Value }}<br>
{{ end }}{{ range .Annotations.SortedPairs }}<em>{{ .Name }}</em>: {{ .Value }}<br>
{{ end }}since {{ .StartsAt }}{{ with .GeneratorURL }} &middot; <a href="{{ . }}">source</a>{{ end }}
</td></tr>
{{ end -}}
<tr><td style="padding:12px 16px;font-size:12px;color:#777">Sent by <a href="{{ template "__alertmanagerURL" . }}">{{ template "__alertmanager" . }}</a></td></tr>
</table>
</body>
</html>
{{ end }}
{{ define "email.default.text" }}{{ template "__subject" . }}

{{ template "__text_alert_list" .Alerts }}{{ end }}
)TMPL";

tmpl::Value AlertData(const Alert& a, int64_t now_ms) {
  const bool resolved = a.Resolved(now_ms);
  return tmpl::MakeStruct(
      "Alert", {{"Status", tmpl::MakeString(resolved ? "resolved" : "firing")},
                {"Labels", tmpl::MakeLabels(a.labels)},
                {"Annotations", tmpl::MakeLabels(a.annotations)},
                {"StartsAt", tmpl::MakeTime(a.starts_at_ms)},
                // Alertmanager shows Go's zero time for an alert that has not ended.
                {"EndsAt", tmpl::MakeTime(resolved ? a.ends_at_ms : -62135596800000)},
                {"GeneratorURL", tmpl::MakeString(a.generator_url)},
                {"Fingerprint", tmpl::MakeString(fmt::format("{:016x}", a.Fingerprint()))}});
}

}  // namespace

std::string_view DefaultTemplates() { return kDefaultTemplates; }

absl::StatusOr<std::shared_ptr<const rules::TemplateSet>> LoadTemplates(
    const std::vector<std::string>& globs, const std::string& base_dir) {
  auto set = std::make_shared<rules::TemplateSet>();
  if (absl::Status s = set->Add(kDefaultTemplates, "default.tmpl"); !s.ok()) {
    return absl::InternalError(fmt::format("BUG: default templates: {}", std::string(s.message())));
  }
  std::vector<std::string> patterns;
  for (const auto& g : globs) {
    patterns.push_back(!g.empty() && g[0] == '/' ? g : (base_dir.empty() ? g : base_dir + "/" + g));
  }
  auto paths = rules::ExpandRuleFileGlobs(patterns);
  if (!paths.ok()) return absl::InvalidArgumentError(fmt::format("templates: {}", std::string(paths.status().message())));
  for (const auto& p : *paths) {
    std::ifstream in(p);
    if (!in) return absl::NotFoundError(fmt::format("cannot read template file {}", p));
    std::stringstream ss;
    ss << in.rdbuf();
    if (absl::Status s = set->Add(ss.str(), p); !s.ok()) return s;
  }
  return std::shared_ptr<const rules::TemplateSet>(std::move(set));
}

tmpl::Value TemplateData(const Notification& n) {
  tmpl::List alerts;
  alerts.reserve(n.alerts.size());
  for (const auto& a : n.alerts) alerts.push_back(AlertData(a, n.now_ms));
  return tmpl::MakeStruct("Data", {{"Receiver", tmpl::MakeString(n.receiver)},
                                   {"Status", tmpl::MakeString(n.status)},
                                   {"Alerts", tmpl::MakeList(std::move(alerts))},
                                   {"GroupLabels", tmpl::MakeLabels(n.group_labels)},
                                   {"CommonLabels", tmpl::MakeLabels(n.common_labels)},
                                   {"CommonAnnotations", tmpl::MakeLabels(n.common_annotations)},
                                   {"ExternalURL", tmpl::MakeString(n.external_url)},
                                   {"GroupKey", tmpl::MakeString(n.group_key)}});
}

absl::StatusOr<std::string> ExpandField(const rules::TemplateSet& set, std::string_view field,
                                        std::string_view text, const tmpl::Value& data, bool html) {
  auto out = set.Execute(text, data, html);
  if (!out.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", std::string(field), std::string(out.status().message())));
  }
  return out;
}

}  // namespace vigil::notify
