#include "notify/config.h"

#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "config/units.h"
#include "notify/templates.h"
#include "rules/template.h"
#include "fmt/format.h"
#include "yaml-cpp/yaml.h"

namespace vigil::notify {
namespace {

// Thrown inside this file only, caught by ParseConfig (never crosses the header).
struct ConfigError {
  std::string msg;
};

std::string Pos(std::string_view file, const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.is_null()) return std::string(file);
  return fmt::format("{}:{}:{}", file, m.line + 1, m.column + 1);
}

class Parser {
 public:
  explicit Parser(std::string_view file) : file_(file) {}

  [[noreturn]] void Fail(const YAML::Node& n, const std::string& what) const {
    throw ConfigError{fmt::format("{}: {}", Pos(file_, n), what)};
  }

  void Keys(const YAML::Node& n, std::initializer_list<std::string_view> allowed, std::string_view type) {
    if (!n.IsMap()) Fail(n, fmt::format("{} must be a map", type));
    for (const auto& kv : n) {
      const std::string k = kv.first.Scalar();
      bool ok = false;
      for (auto a : allowed) ok = ok || a == k;
      if (!ok) Fail(kv.first, fmt::format("field {} not found in type {}", k, type));
    }
  }
  std::string Str(const YAML::Node& n) {
    if (!n.IsScalar()) Fail(n, "expected a string");
    return n.Scalar();
  }
  bool Bool(const YAML::Node& n) {
    std::string s = Str(n);
    if (s == "true") return true;
    if (s == "false") return false;
    Fail(n, fmt::format("expected true or false, got \"{}\"", s));
  }
  int64_t Dur(const YAML::Node& n) {
    auto d = config::ParseDuration(Str(n));
    if (!d.ok()) Fail(n, fmt::format("not a valid duration string: \"{}\"", n.Scalar()));
    return *d;
  }
  // A template field: must parse (its position is the field's value).
  std::string CheckTemplate(const YAML::Node& n, std::string_view field) {
    std::string v = Str(n);
    auto t = rules::Template::Parse(v);
    if (!t.ok()) Fail(n, fmt::format("{}: {}", field, std::string(t.status().message())));
    return v;
  }
  std::string Tmpl(const YAML::Node& parent, const char* key, std::string def) {
    if (!parent[key]) return def;
    return CheckTemplate(parent[key], key);
  }
  std::vector<std::string> StrList(const YAML::Node& n) {
    std::vector<std::string> out;
    if (n.IsNull()) return out;
    if (!n.IsSequence()) Fail(n, "expected a list");
    for (const auto& e : n) out.push_back(Str(e));
    return out;
  }
  void Matchers(const YAML::Node& n, model::Matchers* out) {
    for (const auto& s : StrList(n)) {
      auto m = ParseMatcher(s);
      if (!m.ok()) Fail(n, std::string(m.status().message()));
      out->push_back(*m);
    }
  }
  void MatchMap(const YAML::Node& n, bool re, model::Matchers* out) {
    if (!n.IsMap()) Fail(n, "expected a map");
    for (const auto& kv : n) {
      auto m = model::Matcher::Make(re ? model::MatchType::kRegexMatch : model::MatchType::kEqual,
                                    kv.first.Scalar(), Str(kv.second));
      if (!m.ok()) Fail(kv.second, std::string(m.status().message()));
      out->push_back(*m);
    }
  }

