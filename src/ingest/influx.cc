// DecodeInflux: InfluxDB line protocol -> DecodedBatch (see push_decoders.h).
//
// Escapes as InfluxDB defines them: in measurements a backslash escapes ',' and ' '; in
// tag keys, tag values and field keys it escapes ',', '=' and ' '; in string field values
// it escapes '"' and '\'. A backslash before any other character is kept literally.
#include <charconv>
#include <cmath>

#include "fmt/format.h"
#include "ingest/push_decoders.h"

namespace vigil::ingest {
namespace {

class LineParser {
 public:
  LineParser(std::string_view line, int lineno) : s_(line), lineno_(lineno) {}

  absl::Status Err(std::string_view msg) const {
    return absl::InvalidArgumentError(
        fmt::format("cannot parse Influx line protocol at {}:{}: {}", lineno_, pos_ + 1, msg));
  }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return s_[pos_]; }
  void Advance() { ++pos_; }

  // Reads up to an unescaped character of `stops`, resolving the escapes of `escapable`.
  std::string Read(std::string_view stops, std::string_view escapable) {
    std::string out;
    while (pos_ < s_.size()) {
      const char c = s_[pos_];
      if (c == '\\' && pos_ + 1 < s_.size() && escapable.find(s_[pos_ + 1]) != std::string_view::npos) {
        out.push_back(s_[pos_ + 1]);
        pos_ += 2;
        continue;
      }
      if (stops.find(c) != std::string_view::npos) break;
      out.push_back(c);
      ++pos_;
    }
    return out;
  }

  std::string_view ReadRaw(std::string_view stops) {
    const size_t start = pos_;
    while (pos_ < s_.size() && stops.find(s_[pos_]) == std::string_view::npos) ++pos_;
    return s_.substr(start, pos_ - start);
  }

  // A double-quoted string field value; the caller is at the opening quote.
  bool SkipString() {
    ++pos_;
    while (pos_ < s_.size()) {
      if (s_[pos_] == '\\' && pos_ + 1 < s_.size()) {
        pos_ += 2;
        continue;
      }
      if (s_[pos_] == '"') {
        ++pos_;
        return true;
      }
      ++pos_;
    }
    return false;
  }

