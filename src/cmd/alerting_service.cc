#include "cmd/alerting_service.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

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


// The notifier's configuration when neither `notify:` nor --alertmanager.config.file is
// given: one receiver without integrations (alerts are listed, not sent anywhere).
notify::Config DefaultNotifyConfig() {
  notify::Config nc;
  nc.route.receiver = "default";
  nc.route.id = "0";
  nc.receivers.push_back({"default", {}, {}, {}, {}});
  return nc;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

AlertingService::AlertingService(AlertingOptions opts) : opts_(std::move(opts)) {
  const std::string notify_dir = opts_.data_dir + "/notify";
  store_ = std::make_unique<rules::ApiRuleStore>(opts_.data_dir + "/api_rules.yml");
  notify::NotifierOptions no;
  no.data_dir = notify_dir;
  no.external_url = opts_.external_url;
  no.registry = opts_.registry;
  notifier_ = std::make_unique<notify::Notifier>(no, DefaultNotifyConfig());

  rules::ManagerOptions mo;
  mo.query = [this](std::string_view q, int64_t t) { return Query(q, t); };
  mo.registry = opts_.registry;
  mo.appendable = &appendable_;
  mo.context.external_url = opts_.external_url;
  mo.notify = [this](const std::vector<rules::Alert>& alerts) { Notify(alerts); };
  manager_ = std::make_unique<rules::Manager>(std::move(mo));
  rules_api_ = std::make_unique<http::RulesApi>(manager_.get(), store_.get(), [this] { return ReloadRules(); });
  am_api_ = std::make_unique<http::AlertmanagerApi>(notifier_.get(),
                                                    [this](const std::vector<notify::Alert>& a) { Forward(a); });
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

void AlertingService::Notify(const std::vector<rules::Alert>& alerts) {
  std::shared_ptr<const model::Labels> ext;
  {
    std::lock_guard<std::mutex> lock(forward_mu_);
    ext = external_labels_;
  }
  std::vector<notify::Alert> out;
  out.reserve(alerts.size());
  for (const auto& a : alerts) {
    model::Labels labels = a.labels;
    if (!ext->empty()) {
      // External labels are added where the alert has no such label (Prometheus's rule).
      model::LabelsBuilder b(a.labels);
      for (const auto& l : *ext) {
        if (!a.labels.Has(l.name)) b.Set(l.name, l.value);
      }
      labels = b.Build();
    }
    out.push_back({std::move(labels), a.annotations, a.starts_at_ms, a.ends_at_ms, a.generator_url, 0});
  }
  notifier_->Receive(out);
  Forward(out);
}

void AlertingService::Forward(const std::vector<notify::Alert>& alerts) {
  std::shared_ptr<notify::AlertmanagerForwarder> f;
  {
    std::lock_guard<std::mutex> lock(forward_mu_);
    f = forwarder_;
  }
  if (f) f->Send(alerts);
}

absl::Status AlertingService::Start() {
  std::error_code ec;
  std::filesystem::create_directories(opts_.data_dir + "/notify", ec);
  if (ec) return absl::InternalError(fmt::format("create {}/notify: {}", opts_.data_dir, ec.message()));
  RETURN_IF_ERROR(store_->Load());
  auto loaded = Load();
  if (!loaded.ok()) return loaded.status();
  RETURN_IF_ERROR(notifier_->Start());
  {
    std::lock_guard<std::mutex> lock(reload_mu_);
    Apply(std::move(*loaded));
  }
  manager_->Start();
  VLOG_INFO("alerting", "rule manager started: {} rule file pattern(s), {} API rule(s), evaluation every {} ms",
            rule_globs_.size(), store_->List().size(), eval_interval_ms_);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<rules::RuleFile>> AlertingService::LoadRuleFiles(
    const std::vector<std::string>& globs) const {
  auto paths = rules::ExpandRuleFileGlobs(globs);
  if (!paths.ok()) return paths.status();
  std::vector<rules::RuleFile> files;
  for (const auto& p : *paths) {
    auto f = rules::LoadRuleFile(p);
    if (!f.ok()) return Annotate(f.status(), "load rule files");
    files.push_back(std::move(*f));
  }
  files.push_back(store_->ToRuleFile());
  return files;
}

absl::StatusOr<AlertingService::Loaded> AlertingService::Load() const {
  Loaded l;
  l.notify = DefaultNotifyConfig();
  l.notify_source = "no notify configuration (alerts are listed, not sent)";
  bool have_section = false;
  if (!opts_.config_file.empty()) {
    auto cfg = config::LoadFile(opts_.config_file);
    if (!cfg.ok()) return Annotate(cfg.status(), "load config");
    l.eval_interval_ms = cfg->global.evaluation_interval_ms;
    l.external_labels = cfg->global.external_labels;
    // rule_files are relative to the config file's directory, as in Prometheus.
    for (const auto& g : cfg->rule_files) {
      l.rule_globs.push_back(!g.empty() && g[0] == '/' ? g : Dir(opts_.config_file) + "/" + g);
    }
    auto ams = notify::ParseAlertmanagersSection(cfg->alerting_yaml);
    if (!ams.ok()) return ams.status();
    l.alertmanagers = *ams;
    have_section = !cfg->notify_yaml.empty();
    if (have_section && opts_.alertmanager_config_file.empty()) {
      // Parsed from the file itself so that errors point at its lines.
      auto nc = notify::ParseConfigSection(ReadFile(opts_.config_file), "notify", opts_.config_file);
      if (!nc.ok()) return Annotate(nc.status(), "load notify section");
      l.notify = std::move(*nc);
      l.notify_source = fmt::format("the notify section of {}", opts_.config_file);
    }
  }
  if (!opts_.alertmanager_config_file.empty()) {
    auto nc = notify::LoadConfigFile(opts_.alertmanager_config_file);
    if (!nc.ok()) return nc.status();
    l.notify = std::move(*nc);
    l.notify_source = opts_.alertmanager_config_file;
    if (have_section) {
      l.notify_source += fmt::format(" (--alertmanager.config.file overrides the notify section of {})",
                                     opts_.config_file);
    }
  }
  for (const auto& u : l.notify.alertmanagers) {
    if (std::find(l.alertmanagers.begin(), l.alertmanagers.end(), u) == l.alertmanagers.end()) {
      l.alertmanagers.push_back(u);
    }
  }
  auto files = LoadRuleFiles(l.rule_globs);
  if (!files.ok()) return files.status();
  l.rule_files = std::move(*files);
  return l;
}

void AlertingService::Apply(Loaded l) {
  {
    std::lock_guard<std::mutex> lock(forward_mu_);
    external_labels_ = std::make_shared<const model::Labels>(l.external_labels);
    if (l.alertmanagers != forward_urls_) {
      forwarder_.reset();  // the old one stops once the last sender lets go of it
      if (!l.alertmanagers.empty()) {
        forwarder_ = std::make_shared<notify::AlertmanagerForwarder>(l.alertmanagers, notify::CurlHttpPost,
                                                                     opts_.registry);
      }
      forward_urls_ = l.alertmanagers;
      VLOG_INFO("alerting", "forwarding alerts to {} external Alertmanager(s)", forward_urls_.size());
    }
  }
  notifier_->ApplyConfig(std::move(l.notify));
  VLOG_INFO("alerting", "notifier configured from {}", l.notify_source);
  rule_globs_ = l.rule_globs;
  eval_interval_ms_ = l.eval_interval_ms;
  manager_->SetContext(rules::RuleContext{l.external_labels, opts_.external_url});
  manager_->Update(l.rule_files, eval_interval_ms_);
}

absl::Status AlertingService::Reload() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  auto loaded = Load();
  if (!loaded.ok()) {
    VLOG_ERROR("alerting", "reload refused, keeping the running rules and notifier: {}",
               std::string(loaded.status().message()));
    return loaded.status();
  }
  Apply(std::move(*loaded));
  VLOG_INFO("alerting", "reloaded: {} rule file pattern(s), {} API rule(s)", rule_globs_.size(),
            store_->List().size());
  return absl::OkStatus();
}

absl::Status AlertingService::ReloadRules() {
  std::lock_guard<std::mutex> lock(reload_mu_);
  auto files = LoadRuleFiles(rule_globs_);
  if (!files.ok()) return files.status();
  manager_->Update(*files, eval_interval_ms_);
  return absl::OkStatus();
}

void AlertingService::Stop() {
  manager_->Stop();
  std::shared_ptr<notify::AlertmanagerForwarder> f;
  {
    std::lock_guard<std::mutex> lock(forward_mu_);
    f = forwarder_;
  }
  if (f) f->Stop();
  notifier_->Stop();
}

}  // namespace vigil::cmd
