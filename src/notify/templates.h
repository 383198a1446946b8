// Notification templates: the Go-template texts of receivers (Slack title/text, PagerDuty
// description and details, e-mail subject/html/text, ...), run by the template engine of
// src/rules over Alertmanager's template data:
//
//   .Receiver .Status ("firing"/"resolved") .GroupLabels .CommonLabels .CommonAnnotations
//   .ExternalURL .GroupKey .Alerts (each: .Status .Labels .Annotations .StartsAt .EndsAt
//   .GeneratorURL .Fingerprint) with .Alerts.Firing / .Alerts.Resolved, and label maps'
//   .SortedPairs / .Names / .Values / .Remove.
//
// The defaults are Vigil's own texts, defined under Alertmanager's template names
// ("__subject", "slack.default.title", "pagerduty.default.instances", "email.default.html",
// ...), so a `templates:` file written for Alertmanager that redefines one of them changes
// Vigil's output the same way.
//
// Thread-safety: a TemplateSet is immutable once loaded; expansion is thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "rules/template.h"

namespace vigil::notify {

struct Notification;

// Vigil's default notification templates (the text of default.tmpl).
std::string_view DefaultTemplates();

// The default templates plus the {{ define }}s of the files matching `globs` (relative
// paths are taken from `base_dir`), later files overriding earlier definitions.
absl::StatusOr<std::shared_ptr<const rules::TemplateSet>> LoadTemplates(
    const std::vector<std::string>& globs, const std::string& base_dir);

// Alertmanager's template data for one notification.
rules::tmpl::Value TemplateData(const Notification& n);

// Expands a text (html = false) or HTML (html = true, values escaped) template field.
// An error names the field: "slack_configs title: template: ...".
absl::StatusOr<std::string> ExpandField(const rules::TemplateSet& set, std::string_view field,
                                        std::string_view text, const rules::tmpl::Value& data,
                                        bool html = false);

}  // namespace vigil::notify
