#include "http/dashboards_api.h"

#include "base/log.h"
#include "fmt/format.h"
#include "http/json.h"

namespace vigil::http {
namespace {

void Error(Response* resp, const absl::Status& s) {
  int code = 500;
  std::string_view type = "internal";
  switch (s.code()) {
    case absl::StatusCode::kInvalidArgument:
      code = 400;
      type = "bad_data";
      break;
    case absl::StatusCode::kNotFound:
      code = 404;
      type = "not_found";
      break;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      code = 409;
      type = "conflict";
      break;
    default:
      break;
  }
  resp->Json(code, ErrorJson(type, std::string(s.message())));
}

void Success(Response* resp, std::string_view data_json) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").Raw(data_json).EndObject();
  resp->Json(200, std::move(out));
}

std::string SavedJson(const DashboardSaved& saved) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("uid").String(saved.uid).Key("version").Int(saved.version).EndObject();
  return out;
}

}  // namespace

void DashboardsApi::Register(Router* r) {
  r->Handle("GET", "/api/v1/dashboards", [this](const Request& q, Response* p) { List(q, p); });
  r->Handle("POST", "/api/v1/dashboards", [this](const Request& q, Response* p) { Create(q, p); });
  r->Handle("GET", "/api/v1/dashboards/:uid", [this](const Request& q, Response* p) { Get(q, p); });
  r->Handle("PUT", "/api/v1/dashboards/:uid", [this](const Request& q, Response* p) { Put(q, p); });
  r->Handle("DELETE", "/api/v1/dashboards/:uid",
            [this](const Request& q, Response* p) { Delete(q, p); });
}

DashboardStore* DashboardsApi::Need(Response* resp) const {
  DashboardStore* s = store_.load();
  if (s == nullptr) resp->Json(503, ErrorJson("unavailable", "dashboards are not loaded yet"));
  return s;
}

bool DashboardsApi::BodyFits(const Request& req, Response* resp) {
  if (req.body.size() <= kMaxBodyBytes) return true;
  resp->Json(413, ErrorJson("bad_data", fmt::format("dashboard body of {} bytes exceeds the limit of {} bytes",
                                                    req.body.size(), kMaxBodyBytes)));
  return false;
}

void DashboardsApi::List(const Request&, Response* resp) const {
  DashboardStore* store = Need(resp);
  if (store == nullptr) return;
  std::string data;
  JsonWriter w(&data);
  w.BeginArray();
  for (const DashboardSummary& d : store->List()) {
    w.BeginObject().Key("uid").String(d.uid).Key("title").String(d.title).Key("tags").BeginArray();
    for (const auto& t : d.tags) w.String(t);
    w.EndArray().Key("version").Int(d.version);
    w.Key("updated").String(FormatRfc3339Millis(d.updated_ms)).EndObject();
  }
  w.EndArray();
  Success(resp, data);
}

void DashboardsApi::Create(const Request& req, Response* resp) const {
  DashboardStore* store = Need(resp);
  if (store == nullptr || !BodyFits(req, resp)) return;
  auto saved = store->Create(req.body);
  if (!saved.ok()) return Error(resp, saved.status());
  VLOG_INFO("audit", "dashboard {} created (version 1) by {}", saved->uid, req.remote);
  Success(resp, SavedJson(*saved));
}

void DashboardsApi::Get(const Request& req, Response* resp) const {
  DashboardStore* store = Need(resp);
  if (store == nullptr) return;
  auto doc = store->Get(req.PathParam("uid"));
  if (!doc.ok()) return Error(resp, doc.status());
  Success(resp, *doc);
}

void DashboardsApi::Put(const Request& req, Response* resp) const {
  DashboardStore* store = Need(resp);
  if (store == nullptr || !BodyFits(req, resp)) return;
  auto saved = store->Put(req.PathParam("uid"), req.body);
  if (!saved.ok()) return Error(resp, saved.status());
  VLOG_INFO("audit", "dashboard {} {} (version {}) by {}", saved->uid,
            saved->version == 1 ? "created" : "updated", saved->version, req.remote);
  Success(resp, SavedJson(*saved));
}

void DashboardsApi::Delete(const Request& req, Response* resp) const {
  DashboardStore* store = Need(resp);
  if (store == nullptr) return;
  const std::string uid(req.PathParam("uid"));
  if (auto s = store->Delete(uid); !s.ok()) return Error(resp, s);
  VLOG_INFO("audit", "dashboard {} deleted by {}", uid, req.remote);
  Success(resp, "null");
}

}  // namespace vigil::http
