// Prints a PromQL tree back to text the way Prometheus's format_query does: canonical
// spacing, aggregation grouping before the arguments, durations in their shortest unit form,
// numbers as Go's %v prints float64.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

#include "fmt/format.h"
#include "promql/parser.h"

namespace vigil::promql {

std::string FormatFloat(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == 0) return std::signbit(v) ? "-0" : "0";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string sci(buf, r.ptr);
  int exp = std::atoi(sci.c_str() + sci.find('e') + 1);
  // Go's %v uses %e when the exponent is < -4 or >= 6 (shortest precision), else %f.
  if (exp < -4 || exp >= 6) return sci;
  r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0s";
  if (ms < 0) return "-" + FormatDuration(-ms);
  std::string out;
  auto unit = [&](const char* name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    int64_t v = ms / mult;
    if (v > 0) {
      out += fmt::format("{}{}", v, name);
      ms -= v * mult;
    }
  };
  unit("y", 365LL * 24 * 3600 * 1000, true);
  unit("w", 7LL * 24 * 3600 * 1000, true);
  unit("d", 24LL * 3600 * 1000, false);
  unit("h", 3600LL * 1000, false);
  unit("m", 60LL * 1000, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return out;
}

std::string QuoteString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '\a': out += "\\a"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\v': out += "\\v"; continue;
      case '\\': out += "\\\\"; continue;
      case '"': out += "\\\""; continue;
      default: break;
    }
    if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      continue;
    }
    // Keep a valid UTF-8 sequence as is; escape stray bytes.
    size_t n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
    bool valid = n > 0 && i + n <= s.size();
    for (size_t k = 1; valid && k < n; ++k) {
      valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    }
    if (!valid) {
      out += fmt::format("\\x{:02x}", c);
      continue;
    }
    out.append(s.substr(i, n));
    i += n - 1;
  }
  out += "\"";
  return out;
}

namespace {

std::string LabelName(const std::string& n) {
  return model::IsValidLabelName(n) ? n : QuoteString(n);
}

std::string JoinLabels(const std::vector<std::string>& labels) {
  std::string out;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (i > 0) out += ", ";
    out += LabelName(labels[i]);
  }
  return out;
}

std::string DurationText(const Duration& d) {
  if (d.expr) return Format(*d.expr);
  return FormatDuration(d.ms);
}

std::string OffsetText(const Duration& d) {
  if (!d.set) return "";
  if (d.expr) return " offset " + Format(*d.expr);
  if (d.ms == 0) return "";
  if (d.ms < 0) return " offset -" + FormatDuration(-d.ms);
  return " offset " + FormatDuration(d.ms);
}

std::string AtText(const std::optional<int64_t>& at, AtPreproc pre) {
  if (at) return fmt::format(" @ {:.3f}", static_cast<double>(*at) / 1000.0);
  if (pre == AtPreproc::kStart) return " @ start()";
  if (pre == AtPreproc::kEnd) return " @ end()";
  return "";
}

std::string SelectorBody(const VectorSelector& vs) {
  std::vector<std::string> parts;
  bool name_inside = !vs.name.empty() && !model::IsValidMetricName(vs.name);
  if (name_inside) parts.push_back(QuoteString(vs.name));
  for (const auto& m : vs.matchers) {
    if (!vs.name.empty() && m.name() == model::kMetricName &&
        m.type() == model::MatchType::kEqual && m.value() == vs.name) {
      continue;
    }
    static constexpr const char* kOps[] = {"=", "!=", "=~", "!~"};
    parts.push_back(LabelName(m.name()) + kOps[static_cast<int>(m.type())] +
                    QuoteString(m.value()));
  }
  // Prometheus sorts the printed matchers and joins them without spaces.
  std::sort(parts.begin() + (name_inside ? 1 : 0), parts.end());
  std::string out = name_inside ? "" : vs.name;
  if (!parts.empty() || vs.name.empty()) {
    out += "{";
    for (size_t i = 0; i < parts.size(); ++i) {
      if (i > 0) out += ",";
      out += parts[i];
    }
    out += "}";
  }
  return out;
}

std::string SelectorModifiers(const VectorSelector& vs) {
  std::string out = AtText(vs.at, vs.at_preproc) + OffsetText(vs.offset);
  if (vs.anchored) out += " anchored";
  if (vs.smoothed) out += " smoothed";
  return out;
}

std::string MatchingText(const BinaryExpr& b) {
  std::string mods;
  if (b.return_bool) mods += " bool";
  if (!b.matching) return mods;
  const VectorMatching& vm = *b.matching;
  if (vm.on || !vm.matching_labels.empty()) {
    mods += fmt::format(" {} ({})", vm.on ? "on" : "ignoring", JoinLabels(vm.matching_labels));
    if (vm.card == Cardinality::kManyToOne || vm.card == Cardinality::kOneToMany) {
      mods += fmt::format(" group_{} ({})", vm.card == Cardinality::kManyToOne ? "left" : "right",
                          JoinLabels(vm.include));
    }
  }
  if (vm.fill_left && vm.fill_right && *vm.fill_left == *vm.fill_right) {
    mods += " fill (" + FormatFloat(*vm.fill_left) + ")";
  } else {
    if (vm.fill_left) mods += " fill_left (" + FormatFloat(*vm.fill_left) + ")";
    if (vm.fill_right) mods += " fill_right (" + FormatFloat(*vm.fill_right) + ")";
  }
  return mods;
}

}  // namespace

