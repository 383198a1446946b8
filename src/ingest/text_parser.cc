#include "ingest/text_parser.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "fmt/format.h"

namespace vigil::ingest {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsNameStart(char c, bool metric) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (metric && c == ':');
}
bool IsNameChar(char c, bool metric) { return IsNameStart(c, metric) || (c >= '0' && c <= '9'); }

// Shows a character in an error message.
std::string Show(std::string_view s, size_t pos) {
  if (pos >= s.size() || s[pos] == '\n') return "end of line";
  const char c = s[pos];
  if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
    return fmt::format("byte 0x{:02x}", static_cast<unsigned char>(c));
  }
  return fmt::format("'{}'", c);
}

bool EqualsFold(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// Appends `raw` to `out` with the text format's escapes (\\, \", \n) resolved; other
// backslashes are kept as they are, as Prometheus does.
void Unescape(std::string_view raw, std::string* out) {
  out->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\\' && i + 1 < raw.size()) {
      const char n = raw[i + 1];
      if (n == '\\' || n == '"') {
        out->push_back(n);
        ++i;
        continue;
      }
      if (n == 'n') {
        out->push_back('\n');
        ++i;
        continue;
      }
    }
    out->push_back(raw[i]);
  }
}

}  // namespace

std::string_view MetricTypeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
    case MetricType::kGaugeHistogram: return "gaugehistogram";
    case MetricType::kSummary: return "summary";
    case MetricType::kInfo: return "info";
    case MetricType::kStateset: return "stateset";
    case MetricType::kUnknown: break;
  }
  return "unknown";
}

TextFormat TextFormatFromContentType(std::string_view ct) {
  return ct.starts_with("application/openmetrics-text") ? TextFormat::kOpenMetrics
                                                        : TextFormat::kPrometheus;
}

TextParser::TextParser(std::string_view input, TextFormat format) : in_(input), format_(format) {}

absl::Status TextParser::Error(size_t pos, std::string_view msg) const {
  return absl::InvalidArgumentError(
      fmt::format("{}:{}: {}", line_, pos - line_start_ + 1, msg));
}

void TextParser::SkipBlanks(size_t* pos, size_t end) const {
  while (*pos < end && IsBlank(in_[*pos])) ++*pos;
}

std::string_view TextParser::Token(size_t* pos, size_t end) const {
  const size_t start = *pos;
  while (*pos < end && !IsBlank(in_[*pos])) ++*pos;
  return in_.substr(start, *pos - start);
}

bool TextParser::ParseFloat(std::string_view tok, double* out) const {
  if (tok.empty()) return false;
  bool neg = false;
  std::string_view t = tok;
  if (t[0] == '+' || t[0] == '-') {
    neg = t[0] == '-';
    t.remove_prefix(1);
    if (t.empty() || t[0] == '+' || t[0] == '-') return false;
  }
  if (EqualsFold(t, "inf") || EqualsFold(t, "infinity")) {
    *out = neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
    return true;
  }
  if (EqualsFold(t, "nan")) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  double v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  // from_chars does not take "inf"/"nan" here (handled above) and maps overflow to an
  // error, where Go gives +-Inf with an error too; both refuse.
  if (r.ec != std::errc() || r.ptr != t.data() + t.size()) return false;
  *out = neg ? -v : v;
  return true;
}

absl::StatusOr<TextParser::Entry> TextParser::Next() {
  if (!error_.ok()) return error_;
  while (true) {
    if (done_) return Entry::kEof;
    if (pos_ >= in_.size()) {
      if (format_ == TextFormat::kOpenMetrics) {
        ++line_;
        line_start_ = pos_;
        error_ = Error(pos_, "OpenMetrics input must end with \"# EOF\"");
        return error_;
      }
      done_ = true;
      return Entry::kEof;
    }
    line_start_ = pos_;
    ++line_;
    const size_t nl = in_.find('\n', pos_);
    size_t end = nl == std::string_view::npos ? in_.size() : nl;
    pos_ = nl == std::string_view::npos ? in_.size() : nl + 1;
    size_t p = line_start_;
    if (format_ == TextFormat::kPrometheus) {
      if (end > p && in_[end - 1] == '\r') --end;  // tolerate CRLF from hand-made files
      SkipBlanks(&p, end);
      if (p == end) continue;  // blank line
    } else if (p == end) {
      error_ = Error(p, "empty line is not allowed in OpenMetrics");
      return error_;
    }
    if (in_[p] == '#') {
      absl::StatusOr<Entry> e = ParseComment(end);
      if (!e.ok()) {
        error_ = e.status();
        return error_;
      }
      if (*e == Entry::kSeries) continue;  // a plain comment: skipped
      return *e;
    }
    if (absl::Status st = ParseSample(end); !st.ok()) {
      error_ = st;
      return error_;
    }
    return Entry::kSeries;
  }
}

