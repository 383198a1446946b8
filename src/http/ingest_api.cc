#include "http/ingest_api.h"

#include <charconv>
#include <chrono>
#include <thread>

#include "base/log.h"
#include "fmt/format.h"
#include "http/json.h"
#include "http/params.h"
#include "ingest/compression.h"
#include "ingest/otlp.h"
#include "ingest/push_decoders.h"

namespace vigil::http {
namespace {


std::string Msg(const absl::Status& s) { return std::string(s.message()); }

int StatusFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kResourceExhausted: return 413;
    case absl::StatusCode::kUnimplemented: return 415;
    default: return 400;
  }
}

}  // namespace

TenantCounters::TenantCounters(metrics::Registry* registry) {
  if (registry == nullptr) return;
  accepted_ = registry->NewCounterFamily("vigil_tenant_samples_accepted_total",
                                         "Samples stored, by tenant, over every push protocol.",
                                         {"tenant"});
  refused_ = registry->NewCounterFamily(
      "vigil_tenant_samples_refused_total",
      "Samples refused, by tenant and reason (rate_limited, rejected).", {"tenant", "reason"});
  requests_refused_ = registry->NewCounterFamily(
      "vigil_tenant_requests_refused_total",
      "Push requests refused before their samples were counted, by tenant and reason "
      "(rate_limited, overloaded).",
      {"tenant", "reason"});
}

void TenantCounters::Accepted(std::string_view tenant, int64_t n) {
  if (accepted_ != nullptr && n > 0) accepted_->WithLabelValues({std::string(tenant)})->Inc(static_cast<double>(n));
}

void TenantCounters::Refused(std::string_view tenant, std::string_view reason, int64_t n) {
  if (refused_ != nullptr && n > 0) {
    refused_->WithLabelValues({std::string(tenant), std::string(reason)})->Inc(static_cast<double>(n));
  }
}

void TenantCounters::RequestRefused(std::string_view tenant, std::string_view reason) {
  if (requests_refused_ != nullptr) {
    requests_refused_->WithLabelValues({std::string(tenant), std::string(reason)})->Inc();
  }
}

IngestApi::IngestApi(IngestApiOptions opts, metrics::Registry* registry)
    : opts_(std::move(opts)),
      metrics_(registry),
      tenants_(registry),
      rate_(opts_.rate_limit),
      inflight_(opts_.max_inflight_bytes) {}

IngestApi::~IngestApi() = default;

void IngestApi::SetRateLimits(ingest::RateLimit defaults,
                              std::map<std::string, ingest::RateLimit, std::less<>> per_tenant) {
  rate_.SetLimits(defaults, std::move(per_tenant));
}

void IngestApi::Attach(storage::Appendable* db, storage::ExemplarAppendable* exemplars) {
  exemplars_.store(exemplars);
  db_.store(db);
}

