#include "ingest/otlp.h"

#include <map>

#include "base/metrics.h"
#include "fmt/format.h"
#include "model/sample.h"
#include "google/protobuf/util/json_util.h"
#include "otlp_metrics.pb.h"

namespace vigil::ingest {
namespace {

namespace pb = ::vigil::otlp;

std::string_view UnitWord(std::string_view u) {
  static const std::map<std::string_view, std::string_view> kUnits = {
      {"d", "days"},          {"h", "hours"},         {"min", "minutes"},
      {"s", "seconds"},       {"ms", "milliseconds"}, {"us", "microseconds"},
      {"ns", "nanoseconds"},  {"By", "bytes"},        {"KiBy", "kibibytes"},
      {"MiBy", "mebibytes"},  {"GiBy", "gibibytes"},  {"TiBy", "tibibytes"},
      {"KBy", "kilobytes"},   {"MBy", "megabytes"},   {"GBy", "gigabytes"},
      {"TBy", "terabytes"},   {"m", "meters"},        {"V", "volts"},
      {"A", "amperes"},       {"J", "joules"},        {"W", "watts"},
      {"g", "grams"},         {"Cel", "celsius"},     {"Hz", "hertz"},
      {"%", "percent"},       {"bit", "bits"},
  };
  auto it = kUnits.find(u);
  return it == kUnits.end() ? u : it->second;
}

std::string_view PerUnitWord(std::string_view u) {
  static const std::map<std::string_view, std::string_view> kPer = {
      {"s", "second"}, {"m", "minute"}, {"h", "hour"}, {"d", "day"},
      {"w", "week"},   {"mo", "month"}, {"y", "year"},
  };
  auto it = kPer.find(u);
  return it == kPer.end() ? u : it->second;
}

// Splits on characters outside [a-zA-Z0-9] (and ':'), dropping empty pieces.
std::vector<std::string> Words(std::string_view s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ':') {
      cur.push_back(c);
    } else if (!cur.empty()) {
      out.push_back(std::move(cur));
      cur.clear();
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string AttrValue(const pb::AnyValue& v) {
  switch (v.value_case()) {
    case pb::AnyValue::kStringValue: return v.string_value();
    case pb::AnyValue::kBoolValue: return v.bool_value() ? "true" : "false";
    case pb::AnyValue::kIntValue: return std::to_string(v.int_value());
    case pb::AnyValue::kDoubleValue: return metrics::FormatValue(v.double_value());
    case pb::AnyValue::kArrayValue: {
      std::string out = "[";
      for (int i = 0; i < v.array_value().values_size(); ++i) {
        if (i > 0) out += ",";
        out += AttrValue(v.array_value().values(i));
      }
      return out + "]";
    }
    case pb::AnyValue::kKvlistValue: {
      std::string out = "{";
      for (int i = 0; i < v.kvlist_value().values_size(); ++i) {
        if (i > 0) out += ",";
        out += v.kvlist_value().values(i).key() + ":" + AttrValue(v.kvlist_value().values(i).value());
      }
      return out + "}";
    }
    case pb::AnyValue::kBytesValue: return v.bytes_value();
    case pb::AnyValue::VALUE_NOT_SET: break;
  }
  return "";
}

std::string LabelName(std::string_view key) {
  std::string n = SanitizeName(key, true);
  if (!n.empty() && n[0] == '_' && !key.empty() && key[0] >= '0' && key[0] <= '9') {
    n = "key" + n;  // "_0abc" from a leading digit becomes "key_0abc"
  }
  return n;
}

// Adds attributes as labels; two keys that sanitize to one name have their values joined
// with ';', as Prometheus does.
void AddAttrs(const google::protobuf::RepeatedPtrField<pb::KeyValue>& attrs,
              std::map<std::string, std::string>* out) {
  for (const auto& kv : attrs) {
    std::string name = LabelName(kv.key());
    std::string value = AttrValue(kv.value());
    if (name.empty() || value.empty()) continue;
    auto [it, inserted] = out->emplace(name, value);
    if (!inserted) it->second += ";" + value;
  }
}

int64_t NanosToMs(uint64_t ns, int64_t now_ms) {
  return ns == 0 ? now_ms : static_cast<int64_t>(ns / 1'000'000);
}

struct Emitter {
  DecodedBatch* out;
  const std::map<std::string, std::string>* resource_labels;  // job, instance

  void Emit(const std::map<std::string, std::string>& attrs, const std::string& name,
            std::string_view extra_name, std::string_view extra_value, int64_t t, double v) {
    PendingSample& s = out->samples.emplace_back();
    auto& vec = s.labels.mutable_vec();
    vec.reserve(attrs.size() + resource_labels->size() + 2);
    for (const auto& [k, val] : *resource_labels) vec.push_back({k, val});
    for (const auto& [k, val] : attrs) {
      if (resource_labels->count(k) == 0) vec.push_back({k, val});
    }
    if (!extra_name.empty()) vec.push_back({std::string(extra_name), std::string(extra_value)});
    vec.push_back({std::string(model::kMetricName), name});
    s.t = t;
    s.v = v;
  }
};

}  // namespace

std::string OtlpMetricName(std::string_view name, std::string_view unit, OtlpKind kind) {
  std::vector<std::string> words = Words(name);
  // The unit without annotations in braces ("{requests}", "By{compressed}").
  std::string u;
  int depth = 0;
  for (char c : unit) {
    if (c == '{') ++depth;
    else if (c == '}') depth = std::max(0, depth - 1);
    else if (depth == 0) u.push_back(c);
  }
  std::vector<std::string> suffix;
  if (u == "1") {
    if (kind == OtlpKind::kGauge) suffix.push_back("ratio");
  } else if (!u.empty()) {
    const size_t slash = u.find('/');
    std::string_view main = std::string_view(u).substr(0, slash);
    for (auto& w : Words(UnitWord(main))) suffix.push_back(w);
    if (slash != std::string::npos) {
      std::string_view per = std::string_view(u).substr(slash + 1);
      if (!per.empty()) {
        suffix.push_back("per");
        for (auto& w : Words(PerUnitWord(per))) suffix.push_back(w);
      }
    }
  }
  if (kind == OtlpKind::kCounter) {
    std::erase(words, std::string("total"));
  }
  // Append the unit words unless the name already ends with them.
  bool has = suffix.size() <= words.size() && !suffix.empty();
  for (size_t i = 0; has && i < suffix.size(); ++i) {
    if (words[words.size() - suffix.size() + i] != suffix[i]) has = false;
  }
  if (!has) {
    for (auto& w : suffix) words.push_back(w);
  }
  if (kind == OtlpKind::kCounter) words.push_back("total");
  std::string out;
  for (const auto& w : words) {
    if (!out.empty()) out.push_back('_');
    out += w;
  }
  if (!out.empty() && out[0] >= '0' && out[0] <= '9') out = "_" + out;
  return out;
}

namespace {

// The mapping shared by both encodings of a request.
absl::Status MapRequest(const pb::ExportMetricsServiceRequest& req, int64_t now_ms,
                        DecodedBatch* out) {
  for (const auto& rm : req.resource_metrics()) {
    std::map<std::string, std::string> res;  // job, instance
    std::map<std::string, std::string> info;  // target_info's other attributes
    std::string service_name, service_ns;
    for (const auto& kv : rm.resource().attributes()) {
      const std::string& k = kv.key();
      std::string v = AttrValue(kv.value());
      if (k == "service.name") service_name = v;
      else if (k == "service.namespace") service_ns = v;
      else if (k == "service.instance.id") res["instance"] = v;
    }
    if (!service_name.empty()) {
      res["job"] = service_ns.empty() ? service_name : service_ns + "/" + service_name;
    }
    for (const auto& kv : rm.resource().attributes()) {
      const std::string& k = kv.key();
      if (k == "service.name" || k == "service.namespace" || k == "service.instance.id") continue;
      std::string n = LabelName(k);
      std::string v = AttrValue(kv.value());
      if (n.empty() || v.empty() || n == "job" || n == "instance") continue;
      auto [it, inserted] = info.emplace(n, v);
      if (!inserted) it->second += ";" + v;
    }
    Emitter em{out, &res};
    int64_t latest = 0;
    std::map<std::string, std::string> attrs;
    for (const auto& sm : rm.scope_metrics()) {
      for (const auto& m : sm.metrics()) {
        const std::string& mname = m.name();
        auto add_meta = [&](const std::string& family, std::string_view type) {
          out->metadata.push_back({family, std::string(type), m.description(), ""});
        };
        switch (m.data_case()) {
          case pb::Metric::kGauge:
          case pb::Metric::kSum: {
            const bool is_sum = m.data_case() == pb::Metric::kSum;
            const auto& points = is_sum ? m.sum().data_points() : m.gauge().data_points();
            if (is_sum && m.sum().aggregation_temporality() == pb::AGGREGATION_TEMPORALITY_DELTA) {
              out->Refuse(kReasonUnsupported, points.size(),
                          fmt::format("metric \"{}\": delta temporality is not supported", mname));
              break;
            }
            const bool counter = is_sum && m.sum().is_monotonic();
            std::string name =
                OtlpMetricName(mname, m.unit(), counter ? OtlpKind::kCounter : OtlpKind::kGauge);
            add_meta(name, counter ? "counter" : "gauge");
            for (const auto& p : points) {
              attrs.clear();
              AddAttrs(p.attributes(), &attrs);
              const int64_t t = NanosToMs(p.time_unix_nano(), now_ms);
              latest = std::max(latest, t);
              double v = p.value_case() == pb::NumberDataPoint::kAsInt
                             ? static_cast<double>(p.as_int())
                             : p.as_double();
              if (p.flags() & 1) v = model::StaleNaN();
              em.Emit(attrs, name, "", "", t, v);
            }
            break;
          }
          case pb::Metric::kHistogram: {
            const auto& h = m.histogram();
            if (h.aggregation_temporality() == pb::AGGREGATION_TEMPORALITY_DELTA) {
              out->Refuse(kReasonUnsupported, h.data_points_size(),
                          fmt::format("metric \"{}\": delta temporality is not supported", mname));
              break;
            }
            std::string base = OtlpMetricName(mname, m.unit(), OtlpKind::kOther);
            add_meta(base, "histogram");
            for (const auto& p : h.data_points()) {
              attrs.clear();
              AddAttrs(p.attributes(), &attrs);
              const int64_t t = NanosToMs(p.time_unix_nano(), now_ms);
              latest = std::max(latest, t);
              const bool stale = p.flags() & 1;
              auto val = [&](double v) { return stale ? model::StaleNaN() : v; };
              uint64_t cum = 0;
              for (int i = 0; i < p.bucket_counts_size(); ++i) {
                cum += p.bucket_counts(i);
                std::string le = i < p.explicit_bounds_size()
                                     ? metrics::FormatValue(p.explicit_bounds(i))
                                     : std::string("+Inf");
                em.Emit(attrs, base + "_bucket", "le", le, t, val(static_cast<double>(cum)));
              }
              if (p.bucket_counts_size() <= p.explicit_bounds_size()) {
                // No +Inf bucket sent: it holds every observation.
                em.Emit(attrs, base + "_bucket", "le", "+Inf", t, val(static_cast<double>(p.count())));
              }
              if (p.has_sum()) em.Emit(attrs, base + "_sum", "", "", t, val(p.sum()));
              em.Emit(attrs, base + "_count", "", "", t, val(static_cast<double>(p.count())));
            }
            break;
          }
          case pb::Metric::kSummary: {
            std::string base = OtlpMetricName(mname, m.unit(), OtlpKind::kOther);
            add_meta(base, "summary");
            for (const auto& p : m.summary().data_points()) {
              attrs.clear();
              AddAttrs(p.attributes(), &attrs);
              const int64_t t = NanosToMs(p.time_unix_nano(), now_ms);
              latest = std::max(latest, t);
              const bool stale = p.flags() & 1;
              auto val = [&](double v) { return stale ? model::StaleNaN() : v; };
              for (const auto& q : p.quantile_values()) {
                em.Emit(attrs, base, "quantile", metrics::FormatValue(q.quantile()), t, val(q.value()));
              }
              em.Emit(attrs, base + "_sum", "", "", t, val(p.sum()));
              em.Emit(attrs, base + "_count", "", "", t, val(static_cast<double>(p.count())));
            }
            break;
          }
          case pb::Metric::kExponentialHistogram:
            out->Refuse(kReasonUnsupported, m.exponential_histogram().data_points_size(),
                        fmt::format("metric \"{}\": exponential histograms are not supported", mname));
            break;
          case pb::Metric::DATA_NOT_SET:
            break;
        }
      }
    }
    if (!info.empty() && latest > 0) {
      em.Emit(info, "target_info", "", "", latest, 1);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeOtlp(std::string_view body, int64_t now_ms, DecodedBatch* out) {
  pb::ExportMetricsServiceRequest req;
  if (!req.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    return absl::InvalidArgumentError("cannot parse OTLP metrics request: invalid protobuf");
  }
  return MapRequest(req, now_ms, out);
}

absl::Status DecodeOtlpJson(std::string_view body, int64_t now_ms, DecodedBatch* out) {
  pb::ExportMetricsServiceRequest req;
  google::protobuf::util::JsonParseOptions opts;
  // Fields Vigil's schema leaves out (exemplars, schema URLs, ...) are skipped, as the
  // protobuf decoder skips them.
  opts.ignore_unknown_fields = true;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(body.data(), body.size()), &req, opts);
  if (!st.ok()) {
    return absl::InvalidArgumentError(
        fmt::format("cannot parse OTLP metrics request: invalid JSON: {}", st.ToString()));
  }
  return MapRequest(req, now_ms, out);
}

}  // namespace vigil::ingest

namespace vigil::ingest {
std::string OtlpResponse(int64_t rejected, std::string_view message, bool json) {
  otlp::ExportMetricsServiceResponse resp;
  if (rejected > 0 || !message.empty()) {
    resp.mutable_partial_success()->set_rejected_data_points(rejected);
    resp.mutable_partial_success()->set_error_message(std::string(message));
  }
  if (!json) return resp.SerializeAsString();
  std::string out;
  // Cannot fail: the message has no Any fields and its strings are valid UTF-8 (the
  // message comes from our own validation, which reports invalid UTF-8 escaped).
  (void)google::protobuf::util::MessageToJsonString(resp, &out);
  return out;
}
}  // namespace vigil::ingest
