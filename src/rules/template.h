// Templates for alert labels and annotations: the subset of Go's text/template that
// Prometheus rule files use, with Prometheus's template functions.
//
//   {{ $labels.instance }} is {{ $value | humanizePercentage }} full
//   {{ if gt $value 10.0 }}high{{ else }}low{{ end }}
//   {{ range query "up == 0" }}{{ .Labels.instance }} {{ end }}
//   {{ with query "sum(up)" }}{{ . | first | value | humanize }}{{ end }}
//
// Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and `/* comments */`;
// pipelines (`a | f b`), parenthesised pipelines, variables (`$x := ...`, `$x = ...`),
// field chains on the data, maps and query samples (`.Labels.job`, `$labels.job`,
// `.Value`); `if / else if / else / end`, `range` (over query results and maps, with
// `$i, $e :=` and `else`), `with / else / end`. The predefined variables are `$labels`,
// `$externalLabels`, `$externalURL` and `$value`, and `.` is the data (`.Labels`,
// `.ExternalLabels`, `.ExternalURL`, `.Value`), as in Prometheus.
//
// Functions: Go's builtins (and, or, not, eq, ne, lt, le, gt, ge, len, index, print,
// printf, println, html, urlquery, js) and Prometheus's (query, first, label, value,
// strvalue, sortByLabel, humanize, humanize1024, humanizeDuration, humanizePercentage,
// humanizeTimestamp, parseDuration, title, toUpper, toLower,
// match, reReplaceAll, stripPort, stripDomain, safeHtml, args, externalURL, pathPrefix).
//
// Thread-safety: a parsed Template is immutable; Execute may run concurrently.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "model/labels.h"

namespace vigil::rules {

// One element of a `query` result as templates see it.
struct QuerySample {
  model::Labels labels;
  double value = 0;
};

// Runs a PromQL instant query for the `query` function (at the rule's evaluation time).
using TemplateQueryFunc =
    std::function<absl::StatusOr<std::vector<QuerySample>>(std::string_view query)>;

struct TemplateData {
  model::Labels labels;
  model::Labels external_labels;
  std::string external_url;
  double value = 0;
};

namespace tmpl {
struct Node;
}

class Template {
 public:
  // Parses `text`; errors read "template: <line>:<col>: <what>" (1-based).
  static absl::StatusOr<Template> Parse(std::string_view text);

  // Runs the template. `query` may be empty: the `query` function then fails.
  absl::StatusOr<std::string> Execute(const TemplateData& data,
                                      const TemplateQueryFunc& query) const;

 private:
  std::shared_ptr<const tmpl::Node> root_;
};

// Parse + Execute. Prometheus keeps going with the error text when a template fails; the
// caller decides (the alerting rule logs and uses the error text as the value).
absl::StatusOr<std::string> ExpandTemplate(std::string_view text, const TemplateData& data,
                                           const TemplateQueryFunc& query);

// Prometheus's formatting helpers, exposed for tests and for the notify templates.
std::string Humanize(double v);
std::string Humanize1024(double v);
std::string HumanizeDuration(double seconds);
std::string HumanizePercentage(double ratio);
std::string HumanizeTimestamp(double unix_seconds);

}  // namespace vigil::rules
