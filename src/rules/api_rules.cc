#include "rules/api_rules.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "config/units.h"
#include "fmt/format.h"
#include "model/labels.h"
#include "promql/parser.h"
#include "yaml-cpp/yaml.h"

namespace vigil::rules {

RuleSpec ApiRuleToSpec(const ApiRule& r) {
  RuleSpec s;
  s.alert = r.name;
  s.expr = fmt::format("({}) > {}", r.expr, promql::FormatFloat(r.threshold));
  s.for_ms = r.for_ms;
  if (!r.notify.empty()) s.labels.emplace_back("notify", r.notify);
  s.annotations.emplace_back(
      "summary", fmt::format("{} is {{{{ $value }}}}, above {}", r.name, promql::FormatFloat(r.threshold)));
  return s;
}

absl::Status ApiRuleStore::Load() {
  std::lock_guard<std::mutex> lock(mu_);
  rules_.clear();
  std::ifstream in(path_);
  if (!in) return absl::OkStatus();
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    YAML::Node root = YAML::Load(ss.str());
    if (root.IsNull()) return absl::OkStatus();
    if (!root["rules"] || !root["rules"].IsSequence()) {
      return absl::InvalidArgumentError(fmt::format("load {}: expected a 'rules' list", path_));
    }
    for (const auto& n : root["rules"]) {
      ApiRule r;
      r.name = n["name"].as<std::string>();
      r.expr = n["expr"].as<std::string>();
      r.threshold = n["threshold"].as<double>();
      auto d = config::ParseDuration(n["for"] ? n["for"].as<std::string>() : "0s");
      if (!d.ok()) return absl::InvalidArgumentError(fmt::format("load {}: rule {}: bad 'for'", path_, r.name));
      r.for_ms = *d;
      if (n["notify"]) r.notify = n["notify"].as<std::string>();
      rules_.push_back(std::move(r));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("load {}: {}", path_, e.what()));
  }
  return absl::OkStatus();
}

absl::Status ApiRuleStore::Add(const ApiRule& r) {
  if (r.name.empty() || !model::IsValidMetricName(r.name) || r.name.find(':') != std::string::npos) {
    return absl::InvalidArgumentError(
        fmt::format("invalid rule name \"{}\": want [a-zA-Z_][a-zA-Z0-9_]*", r.name));
  }
  if (r.for_ms < 0) return absl::InvalidArgumentError("'for' must not be negative");
  if (r.notify.size() > 256 || !model::IsValidUtf8(r.notify)) {
    return absl::InvalidArgumentError("invalid 'notify'");
  }
  auto parsed = promql::ParseExpr(ApiRuleToSpec(r).expr);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid expression: {}", std::string(parsed.status().message())));
  }
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& e : rules_) {
    if (e.name == r.name) return absl::AlreadyExistsError(fmt::format("rule \"{}\" already exists", r.name));
  }
  rules_.push_back(r);
  absl::Status s = SaveLocked();
  if (!s.ok()) rules_.pop_back();
  return s;
}

absl::Status ApiRuleStore::Delete(const std::string& name) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = rules_.begin(); it != rules_.end(); ++it) {
    if (it->name == name) {
      ApiRule saved = *it;
      auto pos = rules_.erase(it);
      absl::Status s = SaveLocked();
      if (!s.ok()) rules_.insert(pos, saved);
      return s;
    }
  }
  return absl::NotFoundError(fmt::format("rule \"{}\" not found", name));
}

std::vector<ApiRule> ApiRuleStore::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  return rules_;
}

RuleFile ApiRuleStore::ToRuleFile() const {
  RuleFile f;
  f.filename = path_;
  std::lock_guard<std::mutex> lock(mu_);
  if (rules_.empty()) return f;
  GroupSpec g;
  g.name = "vigil_api_rules";
  for (const auto& r : rules_) g.rules.push_back(ApiRuleToSpec(r));
  f.groups.push_back(std::move(g));
  return f;
}

absl::Status ApiRuleStore::SaveLocked() const {
  YAML::Emitter e;
  e << YAML::BeginMap << YAML::Key << "version" << YAML::Value << 1;
  e << YAML::Key << "rules" << YAML::Value << YAML::BeginSeq;
  for (const auto& r : rules_) {
    e << YAML::BeginMap;
    e << YAML::Key << "name" << YAML::Value << r.name;
    e << YAML::Key << "expr" << YAML::Value << YAML::DoubleQuoted << r.expr;
    e << YAML::Key << "threshold" << YAML::Value << promql::FormatFloat(r.threshold);
    e << YAML::Key << "for" << YAML::Value << config::FormatDuration(r.for_ms);
    e << YAML::Key << "notify" << YAML::Value << YAML::DoubleQuoted << r.notify;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq << YAML::EndMap;
  const std::string tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
  std::string data = std::string(e.c_str()) + "\n";
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      ::close(fd);
      return absl::InternalError(fmt::format("cannot write {}: {}", tmp, std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return absl::InternalError(fmt::format("cannot sync {}: {}", tmp, std::strerror(errno)));
  }
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) {
    return absl::InternalError(fmt::format("cannot rename {} to {}: {}", tmp, path_, std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace vigil::rules
