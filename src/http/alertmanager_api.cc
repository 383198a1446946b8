#include "http/alertmanager_api.h"

#include <chrono>

#include "fmt/format.h"
#include "http/json.h"
#include "simdjson.h"

namespace vigil::http {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void BadRequest(Response* resp, std::string_view msg) {
  std::string out;
  AppendJsonString(&out, msg);
  resp->Json(400, out);
}

void WriteLabels(JsonWriter& w, const model::Labels& l) {
  w.BeginObject();
  for (const auto& p : l) w.Key(p.name).String(p.value);
  w.EndObject();
}

absl::StatusOr<model::Labels> ReadLabels(simdjson::dom::element e) {
  std::vector<model::Label> out;
  simdjson::dom::object o;
  if (e.get_object().get(o) != simdjson::SUCCESS) return absl::InvalidArgumentError("labels must be an object");
  for (auto [k, v] : o) {
    std::string_view sv;
    if (v.get_string().get(sv) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(fmt::format("label {} must be a string", std::string_view(k)));
    }
    if (!sv.empty()) out.push_back({std::string(k), std::string(sv)});
  }
  return model::Labels(std::move(out));
}

// filter[] matchers; false after answering 400.
bool Filters(const Request& req, Response* resp, model::Matchers* out) {
  for (const auto& f : req.ParamValues("filter")) {
    auto m = notify::ParseMatcher(f);
    if (!m.ok()) {
      BadRequest(resp, std::string(m.status().message()));
      return false;
    }
    out->push_back(*m);
  }
  return true;
}

bool MatchAll(const model::Matchers& ms, const model::Labels& l) {
  for (const auto& m : ms) {
    if (!m.Matches(l.Get(m.name()))) return false;
  }
  return true;
}

void WriteSilence(JsonWriter& w, const notify::Silence& s, int64_t now) {
  w.BeginObject();
  w.Key("id").String(s.id);
  w.Key("status").BeginObject().Key("state").String(s.State(now)).EndObject();
  w.Key("updatedAt").String(notify::Rfc3339(s.updated_at_ms));
  w.Key("comment").String(s.comment);
  w.Key("createdBy").String(s.created_by);
  w.Key("endsAt").String(notify::Rfc3339(s.ends_at_ms));
  w.Key("matchers").BeginArray();
  for (const auto& m : s.matchers) {
    w.BeginObject().Key("isEqual").Bool(m.is_equal).Key("isRegex").Bool(m.is_regex);
    w.Key("name").String(m.name).Key("value").String(m.value).EndObject();
  }
  w.EndArray();
  w.Key("startsAt").String(notify::Rfc3339(s.starts_at_ms));
  w.EndObject();
}

}  // namespace

void AlertmanagerApi::Register(Router* r) {
  r->Handle("GET", "/api/v2/alerts", [this](const Request& q, Response* p) { GetAlerts(q, p); });
  r->Handle("POST", "/api/v2/alerts", [this](const Request& q, Response* p) { PostAlerts(q, p); });
  r->Handle("GET", "/api/v2/silences", [this](const Request& q, Response* p) { GetSilences(q, p); });
  r->Handle("POST", "/api/v2/silences", [this](const Request& q, Response* p) { PostSilence(q, p); });
  r->Handle("GET", "/api/v2/silence/:id", [this](const Request& q, Response* p) { GetSilence(q, p); });
  r->Handle("DELETE", "/api/v2/silence/:id", [this](const Request& q, Response* p) { DeleteSilence(q, p); });
  r->Handle("GET", "/api/v2/status", [this](const Request& q, Response* p) { Status(q, p); });
}

