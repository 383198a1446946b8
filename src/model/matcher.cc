#include "model/matcher.h"

#include "base/status.h"
#include "model/fast_regex.h"

namespace vigil::model {

absl::StatusOr<Matcher> Matcher::Make(MatchType type, std::string_view name,
                                      std::string_view value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::string(name);
  m.value_ = std::string(value);
  if (type == MatchType::kRegexMatch || type == MatchType::kRegexNoMatch) {
    auto re = RegexCache::Global().Get(value);
    if (!re.ok()) return re.status();
    m.re_ = *std::move(re);
  }
  return m;
}

Matcher Matcher::MustMake(MatchType type, std::string_view name, std::string_view value) {
  auto m = Make(type, name, value);
  VIGIL_CHECK(m.ok());
  return *std::move(m);
}

bool Matcher::Matches(std::string_view v) const {
  switch (type_) {
    case MatchType::kEqual: return v == value_;
    case MatchType::kNotEqual: return v != value_;
    case MatchType::kRegexMatch: return re_->Matches(v);
    case MatchType::kRegexNoMatch: return !re_->Matches(v);
  }
  return false;
}

const std::vector<std::string>& Matcher::set_matches() const {
  static const std::vector<std::string> kNone;
  return re_ != nullptr ? re_->set_matches() : kNone;
}

std::string Matcher::ToString() const {
  static constexpr const char* kOps[] = {"=", "!=", "=~", "!~"};
  std::string out = name_;
  out += kOps[static_cast<int>(type_)];
  out += '"';
  for (char c : value_) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace vigil::model
