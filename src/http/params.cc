#include "http/params.h"

#include <charconv>
#include <chrono>
#include <cmath>

#include "fmt/format.h"
#include "model/labels.h"

namespace vigil::http {
namespace {

int HexVal(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

absl::StatusOr<std::string> UrlDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= s.size() || HexVal(s[i + 1]) < 0 || HexVal(s[i + 2]) < 0) {
        return absl::InvalidArgumentError(
            fmt::format("invalid URL escape \"{}\"", s.substr(i, 3)));
      }
      out.push_back(static_cast<char>(HexVal(s[i + 1]) * 16 + HexVal(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

absl::Status ParseQueryString(std::string_view s, Params* out) {
  while (!s.empty()) {
    size_t amp = s.find('&');
    std::string_view part = s.substr(0, amp);
    s = amp == std::string_view::npos ? std::string_view() : s.substr(amp + 1);
    if (part.empty()) continue;
    size_t eq = part.find('=');
    auto key = UrlDecode(part.substr(0, eq));
    if (!key.ok()) return key.status();
    auto value = UrlDecode(eq == std::string_view::npos ? std::string_view() : part.substr(eq + 1));
    if (!value.ok()) return value.status();
    out->emplace_back(std::move(*key), std::move(*value));
  }
  return absl::OkStatus();
}

namespace {

// Reads exactly `n` digits at s[*i].
bool Digits(std::string_view s, size_t* i, int n, int* out) {
  if (*i + n > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[*i + k];
    if (!IsDigit(c)) return false;
    v = v * 10 + (c - '0');
  }
  *i += n;
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* i, char c) {
  if (*i >= s.size() || s[*i] != c) return false;
  ++*i;
  return true;
}

bool ParseRfc3339(std::string_view s, int64_t* ms) {
  size_t i = 0;
  int y, mo, d, h, mi, sec;
  if (!Digits(s, &i, 4, &y) || !Expect(s, &i, '-') || !Digits(s, &i, 2, &mo) ||
      !Expect(s, &i, '-') || !Digits(s, &i, 2, &d)) {
    return false;
  }
  if (i >= s.size() || (s[i] != 'T' && s[i] != 't')) return false;
  ++i;
  if (!Digits(s, &i, 2, &h) || !Expect(s, &i, ':') || !Digits(s, &i, 2, &mi) ||
      !Expect(s, &i, ':') || !Digits(s, &i, 2, &sec)) {
    return false;
  }
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return false;
  std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                  std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) return false;
  int64_t frac_ms = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t start = i;
    int64_t scale = 100;
    while (i < s.size() && IsDigit(s[i])) {
      frac_ms += (s[i] - '0') * scale;  // digits past milliseconds are truncated
      scale /= 10;
      ++i;
    }
    if (i == start) return false;
  }
  int64_t offset_s = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int sign = s[i] == '-' ? -1 : 1;
    ++i;
    int oh, om;
    if (!Digits(s, &i, 2, &oh) || !Expect(s, &i, ':') || !Digits(s, &i, 2, &om)) return false;
    offset_s = sign * (oh * 3600 + om * 60);
  } else {
    return false;
  }
  if (i != s.size()) return false;
  int64_t days = std::chrono::sys_days(ymd).time_since_epoch().count();
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_s;
  *ms = secs * 1000 + frac_ms;
  return true;
}

}  // namespace

absl::StatusOr<int64_t> ParseTime(std::string_view s) {
  // Unix seconds, possibly fractional. from_chars takes no leading '+', and neither do we.
  double f = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), f);
  if (r.ec == std::errc() && r.ptr == s.data() + s.size() && std::isfinite(f)) {
    // Prometheus rounds the fraction to milliseconds.
    double whole = std::trunc(f);
    double frac = std::round((f - whole) * 1000);
    if (std::fabs(whole) < 9.2e15) return static_cast<int64_t>(whole) * 1000 + static_cast<int64_t>(frac);
  }
  int64_t ms = 0;
  if (ParseRfc3339(s, &ms)) return ms;
  return absl::InvalidArgumentError(fmt::format("cannot parse \"{}\" to a valid timestamp", s));
}

namespace {

class SelectorParser {
 public:
  explicit SelectorParser(std::string_view s) : s_(s) {}

