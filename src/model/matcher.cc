#include "model/matcher.h"

#include "fmt/format.h"
#include "base/status.h"
#include "re2/re2.h"

namespace vigil::model {
namespace {

// Returns the alternatives of a regex that is only literals joined by '|', e.g. "a|b|c".
std::vector<std::string> LiteralAlternatives(std::string_view re) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : re) {
    if (c == '|') {
      out.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == ':' || c == '/' || c == ' ' || c == ',' ||
                 c == '=' || c == '@' || c == '%';
    if (!plain) return {};
    cur.push_back(c);
  }
  out.push_back(std::move(cur));
  return out;
}

}  // namespace

absl::StatusOr<Matcher> Matcher::Make(MatchType type, std::string_view name,
                                      std::string_view value) {
  Matcher m;
  m.type_ = type;
  m.name_ = std::string(name);
  m.value_ = std::string(value);
  if (type == MatchType::kRegexMatch || type == MatchType::kRegexNoMatch) {
    RE2::Options opts;
    opts.set_dot_nl(true);
    opts.set_log_errors(false);
    auto re = std::make_shared<RE2>(fmt::format("^(?:{})$", value), opts);
    if (!re->ok()) {
      return absl::InvalidArgumentError(
          fmt::format("invalid regular expression \"{}\": {}", value, re->error()));
    }
    m.re_ = std::move(re);
    m.set_matches_ = LiteralAlternatives(value);
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
    case MatchType::kRegexMatch: return RE2::FullMatch(v, *re_);
    case MatchType::kRegexNoMatch: return !RE2::FullMatch(v, *re_);
  }
  return false;
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
