#include "rules/rule_file.h"

#include <glob.h>

#include <fstream>
#include <set>
#include <sstream>

#include "config/units.h"
#include "fmt/format.h"
#include "model/labels.h"
#include "promql/parser.h"
#include "rules/template.h"
#include "yaml-cpp/yaml.h"

namespace vigil::rules {
namespace {

std::string Pos(std::string_view file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.is_null()) return std::string(file);
  return fmt::format("{}:{}:{}", file, m.line + 1, m.column + 1);
}

// Collects errors for one file; each is one line of the final message.
class Errors {
 public:
  void Add(std::string e) { errs_.push_back(std::move(e)); }
  bool empty() const { return errs_.empty(); }
  std::string Join() const {
    std::string out;
    for (size_t i = 0; i < errs_.size(); ++i) {
      if (i > 0) out += '\n';
      out += errs_[i];
    }
    return out;
  }

 private:
  std::vector<std::string> errs_;
};

bool ParseDurationNode(const YAML::Node& n, int64_t* out, std::string* err) {
  if (!n.IsScalar()) {
    *err = "expected a duration";
    return false;
  }
  auto d = config::ParseDuration(n.Scalar());
  if (!d.ok()) {
    *err = fmt::format("not a valid duration string: \"{}\"", n.Scalar());
    return false;
  }
  *out = *d;
  return true;
}

bool ParseStringMap(const YAML::Node& n, std::vector<std::pair<std::string, std::string>>* out,
                    std::string* err) {
  if (n.IsNull()) return true;
  if (!n.IsMap()) {
    *err = "expected a map of strings";
    return false;
  }
  for (const auto& kv : n) {
    if (!kv.first.IsScalar() || !(kv.second.IsScalar() || kv.second.IsNull())) {
      *err = "expected a map of strings";
      return false;
    }
    out->emplace_back(kv.first.Scalar(), kv.second.IsNull() ? "" : kv.second.Scalar());
  }
  return true;
}

void ParseRule(std::string_view file, const GroupSpec& g, int index, const YAML::Node& n,
               RuleSpec* r, Errors* errs) {
  r->line = n.Mark().line + 1;
  r->col = n.Mark().column + 1;
  // Prefix of every error about this rule: position, group, 1-based index and name.
  auto prefix = [&](const YAML::Node& at) {
    return fmt::format("{}: group \"{}\", rule {}, \"{}\"", Pos(file, at), g.name, index,
                       r->name());
  };
  if (!n.IsMap()) {
    errs->Add(fmt::format("{}: group \"{}\", rule {}: a rule must be a map", Pos(file, n),
                          g.name, index));
    return;
  }
  // Names first, so that every error can name the rule.
  if (n["record"] && n["record"].IsScalar()) r->record = n["record"].Scalar();
  if (n["alert"] && n["alert"].IsScalar()) r->alert = n["alert"].Scalar();
  YAML::Node expr_node;
  bool has_expr = false;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    std::string err;
    if (key == "record" || key == "alert") {
      if (!v.IsScalar()) errs->Add(fmt::format("{}: '{}' must be a string", prefix(v), key));
    } else if (key == "expr") {
      expr_node = v;
      has_expr = true;
      if (v.IsScalar()) {
        r->expr = v.Scalar();
      } else {
        errs->Add(fmt::format("{}: 'expr' must be a string", prefix(v)));
      }
    } else if (key == "for") {
      if (!ParseDurationNode(v, &r->for_ms, &err)) errs->Add(fmt::format("{}: {}", prefix(v), err));
    } else if (key == "keep_firing_for") {
      if (!ParseDurationNode(v, &r->keep_firing_for_ms, &err)) {
        errs->Add(fmt::format("{}: {}", prefix(v), err));
      }
    } else if (key == "labels") {
      if (!ParseStringMap(v, &r->labels, &err)) errs->Add(fmt::format("{}: labels: {}", prefix(v), err));
    } else if (key == "annotations") {
      if (!ParseStringMap(v, &r->annotations, &err)) {
        errs->Add(fmt::format("{}: annotations: {}", prefix(v), err));
      }
    } else {
      errs->Add(fmt::format("{}: field {} not found in type rulefmt.Rule", prefix(kv.first), key));
    }
  }

  const std::string at = prefix(n);
  if (!r->record.empty() && !r->alert.empty()) {
    errs->Add(fmt::format("{}: only one of 'record' and 'alert' must be set", at));
  } else if (r->record.empty() && r->alert.empty()) {
    errs->Add(fmt::format("{}: one of 'record' or 'alert' must be set", at));
  }
  if (r->expr.empty()) {
    if (!has_expr) errs->Add(fmt::format("{}: field 'expr' must be set in rule", at));
  } else {
    auto parsed = promql::ParseExpr(r->expr);
    if (!parsed.ok()) {
      errs->Add(fmt::format("{}: could not parse expression: {}", prefix(expr_node),
                            std::string(parsed.status().message())));
    }
  }
  if (!r->record.empty()) {
    if (!r->annotations.empty()) errs->Add(fmt::format("{}: invalid field 'annotations' in recording rule", at));
    if (n["for"]) errs->Add(fmt::format("{}: invalid field 'for' in recording rule", at));
    if (n["keep_firing_for"]) {
      errs->Add(fmt::format("{}: invalid field 'keep_firing_for' in recording rule", at));
    }
    if (!model::IsValidMetricName(r->record)) {
      errs->Add(fmt::format("{}: invalid recording rule name: {}", at, r->record));
    }
  }
  if (!r->alert.empty() && !model::IsValidMetricName(r->alert)) {
    // Prometheus accepts any alert name that is a valid label value; only an empty or
    // non-UTF-8 name is refused.
    if (!model::IsValidUtf8(r->alert)) errs->Add(fmt::format("{}: invalid alert name: {}", at, r->alert));
  }
  for (const auto& [k, v] : r->labels) {
    if (k == model::kMetricName || !model::IsValidLabelName(k)) {
      errs->Add(fmt::format("{}: invalid label name: {}", at, k));
    } else if (k.rfind("__tenant__", 0) == 0) {
      errs->Add(fmt::format("{}: invalid label name: {} (reserved)", at, k));
    }
    if (r->is_alert()) {
      if (auto t = Template::Parse(v); !t.ok()) {
        errs->Add(fmt::format("{}: label {}: {}", at, k, std::string(t.status().message())));
      }
    }
  }
  for (const auto& [k, v] : r->annotations) {
    if (!model::IsValidLabelName(k)) errs->Add(fmt::format("{}: invalid annotation name: {}", at, k));
    if (auto t = Template::Parse(v); !t.ok()) {
      errs->Add(fmt::format("{}: annotation {}: {}", at, k, std::string(t.status().message())));
    }
  }
}

