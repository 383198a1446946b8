// promql_conformance: runs PromQL `.test` scripts (the format described in
// shared/conformance/promql/FORMAT.md) against Vigil's engine and reports, per file and in
// total, how many evals passed, failed and were skipped.
//
//   promql_conformance [-v|-vv] [--db] [--parse-only] [--no-cross-check]
//                      [--no-delayed-name-removal] [--evals EVALS.tsv] [--min-pass N] FILE|DIR...
//
// Every passing instant eval is also run as a range query around its time, and the point at
// that time must agree (FORMAT.md 8.1), unless --no-cross-check. With --db the data is
// stored in the real storage::DB (on an in-memory filesystem) instead of a plain map. The
// engine runs with delayed __name__ removal, as the reference runner does (FORMAT.md 6.1).
// "Skipped" evals are those EVALS.tsv does not mark float_stable (native histograms and
// features that are experimental upstream). They still run; their outcome is reported
// separately and never hidden. With --min-pass N the exit status is non-zero when fewer than
// N float-stable evals pass, so CI can hold the line while the engine grows.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "fmt/format.h"
#include "promql/testing/mem_queryable.h"
#include "model/labels.h"
#include "model/sample.h"
#include "promql/engine.h"
#include "promql/parser.h"
#include "promql/parser/lexer.h"
#include "re2/re2.h"
#include "spdlog/spdlog.h"
#include "fs/file_system.h"
#include "storage/db.h"

namespace vigil::promql::testing {
namespace {

// ---------------------------------------------------------------------------------------
// Script model.

enum class SlotKind { kNone, kValue, kStale, kHistogram };
struct Slot {
  SlotKind kind = SlotKind::kNone;
  double v = 0;
};

struct SeriesLine {
  model::Labels labels;
  std::vector<Slot> slots;
  int line = 0;
};

struct AnnotationExpect {
  bool any = true;
  std::string msg;
  std::string regex;
};

struct EvalCmd {
  int line = 0;
  bool range = false;
  int64_t t = 0, start = 0, end = 0, step = 0;
  std::string expr;
  bool expect_fail = false;
  std::optional<std::string> fail_msg, fail_regex;
  std::vector<AnnotationExpect> warns, infos;
  bool no_warn = false, no_info = false;
  bool any_warn = false, any_info = false;  // eval_warn / eval_info
  bool ordered = false;
  bool range_vector = false;
  int64_t rv_start = 0, rv_end = 0, rv_step = 0;
  std::optional<std::string> expect_string;
  std::optional<double> scalar;
  std::vector<SeriesLine> series;
};

struct Command {
  enum Kind { kLoad, kClear, kEval } kind;
  int line = 0;
  int64_t step = 0;
  std::vector<SeriesLine> load;
  EvalCmd eval;
};

std::string Trim(std::string_view s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return std::string(s.substr(b, e - b));
}

std::vector<std::string> Fields(std::string_view s) {
  std::vector<std::string> out;
  std::istringstream in{std::string(s)};
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

bool ParseScriptDuration(std::string_view s, int64_t* ms) {
  return parser::ParseDurationMs(s, ms);
}

// Numbers in series values and scalar expectations: Go's ParseInt(base 0) then ParseFloat.
bool ParseSeriesNumber(std::string s, double* out) {
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  if (s.empty()) return false;
  std::string lower = s;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string body = lower;
  bool neg = false;
  if (body[0] == '+' || body[0] == '-') {
    neg = body[0] == '-';
    body = body.substr(1);
  }
  if (body == "inf" || body == "infinity") {
    *out = neg ? -INFINITY : INFINITY;
    return true;
  }
  if (body == "nan") {
    *out = NAN;
    return true;
  }
  if (body.empty()) return false;
  bool digits = std::all_of(body.begin(), body.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits && body.size() > 1 && body[0] == '0') {
    *out = static_cast<double>(std::strtoull(body.c_str(), nullptr, 8));
    if (neg) *out = -*out;
    return true;
  }
  if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'o' || body[1] == 'b')) {
    int base = body[1] == 'x' ? 16 : body[1] == 'o' ? 8 : 2;
    char* end = nullptr;
    *out = static_cast<double>(std::strtoull(body.c_str() + 2, &end, base));
    if (*end != 0) return false;
    if (neg) *out = -*out;
    return true;
  }
  char* end = nullptr;
  *out = std::strtod(s.c_str(), &end);
  return end != nullptr && *end == 0;
}

bool IsIdentStart(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':';
}
bool IsIdentChar(char c) { return IsIdentStart(c) || std::isdigit(static_cast<unsigned char>(c)); }

// Reads a quoted string at s[*i] (", ' or `) into *out.
bool ReadQuoted(std::string_view s, size_t* i, std::string* out, std::string* err) {
  char q = s[*i];
  size_t j = *i + 1;
  while (j < s.size() && s[j] != q) {
    if (s[j] == '\\' && q != '`') ++j;
    ++j;
  }
  if (j >= s.size()) {
    *err = "unterminated string";
    return false;
  }
  if (!parser::Unquote(s.substr(*i, j + 1 - *i), out, err)) return false;
  *i = j + 1;
  return true;
}

// Parses `name{a="b"} values...`; the value items are returned unexpanded.
bool ParseSeriesDesc(std::string_view s, model::Labels* labels, std::vector<std::string>* items,
                     std::string* err) {
  size_t i = 0;
  std::vector<model::Label> ls;
  std::string name;
  while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
  if (i < s.size() && IsIdentStart(s[i])) {
    while (i < s.size() && IsIdentChar(s[i])) name.push_back(s[i++]);
  }
  if (i < s.size() && s[i] == '{' && !(i + 1 < s.size() && s[i + 1] == '{')) {
    ++i;
    while (true) {
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i >= s.size()) {
        *err = "unterminated label set";
        return false;
      }
      if (s[i] == '}') {
        ++i;
        break;
      }
      std::string lname;
      if (s[i] == '"') {
        if (!ReadQuoted(s, &i, &lname, err)) return false;
      } else {
        while (i < s.size() && IsIdentChar(s[i])) lname.push_back(s[i++]);
      }
      if (lname.empty()) {
        *err = fmt::format("bad label name at '{}'", s.substr(i));
        return false;
      }
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i < s.size() && s[i] == '=') {
        ++i;
        while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
        std::string value;
        if (i >= s.size() || (s[i] != '"' && s[i] != '\'' && s[i] != '`')) {
          *err = "expected quoted label value";
          return false;
        }
        if (!ReadQuoted(s, &i, &value, err)) return false;
        ls.push_back({lname, value});
      } else {
        name = lname;  // a bare quoted string is the metric name
      }
      while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
      if (i < s.size() && s[i] == ',') ++i;
    }
  }
  if (!name.empty()) ls.push_back({std::string(model::kMetricName), name});
  std::erase_if(ls, [](const model::Label& l) { return l.value.empty(); });
  *labels = model::Labels(std::move(ls));
  // Value items; {{...}} histogram literals hold spaces.
  std::string rest(s.substr(i));
  size_t k = 0;
  while (k < rest.size()) {
    while (k < rest.size() && std::isspace(static_cast<unsigned char>(rest[k]))) ++k;
    if (k >= rest.size()) break;
    std::string item;
    int depth = 0;
    while (k < rest.size()) {
      char c = rest[k];
      if (c == '{' && k + 1 < rest.size() && rest[k + 1] == '{') {
        depth++;
        item += "{{";
        k += 2;
        continue;
      }
      if (c == '}' && k + 1 < rest.size() && rest[k + 1] == '}' && depth > 0) {
        depth--;
        item += "}}";
        k += 2;
        continue;
      }
      if (depth == 0 && std::isspace(static_cast<unsigned char>(c))) break;
      item.push_back(c);
      ++k;
    }
    items->push_back(item);
  }
  return true;
}