absl::StatusOr<TextParser::Entry> TextParser::ParseComment(size_t end) {
  const bool om = format_ == TextFormat::kOpenMetrics;
  size_t p = line_start_;
  SkipBlanks(&p, end);
  ++p;  // '#'
  if (om) {
    if (p >= end || in_[p] != ' ') return Error(p, "expected a space after '#'");
    ++p;
  } else {
    SkipBlanks(&p, end);
  }
  const size_t kw_pos = p;
  std::string_view kw = Token(&p, end);
  if (om && kw == "EOF") {
    if (p != end) return Error(p, "unexpected text after \"# EOF\"");
    std::string_view rest = in_.substr(pos_);
    if (!rest.empty() && rest != "\n") {
      ++line_;
      line_start_ = pos_;
      return Error(pos_, "unexpected data after \"# EOF\"");
    }
    pos_ = in_.size();
    done_ = true;
    return Entry::kEof;
  }
  Entry kind;
  if (kw == "HELP") {
    kind = Entry::kHelp;
  } else if (kw == "TYPE") {
    kind = Entry::kType;
  } else if (kw == "UNIT" && om) {
    kind = Entry::kUnit;
  } else {
    if (om) {
      return Error(kw_pos, fmt::format("expected HELP, TYPE, UNIT or EOF after '#', got \"{}\"", kw));
    }
    return Entry::kSeries;  // free comment
  }
  if (p >= end || !IsBlank(in_[p])) {
    if (!om) return Entry::kSeries;  // "#HELPFUL" and the like are comments
    return Error(p, fmt::format("expected a metric name after {}", kw));
  }
  if (om) {
    ++p;
  } else {
    SkipBlanks(&p, end);
  }
  const size_t name_pos = p;
  if (p >= end || !IsNameStart(in_[p], true)) {
    if (!om && p >= end) return Entry::kSeries;
    return Error(p, fmt::format("expected a metric name after {}, got {}", kw, Show(in_, p)));
  }
  while (p < end && IsNameChar(in_[p], true)) ++p;
  name_ = in_.substr(name_pos, p - name_pos);
  if (p < end && !IsBlank(in_[p])) {
    return Error(p, fmt::format("invalid character {} in metric name", Show(in_, p)));
  }
  if (kind == Entry::kHelp) {
    if (p < end) ++p;  // one separator; the rest is the text, spaces included
    if (!om) SkipBlanks(&p, end);
    std::string_view raw = in_.substr(p, end - p);
    if (raw.find('\\') == std::string_view::npos) {
      help_ = raw;
    } else {
      Unescape(raw, &help_buf_);
      help_ = help_buf_;
    }
    return kind;
  }
  if (p >= end) return Error(p, fmt::format("expected a {} after the metric name", kind == Entry::kType ? "type" : "unit"));
  ++p;
  if (!om) SkipBlanks(&p, end);
  const size_t tok_pos = p;
  std::string_view tok = Token(&p, end);
  SkipBlanks(&p, end);
  if (p != end) return Error(p, fmt::format("unexpected text after {}", kw));
  if (kind == Entry::kUnit) {
    unit_ = tok;
    if (!unit_.empty() && !(name_.size() > unit_.size() + 1 && name_.ends_with(unit_) &&
                            name_[name_.size() - unit_.size() - 1] == '_')) {
      return Error(tok_pos, fmt::format("unit \"{}\" is not a suffix of metric \"{}\"", unit_, name_));
    }
    return kind;
  }
  struct TypeName {
    std::string_view name;
    MetricType type;
    bool om_only;
    bool prom_only;
  };
  static constexpr TypeName kTypes[] = {
      {"counter", MetricType::kCounter, false, false},
      {"gauge", MetricType::kGauge, false, false},
      {"histogram", MetricType::kHistogram, false, false},
      {"summary", MetricType::kSummary, false, false},
      {"untyped", MetricType::kUnknown, false, true},
      {"unknown", MetricType::kUnknown, true, false},
      {"gaugehistogram", MetricType::kGaugeHistogram, true, false},
      {"info", MetricType::kInfo, true, false},
      {"stateset", MetricType::kStateset, true, false},
  };
  for (const auto& t : kTypes) {
    if (tok == t.name && !(t.om_only && !om) && !(t.prom_only && om)) {
      type_ = t.type;
      return kind;
    }
  }
  return Error(tok_pos, fmt::format("invalid metric type \"{}\"", tok));
}