  absl::StatusOr<model::Matchers> Parse() {
    model::Matchers out;
    SkipSpace();
    std::string name;
    if (i_ < s_.size() && IsNameStart(s_[i_], true)) {
      name = ReadName(true);
      out.push_back(model::Matcher::MustMake(model::MatchType::kEqual, model::kMetricName, name));
      SkipSpace();
    }
    if (i_ < s_.size() && s_[i_] == '{') {
      ++i_;
      while (true) {
        SkipSpace();
        if (i_ < s_.size() && s_[i_] == '}') {
          ++i_;
          break;
        }
        if (i_ >= s_.size() || !IsNameStart(s_[i_], false)) return Error("expected label name");
        std::string label = ReadName(false);
        SkipSpace();
        model::MatchType type;
        if (Consume("=~")) {
          type = model::MatchType::kRegexMatch;
        } else if (Consume("!~")) {
          type = model::MatchType::kRegexNoMatch;
        } else if (Consume("!=")) {
          type = model::MatchType::kNotEqual;
        } else if (Consume("=")) {
          type = model::MatchType::kEqual;
        } else {
          return Error(fmt::format("expected a match operator after \"{}\"", label));
        }
        SkipSpace();
        auto value = ReadString();
        if (!value.ok()) return value.status();
        if (label == model::kMetricName && !name.empty()) {
          return Error("metric name given twice");
        }
        auto m = model::Matcher::Make(type, label, *value);
        if (!m.ok()) return m.status();
        out.push_back(std::move(*m));
        SkipSpace();
        if (Consume(",")) continue;
        if (Consume("}")) break;
        return Error("expected \",\" or \"}\"");
      }
    }
    SkipSpace();
    if (i_ != s_.size()) return Error("unexpected characters after the selector");
    if (out.empty()) return Error("empty selector");
    bool any_non_empty = false;
    for (const auto& m : out) any_non_empty |= !m.MatchesEmpty();
    if (!any_non_empty) {
      return absl::InvalidArgumentError(fmt::format(
          "1:1: parse error: vector selector must contain at least one non-empty matcher"));
    }
    return out;
  }

 private:
  static bool IsNameStart(char c, bool metric) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
  }
  static bool IsNameChar(char c, bool metric) { return IsNameStart(c, metric) || IsDigit(c); }

  std::string ReadName(bool metric) {
    size_t start = i_;
    while (i_ < s_.size() && IsNameChar(s_[i_], metric)) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }

  void SkipSpace() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }

  bool Consume(std::string_view t) {
    if (s_.substr(i_, t.size()) == t) {
      i_ += t.size();
      return true;
    }
    return false;
  }

  absl::StatusOr<std::string> ReadString() {
    if (i_ >= s_.size()) return Error("expected a quoted label value");
    char q = s_[i_];
    if (q != '"' && q != '\'' && q != '`') return Error("expected a quoted label value");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != q) {
      char c = s_[i_++];
      if (c != '\\' || q == '`') {
        out.push_back(c);
        continue;
      }
      if (i_ >= s_.size()) break;
      char e = s_[i_++];
      switch (e) {
        case 'n': out.push_back('\n'); break;
        case 't': out.push_back('\t'); break;
        case 'r': out.push_back('\r'); break;
        case 'a': out.push_back('\a'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'v': out.push_back('\v'); break;
        case '\\': case '"': case '\'': out.push_back(e); break;
        case 'x': {
          if (i_ + 2 > s_.size() || HexVal(s_[i_]) < 0 || HexVal(s_[i_ + 1]) < 0) {
            return Error("invalid \\x escape");
          }
          out.push_back(static_cast<char>(HexVal(s_[i_]) * 16 + HexVal(s_[i_ + 1])));
          i_ += 2;
          break;
        }
        case 'u': case 'U': {
          size_t n = e == 'u' ? 4 : 8;
          if (i_ + n > s_.size()) return Error("invalid unicode escape");
          uint32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            int h = HexVal(s_[i_ + k]);
            if (h < 0) return Error("invalid unicode escape");
            cp = cp * 16 + static_cast<uint32_t>(h);
          }
          i_ += n;
          if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return Error("invalid unicode escape");
          AppendUtf8(&out, cp);
          break;
        }
        default:
          return Error(fmt::format("unknown escape sequence \"\\{}\"", e));
      }
    }
    if (i_ >= s_.size()) return Error("unterminated quoted string");
    ++i_;
    return out;
  }

  static void AppendUtf8(std::string* out, uint32_t cp) {
    if (cp < 0x80) {
      out->push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out->push_back(static_cast<char>(0xc0 | cp >> 6));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else if (cp < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | cp >> 12));
      out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | cp >> 18));
      out->push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
    }
  }

  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        fmt::format("1:{}: parse error: {} in selector \"{}\"", i_ + 1, what, s_));
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

absl::StatusOr<model::Matchers> ParseSelector(std::string_view s) {
  return SelectorParser(s).Parse();
}

}  // namespace vigil::http
