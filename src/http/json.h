// JSON output helpers that match what Prometheus's HTTP API writes byte for byte.
//
// Prometheus encodes with Go's standard-library rules: strings escape '"', '\\', control
// characters, and also '<', '>', '&', U+2028 and U+2029 (HTML-safe). Sample values are
// strings formatted like strconv.FormatFloat(v, 'f', -1, 64), switching to the 'e' form
// below 1e-6 and from 1e21 up, with "NaN", "+Inf" and "-Inf"; timestamps are seconds with
// three decimals when not whole (1500 ms -> "1.500", 2000 ms -> "2").
//
// JsonWriter appends to a string and inserts commas itself, so handlers read like the JSON
// they produce. It does not check nesting; the handlers' tests do.
//
// Thread-safety: a JsonWriter belongs to one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vigil::http {

// Appends `s` quoted and escaped as Go's encoding/json does.
void AppendJsonString(std::string* out, std::string_view s);
// Prometheus's sample value format (without quotes).
std::string FormatPromValue(double v);
// Prometheus's timestamp format: milliseconds -> seconds with up to three decimals.
void AppendPromTimestamp(std::string* out, int64_t ms);
// A JSON number for `v` (shortest round-trip); NaN and infinities, which JSON lacks, are
// written as NaN, Infinity and -Infinity, which Python's and JavaScript's readers accept.
void AppendJsonNumber(std::string* out, double v);

class JsonWriter {
 public:
  explicit JsonWriter(std::string* out) : out_(out) {}

  JsonWriter& BeginObject() { return Open('{'); }
  JsonWriter& EndObject() { return Close('}'); }
  JsonWriter& BeginArray() { return Open('['); }
  JsonWriter& EndArray() { return Close(']'); }
  // An object key; the next value call writes its value.
  JsonWriter& Key(std::string_view k);
  JsonWriter& String(std::string_view s);
  JsonWriter& Int(int64_t v);
  JsonWriter& Number(double v);
  JsonWriter& Bool(bool b);
  JsonWriter& Null();
  // Pre-encoded JSON.
  JsonWriter& Raw(std::string_view json);

 private:
  JsonWriter& Open(char c);
  JsonWriter& Close(char c);
  void Sep();

  std::string* out_;
  // One flag per open container: whether it already holds an element.
  std::vector<bool> has_elem_;
  bool after_key_ = false;
};

// {"status":"error","errorType":type,"error":message}
std::string ErrorJson(std::string_view type, std::string_view message);

}  // namespace vigil::http