absl::Status TextParser::ParseLabels(size_t* pos, size_t end, bool exemplar) {
  size_t p = *pos + 1;  // past '{'
  std::vector<LabelRef>& out = exemplar ? exemplar_labels_ : labels_;
  while (true) {
    SkipBlanks(&p, end);
    if (p >= end) return Error(p, "unterminated label set: expected '}'");
    if (in_[p] == '}') {
      ++p;
      break;
    }
    if (!IsNameStart(in_[p], false)) {
      return Error(p, fmt::format("expected a label name, got {}", Show(in_, p)));
    }
    const size_t np = p;
    while (p < end && IsNameChar(in_[p], false)) ++p;
    std::string_view lname = in_.substr(np, p - np);
    SkipBlanks(&p, end);
    if (p >= end || in_[p] != '=') {
      return Error(p, fmt::format("expected '=' after label name \"{}\", got {}", lname, Show(in_, p)));
    }
    ++p;
    SkipBlanks(&p, end);
    if (p >= end || in_[p] != '"') {
      return Error(p, fmt::format("expected '\"' to open the value of label \"{}\", got {}", lname,
                                  Show(in_, p)));
    }
    ++p;
    const size_t vp = p;
    bool escaped = false;
    while (p < end && in_[p] != '"') {
      if (in_[p] == '\\') {
        escaped = true;
        ++p;
      }
      ++p;
    }
    if (p >= end) return Error(vp, fmt::format("unterminated value of label \"{}\"", lname));
    out.push_back({lname, in_.substr(vp, p - vp), escaped});
    ++p;  // closing quote
    SkipBlanks(&p, end);
    if (p < end && in_[p] == ',') {
      ++p;
      continue;
    }
    if (p < end && in_[p] == '}') {
      ++p;
      break;
    }
    return Error(p, fmt::format("expected ',' or '}}' after the value of label \"{}\", got {}", lname,
                                Show(in_, p)));
  }
  *pos = p;
  return absl::OkStatus();
}

absl::Status TextParser::ParseExemplar(size_t p, size_t end) {
  // At '#': "# {labels} value [timestamp]".
  ++p;
  if (p >= end || in_[p] != ' ') return Error(p, "expected a space after '#' of the exemplar");
  ++p;
  if (p >= end || in_[p] != '{') return Error(p, "expected '{' to open the exemplar's labels");
  exemplar_labels_.clear();
  if (absl::Status st = ParseLabels(&p, end, true); !st.ok()) return st;
  if (p >= end || !IsBlank(in_[p])) return Error(p, "expected the exemplar's value");
  SkipBlanks(&p, end);
  size_t tp = p;
  if (!ParseFloat(Token(&p, end), &exemplar_value_)) {
    return Error(tp, fmt::format("invalid exemplar value \"{}\"", in_.substr(tp, p - tp)));
  }
  exemplar_ts_.reset();
  SkipBlanks(&p, end);
  if (p < end) {
    tp = p;
    double ts;
    if (!ParseFloat(Token(&p, end), &ts) || !std::isfinite(ts) || std::fabs(ts) > 9.2e15) {
      return Error(tp, fmt::format("invalid exemplar timestamp \"{}\"", in_.substr(tp, p - tp)));
    }
    exemplar_ts_ = static_cast<int64_t>(std::llround(ts * 1000.0));
    SkipBlanks(&p, end);
    if (p < end) return Error(p, "unexpected text after the exemplar");
  }
  has_exemplar_ = true;
  return absl::OkStatus();
}

