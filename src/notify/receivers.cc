// Payloads of each receiver type and the libcurl transport.
#include <curl/curl.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <random>

#include "fmt/format.h"
#include "base/json_string.h"
#include "base/log.h"
#include "notify/notifier.h"
#include "notify/templates.h"

namespace vigil::notify {
namespace {

void AppendLabelsObject(std::string* out, const model::Labels& l) {
  *out += '{';
  bool first = true;
  for (const auto& p : l) {
    if (!first) *out += ',';
    first = false;
    AppendJsonString(out, p.name);
    *out += ':';
    AppendJsonString(out, p.value);
  }
  *out += '}';
}

std::string AlertStatusText(const Alert& a, int64_t now) { return a.Resolved(now) ? "resolved" : "firing"; }

size_t Discard(char*, size_t size, size_t nmemb, void*) { return size * nmemb; }

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  vigil::AppendJsonString(out, s, /*html_safe=*/false);
}

std::string Rfc3339(int64_t ms) {
  if (ms <= 0) return "0001-01-01T00:00:00Z";
  time_t t = static_cast<time_t>(ms / 1000);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
}

absl::StatusOr<int64_t> ParseRfc3339(std::string_view s) {
  struct tm tm {};
  int y, mo, d, h, mi;
  double sec;
  char rest[16] = {0};
  std::string str(s);
  int n = std::sscanf(str.c_str(), "%d-%d-%dT%d:%d:%lf%15s", &y, &mo, &d, &h, &mi, &sec, rest);
  if (n < 6) return absl::InvalidArgumentError(fmt::format("invalid time \"{}\"", s));
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = 0;
  int64_t base = static_cast<int64_t>(timegm(&tm)) * 1000 + static_cast<int64_t>(std::llround(sec * 1000));
  std::string zone = rest;
  if (zone.empty() || zone == "Z" || zone == "z") return base;
  int zh = 0, zm = 0;
  if ((zone[0] == '+' || zone[0] == '-') && std::sscanf(zone.c_str() + 1, "%d:%d", &zh, &zm) == 2) {
    int64_t off = (zh * 60 + zm) * 60'000;
    return zone[0] == '+' ? base - off : base + off;
  }
  return absl::InvalidArgumentError(fmt::format("invalid time zone in \"{}\"", s));
}

std::string WebhookPayload(const Notification& n) {
  std::string o = "{\"receiver\":";
  AppendJsonString(&o, n.receiver);
  o += ",\"status\":";
  AppendJsonString(&o, n.status);
  o += ",\"alerts\":[";
  for (size_t i = 0; i < n.alerts.size(); ++i) {
    const Alert& a = n.alerts[i];
    if (i > 0) o += ',';
    o += "{\"status\":";
    AppendJsonString(&o, AlertStatusText(a, n.now_ms));
    o += ",\"labels\":";
    AppendLabelsObject(&o, a.labels);
    o += ",\"annotations\":";
    AppendLabelsObject(&o, a.annotations);
    o += ",\"startsAt\":";
    AppendJsonString(&o, Rfc3339(a.starts_at_ms));
    o += ",\"endsAt\":";
    AppendJsonString(&o, a.Resolved(n.now_ms) ? Rfc3339(a.ends_at_ms) : Rfc3339(0));
    o += ",\"generatorURL\":";
    AppendJsonString(&o, a.generator_url);
    o += ",\"fingerprint\":";
    AppendJsonString(&o, fmt::format("{:016x}", a.Fingerprint()));
    o += '}';
  }
  o += "],\"groupLabels\":";
  AppendLabelsObject(&o, n.group_labels);
  o += ",\"commonLabels\":";
  AppendLabelsObject(&o, n.common_labels);
  o += ",\"commonAnnotations\":";
  AppendLabelsObject(&o, n.common_annotations);
  o += ",\"externalURL\":";
  AppendJsonString(&o, n.external_url);
  o += ",\"version\":\"4\",\"groupKey\":";
  AppendJsonString(&o, n.group_key);
  o += fmt::format(",\"truncatedAlerts\":{}}}", n.truncated_alerts);
  return o;
}

std::shared_ptr<const rules::TemplateSet> DefaultTemplateSet() {
  static const std::shared_ptr<const rules::TemplateSet> set = [] {
    auto s = LoadTemplates({}, "");
    if (!s.ok()) {
      VLOG_ERROR("notify", "BUG: default templates: {}", std::string(s.status().message()));
      return std::make_shared<const rules::TemplateSet>();
    }
    return *s;
  }();
  return set;
}

namespace {

// Expands the template fields of one notification.
class Expander {
 public:
  Expander(const Notification& n, std::string_view kind)
      : set_(n.templates ? n.templates : DefaultTemplateSet()), data_(TemplateData(n)), kind_(kind) {}
  absl::StatusOr<std::string> operator()(std::string_view field, std::string_view text, bool html = false) const {
    return ExpandField(*set_, fmt::format("{} {}", kind_, field), text, data_, html);
  }

