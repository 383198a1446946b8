// Templates: the subset of Go's text/template that Prometheus rule files and Alertmanager
// notification templates use, with both projects' template functions. One engine serves
// both: rule labels and annotations (Template::Execute with TemplateData) and notification
// texts (Template::ExecuteWith over a tmpl::Value tree that notify builds).
//
//   {{ $labels.instance }} is {{ $value | humanizePercentage }} full
//   {{ if gt $value 10.0 }}high{{ else }}low{{ end }}
//   {{ range query "up == 0" }}{{ .Labels.instance }} {{ end }}
//   {{ with query "sum(up)" }}{{ . | first | value | humanize }}{{ end }}
//   {{ define "title" }}[{{ .Status | toUpper }}] {{ .CommonLabels.alertname }}{{ end }}
//   {{ template "title" . }} {{ range .Alerts.Firing }}{{ .Labels.instance }} {{ end }}
//
// Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and `/* comments */`;
// pipelines (`a | f b`), parenthesised pipelines, variables (`$x := ...`, `$x = ...`),
// field chains on the data, maps, lists, structs and query samples (`.Labels.job`,
// `$labels.job`, `.Value`), methods with arguments (`.CommonLabels.Remove .GroupLabels.Names`);
// `if / else if / else / end`, `range` (over lists, query results, maps and integers, with
// `$i, $e :=` and `else`), `with / else / end`, `define`, `template`, `block`.
//
// Rule templates (Execute): the predefined variables are `$labels`, `$externalLabels`,
// `$externalURL` and `$value`, and `.` is the data (`.Labels`, `.ExternalLabels`,
// `.ExternalURL`, `.Value`), as in Prometheus. Notification templates (ExecuteWith): `.` is
// the value given, as in Alertmanager; in html mode every printed value is HTML-escaped
// unless it comes from `safeHtml` (a simple form of Go's html/template escaping).
//
// Functions: Go's builtins (and, or, not, eq, ne, lt, le, gt, ge, len, index, print,
// printf, println, html, urlquery, js), Prometheus's (query, first, label, value,
// strvalue, sortByLabel, humanize, humanize1024, humanizeDuration, humanizePercentage,
// humanizeTimestamp, toTime, parseDuration, title, toUpper, toLower, match, reReplaceAll,
// stripPort, stripDomain, safeHtml, args, externalURL, pathPrefix) and Alertmanager's
// (join, stringSlice, trimSpace, safeUrl, urlUnescape, date, tz (UTC only), since, toJson).
// Methods: on label maps SortedPairs, Names, Values, Remove; on alert lists Firing,
// Resolved; on times Unix, UnixMilli, Format, UTC, String.
//
// Thread-safety: a parsed Template and a TemplateSet are immutable once built; Execute and
// ExecuteWith may run concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
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

class TemplateSet;

namespace tmpl {
struct Node;
struct Struct;
struct Value;

// The values a template computes with (Go's dynamic values, reduced to what templates use).
struct Nil {};
struct Num {
  double v;
  bool is_int;  // Go distinguishes int literals (printf "%d") from float64.
};
using Map = std::map<std::string, std::string>;  // label sets (Alertmanager's template.KV)
using List = std::vector<Value>;
using Samples = std::vector<QuerySample>;
struct DataRef {
  const TemplateData* d;
};
struct Time {
  int64_t unix_ms;
};
struct Duration {
  double seconds;
};
struct SafeHtml {  // a string that html mode prints unescaped
  std::string s;
};

struct Value {
  std::variant<Nil, bool, Num, std::string, Map, Samples, QuerySample, DataRef,
               std::shared_ptr<const List>, std::shared_ptr<const Struct>, Time, Duration, SafeHtml>
      v;
};

// A record with named fields; `type` selects its methods ("Alert", "Pair", ...).
struct Struct {
  std::string type;
  std::vector<std::pair<std::string, Value>> fields;
  const Value* Get(std::string_view name) const;
};

// Builders for callers that assemble template data.
Value MakeString(std::string s);
Value MakeLabels(const model::Labels& l);
Value MakeList(List l);
Value MakeStruct(std::string type, std::vector<std::pair<std::string, Value>> fields);
Value MakeTime(int64_t unix_ms);

// Named templates ({{ define "name" }} blocks) by name.
using Defs = std::map<std::string, std::shared_ptr<const Node>, std::less<>>;
}  // namespace tmpl

class Template {
 public:
  // Parses `text`; errors read "template: <line>:<col>: <what>" (1-based).
  static absl::StatusOr<Template> Parse(std::string_view text);

  // Runs a rule template. `query` may be empty: the `query` function then fails.
  absl::StatusOr<std::string> Execute(const TemplateData& data,
                                      const TemplateQueryFunc& query) const;

  // Runs with `dot` as the data and no predefined variables but `$`. `{{ template "x" }}`
  // looks in this text's own definitions, then in `set` (may be null). `html`: escape what
  // actions print (not text, not safeHtml values).
  absl::StatusOr<std::string> ExecuteWith(const tmpl::Value& dot, const TemplateSet* set,
                                          bool html) const;

  // The {{ define }} blocks of this text.
  const tmpl::Defs& defs() const { return *defs_; }

 private:
  std::shared_ptr<const tmpl::Node> root_;
  std::shared_ptr<const tmpl::Defs> defs_;
};

// A set of named templates shared by many texts (Alertmanager's `templates:` files on top
// of its defaults). Later definitions of a name replace earlier ones.
class TemplateSet {
 public:
  // Adds the {{ define }} blocks of `text`; text outside them is ignored. Errors are
  // prefixed with `source`.
  absl::Status Add(std::string_view text, std::string_view source);
  bool Has(std::string_view name) const { return defs_.count(name) > 0; }
  const tmpl::Node* Find(std::string_view name) const;
  // Parses and runs `text` against this set.
  absl::StatusOr<std::string> Execute(std::string_view text, const tmpl::Value& dot,
                                      bool html) const;

 private:
  tmpl::Defs defs_;
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
// Go's time.Duration.String(): "1h2m3.5s", "250ms", "0s".
std::string GoDurationString(double seconds);
// Formats a time with a Go layout ("2006-01-02 15:04:05 MST"), in UTC.
std::string FormatGoTime(int64_t unix_ms, std::string_view layout);

}  // namespace vigil::rules
