// The alerting role of `vigil server`: the rule manager (rule_files from the config plus
// rules created through POST /alerts/rules), the built-in notifier (Alertmanager-style
// routing from the config's `notify:` section, or `--alertmanager.config.file`, which wins
// when both are given) and forwarding to the external Alertmanagers of
// `alerting.alertmanagers`. `global.external_labels` are added to every alert sent to the
// notifier and to external Alertmanagers (an alert's own labels win), as Prometheus does,
// and rule templates see them as $externalLabels.
//
// Wiring (STYLE.md seams): rules get a query function over promql::Engine and the DB, the
// DB as their Appendable, and a notify function that feeds the notifier and the forwarder.
//
// Lifecycle: construct and Register() the HTTP handlers before the server starts; Start()
// after storage is open (it needs the DB), Stop() before storage closes. Reload() (SIGHUP,
// POST /-/reload) re-reads the config file, the rule files, the notifier config and its
// templates; all are validated before anything is applied, so a bad file is refused with
// the reason and the running configuration stays. Rule and alert-group state survive a
// reload for what did not change.
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
  // Everything a (re)load reads, validated; applying it cannot fail.
  struct Loaded {
    std::vector<std::string> rule_globs;
    int64_t eval_interval_ms = 60'000;
    model::Labels external_labels;
    std::vector<std::string> alertmanagers;
    notify::Config notify;
    std::string notify_source;  // for the log
    std::vector<rules::RuleFile> rule_files;
  };
  absl::StatusOr<Loaded> Load() const;
  void Apply(Loaded l);
  // Re-reads the rule files only (after a change through the rules API).
  absl::Status ReloadRules();
  absl::StatusOr<std::vector<rules::RuleFile>> LoadRuleFiles(const std::vector<std::string>& globs) const;
  absl::StatusOr<promql::QueryResult> Query(std::string_view q, int64_t t);
  // Alerts from rules to the notifier and the external Alertmanagers, with external labels.
  void Notify(const std::vector<rules::Alert>& alerts);
  void Forward(const std::vector<notify::Alert>& alerts);

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
  // Replaced on reload when the Alertmanager list changes; rule threads take a reference.
  std::mutex forward_mu_;
  std::shared_ptr<notify::AlertmanagerForwarder> forwarder_;
  std::vector<std::string> forward_urls_;
  std::shared_ptr<const model::Labels> external_labels_ = std::make_shared<const model::Labels>();
  std::unique_ptr<rules::Manager> manager_;
  std::unique_ptr<http::RulesApi> rules_api_;
  std::unique_ptr<http::AlertmanagerApi> am_api_;
  std::mutex reload_mu_;
  std::vector<std::string> rule_globs_;
  int64_t eval_interval_ms_ = 60'000;
};

}  // namespace vigil::cmd