 private:
  std::shared_ptr<const rules::TemplateSet> set_;
  rules::tmpl::Value data_;
  std::string_view kind_;
};

#define ASSIGN_OR_RETURN_NOTIFY(lhs, expr) \
  auto lhs##_or = (expr);                   \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  const std::string& lhs = *lhs##_or

void AppendField(std::string* o, std::string_view key, const std::string& value, bool* first) {
  if (value.empty()) return;  // omitted when empty, as Slack's API (and Alertmanager) do
  if (!*first) *o += ',';
  *first = false;
  AppendJsonString(o, key);
  *o += ':';
  AppendJsonString(o, value);
}

// Truncates to at most `n` bytes without splitting a UTF-8 sequence, marking the cut.
std::string Truncate(std::string s, size_t n) {
  if (s.size() <= n) return s;
  size_t cut = n >= 3 ? n - 3 : 0;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
  return s + "...";
}

// RFC 2047 "Q" encoding for a header with non-ASCII bytes.
std::string EncodeHeader(const std::string& v) {
  bool ascii = true;
  for (unsigned char c : v) ascii = ascii && c < 0x80 && c != '\r' && c != '\n';
  if (ascii) return v;
  std::string out = "=?utf-8?q?";
  for (unsigned char c : v) {
    if (c == ' ') {
      out += '_';
    } else if (std::isalnum(c) || std::strchr("!*+-/", c) != nullptr) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("={:02X}", c);
    }
  }
  return out + "?=";
}

// Quoted-printable body (RFC 2045): lines under 76 characters, CRLF line ends.
std::string QuotedPrintable(std::string_view in) {
  std::string out;
  size_t line = 0;
  auto put = [&](const std::string& piece) {
    if (line + piece.size() > 75) {
      out += "=\r\n";
      line = 0;
    }
    out += piece;
    line += piece.size();
  };
  for (size_t i = 0; i < in.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(in[i]);
    if (c == '\n') {
      // Trailing white space before a line break must be encoded.
      if (!out.empty() && (out.back() == ' ' || out.back() == '\t')) {
        char last = out.back();
        out.pop_back();
        out += fmt::format("={:02X}", static_cast<unsigned char>(last));
      }
      out += "\r\n";
      line = 0;
    } else if (c == '\r') {
      continue;
    } else if ((c >= 33 && c <= 126 && c != '=') || c == ' ' || c == '\t') {
      put(std::string(1, static_cast<char>(c)));
    } else {
      put(fmt::format("={:02X}", c));
    }
  }
  return out;
}

std::vector<std::string> SplitAddresses(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t comma = s.find(',', start);
    std::string one = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!one.empty() && std::isspace(static_cast<unsigned char>(one.front()))) one.erase(0, 1);
    while (!one.empty() && std::isspace(static_cast<unsigned char>(one.back()))) one.pop_back();
    // "Name <addr>" -> addr
    size_t lt = one.find('<'), gt = one.rfind('>');
    if (lt != std::string::npos && gt != std::string::npos && gt > lt) one = one.substr(lt + 1, gt - lt - 1);
    if (!one.empty()) out.push_back(one);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> SlackPayload(const Notification& n, const SlackConfig& c) {
  Expander x(n, "slack_configs");
  ASSIGN_OR_RETURN_NOTIFY(channel, x("channel", c.channel));
  ASSIGN_OR_RETURN_NOTIFY(username, x("username", c.username));
  ASSIGN_OR_RETURN_NOTIFY(icon_emoji, x("icon_emoji", c.icon_emoji));
  ASSIGN_OR_RETURN_NOTIFY(icon_url, x("icon_url", c.icon_url));
  ASSIGN_OR_RETURN_NOTIFY(title, x("title", c.title));
  ASSIGN_OR_RETURN_NOTIFY(title_link, x("title_link", c.title_link));
  ASSIGN_OR_RETURN_NOTIFY(pretext, x("pretext", c.pretext));
  ASSIGN_OR_RETURN_NOTIFY(text, x("text", c.text));
  ASSIGN_OR_RETURN_NOTIFY(fallback, x("fallback", c.fallback));
  ASSIGN_OR_RETURN_NOTIFY(footer, x("footer", c.footer));
  ASSIGN_OR_RETURN_NOTIFY(color, x("color", c.color));
  std::string o = "{";
  bool first = true;
  AppendField(&o, "channel", channel, &first);
  AppendField(&o, "username", username, &first);
  AppendField(&o, "icon_emoji", icon_emoji, &first);
  AppendField(&o, "icon_url", icon_url, &first);
  o += first ? "" : ",";
  o += "\"attachments\":[{";
  bool afirst = true;
  AppendField(&o, "title", title, &afirst);
  AppendField(&o, "title_link", title_link, &afirst);
  AppendField(&o, "pretext", pretext, &afirst);
  AppendField(&o, "text", text, &afirst);
  AppendField(&o, "fallback", fallback, &afirst);
  AppendField(&o, "footer", footer, &afirst);
  AppendField(&o, "color", color, &afirst);
  o += afirst ? "" : ",";
  o += "\"mrkdwn_in\":[\"fallback\",\"pretext\",\"text\"]}]}";
  return o;
}

absl::StatusOr<std::string> PagerDutyPayload(const Notification& n, const PagerDutyConfig& c) {
  Expander x(n, "pagerduty_configs");
  ASSIGN_OR_RETURN_NOTIFY(routing_key, x("routing_key", c.routing_key));
  ASSIGN_OR_RETURN_NOTIFY(client, x("client", c.client));
  ASSIGN_OR_RETURN_NOTIFY(client_url, x("client_url", c.client_url));
  std::string o = "{\"routing_key\":";
  AppendJsonString(&o, routing_key);
  o += ",\"event_action\":";
  AppendJsonString(&o, n.status == "firing" ? "trigger" : "resolve");
  o += ",\"dedup_key\":";
  AppendJsonString(&o, n.group_key);
  if (n.status == "firing") {
    ASSIGN_OR_RETURN_NOTIFY(description, x("description", c.description));
    ASSIGN_OR_RETURN_NOTIFY(source, x("source", c.source));
    ASSIGN_OR_RETURN_NOTIFY(severity, x("severity", c.severity));
    ASSIGN_OR_RETURN_NOTIFY(component, x("component", c.component));
    ASSIGN_OR_RETURN_NOTIFY(group, x("group", c.group));
    ASSIGN_OR_RETURN_NOTIFY(klass, x("class", c.class_));
    // PagerDuty refuses summaries over 1024 characters.
    o += ",\"payload\":{\"summary\":";
    AppendJsonString(&o, Truncate(description, 1024));
    o += ",\"source\":";
    AppendJsonString(&o, source.empty() ? client : source);
    o += ",\"severity\":";
    AppendJsonString(&o, severity);
    bool first = false;
    AppendField(&o, "component", component, &first);
    AppendField(&o, "group", group, &first);
    AppendField(&o, "class", klass, &first);
    o += ",\"custom_details\":{";
    for (size_t i = 0; i < c.details.size(); ++i) {
      ASSIGN_OR_RETURN_NOTIFY(v, x("details " + c.details[i].first, c.details[i].second));
      if (i > 0) o += ',';
      AppendJsonString(&o, c.details[i].first);
      o += ':';
      AppendJsonString(&o, v);
    }
    o += "}}";
  }
  bool first = false;
  AppendField(&o, "client", client, &first);
  AppendField(&o, "client_url", client_url, &first);
  o += '}';
  return o;
}

absl::StatusOr<SmtpEnvelope> EmailEnvelope(const Notification& n, const EmailConfig& c) {
  Expander x(n, "email_configs");
  ASSIGN_OR_RETURN_NOTIFY(from, x("from", c.from));
  ASSIGN_OR_RETURN_NOTIFY(to, x("to", c.to));
  SmtpEnvelope env;
  auto froms = SplitAddresses(from);
  if (froms.size() != 1) return absl::InvalidArgumentError(fmt::format("email_configs from: need one address, got \"{}\"", from));
  env.from = froms[0];
  env.to = SplitAddresses(to);
  if (env.to.empty()) return absl::InvalidArgumentError(fmt::format("email_configs to: no address in \"{}\"", to));
  return env;
}

absl::StatusOr<std::string> EmailMessage(const Notification& n, const EmailConfig& c) {
  Expander x(n, "email_configs");
  ASSIGN_OR_RETURN_NOTIFY(from, x("from", c.from));
  ASSIGN_OR_RETURN_NOTIFY(to, x("to", c.to));
  ASSIGN_OR_RETURN_NOTIFY(subject, x("headers Subject", c.subject));
  ASSIGN_OR_RETURN_NOTIFY(html, x("html", c.html, /*html=*/true));
  ASSIGN_OR_RETURN_NOTIFY(text, x("text", c.text));
  std::mt19937_64 rng(std::random_device{}());
  char date[64];
  const time_t t = static_cast<time_t>(n.now_ms / 1000);
  struct tm tm {};
  gmtime_r(&t, &tm);
  std::strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
  std::string m = fmt::format("Date: {}\r\nFrom: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-Id: <{:016x}.{}@vigil>\r\n"
                              "MIME-Version: 1.0\r\n",
                              date, EncodeHeader(from), EncodeHeader(to), EncodeHeader(subject), rng(), n.now_ms);
  for (const auto& [k, v] : c.headers) {
    ASSIGN_OR_RETURN_NOTIFY(hv, x("headers " + k, v));
    m += fmt::format("{}: {}\r\n", k, EncodeHeader(hv));
  }
  auto part = [](const char* type, const std::string& body) {
    return fmt::format("Content-Type: {}; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}\r\n",
                       type, QuotedPrintable(body));
  };
  if (!html.empty() && !text.empty()) {
    const std::string boundary = fmt::format("vigil-{:016x}", rng());
    m += fmt::format("Content-Type: multipart/alternative; boundary=\"{}\"\r\n\r\n", boundary);
    m += fmt::format("--{}\r\n{}", boundary, part("text/plain", text));
    m += fmt::format("--{}\r\n{}", boundary, part("text/html", html));
    m += fmt::format("--{}--\r\n", boundary);
  } else if (!html.empty()) {
    m += part("text/html", html);
  } else {
    m += part("text/plain", text);
  }
  return m;
}

std::string AlertsV2Json(const std::vector<Alert>& alerts) {
  std::string o = "[";
  for (size_t i = 0; i < alerts.size(); ++i) {
    const Alert& a = alerts[i];
    if (i > 0) o += ',';
    o += "{\"labels\":";
    AppendLabelsObject(&o, a.labels);
    o += ",\"annotations\":";
    AppendLabelsObject(&o, a.annotations);
    o += ",\"startsAt\":";
    AppendJsonString(&o, Rfc3339(a.starts_at_ms));
    if (a.ends_at_ms > 0) {
      o += ",\"endsAt\":";
      AppendJsonString(&o, Rfc3339(a.ends_at_ms));
    }
    o += ",\"generatorURL\":";
    AppendJsonString(&o, a.generator_url);
    o += '}';
  }
  return o + "]";
}

namespace {

// One libcurl handle per sending thread, kept for the thread's life: its connection cache
// lets consecutive notifications to a receiver reuse one keep-alive connection instead of
// connecting (and, for TLS, handshaking) every time.
class ThreadCurl {
 public:
  ThreadCurl() : c_(curl_easy_init()) {
    headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
    headers_ = curl_slist_append(headers_, "User-Agent: Vigil");
    // No "Expect: 100-continue" for large bodies: a receiver that ignores it would hold
    // every big notification back for a second.
    headers_ = curl_slist_append(headers_, "Expect:");
  }
  ~ThreadCurl() {
    curl_slist_free_all(headers_);
    if (c_ != nullptr) curl_easy_cleanup(c_);
  }
  ThreadCurl(const ThreadCurl&) = delete;
  ThreadCurl& operator=(const ThreadCurl&) = delete;
  // The handle reset to its defaults (its connections stay cached); null if curl failed.
  CURL* Fresh() {
    if (c_ != nullptr) curl_easy_reset(c_);
    return c_;
  }
  curl_slist* headers() const { return headers_; }

