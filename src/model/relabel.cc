#include "model/relabel.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "fmt/format.h"
#include "re2/re2.h"
#include "yaml-cpp/yaml.h"

namespace vigil::model {
namespace {

constexpr std::array<std::pair<RelabelAction, std::string_view>, 11> kActionNames = {{
    {RelabelAction::kReplace, "replace"},
    {RelabelAction::kKeep, "keep"},
    {RelabelAction::kDrop, "drop"},
    {RelabelAction::kKeepEqual, "keepequal"},
    {RelabelAction::kDropEqual, "dropequal"},
    {RelabelAction::kHashMod, "hashmod"},
    {RelabelAction::kLabelMap, "labelmap"},
    {RelabelAction::kLabelDrop, "labeldrop"},
    {RelabelAction::kLabelKeep, "labelkeep"},
    {RelabelAction::kLowercase, "lowercase"},
    {RelabelAction::kUppercase, "uppercase"},
}};

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '_';
}

// Go's regexp.Expand over a match: `groups` holds the submatches (index 0 the whole match;
// an unmatched group is a null view).
std::string Expand(std::string_view tmpl, const re2::RE2& re,
                   const std::vector<re2::StringPiece>& groups) {
  std::string out;
  out.reserve(tmpl.size());
  size_t i = 0;
  while (i < tmpl.size()) {
    size_t d = tmpl.find('$', i);
    if (d == std::string_view::npos) {
      out.append(tmpl.substr(i));
      break;
    }
    out.append(tmpl.substr(i, d - i));
    i = d + 1;
    if (i < tmpl.size() && tmpl[i] == '$') {
      out.push_back('$');
      ++i;
      continue;
    }
    std::string_view name;
    size_t next = i;
    if (i < tmpl.size() && tmpl[i] == '{') {
      size_t j = i + 1;
      while (j < tmpl.size() && IsWordChar(tmpl[j])) ++j;
      if (j < tmpl.size() && tmpl[j] == '}' && j > i + 1) {
        name = tmpl.substr(i + 1, j - i - 1);
        next = j + 1;
      }
    } else {
      size_t j = i;
      while (j < tmpl.size() && IsWordChar(tmpl[j])) ++j;
      if (j > i) {
        name = tmpl.substr(i, j - i);
        next = j;
      }
    }
    if (name.empty()) {  // malformed: the '$' is literal text
      out.push_back('$');
      continue;
    }
    i = next;
    int index = -1;
    if (std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      index = 0;
      for (char c : name) {
        if (index > 100000) break;  // far past any group: treated as absent
        index = index * 10 + (c - '0');
      }
    } else {
      const auto& named = re.NamedCapturingGroups();
      auto it = named.find(std::string(name));
      if (it != named.end()) index = it->second;
    }
    if (index >= 0 && static_cast<size_t>(index) < groups.size() &&
        groups[index].data() != nullptr) {
      out.append(groups[index].data(), groups[index].size());
    }
  }
  return out;
}

// Matches `s` against the anchored regex; fills `groups` on success.
bool Match(const re2::RE2& re, std::string_view s, std::vector<re2::StringPiece>* groups) {
  groups->assign(re.NumberOfCapturingGroups() + 1, re2::StringPiece());
  return re.Match(re2::StringPiece(s.data(), s.size()), 0, s.size(), re2::RE2::ANCHOR_BOTH,
                  groups->data(), static_cast<int>(groups->size()));
}

bool MatchOnly(const re2::RE2& re, std::string_view s) {
  return re.Match(re2::StringPiece(s.data(), s.size()), 0, s.size(), re2::RE2::ANCHOR_BOTH,
                  nullptr, 0);
}

uint64_t Md5Low64(std::string_view s) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(s.data(), s.size(), digest, &len, EVP_md5(), nullptr);
  uint64_t v = 0;
  for (int i = 8; i < 16; ++i) v = (v << 8) | digest[i];
  return v;
}

// The sorted label vector relabeling works on.
class Set {
 public:
  explicit Set(std::vector<Label> l) : l_(std::move(l)) {}
  std::string_view Get(std::string_view name) const {
    auto it = Find(name);
    return it != l_.end() && it->name == name ? std::string_view(it->value) : "";
  }
  void Put(std::string_view name, std::string_view value) {
    auto it = Find(name);
    if (it != l_.end() && it->name == name) {
      if (value.empty()) {
        l_.erase(it);
      } else {
        it->value.assign(value);
      }
    } else if (!value.empty()) {
      l_.insert(it, Label{std::string(name), std::string(value)});
    }
  }
  std::vector<Label>& vec() { return l_; }