 private:
  std::string_view s_;
  int lineno_;
  size_t pos_ = 0;
};

// Parses a field value: float, 12i, 12u, booleans. Returns false for strings handled by
// the caller and for garbage (with *garbage set).
bool FieldValue(std::string_view tok, double* out) {
  if (tok.empty()) return false;
  if (tok == "t" || tok == "T" || tok == "true" || tok == "True" || tok == "TRUE") {
    *out = 1;
    return true;
  }
  if (tok == "f" || tok == "F" || tok == "false" || tok == "False" || tok == "FALSE") {
    *out = 0;
    return true;
  }
  const char last = tok.back();
  if (last == 'i' || last == 'u') {
    std::string_view num = tok.substr(0, tok.size() - 1);
    if (last == 'i') {
      int64_t v;
      auto r = std::from_chars(num.data(), num.data() + num.size(), v);
      if (r.ec != std::errc() || r.ptr != num.data() + num.size()) return false;
      *out = static_cast<double>(v);
    } else {
      uint64_t v;
      auto r = std::from_chars(num.data(), num.data() + num.size(), v);
      if (r.ec != std::errc() || r.ptr != num.data() + num.size()) return false;
      *out = static_cast<double>(v);
    }
    return true;
  }
  std::string_view num = tok;
  if (num[0] == '+') num.remove_prefix(1);
  double v;
  auto r = std::from_chars(num.data(), num.data() + num.size(), v);
  if (r.ec != std::errc() || r.ptr != num.data() + num.size() || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

int64_t ToMs(int64_t ts, InfluxPrecision p, bool* ok) {
  *ok = true;
  switch (p) {
    case InfluxPrecision::kNanoseconds: return ts / 1'000'000;
    case InfluxPrecision::kMicroseconds: return ts / 1'000;
    case InfluxPrecision::kMilliseconds: return ts;
    case InfluxPrecision::kSeconds:
      if (std::llabs(ts) > 9'000'000'000'000'000 / 1000) break;
      return ts * 1000;
    case InfluxPrecision::kMinutes:
      if (std::llabs(ts) > 9'000'000'000'000'000 / 60'000) break;
      return ts * 60'000;
    case InfluxPrecision::kHours:
      if (std::llabs(ts) > 9'000'000'000'000'000 / 3'600'000) break;
      return ts * 3'600'000;
  }
  *ok = false;
  return 0;
}

absl::Status DecodeLine(std::string_view line, int lineno, const InfluxOptions& opts,
                        int64_t now_ms, DecodedBatch* out) {
  LineParser p(line, lineno);
  std::string measurement = p.Read(", ", ", ");
  if (measurement.empty()) return p.Err("missing measurement");
  std::vector<model::Label> tags;
  while (!p.AtEnd() && p.Peek() == ',') {
    p.Advance();
    std::string key = p.Read("=, ", ",= ");
    if (key.empty()) return p.Err("empty tag key");
    if (p.AtEnd() || p.Peek() != '=') return p.Err(fmt::format("missing '=' after tag key \"{}\"", key));
    p.Advance();
    std::string value = p.Read(", ", ",= ");
    if (value.empty()) return p.Err(fmt::format("empty value for tag \"{}\"", key));
    tags.push_back({SanitizeName(key, true), std::move(value)});
  }
  if (p.AtEnd() || p.Peek() != ' ') return p.Err("missing fields");
  while (!p.AtEnd() && p.Peek() == ' ') p.Advance();
  struct Field {
    std::string key;
    double value;
  };
  std::vector<Field> fields;
  int string_fields = 0;
  while (true) {
    std::string key = p.Read("=, ", ",= ");
    if (key.empty()) return p.Err("empty field key");
    if (p.AtEnd() || p.Peek() != '=') return p.Err(fmt::format("missing '=' after field key \"{}\"", key));
    p.Advance();
    if (!p.AtEnd() && p.Peek() == '"') {
      if (!p.SkipString()) return p.Err(fmt::format("unterminated string value of field \"{}\"", key));
      ++string_fields;
    } else {
      std::string_view tok = p.ReadRaw(", ");
      double v;
      if (!FieldValue(tok, &v)) {
        return p.Err(fmt::format("invalid value \"{}\" for field \"{}\"", tok, key));
      }
      fields.push_back({std::move(key), v});
    }
    if (p.AtEnd() || p.Peek() == ' ') break;
    if (p.Peek() != ',') return p.Err("expected ',' or ' ' after a field");
    p.Advance();
  }
  while (!p.AtEnd() && p.Peek() == ' ') p.Advance();
  int64_t t = now_ms;
  if (!p.AtEnd()) {
    std::string_view tok = p.ReadRaw(" ");
    int64_t ts;
    auto r = std::from_chars(tok.data(), tok.data() + tok.size(), ts);
    if (r.ec != std::errc() || r.ptr != tok.data() + tok.size()) {
      return p.Err(fmt::format("invalid timestamp \"{}\"", tok));
    }
    bool ok;
    t = ToMs(ts, opts.precision, &ok);
    while (!p.AtEnd() && p.Peek() == ' ') p.Advance();
    if (!p.AtEnd()) return p.Err("unexpected text after the timestamp");
    if (!ok) {
      out->Refuse(kReasonInvalidTimestamp, static_cast<int64_t>(fields.size()),
                  fmt::format("line {}: timestamp {} is out of range", lineno, ts));
      return absl::OkStatus();
    }
  }
  if (string_fields > 0) {
    out->Refuse(kReasonUnsupported, string_fields,
                fmt::format("line {}: string fields of \"{}\" are not stored", lineno, measurement));
  }
  const std::string prefix = SanitizeName(measurement, false);
  for (Field& f : fields) {
    PendingSample& s = out->samples.emplace_back();
    std::vector<model::Label>& vec = s.labels.mutable_vec();
    vec = tags;
    for (const auto& l : opts.extra_labels) {
      bool replaced = false;
      for (auto& have : vec) {
        if (have.name == l.name) {
          have.value = l.value;
          replaced = true;
        }
      }
      if (!replaced) vec.push_back(l);
    }
    vec.push_back({std::string(model::kMetricName),
                   prefix.empty() ? SanitizeName(f.key, false)
                                  : prefix + "_" + SanitizeName(f.key, false)});
    s.t = t;
    s.v = f.value;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InfluxPrecision> ParseInfluxPrecision(std::string_view s) {
  if (s.empty() || s == "ns" || s == "n") return InfluxPrecision::kNanoseconds;
  if (s == "us" || s == "u" || s == "\xC2\xB5" || s == "\xC2\xB5s") return InfluxPrecision::kMicroseconds;
  if (s == "ms") return InfluxPrecision::kMilliseconds;
  if (s == "s") return InfluxPrecision::kSeconds;
  if (s == "m") return InfluxPrecision::kMinutes;
  if (s == "h") return InfluxPrecision::kHours;
  return absl::InvalidArgumentError(
      fmt::format("invalid precision \"{}\" (want ns, us, ms, s, m or h)", s));
}

absl::Status DecodeInflux(std::string_view body, const InfluxOptions& opts, int64_t now_ms,
                          DecodedBatch* out) {
  int lineno = 0;
  size_t pos = 0;
  while (pos < body.size()) {
    ++lineno;
    size_t nl = body.find('\n', pos);
    size_t end = nl == std::string_view::npos ? body.size() : nl;
    std::string_view line = body.substr(pos, end - pos);
    pos = nl == std::string_view::npos ? body.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    size_t first = line.find_first_not_of(" \t");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line.remove_prefix(first);
    if (auto st = DecodeLine(line, lineno, opts, now_ms, out); !st.ok()) return st;
  }
  return absl::OkStatus();
}

}  // namespace vigil::ingest
