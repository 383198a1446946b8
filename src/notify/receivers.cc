// Payloads of each receiver type and the libcurl transport.
#include <curl/curl.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <random>

#include "fmt/format.h"
#include "notify/notifier.h"

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

std::string Summary(const Notification& n) {
  std::string s = fmt::format("[{}", n.status == "firing" ? "FIRING" : "RESOLVED");
  if (n.status == "firing") {
    int firing = 0;
    for (const auto& a : n.alerts) firing += a.Resolved(n.now_ms) ? 0 : 1;
    s += fmt::format(":{}", firing);
  }
  s += "] ";
  for (const auto& l : n.group_labels) s += l.value + " ";
  if (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

size_t Discard(char*, size_t size, size_t nmemb, void*) { return size * nmemb; }

}  // namespace

void AppendJsonString(std::string* out, std::string_view s) {
  *out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': *out += "\\\""; break;
      case '\\': *out += "\\\\"; break;
      case '\n': *out += "\\n"; break;
      case '\r': *out += "\\r"; break;
      case '\t': *out += "\\t"; break;
      default:
        if (c < 0x20) {
          *out += fmt::format("\\u{:04x}", c);
        } else {
          *out += static_cast<char>(c);
        }
    }
  }
  *out += '"';
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

std::string SlackPayload(const Notification& n, const SlackConfig& c) {
  std::string text = c.text;
  if (text.empty()) {
    for (const auto& a : n.alerts) {
      std::string_view summary = a.annotations.Get("summary");
      text += fmt::format("{} {}\n", a.labels.Get("alertname"),
                          summary.empty() ? a.annotations.Get("description") : summary);
    }
  }
  std::string o = "{";
  if (!c.channel.empty()) {
    o += "\"channel\":";
    AppendJsonString(&o, c.channel);
    o += ',';
  }
  o += "\"username\":";
  AppendJsonString(&o, c.username.empty() ? "Vigil" : c.username);
  o += ",\"attachments\":[{\"title\":";
  AppendJsonString(&o, c.title.empty() ? Summary(n) : c.title);
  o += ",\"title_link\":";
  AppendJsonString(&o, n.external_url);
  o += ",\"text\":";
  AppendJsonString(&o, text);
  o += ",\"fallback\":";
  AppendJsonString(&o, Summary(n));
  o += ",\"color\":";
  AppendJsonString(&o, n.status == "firing" ? "danger" : "good");
  o += ",\"mrkdwn_in\":[\"fallback\",\"pretext\",\"text\"]}]}";
  return o;
}

std::string PagerDutyPayload(const Notification& n, const PagerDutyConfig& c) {
  std::string o = "{\"routing_key\":";
  AppendJsonString(&o, c.routing_key);
  o += ",\"event_action\":";
  AppendJsonString(&o, n.status == "firing" ? "trigger" : "resolve");
  o += ",\"dedup_key\":";
  AppendJsonString(&o, n.group_key);
  if (n.status == "firing") {
    o += ",\"payload\":{\"summary\":";
    std::string summary = c.description.empty() ? Summary(n) : c.description;
    if (summary.size() > 1024) summary.resize(1024);
    AppendJsonString(&o, summary);
    o += ",\"source\":\"vigil\",\"severity\":";
    AppendJsonString(&o, c.severity);
    o += ",\"custom_details\":{\"firing\":";
    std::string details;
    for (const auto& a : n.alerts) {
      if (!a.Resolved(n.now_ms)) details += a.labels.ToString() + "\n";
    }
    AppendJsonString(&o, details);
    o += ",\"num_firing\":" + std::to_string(n.alerts.size()) + "}}";
  }
  o += ",\"client\":\"Vigil\",\"client_url\":";
  AppendJsonString(&o, n.external_url);
  o += '}';
  return o;
}

std::string EmailMessage(const Notification& n, const EmailConfig& c) {
  std::string subject = c.subject.empty() ? Summary(n) : c.subject;
  std::string m = fmt::format("From: {}\r\nTo: {}\r\nSubject: {}\r\nMIME-Version: 1.0\r\n"
                              "Content-Type: text/plain; charset=UTF-8\r\n\r\n",
                              c.from, c.to, subject);
  m += fmt::format("{}\r\n\r\n", Summary(n));
  for (const auto& a : n.alerts) {
    m += fmt::format("{} ({})\r\n", a.labels.ToString(), AlertStatusText(a, n.now_ms));
    for (const auto& an : a.annotations) m += fmt::format("  {}: {}\r\n", an.name, an.value);
    m += fmt::format("  starts at {}\r\n\r\n", Rfc3339(a.starts_at_ms));
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

absl::Status CurlHttpPost(const std::string& url, const std::string& body) {
  CURL* c = curl_easy_init();
  if (c == nullptr) return absl::InternalError("curl_easy_init failed");
  struct curl_slist* h = curl_slist_append(nullptr, "Content-Type: application/json");
  h = curl_slist_append(h, "User-Agent: Vigil");
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10'000L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3'000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Discard);
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
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

absl::Status CurlSmtpSend(const EmailConfig& cfg, const std::string& message) {
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
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, ("<" + cfg.from + ">").c_str());
  struct curl_slist* rcpt = nullptr;
  size_t start = 0;
  while (start <= cfg.to.size()) {
    size_t comma = cfg.to.find(',', start);
    std::string one = cfg.to.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    while (!one.empty() && one.front() == ' ') one.erase(0, 1);
    if (!one.empty()) rcpt = curl_slist_append(rcpt, ("<" + one + ">").c_str());
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
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