 private:
  std::vector<Label>::iterator Find(std::string_view name) {
    return std::lower_bound(l_.begin(), l_.end(), name,
                            [](const Label& l, std::string_view n) { return l.name < n; });
  }
  std::vector<Label>::const_iterator Find(std::string_view name) const {
    return std::lower_bound(l_.begin(), l_.end(), name,
                            [](const Label& l, std::string_view n) { return l.name < n; });
  }
  std::vector<Label> l_;
};

// One rule; false when the set is dropped.
bool Apply(const RelabelConfig& c, Set* set, std::vector<re2::StringPiece>* groups) {
  std::string val;
  for (size_t i = 0; i < c.source_labels.size(); ++i) {
    if (i > 0) val.append(c.separator);
    val.append(set->Get(c.source_labels[i]));
  }
  const re2::RE2& re = *c.compiled;
  switch (c.action) {
    case RelabelAction::kDrop:
      return !MatchOnly(re, val);
    case RelabelAction::kKeep:
      return MatchOnly(re, val);
    case RelabelAction::kDropEqual:
      return set->Get(c.target_label) != val;
    case RelabelAction::kKeepEqual:
      return set->Get(c.target_label) == val;
    case RelabelAction::kReplace: {
      if (!Match(re, val, groups)) return true;
      std::string target = Expand(c.target_label, re, *groups);
      if (!IsValidLabelName(target)) return true;
      std::string res = Expand(c.replacement, re, *groups);
      set->Put(target, res);  // empty deletes
      return true;
    }
    case RelabelAction::kLowercase:
    case RelabelAction::kUppercase: {
      bool lower = c.action == RelabelAction::kLowercase;
      for (char& ch : val) {
        ch = lower ? static_cast<char>(std::tolower(static_cast<unsigned char>(ch)))
                   : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      }
      set->Put(c.target_label, val);
      return true;
    }
    case RelabelAction::kHashMod:
      set->Put(c.target_label, fmt::format("{}", Md5Low64(val) % c.modulus));
      return true;
    case RelabelAction::kLabelMap: {
      const std::vector<Label> snapshot = set->vec();
      for (const Label& l : snapshot) {
        if (Match(re, l.name, groups)) {
          set->Put(Expand(c.replacement, re, *groups), l.value);
        }
      }
      return true;
    }
    case RelabelAction::kLabelDrop:
    case RelabelAction::kLabelKeep: {
      bool drop_matching = c.action == RelabelAction::kLabelDrop;
      auto& v = set->vec();
      v.erase(std::remove_if(v.begin(), v.end(),
                             [&](const Label& l) {
                               return MatchOnly(re, l.name) == drop_matching;
                             }),
              v.end());
      return true;
    }
  }
  return true;
}

// Prometheus's rule for target_label in replace: label-name characters and $-references.
bool IsValidTargetTemplate(std::string_view t) {
  static const re2::RE2 kRe(R"(^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$)");
  return MatchOnly(kRe, t);
}

}  // namespace

std::string_view RelabelActionName(RelabelAction a) {
  for (const auto& [act, name] : kActionNames) {
    if (act == a) return name;
  }
  return "unknown";
}

std::optional<RelabelAction> ParseRelabelAction(std::string_view s) {
  std::string lower(s);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [act, name] : kActionNames) {
    if (name == lower) return act;
  }
  return std::nullopt;
}

absl::Status RelabelConfig::Compile() {
  auto re = std::make_shared<re2::RE2>(fmt::format("^(?s:{})$", regex), re2::RE2::Quiet);
  if (!re->ok()) {
    return absl::InvalidArgumentError(
        fmt::format("invalid regex \"{}\": {}", regex, re->error()));
  }
  compiled = std::move(re);
  const std::string_view act = RelabelActionName(action);
  const bool needs_target = action == RelabelAction::kReplace ||
                            action == RelabelAction::kHashMod ||
                            action == RelabelAction::kLowercase ||
                            action == RelabelAction::kUppercase ||
                            action == RelabelAction::kKeepEqual ||
                            action == RelabelAction::kDropEqual;
  if (needs_target && target_label.empty()) {
    return absl::InvalidArgumentError(
        fmt::format("relabel configuration for {} action requires 'target_label' value", act));
  }
  if (action == RelabelAction::kReplace && !IsValidTargetTemplate(target_label)) {
    return absl::InvalidArgumentError(fmt::format(
        "\"{}\" is invalid 'target_label' for {} action", target_label, act));
  }
  if ((action == RelabelAction::kLowercase || action == RelabelAction::kUppercase ||
       action == RelabelAction::kHashMod || action == RelabelAction::kKeepEqual ||
       action == RelabelAction::kDropEqual) &&
      !IsValidLabelName(target_label)) {
    return absl::InvalidArgumentError(fmt::format(
        "\"{}\" is invalid 'target_label' for {} action", target_label, act));
  }
  if (action == RelabelAction::kHashMod && modulus == 0) {
    return absl::InvalidArgumentError(
        "relabel configuration for hashmod requires non-zero modulus");
  }
  if (action == RelabelAction::kLabelMap && !IsValidTargetTemplate(replacement)) {
    return absl::InvalidArgumentError(fmt::format(
        "\"{}\" is invalid 'replacement' for {} action", replacement, act));
  }
  if (action == RelabelAction::kLabelDrop || action == RelabelAction::kLabelKeep) {
    if (!source_labels.empty() || !target_label.empty() || modulus != 0 ||
        separator != ";" || replacement != "$1") {
      return absl::InvalidArgumentError(fmt::format(
          "{} action requires only 'regex', and no other fields", act));
    }
  }
  if (action == RelabelAction::kKeepEqual || action == RelabelAction::kDropEqual) {
    if (regex != "(.*)" || modulus != 0 || separator != ";" || replacement != "$1") {
      return absl::InvalidArgumentError(fmt::format(
          "{} action requires only 'source_labels' and `target_label`, and no other fields",
          act));
    }
  }
  return absl::OkStatus();
}