bool ExpandItems(const std::vector<std::string>& items, std::vector<Slot>* slots,
                 std::string* err) {
  for (const std::string& item : items) {
    if (item.find("{{") != std::string::npos) {
      int64_t k = 0;
      size_t x = item.rfind("}}x");
      if (x != std::string::npos) k = std::strtoll(item.c_str() + x + 3, nullptr, 10);
      for (int64_t j = 0; j <= k; ++j) slots->push_back({SlotKind::kHistogram, 0});
      continue;
    }
    if (item == "_") {
      slots->push_back({});
      continue;
    }
    if (item.rfind("_x", 0) == 0) {
      int64_t k = std::strtoll(item.c_str() + 2, nullptr, 10);
      for (int64_t j = 0; j < k; ++j) slots->push_back({});
      continue;
    }
    if (item == "stale") {
      slots->push_back({SlotKind::kStale, model::StaleNaN()});
      continue;
    }
    size_t x = item.rfind('x');
    if (x == std::string::npos) {
      double v;
      if (!ParseSeriesNumber(item, &v)) {
        *err = fmt::format("bad value \"{}\"", item);
        return false;
      }
      slots->push_back({SlotKind::kValue, v});
      continue;
    }
    std::string left = item.substr(0, x);
    int64_t k = std::strtoll(item.c_str() + x + 1, nullptr, 10);
    // Split A+B / A-B at an operator that is not a leading sign or an exponent sign.
    size_t op = std::string::npos;
    for (size_t i = 1; i < left.size(); ++i) {
      if ((left[i] == '+' || left[i] == '-') && left[i - 1] != 'e' && left[i - 1] != 'E') {
        op = i;
        break;
      }
    }
    double a, b = 0;
    if (op == std::string::npos) {
      if (!ParseSeriesNumber(left, &a)) {
        *err = fmt::format("bad value \"{}\"", item);
        return false;
      }
    } else {
      if (!ParseSeriesNumber(left.substr(0, op), &a) ||
          !ParseSeriesNumber(left.substr(op + 1), &b)) {
        *err = fmt::format("bad value \"{}\"", item);
        return false;
      }
      if (left[op] == '-') b = -b;
    }
    double cur = a;
    for (int64_t j = 0; j <= k; ++j) {
      slots->push_back({SlotKind::kValue, cur});
      cur += b;
    }
  }
  return true;
}

