#include "http/query_api.h"

#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <fstream>
#include <limits>
#include <thread>

#include "fmt/format.h"
#include "http/json.h"
#include "http/params.h"
#include "http/query_json.h"
#include "model/labels.h"
#include "promql/parser.h"
#include "storage/appender.h"

namespace vigil::http {
namespace {

constexpr std::string_view kTruncated = "results truncated due to limit";

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

int64_t SystemNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

void InvalidParam(Response* resp, std::string_view name, std::string_view why) {
  RespondError(resp, "bad_data", fmt::format("invalid parameter \"{}\": {}", name, why));
}

// Reads parameter `name` as a time; `dflt` when absent. False after answering 400.
bool TimeParam(const Request& req, std::string_view name, bool required, int64_t dflt,
               int64_t* out, Response* resp) {
  std::string_view v = req.Param(name);
  if (v.empty() && !required) {
    *out = dflt;
    return true;
  }
  auto t = ParseTime(v);
  if (!t.ok()) {
    InvalidParam(resp, name, Msg(t.status()));
    return false;
  }
  *out = *t;
  return true;
}

// Prometheus's limit parameter: a non-negative integer, 0 meaning no limit.
bool LimitParam(const Request& req, int64_t* limit, Response* resp) {
  std::string_view v = req.Param("limit");
  *limit = 0;
  if (v.empty()) return true;
  int64_t n = 0;
  auto r = std::from_chars(v.data(), v.data() + v.size(), n);
  if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
    InvalidParam(resp, "limit", fmt::format("strconv.Atoi: parsing \"{}\": invalid syntax", v));
    return false;
  }
  if (n < 0) {
    InvalidParam(resp, "limit", "limit must be non-negative");
    return false;
  }
  *limit = n;
  return true;
}

// Keeps the first `limit` series of a vector or matrix result, warning when any were cut.
void ApplyLimit(int64_t limit, promql::QueryResult* r) {
  if (limit <= 0) return;
  const size_t n = static_cast<size_t>(limit);
  bool cut = false;
  if (r->vector.size() > n) {
    r->vector.resize(n);
    cut = true;
  }
  if (r->matrix.size() > n) {
    r->matrix.resize(n);
    cut = true;
  }
  if (cut) r->warnings.emplace_back(kTruncated);
}

std::string StatsJson(double prep_s, double eval_s, double total_s) {
  return fmt::format(
      "{{\"timings\":{{\"evalTotalTime\":{},\"resultSortTime\":0,\"queryPreparationTime\":{},"
      "\"innerEvalTime\":{},\"execQueueTime\":0,\"execTotalTime\":{}}}}}",
      eval_s, prep_s, eval_s, total_s);
}

// --- parse_query: the tree as Prometheus 3's translateAST writes it ----------------------

const char* TypeWord(promql::ValueType t) {
  switch (t) {
    case promql::ValueType::kScalar: return "scalar";
    case promql::ValueType::kVector: return "vector";
    case promql::ValueType::kMatrix: return "matrix";
    case promql::ValueType::kString: return "string";
    case promql::ValueType::kNone: break;
  }
  return "none";
}

const char* MatchOp(model::MatchType t) {
  switch (t) {
    case model::MatchType::kEqual: return "=";
    case model::MatchType::kNotEqual: return "!=";
    case model::MatchType::kRegexMatch: return "=~";
    case model::MatchType::kRegexNoMatch: return "!~";
  }
  return "=";
}

void WriteAt(JsonWriter& w, const std::optional<int64_t>& at, promql::AtPreproc pre) {
  w.Key("timestamp");
  if (at.has_value() && pre == promql::AtPreproc::kNone) {
    w.Int(*at);
  } else {
    w.Null();
  }
  w.Key("startOrEnd");
  if (pre == promql::AtPreproc::kStart) {
    w.String("start");
  } else if (pre == promql::AtPreproc::kEnd) {
    w.String("end");
  } else {
    w.Null();
  }
}

void WriteSelectorFields(JsonWriter& w, const promql::VectorSelector& vs) {
  w.Key("name").String(vs.name);
  w.Key("offset").Int(vs.offset.ms);
  w.Key("matchers").BeginArray();
  for (const auto& m : vs.matchers) {
    w.BeginObject().Key("type").String(MatchOp(m.type())).Key("name").String(m.name());
    w.Key("value").String(m.value()).EndObject();
  }
  w.EndArray();
  WriteAt(w, vs.at, vs.at_preproc);
}

void WriteAst(JsonWriter& w, const promql::Expr& e) {
  using promql::NodeKind;
  w.BeginObject();
  switch (e.kind) {
    case NodeKind::kNumberLiteral: {
      const auto& n = static_cast<const promql::NumberLiteral&>(e);
      w.Key("type").String("numberLiteral");
      // strconv.FormatFloat(v, 'f', -1, 64): shortest round-trip digits, never an exponent.
      std::string v;
      if (std::isnan(n.val)) {
        v = "NaN";
      } else if (std::isinf(n.val)) {
        v = n.val > 0 ? "+Inf" : "-Inf";
      } else {
        char buf[400];
        auto r = std::to_chars(buf, buf + sizeof(buf), n.val, std::chars_format::fixed);
        v.assign(buf, r.ptr);
      }
      w.Key("val").String(v);
      break;
    }
    case NodeKind::kStringLiteral:
      w.Key("type").String("stringLiteral");
      w.Key("val").String(static_cast<const promql::StringLiteral&>(e).val);
      break;
    case NodeKind::kVectorSelector:
      w.Key("type").String("vectorSelector");
      WriteSelectorFields(w, static_cast<const promql::VectorSelector&>(e));
      break;
    case NodeKind::kMatrixSelector: {
      const auto& m = static_cast<const promql::MatrixSelector&>(e);
      w.Key("type").String("matrixSelector");
      w.Key("range").Int(m.range.ms);
      WriteSelectorFields(w, m.selector());
      break;
    }
    case NodeKind::kSubquery: {
      const auto& s = static_cast<const promql::SubqueryExpr&>(e);
      w.Key("type").String("subquery");
      w.Key("expr");
      WriteAst(w, *s.expr);
      w.Key("range").Int(s.range.ms).Key("offset").Int(s.offset.ms).Key("step").Int(s.step.ms);
      WriteAt(w, s.at, s.at_preproc);
      break;
    }
    case NodeKind::kParen:
      w.Key("type").String("parenExpr").Key("expr");
      WriteAst(w, *static_cast<const promql::ParenExpr&>(e).expr);
      break;
    case NodeKind::kUnary: {
      const auto& u = static_cast<const promql::UnaryExpr&>(e);
      w.Key("type").String("unaryExpr").Key("op").String(promql::OpName(u.op)).Key("expr");
      WriteAst(w, *u.expr);
      break;
    }
    case NodeKind::kBinary: {
      const auto& b = static_cast<const promql::BinaryExpr&>(e);
      w.Key("type").String("binaryExpr").Key("op").String(promql::OpName(b.op));
      w.Key("lhs");
      WriteAst(w, *b.lhs);
      w.Key("rhs");
      WriteAst(w, *b.rhs);
      w.Key("matching");
      if (b.matching.has_value()) {
        const auto& m = *b.matching;
        const char* card = "one-to-one";
        if (m.card == promql::Cardinality::kManyToOne) card = "many-to-one";
        if (m.card == promql::Cardinality::kOneToMany) card = "one-to-many";
        if (m.card == promql::Cardinality::kManyToMany) card = "many-to-many";
        w.BeginObject().Key("card").String(card).Key("labels").BeginArray();
        for (const auto& l : m.matching_labels) w.String(l);
        w.EndArray().Key("on").Bool(m.on).Key("include").BeginArray();
        for (const auto& l : m.include) w.String(l);
        w.EndArray().EndObject();
      } else {
        w.Null();
      }
      w.Key("bool").Bool(b.return_bool);
      break;
    }
    case NodeKind::kCall: {
      const auto& c = static_cast<const promql::Call&>(e);
      w.Key("type").String("call").Key("func").BeginObject();
      w.Key("name").String(c.func->name).Key("argTypes").BeginArray();
      for (auto t : c.func->arg_types) w.String(TypeWord(t));
      w.EndArray().Key("variadic").Int(c.func->variadic);
      w.Key("returnType").String(TypeWord(c.func->return_type)).EndObject();
      w.Key("args").BeginArray();
      for (const auto& a : c.args) WriteAst(w, *a);
      w.EndArray();
      break;
    }
    case NodeKind::kAggregate: {
      const auto& a = static_cast<const promql::AggregateExpr&>(e);
      w.Key("type").String("aggregation").Key("op").String(promql::OpName(a.op));
      w.Key("expr");
      WriteAst(w, *a.expr);
      w.Key("param");
      if (a.param) {
        WriteAst(w, *a.param);
      } else {
        w.Null();
      }
      w.Key("grouping").BeginArray();
      for (const auto& g : a.grouping) w.String(g);
      w.EndArray().Key("without").Bool(a.without);
      break;
    }
  }
  w.EndObject();
}

// --- the seed API's label argument ------------------------------------------------------

// Parses a flat JSON object of strings ({"job":"api","env":"prod"}) into pairs. Escapes
// are limited to what JSON strings allow.
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ParseFlatJsonObject(
    std::string_view s) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  auto space = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  };
  auto str = [&](std::string* dst) -> bool {
    if (i >= s.size() || s[i] != '"') return false;
    ++i;
    while (i < s.size() && s[i] != '"') {
      char c = s[i++];
      if (c != '\\') {
        dst->push_back(c);
        continue;
      }
      if (i >= s.size()) return false;
      char e = s[i++];
      switch (e) {
        case '"': case '\\': case '/': dst->push_back(e); break;
        case 'n': dst->push_back('\n'); break;
        case 't': dst->push_back('\t'); break;
        case 'r': dst->push_back('\r'); break;
        case 'b': dst->push_back('\b'); break;
        case 'f': dst->push_back('\f'); break;
        case 'u': {
          if (i + 4 > s.size()) return false;
          unsigned cp = 0;
          auto r = std::from_chars(s.data() + i, s.data() + i + 4, cp, 16);
          if (r.ptr != s.data() + i + 4 || cp >= 0xd800) return false;  // no surrogates
          i += 4;
          if (cp < 0x80) {
            dst->push_back(static_cast<char>(cp));
          } else if (cp < 0x800) {
            dst->push_back(static_cast<char>(0xc0 | cp >> 6));
            dst->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
          } else {
            dst->push_back(static_cast<char>(0xe0 | cp >> 12));
            dst->push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3f)));
            dst->push_back(static_cast<char>(0x80 | (cp & 0x3f)));
          }
          break;
        }
        default: return false;
      }
    }
    if (i >= s.size()) return false;
    ++i;
    return true;
  };
  auto bad = [&] {
    return absl::InvalidArgumentError(
        fmt::format("cannot parse labels {}: want a JSON object of strings such as "
                    "{{\"job\":\"api\"}} or PromQL matchers such as {{job=~\"api|web\"}}",
                    s));
  };
  space();
  if (i >= s.size() || s[i] != '{') return bad();
  ++i;
  space();
  if (i < s.size() && s[i] == '}') {
    ++i;
  } else {
    while (true) {
      space();
      std::string k, v;
      if (!str(&k)) return bad();
      space();
      if (i >= s.size() || s[i] != ':') return bad();
      ++i;
      space();
      if (!str(&v)) return bad();
      out.emplace_back(std::move(k), std::move(v));
      space();
      if (i < s.size() && s[i] == ',') {
        ++i;
        continue;
      }
      if (i < s.size() && s[i] == '}') {
        ++i;
        break;
      }
      return bad();
    }
  }
  space();
  if (i != s.size()) return bad();
  return out;
}