  void ParseRoute(const YAML::Node& n, Route* r, const Route* parent, const std::string& id) {
    Keys(n, {"receiver", "group_by", "group_wait", "group_interval", "repeat_interval", "matchers",
             "match", "match_re", "continue", "routes", "mute_time_intervals",
             "active_time_intervals"},
         "config.Route");
    if (parent != nullptr) {
      r->receiver = parent->receiver;
      r->group_by = parent->group_by;
      r->group_by_all = parent->group_by_all;
      r->group_wait_ms = parent->group_wait_ms;
      r->group_interval_ms = parent->group_interval_ms;
      r->repeat_interval_ms = parent->repeat_interval_ms;
    }
    r->id = id;
    if (n["receiver"]) r->receiver = Str(n["receiver"]);
    if (n["group_by"]) {
      r->group_by = StrList(n["group_by"]);
      r->group_by_all = false;
      for (const auto& g : r->group_by) r->group_by_all = r->group_by_all || g == "...";
    }
    if (n["group_wait"]) r->group_wait_ms = Dur(n["group_wait"]);
    if (n["group_interval"]) r->group_interval_ms = Dur(n["group_interval"]);
    if (n["repeat_interval"]) r->repeat_interval_ms = Dur(n["repeat_interval"]);
    if (n["group_interval"] && r->group_interval_ms <= 0) Fail(n["group_interval"], "group_interval cannot be zero");
    if (n["repeat_interval"] && r->repeat_interval_ms <= 0) Fail(n["repeat_interval"], "repeat_interval cannot be zero");
    if (n["matchers"]) Matchers(n["matchers"], &r->matchers);
    if (n["match"]) MatchMap(n["match"], false, &r->matchers);
    if (n["match_re"]) MatchMap(n["match_re"], true, &r->matchers);
    if (n["continue"]) r->cont = Bool(n["continue"]);
    if (n["mute_time_intervals"]) r->mute_time_intervals = StrList(n["mute_time_intervals"]);
    if (n["active_time_intervals"]) r->active_time_intervals = StrList(n["active_time_intervals"]);
    if (parent == nullptr) {
      if (!r->matchers.empty()) Fail(n, "root route must not have any matchers");
      if (r->cont) Fail(n, "cannot have continue in root route");
      if (r->receiver.empty()) Fail(n, "root route must specify a default receiver");
    }
    if (n["routes"]) {
      if (!n["routes"].IsSequence()) Fail(n["routes"], "routes must be a list");
      int i = 0;
      for (const auto& c : n["routes"]) {
        Route child;
        ParseRoute(c, &child, r, fmt::format("{}/{}", id, i++));
        r->routes.push_back(std::move(child));
      }
    }
  }

