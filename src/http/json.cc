#include "http/json.h"

#include <charconv>
#include <cmath>

#include "base/json_string.h"
#include "fmt/format.h"

namespace vigil::http {

void AppendJsonString(std::string* out, std::string_view s) { vigil::AppendJsonString(out, s); }

namespace {

// Go writes exponents with at least two digits and a sign ("1e-07", "1e+21"); C++'s
// to_chars writes the same shape, so only the mantissa rules need care.
std::string Chars(double v, std::chars_format f) {
  char buf[400];  // fixed notation of 1e308 needs 309 digits
  auto r = std::to_chars(buf, buf + sizeof(buf), v, f);
  return std::string(buf, r.ptr);
}

}  // namespace

std::string FormatPromValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  const double a = std::fabs(v);
  if (a != 0 && (a < 1e-6 || a >= 1e21)) return Chars(v, std::chars_format::scientific);
  return Chars(v, std::chars_format::fixed);
}

void AppendPromTimestamp(std::string* out, int64_t ms) {
  uint64_t u = ms < 0 ? (0 - static_cast<uint64_t>(ms)) : static_cast<uint64_t>(ms);
  if (ms < 0) out->push_back('-');
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof(buf), u / 1000);
  out->append(buf, r.ptr);
  uint64_t frac = u % 1000;
  if (frac != 0) {
    // Prometheus writes the milliseconds zero-padded to three digits and keeps trailing
    // zeros (1500 ms -> "1.500"), the same number as "1.5" to any JSON reader.
    char buf[4] = {'.', static_cast<char>('0' + frac / 100),
                   static_cast<char>('0' + frac / 10 % 10), static_cast<char>('0' + frac % 10)};
    out->append(buf, 4);
  }
}

void AppendJsonNumber(std::string* out, double v) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "Infinity" : "-Infinity");
  } else {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr);
  }
}

void JsonWriter::Sep() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (!has_elem_.empty()) {
    if (has_elem_.back()) out_->push_back(',');
    has_elem_.back() = true;
  }
}

JsonWriter& JsonWriter::Open(char c) {
  Sep();
  out_->push_back(c);
  has_elem_.push_back(false);
  return *this;
}

JsonWriter& JsonWriter::Close(char c) {
  out_->push_back(c);
  if (!has_elem_.empty()) has_elem_.pop_back();
  return *this;
}

JsonWriter& JsonWriter::Key(std::string_view k) {
  Sep();
  AppendJsonString(out_, k);
  out_->push_back(':');
  after_key_ = true;
  return *this;
}

JsonWriter& JsonWriter::String(std::string_view s) {
  Sep();
  AppendJsonString(out_, s);
  return *this;
}

JsonWriter& JsonWriter::Int(int64_t v) {
  Sep();
  fmt::format_to(std::back_inserter(*out_), "{}", v);
  return *this;
}

JsonWriter& JsonWriter::Number(double v) {
  Sep();
  AppendJsonNumber(out_, v);
  return *this;
}

JsonWriter& JsonWriter::Bool(bool b) {
  Sep();
  out_->append(b ? "true" : "false");
  return *this;
}

JsonWriter& JsonWriter::Null() {
  Sep();
  out_->append("null");
  return *this;
}

JsonWriter& JsonWriter::Raw(std::string_view json) {
  Sep();
  out_->append(json);
  return *this;
}

std::string ErrorJson(std::string_view type, std::string_view message) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("error").Key("errorType").String(type);
  w.Key("error").String(message).EndObject();
  return out;
}

}  // namespace vigil::http