// Parses the expression of a range query, which must be a scalar or an instant vector.
// Answers bad_data naming `param` and returns nullptr otherwise.
promql::ExprPtr ParseRangeQueryExpr(std::string_view text, std::string_view param,
                                    Response* resp) {
  auto expr = promql::ParseExpr(text);
  if (!expr.ok()) {
    InvalidParam(resp, param, Msg(expr.status()));
    return nullptr;
  }
  promql::ValueType type = (*expr)->Type();
  if (type != promql::ValueType::kScalar && type != promql::ValueType::kVector) {
    InvalidParam(resp, param,
                 fmt::format("invalid expression type \"{}\" for range query, must be "
                             "Scalar or instant Vector",
                             promql::ValueTypeName(type)));
    return nullptr;
  }
  return *std::move(expr);
}

}  // namespace

absl::StatusOr<int64_t> ParseDurationParam(std::string_view s) {
  auto bad = [&] {
    return absl::InvalidArgumentError(fmt::format("cannot parse \"{}\" to a valid duration", s));
  };
  if (s.empty()) return bad();
  // Float seconds first, as Prometheus tries strconv.ParseFloat before model.ParseDuration.
  std::string_view f = s;
  if (f.front() == '+') f.remove_prefix(1);
  double d = 0;
  auto r = std::from_chars(f.data(), f.data() + f.size(), d);
  if (!f.empty() && r.ec == std::errc() && r.ptr == f.data() + f.size()) {
    if (!std::isfinite(d)) return bad();
    const double ns = d * 1e9;
    if (ns >= 9.2233720368547758e18 || ns <= -9.2233720368547758e18) {
      return absl::InvalidArgumentError(
          fmt::format("cannot parse \"{}\" to a valid duration. It overflows int64", s));
    }
    return static_cast<int64_t>(ns) / 1'000'000;
  }
  // A Prometheus duration: units in descending order, each at most once.
  static constexpr struct {
    std::string_view unit;
    int64_t ms;
  } kUnits[] = {{"y", 365LL * 86'400'000}, {"w", 7LL * 86'400'000}, {"d", 86'400'000},
                {"h", 3'600'000},          {"m", 60'000},            {"s", 1000},
                {"ms", 1}};
  if (s == "0") return 0;
  int64_t total = 0;
  size_t i = 0;
  int next_unit = 0;
  while (i < s.size()) {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return bad();
    int64_t n = 0;
    auto nr = std::from_chars(s.data() + start, s.data() + i, n);
    if (nr.ec != std::errc()) return bad();
    size_t ustart = i;
    while (i < s.size() && !(s[i] >= '0' && s[i] <= '9')) ++i;
    std::string_view unit = s.substr(ustart, i - ustart);
    int k = next_unit;
    while (k < 7 && kUnits[k].unit != unit) ++k;
    if (k == 7) return bad();
    if (n > 0 && kUnits[k].ms > INT64_MAX / n) return bad();
    total += n * kUnits[k].ms;
    if (total < 0) return bad();
    next_unit = k + 1;
  }
  return total;
}

void RespondError(Response* resp, std::string_view type, std::string_view message) {
  int code = 500;
  if (type == "bad_data") {
    code = 400;
  } else if (type == "execution") {
    code = 422;
  } else if (type == "timeout" || type == "canceled" || type == "unavailable") {
    code = 503;
  } else if (type == "not_found") {
    code = 404;
  } else if (type == "not_acceptable") {
    code = 406;
  }
  resp->Json(code, ErrorJson(type, message));
}

std::string_view ErrorTypeFor(const absl::Status& s) {
  switch (s.code()) {
    case absl::StatusCode::kDeadlineExceeded: return "timeout";
    case absl::StatusCode::kCancelled: return "canceled";
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDataLoss:
    case absl::StatusCode::kUnavailable: return "internal";
    default: return "execution";
  }
}

QueryApi::QueryApi(const Api* api, QueryApiOptions opts)
    : api_(api),
      opts_(std::move(opts)),
      start_time_ms_(SystemNowMs()),
      now_ms_(&SystemNowMs),
      config_yaml_(opts_.config_yaml) {}

void QueryApi::SetConfigYaml(std::string yaml) {
  std::lock_guard lock(config_mu_);
  config_yaml_ = std::move(yaml);
}

void QueryApi::Register(Router* r) {
  auto bind = [this](void (QueryApi::*fn)(const Request&, Response*) const) {
    return [this, fn](const Request& req, Response* resp) { (this->*fn)(req, resp); };
  };
  r->Handle("GET,POST", "/api/v1/query", bind(&QueryApi::Query));
  r->Handle("GET,POST", "/api/v1/query_range", bind(&QueryApi::QueryRange));
  r->Handle("GET,POST", "/api/v1/format_query", bind(&QueryApi::FormatQuery));
  r->Handle("GET,POST", "/api/v1/parse_query", bind(&QueryApi::ParseQuery));
  r->Handle("GET,POST", "/api/v1/query_exemplars", bind(&QueryApi::QueryExemplars));
  r->Handle("GET", "/api/v1/status/runtimeinfo", bind(&QueryApi::RuntimeInfo));
  r->Handle("GET", "/api/v1/status/flags", bind(&QueryApi::Flags));
  r->Handle("GET", "/api/v1/status/config", bind(&QueryApi::Config));
  r->Handle("GET", "/query/instant", bind(&QueryApi::SeedInstant));
  r->Handle("GET", "/query/range", bind(&QueryApi::SeedRange));
}

bool QueryApi::EngineParams(const Request& req, promql::EngineOptions* eo,
                            Response* resp) const {
  if (std::string_view to = req.Param("timeout"); !to.empty()) {
    auto d = ParseDurationParam(to);
    if (!d.ok()) {
      InvalidParam(resp, "timeout", Msg(d.status()));
      return false;
    }
    // The request may shorten the server's limit, never lengthen it.
    if (eo->timeout_ms == 0 || (*d > 0 && *d < eo->timeout_ms)) eo->timeout_ms = *d;
  }
  if (std::string_view lb = req.Param("lookback_delta"); !lb.empty()) {
    auto d = ParseDurationParam(lb);
    if (!d.ok()) {
      RespondError(resp, "bad_data",
                   fmt::format("error parsing lookback delta duration: {}", Msg(d.status())));
      return false;
    }
    if (*d > 0) eo->lookback_delta_ms = *d;
  }
  return true;
}

void QueryApi::Query(const Request& req, Response* resp) const {
  const auto t0 = std::chrono::steady_clock::now();
  int64_t t, limit;
  if (!TimeParam(req, "time", false, now_ms_(), &t, resp)) return;
  promql::EngineOptions eo = opts_.engine;
  if (!EngineParams(req, &eo, resp) || !LimitParam(req, &limit, resp)) return;
  std::string_view text = req.Param("query");
  auto expr = promql::ParseExpr(text);
  if (!expr.ok()) return InvalidParam(resp, "query", Msg(expr.status()));
  Api::Lease lease = api_->NeedDb(resp);
  if (!lease) return;
  const auto t1 = std::chrono::steady_clock::now();
  promql::Engine engine(eo);
  auto res = engine.Exec(*lease.db(), req.tenant, **expr, t, t, 0, text);
  if (!res.ok()) return RespondError(resp, ErrorTypeFor(res.status()), Msg(res.status()));
  const auto t2 = std::chrono::steady_clock::now();
  ApplyLimit(limit, &*res);
  std::string stats;
  if (!req.Param("stats").empty()) stats = StatsJson(Seconds(t1 - t0), Seconds(t2 - t1), Seconds(t2 - t0));
  resp->Json(200, QuerySuccessJson(*res, stats));
}

void QueryApi::QueryRange(const Request& req, Response* resp) const {
  const auto t0 = std::chrono::steady_clock::now();
  int64_t start, end, limit;
  if (!TimeParam(req, "start", true, 0, &start, resp) ||
      !TimeParam(req, "end", true, 0, &end, resp)) {
    return;
  }
  if (end < start) return InvalidParam(resp, "end", "end timestamp must not be before start time");
  auto step = ParseDurationParam(req.Param("step"));
  if (!step.ok()) return InvalidParam(resp, "step", Msg(step.status()));
  if (*step <= 0) {
    return InvalidParam(resp, "step",
                        "zero or negative query resolution step widths are not accepted. "
                        "Try a positive integer");
  }
  if ((end - start) / *step > opts_.max_points_per_series) {
    return RespondError(resp, "bad_data",
                        "exceeded maximum resolution of 11,000 points per timeseries. Try "
                        "decreasing the query resolution (?step=XX)");
  }
  promql::EngineOptions eo = opts_.engine;
  if (!EngineParams(req, &eo, resp) || !LimitParam(req, &limit, resp)) return;
  std::string_view text = req.Param("query");
  promql::ExprPtr expr = ParseRangeQueryExpr(text, "query", resp);
  if (expr == nullptr) return;
  Api::Lease lease = api_->NeedDb(resp);
  if (!lease) return;
  const auto t1 = std::chrono::steady_clock::now();
  promql::Engine engine(eo);
  auto res = engine.Exec(*lease.db(), req.tenant, *expr, start, end, *step, text);
  if (!res.ok()) return RespondError(resp, ErrorTypeFor(res.status()), Msg(res.status()));
  const auto t2 = std::chrono::steady_clock::now();
  ApplyLimit(limit, &*res);
  std::string stats;
  if (!req.Param("stats").empty()) stats = StatsJson(Seconds(t1 - t0), Seconds(t2 - t1), Seconds(t2 - t0));
  resp->Json(200, QuerySuccessJson(*res, stats));
}

void QueryApi::FormatQuery(const Request& req, Response* resp) const {
  auto expr = promql::ParseExpr(req.Param("query"));
  if (!expr.ok()) return InvalidParam(resp, "query", Msg(expr.status()));
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").String(promql::Prettify(**expr));
  w.EndObject();
  resp->Json(200, std::move(out));
}

void QueryApi::ParseQuery(const Request& req, Response* resp) const {
  auto expr = promql::ParseExpr(req.Param("query"));
  if (!expr.ok()) return InvalidParam(resp, "query", Msg(expr.status()));
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data");
  WriteAst(w, **expr);
  w.EndObject();
  resp->Json(200, std::move(out));
}

namespace {

// Every vector selector's matchers, depth first, as Prometheus's parser.ExtractSelectors.
void ExtractSelectors(const promql::Expr& e, std::vector<model::Matchers>* out) {
  using promql::NodeKind;
  switch (e.kind) {
    case NodeKind::kVectorSelector:
      out->push_back(static_cast<const promql::VectorSelector&>(e).matchers);
      break;
    case NodeKind::kMatrixSelector:
      ExtractSelectors(*static_cast<const promql::MatrixSelector&>(e).vs, out);
      break;
    case NodeKind::kSubquery:
      ExtractSelectors(*static_cast<const promql::SubqueryExpr&>(e).expr, out);
      break;
    case NodeKind::kParen:
      ExtractSelectors(*static_cast<const promql::ParenExpr&>(e).expr, out);
      break;
    case NodeKind::kUnary:
      ExtractSelectors(*static_cast<const promql::UnaryExpr&>(e).expr, out);
      break;
    case NodeKind::kBinary: {
      const auto& b = static_cast<const promql::BinaryExpr&>(e);
      ExtractSelectors(*b.lhs, out);
      ExtractSelectors(*b.rhs, out);
      break;
    }
    case NodeKind::kCall:
      for (const promql::ExprPtr& a : static_cast<const promql::Call&>(e).args) {
        if (a != nullptr) ExtractSelectors(*a, out);
      }
      break;
    case NodeKind::kAggregate: {
      const auto& a = static_cast<const promql::AggregateExpr&>(e);
      if (a.param != nullptr) ExtractSelectors(*a.param, out);
      ExtractSelectors(*a.expr, out);
      break;
    }
    default:
      break;
  }
}

}  // namespace

void QueryApi::QueryExemplars(const Request& req, Response* resp) const {
  // Prometheus's checks and wording: start and end default to the whole time range, the
  // query's selectors choose the series, and an expression without any selector answers
  // null.
  int64_t start, end;
  if (!TimeParam(req, "start", false, std::numeric_limits<int64_t>::min(), &start, resp) ||
      !TimeParam(req, "end", false, std::numeric_limits<int64_t>::max(), &end, resp)) {
    return;
  }
  if (end < start) {
    return RespondError(resp, "bad_data", "end timestamp must not be before start timestamp");
  }
  auto expr = promql::ParseExpr(req.Param("query"));
  if (!expr.ok()) return RespondError(resp, "bad_data", Msg(expr.status()));
  std::vector<model::Matchers> selectors;
  ExtractSelectors(**expr, &selectors);
  if (selectors.empty()) return resp->Json(200, "{\"status\":\"success\",\"data\":null}");
  std::vector<storage::ExemplarQueryResult> res;
  if (opts_.exemplars != nullptr) {
    res = opts_.exemplars->SelectExemplars(req.tenant, start, end, selectors);
  }
  std::string out = "{\"status\":\"success\",\"data\":[";
  for (size_t i = 0; i < res.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"seriesLabels\":");
    AppendLabelsObject(&out, res[i].series_labels);
    out.append(",\"exemplars\":[");
    for (size_t j = 0; j < res[i].exemplars.size(); ++j) {
      const storage::Exemplar& e = res[i].exemplars[j];
      if (j > 0) out.push_back(',');
      out.append("{\"labels\":");
      AppendLabelsObject(&out, e.labels);
      out.append(",\"value\":\"");
      AppendPromValue(&out, e.value);
      out.append("\",\"timestamp\":");
      AppendPromTimestamp(&out, e.t);
      out.push_back('}');
    }
    out.append("]}");
  }
  out.append("]}");
  resp->Json(200, std::move(out));
}