  Receiver ParseReceiver(const YAML::Node& n, const std::map<std::string, std::string>& g) {
    Keys(n, {"name", "webhook_configs", "slack_configs", "pagerduty_configs", "email_configs"},
         "config.Receiver");
    Receiver r;
    r.name = Str(n["name"]);
    auto get = [&](const std::string& k) {
      auto it = g.find(k);
      return it == g.end() ? std::string() : it->second;
    };
    for (const auto& w : n["webhook_configs"]) {
      Keys(w, {"url", "send_resolved", "max_alerts", "http_config"}, "config.WebhookConfig");
      WebhookConfig c;
      c.url = Str(w["url"]);
      if (w["send_resolved"]) c.send_resolved = Bool(w["send_resolved"]);
      if (w["max_alerts"]) c.max_alerts = w["max_alerts"].as<int>();
      r.webhooks.push_back(c);
    }
    for (const auto& w : n["slack_configs"]) {
      Keys(w, {"api_url", "channel", "username", "color", "title", "title_link", "pretext", "text",
               "fallback", "footer", "icon_emoji", "icon_url", "send_resolved", "http_config"},
           "config.SlackConfig");
      SlackConfig c;
      c.api_url = w["api_url"] ? Str(w["api_url"]) : get("slack_api_url");
      if (c.api_url.empty()) Fail(w, "no global Slack API URL set");
      // Defaults as Alertmanager's: each field calls its default template.
      c.username = Tmpl(w, "username", R"({{ template "slack.default.username" . }})");
      c.color = Tmpl(w, "color", R"({{ template "slack.default.color" . }})");
      c.title = Tmpl(w, "title", R"({{ template "slack.default.title" . }})");
      c.title_link = Tmpl(w, "title_link", R"({{ template "slack.default.titlelink" . }})");
      c.pretext = Tmpl(w, "pretext", R"({{ template "slack.default.pretext" . }})");
      c.text = Tmpl(w, "text", R"({{ template "slack.default.text" . }})");
      c.fallback = Tmpl(w, "fallback", R"({{ template "slack.default.fallback" . }})");
      c.footer = Tmpl(w, "footer", R"({{ template "slack.default.footer" . }})");
      c.icon_emoji = Tmpl(w, "icon_emoji", R"({{ template "slack.default.iconemoji" . }})");
      c.icon_url = Tmpl(w, "icon_url", R"({{ template "slack.default.iconurl" . }})");
      c.channel = Tmpl(w, "channel", "");
      if (w["send_resolved"]) c.send_resolved = Bool(w["send_resolved"]);
      r.slacks.push_back(c);
    }
    for (const auto& w : n["pagerduty_configs"]) {
      Keys(w, {"routing_key", "service_key", "url", "severity", "description", "client", "client_url",
               "details", "source", "component", "group", "class", "send_resolved", "http_config"},
           "config.PagerdutyConfig");
      PagerDutyConfig c;
      c.routing_key = Tmpl(w, "routing_key", "");
      if (c.routing_key.empty()) Fail(w, "missing routing_key in PagerDuty config");
      c.url = w["url"] ? Str(w["url"]) : get("pagerduty_url");
      if (c.url.empty()) c.url = "https://events.pagerduty.com/v2/enqueue";
      c.severity = Tmpl(w, "severity", "error");
      c.description = Tmpl(w, "description", R"({{ template "pagerduty.default.description" . }})");
      c.client = Tmpl(w, "client", R"({{ template "pagerduty.default.client" . }})");
      c.client_url = Tmpl(w, "client_url", R"({{ template "pagerduty.default.clientURL" . }})");
      c.source = Tmpl(w, "source", c.client);
      c.component = Tmpl(w, "component", "");
      c.group = Tmpl(w, "group", "");
      c.class_ = Tmpl(w, "class", "");
      c.details = {{"firing", R"({{ template "pagerduty.default.instances" .Alerts.Firing }})"},
                   {"resolved", R"({{ template "pagerduty.default.instances" .Alerts.Resolved }})"},
                   {"num_firing", "{{ .Alerts.Firing | len }}"},
                   {"num_resolved", "{{ .Alerts.Resolved | len }}"}};
      if (w["details"]) {
        // Given details replace the defaults key by key, as in Alertmanager.
        if (!w["details"].IsMap()) Fail(w["details"], "details must be a map");
        for (const auto& kv : w["details"]) {
          const std::string k = kv.first.Scalar();
          const std::string v = CheckTemplate(kv.second, "details");
          bool replaced = false;
          for (auto& d : c.details) {
            if (d.first == k) {
              d.second = v;
              replaced = true;
            }
          }
          if (!replaced) c.details.emplace_back(k, v);
        }
      }
      if (w["send_resolved"]) c.send_resolved = Bool(w["send_resolved"]);
      r.pagerduties.push_back(c);
    }
    for (const auto& w : n["email_configs"]) {
      Keys(w, {"to", "from", "smarthost", "auth_username", "auth_password", "require_tls",
               "send_resolved", "headers", "html", "text", "hello", "auth_identity", "auth_secret",
               "tls_config"},
           "config.EmailConfig");
      EmailConfig c;
      if (!w["to"]) Fail(w, "missing to address in email config");
      c.to = CheckTemplate(w["to"], "to");
      c.from = w["from"] ? CheckTemplate(w["from"], "from") : get("smtp_from");
      c.smarthost = w["smarthost"] ? Str(w["smarthost"]) : get("smtp_smarthost");
      c.auth_username = w["auth_username"] ? Str(w["auth_username"]) : get("smtp_auth_username");
      c.auth_password = w["auth_password"] ? Str(w["auth_password"]) : get("smtp_auth_password");
      std::string tls = w["require_tls"] ? Str(w["require_tls"]) : get("smtp_require_tls");
      c.require_tls = tls != "false";
      if (w["send_resolved"]) c.send_resolved = Bool(w["send_resolved"]);
      c.subject = R"({{ template "email.default.subject" . }})";
      if (w["headers"]) {
        if (!w["headers"].IsMap()) Fail(w["headers"], "headers must be a map");
        for (const auto& kv : w["headers"]) {
          std::string k = kv.first.Scalar();
          const std::string v = CheckTemplate(kv.second, "headers");
          std::string lower = k;
          for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
          if (lower == "subject") {
            c.subject = v;
          } else if (lower == "to" || lower == "from") {
            (lower == "to" ? c.to : c.from) = v;
          } else {
            c.headers.emplace_back(k, v);
          }
        }
      }
      c.html = Tmpl(w, "html", R"({{ template "email.default.html" . }})");
      c.text = Tmpl(w, "text", "");
      if (c.smarthost.empty()) Fail(w, "no global SMTP smarthost set");
      if (c.from.empty()) Fail(w, "no global SMTP from set");
      r.emails.push_back(c);
    }
    return r;
  }

