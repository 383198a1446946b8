#include "http/api.h"

#include <charconv>
#include <chrono>
#include <optional>
#include <set>
#include <thread>

#include "base/log.h"
#include "fmt/format.h"
#include "http/json.h"
#include "http/params.h"
#include "ingest/compression.h"
#include "ingest/remote_write.h"
#include "model/labels.h"
#include "promql/parser.h"

namespace vigil::http {
namespace {

constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

void BadData(Response* resp, std::string_view msg) { resp->Json(400, ErrorJson("bad_data", msg)); }
void Internal(Response* resp, std::string_view msg) { resp->Json(500, ErrorJson("internal", msg)); }

// Reads a time parameter, or `dflt` when absent or empty.
bool TimeParam(const Request& req, std::string_view name, int64_t dflt, int64_t* out,
               Response* resp) {
  std::string_view v = req.Param(name);
  if (v.empty()) {
    *out = dflt;
    return true;
  }
  auto t = ParseTime(v);
  if (!t.ok()) {
    BadData(resp, fmt::format("invalid time value for '{}': {}", name, Msg(t.status())));
    return false;
  }
  *out = *t;
  return true;
}

bool TimeRange(const Request& req, int64_t* start, int64_t* end, Response* resp) {
  if (!TimeParam(req, "start", model::kMinTime, start, resp)) return false;
  if (!TimeParam(req, "end", model::kMaxTime, end, resp)) return false;
  if (*end < *start) {
    BadData(resp, "invalid parameter 'end': end timestamp must not be before start time");
    return false;
  }
  return true;
}

// Parses every match[] selector. `required` answers 400 when there is none.
bool MatchParams(const Request& req, bool required, std::vector<model::Matchers>* out,
                 Response* resp) {
  std::vector<std::string> sels = req.ParamValues("match[]");
  if (sels.empty() && required) {
    BadData(resp, "no match[] parameter provided");
    return false;
  }
  for (const auto& s : sels) {
    auto m = promql::ParseMetricSelector(s);
    if (!m.ok()) {
      BadData(resp, Msg(m.status()));
      return false;
    }
    out->push_back(std::move(*m));
  }
  return true;
}

bool LimitParam(const Request& req, int64_t* limit, Response* resp) {
  std::string_view v = req.Param("limit");
  *limit = 0;
  if (v.empty()) return true;
  int64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size() || n < 0) {
    BadData(resp, fmt::format("invalid parameter 'limit': cannot parse \"{}\" as a non-negative integer", v));
    return false;
  }
  *limit = n;
  return true;
}

void WriteLabelsObject(JsonWriter* w, const model::Labels& ls) {
  w->BeginObject();
  for (const auto& l : ls) w->Key(l.name).String(l.value);
  w->EndObject();
}

// {"status":"success","data":[strings...]} with optional warnings.
std::string StringListJson(const std::vector<std::string>& values,
                           const std::vector<std::string>& warnings) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginArray();
  for (const auto& v : values) w.String(v);
  w.EndArray();
  if (!warnings.empty()) {
    w.Key("warnings").BeginArray();
    for (const auto& s : warnings) w.String(s);
    w.EndArray();
  }
  w.EndObject();
  return out;
}

constexpr std::string_view kTruncated = "results truncated due to limit";

}  // namespace

Api::Api(BuildInfo build, metrics::Registry* registry)
    : build_(std::move(build)), registry_(registry) {}

Api::~Api() = default;

void Api::AttachStorage(storage::DB* db, ingest::RemoteWriteIngester* ingester) {
  ingester_.store(ingester);
  db_.store(db);
}