void QueryApi::RuntimeInfo(const Request&, Response* resp) const {
  int64_t corruptions = 0;
  {
    Api::Lease lease = api_->NeedDb(resp);
    if (lease) corruptions = lease.db()->GetStats().wal_corruptions_repaired;
  }
  int threads = 0;
  {
    std::ifstream status("/proc/self/status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.starts_with("Threads:")) threads = std::atoi(line.c_str() + 8);
    }
  }
  char cwd[4096];
  const char* dir = getcwd(cwd, sizeof(cwd)) != nullptr ? cwd : "";
  auto rfc3339 = [](int64_t ms) {
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900,
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
  };
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  w.Key("startTime").String(rfc3339(start_time_ms_)).Key("CWD").String(dir);
  w.Key("reloadConfigSuccess").Bool(true).Key("lastConfigTime").String(rfc3339(start_time_ms_));
  w.Key("corruptionCount").Int(corruptions);
  // Go runtime fields, answered with their closest meaning here: threads for goroutines,
  // cores for GOMAXPROCS.
  w.Key("goroutineCount").Int(threads);
  w.Key("GOMAXPROCS").Int(static_cast<int64_t>(std::thread::hardware_concurrency()));
  w.Key("GOGC").String("").Key("GODEBUG").String("");
  w.Key("storageRetention").String(opts_.storage_retention);
  w.EndObject().EndObject();
  resp->Json(200, std::move(out));
}