void IngestApi::Detach() {
  db_.store(nullptr);
  exemplars_.store(nullptr);
  while (in_use_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

void IngestApi::Register(Router* r) {
  auto bind = [this](void (IngestApi::*fn)(const Request&, Response*)) {
    return [this, fn](const Request& req, Response* resp) { (this->*fn)(req, resp); };
  };
  r->Handle("POST,PUT", "/api/v1/import/prometheus", bind(&IngestApi::ImportPrometheus));
  r->Handle("POST", "/ingest/metrics", bind(&IngestApi::IngestJson));
  r->Handle("POST", "/write", bind(&IngestApi::InfluxWrite));
  r->Handle("POST", "/api/v2/write", bind(&IngestApi::InfluxWrite));
  r->Handle("GET,HEAD", "/ping", [](const Request&, Response* resp) {
    resp->status = 204;
    resp->headers.emplace_back("X-Influxdb-Version", "vigil");
  });
  r->Handle("POST", "/v1/metrics", bind(&IngestApi::Otlp));
  r->Handle("POST", "/api/v1/otlp/v1/metrics", bind(&IngestApi::Otlp));
  r->Handle("GET,POST", "/api/v1/metadata", bind(&IngestApi::Metadata));
}

void IngestApi::Push(const Request& req, Response* resp, std::string_view protocol,
                     Dialect dialect, const Decoder& decode) {
  auto fail = [&](int code, std::string msg) {
    metrics_.Request(protocol, code == 429 ? "rate_limited" : code >= 500 ? "internal_error" : "bad_request");
    if (dialect == Dialect::kInflux) {
      std::string out;
      JsonWriter w(&out);
      w.BeginObject().Key("error").String(msg).EndObject();
      resp->Json(code, std::move(out));
    } else {
      resp->Text(code, msg + "\n");
    }
  };
  ingest::InflightLimiter::Grant grant =
      inflight_.Acquire(static_cast<int64_t>(req.body.size()));
  if (!grant.ok()) {
    tenants_.RequestRefused(req.tenant, "overloaded");
    resp->headers.emplace_back("Retry-After", "1");
    return fail(429, fmt::format("cannot accept {} request: too much data is being ingested at "
                                 "once (limit {} bytes in flight); retry later",
                                 protocol, opts_.max_inflight_bytes));
  }
  std::string scratch;
  absl::StatusOr<std::string_view> body = ingest::Decompress(
      req.Header("content-encoding"), req.body, opts_.ingest.max_decompressed_bytes, &scratch);
  if (!body.ok()) return fail(StatusFor(body.status()), Msg(body.status()));

  ingest::DecodedBatch batch;
  if (absl::Status st = decode(*body, opts_.ingest.Now(), &batch); !st.ok()) {
    return fail(400, Msg(st));
  }
  const auto n = static_cast<int64_t>(batch.samples.size());
  if (n > 0) {
    ingest::TenantRateLimiter::Verdict v = rate_.Take(req.tenant, n);
    if (!v.allowed) {
      metrics_.Refused(protocol, "rate_limited", n);
      tenants_.Refused(req.tenant, "rate_limited", n);
      resp->headers.emplace_back("Retry-After", std::to_string(v.retry_after_s));
      return fail(429, fmt::format("cannot accept {} samples: tenant \"{}\" is over its ingestion "
                                   "rate limit of {} samples/s (burst {}); retry after {}s",
                                   n, req.tenant, v.limit.samples_per_second, v.limit.burst,
                                   v.retry_after_s));
    }
  }
  metadata_.Update(req.tenant, batch.metadata);

  in_use_.fetch_add(1);
  struct Release {
    std::atomic<int64_t>* c;
    ~Release() { c->fetch_sub(1); }
  } release{&in_use_};
  storage::Appendable* db = db_.load();
  if (db == nullptr) return fail(503, "storage is not ready");

  ingest::BatchWriter w(db, req.tenant, protocol, &metrics_, opts_.ingest);
  ingest::WriteResult r = ingest::WriteBatch(&batch, &w);
  if (r.http_status < 500) {
    ingest::StoreExemplars(batch, req.tenant, protocol, exemplars_.load(), &metrics_);
  }
  tenants_.Accepted(req.tenant, r.samples_stored);
  tenants_.Refused(req.tenant, "rejected", r.samples_refused);
  if (r.http_status >= 500) {
    VLOG_ERROR("http", "{} from {}: {}", protocol, req.remote, r.message);
  } else if (r.http_status != 204) {
    VLOG_DEBUG("http", "{} from {}: {}", protocol, req.remote, r.message);
  }
  if ((dialect == Dialect::kOtlp || dialect == Dialect::kOtlpJson) && r.http_status < 500) {
    // OTLP: 200 with partial_success for refused points; the sender must not retry them.
    // The answer is encoded as the request was.
    const bool json = dialect == Dialect::kOtlpJson;
    resp->status = 200;
    resp->content_type = json ? "application/json" : "application/x-protobuf";
    resp->body = ingest::OtlpResponse(r.samples_refused, r.message, json);
    return;
  }
  if (r.http_status == 204) {
    resp->status = 204;
    return;
  }
  if (dialect == Dialect::kInflux) {
    std::string out;
    JsonWriter jw(&out);
    jw.BeginObject().Key("error").String(r.message).EndObject();
    resp->Json(r.http_status, std::move(out));
  } else {
    resp->Text(r.http_status, r.message + "\n");
  }
}

void IngestApi::ImportPrometheus(const Request& req, Response* resp) {
  ingest::TextImportOptions o;
  o.format = ingest::TextFormatFromContentType(req.Header("content-type"));
  if (std::string_view ts = req.Param("timestamp"); !ts.empty()) {
    auto t = ParseTime(ts);
    if (!t.ok()) return resp->Text(400, fmt::format("invalid 'timestamp': {}\n", Msg(t.status())));
    o.timestamp_ms = *t;
  }
  for (const std::string& el : req.ParamValues("extra_label")) {
    const size_t eq = el.find('=');
    if (eq == std::string::npos || eq == 0) {
      return resp->Text(400, fmt::format("invalid extra_label \"{}\": want name=value\n", el));
    }
    o.extra_labels.push_back({el.substr(0, eq), el.substr(eq + 1)});
  }
  Push(req, resp, "prometheus_text", Dialect::kPlain,
       [&o](std::string_view body, int64_t now, ingest::DecodedBatch* out) {
         return ingest::DecodeText(body, o, now, out);
       });
}

void IngestApi::IngestJson(const Request& req, Response* resp) {
  Push(req, resp, "json", Dialect::kPlain, ingest::DecodeJson);
}

void IngestApi::InfluxWrite(const Request& req, Response* resp) {
  ingest::InfluxOptions o;
  auto prec = ingest::ParseInfluxPrecision(req.Param("precision"));
  if (!prec.ok()) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("error").String(Msg(prec.status())).EndObject();
    return resp->Json(400, std::move(out));
  }
  o.precision = *prec;
  if (std::string_view db = req.Param("db"); !db.empty()) o.extra_labels.push_back({"db", std::string(db)});
  Push(req, resp, "influx", Dialect::kInflux,
       [&o](std::string_view body, int64_t now, ingest::DecodedBatch* out) {
         return ingest::DecodeInflux(body, o, now, out);
       });
}

void IngestApi::Otlp(const Request& req, Response* resp) {
  std::string_view ct = req.Header("content-type");
  if (ct.starts_with("application/json")) {
    return Push(req, resp, "otlp", Dialect::kOtlpJson, ingest::DecodeOtlpJson);
  }
  if (!ct.empty() && !ct.starts_with("application/x-protobuf") && !ct.starts_with("application/protobuf")) {
    return resp->Text(415, fmt::format("unsupported Content-Type \"{}\": Vigil reads OTLP/HTTP "
                                       "protobuf (application/x-protobuf) or JSON "
                                       "(application/json)\n", ct));
  }
  Push(req, resp, "otlp", Dialect::kOtlp, ingest::DecodeOtlp);
}

void IngestApi::Metadata(const Request& req, Response* resp) {
  auto num = [&](std::string_view name, int64_t* out) {
    std::string_view v = req.Param(name);
    *out = 0;
    if (v.empty()) return true;
    auto r = std::from_chars(v.data(), v.data() + v.size(), *out);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
      resp->Json(400, ErrorJson("bad_data", fmt::format("invalid parameter '{}': \"{}\"", name, v)));
      return false;
    }
    return true;
  };
  int64_t limit, per_metric;
  if (!num("limit", &limit) || !num("limit_per_metric", &per_metric)) return;
  auto md = metadata_.Get(req.tenant, req.Param("metric"), limit < 0 ? 0 : limit,
                          per_metric < 0 ? 0 : per_metric);
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  for (const auto& [name, entries] : md) {
    w.Key(name).BeginArray();
    for (const auto& m : entries) {
      w.BeginObject().Key("type").String(m.type).Key("help").String(m.help);
      w.Key("unit").String(m.unit).EndObject();
    }
    w.EndArray();
  }
  w.EndObject().EndObject();
  resp->Json(200, std::move(out));
}

}  // namespace vigil::http