  // Ranges "a" or "a:b" of names or numbers within [min, max]. Days of the month may count
  // from the end (negative); everything else must run forwards, as Alertmanager checks.
  std::vector<IntRange> Ranges(const YAML::Node& n, const std::map<std::string, int>& names,
                               std::string_view what, int min, int max) {
    std::vector<IntRange> out = RawRanges(n, names);
    for (const auto& r : out) {
      for (int v : {r.lo, r.hi}) {
        if (v < min || v > max || (what == "day of month" && v == 0)) {
          Fail(n, fmt::format("{} {} out of range [{}, {}]", what, v, min, max));
        }
      }
      if ((r.lo >= 0) == (r.hi >= 0) && r.lo > r.hi) {
        Fail(n, fmt::format("{} range {}:{} runs backwards (start after end)", what, r.lo, r.hi));
      }
    }
    return out;
  }

  std::vector<IntRange> RawRanges(const YAML::Node& n, const std::map<std::string, int>& names) {
    std::vector<IntRange> out;
    for (const auto& s : StrList(n)) {
      auto one = [&](std::string v) -> int {
        for (auto& ch : v) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        auto it = names.find(v);
        if (it != names.end()) return it->second;
        try {
          return std::stoi(v);
        } catch (...) {
          Fail(n, fmt::format("invalid range value \"{}\"", v));
        }
      };
      size_t c = s.find(':', s[0] == '-' ? 1 : 0);
      if (c == std::string::npos) {
        int v = one(s);
        out.push_back({v, v});
      } else {
        out.push_back({one(s.substr(0, c)), one(s.substr(c + 1))});
      }
    }
    return out;
  }

  NamedTimeInterval ParseTimeInterval(const YAML::Node& n) {
    Keys(n, {"name", "time_intervals"}, "config.TimeInterval");
    NamedTimeInterval t;
    t.name = Str(n["name"]);
    static const std::map<std::string, int> kDays = {{"sunday", 0}, {"monday", 1}, {"tuesday", 2},
                                                     {"wednesday", 3}, {"thursday", 4},
                                                     {"friday", 5}, {"saturday", 6}};
    static const std::map<std::string, int> kMonths = {
        {"january", 1}, {"february", 2}, {"march", 3}, {"april", 4}, {"may", 5}, {"june", 6},
        {"july", 7}, {"august", 8}, {"september", 9}, {"october", 10}, {"november", 11}, {"december", 12}};
    for (const auto& i : n["time_intervals"]) {
      Keys(i, {"times", "weekdays", "days_of_month", "months", "years", "location"}, "timeinterval.TimeInterval");
      TimeInterval ti;
      for (const auto& tr : i["times"]) {
        auto minute = [&](const YAML::Node& x) {
          std::string s = Str(x);
          int h = 0, m = 0;
          if (std::sscanf(s.c_str(), "%d:%d", &h, &m) != 2 || h < 0 || h > 24 || m < 0 || m > 59) {
            Fail(x, fmt::format("invalid time of day \"{}\"", s));
          }
          return h * 60 + m;
        };
        ti.times.push_back({minute(tr["start_time"]), minute(tr["end_time"])});
      }
      if (i["weekdays"]) ti.weekdays = Ranges(i["weekdays"], kDays, "weekday", 0, 6);
      if (i["days_of_month"]) ti.days_of_month = Ranges(i["days_of_month"], {}, "day of month", -31, 31);
      if (i["months"]) ti.months = Ranges(i["months"], kMonths, "month", 1, 12);
      if (i["years"]) ti.years = Ranges(i["years"], {}, "year", 1, 9999);
      t.intervals.push_back(std::move(ti));
    }
    return t;
  }

