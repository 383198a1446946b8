// Rule and alert endpoints, over rules::Manager:
//
//   GET    /api/v1/rules    Prometheus's shape; type=alert|record, rule_name[], rule_group[],
//                           file[] filter as in Prometheus
//   GET    /api/v1/alerts   every pending and firing alert
//   POST   /alerts/rules    the seed API: {"name", "expr", "threshold", "for", "notify"}
//                           creates an alerting rule `(<expr>) > <threshold>` at run time,
//                           persisted in the data directory (201, or 400/409)
//   GET    /alerts/rules    the rules created that way
//   DELETE /alerts/rules/:name
//
// Thread-safety: handlers run concurrently; the manager and store are thread-safe and
// `reload` must be too.
#pragma once

#include <functional>

#include "absl/status/status.h"
#include "http/server.h"
#include "rules/api_rules.h"
#include "rules/manager.h"

namespace vigil::http {

class RulesApi {
 public:
  // `reload` re-reads the rule files and the API rules into the manager.
  RulesApi(const rules::Manager* manager, rules::ApiRuleStore* store,
           std::function<absl::Status()> reload)
      : manager_(manager), store_(store), reload_(std::move(reload)) {}

  void Register(Router* router);

  void Rules(const Request& req, Response* resp) const;
  void Alerts(const Request& req, Response* resp) const;
  void CreateRule(const Request& req, Response* resp) const;
  void ListRules(const Request& req, Response* resp) const;
  void DeleteRule(const Request& req, Response* resp) const;

 private:
  const rules::Manager* manager_;
  rules::ApiRuleStore* store_;
  std::function<absl::Status()> reload_;
};

// Go's strconv.FormatFloat(v, 'e', -1, 64), which Prometheus uses for alert values.
std::string FormatFloatE(double v);
// Go's time.Time RFC 3339 with nanoseconds as Prometheus's JSON writes it.
std::string FormatRfc3339Nano(int64_t ms);

}  // namespace vigil::http
