// DecodeJson: the seed API's JSON list -> DecodedBatch (see push_decoders.h).
#include <cmath>
#include <limits>

#include "fmt/format.h"
#include "ingest/push_decoders.h"
#include "simdjson.h"

namespace vigil::ingest {
namespace {

constexpr double kSecondsBelow = 1e11;

std::string_view Sv(std::string_view s) { return s; }

absl::Status Bad(size_t index, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("cannot parse metric #{}: {}", index, what));
}

// simdjson reports malformed input through is_null() too; reading its result with get()
// keeps that an error value (the implicit conversion would throw).
bool IsNull(simdjson::ondemand::value& v, size_t index, absl::Status* st) {
  bool null = false;
  if (auto err = v.is_null().get(null); err != simdjson::SUCCESS) {
    *st = Bad(index, simdjson::error_message(err));
    return false;
  }
  return null;
}

absl::Status DecodeOne(simdjson::ondemand::object obj, size_t index, int64_t now_ms,
                       DecodedBatch* out) {
  std::string name;
  bool have_name = false, have_value = false;
  double value = 0;
  std::optional<double> ts;
  std::vector<model::Label> labels;
  absl::Status st;
  for (auto field : obj) {
    std::string_view key;
    if (field.unescaped_key().get(key) != simdjson::SUCCESS) return Bad(index, "invalid key");
    simdjson::ondemand::value v;
    if (field.value().get(v) != simdjson::SUCCESS) return Bad(index, "invalid value");
    if (key == "name") {
      std::string_view s;
      if (v.get_string().get(s) != simdjson::SUCCESS) return Bad(index, "\"name\" must be a string");
      name.assign(s);
      have_name = true;
    } else if (key == "labels") {
      if (IsNull(v, index, &st)) continue;
      if (!st.ok()) return st;
      simdjson::ondemand::object lo;
      if (v.get_object().get(lo) != simdjson::SUCCESS) {
        return Bad(index, "\"labels\" must be an object of strings");
      }
      for (auto lf : lo) {
        std::string_view ln, lv;
        if (lf.unescaped_key().get(ln) != simdjson::SUCCESS) return Bad(index, "invalid label name");
        if (lf.value().get_string().get(lv) != simdjson::SUCCESS) {
          return Bad(index, fmt::format("value of label \"{}\" must be a string", ln));
        }
        labels.push_back({std::string(ln), std::string(lv)});
      }
    } else if (key == "timestamp") {
      if (IsNull(v, index, &st)) continue;
      if (!st.ok()) return st;
      double d;
      if (v.get_double().get(d) != simdjson::SUCCESS) {
        return Bad(index, "\"timestamp\" must be a number (seconds below 1e11, else milliseconds)");
      }
      ts = d;
    } else if (key == "value") {
      simdjson::ondemand::json_type type;
      if (v.type().get(type) != simdjson::SUCCESS) return Bad(index, "invalid \"value\"");
      if (type == simdjson::ondemand::json_type::number) {
        if (v.get_double().get(value) != simdjson::SUCCESS) return Bad(index, "invalid \"value\"");
      } else if (type == simdjson::ondemand::json_type::string) {
        std::string_view s;
        if (v.get_string().get(s) != simdjson::SUCCESS) return Bad(index, "invalid \"value\"");
        if (s == "NaN") {
          value = std::numeric_limits<double>::quiet_NaN();
        } else if (s == "+Inf" || s == "Inf") {
          value = std::numeric_limits<double>::infinity();
        } else if (s == "-Inf") {
          value = -std::numeric_limits<double>::infinity();
        } else {
          std::string tmp(s);
          char* endp = nullptr;
          value = std::strtod(tmp.c_str(), &endp);
          if (tmp.empty() || endp != tmp.c_str() + tmp.size()) {
            return Bad(index, fmt::format("invalid \"value\" \"{}\"", Sv(s)));
          }
        }
      } else {
        return Bad(index, "\"value\" must be a number or a string");
      }
      have_value = true;
    }
    // Unknown keys are ignored, so senders may add fields.
  }
  if (!have_name) return Bad(index, "missing \"name\"");
  if (!have_value) return Bad(index, "missing \"value\"");
  int64_t t = now_ms;
  if (ts) {
    if (!std::isfinite(*ts)) {
      out->Refuse(kReasonInvalidTimestamp, 1, fmt::format("metric #{} {}: timestamp is not finite", index, name));
      return absl::OkStatus();
    }
    if (std::fabs(*ts) < kSecondsBelow) {
      t = static_cast<int64_t>(std::llround(*ts * 1000.0));
    } else if (std::fabs(*ts) < 9.2e18) {
      t = static_cast<int64_t>(std::llround(*ts));
    } else {
      out->Refuse(kReasonInvalidTimestamp, 1,
                  fmt::format("metric #{} {}: timestamp {} is out of range", index, name, *ts));
      return absl::OkStatus();
    }
  }
  PendingSample& s = out->samples.emplace_back();
  labels.push_back({std::string(model::kMetricName), std::move(name)});
  s.labels.mutable_vec() = std::move(labels);
  s.t = t;
  s.v = value;
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeJson(std::string_view body, int64_t now_ms, DecodedBatch* out) {
  simdjson::ondemand::parser parser;
  simdjson::padded_string padded(body.data(), body.size());
  simdjson::ondemand::document doc;
  if (auto err = parser.iterate(padded).get(doc); err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("cannot parse JSON: {}", simdjson::error_message(err)));
  }
  simdjson::ondemand::json_type type;
  if (auto err = doc.type().get(type); err != simdjson::SUCCESS) {
    return absl::InvalidArgumentError(fmt::format("cannot parse JSON: {}", simdjson::error_message(err)));
  }
  size_t index = 0;
  if (type == simdjson::ondemand::json_type::object) {
    simdjson::ondemand::object obj;
    if (auto err = doc.get_object().get(obj); err != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(fmt::format("cannot parse JSON: {}", simdjson::error_message(err)));
    }
    if (auto st = DecodeOne(obj, 0, now_ms, out); !st.ok()) return st;
  } else if (type == simdjson::ondemand::json_type::array) {
    simdjson::ondemand::array arr;
    if (auto err = doc.get_array().get(arr); err != simdjson::SUCCESS) {
      return absl::InvalidArgumentError(fmt::format("cannot parse JSON: {}", simdjson::error_message(err)));
    }
    for (auto elem : arr) {
      simdjson::ondemand::object obj;
      if (auto err = elem.get_object().get(obj); err != simdjson::SUCCESS) {
        return Bad(index, fmt::format("expected an object ({})", simdjson::error_message(err)));
      }
      if (auto st = DecodeOne(obj, index, now_ms, out); !st.ok()) return st;
      ++index;
    }
  } else {
    return absl::InvalidArgumentError("cannot parse JSON: expected an array of metrics or one metric object");
  }
  return absl::OkStatus();
}

}  // namespace vigil::ingest
