#include "http/targets_api.h"

#include <time.h>

#include "config/units.h"
#include "fmt/format.h"
#include "http/json.h"
#include "promql/parser.h"
#include "scrape/manager.h"

namespace vigil::http {
namespace {

// Go's time.Time in RFC 3339 with the fraction Go prints (trailing zeros trimmed);
// the zero time for "never", as Prometheus shows unscraped targets.
std::string Rfc3339(int64_t ms) {
  if (ms == 0) return "0001-01-01T00:00:00Z";
  time_t secs = ms / 1000;
  struct tm tm;
  gmtime_r(&secs, &tm);
  std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", tm.tm_year + 1900,
                                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  int frac = static_cast<int>(ms % 1000);
  if (frac != 0) {
    std::string f = fmt::format("{:03}", frac);
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "Z";
}

void WriteLabels(JsonWriter* w, const model::Labels& l) {
  w->BeginObject();
  for (const model::Label& p : l) w->Key(p.name).String(p.value);
  w->EndObject();
}

}  // namespace

void TargetsApi::Attach(scrape::Manager* manager, ReloadFn reload) {
  reload_ = std::move(reload);
  manager_.store(manager);
}

void TargetsApi::Detach() { manager_.store(nullptr); }

void TargetsApi::Register(Router* r, bool with_reload) {
  r->Handle("GET", "/api/v1/targets",
            [this](const Request& q, Response* p) { Targets(q, p); });
  r->Handle("GET", "/api/v1/targets/metadata",
            [this](const Request& q, Response* p) { Metadata(q, p); });
  if (with_reload) {
    r->Handle("POST,PUT", "/-/reload", [this](const Request& q, Response* p) { Reload(q, p); });
  }
}

void TargetsApi::Targets(const Request& req, Response* resp) const {
  std::string state(req.Param("state"));
  for (char& c : state) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool active = state.empty() || state == "active" || state == "any";
  const bool dropped = state.empty() || state == "dropped" || state == "any";
  const std::string pool(req.Param("scrapePool"));
  scrape::Manager* m = manager_.load();
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  w.Key("activeTargets").BeginArray();
  if (active && m != nullptr) {
    for (const scrape::TargetStatus& t : m->ActiveTargets()) {
      if (!pool.empty() && t.scrape_pool != pool) continue;
      w.BeginObject();
      w.Key("discoveredLabels");
      WriteLabels(&w, t.discovered_labels);
      w.Key("labels");
      WriteLabels(&w, t.labels);
      w.Key("scrapePool").String(t.scrape_pool);
      w.Key("scrapeUrl").String(t.scrape_url);
      w.Key("globalUrl").String(t.scrape_url);
      w.Key("lastError").String(t.last_error);
      w.Key("lastScrape").String(Rfc3339(t.last_scrape_ms));
      w.Key("lastScrapeDuration").Number(t.last_scrape_duration_s);
      w.Key("health").String(t.health);
      w.Key("scrapeInterval").String(config::FormatDuration(t.interval_ms));
      w.Key("scrapeTimeout").String(config::FormatDuration(t.timeout_ms));
      w.EndObject();
    }
  }
  w.EndArray();
  w.Key("droppedTargets").BeginArray();
  if (dropped && m != nullptr) {
    for (const scrape::DroppedTargetStatus& t : m->DroppedTargets()) {
      if (!pool.empty() && t.scrape_pool != pool) continue;
      w.BeginObject().Key("discoveredLabels");
      WriteLabels(&w, t.discovered_labels);
      w.EndObject();
    }
  }
  w.EndArray();
  w.EndObject().EndObject();
  resp->Json(200, std::move(out));
}

void TargetsApi::Metadata(const Request& req, Response* resp) const {
  model::Matchers matchers;
  if (std::string_view sel = req.Param("match_target"); !sel.empty()) {
    auto got = promql::ParseMetricSelector(sel);
    if (!got.ok()) {
      resp->Json(400, ErrorJson("bad_data", std::string(got.status().message())));
      return;
    }
    matchers = std::move(*got);
  }
  const std::string metric(req.Param("metric"));
  int64_t limit = -1;
  if (std::string_view l = req.Param("limit"); !l.empty()) {
    try {
      limit = std::stoll(std::string(l));
    } catch (...) {
      resp->Json(400, ErrorJson("bad_data", "limit must be a number"));
      return;
    }
  }
  scrape::Manager* m = manager_.load();
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginArray();
  int64_t n = 0;
  if (m != nullptr) {
    for (const scrape::TargetMetadata& t : m->Metadata()) {
      bool match = true;
      for (const model::Matcher& mt : matchers) match = match && mt.Matches(t.target.Get(mt.name()));
      if (!match) continue;
      for (const auto& [name, md] : t.metrics) {
        if (!metric.empty() && name != metric) continue;
        if (limit >= 0 && n >= limit) break;
        ++n;
        w.BeginObject().Key("target");
        WriteLabels(&w, t.target);
        if (metric.empty()) w.Key("metric").String(name);
        w.Key("type").String(md.type.empty() ? "unknown" : md.type);
        w.Key("help").String(md.help);
        w.Key("unit").String(md.unit);
        w.EndObject();
      }
    }
  }
  w.EndArray().EndObject();
  resp->Json(200, std::move(out));
}

void TargetsApi::Reload(const Request&, Response* resp) const {
  if (!reload_ && extra_reloads_.empty()) {
    resp->Text(500, "failed to reload config: reloading is not available\n");
    return;
  }
  // Every part is reloaded even when an earlier one fails, as Prometheus's reloaders are.
  std::string errors;
  if (reload_) {
    if (absl::Status s = reload_(); !s.ok()) errors = std::string(s.message());
  }
  for (const ReloadFn& fn : extra_reloads_) {
    if (absl::Status s = fn(); !s.ok()) errors += (errors.empty() ? "" : "; ") + std::string(s.message());
  }
  if (!errors.empty()) {
    resp->Text(500, fmt::format("failed to reload config: {}\n", errors));
    return;
  }
  resp->Text(200, "");
}

}  // namespace vigil::http