void AlertmanagerApi::GetAlerts(const Request& req, Response* resp) const {
  model::Matchers filter;
  if (!Filters(req, resp, &filter)) return;
  const bool want_silenced = req.Param("silenced") != "false";
  const bool want_inhibited = req.Param("inhibited") != "false";
  const bool want_active = req.Param("active") != "false";
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  for (const auto& s : notifier_->Alerts()) {
    if (!MatchAll(filter, s.alert.labels)) continue;
    if (!want_silenced && !s.silenced_by.empty()) continue;
    if (!want_inhibited && !s.inhibited_by.empty()) continue;
    if (!want_active && s.state == "active") continue;
    w.BeginObject();
    w.Key("annotations");
    WriteLabels(w, s.alert.annotations);
    w.Key("endsAt").String(notify::Rfc3339(s.alert.ends_at_ms));
    w.Key("fingerprint").String(fmt::format("{:016x}", s.alert.Fingerprint()));
    w.Key("receivers").BeginArray();
    for (const auto& r : s.receivers) w.BeginObject().Key("name").String(r).EndObject();
    w.EndArray();
    w.Key("startsAt").String(notify::Rfc3339(s.alert.starts_at_ms));
    w.Key("status").BeginObject();
    w.Key("inhibitedBy").BeginArray();
    for (const auto& x : s.inhibited_by) w.String(x);
    w.EndArray().Key("mutedBy").BeginArray();
    for (const auto& x : s.muted_by) w.String(x);
    w.EndArray().Key("silencedBy").BeginArray();
    for (const auto& x : s.silenced_by) w.String(x);
    w.EndArray().Key("state").String(s.state).EndObject();
    w.Key("updatedAt").String(notify::Rfc3339(s.alert.updated_at_ms));
    w.Key("generatorURL").String(s.alert.generator_url);
    w.Key("labels");
    WriteLabels(w, s.alert.labels);
    w.EndObject();
  }
  w.EndArray();
  resp->Json(200, out);
}

void AlertmanagerApi::PostAlerts(const Request& req, Response* resp) const {
  simdjson::dom::parser p;
  simdjson::dom::element root;
  simdjson::dom::array arr;
  if (p.parse(req.body).get(root) != simdjson::SUCCESS || root.get_array().get(arr) != simdjson::SUCCESS) {
    BadRequest(resp, "body must be a JSON list of alerts");
    return;
  }
  std::vector<notify::Alert> alerts;
  const int64_t now = NowMs();
  for (simdjson::dom::element e : arr) {
    notify::Alert a;
    auto l = ReadLabels(e["labels"]);
    if (!l.ok() || l->empty()) {
      BadRequest(resp, l.ok() ? "at least one label pair required" : std::string(l.status().message()));
      return;
    }
    if (absl::Status v = l->Validate(); !v.ok()) {
      BadRequest(resp, std::string(v.message()));
      return;
    }
    a.labels = *l;
    simdjson::dom::element an;
    if (e["annotations"].get(an) == simdjson::SUCCESS) {
      auto x = ReadLabels(an);
      if (!x.ok()) {
        BadRequest(resp, std::string(x.status().message()));
        return;
      }
      a.annotations = *x;
    }
    std::string_view sv;
    for (auto [field, dst] : {std::pair<const char*, int64_t*>{"startsAt", &a.starts_at_ms},
                              std::pair<const char*, int64_t*>{"endsAt", &a.ends_at_ms}}) {
      if (e[field].get_string().get(sv) == simdjson::SUCCESS && !sv.empty()) {
        auto t = notify::ParseRfc3339(sv);
        if (!t.ok()) {
          BadRequest(resp, std::string(t.status().message()));
          return;
        }
        *dst = *t <= 0 ? 0 : *t;
      }
    }
    if (a.starts_at_ms == 0) a.starts_at_ms = now;
    if (a.ends_at_ms != 0 && a.ends_at_ms < a.starts_at_ms) {
      BadRequest(resp, "start time must be before end time");
      return;
    }
    if (e["generatorURL"].get_string().get(sv) == simdjson::SUCCESS) a.generator_url = std::string(sv);
    alerts.push_back(std::move(a));
  }
  notifier_->Receive(alerts);
  if (forward_) forward_(alerts);
  resp->Json(200, "");
}