  Config Run(const YAML::Node& root) {
    Config c;
    if (root.IsNull()) Fail(root, "no route provided in config");
    Keys(root, {"global", "route", "receivers", "inhibit_rules", "time_intervals",
                "mute_time_intervals", "templates", "alertmanagers"},
         "config.plain");
    std::map<std::string, std::string> g;
    if (root["global"]) {
      for (const auto& kv : root["global"]) g[kv.first.Scalar()] = kv.second.IsScalar() ? kv.second.Scalar() : "";
      if (root["global"]["resolve_timeout"]) c.resolve_timeout_ms = Dur(root["global"]["resolve_timeout"]);
    }
    if (!root["route"]) Fail(root, "no route provided in config");
    if (root["receivers"]) {
      for (const auto& r : root["receivers"]) c.receivers.push_back(ParseReceiver(r, g));
    }
    ParseRoute(root["route"], &c.route, nullptr, "0");
    for (const char* key : {"time_intervals", "mute_time_intervals"}) {
      if (root[key]) {
        for (const auto& t : root[key]) c.time_intervals.push_back(ParseTimeInterval(t));
      }
    }
    if (root["inhibit_rules"]) {
      for (const auto& n : root["inhibit_rules"]) {
        Keys(n, {"source_matchers", "target_matchers", "source_match", "source_match_re",
                 "target_match", "target_match_re", "equal"},
             "config.InhibitRule");
        InhibitRule ir;
        if (n["source_matchers"]) Matchers(n["source_matchers"], &ir.source);
        if (n["target_matchers"]) Matchers(n["target_matchers"], &ir.target);
        if (n["source_match"]) MatchMap(n["source_match"], false, &ir.source);
        if (n["source_match_re"]) MatchMap(n["source_match_re"], true, &ir.source);
        if (n["target_match"]) MatchMap(n["target_match"], false, &ir.target);
        if (n["target_match_re"]) MatchMap(n["target_match_re"], true, &ir.target);
        if (n["equal"]) ir.equal = StrList(n["equal"]);
        c.inhibit_rules.push_back(std::move(ir));
      }
    }
    if (root["alertmanagers"]) c.alertmanagers = StrList(root["alertmanagers"]);
    if (root["templates"]) c.template_files = StrList(root["templates"]);
    auto set = LoadTemplates(c.template_files, BaseDir());
    if (!set.ok()) Fail(root["templates"] ? root["templates"] : root, std::string(set.status().message()));
    c.templates = *set;
    // Every receiver a route names must exist, and every time interval.
    std::function<void(const Route&, const YAML::Node&)> check = [&](const Route& r, const YAML::Node& at) {
      bool found = false;
      for (const auto& rc : c.receivers) found = found || rc.name == r.receiver;
      if (!found) Fail(at, fmt::format("undefined receiver \"{}\" used in route", r.receiver));
      for (const auto& names : {r.mute_time_intervals, r.active_time_intervals}) {
        for (const auto& name : names) {
          bool ok = false;
          for (const auto& t : c.time_intervals) ok = ok || t.name == name;
          if (!ok) Fail(at, fmt::format("undefined time interval \"{}\" used in route", name));
        }
      }
      for (const auto& ch : r.routes) check(ch, at);
    };
    check(c.route, root["route"]);
    return c;
  }

 private:
  std::string BaseDir() const {
    std::string d = std::filesystem::path(std::string(file_)).parent_path().string();
    return d.empty() ? "." : d;
  }
  std::string_view file_;
};

bool InRanges(const std::vector<IntRange>& rs, int v) {
  if (rs.empty()) return true;
  for (const auto& r : rs) {
    if (v >= r.lo && v <= r.hi) return true;
  }
  return false;
}

}  // namespace