bool IsBareNumber(const std::string& s, double* v) {
  if (s.find_first_of(" \t{") != std::string::npos) return false;
  return ParseSeriesNumber(s, v);
}

// Parses a whole script; an error rejects the file, as upstream.
bool ParseScript(const std::string& text, std::vector<Command>* cmds, std::string* err) {
  std::vector<std::string> lines;
  {
    std::string cur;
    for (char c : text) {
      if (c == '\n') {
        lines.push_back(cur);
        cur.clear();
      } else {
        cur.push_back(c);
      }
    }
    lines.push_back(cur);
  }
  for (auto& l : lines) {
    l = Trim(l);
    if (!l.empty() && l[0] == '#') l.clear();
  }
  size_t i = 0;
  while (i < lines.size()) {
    if (lines[i].empty()) {
      ++i;
      continue;
    }
    int lineno = static_cast<int>(i) + 1;
    std::vector<std::string> f = Fields(lines[i]);
    std::string word = f[0];
    for (char& c : word) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto fail = [&](std::string msg) {
      *err = fmt::format("line {}: {}", lineno, msg);
      return false;
    };
    if (word == "clear") {
      cmds->push_back({Command::kClear, lineno});
      ++i;
      continue;
    }
    if (word.rfind("load", 0) == 0) {
      Command c{Command::kLoad, lineno};
      if (f.size() < 2 || !ParseScriptDuration(f[1], &c.step)) return fail("bad load step");
      ++i;
      while (i < lines.size() && !lines[i].empty()) {
        if (lines[i].find("@st ") != std::string::npos ||
            lines[i].find("@st\t") != std::string::npos) {  // start timestamps: unused
          ++i;
          continue;
        }
        SeriesLine sl;
        sl.line = static_cast<int>(i) + 1;
        std::vector<std::string> items;
        if (!ParseSeriesDesc(lines[i], &sl.labels, &items, err) ||
            !ExpandItems(items, &sl.slots, err)) {
          return fail(fmt::format("line {}: {}", i + 1, *err));
        }
        // Within one load block a later line with the same labels replaces an earlier one.
        std::erase_if(c.load, [&](const SeriesLine& o) { return o.labels == sl.labels; });
        c.load.push_back(std::move(sl));
        ++i;
      }
      cmds->push_back(std::move(c));
      continue;
    }
    if (word.rfind("eval", 0) != 0) return fail(fmt::format("unknown command \"{}\"", f[0]));
    Command c{Command::kEval, lineno};
    EvalCmd& e = c.eval;
    e.line = lineno;
    if (word == "eval_fail") e.expect_fail = true;
    if (word == "eval_ordered") e.ordered = true;
    if (word == "eval_warn") e.any_warn = true;
    if (word == "eval_info") e.any_info = true;
    // Split the header on whitespace, keeping the expression verbatim.
    const std::string& hl = lines[i];
    auto skip_words = [&](int n) {
      size_t p = 0;
      for (int w = 0; w < n; ++w) {
        while (p < hl.size() && std::isspace(static_cast<unsigned char>(hl[p]))) ++p;
        while (p < hl.size() && !std::isspace(static_cast<unsigned char>(hl[p]))) ++p;
      }
      while (p < hl.size() && std::isspace(static_cast<unsigned char>(hl[p]))) ++p;
      return hl.substr(p);
    };
    if (f.size() >= 4 && f[1] == "instant" && f[2] == "at") {
      if (!ParseScriptDuration(f[3], &e.t)) return fail("bad eval time");
      e.expr = skip_words(4);
    } else if (f.size() >= 8 && f[1] == "range" && f[2] == "from" && f[4] == "to" &&
               f[6] == "step") {
      e.range = true;
      if (!ParseScriptDuration(f[3], &e.start) || !ParseScriptDuration(f[5], &e.end) ||
          !ParseScriptDuration(f[7], &e.step)) {
        return fail("bad range times");
      }
      if (e.end < e.start) return fail("end before start");
      e.expr = skip_words(8);
    } else {
      return fail("bad eval header");
    }
    ++i;
    while (i < lines.size() && !lines[i].empty()) {
      const std::string& l = lines[i];
      std::vector<std::string> w = Fields(l);
      if (w[0] == "expected_fail_message" || w[0] == "expected_fail_regexp") {
        std::string rest = Trim(l.substr(w[0].size()));
        if (w[0] == "expected_fail_message") e.fail_msg = rest; else e.fail_regex = rest;
        ++i;
        break;
      }
      if (w.size() >= 3 && w[0] == "expect" && w[1] == "range" && w[2] == "vector") {
        if (w.size() < 9 || !ParseScriptDuration(w[4], &e.rv_start) ||
            !ParseScriptDuration(w[6], &e.rv_end) || !ParseScriptDuration(w[8], &e.rv_step)) {
          return fail("bad expect range vector");
        }
        e.range_vector = true;
        ++i;
        continue;
      }
      if (w.size() >= 2 && w[0] == "expect" && w[1] == "string") {
        size_t q = l.find(' ', l.find("string"));
        std::string s, uerr;
        std::string quoted = Trim(l.substr(q));
        if (!parser::Unquote(quoted, &s, &uerr)) return fail("bad expect string: " + uerr);
        e.expect_string = s;
        ++i;
        continue;
      }
      if (w[0] == "expect") {
        if (w.size() < 2) return fail("bad expect line");
        std::string kind = w[1];
        AnnotationExpect a;
        size_t pos = l.find(kind) + kind.size();
        std::string rest = Trim(l.substr(pos));
        if (rest.rfind("msg:", 0) == 0) {
          a.any = false;
          a.msg = Trim(rest.substr(4));
        } else if (rest.rfind("regex:", 0) == 0) {
          a.any = false;
          a.regex = Trim(rest.substr(6));
        }
        if (kind == "fail") {
          e.expect_fail = true;
          if (!a.any) {
            if (!a.msg.empty() || a.regex.empty()) e.fail_msg = a.msg; else e.fail_regex = a.regex;
          }
        } else if (kind == "warn") {
          e.warns.push_back(a);
        } else if (kind == "info") {
          e.infos.push_back(a);
        } else if (kind == "no_warn") {
          e.no_warn = true;
        } else if (kind == "no_info") {
          e.no_info = true;
        } else if (kind == "ordered") {
          e.ordered = true;
        } else {
          return fail(fmt::format("unknown expect kind \"{}\"", kind));
        }
        ++i;
        continue;
      }
      double v;
      if (IsBareNumber(l, &v)) {
        e.scalar = v;
        ++i;
        break;
      }
      SeriesLine sl;
      sl.line = static_cast<int>(i) + 1;
      std::vector<std::string> items;
      if (!ParseSeriesDesc(l, &sl.labels, &items, err) || !ExpandItems(items, &sl.slots, err)) {
        return fail(fmt::format("line {}: {}", i + 1, *err));
      }
      if (!e.range && !e.range_vector && sl.slots.size() != 1) {
        return fail(fmt::format("line {}: expected exactly one value", i + 1));
      }
      // A later line with the same labels replaces an earlier one.
      std::erase_if(e.series, [&](const SeriesLine& o) { return o.labels == sl.labels; });
      e.series.push_back(std::move(sl));
      ++i;
    }
    cmds->push_back(std::move(c));
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Checking.

bool FloatMatch(double a, double b) {
  bool sa = model::IsStaleNaN(a), sb = model::IsStaleNaN(b);
  if (sa || sb) return sa && sb;
  if (std::isnan(a) && std::isnan(b)) return true;
  if (a == b) return true;
  double diff = std::fabs(a - b);
  double sum = std::fabs(a) + std::fabs(b);
  constexpr double kMinNormal = 2.2250738585072014e-308;
  if (a == 0 || b == 0 || sum < kMinNormal) return diff < 1e-6 * kMinNormal;
  return diff / std::min(sum, std::numeric_limits<double>::max()) < 1e-6;
}

std::string Str(const model::Labels& l) {
  std::string s = "{";
  bool first = true;
  for (const auto& lab : l) {
    if (!first) s += ", ";
    first = false;
    s += lab.name + "=" + QuoteString(lab.value);
  }
  return s + "}";
}

bool CheckAnnotations(const std::vector<AnnotationExpect>& want, bool none, bool any,
                      const std::vector<std::string>& got, const char* what, std::string* why) {
  if (none && !got.empty()) {
    *why = fmt::format("unexpected {}: {}", what, got[0]);
    return false;
  }
  if (any && got.empty()) {
    *why = fmt::format("expected a {}", what);
    return false;
  }
  if (want.empty()) return true;
  if (got.empty()) {
    *why = fmt::format("expected a {}, got none", what);
    return false;
  }
  auto matches = [](const AnnotationExpect& a, const std::string& g) {
    if (a.any) return true;
    if (!a.msg.empty()) return a.msg == g;
    return RE2::PartialMatch(g, a.regex);
  };
  for (const auto& a : want) {
    bool found = false;
    for (const auto& g : got) found |= matches(a, g);
    if (!found) {
      *why = fmt::format("expected {} \"{}\" not found; got: {}", what, a.any ? "" : a.msg + a.regex, got[0]);
      return false;
    }
  }
  for (const auto& g : got) {
    bool found = false;
    for (const auto& a : want) found |= matches(a, g);
    if (!found) {
      *why = fmt::format("unexpected {}: {}", what, g);
      return false;
    }
  }
  return true;
}

bool CheckMatrix(const EvalCmd& e, const std::vector<Series>& got, int64_t start, int64_t step,
                 std::string* why) {
  for (size_t i = 1; i < got.size(); ++i) {
    if (!(got[i - 1].labels < got[i].labels)) {
      *why = "matrix is not sorted by labels";
      return false;
    }
  }
  std::map<model::Labels, const SeriesLine*> want;
  for (const auto& s : e.series) want[s.labels] = &s;
  for (const Series& s : got) {
    auto it = want.find(s.labels);
    if (it == want.end()) {
      *why = fmt::format("unexpected metric {} in result", Str(s.labels));
      return false;
    }
    std::vector<Point> exp;
    for (size_t k = 0; k < it->second->slots.size(); ++k) {
      const Slot& sl = it->second->slots[k];
      if (sl.kind == SlotKind::kValue || sl.kind == SlotKind::kStale) {
        exp.push_back({start + static_cast<int64_t>(k) * step, sl.v});
      } else if (sl.kind == SlotKind::kHistogram) {
        *why = "histogram expectations are not supported";
        return false;
      }
    }
    if (exp.size() != s.points.size()) {
      *why = fmt::format("{}: expected {} points, got {}", Str(s.labels), exp.size(),
                         s.points.size());
      std::string pts;
      for (const auto& p : s.points) pts += fmt::format(" {}@{}", p.v, p.t);
      *why += " (got" + pts + ")";
      return false;
    }
    for (size_t k = 0; k < exp.size(); ++k) {
      if (exp[k].t != s.points[k].t || !FloatMatch(exp[k].v, s.points[k].v)) {
        *why = fmt::format("{}: point {} expected {}@{}, got {}@{}", Str(s.labels), k,
                           exp[k].v, exp[k].t, s.points[k].v, s.points[k].t);
        return false;
      }
    }
  }
  for (const auto& [l, sl] : want) {
    bool found = std::any_of(got.begin(), got.end(), [&](const Series& s) { return s.labels == l; });
    if (!found) {
      *why = fmt::format("expected metric {} not found", Str(l));
      return false;
    }
  }
  return true;
}

bool CheckResult(const EvalCmd& e, const QueryResult& r, std::string* why) {
  if (e.range) {
    if (r.type != ValueType::kMatrix) {
      *why = "range query did not return a matrix";
      return false;
    }
    return CheckMatrix(e, r.matrix, e.start, e.step, why);
  }
  switch (r.type) {
    case ValueType::kMatrix:
      if (!e.range_vector) {
        if (r.matrix.empty() && e.series.empty() && !e.scalar) return true;
        *why = "got a range vector without `expect range vector`";
        return false;
      }
      return CheckMatrix(e, r.matrix, e.rv_start, e.rv_step, why);
    case ValueType::kScalar:
      if (!e.scalar) {
        *why = fmt::format("got scalar {}, expected no scalar", r.scalar.v);
        return false;
      }
      if (!FloatMatch(*e.scalar, r.scalar.v)) {
        *why = fmt::format("expected scalar {}, got {}", *e.scalar, r.scalar.v);
        return false;
      }
      return true;
    case ValueType::kString: {
      std::string want = e.expect_string.value_or("");
      if (want != r.string) {
        *why = fmt::format("expected string \"{}\", got \"{}\"", want, r.string);
        return false;
      }
      return true;
    }
    case ValueType::kVector: {
      if (e.scalar) {
        *why = "expected a scalar, got a vector";
        return false;
      }
      std::map<model::Labels, std::pair<const SeriesLine*, size_t>> want;
      for (size_t i = 0; i < e.series.size(); ++i) want[e.series[i].labels] = {&e.series[i], i};
      std::set<model::Labels> seen;
      for (size_t i = 0; i < r.vector.size(); ++i) {
        const Sample& s = r.vector[i];
        auto it = want.find(s.labels);
        if (it == want.end()) {
          *why = fmt::format("unexpected metric {} in result, value {}", Str(s.labels), s.v);
          return false;
        }
        const Slot& sl = it->second.first->slots[0];
        if (sl.kind == SlotKind::kHistogram) {
          *why = "expected a histogram";
          return false;
        }
        if (!FloatMatch(sl.v, s.v)) {
          *why = fmt::format("{}: expected {}, got {}", Str(s.labels), sl.v, s.v);
          return false;
        }
        if (e.ordered && it->second.second != i) {
          *why = fmt::format("{}: expected at position {}, got {}", Str(s.labels),
                             it->second.second + 1, i + 1);
          return false;
        }
        seen.insert(s.labels);
      }
      for (const auto& [l, _] : want) {
        if (!seen.count(l)) {
          *why = fmt::format("expected metric {} not found", Str(l));
          return false;
        }
      }
      return true;
    }
    default:
      *why = "unexpected result type";
      return false;
  }
}

// ---------------------------------------------------------------------------------------
// Storage backends: the in-memory store, or the real storage::DB on an in-memory
// filesystem (--db), which checks the engine and the storage engine together.

class Store {
 public:
  virtual ~Store() = default;
  // Adds one load block's samples as one batch.
  virtual absl::Status Load(const std::vector<std::tuple<model::Labels, int64_t, double>>& s) = 0;
  virtual absl::Status Clear() = 0;
  virtual storage::Queryable& queryable() = 0;
};

class MemStore final : public Store {
 public:
  absl::Status Load(const std::vector<std::tuple<model::Labels, int64_t, double>>& s) override {
    for (const auto& [l, t, v] : s) mem_.Add(l, t, v);
    return absl::OkStatus();
  }
  absl::Status Clear() override {
    mem_.Clear();
    return absl::OkStatus();
  }
  storage::Queryable& queryable() override { return mem_; }

 private:
  MemStorage mem_;
};

class DbStore final : public Store {
 public:
  absl::Status Open() {
    if (db_) (void)db_->Close();
    db_.reset();
    fs_ = fs::NewMemFileSystem();
    storage::Options o;
    o.path = "/data";
    o.fs = fs_.get();
    o.background_compaction = false;
    o.retention_ms = 0;
    auto db = storage::DB::Open(o);
    if (!db.ok()) return db.status();
    db_ = *std::move(db);
    return absl::OkStatus();
  }
  ~DbStore() override {
    if (db_) (void)db_->Close();
  }
  absl::Status Load(const std::vector<std::tuple<model::Labels, int64_t, double>>& s) override {
    // The head accepts samples per series in time order: sort the batch by series and time.
    auto sorted = s;
    std::stable_sort(sorted.begin(), sorted.end(), [](const auto& a, const auto& b) {
      if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
      return std::get<1>(a) < std::get<1>(b);
    });
    auto app = db_->NewAppender(storage::kDefaultTenant);
    absl::Status first;
    for (const auto& [l, t, v] : sorted) {
      auto r = app->Append(0, l, t, v);
      if (!r.ok() && first.ok()) first = r.status();  // the rest of the batch still goes in
    }
    absl::Status st = app->Commit();
    return st.ok() ? first : st;
  }
  absl::Status Clear() override { return Open(); }
  storage::Queryable& queryable() override { return *db_; }

 private:
  std::unique_ptr<fs::FileSystem> fs_;
  std::unique_ptr<storage::DB> db_;
};

// ---------------------------------------------------------------------------------------
// Running.

struct Counts {
  int passed = 0, failed = 0, skipped = 0, skipped_passed = 0;
};

struct Options {
  bool verbose = false;
  bool parse_only = false;
  bool verbose_skipped = false;
  bool cross_check = true;
  bool use_db = false;
  bool delayed_name_removal = true;
  std::map<std::pair<std::string, int>, bool> float_stable;  // from EVALS.tsv
  bool have_classification = false;
};

// Pins every selector and subquery without `@` to `t` (not descending into subqueries).
void PinAt(Expr& e, int64_t t) {
  switch (e.kind) {
    case NodeKind::kVectorSelector: {
      auto& vs = static_cast<VectorSelector&>(e);
      if (!vs.at && vs.at_preproc == AtPreproc::kNone) vs.at = t;
      return;
    }
    case NodeKind::kMatrixSelector: PinAt(*static_cast<MatrixSelector&>(e).vs, t); return;
    case NodeKind::kSubquery: {
      auto& sq = static_cast<SubqueryExpr&>(e);
      if (!sq.at && sq.at_preproc == AtPreproc::kNone) sq.at = t;
      return;
    }
    case NodeKind::kParen: PinAt(*static_cast<ParenExpr&>(e).expr, t); return;
    case NodeKind::kUnary: PinAt(*static_cast<UnaryExpr&>(e).expr, t); return;
    case NodeKind::kBinary:
      PinAt(*static_cast<BinaryExpr&>(e).lhs, t);
      PinAt(*static_cast<BinaryExpr&>(e).rhs, t);
      return;
    case NodeKind::kCall:
      for (auto& a : static_cast<Call&>(e).args) PinAt(*a, t);
      return;
    case NodeKind::kAggregate: {
      auto& a = static_cast<AggregateExpr&>(e);
      if (a.param) PinAt(*a.param, t);
      PinAt(*a.expr, t);
      return;
    }
    default: return;
  }
}

// FORMAT.md 8.2: with every selector pinned to T by `@ T`, the answer must not depend on
// the evaluation time.
bool CheckAtInvariance(const Engine& engine, storage::Queryable& store, const EvalCmd& e,
                       std::string* why) {
  static const char* kSkip[] = {"days_in_month", "day_of_month", "day_of_week", "day_of_year",
                                "hour", "minute", "month", "year", "time", "timestamp",
                                "predict_linear", "start", "end", "range", "step"};
  for (const char* fn : kSkip) {
    if (e.expr.find(std::string(fn) + "(") != std::string::npos) return true;
  }
  auto parsed = ParseExpr(e.expr);
  if (!parsed.ok()) return true;
  PinAt(**parsed, e.t);
  std::vector<int64_t> times = e.t == 0 ? std::vector<int64_t>{-1000, 0, 1000}
                                        : std::vector<int64_t>{-10 * e.t, 0, e.t / 5, e.t, 10 * e.t};
  EvalCmd unordered = e;
  unordered.ordered = false;
  for (int64_t t : times) {
    auto r = engine.Exec(store, "default", **parsed, t, t, 0, e.expr);
    if (!r.ok()) {
      *why = fmt::format("@-invariance at {}: {}", t, std::string(r.status().message()));
      return false;
    }
    if (!CheckResult(unordered, *r, why)) {
      *why = fmt::format("@-invariance at {}: {}", t, *why);
      return false;
    }
  }
  return true;
}

bool RunEval(const Engine& engine, storage::Queryable& store, const EvalCmd& e, bool parse_only,
             bool cross_check, std::string* why) {
  auto parsed = ParseExpr(e.expr);
  if (!parsed.ok()) {
    *why = "parse: " + std::string(parsed.status().message());
    return false;
  }
  if (parse_only) return true;
  absl::StatusOr<QueryResult> r;
  if (e.range) {
    r = engine.RangeQuery(store, "default", e.expr, e.start, e.end, e.step);
  } else {
    r = engine.InstantQuery(store, "default", e.expr, e.range_vector ? e.rv_end : e.t);
  }
  if (e.expect_fail) {
    if (r.ok()) {
      *why = "expected the query to fail";
      return false;
    }
    std::string msg(r.status().message());
    if (e.fail_msg && !e.fail_msg->empty() && *e.fail_msg != msg) {
      *why = fmt::format("expected error \"{}\", got \"{}\"", *e.fail_msg, msg);
      return false;
    }
    if (e.fail_regex && !RE2::PartialMatch(msg, *e.fail_regex)) {
      *why = fmt::format("error \"{}\" does not match /{}/", msg, *e.fail_regex);
      return false;
    }
    return true;
  }
  if (!r.ok()) {
    *why = "error: " + std::string(r.status().message());
    return false;
  }
  if (!CheckAnnotations(e.warns, e.no_warn, e.any_warn, r->warnings, "warning", why)) return false;
  if (!CheckAnnotations(e.infos, e.no_info, e.any_info, r->infos, "info", why)) return false;
  if (!CheckResult(e, *r, why)) return false;
  if (!cross_check || e.range || e.ordered || e.range_vector || e.expect_string) return true;
  for (const char* fn : {"start()", "end()", "range()", "step()"}) {
    if (e.expr.find(fn) != std::string::npos) return true;
  }
  if (r->type != ValueType::kScalar && r->type != ValueType::kVector) return true;
  // FORMAT.md 8.1: the same expression as a range query around T must agree at T.
  auto rr = engine.RangeQuery(store, "default", e.expr, e.t - 60000, e.t + 60000, 60000);
  if (!rr.ok()) {
    *why = "range-mode cross-check: " + std::string(rr.status().message());
    return false;
  }
  QueryResult at_t;
  at_t.type = r->type;
  for (const Series& s : rr->matrix) {
    for (const Point& p : s.points) {
      if (p.t != e.t) continue;
      if (r->type == ValueType::kScalar) {
        at_t.scalar = p;
      } else {
        at_t.vector.push_back({s.labels, p.t, p.v});
      }
    }
  }
  EvalCmd unordered = e;
  unordered.ordered = false;
  if (!CheckResult(unordered, at_t, why)) {
    *why = "range-mode cross-check: " + *why;
    return false;
  }
  return CheckAtInvariance(engine, store, e, why);
}

Counts RunFile(const std::filesystem::path& path, const Options& opts) {
  Counts counts;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string file = path.filename().string();
  std::vector<Command> cmds;
  std::string err;
  if (!ParseScript(ss.str(), &cmds, &err)) {
    std::printf("%s: script rejected: %s\n", file.c_str(), err.c_str());
    counts.failed = 1;
    return counts;
  }
  EngineOptions eo;
  eo.delayed_name_removal = opts.delayed_name_removal;  // the reference configuration
  Engine engine(eo);
  std::unique_ptr<Store> store;
  if (opts.use_db) {
    auto db = std::make_unique<DbStore>();
    if (absl::Status st = db->Open(); !st.ok()) {
      std::printf("%s: cannot open storage: %s\n", file.c_str(), std::string(st.message()).c_str());
      counts.failed = 1;
      return counts;
    }
    store = std::move(db);
  } else {
    store = std::make_unique<MemStore>();
  }
  bool histograms_loaded = false;
  for (const Command& c : cmds) {
    if (c.kind == Command::kClear) {
      if (absl::Status st = store->Clear(); !st.ok()) {
        std::printf("%s:%d: clear: %s\n", file.c_str(), c.line, std::string(st.message()).c_str());
      }
      continue;
    }
    if (c.kind == Command::kLoad) {
      std::vector<std::tuple<model::Labels, int64_t, double>> batch;
      for (const SeriesLine& s : c.load) {
        for (size_t k = 0; k < s.slots.size(); ++k) {
          const Slot& sl = s.slots[k];
          if (sl.kind == SlotKind::kHistogram) histograms_loaded = true;
          if (sl.kind != SlotKind::kValue && sl.kind != SlotKind::kStale) continue;
          if (s.labels.empty()) continue;
          batch.emplace_back(s.labels, static_cast<int64_t>(k) * c.step, sl.v);
        }
      }
      if (absl::Status st = store->Load(batch); !st.ok()) {
        // Upstream aborts the file on a failed load; we report it and carry on so the
        // remaining evals still say something.
        std::printf("%s:%d: load failed: %s\n", file.c_str(), c.line,
                    std::string(st.message()).c_str());
      }
      continue;
    }
    const EvalCmd& e = c.eval;
    bool counted = true;
    if (opts.have_classification) {
      auto it = opts.float_stable.find({file, e.line});
      counted = it != opts.float_stable.end() && it->second;
    }
    std::string why;
    bool ok = RunEval(engine, store->queryable(), e, opts.parse_only, opts.cross_check, &why);
    if (!counted) {
      counts.skipped++;
      if (ok) counts.skipped_passed++;
      if (!ok && opts.verbose_skipped) {
        std::printf("SKIPPED-FAIL %s:%d: %s\n    %s\n", file.c_str(), e.line, e.expr.c_str(),
                    why.c_str());
      }
      continue;
    }
    if (ok) {
      counts.passed++;
    } else {
      counts.failed++;
      if (opts.verbose) {
        std::printf("FAIL %s:%d: %s\n    %s\n", file.c_str(), e.line, e.expr.c_str(),
                    why.c_str());
      }
    }
  }
  (void)histograms_loaded;
  std::printf("%s: %d passed, %d failed, %d skipped (%d of them pass)\n", file.c_str(),
              counts.passed, counts.failed, counts.skipped, counts.skipped_passed);
  return counts;
}

int Main(int argc, char** argv) {
  Options opts;
  std::vector<std::filesystem::path> files;
  std::string evals_path;
  int min_pass = -1;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-v") {
      opts.verbose = true;
    } else if (a == "-vv") {
      opts.verbose = opts.verbose_skipped = true;
    } else if (a == "--no-delayed-name-removal") {
      opts.delayed_name_removal = false;
    } else if (a == "--db") {
      opts.use_db = true;
    } else if (a == "--no-cross-check") {
      opts.cross_check = false;
    } else if (a == "--parse-only") {
      opts.parse_only = true;
    } else if (a == "--evals" && i + 1 < argc) {
      evals_path = argv[++i];
    } else if (a == "--min-pass" && i + 1 < argc) {
      min_pass = std::atoi(argv[++i]);
    } else if (std::filesystem::is_directory(a)) {
      for (const auto& ent : std::filesystem::directory_iterator(a)) {
        if (ent.path().extension() == ".test") files.push_back(ent.path());
      }
      if (evals_path.empty() && std::filesystem::exists(std::filesystem::path(a) / "../EVALS.tsv")) {
        evals_path = (std::filesystem::path(a) / "../EVALS.tsv").string();
      }
    } else {
      files.emplace_back(a);
      auto tsv = std::filesystem::path(a).parent_path() / "../EVALS.tsv";
      if (evals_path.empty() && std::filesystem::exists(tsv)) evals_path = tsv.string();
    }
  }
  std::sort(files.begin(), files.end());
  if (!evals_path.empty()) {
    std::ifstream in(evals_path);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::vector<std::string> cols;
      std::stringstream ls(line);
      std::string col;
      while (std::getline(ls, col, '\t')) cols.push_back(col);
      if (cols.size() < 6) continue;
      opts.float_stable[{cols[0], std::atoi(cols[1].c_str())}] = cols[5] == "yes";
    }
    opts.have_classification = true;
  }
  Counts total;
  for (const auto& f : files) {
    Counts c = RunFile(f, opts);
    total.passed += c.passed;
    total.failed += c.failed;
    total.skipped += c.skipped;
    total.skipped_passed += c.skipped_passed;
  }
  std::printf("TOTAL: %d passed, %d failed, %d skipped (%d of them pass)\n", total.passed,
              total.failed, total.skipped, total.skipped_passed);
  if (min_pass >= 0 && total.passed < min_pass) {
    std::printf("FAIL: %d float-stable evals pass, fewer than the required %d\n", total.passed,
                min_pass);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace vigil::promql::testing

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);
  return vigil::promql::testing::Main(argc, argv);
}
