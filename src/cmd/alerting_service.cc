#include "cmd/alerting_service.h"

#include <filesystem>

#include "base/log.h"
#include "base/status.h"
#include "config/config.h"
#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace vigil::cmd {
namespace {

std::string Dir(const std::string& file) {
  auto p = std::filesystem::path(file).parent_path().string();
  return p.empty() ? "." : p;
}

}  // namespace

AlertingService::AlertingService(AlertingOptions opts) : opts_(std::move(opts)) {
  const std::string notify_dir = opts_.data_dir + "/notify";
  store_ = std::make_unique<rules::ApiRuleStore>(opts_.data_dir + "/api_rules.yml");
  notify::NotifierOptions no;
  no.data_dir = notify_dir;
  no.external_url = opts_.external_url;
  no.registry = opts_.registry;
  // A default route so the notifier is valid before the config is read.
  notify::Config nc;
  nc.route.receiver = "default";
  nc.receivers.push_back({"default", {}, {}, {}, {}});
  notifier_ = std::make_unique<notify::Notifier>(no, nc);

  rules::ManagerOptions mo;
  mo.query = [this](std::string_view q, int64_t t) { return Query(q, t); };
  mo.registry = opts_.registry;
  mo.appendable = &appendable_;
  mo.context.external_url = opts_.external_url;
  mo.notify = [this](const std::vector<rules::Alert>& alerts) {
    std::vector<notify::Alert> out;
    out.reserve(alerts.size());
    for (const auto& a : alerts) {
      out.push_back({a.labels, a.annotations, a.starts_at_ms, a.ends_at_ms, a.generator_url, 0});
    }
    notifier_->Receive(out);
    if (forwarder_) forwarder_->Send(out);
  };
  manager_ = std::make_unique<rules::Manager>(std::move(mo));
  rules_api_ = std::make_unique<http::RulesApi>(manager_.get(), store_.get(), [this] { return Reload(); });
  am_api_ = std::make_unique<http::AlertmanagerApi>(notifier_.get(), [this](const std::vector<notify::Alert>& a) {
    if (forwarder_) forwarder_->Send(a);
  });
}

AlertingService::~AlertingService() = default;

std::unique_ptr<storage::Appender> AlertingService::DbAppendable::NewAppender(std::string_view tenant) {
  storage::DB* db = o_->db ? o_->db() : nullptr;
  return db == nullptr ? nullptr : db->NewAppender(tenant);
}

void AlertingService::Register(http::Router* router) {
  rules_api_->Register(router);
  am_api_->Register(router);
}

absl::StatusOr<promql::QueryResult> AlertingService::Query(std::string_view q, int64_t t) {
  storage::DB* db = opts_.db ? opts_.db() : nullptr;
  if (db == nullptr) return absl::UnavailableError("storage is not open");
  return engine_.InstantQuery(*db, storage::kDefaultTenant, q, t);
}

absl::Status AlertingService::Start() {
  std::error_code ec;
  std::filesystem::create_directories(opts_.data_dir + "/notify", ec);
  if (ec) return absl::InternalError(fmt::format("create {}/notify: {}", opts_.data_dir, ec.message()));
  RETURN_IF_ERROR(store_->Load());

  notify::Config nc;
  bool have_notify = false;
  model::Labels external_labels;
  if (!opts_.config_file.empty()) {
    auto cfg = config::LoadFile(opts_.config_file);
    if (!cfg.ok()) return Annotate(cfg.status(), "load config");
    eval_interval_ms_ = cfg->global.evaluation_interval_ms;
    external_labels = cfg->global.external_labels;
    // rule_files are relative to the config file's directory, as in Prometheus.
    for (const auto& g : cfg->rule_files) {
      rule_globs_.push_back(!g.empty() && g[0] == '/' ? g : Dir(opts_.config_file) + "/" + g);
    }
    auto ams = notify::ParseAlertmanagersSection(cfg->alerting_yaml);
    if (!ams.ok()) return ams.status();
    if (!ams->empty()) {
      forwarder_ = std::make_unique<notify::AlertmanagerForwarder>(*ams, notify::CurlHttpPost, opts_.registry);
      VLOG_INFO("alerting", "forwarding alerts to {} external Alertmanager(s)", ams->size());
    }
  }
  if (!opts_.alertmanager_config_file.empty()) {
    auto c = notify::LoadConfigFile(opts_.alertmanager_config_file);
    if (!c.ok()) return c.status();
    nc = *c;
    have_notify = true;
  }
  if (have_notify) notifier_->ApplyConfig(nc);
  RETURN_IF_ERROR(notifier_->Start());
  RETURN_IF_ERROR(Reload());
  manager_->Start();
  VLOG_INFO("alerting", "rule manager started: {} rule file pattern(s), {} API rule(s), evaluation every {} ms",
            rule_globs_.size(), store_->List().size(), eval_interval_ms_);
  return absl::OkStatus();
}

absl::Status AlertingService::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  auto paths = rules::ExpandRuleFileGlobs(rule_globs_);
  if (!paths.ok()) return paths.status();
  std::vector<rules::RuleFile> files;
  for (const auto& p : *paths) {
    auto f = rules::LoadRuleFile(p);
    if (!f.ok()) return Annotate(f.status(), "load rule files");
    files.push_back(std::move(*f));
  }
  files.push_back(store_->ToRuleFile());
  manager_->Update(files, eval_interval_ms_);
  return absl::OkStatus();
}

void AlertingService::Stop() {
  manager_->Stop();
  if (forwarder_) forwarder_->Stop();
  notifier_->Stop();
}

}  // namespace vigil::cmd