void QueryApi::Flags(const Request&, Response* resp) const {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  for (const auto& [k, v] : opts_.flags) w.Key(k).String(v);
  w.EndObject().EndObject();
  resp->Json(200, std::move(out));
}

void QueryApi::Config(const Request&, Response* resp) const {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("data").BeginObject();
  std::string yaml;
  {
    std::lock_guard lock(config_mu_);
    yaml = config_yaml_;
  }
  w.Key("yaml").String(yaml).EndObject().EndObject();
  resp->Json(200, std::move(out));
}

void QueryApi::SeedInstant(const Request& req, Response* resp) const {
  int64_t t;
  if (!TimeParam(req, "time", false, now_ms_(), &t, resp)) return;
  std::string_view text = req.Param("expr");
  if (text.empty()) text = req.Param("query");
  if (text.empty()) return RespondError(resp, "bad_data", "missing parameter \"expr\"");
  promql::EngineOptions eo = opts_.engine;
  if (!EngineParams(req, &eo, resp)) return;
  auto expr = promql::ParseExpr(text);
  if (!expr.ok()) return InvalidParam(resp, "expr", Msg(expr.status()));
  Api::Lease lease = api_->NeedDb(resp);
  if (!lease) return;
  auto res = promql::Engine(eo).Exec(*lease.db(), req.tenant, **expr, t, t, 0, text);
  if (!res.ok()) return RespondError(resp, ErrorTypeFor(res.status()), Msg(res.status()));
  std::string out = "{\"status\":\"success\",\"data\":";
  AppendSeedData(&out, *res);
  out.push_back('}');
  resp->Json(200, std::move(out));
}

