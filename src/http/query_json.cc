#include "http/query_json.h"

#include <charconv>
#include <cmath>

#include "http/json.h"

namespace vigil::http {
namespace {

// Appends a non-negative integer without going through a formatting library.
void AppendInt(std::string* out, int64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// [<seconds>,"<value>"]
void AppendPoint(std::string* out, int64_t t, double v) {
  out->push_back('[');
  AppendPromTimestamp(out, t);
  out->append(",\"");
  AppendPromValue(out, v);
  out->append("\"]");
}

// A value of Vigil's own API: a JSON number, or "NaN" / "+Inf" / "-Inf" as strings since
// JSON has no such numbers.
void AppendSeedValue(std::string* out, double v) {
  if (!std::isfinite(v)) {
    out->push_back('"');
    AppendPromValue(out, v);
    out->push_back('"');
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  out->append(buf, r.ptr);
}

// "name":"<metric name>","labels":{<the other labels>}
void AppendSeedMetric(std::string* out, const model::Labels& ls) {
  out->append("\"name\":");
  AppendJsonString(out, ls.MetricName());
  out->append(",\"labels\":{");
  bool first = true;
  for (const auto& l : ls) {
    if (l.name == model::kMetricName) continue;
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, l.name);
    out->push_back(':');
    AppendJsonString(out, l.value);
  }
  out->push_back('}');
}

void AppendStrings(std::string* out, std::string_view key,
                   const std::vector<std::string>& list) {
  if (list.empty()) return;
  out->append(",\"");
  out->append(key);
  out->append("\":[");
  for (size_t i = 0; i < list.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(out, list[i]);
  }
  out->push_back(']');
}

const char* ResultTypeName(promql::ValueType t) {
  switch (t) {
    case promql::ValueType::kScalar: return "scalar";
    case promql::ValueType::kVector: return "vector";
    case promql::ValueType::kMatrix: return "matrix";
    case promql::ValueType::kString: return "string";
    case promql::ValueType::kNone: break;
  }
  return "vector";
}

}  // namespace

void AppendPromValue(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
    return;
  }
  if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
    return;
  }
  // Go's strconv.FormatFloat(v, 'f' or 'e', -1, 64): the shortest digits that round-trip,
  // in exponent form below 1e-6 and from 1e21 up. Both forms agree with std::to_chars,
  // exponents included ("1e-07", "1e+21").
  const double a = std::fabs(v);
  const bool sci = a != 0 && (a < 1e-6 || a >= 1e21);
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v,
                         sci ? std::chars_format::scientific : std::chars_format::fixed);
  out->append(buf, r.ptr);
}

void AppendLabelsObject(std::string* out, const model::Labels& ls) {
  out->push_back('{');
  bool first = true;
  for (const auto& l : ls) {
    if (!first) out->push_back(',');
    first = false;
    AppendJsonString(out, l.name);
    out->push_back(':');
    AppendJsonString(out, l.value);
  }
  out->push_back('}');
}

void AppendQueryData(std::string* out, const promql::QueryResult& r,
                     std::string_view stats_json) {
  out->append("{\"resultType\":\"");
  out->append(ResultTypeName(r.type));
  out->append("\",\"result\":");
  switch (r.type) {
    case promql::ValueType::kScalar:
      AppendPoint(out, r.scalar.t, r.scalar.v);
      break;
    case promql::ValueType::kString:
      out->push_back('[');
      AppendPromTimestamp(out, r.string_t);
      out->push_back(',');
      AppendJsonString(out, r.string);
      out->push_back(']');
      break;
    case promql::ValueType::kMatrix: {
      out->push_back('[');
      // A rough reservation: about 24 bytes per point saves most regrowth of big answers.
      size_t points = 0;
      for (const auto& s : r.matrix) points += s.points.size();
      out->reserve(out->size() + points * 24 + r.matrix.size() * 64);
      for (size_t i = 0; i < r.matrix.size(); ++i) {
        const promql::Series& s = r.matrix[i];
        if (i > 0) out->push_back(',');
        out->append("{\"metric\":");
        AppendLabelsObject(out, s.labels);
        out->append(",\"values\":[");
        for (size_t k = 0; k < s.points.size(); ++k) {
          if (k > 0) out->push_back(',');
          AppendPoint(out, s.points[k].t, s.points[k].v);
        }
        out->append("]}");
      }
      out->push_back(']');
      break;
    }
    case promql::ValueType::kVector:
    case promql::ValueType::kNone: {
      out->push_back('[');
      for (size_t i = 0; i < r.vector.size(); ++i) {
        const promql::Sample& s = r.vector[i];
        if (i > 0) out->push_back(',');
        out->append("{\"metric\":");
        AppendLabelsObject(out, s.labels);
        out->append(",\"value\":");
        AppendPoint(out, s.t, s.v);
        out->push_back('}');
      }
      out->push_back(']');
      break;
    }
  }
  if (!stats_json.empty()) {
    out->append(",\"stats\":");
    out->append(stats_json);
  }
  out->push_back('}');
}

void AppendSeedData(std::string* out, const promql::QueryResult& r) {
  out->append("{\"resultType\":\"");
  out->append(ResultTypeName(r.type));
  out->append("\",\"result\":");
  switch (r.type) {
    case promql::ValueType::kScalar:
      out->append("{\"timestamp\":");
      AppendInt(out, r.scalar.t);
      out->append(",\"value\":");
      AppendSeedValue(out, r.scalar.v);
      out->push_back('}');
      break;
    case promql::ValueType::kString:
      out->append("{\"timestamp\":");
      AppendInt(out, r.string_t);
      out->append(",\"value\":");
      AppendJsonString(out, r.string);
      out->push_back('}');
      break;
    case promql::ValueType::kMatrix:
      out->push_back('[');
      for (size_t i = 0; i < r.matrix.size(); ++i) {
        const promql::Series& s = r.matrix[i];
        if (i > 0) out->push_back(',');
        out->push_back('{');
        AppendSeedMetric(out, s.labels);
        out->append(",\"timestamps\":[");
        for (size_t k = 0; k < s.points.size(); ++k) {
          if (k > 0) out->push_back(',');
          AppendInt(out, s.points[k].t);
        }
        out->append("],\"values\":[");
        for (size_t k = 0; k < s.points.size(); ++k) {
          if (k > 0) out->push_back(',');
          AppendSeedValue(out, s.points[k].v);
        }
        out->append("]}");
      }
      out->push_back(']');
      break;
    case promql::ValueType::kVector:
    case promql::ValueType::kNone:
      out->push_back('[');
      for (size_t i = 0; i < r.vector.size(); ++i) {
        const promql::Sample& s = r.vector[i];
        if (i > 0) out->push_back(',');
        out->push_back('{');
        AppendSeedMetric(out, s.labels);
        out->append(",\"timestamp\":");
        AppendInt(out, s.t);
        out->append(",\"value\":");
        AppendSeedValue(out, s.v);
        out->push_back('}');
      }
      out->push_back(']');
      break;
  }
  AppendStrings(out, "warnings", r.warnings);
  AppendStrings(out, "infos", r.infos);
  out->push_back('}');
}

std::string QuerySuccessJson(const promql::QueryResult& r, std::string_view stats_json) {
  std::string out;
  out.reserve(256);
  out.append("{\"status\":\"success\",\"data\":");
  AppendQueryData(&out, r, stats_json);
  AppendStrings(&out, "warnings", r.warnings);
  AppendStrings(&out, "infos", r.infos);
  out.push_back('}');
  return out;
}

}  // namespace vigil::http
