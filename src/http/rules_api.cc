#include "http/rules_api.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "config/units.h"
#include "fmt/format.h"
#include "http/json.h"
#include "simdjson.h"

namespace vigil::http {
namespace {

void WriteLabels(JsonWriter& w, const model::Labels& l) {
  w.BeginObject();
  for (const auto& p : l) w.Key(p.name).String(p.value);
  w.EndObject();
}

void WriteLabelPairs(JsonWriter& w, const std::vector<std::pair<std::string, std::string>>& l) {
  // Prometheus prints the rule's labels as a sorted map.
  std::vector<std::pair<std::string, std::string>> s = l;
  std::sort(s.begin(), s.end());
  w.BeginObject();
  for (const auto& [k, v] : s) w.Key(k).String(v);
  w.EndObject();
}

void WriteAlert(JsonWriter& w, const rules::ActiveAlert& a) {
  w.BeginObject();
  w.Key("labels");
  WriteLabels(w, a.labels);
  w.Key("annotations");
  WriteLabels(w, a.annotations);
  w.Key("state").String(rules::AlertStateName(a.state));
  w.Key("activeAt").String(FormatRfc3339Nano(a.active_at_ms));
  if (a.keep_firing_since_ms != 0) w.Key("keepFiringSince").String(FormatRfc3339Nano(a.keep_firing_since_ms));
  w.Key("value").String(FormatFloatE(a.value));
  w.EndObject();
}

void Error(Response* resp, int code, std::string_view type, std::string_view msg) {
  resp->Json(code, ErrorJson(type, msg));
}

bool Selected(const std::vector<std::string>& want, const std::string& v) {
  return want.empty() || std::find(want.begin(), want.end(), v) != want.end();
}

}  // namespace

std::string FormatFloatE(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  for (int prec = 0; prec <= 17; ++prec) {
    std::snprintf(buf, sizeof(buf), "%.*e", prec, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string FormatRfc3339Nano(int64_t ms) {
  if (ms == 0) return "0001-01-01T00:00:00Z";
  int64_t secs = ms / 1000, frac = ms % 1000;
  if (frac < 0) {
    frac += 1000;
    --secs;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (frac != 0) {
    std::string f = fmt::format("{:03d}", frac);
    while (f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out + "Z";
}

void RulesApi::Register(Router* r) {
  r->Handle("GET,POST", "/api/v1/rules", [this](const Request& q, Response* p) { Rules(q, p); });
  r->Handle("GET,POST", "/api/v1/alerts", [this](const Request& q, Response* p) { Alerts(q, p); });
  r->Handle("POST", "/alerts/rules", [this](const Request& q, Response* p) { CreateRule(q, p); });
  r->Handle("GET", "/alerts/rules", [this](const Request& q, Response* p) { ListRules(q, p); });
  r->Handle("DELETE", "/alerts/rules/:name", [this](const Request& q, Response* p) { DeleteRule(q, p); });
}

void RulesApi::Rules(const Request& req, Response* resp) const {
  const std::string type(req.Param("type"));
  if (!type.empty() && type != "alert" && type != "record") {
    Error(resp, 400, "bad_data", fmt::format("invalid query parameter type='{}'", type));
    return;
  }
  const auto names = req.ParamValues("rule_name[]");
  const auto groups = req.ParamValues("rule_group[]");
  const auto files = req.ParamValues("file[]");
  const bool exclude_alerts = req.Param("exclude_alerts") == "true";
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject().Key("groups").BeginArray();
  for (const auto& g : manager_->Groups()) {
    if (!Selected(groups, g.name) || !Selected(files, g.file)) continue;
    std::string rules_json;
    JsonWriter rw(&rules_json);
    rw.BeginArray();
    int n = 0;
    for (const auto& r : g.rules) {
      const bool alert = r.spec.is_alert();
      if ((type == "alert" && !alert) || (type == "record" && alert)) continue;
      if (!Selected(names, r.spec.name())) continue;
      ++n;
      rw.BeginObject();
      if (alert) {
        rw.Key("state").String(rules::AlertStateName(r.state));
        rw.Key("name").String(r.spec.alert);
        rw.Key("query").String(r.spec.expr);
        rw.Key("duration").Number(static_cast<double>(r.spec.for_ms) / 1000.0);
        rw.Key("keepFiringFor").Number(static_cast<double>(r.spec.keep_firing_for_ms) / 1000.0);
        rw.Key("labels");
        WriteLabelPairs(rw, r.spec.labels);
        rw.Key("annotations");
        WriteLabelPairs(rw, r.spec.annotations);
        if (!exclude_alerts) {
          rw.Key("alerts").BeginArray();
          for (const auto& a : r.alerts) WriteAlert(rw, a);
          rw.EndArray();
        }
      } else {
        rw.Key("name").String(r.spec.record);
        rw.Key("query").String(r.spec.expr);
        if (!r.spec.labels.empty()) {
          rw.Key("labels");
          WriteLabelPairs(rw, r.spec.labels);
        }
      }
      rw.Key("health").String(r.health);
      if (!r.last_error.empty()) rw.Key("lastError").String(r.last_error);
      rw.Key("evaluationTime").Number(r.evaluation_seconds);
      rw.Key("lastEvaluation").String(FormatRfc3339Nano(r.last_evaluation_ms));
      rw.Key("type").String(alert ? "alerting" : "recording");
      rw.EndObject();
    }
    rw.EndArray();
    // Prometheus drops groups left empty by a filter.
    if (n == 0 && (!type.empty() || !names.empty())) continue;
    w.BeginObject();
    w.Key("name").String(g.name);
    w.Key("file").String(g.file);
    w.Key("rules").Raw(rules_json);
    w.Key("interval").Number(static_cast<double>(g.interval_ms) / 1000.0);
    w.Key("limit").Int(g.limit);
    w.Key("evaluationTime").Number(g.evaluation_seconds);
    w.Key("lastEvaluation").String(FormatRfc3339Nano(g.last_evaluation_ms));
    w.EndObject();
  }
  w.EndArray().EndObject().EndObject();
  resp->Json(200, out);
}

void RulesApi::Alerts(const Request&, Response* resp) const {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject().Key("alerts").BeginArray();
  for (const auto& a : manager_->Alerts()) WriteAlert(w, a);
  w.EndArray().EndObject().EndObject();
  resp->Json(200, out);
}

void RulesApi::CreateRule(const Request& req, Response* resp) const {
  simdjson::dom::parser p;
  simdjson::dom::element root;
  if (p.parse(req.body).get(root) != simdjson::SUCCESS || !root.is_object()) {
    Error(resp, 400, "bad_data", "body must be a JSON object {name, expr, threshold, for, notify}");
    return;
  }
  rules::ApiRule r;
  std::string_view sv;
  if (root["name"].get_string().get(sv) != simdjson::SUCCESS) {
    Error(resp, 400, "bad_data", "missing string field \"name\"");
    return;
  }
  r.name = std::string(sv);
  if (root["expr"].get_string().get(sv) != simdjson::SUCCESS) {
    Error(resp, 400, "bad_data", "missing string field \"expr\"");
    return;
  }
  r.expr = std::string(sv);
  double th;
  if (root["threshold"].get_double().get(th) == simdjson::SUCCESS) {
    r.threshold = th;
  } else if (root["threshold"].get_string().get(sv) == simdjson::SUCCESS) {
    char* end = nullptr;
    std::string s(sv);
    r.threshold = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0') {
      Error(resp, 400, "bad_data", "field \"threshold\" must be a number");
      return;
    }
  } else {
    Error(resp, 400, "bad_data", "missing number field \"threshold\"");
    return;
  }
  double secs;
  if (root["for"].get_string().get(sv) == simdjson::SUCCESS) {
    auto d = config::ParseDuration(sv);
    if (!d.ok()) {
      Error(resp, 400, "bad_data", fmt::format("field \"for\": not a valid duration \"{}\"", sv));
      return;
    }
    r.for_ms = *d;
  } else if (root["for"].get_double().get(secs) == simdjson::SUCCESS) {
    r.for_ms = static_cast<int64_t>(secs * 1000);
  }
  if (root["notify"].get_string().get(sv) == simdjson::SUCCESS) r.notify = std::string(sv);
  absl::Status st = store_->Add(r);
  if (st.code() == absl::StatusCode::kAlreadyExists) {
    Error(resp, 409, "bad_data", st.message() == "" ? "exists" : std::string(st.message()));
    return;
  }
  if (!st.ok()) {
    Error(resp, st.code() == absl::StatusCode::kInvalidArgument ? 400 : 500,
          st.code() == absl::StatusCode::kInvalidArgument ? "bad_data" : "internal",
          std::string(st.message()));
    return;
  }
  if (absl::Status s = reload_(); !s.ok()) {
    Error(resp, 500, "internal", fmt::format("rule saved but reload failed: {}", std::string(s.message())));
    return;
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  w.Key("name").String(r.name).Key("expr").String(r.expr).Key("threshold").Number(r.threshold);
  w.Key("for").String(config::FormatDuration(r.for_ms)).Key("notify").String(r.notify);
  w.Key("query").String(rules::ApiRuleToSpec(r).expr);
  w.EndObject().EndObject();
  resp->Json(201, out);
}

void RulesApi::ListRules(const Request&, Response* resp) const {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginArray();
  for (const auto& r : store_->List()) {
    w.BeginObject();
    w.Key("name").String(r.name).Key("expr").String(r.expr).Key("threshold").Number(r.threshold);
    w.Key("for").String(config::FormatDuration(r.for_ms)).Key("notify").String(r.notify);
    w.Key("query").String(rules::ApiRuleToSpec(r).expr);
    w.EndObject();
  }
  w.EndArray().EndObject();
  resp->Json(200, out);
}

void RulesApi::DeleteRule(const Request& req, Response* resp) const {
  absl::Status st = store_->Delete(std::string(req.PathParam("name")));
  if (st.code() == absl::StatusCode::kNotFound) {
    Error(resp, 404, "not_found", std::string(st.message()));
    return;
  }
  if (!st.ok()) {
    Error(resp, 500, "internal", std::string(st.message()));
    return;
  }
  if (absl::Status s = reload_(); !s.ok()) {
    Error(resp, 500, "internal", fmt::format("rule deleted but reload failed: {}", std::string(s.message())));
    return;
  }
  resp->Json(200, "{\"status\":\"success\"}");
}

}  // namespace vigil::http
