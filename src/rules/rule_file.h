// Rule files in Prometheus's format: parsing and validation.
//
//   groups:
//     - name: example
//       interval: 30s        # optional; the global evaluation_interval otherwise
//       limit: 10            # optional; 0 = no limit on series per rule
//       query_offset: 0s     # optional
//       rules:
//         - record: job:up:sum
//           expr: sum by (job) (up)
//         - alert: InstanceDown
//           expr: up == 0
//           for: 5m
//           keep_firing_for: 2m
//           labels: {severity: page}
//           annotations: {summary: "{{ $labels.instance }} down"}
//
// Every error names the file, the position (line:col, 1-based) and, inside a rule, the
// group and rule: "rules.yml:7:17: group \"example\", rule 2, \"InstanceDown\": could not
// parse expression: 1:4: parse error: ...". As `promtool check rules` does, all errors of a
// file are collected rather than stopping at the first.
//
// Thread-safety: plain values and reentrant functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::rules {

struct RuleSpec {
  // Exactly one of `record` and `alert` is non-empty.
  std::string record;
  std::string alert;
  std::string expr;
  int64_t for_ms = 0;
  int64_t keep_firing_for_ms = 0;
  // In file order; names validated, values are templates for alerting rules.
  std::vector<std::pair<std::string, std::string>> labels;
  std::vector<std::pair<std::string, std::string>> annotations;
  int line = 0;  // 1-based position of the rule in its file
  int col = 0;

  const std::string& name() const { return record.empty() ? alert : record; }
  bool is_alert() const { return !alert.empty(); }
};

struct GroupSpec {
  std::string name;
  int64_t interval_ms = 0;  // 0: the global evaluation interval
  int64_t query_offset_ms = 0;
  int64_t limit = 0;
  std::vector<RuleSpec> rules;
};

struct RuleFile {
  std::string filename;
  std::vector<GroupSpec> groups;
};

// Parses and validates one file's contents. On failure the status message holds every
// error found, one per line.
absl::StatusOr<RuleFile> ParseRuleFile(std::string_view content, std::string_view filename);

// Reads `path` and parses it.
absl::StatusOr<RuleFile> LoadRuleFile(const std::string& path);

// Expands shell globs (as `rule_files` entries are) into sorted, de-duplicated paths. A
// pattern matching nothing contributes nothing, as in Prometheus; a bad pattern is an error.
absl::StatusOr<std::vector<std::string>> ExpandRuleFileGlobs(
    const std::vector<std::string>& patterns);

}  // namespace vigil::rules