void QueryApi::SeedRange(const Request& req, Response* resp) const {
  const int64_t now = now_ms_();
  int64_t start, end;
  if (!TimeParam(req, "end", false, now, &end, resp) ||
      !TimeParam(req, "start", false, end - 3'600'000, &start, resp)) {
    return;
  }
  if (end < start) return InvalidParam(resp, "end", "end timestamp must not be before start time");
  int64_t step = 60'000;
  if (std::string_view s = req.Param("step"); !s.empty()) {
    auto d = ParseDurationParam(s);
    if (!d.ok()) return InvalidParam(resp, "step", Msg(d.status()));
    step = *d;
  }
  if (step <= 0) {
    return InvalidParam(resp, "step",
                        "zero or negative query resolution step widths are not accepted. "
                        "Try a positive integer");
  }
  if ((end - start) / step > opts_.max_points_per_series) {
    return RespondError(resp, "bad_data",
                        "exceeded maximum resolution of 11,000 points per timeseries. Try "
                        "decreasing the query resolution (?step=XX)");
  }
  // Either a whole expression, or a metric name and labels that make a selector.
  std::string text(req.Param("expr"));
  if (text.empty()) {
    std::string_view metric = req.Param("metric");
    std::string_view labels = req.Param("labels");
    if (metric.empty() && labels.empty()) {
      return RespondError(resp, "bad_data", "missing parameter \"metric\" (or \"expr\")");
    }
    if (!metric.empty() && !model::IsValidMetricName(metric)) {
      return InvalidParam(resp, "metric", fmt::format("invalid metric name \"{}\"", metric));
    }
    text = std::string(metric);
    if (!labels.empty()) {
      // A JSON object of exact values, or PromQL matchers in braces.
      auto pairs = ParseFlatJsonObject(labels);
      if (pairs.ok()) {
        text.push_back('{');
        for (size_t i = 0; i < pairs->size(); ++i) {
          const auto& [k, v] = (*pairs)[i];
          if (!model::IsValidLabelName(k)) {
            return InvalidParam(resp, "labels", fmt::format("invalid label name \"{}\"", k));
          }
          if (i > 0) text.push_back(',');
          text += k + "=" + promql::QuoteString(v);
        }
        text.push_back('}');
      } else {
        text.append(labels);
      }
    }
    auto sel = promql::ParseMetricSelector(text);
    if (!sel.ok()) return InvalidParam(resp, "labels", Msg(sel.status()));
  }
  promql::EngineOptions eo = opts_.engine;
  if (!EngineParams(req, &eo, resp)) return;
  promql::ExprPtr expr = ParseRangeQueryExpr(text, "expr", resp);
  if (expr == nullptr) return;
  Api::Lease lease = api_->NeedDb(resp);
  if (!lease) return;
  auto res = promql::Engine(eo).Exec(*lease.db(), req.tenant, *expr, start, end, step, text);
  if (!res.ok()) return RespondError(resp, ErrorTypeFor(res.status()), Msg(res.status()));
  std::string out = "{\"status\":\"success\",\"data\":";
  AppendSeedData(&out, *res);
  out.push_back('}');
  resp->Json(200, std::move(out));
}

}  // namespace vigil::http