void AlertmanagerApi::GetSilences(const Request& req, Response* resp) const {
  model::Matchers filter;
  if (!Filters(req, resp, &filter)) return;
  const int64_t now = NowMs();
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  for (const auto& s : notifier_->silences().List()) {
    // A filter selects silences with a matcher equal to it, as Alertmanager does.
    bool ok = true;
    for (const auto& f : filter) {
      bool found = false;
      for (const auto& m : s.matchers) {
        found = found || (m.name == f.name() && m.value == f.value());
      }
      ok = ok && found;
    }
    if (ok) WriteSilence(w, s, now);
  }
  w.EndArray();
  resp->Json(200, out);
}

void AlertmanagerApi::PostSilence(const Request& req, Response* resp) const {
  simdjson::dom::parser p;
  simdjson::dom::element root;
  if (p.parse(req.body).get(root) != simdjson::SUCCESS || !root.is_object()) {
    BadRequest(resp, "body must be a JSON silence");
    return;
  }
  notify::Silence s;
  std::string_view sv;
  if (root["id"].get_string().get(sv) == simdjson::SUCCESS) s.id = std::string(sv);
  if (root["comment"].get_string().get(sv) == simdjson::SUCCESS) s.comment = std::string(sv);
  if (root["createdBy"].get_string().get(sv) == simdjson::SUCCESS) s.created_by = std::string(sv);
  for (auto [field, dst] : {std::pair<const char*, int64_t*>{"startsAt", &s.starts_at_ms},
                            std::pair<const char*, int64_t*>{"endsAt", &s.ends_at_ms}}) {
    if (root[field].get_string().get(sv) != simdjson::SUCCESS) {
      BadRequest(resp, fmt::format("{} in body is required", field));
      return;
    }
    auto t = notify::ParseRfc3339(sv);
    if (!t.ok()) {
      BadRequest(resp, std::string(t.status().message()));
      return;
    }
    *dst = *t;
  }
  simdjson::dom::array ms;
  if (root["matchers"].get_array().get(ms) != simdjson::SUCCESS) {
    BadRequest(resp, "matchers in body is required");
    return;
  }
  for (simdjson::dom::element m : ms) {
    notify::SilenceMatcher sm;
    bool b;
    if (m["name"].get_string().get(sv) == simdjson::SUCCESS) sm.name = std::string(sv);
    if (m["value"].get_string().get(sv) == simdjson::SUCCESS) sm.value = std::string(sv);
    if (m["isRegex"].get_bool().get(b) == simdjson::SUCCESS) sm.is_regex = b;
    if (m["isEqual"].get_bool().get(b) == simdjson::SUCCESS) sm.is_equal = b;
    s.matchers.push_back(sm);
  }
  auto id = notifier_->silences().Set(s, NowMs());
  if (!id.ok()) {
    if (id.status().code() == absl::StatusCode::kNotFound) {
      resp->Json(404, "");
      return;
    }
    BadRequest(resp, std::string(id.status().message()));
    return;
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("silenceID").String(*id).EndObject();
  resp->Json(200, out);
}

void AlertmanagerApi::GetSilence(const Request& req, Response* resp) const {
  auto s = notifier_->silences().Get(std::string(req.PathParam("id")));
  if (!s.ok()) {
    resp->Json(404, "");
    return;
  }
  std::string out;
  JsonWriter w(&out);
  WriteSilence(w, *s, NowMs());
  resp->Json(200, out);
}

void AlertmanagerApi::DeleteSilence(const Request& req, Response* resp) const {
  absl::Status st = notifier_->silences().Expire(std::string(req.PathParam("id")), NowMs());
  if (st.code() == absl::StatusCode::kNotFound) {
    resp->Json(404, "");
    return;
  }
  if (!st.ok()) {
    BadRequest(resp, std::string(st.message()));
    return;
  }
  resp->Json(200, "");
}

void AlertmanagerApi::Status(const Request&, Response* resp) const {
  resp->Json(200,
             "{\"cluster\":{\"status\":\"disabled\",\"peers\":[]},\"versionInfo\":{\"version\":\"vigil\"},"
             "\"config\":{\"original\":\"\"},\"uptime\":\"0001-01-01T00:00:00Z\"}");
}

}  // namespace vigil::http