std::string Format(const Expr& e) {
  switch (e.kind) {
    case NodeKind::kNumberLiteral: {
      const auto& n = static_cast<const NumberLiteral&>(e);
      if (n.duration && std::isfinite(n.val)) {
        int64_t ms = static_cast<int64_t>(std::llround(n.val * 1000));
        return ms < 0 ? "-" + FormatDuration(-ms) : FormatDuration(ms);
      }
      return FormatFloat(n.val);
    }
    case NodeKind::kStringLiteral:
      return QuoteString(static_cast<const StringLiteral&>(e).val);
    case NodeKind::kVectorSelector: {
      const auto& vs = static_cast<const VectorSelector&>(e);
      return SelectorBody(vs) + SelectorModifiers(vs);
    }
    case NodeKind::kMatrixSelector: {
      const auto& ms = static_cast<const MatrixSelector&>(e);
      const VectorSelector& vs = ms.selector();
      return SelectorBody(vs) + "[" + DurationText(ms.range) + "]" + SelectorModifiers(vs);
    }
    case NodeKind::kSubquery: {
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      std::string step = sq.step.set ? DurationText(sq.step) : "";
      return Format(*sq.expr) + "[" + DurationText(sq.range) + ":" + step + "]" +
             AtText(sq.at, sq.at_preproc) + OffsetText(sq.offset);
    }
    case NodeKind::kParen:
      return "(" + Format(*static_cast<const ParenExpr&>(e).expr) + ")";
    case NodeKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      return std::string(OpName(u.op)) + Format(*u.expr);
    }
    case NodeKind::kBinary: {
      const auto& b = static_cast<const BinaryExpr&>(e);
      return Format(*b.lhs) + " " + OpName(b.op) + MatchingText(b) + " " + Format(*b.rhs);
    }
    case NodeKind::kCall: {
      const auto& c = static_cast<const Call&>(e);
      std::string out = std::string(c.func->name) + "(";
      for (size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) out += ", ";
        out += Format(*c.args[i]);
      }
      return out + ")";
    }
    case NodeKind::kAggregate: {
      const auto& a = static_cast<const AggregateExpr&>(e);
      std::string out = OpName(a.op);
      if (a.without) {
        out += " without (" + JoinLabels(a.grouping) + ") ";
      } else if (!a.grouping.empty()) {
        out += " by (" + JoinLabels(a.grouping) + ") ";
      }
      out += "(";
      if (a.param) out += Format(*a.param) + ", ";
      return out + Format(*a.expr) + ")";
    }
  }
  return "";
}

namespace {

// Prometheus's prettifier: a node whose one-line form is longer than this is split.
constexpr size_t kMaxLineLength = 100;

std::string Indent(int level) { return std::string(static_cast<size_t>(level) * 2, ' '); }

std::string Pretty(const Expr& e, int level) {
  std::string flat = Format(e);
  bool split = flat.size() > kMaxLineLength;
  switch (e.kind) {
    case NodeKind::kBinary: {
      if (!split) return Indent(level) + flat;
      const auto& b = static_cast<const BinaryExpr&>(e);
      return Pretty(*b.lhs, level + 1) + "\n" + Indent(level) + OpName(b.op) + MatchingText(b) +
             "\n" + Pretty(*b.rhs, level + 1);
    }
    case NodeKind::kAggregate: {
      if (!split) return Indent(level) + flat;
      const auto& a = static_cast<const AggregateExpr&>(e);
      std::string out = Indent(level) + OpName(a.op);
      if (a.without) {
        out += " without (" + JoinLabels(a.grouping) + ") ";
      } else if (!a.grouping.empty()) {
        out += " by (" + JoinLabels(a.grouping) + ") ";
      }
      out += "(\n";
      if (a.param) out += Pretty(*a.param, level + 1) + ",\n";
      return out + Pretty(*a.expr, level + 1) + "\n" + Indent(level) + ")";
    }
    case NodeKind::kCall: {
      if (!split) return Indent(level) + flat;
      const auto& c = static_cast<const Call&>(e);
      std::string out = Indent(level) + std::string(c.func->name) + "(\n";
      for (size_t i = 0; i < c.args.size(); ++i) {
        if (i > 0) out += ",\n";
        out += Pretty(*c.args[i], level + 1);
      }
      return out + "\n" + Indent(level) + ")";
    }
    case NodeKind::kParen: {
      if (!split) return Indent(level) + flat;
      return Indent(level) + "(\n" + Pretty(*static_cast<const ParenExpr&>(e).expr, level + 1) +
             "\n" + Indent(level) + ")";
    }
    case NodeKind::kSubquery: {
      // Prometheus does not indent a subquery that fits on its line; neither do we, so that
      // format_query answers the same text.
      if (!split) return flat;
      const auto& sq = static_cast<const SubqueryExpr&>(e);
      std::string step = sq.step.set ? DurationText(sq.step) : "";
      return Pretty(*sq.expr, level) + "[" + DurationText(sq.range) + ":" + step + "]" +
             AtText(sq.at, sq.at_preproc) + OffsetText(sq.offset);
    }
    case NodeKind::kUnary: {
      const auto& u = static_cast<const UnaryExpr&>(e);
      std::string child = Pretty(*u.expr, level);
      size_t b = child.find_first_not_of(' ');
      child = b == std::string::npos ? "" : child.substr(b);
      while (!child.empty() && std::isspace(static_cast<unsigned char>(child.back()))) {
        child.pop_back();
      }
      return Indent(level) + OpName(u.op) + child;
    }
    default: return Indent(level) + flat;
  }
}

}  // namespace

std::string Prettify(const Expr& expr) { return Pretty(expr, 0); }

}  // namespace vigil::promql