void ParseGroup(std::string_view file, const YAML::Node& n, GroupSpec* g, Errors* errs) {
  if (!n.IsMap()) {
    errs->Add(fmt::format("{}: a group must be a map", Pos(file, n)));
    return;
  }
  if (n["name"] && n["name"].IsScalar()) g->name = n["name"].Scalar();
  YAML::Node rules;
  for (const auto& kv : n) {
    const std::string key = kv.first.Scalar();
    const YAML::Node& v = kv.second;
    std::string err;
    const std::string at = fmt::format("{}: group \"{}\"", Pos(file, v), g->name);
    if (key == "name") {
      if (!v.IsScalar()) errs->Add(fmt::format("{}: name must be a string", at));
    } else if (key == "interval") {
      if (!ParseDurationNode(v, &g->interval_ms, &err)) errs->Add(fmt::format("{}: interval: {}", at, err));
    } else if (key == "query_offset") {
      if (!ParseDurationNode(v, &g->query_offset_ms, &err)) {
        errs->Add(fmt::format("{}: query_offset: {}", at, err));
      }
    } else if (key == "limit") {
      try {
        g->limit = v.as<int64_t>();
        if (g->limit < 0) errs->Add(fmt::format("{}: limit must not be negative", at));
      } catch (const YAML::Exception&) {
        errs->Add(fmt::format("{}: limit: expected an integer", at));
      }
    } else if (key == "rules") {
      rules = v;
    } else {
      errs->Add(fmt::format("{}: field {} not found in type rulefmt.RuleGroup",
                            Pos(file, kv.first), key));
    }
  }
  if (g->name.empty()) errs->Add(fmt::format("{}: Groupname must not be empty", Pos(file, n)));
  if (!rules || rules.IsNull()) return;
  if (!rules.IsSequence()) {
    errs->Add(fmt::format("{}: group \"{}\": rules must be a list", Pos(file, rules), g->name));
    return;
  }
  int index = 0;
  for (const auto& rn : rules) {
    RuleSpec r;
    ParseRule(file, *g, ++index, rn, &r, errs);
    g->rules.push_back(std::move(r));
  }
}

}  // namespace

absl::StatusOr<RuleFile> ParseRuleFile(std::string_view content, std::string_view filename) {
  RuleFile out;
  out.filename = std::string(filename);
  YAML::Node root;
  try {
    root = YAML::Load(std::string(content));
  } catch (const YAML::ParserException& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", filename, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (root.IsNull()) return out;
  Errors errs;
  if (!root.IsMap()) {
    return absl::InvalidArgumentError(fmt::format("{}: a rule file must be a map with 'groups'", Pos(filename, root)));
  }
  YAML::Node groups;
  for (const auto& kv : root) {
    if (kv.first.Scalar() == "groups") {
      groups = kv.second;
    } else {
      errs.Add(fmt::format("{}: field {} not found in type rulefmt.RuleGroups",
                           Pos(filename, kv.first), kv.first.Scalar()));
    }
  }
  if (groups && !groups.IsNull()) {
    if (!groups.IsSequence()) {
      errs.Add(fmt::format("{}: groups must be a list", Pos(filename, groups)));
    } else {
      std::set<std::string> seen;
      for (const auto& gn : groups) {
        GroupSpec g;
        ParseGroup(filename, gn, &g, &errs);
        if (!g.name.empty() && !seen.insert(g.name).second) {
          errs.Add(fmt::format("{}: groupname: \"{}\" is repeated in the same file",
                               Pos(filename, gn), g.name));
        }
        out.groups.push_back(std::move(g));
      }
    }
  }
  if (!errs.empty()) return absl::InvalidArgumentError(errs.Join());
  return out;
}

absl::StatusOr<RuleFile> LoadRuleFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(fmt::format("cannot open rule file {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseRuleFile(ss.str(), path);
}

absl::StatusOr<std::vector<std::string>> ExpandRuleFileGlobs(
    const std::vector<std::string>& patterns) {
  std::set<std::string> out;
  for (const std::string& p : patterns) {
    glob_t g{};
    int rc = glob(p.c_str(), 0, nullptr, &g);
    if (rc == 0) {
      for (size_t i = 0; i < g.gl_pathc; ++i) out.insert(g.gl_pathv[i]);
    } else if (rc != GLOB_NOMATCH) {
      globfree(&g);
      return absl::InvalidArgumentError(fmt::format("cannot expand rule_files pattern \"{}\"", p));
    }
    globfree(&g);
  }
  return std::vector<std::string>(out.begin(), out.end());
}

}  // namespace vigil::rules