bool TimeInterval::Contains(int64_t unix_ms) const {
  time_t t = static_cast<time_t>(unix_ms / 1000);
  struct tm tm {};
  gmtime_r(&t, &tm);
  const int minute = tm.tm_hour * 60 + tm.tm_min;
  if (!times.empty()) {
    bool in = false;
    for (const auto& r : times) in = in || (minute >= r.start_minute && minute < r.end_minute);
    if (!in) return false;
  }
  if (!InRanges(weekdays, tm.tm_wday)) return false;
  if (!days_of_month.empty()) {
    static const int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm.tm_year + 1900;
    int dim = kDaysIn[tm.tm_mon] + (tm.tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
    bool in = false;
    for (auto r : days_of_month) {
      if (r.lo < 0) r.lo = dim + 1 + r.lo;
      if (r.hi < 0) r.hi = dim + 1 + r.hi;
      in = in || (tm.tm_mday >= r.lo && tm.tm_mday <= r.hi);
    }
    if (!in) return false;
  }
  if (!InRanges(months, tm.tm_mon + 1)) return false;
  return InRanges(years, tm.tm_year + 1900);
}

bool NamedTimeInterval::Contains(int64_t unix_ms) const {
  for (const auto& i : intervals) {
    if (i.Contains(unix_ms)) return true;
  }
  return false;
}

absl::StatusOr<model::Matcher> ParseMatcher(std::string_view s) {
  auto trim = [](std::string_view v) {
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
    while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
    return v;
  };
  std::string_view in = trim(s);
  if (!in.empty() && in.front() == '{' && in.back() == '}') in = trim(in.substr(1, in.size() - 2));
  size_t i = 0;
  while (i < in.size() && (std::isalnum(static_cast<unsigned char>(in[i])) || in[i] == '_')) ++i;
  std::string_view name = in.substr(0, i);
  std::string_view rest = trim(in.substr(i));
  model::MatchType type;
  size_t oplen = 1;
  if (rest.substr(0, 2) == "=~") {
    type = model::MatchType::kRegexMatch;
    oplen = 2;
  } else if (rest.substr(0, 2) == "!~") {
    type = model::MatchType::kRegexNoMatch;
    oplen = 2;
  } else if (rest.substr(0, 2) == "!=") {
    type = model::MatchType::kNotEqual;
    oplen = 2;
  } else if (rest.substr(0, 1) == "=") {
    type = model::MatchType::kEqual;
  } else {
    return absl::InvalidArgumentError(fmt::format("bad matcher format: {}", s));
  }
  if (name.empty()) return absl::InvalidArgumentError(fmt::format("bad matcher format: {}", s));
  std::string_view v = trim(rest.substr(oplen));
  std::string value;
  if (!v.empty() && v.front() == '"') {
    if (v.size() < 2 || v.back() != '"') return absl::InvalidArgumentError(fmt::format("bad matcher format: {}", s));
    for (size_t k = 1; k + 1 < v.size(); ++k) {
      if (v[k] == '\\' && k + 2 < v.size()) {
        ++k;
        value += v[k] == 'n' ? '\n' : v[k];
      } else {
        value += v[k];
      }
    }
  } else {
    value = std::string(v);
  }
  return model::Matcher::Make(type, name, value);
}

absl::StatusOr<Config> ParseConfig(std::string_view yaml, std::string_view filename) {
  try {
    YAML::Node root = YAML::Load(std::string(yaml));
    Parser p(filename);
    return p.Run(root);
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(e.msg);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", filename, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

absl::StatusOr<Config> ParseConfigSection(std::string_view file_yaml, std::string_view section,
                                          std::string_view filename) {
  try {
    YAML::Node root = YAML::Load(std::string(file_yaml));
    if (!root.IsMap() || !root[std::string(section)]) {
      return absl::NotFoundError(fmt::format("{}: no {} section", filename, section));
    }
    Parser p(filename);
    return p.Run(root[std::string(section)]);
  } catch (const ConfigError& e) {
    return absl::InvalidArgumentError(e.msg);
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        fmt::format("{}:{}:{}: {}", filename, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(fmt::format("cannot open alertmanager config {}", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseConfig(ss.str(), path);
}

absl::StatusOr<std::vector<std::string>> ParseAlertmanagersSection(std::string_view alerting_yaml) {
  std::vector<std::string> out;
  if (alerting_yaml.empty()) return out;
  try {
    YAML::Node n = YAML::Load(std::string(alerting_yaml));
    // The raw section may hold `alerting:` itself or its contents.
    if (n["alerting"]) n = n["alerting"];
    for (const auto& am : n["alertmanagers"]) {
      std::string scheme = am["scheme"] ? am["scheme"].as<std::string>() : "http";
      std::string prefix = am["path_prefix"] ? am["path_prefix"].as<std::string>() : "";
      while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
      for (const auto& sc : am["static_configs"]) {
        for (const auto& t : sc["targets"]) out.push_back(scheme + "://" + t.as<std::string>() + prefix);
      }
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(fmt::format("alerting.alertmanagers: {}", e.what()));
  }
  return out;
}

}  // namespace vigil::notify