void Api::DetachStorage() {
  db_.store(nullptr);
  while (in_use_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ingester_.store(nullptr);
}

Api::Lease Api::NeedDb(Response* resp) const {
  in_use_.fetch_add(1);
  Lease lease(this, db_.load(), ingester_.load());
  if (!lease) resp->Json(503, ErrorJson("unavailable", "storage is not ready"));
  return lease;
}

void Api::Register(Router* r) {
  auto bind = [this](void (Api::*fn)(const Request&, Response*)) {
    return [this, fn](const Request& req, Response* resp) { (this->*fn)(req, resp); };
  };
  r->Handle("GET,HEAD", "/-/healthy",
            [](const Request&, Response* resp) { resp->Text(200, "Vigil is Healthy.\n"); });
  r->Handle("GET,HEAD", "/-/ready", [this](const Request&, Response* resp) {
    if (!NeedDb(resp)) {
      resp->Text(503, "Service Unavailable\n");  // replaces NeedDb's JSON answer
    } else {
      resp->Text(200, "Vigil is Ready.\n");
    }
  });
  r->Handle("GET", "/metrics", bind(&Api::Metrics));
  r->Handle("POST", "/api/v1/write", bind(&Api::Write));
  r->Handle("GET,POST", "/api/v1/series", bind(&Api::Series));
  r->Handle("GET,POST", "/api/v1/labels", bind(&Api::Labels));
  r->Handle("GET", "/api/v1/label/:name/values", bind(&Api::LabelValues));
  r->Handle("GET,POST", "/api/v1/export", bind(&Api::Export));
  r->Handle("POST,PUT", "/api/v1/admin/tsdb/snapshot", bind(&Api::Snapshot));
  r->Handle("POST,PUT", "/api/v1/admin/tsdb/delete_series", bind(&Api::DeleteSeries));
  r->Handle("POST,PUT", "/api/v1/admin/tsdb/clean_tombstones", bind(&Api::CleanTombstones));
  r->Handle("GET", "/api/v1/status/tsdb", bind(&Api::TsdbStatus));
  r->Handle("GET", "/api/v1/status/buildinfo", bind(&Api::BuildInfoHandler));
}

void Api::Metrics(const Request&, Response* resp) {
  resp->status = 200;
  resp->content_type = std::string(kMetricsContentType);
  resp->body = registry_->Render();
}

void Api::Series(const Request& req, Response* resp) {
  std::vector<model::Matchers> sets;
  int64_t start, end, limit;
  if (!MatchParams(req, true, &sets, resp) || !TimeRange(req, &start, &end, resp) ||
      !LimitParam(req, &limit, resp)) {
    return;
  }
  Lease lease = NeedDb(resp);
  if (!lease) return;
  storage::DB* d = lease.db();
  auto q = d->NewQuerier(req.tenant, start, end);
  if (!q.ok()) return Internal(resp, Msg(q.status()));
  std::set<model::Labels> found;
  std::vector<std::string> warnings;
  storage::SelectHints hints;
  hints.start = start;
  hints.end = end;
  hints.func = "series";  // labels only: storage may skip reading chunks
  for (const auto& m : sets) {
    auto ss = (*q)->Select(false, hints, m);
    while (ss->Next()) found.insert(ss->At().labels());
    if (auto st = ss->Err(); !st.ok()) return Internal(resp, Msg(st));
    for (auto& wmsg : ss->Warnings()) warnings.push_back(std::move(wmsg));
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginArray();
  int64_t n = 0;
  for (const auto& ls : found) {
    if (limit > 0 && n == limit) {
      warnings.emplace_back(kTruncated);
      break;
    }
    WriteLabelsObject(&w, ls);
    ++n;
  }
  w.EndArray();
  if (!warnings.empty()) {
    w.Key("warnings").BeginArray();
    for (const auto& s : warnings) w.String(s);
    w.EndArray();
  }
  w.EndObject();
  resp->Json(200, std::move(out));
}

void Api::Labels(const Request& req, Response* resp) {
  RespondNameUnion(req, resp, [](storage::Querier& q, const model::Matchers& m) {
    return q.LabelNames(m);
  });
}

void Api::LabelValues(const Request& req, Response* resp) {
  std::string name(req.PathParam("name"));
  if (!model::IsValidLabelName(name)) {
    return BadData(resp, fmt::format("invalid label name: \"{}\"", name));
  }
  RespondNameUnion(req, resp, [&name](storage::Querier& q, const model::Matchers& m) {
    return q.LabelValues(name, m);
  });
}

void Api::RespondNameUnion(const Request& req, Response* resp, const NameLister& list) const {
  std::vector<model::Matchers> sets;
  int64_t start, end, limit;
  if (!MatchParams(req, false, &sets, resp) || !TimeRange(req, &start, &end, resp) ||
      !LimitParam(req, &limit, resp)) {
    return;
  }
  Lease lease = NeedDb(resp);
  if (!lease) return;
  auto q = lease.db()->NewQuerier(req.tenant, start, end);
  if (!q.ok()) return Internal(resp, Msg(q.status()));
  if (sets.empty()) sets.emplace_back();
  std::set<std::string> names;
  for (const auto& m : sets) {
    auto got = list(**q, m);
    if (!got.ok()) return Internal(resp, Msg(got.status()));
    names.insert(got->begin(), got->end());
  }
  std::vector<std::string> out(names.begin(), names.end());
  std::vector<std::string> warnings;
  if (limit > 0 && static_cast<int64_t>(out.size()) > limit) {
    out.resize(limit);
    warnings.emplace_back(kTruncated);
  }
  resp->Json(200, StringListJson(out, warnings));
}

void Api::Export(const Request& req, Response* resp) {
  std::vector<model::Matchers> sets;
  int64_t start, end;
  if (!MatchParams(req, true, &sets, resp) || !TimeRange(req, &start, &end, resp)) return;
  Lease lease = NeedDb(resp);
  if (!lease) return;
  storage::DB* d = lease.db();
  auto q = d->NewQuerier(req.tenant, start, end);
  if (!q.ok()) return Internal(resp, Msg(q.status()));
  storage::SelectHints hints;
  hints.start = start;
  hints.end = end;
  std::set<model::Labels> seen;  // several match[] may select the same series
  std::string out;
  std::vector<int64_t> ts;
  std::vector<double> vs;
  for (const auto& m : sets) {
    auto ss = (*q)->Select(true, hints, m);
    while (ss->Next()) {
      const storage::Series& s = ss->At();
      if (sets.size() > 1 && !seen.insert(s.labels()).second) continue;
      ts.clear();
      vs.clear();
      auto it = s.Iterator();
      while (it->Next()) {
        model::Sample smp = it->At();
        ts.push_back(smp.t);
        vs.push_back(smp.v);
      }
      if (auto st = it->Err(); !st.ok()) return Internal(resp, Msg(st));
      if (ts.empty()) continue;
      JsonWriter w(&out);
      w.BeginObject().Key("metric");
      WriteLabelsObject(&w, s.labels());
      w.Key("values").BeginArray();
      for (double v : vs) w.Number(v);
      w.EndArray().Key("timestamps").BeginArray();
      for (int64_t t : ts) w.Int(t);
      w.EndArray().EndObject();
      out.push_back('\n');
    }
    if (auto st = ss->Err(); !st.ok()) return Internal(resp, Msg(st));
  }
  resp->status = 200;
  resp->content_type = "application/stream+json";
  resp->body = std::move(out);
}

void Api::Write(const Request& req, Response* resp) {
  // Remote write 1.0 bodies are snappy (what Prometheus sends, and the ingester's own
  // path); the other encodings the push endpoints read (zstd, which vmagent can send,
  // gzip, deflate, identity) are decompressed here first.
  std::string_view enc = req.Header("content-encoding");
  const bool snappy = enc.empty() || enc == "snappy";
  std::string_view ctype = req.Header("content-type");
  if (!ctype.empty() && ctype != "application/x-protobuf" &&
      !ctype.starts_with("application/x-protobuf;proto=prometheus.WriteRequest")) {
    return resp->Text(415, fmt::format("unsupported Content-Type \"{}\": Vigil speaks remote "
                                       "write 1.0 (application/x-protobuf)\n",
                                       ctype));
  }
  constexpr std::string_view kProtocol = "remote_write";
  std::optional<ingest::InflightLimiter::Grant> grant;
  if (guards_.inflight != nullptr) {
    grant.emplace(guards_.inflight->Acquire(static_cast<int64_t>(req.body.size())));
    if (!grant->ok()) {
      if (guards_.metrics != nullptr) guards_.metrics->Request(kProtocol, "rate_limited");
      if (guards_.tenants != nullptr) guards_.tenants->RequestRefused(req.tenant, "overloaded");
      resp->headers.emplace_back("Retry-After", "1");
      return resp->Text(429, "cannot accept remote_write request: too much data is being "
                             "ingested at once; retry later\n");
    }
  }
  if (guards_.rate != nullptr) {
    ingest::TenantRateLimiter::Verdict v = guards_.rate->Admit(req.tenant);
    if (!v.allowed) {
      if (guards_.metrics != nullptr) guards_.metrics->Request(kProtocol, "rate_limited");
      if (guards_.tenants != nullptr) guards_.tenants->RequestRefused(req.tenant, "rate_limited");
      resp->headers.emplace_back("Retry-After", std::to_string(v.retry_after_s));
      return resp->Text(429, fmt::format("cannot accept samples: tenant \"{}\" is over its "
                                         "ingestion rate limit of {} samples/s (burst {}); "
                                         "retry after {}s\n",
                                         req.tenant, v.limit.samples_per_second, v.limit.burst,
                                         v.retry_after_s));
    }
  }
  Lease lease = NeedDb(resp);
  if (!lease) return;
  ingest::RemoteWriteIngester* ing = lease.ingester();
  ingest::WriteResult r;
  if (snappy) {
    r = ing->Write(req.tenant, req.body);
  } else {
    std::string scratch;
    absl::StatusOr<std::string_view> body =
        ingest::Decompress(enc, req.body, ing->max_decompressed_bytes(), &scratch);
    if (!body.ok()) {
      if (guards_.metrics != nullptr) guards_.metrics->Request(kProtocol, "bad_request");
      const absl::StatusCode code = body.status().code();
      return resp->Text(code == absl::StatusCode::kUnimplemented        ? 415
                        : code == absl::StatusCode::kResourceExhausted ? 413
                                                                        : 400,
                        fmt::format("cannot decode remote write request: {}\n",
                                    Msg(body.status())));
    }
    r = ing->WriteDecoded(req.tenant, *body);
  }
  if (guards_.rate != nullptr) guards_.rate->Charge(req.tenant, r.samples_stored + r.samples_refused);
  if (guards_.tenants != nullptr) {
    guards_.tenants->Accepted(req.tenant, r.samples_stored);
    guards_.tenants->Refused(req.tenant, "rejected", r.samples_refused);
  }
  if (r.http_status == 204) {
    resp->status = 204;
    resp->body.clear();
    return;
  }
  if (r.http_status >= 500) {
    VLOG_ERROR("http", "remote write from {}: {}", req.remote, r.message);
  } else {
    VLOG_DEBUG("http", "remote write from {}: {}", req.remote, r.message);
  }
  resp->Text(r.http_status, r.message + "\n");
}

void Api::Snapshot(const Request& req, Response* resp) {
  std::string_view skip = req.Param("skip_head");
  bool skip_head = false;
  if (skip == "true" || skip == "1" || skip == "t" || skip == "T" || skip == "TRUE" || skip == "True") {
    skip_head = true;
  } else if (!skip.empty() && skip != "false" && skip != "0" && skip != "f" && skip != "F" &&
             skip != "FALSE" && skip != "False") {
    return BadData(resp, fmt::format("unable to parse boolean 'skip_head' argument: "
                                     "strconv.ParseBool: parsing \"{}\": invalid syntax",
                                     skip));
  }
  Lease lease = NeedDb(resp);
  if (!lease) return;
  storage::DB* d = lease.db();
  auto name = d->Snapshot(skip_head);
  if (!name.ok()) return Internal(resp, fmt::format("create snapshot: {}", Msg(name.status())));
  VLOG_INFO("http", "snapshot {} created (skip_head={})", *name, skip_head);
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  w.Key("name").String(*name).EndObject().EndObject();
  resp->Json(200, std::move(out));
}

void Api::DeleteSeries(const Request& req, Response* resp) {
  std::vector<model::Matchers> sets;
  int64_t start, end;
  if (!MatchParams(req, true, &sets, resp) || !TimeRange(req, &start, &end, resp)) return;
  Lease lease = NeedDb(resp);
  if (!lease) return;
  storage::DB* d = lease.db();
  for (const auto& m : sets) {
    if (auto st = d->Delete(req.tenant, start, end, m); !st.ok()) {
      return Internal(resp, fmt::format("delete series: {}", Msg(st)));
    }
  }
  resp->status = 204;
}

void Api::CleanTombstones(const Request&, Response* resp) {
  Lease lease = NeedDb(resp);
  if (!lease) return;
  storage::DB* d = lease.db();
  if (auto st = d->CleanTombstones(); !st.ok()) {
    return Internal(resp, fmt::format("clean tombstones: {}", Msg(st)));
  }
  resp->status = 204;
}

void Api::TsdbStatus(const Request& req, Response* resp) {
  int64_t limit = 10;
  if (req.HasParam("limit")) {
    if (!LimitParam(req, &limit, resp)) return;
    if (limit <= 0) return BadData(resp, "limit must be a positive number");
  }
  Lease lease = NeedDb(resp);
  if (!lease) return;
  storage::DB* d = lease.db();
  storage::TsdbStatus st = d->GetTsdbStatus(req.tenant, static_cast<int>(limit));
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  w.Key("headStats").BeginObject();
  w.Key("numSeries").Int(st.num_series).Key("numLabelPairs").Int(st.num_label_pairs);
  w.Key("chunkCount").Int(st.chunk_count).Key("minTime").Int(st.min_time);
  w.Key("maxTime").Int(st.max_time).EndObject();
  auto list = [&](std::string_view key, const std::vector<storage::TsdbStatus::Count>& v) {
    w.Key(key).BeginArray();
    for (const auto& c : v) w.BeginObject().Key("name").String(c.name).Key("value").Int(c.value).EndObject();
    w.EndArray();
  };
  list("seriesCountByMetricName", st.series_count_by_metric_name);
  list("labelValueCountByLabelName", st.label_value_count_by_label_name);
  list("memoryInBytesByLabelName", st.memory_in_bytes_by_label_name);
  list("seriesCountByLabelValuePair", st.series_count_by_label_value_pair);
  w.EndObject().EndObject();
  resp->Json(200, std::move(out));
}

void Api::BuildInfoHandler(const Request&, Response* resp) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  w.Key("version").String(build_.version).Key("revision").String(build_.revision);
  w.Key("branch").String(build_.branch).Key("buildUser").String(build_.build_user);
  w.Key("buildDate").String(build_.build_date).Key("goVersion").String("n/a");
  w.EndObject().EndObject();
  resp->Json(200, std::move(out));
}

}  // namespace vigil::http