absl::Status TextParser::ParseSample(size_t end) {
  const bool om = format_ == TextFormat::kOpenMetrics;
  size_t p = line_start_;
  SkipBlanks(&p, end);
  labels_.clear();
  ts_.reset();
  has_exemplar_ = false;
  // p == end: an OpenMetrics line of blanks only (0.0.4 skips those before getting here).
  if (p >= end || !IsNameStart(in_[p], true)) {
    return Error(p, fmt::format("expected a metric name, got {}", Show(in_, p)));
  }
  const size_t np = p;
  while (p < end && IsNameChar(in_[p], true)) ++p;
  name_ = in_.substr(np, p - np);
  if (p < end && in_[p] == '{') {
    if (absl::Status st = ParseLabels(&p, end, false); !st.ok()) return st;
    if (unescaped_.size() < labels_.size()) unescaped_.resize(labels_.size());
    for (size_t i = 0; i < labels_.size(); ++i) {
      if (labels_[i].escaped) Unescape(labels_[i].raw, &unescaped_[i]);
    }
  }
  if (p >= end) return Error(p, fmt::format("expected a value after \"{}\"", name_));
  if (!IsBlank(in_[p])) {
    return Error(p, fmt::format("invalid character {} after metric name \"{}\"", Show(in_, p), name_));
  }
  SkipBlanks(&p, end);
  size_t tp = p;
  std::string_view tok = Token(&p, end);
  if (!ParseFloat(tok, &value_)) {
    return Error(tp, tok.empty() ? fmt::format("expected a value after \"{}\"", name_)
                                 : fmt::format("invalid value \"{}\"", tok));
  }
  SkipBlanks(&p, end);
  if (p < end && in_[p] != '#') {
    tp = p;
    tok = Token(&p, end);
    if (om) {
      double secs;
      if (!ParseFloat(tok, &secs) || !std::isfinite(secs) || std::fabs(secs) > 9.2e15) {
        return Error(tp, fmt::format("invalid timestamp \"{}\"", tok));
      }
      ts_ = static_cast<int64_t>(std::llround(secs * 1000.0));
    } else {
      int64_t ms = 0;
      auto r = std::from_chars(tok.data(), tok.data() + tok.size(), ms);
      if (r.ec != std::errc() || r.ptr != tok.data() + tok.size()) {
        return Error(tp, fmt::format("invalid timestamp \"{}\" (want integer milliseconds)", tok));
      }
      ts_ = ms;
    }
    SkipBlanks(&p, end);
  }
  if (p < end) {
    if (om && in_[p] == '#') return ParseExemplar(p, end);
    return Error(p, fmt::format("unexpected text {} after the sample", Show(in_, p)));
  }
  return absl::OkStatus();
}

void TextParser::FillLabels(model::Labels* out) const {
  std::vector<model::Label>& vec = out->mutable_vec();
  vec.resize(labels_.size() + 1);
  vec[0].name.assign(model::kMetricName);
  vec[0].value.assign(name_.data(), name_.size());
  for (size_t i = 0; i < labels_.size(); ++i) {
    vec[i + 1].name.assign(labels_[i].name.data(), labels_[i].name.size());
    std::string_view v = label_value(i);
    vec[i + 1].value.assign(v.data(), v.size());
  }
}

void TextParser::FillExemplarLabels(model::Labels* out) const {
  std::vector<model::Label> vec;
  vec.reserve(exemplar_labels_.size());
  std::string buf;
  for (const LabelRef& l : exemplar_labels_) {
    std::string_view v = l.raw;
    if (l.escaped) {
      Unescape(l.raw, &buf);
      v = buf;
    }
    vec.push_back({std::string(l.name), std::string(v)});
  }
  *out = model::Labels(std::move(vec));
}

}  // namespace vigil::ingest
