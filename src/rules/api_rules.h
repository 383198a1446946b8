// ApiRuleStore: alerting rules created at run time through `POST /alerts/rules`
// ({name, expr, threshold, for, notify}), persisted in one YAML file in the data
// directory so they survive restarts (format: docs/alerting.md, "Rules created through
// the API").
//
// Each stored rule becomes an alerting rule `alert: <name>`, `expr: (<expr>) > <threshold>`,
// `for: <for>`, with the label `notify="<notify>"` (routes can match on it), in the group
// "vigil_api_rules" of a rule file named after the store's path.
//
// Writes go to a temporary file that is fsynced and renamed over the old one, so a crash
// leaves either the old or the new list.
//
// Thread-safety: all methods are thread-safe (internal mutex).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "rules/rule_file.h"

namespace vigil::rules {

struct ApiRule {
  std::string name;
  std::string expr;
  double threshold = 0;
  int64_t for_ms = 0;
  std::string notify;  // receiver hint, copied into the `notify` label; may be empty
};

class ApiRuleStore {
 public:
  explicit ApiRuleStore(std::string path) : path_(std::move(path)) {}

  // Reads the file; a missing file is an empty store.
  absl::Status Load();
  // Validates (name, expression, duplicates) and persists. AlreadyExists for a taken name.
  absl::Status Add(const ApiRule& r);
  // NotFound if absent.
  absl::Status Delete(const std::string& name);
  std::vector<ApiRule> List() const;
  // The rules as a rule file for rules::Manager::Update.
  RuleFile ToRuleFile() const;
  const std::string& path() const { return path_; }

 private:
  absl::Status SaveLocked() const;

  const std::string path_;
  mutable std::mutex mu_;
  std::vector<ApiRule> rules_;
};

// The rule spec an API rule turns into.
RuleSpec ApiRuleToSpec(const ApiRule& r);

}  // namespace vigil::rules
