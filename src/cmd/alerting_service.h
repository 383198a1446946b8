// The alerting role of `vigil server`: the rule manager (rule_files from the config plus
// rules created through POST /alerts/rules), the built-in notifier (Alertmanager-style
// routing from `--alertmanager.config.file` or the config's `notify:` section) and
// forwarding to the external Alertmanagers of `alerting.alertmanagers`.
//
// Wiring (STYLE.md seams): rules get a query function over promql::Engine and the DB, the
// DB as their Appendable, and a notify function that feeds the notifier and the forwarder.
//
// Lifecycle: construct and Register() the HTTP handlers before the server starts; Start()
// after storage is open (it needs the DB), Stop() before storage closes. Reload() re-reads
// the rule files (also used by the rules API after a change).
//
// Thread-safety: Reload() and the HTTP handlers may run concurrently with evaluation.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "base/metrics.h"
#include "cmd/service.h"
#include "http/alertmanager_api.h"
#include "http/rules_api.h"
#include "notify/notifier.h"
#include "promql/engine.h"
#include "rules/api_rules.h"
#include "rules/manager.h"
#include "storage/db.h"

namespace vigil::cmd {

struct AlertingOptions {
  std::string config_file;               // prometheus.yml (rule_files, alerting, notify)
  std::string alertmanager_config_file;  // optional alertmanager.yml
  std::string data_dir;
  std::string external_url;
  metrics::Registry* registry = nullptr;
  // The open DB, once storage has started.
  std::function<storage::DB*()> db;
};

class AlertingService : public Service {
 public:
  explicit AlertingService(AlertingOptions opts);
  ~AlertingService() override;

  std::string_view name() const override { return "alerting"; }
  // Registers /api/v1/rules, /api/v1/alerts, /alerts/rules and /api/v2/*.
  void Register(http::Router* router);
  absl::Status Start() override;
  void Stop() override;
  absl::Status Reload();

 private:
  absl::StatusOr<promql::QueryResult> Query(std::string_view q, int64_t t);

  // Hands out appenders of the DB once it is open (rules see only storage::Appendable).
  class DbAppendable : public storage::Appendable {
   public:
    explicit DbAppendable(const AlertingOptions* o) : o_(o) {}
    std::unique_ptr<storage::Appender> NewAppender(std::string_view tenant) override;

   private:
    const AlertingOptions* o_;
  };

  AlertingOptions opts_;
  DbAppendable appendable_{&opts_};
  promql::Engine engine_;
  std::unique_ptr<rules::ApiRuleStore> store_;
  std::unique_ptr<notify::Notifier> notifier_;
  std::unique_ptr<notify::AlertmanagerForwarder> forwarder_;
  std::unique_ptr<rules::Manager> manager_;
  std::unique_ptr<http::RulesApi> rules_api_;
  std::unique_ptr<http::AlertmanagerApi> am_api_;
  std::mutex reload_mu_;
  std::vector<std::string> rule_globs_;
  int64_t eval_interval_ms_ = 60'000;
};

}  // namespace vigil::cmd