bool RelabelInPlace(LabelsBuilder* b, const std::vector<RelabelConfig>& cfgs) {
  std::optional<Labels> out = Relabel(b->Build(), cfgs);
  if (!out.has_value()) return false;
  *b = LabelsBuilder(*out);
  return true;
}

std::optional<Labels> Relabel(const Labels& labels, const std::vector<RelabelConfig>& cfgs) {
  Set set(labels.vec());
  std::vector<re2::StringPiece> groups;
  for (const RelabelConfig& c : cfgs) {
    if (!Apply(c, &set, &groups)) return std::nullopt;
  }
  Labels out;
  out.mutable_vec() = std::move(set.vec());
  return out;
}

namespace {

absl::Status NodeError(std::string_view filename, const YAML::Node& n, std::string_view what) {
  const YAML::Mark m = n.Mark();
  return absl::InvalidArgumentError(
      fmt::format("{}:{}:{}: {}", filename, m.line + 1, m.column + 1, what));
}

std::string Scalar(const YAML::Node& n) { return n.IsNull() ? std::string() : n.Scalar(); }

}  // namespace

absl::StatusOr<std::vector<RelabelConfig>> ParseRelabelConfigs(const YAML::Node& seq,
                                                              std::string_view filename) {
  std::vector<RelabelConfig> out;
  if (!seq || seq.IsNull()) return out;
  if (!seq.IsSequence()) return NodeError(filename, seq, "relabel configs must be a list");
  for (const YAML::Node& item : seq) {
    if (!item.IsMap()) return NodeError(filename, item, "relabel config must be a mapping");
    RelabelConfig c;
    for (const auto& kv : item) {
      const std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      if (key == "source_labels") {
        if (v.IsNull()) continue;
        if (!v.IsSequence()) return NodeError(filename, v, "source_labels must be a list");
        for (const YAML::Node& s : v) {
          if (!s.IsScalar()) return NodeError(filename, s, "source label must be a string");
          c.source_labels.push_back(s.Scalar());
        }
      } else if (key == "separator") {
        c.separator = Scalar(v);
      } else if (key == "regex") {
        if (!v.IsScalar()) return NodeError(filename, v, "regex must be a string");
        c.regex = v.Scalar();
      } else if (key == "modulus") {
        try {
          c.modulus = v.as<uint64_t>();
        } catch (const YAML::Exception&) {
          return NodeError(filename, v, fmt::format("invalid modulus \"{}\"", Scalar(v)));
        }
      } else if (key == "target_label") {
        c.target_label = Scalar(v);
      } else if (key == "replacement") {
        c.replacement = Scalar(v);
      } else if (key == "action") {
        std::optional<RelabelAction> a = ParseRelabelAction(Scalar(v));
        if (!a) {
          return NodeError(filename, v, fmt::format("unknown relabel action \"{}\"", Scalar(v)));
        }
        c.action = *a;
      } else {
        return NodeError(filename, kv.first,
                         fmt::format("unknown field \"{}\" in relabel config", key));
      }
    }
    if (absl::Status s = c.Compile(); !s.ok()) {
      return NodeError(filename, item, std::string(s.message()));
    }
    out.push_back(std::move(c));
  }
  return out;
}

absl::StatusOr<std::vector<RelabelConfig>> ParseRelabelConfigsYaml(std::string_view yaml,
                                                                  std::string_view filename) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("{}:{}:{}: cannot parse YAML: {}", filename,
                                                  e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  return ParseRelabelConfigs(root, filename);
}

}  // namespace vigil::model