 private:
  CURL* c_;
  curl_slist* headers_ = nullptr;
};

}  // namespace

absl::Status CurlHttpPost(const std::string& url, const std::string& body) {
  thread_local ThreadCurl curl;
  CURL* c = curl.Fresh();
  if (c == nullptr) return absl::InternalError("curl_easy_init failed");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, curl.headers());
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10'000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3'000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  if (rc != CURLE_OK) return absl::UnavailableError(fmt::format("POST {}: {}", url, curl_easy_strerror(rc)));
  if (code / 100 != 2) return absl::UnavailableError(fmt::format("POST {}: unexpected status code {}", url, code));
  return absl::OkStatus();
}

namespace {
struct Reader {
  const std::string* data;
  size_t off = 0;
};
size_t ReadBody(char* buf, size_t size, size_t nmemb, void* p) {
  auto* r = static_cast<Reader*>(p);
  size_t n = std::min(size * nmemb, r->data->size() - r->off);
  std::memcpy(buf, r->data->data() + r->off, n);
  r->off += n;
  return n;
}
}  // namespace

absl::Status CurlSmtpSend(const EmailConfig& cfg, const SmtpEnvelope& env, const std::string& message) {
  CURL* c = curl_easy_init();
  if (c == nullptr) return absl::InternalError("curl_easy_init failed");
  const std::string url = "smtp://" + cfg.smarthost;
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  // STARTTLS is required unless require_tls is false, as in Alertmanager.
  curl_easy_setopt(c, CURLOPT_USE_SSL, cfg.require_tls ? static_cast<long>(CURLUSESSL_ALL)
                                                       : static_cast<long>(CURLUSESSL_TRY));
  if (!cfg.auth_username.empty()) {
    curl_easy_setopt(c, CURLOPT_USERNAME, cfg.auth_username.c_str());
    curl_easy_setopt(c, CURLOPT_PASSWORD, cfg.auth_password.c_str());
  }
  const std::string mail_from = "<" + env.from + ">";
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
  struct curl_slist* rcpt = nullptr;
  for (const auto& one : env.to) rcpt = curl_slist_append(rcpt, ("<" + one + ">").c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  Reader r{&message};
  curl_easy_setopt(c, CURLOPT_READFUNCTION, ReadBody);
  curl_easy_setopt(c, CURLOPT_READDATA, &r);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 15'000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(c);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK) return absl::UnavailableError(fmt::format("send email via {}: {}", cfg.smarthost, curl_easy_strerror(rc)));
  return absl::OkStatus();
}

}  // namespace vigil::notify
