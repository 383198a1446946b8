#include "rules/template.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <map>
#include <optional>
#include <variant>

#include "config/units.h"
#include "fmt/format.h"
#include "promql/parser.h"
#include "re2/re2.h"


// Local early-return helpers (the shared ones in base/status.h read StatusOr via value()).
#define RETURN_IF_ERROR_LOCAL(x) \
  do {                           \
    absl::Status _s = (x);       \
    if (!_s.ok()) return _s;     \
  } while (0)
#define RETURN_IF_ERROR_X(x) RETURN_IF_ERROR_LOCAL(x)
#define ASSIGN_X_CAT2(a, b) a##b
#define ASSIGN_X_CAT(a, b) ASSIGN_X_CAT2(a, b)
#define ASSIGN_X(lhs, expr) ASSIGN_X_IMPL(ASSIGN_X_CAT(_x_, __LINE__), lhs, expr)
#define ASSIGN_X_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                  \
  if (!tmp.ok()) return tmp.status(); \
  lhs = std::move(*tmp)

namespace vigil::rules {
namespace tmpl {

// ---- values ---------------------------------------------------------------------------

struct Value;
using Map = std::map<std::string, std::string>;
using Samples = std::vector<QuerySample>;

struct Nil {};
struct Num {
  double v;
  bool is_int;  // Go distinguishes int literals (printf "%d") from float64.
};
struct DataRef {
  const TemplateData* d;
};

struct Value {
  std::variant<Nil, bool, Num, std::string, Map, Samples, QuerySample, DataRef> v;
};

std::string FormatGoFloat(double v) { return promql::FormatFloat(v); }

std::string Print(const Value& x) {
  struct V {
    std::string operator()(Nil) const { return "<no value>"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const Num& n) const {
      if (n.is_int) return fmt::format("{}", static_cast<int64_t>(n.v));
      return FormatGoFloat(n.v);
    }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const Map& m) const {
      std::string out = "map[";
      bool first = true;
      for (const auto& [k, v] : m) {
        if (!first) out += ' ';
        first = false;
        out += k + ":" + v;
      }
      return out + "]";
    }
    std::string operator()(const Samples& s) const {
      std::string out = "[";
      for (size_t i = 0; i < s.size(); ++i) {
        if (i > 0) out += ' ';
        out += "{" + s[i].labels.ToString() + " " + FormatGoFloat(s[i].value) + "}";
      }
      return out + "]";
    }
    std::string operator()(const QuerySample& s) const {
      return "{" + s.labels.ToString() + " " + FormatGoFloat(s.value) + "}";
    }
    std::string operator()(const DataRef&) const { return "{...}"; }
  };
  return std::visit(V{}, x.v);
}

bool Truth(const Value& x) {
  struct V {
    bool operator()(Nil) const { return false; }
    bool operator()(bool b) const { return b; }
    bool operator()(const Num& n) const { return n.v != 0; }
    bool operator()(const std::string& s) const { return !s.empty(); }
    bool operator()(const Map& m) const { return !m.empty(); }
    bool operator()(const Samples& s) const { return !s.empty(); }
    bool operator()(const QuerySample&) const { return true; }
    bool operator()(const DataRef&) const { return true; }
  };
  return std::visit(V{}, x.v);
}

Map ToMap(const model::Labels& l) {
  Map m;
  for (const auto& p : l) m[p.name] = p.value;
  return m;
}

// ---- syntax tree ----------------------------------------------------------------------

struct Pipeline;

struct Operand {
  enum Kind { kDot, kField, kVar, kString, kNumber, kBool, kNil, kFunc, kPipe } kind;
  std::string name;                // variable name (with $), function name, string value
  std::vector<std::string> fields;  // field chain after the term
  double num = 0;
  bool is_int = false;
  bool b = false;
  std::shared_ptr<Pipeline> pipe;  // kPipe
};

struct Command {
  std::vector<Operand> args;
};

struct Pipeline {
  std::vector<std::string> decl;  // variables declared or assigned
  bool assign = false;            // `=` rather than `:=`
  std::vector<Command> cmds;
  int line = 1, col = 1;
};

struct Node {
  enum Kind { kList, kText, kAction, kIf, kRange, kWith } kind = kList;
  std::string text;
  std::shared_ptr<Pipeline> pipe;
  std::vector<std::shared_ptr<Node>> list;       // kList children; body of if/range/with
  std::vector<std::shared_ptr<Node>> else_list;  // else branch
};

}  // namespace tmpl

namespace {

using tmpl::Command;
using tmpl::Map;
using tmpl::Node;
using tmpl::Num;
using tmpl::Operand;
using tmpl::Pipeline;
using tmpl::Samples;
using tmpl::Value;

// ---- parser ---------------------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::string_view src) : src_(src) {}

  absl::StatusOr<std::shared_ptr<Node>> Run() {
    auto root = std::make_shared<Node>();
    std::string end_kw;
    auto st = ParseList(root.get(), &end_kw, /*top=*/true);
    if (!st.ok()) return st;
    return root;
  }

 private:
  absl::Status Err(size_t at, std::string_view what) const {
    int line = 1, col = 1;
    for (size_t i = 0; i < at && i < src_.size(); ++i) {
      if (src_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return absl::InvalidArgumentError(fmt::format("template: {}:{}: {}", line, col, what));
  }

  // Parses text and actions into `parent` until `{{end}}`/`{{else}}` (returned in *end_kw)
  // or the end of input (only allowed at top level).
  absl::Status ParseList(Node* parent, std::string* end_kw, bool top) {
    while (pos_ < src_.size()) {
      size_t open = src_.find("{{", pos_);
      std::string text(src_.substr(pos_, open == std::string_view::npos ? std::string_view::npos
                                                                         : open - pos_));
      if (open == std::string_view::npos) {
        pos_ = src_.size();
        if (trim_next_) {
          size_t k = 0;
          while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
          text.erase(0, k);
          trim_next_ = false;
        }
        AddText(parent, std::move(text));
        break;
      }
      // Left trim marker.
      size_t p = open + 2;
      if (p + 1 < src_.size() && src_[p] == '-' && std::isspace(static_cast<unsigned char>(src_[p + 1]))) {
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
        ++p;
      }
      if (trim_next_) {
        size_t k = 0;
        while (k < text.size() && std::isspace(static_cast<unsigned char>(text[k]))) ++k;
        text.erase(0, k);
        trim_next_ = false;
      }
      AddText(parent, std::move(text));
      // Find the end of the action, skipping quoted strings.
      size_t close = FindClose(p);
      if (close == std::string_view::npos) return Err(open, "unclosed action");
      std::string_view body = src_.substr(p, close - p);
      bool rtrim = false;
      if (body.size() >= 2 && body.back() == '-' &&
          std::isspace(static_cast<unsigned char>(body[body.size() - 2]))) {
        body.remove_suffix(1);
        rtrim = true;
      }
      const size_t action_at = p;
      pos_ = close + 2;
      trim_next_ = rtrim;
      // Comment.
      std::string_view trimmed = Trim(body);
      if (trimmed.substr(0, 2) == "/*") {
        if (trimmed.size() < 4 || trimmed.substr(trimmed.size() - 2) != "*/") {
          return Err(action_at, "unclosed comment");
        }
        continue;
      }
      toks_ = {};
      auto st = Lex(body, action_at);
      if (!st.ok()) return st;
      ti_ = 0;
      if (toks_.empty()) return Err(action_at, "missing value for command");
      const std::string kw = toks_[0].kind == Tok::kIdent ? toks_[0].text : "";
      if (kw == "end" || kw == "else") {
        if (top) return Err(action_at, fmt::format("unexpected {{{{{}}}}}", kw));
        *end_kw = kw;
        if (kw == "else") {
          ++ti_;  // the caller reads what follows else (e.g. `if`)
          else_rest_ = toks_;
          else_ti_ = ti_;
        } else if (toks_.size() > 1) {
          return Err(action_at, "unexpected token after end");
        }
        return absl::OkStatus();
      }
      if (kw == "if" || kw == "range" || kw == "with") {
        ++ti_;
        auto st2 = ParseControl(parent, kw, action_at);
        if (!st2.ok()) return st2;
        continue;
      }
      if (kw == "define" || kw == "template" || kw == "block" || kw == "break" || kw == "continue") {
        return Err(action_at, fmt::format("{} is not supported", kw));
      }
      auto pipe = ParsePipeline(action_at, /*allow_decl=*/true);
      if (!pipe.ok()) return pipe.status();
      if (ti_ != toks_.size()) return Err(action_at, fmt::format("unexpected \"{}\" in command", toks_[ti_].text));
      auto n = std::make_shared<Node>();
      n->kind = Node::kAction;
      n->pipe = *pipe;
      parent->list.push_back(n);
    }
    if (!top) return Err(src_.size(), "unexpected EOF");
    return absl::OkStatus();
  }

  absl::Status ParseControl(Node* parent, const std::string& kw, size_t action_at) {
    auto n = std::make_shared<Node>();
    n->kind = kw == "if" ? Node::kIf : kw == "range" ? Node::kRange : Node::kWith;
    auto pipe = ParsePipeline(action_at, /*allow_decl=*/true);
    if (!pipe.ok()) return pipe.status();
    if (ti_ != toks_.size()) return Err(action_at, fmt::format("unexpected \"{}\" in {}", toks_[ti_].text, kw));
    n->pipe = *pipe;
    parent->list.push_back(n);
    std::string end_kw;
    RETURN_IF_ERROR_LOCAL(ParseList(n.get(), &end_kw, false));
    if (end_kw == "else") {
      // `{{else if x}}` / `{{else with x}}` nest a control node in the else branch that
      // shares our {{end}}.
      std::vector<Tok> rest = else_rest_;
      size_t rti = else_ti_;
      auto else_node = std::make_shared<Node>();
      if (rti < rest.size()) {
        const std::string kw2 = rest[rti].text;
        if (rest[rti].kind != Tok::kIdent || (kw2 != "if" && kw2 != "with")) {
          return Err(action_at, "unexpected token after else");
        }
        toks_ = rest;
        ti_ = rti + 1;
        return ParseControl(ElseHolder(n.get()), kw2, action_at);
      }
      RETURN_IF_ERROR_LOCAL(ParseList(ElseHolder(n.get()), &end_kw, false));
      if (end_kw != "end") return Err(pos_, "expected {{end}}");
    }
    return absl::OkStatus();
  }

  // The else branch is stored in else_list; ParseList appends to `list`, so use a holder
  // node whose list is the else branch.
  Node* ElseHolder(Node* n) {
    auto holder = std::make_shared<Node>();
    n->else_list.push_back(holder);
    return holder.get();
  }

  struct Tok {
    enum Kind { kIdent, kVar, kField, kString, kNumber, kPipe, kLParen, kRParen, kDecl, kAssign, kComma, kDot } kind;
    std::string text;
  };

  absl::Status Lex(std::string_view body, size_t base) {
    size_t i = 0;
    while (i < body.size()) {
      char c = body[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        continue;
      }
      auto ident_char = [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_';
      };
      if (c == '|') {
        toks_.push_back({Tok::kPipe, "|"});
        ++i;
      } else if (c == '(') {
        toks_.push_back({Tok::kLParen, "("});
        ++i;
      } else if (c == ')') {
        toks_.push_back({Tok::kRParen, ")"});
        ++i;
      } else if (c == ',') {
        toks_.push_back({Tok::kComma, ","});
        ++i;
      } else if (c == ':' && i + 1 < body.size() && body[i + 1] == '=') {
        toks_.push_back({Tok::kDecl, ":="});
        i += 2;
      } else if (c == '=') {
        toks_.push_back({Tok::kAssign, "="});
        ++i;
      } else if (c == '"') {
        std::string s;
        ++i;
        bool closed = false;
        while (i < body.size()) {
          char d = body[i++];
          if (d == '"') {
            closed = true;
            break;
          }
          if (d == '\\' && i < body.size()) {
            char e = body[i++];
            switch (e) {
              case 'n': s += '\n'; break;
              case 't': s += '\t'; break;
              case 'r': s += '\r'; break;
              case '\\': s += '\\'; break;
              case '"': s += '"'; break;
              default: s += '\\'; s += e;
            }
          } else {
            s += d;
          }
        }
        if (!closed) return Err(base + i, "unterminated quoted string");
        toks_.push_back({Tok::kString, s});
      } else if (c == '`') {
        size_t e = body.find('`', i + 1);
        if (e == std::string_view::npos) return Err(base + i, "unterminated raw quoted string");
        toks_.push_back({Tok::kString, std::string(body.substr(i + 1, e - i - 1))});
        i = e + 1;
      } else if (c == '$') {
        size_t j = i + 1;
        while (j < body.size() && ident_char(body[j])) ++j;
        toks_.push_back({Tok::kVar, std::string(body.substr(i, j - i))});
        i = j;
      } else if (c == '.') {
        size_t j = i + 1;
        if (j < body.size() && (std::isalpha(static_cast<unsigned char>(body[j])) || body[j] == '_')) {
          while (j < body.size() && ident_char(body[j])) ++j;
          toks_.push_back({Tok::kField, std::string(body.substr(i + 1, j - i - 1))});
        } else if (j < body.size() && std::isdigit(static_cast<unsigned char>(body[j]))) {
          while (j < body.size() && (std::isalnum(static_cast<unsigned char>(body[j])) || body[j] == '.')) ++j;
          toks_.push_back({Tok::kNumber, std::string(body.substr(i, j - i))});
        } else {
          toks_.push_back({Tok::kDot, "."});
        }
        i = j;
      } else if (std::isdigit(static_cast<unsigned char>(c)) || ((c == '-' || c == '+') && i + 1 < body.size() && (std::isdigit(static_cast<unsigned char>(body[i + 1])) || body[i + 1] == '.'))) {
        size_t j = i + 1;
        while (j < body.size() && (std::isalnum(static_cast<unsigned char>(body[j])) || body[j] == '.' ||
                                   ((body[j] == '-' || body[j] == '+') && (body[j - 1] == 'e' || body[j - 1] == 'E')))) {
          ++j;
        }
        toks_.push_back({Tok::kNumber, std::string(body.substr(i, j - i))});
        i = j;
      } else if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t j = i;
        while (j < body.size() && ident_char(body[j])) ++j;
        toks_.push_back({Tok::kIdent, std::string(body.substr(i, j - i))});
        i = j;
      } else {
        return Err(base + i, fmt::format("unexpected \"{}\" in command", c));
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::shared_ptr<Pipeline>> ParsePipeline(size_t at, bool allow_decl) {
    auto p = std::make_shared<Pipeline>();
    // Declarations: `$x :=`, `$x =`, `$i, $e :=`.
    if (allow_decl && ti_ < toks_.size() && toks_[ti_].kind == Tok::kVar) {
      size_t k = ti_;
      std::vector<std::string> vars{toks_[k].text};
      ++k;
      if (k + 1 < toks_.size() && toks_[k].kind == Tok::kComma && toks_[k + 1].kind == Tok::kVar) {
        vars.push_back(toks_[k + 1].text);
        k += 2;
      }
      if (k < toks_.size() && (toks_[k].kind == Tok::kDecl || toks_[k].kind == Tok::kAssign)) {
        p->assign = toks_[k].kind == Tok::kAssign;
        p->decl = vars;
        ti_ = k + 1;
      }
    }
    while (true) {
      Command cmd;
      while (ti_ < toks_.size() && toks_[ti_].kind != Tok::kPipe && toks_[ti_].kind != Tok::kRParen) {
        auto op = ParseOperand(at);
        if (!op.ok()) return op.status();
        cmd.args.push_back(std::move(*op));
      }
      if (cmd.args.empty()) return Err(at, "missing value for command");
      p->cmds.push_back(std::move(cmd));
      if (ti_ < toks_.size() && toks_[ti_].kind == Tok::kPipe) {
        ++ti_;
        continue;
      }
      break;
    }
    return p;
  }

  absl::StatusOr<Operand> ParseOperand(size_t at) {
    const Tok t = toks_[ti_++];
    Operand op{};
    switch (t.kind) {
      case Tok::kDot: op.kind = Operand::kDot; break;
      case Tok::kField:
        op.kind = Operand::kField;
        op.fields.push_back(t.text);
        break;
      case Tok::kVar:
        op.kind = Operand::kVar;
        op.name = t.text;
        break;
      case Tok::kString:
        op.kind = Operand::kString;
        op.name = t.text;
        break;
      case Tok::kNumber: {
        op.kind = Operand::kNumber;
        char* end = nullptr;
        op.num = std::strtod(t.text.c_str(), &end);
        if (end == nullptr || *end != '\0') {
          // Go also accepts 0x.. integers.
          op.num = static_cast<double>(std::strtoll(t.text.c_str(), &end, 0));
          if (*end != '\0') return Err(at, fmt::format("bad number syntax: \"{}\"", t.text));
        }
        op.is_int = t.text.find_first_of(".eE") == std::string::npos ||
                    t.text.rfind("0x", 0) == 0;
        break;
      }
      case Tok::kIdent:
        if (t.text == "true" || t.text == "false") {
          op.kind = Operand::kBool;
          op.b = t.text == "true";
        } else if (t.text == "nil") {
          op.kind = Operand::kNil;
        } else {
          if (!KnownFunction(t.text)) return Err(at, fmt::format("function \"{}\" not defined", t.text));
          op.kind = Operand::kFunc;
          op.name = t.text;
        }
        break;
      case Tok::kLParen: {
        auto p = ParsePipeline(at, false);
        if (!p.ok()) return p.status();
        if (ti_ >= toks_.size() || toks_[ti_].kind != Tok::kRParen) return Err(at, "unclosed left paren");
        ++ti_;
        op.kind = Operand::kPipe;
        op.pipe = *p;
        break;
      }
      default:
        return Err(at, fmt::format("unexpected \"{}\" in operand", t.text));
    }
    // Field chain directly after the term (`$labels.job`, `(x).Labels`).
    while (ti_ < toks_.size() && toks_[ti_].kind == Tok::kField && op.kind != Operand::kFunc &&
           op.kind != Operand::kString && op.kind != Operand::kNumber) {
      op.fields.push_back(toks_[ti_++].text);
    }
    return op;
  }

  size_t FindClose(size_t p) const {
    char quote = 0;
    for (size_t i = p; i + 1 < src_.size(); ++i) {
      char c = src_[i];
      if (quote != 0) {
        if (c == '\\' && quote == '"') {
          ++i;
        } else if (c == quote) {
          quote = 0;
        }
        continue;
      }
      if (c == '"' || c == '`') {
        quote = c;
      } else if (c == '}' && src_[i + 1] == '}') {
        return i;
      }
    }
    return std::string_view::npos;
  }

  static std::string_view Trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
  }

  static void AddText(Node* parent, std::string text) {
    if (text.empty()) return;
    auto n = std::make_shared<Node>();
    n->kind = Node::kText;
    n->text = std::move(text);
    parent->list.push_back(n);
  }

 public:
  static bool KnownFunction(std::string_view n);

 private:
  std::string_view src_;
  size_t pos_ = 0;
  bool trim_next_ = false;
  std::vector<Tok> toks_;
  size_t ti_ = 0;
  std::vector<Tok> else_rest_;
  size_t else_ti_ = 0;
};

constexpr std::string_view kFunctions[] = {
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "print", "printf",
    "println", "html", "urlquery", "js", "query", "first", "label", "value", "strvalue",
    "sortByLabel", "humanize", "humanize1024", "humanizeDuration", "humanizePercentage",
    "humanizeTimestamp", "toTime", "parseDuration", "title", "toUpper", "toLower", "match",
    "reReplaceAll", "stripPort", "stripDomain", "safeHtml", "args", "externalURL",
    "pathPrefix"};

bool Parser::KnownFunction(std::string_view n) {
  return std::find(std::begin(kFunctions), std::end(kFunctions), n) != std::end(kFunctions);
}

// ---- execution ------------------------------------------------------------------------

absl::StatusOr<double> ToFloat(const Value& v, std::string_view fn) {
  if (auto* n = std::get_if<Num>(&v.v)) return n->v;
  if (auto* s = std::get_if<std::string>(&v.v)) {
    char* end = nullptr;
    double d = std::strtod(s->c_str(), &end);
    if (!s->empty() && end != nullptr && *end == '\0') return d;
    return absl::InvalidArgumentError(fmt::format("{}: cannot convert \"{}\" to a number", fn, *s));
  }
  if (auto* b = std::get_if<bool>(&v.v)) return *b ? 1.0 : 0.0;
  return absl::InvalidArgumentError(fmt::format("{}: cannot convert {} to a number", fn, tmpl::Print(v)));
}

std::string SiPrefixed(double v, double base, const char* const* up, const char* const* down) {
  if (v == 0 || std::isnan(v) || std::isinf(v)) return fmt::format("{:.4g}", v);
  if (std::fabs(v) >= 1) {
    const char* prefix = "";
    for (int i = 0; up[i] != nullptr && std::fabs(v) >= base; ++i) {
      prefix = up[i];
      v /= base;
    }
    return fmt::format("{:.4g}{}", v, prefix);
  }
  const char* prefix = "";
  if (down != nullptr) {
    for (int i = 0; down[i] != nullptr && std::fabs(v) < 1; ++i) {
      prefix = down[i];
      v *= 1000;
    }
  }
  return fmt::format("{:.4g}{}", v, prefix);
}

// Go's %.4g drops a trailing "+00"-style exponent padding differently from C++; the cases
// rule templates meet (plain decimals) print the same.
std::string GoG4(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{:.4g}", v);
}

}  // namespace

std::string Humanize(double v) {
  static const char* const up[] = {"k", "M", "G", "T", "P", "E", "Z", "Y", nullptr};
  static const char* const down[] = {"m", "u", "n", "p", "f", "a", "z", "y", nullptr};
  if (v == 0 || std::isnan(v) || std::isinf(v)) return GoG4(v);
  return SiPrefixed(v, 1000, up, down);
}

std::string Humanize1024(double v) {
  static const char* const up[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi", nullptr};
  if (std::fabs(v) <= 1 || std::isnan(v) || std::isinf(v)) return GoG4(v);
  return SiPrefixed(v, 1024, up, nullptr);
}

std::string HumanizeDuration(double v) {
  if (std::isnan(v) || std::isinf(v)) return GoG4(v);
  if (v == 0) return "0s";
  if (std::fabs(v) >= 1) {
    std::string sign = v < 0 ? "-" : "";
    v = std::fabs(v);
    const int64_t secs = static_cast<int64_t>(v);
    const int64_t seconds = secs % 60, minutes = (secs / 60) % 60, hours = (secs / 3600) % 24,
                  days = secs / 86400;
    if (days != 0) return fmt::format("{}{}d {}h {}m {}s", sign, days, hours, minutes, seconds);
    if (hours != 0) return fmt::format("{}{}h {}m {}s", sign, hours, minutes, seconds);
    if (minutes != 0) return fmt::format("{}{}m {}s", sign, minutes, seconds);
    return fmt::format("{}{}s", sign, GoG4(v));
  }
  static const char* const down[] = {"m", "u", "n", "p", "f", "a", "z", "y", nullptr};
  const char* prefix = "";
  for (int i = 0; down[i] != nullptr && std::fabs(v) < 1; ++i) {
    prefix = down[i];
    v *= 1000;
  }
  return fmt::format("{}{}s", GoG4(v), prefix);
}

std::string HumanizePercentage(double ratio) { return GoG4(ratio * 100) + "%"; }

std::string HumanizeTimestamp(double s) {
  if (std::isnan(s) || std::isinf(s)) return GoG4(s);
  // Go's time.Time.String() in UTC: "2006-01-02 15:04:05.999999999 +0000 UTC".
  const double whole = std::floor(s);
  const time_t tt = static_cast<time_t>(whole);
  // As Go's time.Unix(0, int64(v*1e9)).
  int64_t nanos = static_cast<int64_t>(s * 1e9) - static_cast<int64_t>(whole) * 1000000000;
  if (nanos >= 1000000000) nanos = 999999999;
  struct tm tm {};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  std::string out = buf;
  if (nanos > 0) {
    std::string frac = fmt::format("{:09d}", nanos);
    while (!frac.empty() && frac.back() == '0') frac.pop_back();
    out += "." + frac;
  }
  return out + " +0000 UTC";
}

namespace {

// Go fmt.Sprintf for the verbs templates use: %s %v %d %f %e %g %q %x %X %t %% with flags,
// width and precision.
std::string GoSprintf(const std::string& f, const std::vector<Value>& args) {
  std::string out;
  size_t ai = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    size_t j = i + 1;
    std::string spec = "%";
    while (j < f.size() && std::strchr("+-# 0", f[j]) != nullptr) spec += f[j++];
    while (j < f.size() && (std::isdigit(static_cast<unsigned char>(f[j])) || f[j] == '.')) spec += f[j++];
    if (j >= f.size()) {
      out += "%!(NOVERB)";
      break;
    }
    const char verb = f[j];
    i = j;
    if (verb == '%') {
      out += '%';
      continue;
    }
    if (ai >= args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    const Value& a = args[ai++];
    char buf[512];
    const Num* n = std::get_if<Num>(&a.v);
    switch (verb) {
      case 'd':
        if (n != nullptr) {
          std::snprintf(buf, sizeof(buf), (spec + "lld").c_str(), static_cast<long long>(n->v));
          out += buf;
        } else {
          out += "%!d(" + tmpl::Print(a) + ")";
        }
        break;
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G':
        if (n != nullptr) {
          std::snprintf(buf, sizeof(buf), (spec + verb).c_str(), n->v);
          out += buf;
        } else {
          out += fmt::format("%!{}({})", verb, tmpl::Print(a));
        }
        break;
      case 'x': case 'X':
        if (n != nullptr) {
          std::snprintf(buf, sizeof(buf), (spec + "ll" + verb).c_str(), static_cast<long long>(n->v));
          out += buf;
        } else {
          std::string s = tmpl::Print(a), hex;
          for (unsigned char c : s) hex += (verb == 'x' ? fmt::format("{:02x}", c) : fmt::format("{:02X}", c));
          out += hex;
        }
        break;
      case 'q': {
        out += promql::QuoteString(tmpl::Print(a));
        break;
      }
      default: {  // s, v, t
        std::string s = tmpl::Print(a);
        std::snprintf(buf, sizeof(buf), (spec + "s").c_str(), s.c_str());
        out += s.size() < 400 ? std::string(buf) : s;
      }
    }
  }
  if (ai < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = ai; k < args.size(); ++k) {
      if (k > ai) out += ", ";
      out += tmpl::Print(args[k]);
    }
    out += ")";
  }
  return out;
}

int Compare(const Value& a, const Value& b, bool* ok) {
  *ok = true;
  if (auto* x = std::get_if<Num>(&a.v)) {
    if (auto* y = std::get_if<Num>(&b.v)) return x->v < y->v ? -1 : x->v > y->v ? 1 : 0;
  }
  if (auto* x = std::get_if<std::string>(&a.v)) {
    if (auto* y = std::get_if<std::string>(&b.v)) return x->compare(*y) < 0 ? -1 : *x == *y ? 0 : 1;
  }
  if (auto* x = std::get_if<bool>(&a.v)) {
    if (auto* y = std::get_if<bool>(&b.v)) return *x == *y ? 0 : 1;
  }
  *ok = false;
  return 0;
}

class Executor {
 public:
  Executor(const TemplateData& data, const TemplateQueryFunc& query) : data_(data), query_(query) {
    vars_.push_back({"$", Value{tmpl::DataRef{&data}}});
    vars_.push_back({"$labels", Value{tmpl::ToMap(data.labels)}});
    vars_.push_back({"$externalLabels", Value{tmpl::ToMap(data.external_labels)}});
    vars_.push_back({"$externalURL", Value{data.external_url}});
    vars_.push_back({"$value", Value{Num{data.value, false}}});
  }

  absl::Status Run(const Node& n, const Value& dot, std::string* out) {
    switch (n.kind) {
      case Node::kList:
        for (const auto& c : n.list) RETURN_IF_ERROR_X(Run(*c, dot, out));
        return absl::OkStatus();
      case Node::kText:
        *out += n.text;
        return absl::OkStatus();
      case Node::kAction: {
        ASSIGN_X(Value v, EvalPipeline(*n.pipe, dot));
        if (n.pipe->decl.empty()) *out += tmpl::Print(v);
        return absl::OkStatus();
      }
      case Node::kIf:
      case Node::kWith: {
        const size_t mark = vars_.size();
        ASSIGN_X(Value v, EvalPipeline(*n.pipe, dot));
        absl::Status st;
        if (tmpl::Truth(v)) {
          st = RunList(n.list, n.kind == Node::kWith ? v : dot, out);
        } else {
          st = RunList(n.else_list, dot, out);
        }
        vars_.resize(mark);
        return st;
      }
      case Node::kRange: {
        const size_t mark = vars_.size();
        // Range declarations bind the element (one var) or index and element (two).
        Pipeline p = *n.pipe;
        std::vector<std::string> decl = p.decl;
        p.decl.clear();
        ASSIGN_X(Value v, EvalPipeline(p, dot));
        std::vector<std::pair<Value, Value>> items;
        if (auto* s = std::get_if<Samples>(&v.v)) {
          for (size_t i = 0; i < s->size(); ++i) items.push_back({Value{Num{double(i), true}}, Value{(*s)[i]}});
        } else if (auto* m = std::get_if<Map>(&v.v)) {
          for (const auto& [k, val] : *m) items.push_back({Value{k}, Value{val}});
        } else if (auto* num = std::get_if<Num>(&v.v); num != nullptr && num->is_int) {
          // Bounded so that a template cannot stall an evaluation.
          if (num->v > 100000) return absl::InvalidArgumentError("range over more than 100000 integers");
          for (int64_t i = 0; i < static_cast<int64_t>(num->v); ++i) {
            items.push_back({Value{Num{double(i), true}}, Value{Num{double(i), true}}});
          }
        } else if (!std::holds_alternative<tmpl::Nil>(v.v)) {
          return absl::InvalidArgumentError(fmt::format("range can't iterate over {}", tmpl::Print(v)));
        }
        if (items.empty()) return RunList(n.else_list, dot, out);
        for (const auto& [k, e] : items) {
          vars_.resize(mark);
          if (decl.size() == 1) vars_.push_back({decl[0], e});
          if (decl.size() == 2) {
            vars_.push_back({decl[0], k});
            vars_.push_back({decl[1], e});
          }
          RETURN_IF_ERROR_X(RunList(n.list, e, out));
        }
        vars_.resize(mark);
        return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::Status RunList(const std::vector<std::shared_ptr<Node>>& list, const Value& dot,
                       std::string* out) {
    for (const auto& c : list) RETURN_IF_ERROR_X(Run(*c, dot, out));
    return absl::OkStatus();
  }

  Value* FindVar(const std::string& name) {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
      if (it->first == name) return &it->second;
    }
    return nullptr;
  }

  absl::StatusOr<Value> EvalPipeline(const Pipeline& p, const Value& dot) {
    std::optional<Value> prev;
    for (const Command& c : p.cmds) {
      ASSIGN_X(Value v, EvalCommand(c, dot, prev ? &*prev : nullptr));
      prev = std::move(v);
    }
    Value result = prev ? *prev : Value{};
    if (!p.decl.empty()) {
      if (p.assign) {
        Value* var = FindVar(p.decl[0]);
        if (var == nullptr) return absl::InvalidArgumentError(fmt::format("undefined variable: {}", p.decl[0]));
        *var = result;
      } else {
        vars_.push_back({p.decl.back(), result});
      }
    }
    return result;
  }

  absl::StatusOr<Value> Field(Value v, const std::vector<std::string>& fields) {
    for (const std::string& f : fields) {
      if (auto* d = std::get_if<tmpl::DataRef>(&v.v)) {
        if (f == "Labels") {
          v = Value{tmpl::ToMap(d->d->labels)};
        } else if (f == "ExternalLabels") {
          v = Value{tmpl::ToMap(d->d->external_labels)};
        } else if (f == "ExternalURL") {
          v = Value{d->d->external_url};
        } else if (f == "Value") {
          v = Value{Num{d->d->value, false}};
        } else {
          return absl::InvalidArgumentError(fmt::format("can't evaluate field {}", f));
        }
      } else if (auto* m = std::get_if<Map>(&v.v)) {
        auto it = m->find(f);
        v = Value{it == m->end() ? std::string() : it->second};
      } else if (auto* s = std::get_if<QuerySample>(&v.v)) {
        if (f == "Labels") {
          v = Value{tmpl::ToMap(s->labels)};
        } else if (f == "Value") {
          v = Value{Num{s->value, false}};
        } else {
          return absl::InvalidArgumentError(fmt::format("can't evaluate field {} in type *template.sample", f));
        }
      } else {
        return absl::InvalidArgumentError(fmt::format("can't evaluate field {} in {}", f, tmpl::Print(v)));
      }
    }
    return v;
  }

  absl::StatusOr<Value> EvalOperand(const Operand& op, const Value& dot) {
    Value v;
    switch (op.kind) {
      case Operand::kDot:
      case Operand::kField: v = dot; break;
      case Operand::kVar: {
        Value* var = FindVar(op.name);
        if (var == nullptr) return absl::InvalidArgumentError(fmt::format("undefined variable \"{}\"", op.name));
        v = *var;
        break;
      }
      case Operand::kString: return Value{op.name};
      case Operand::kNumber: return Value{Num{op.num, op.is_int}};
      case Operand::kBool: return Value{op.b};
      case Operand::kNil: return Value{};
      case Operand::kFunc: return CallFunction(op.name, {}, dot);
      case Operand::kPipe: {
        const size_t mark = vars_.size();
        auto r = EvalPipeline(*op.pipe, dot);
        vars_.resize(mark);
        if (!r.ok()) return r.status();
        v = *r;
        break;
      }
    }
    return Field(std::move(v), op.fields);
  }

  absl::StatusOr<Value> EvalCommand(const Command& c, const Value& dot, const Value* piped) {
    const Operand& head = c.args[0];
    if (head.kind == Operand::kFunc) {
      std::vector<Value> args;
      for (size_t i = 1; i < c.args.size(); ++i) {
        ASSIGN_X(Value a, EvalOperand(c.args[i], dot));
        args.push_back(std::move(a));
      }
      if (piped != nullptr) args.push_back(*piped);
      return CallFunction(head.name, std::move(args), dot);
    }
    if (c.args.size() > 1 || piped != nullptr) {
      return absl::InvalidArgumentError("can't give argument to non-function");
    }
    return EvalOperand(head, dot);
  }

  absl::StatusOr<Value> CallFunction(const std::string& name, std::vector<Value> a, const Value&) {
    auto want = [&](size_t n) -> absl::Status {
      if (a.size() != n) {
        return absl::InvalidArgumentError(
            fmt::format("wrong number of args for {}: want {} got {}", name, n, a.size()));
      }
      return absl::OkStatus();
    };
    auto str = [&](size_t i) { return tmpl::Print(a[i]); };
    if (name == "and" || name == "or") {
      if (a.empty()) return absl::InvalidArgumentError(fmt::format("wrong number of args for {}", name));
      for (size_t i = 0; i + 1 < a.size(); ++i) {
        if (tmpl::Truth(a[i]) != (name == "and")) return a[i];
      }
      return a.back();
    }
    if (name == "not") {
      RETURN_IF_ERROR_X(want(1));
      return Value{!tmpl::Truth(a[0])};
    }
    if (name == "eq") {
      if (a.size() < 2) return absl::InvalidArgumentError("missing argument for comparison");
      for (size_t i = 1; i < a.size(); ++i) {
        bool ok;
        if (Compare(a[0], a[i], &ok) == 0 && ok) return Value{true};
        if (!ok) return absl::InvalidArgumentError("incompatible types for comparison");
      }
      return Value{false};
    }
    if (name == "ne" || name == "lt" || name == "le" || name == "gt" || name == "ge") {
      RETURN_IF_ERROR_X(want(2));
      bool ok;
      int c = Compare(a[0], a[1], &ok);
      if (!ok) return absl::InvalidArgumentError("incompatible types for comparison");
      if (name == "ne") return Value{c != 0};
      if (name == "lt") return Value{c < 0};
      if (name == "le") return Value{c <= 0};
      if (name == "gt") return Value{c > 0};
      return Value{c >= 0};
    }
    if (name == "len") {
      RETURN_IF_ERROR_X(want(1));
      if (auto* s = std::get_if<std::string>(&a[0].v)) return Value{Num{double(s->size()), true}};
      if (auto* m = std::get_if<Map>(&a[0].v)) return Value{Num{double(m->size()), true}};
      if (auto* v = std::get_if<Samples>(&a[0].v)) return Value{Num{double(v->size()), true}};
      return absl::InvalidArgumentError("len of unsupported type");
    }
    if (name == "index") {
      RETURN_IF_ERROR_X(want(2));
      if (auto* m = std::get_if<Map>(&a[0].v)) {
        auto it = m->find(str(1));
        return Value{it == m->end() ? std::string() : it->second};
      }
      if (auto* v = std::get_if<Samples>(&a[0].v)) {
        auto i = ToFloat(a[1], name);
        if (!i.ok()) return i.status();
        if (*i < 0 || *i >= v->size()) return absl::InvalidArgumentError("index out of range");
        return Value{(*v)[static_cast<size_t>(*i)]};
      }
      return absl::InvalidArgumentError("can't index item");
    }
    if (name == "print" || name == "println") {
      std::string out;
      for (size_t i = 0; i < a.size(); ++i) {
        // Go's Sprint adds spaces between operands when neither is a string.
        if (i > 0 && (name == "println" || (!std::holds_alternative<std::string>(a[i].v) &&
                                            !std::holds_alternative<std::string>(a[i - 1].v)))) {
          out += ' ';
        }
        out += str(i);
      }
      if (name == "println") out += '\n';
      return Value{out};
    }
    if (name == "printf") {
      if (a.empty()) return absl::InvalidArgumentError("wrong number of args for printf");
      std::vector<Value> rest(a.begin() + 1, a.end());
      return Value{GoSprintf(str(0), rest)};
    }
    if (name == "html" || name == "safeHtml") {
      std::string out;
      for (size_t i = 0; i < a.size(); ++i) out += str(i);
      if (name == "safeHtml") return Value{out};
      std::string esc;
      for (char c : out) {
        switch (c) {
          case '<': esc += "&lt;"; break;
          case '>': esc += "&gt;"; break;
          case '&': esc += "&amp;"; break;
          case '"': esc += "&#34;"; break;
          case '\'': esc += "&#39;"; break;
          default: esc += c;
        }
      }
      return Value{esc};
    }
    if (name == "urlquery") {
      std::string out;
      for (size_t i = 0; i < a.size(); ++i) out += str(i);
      std::string esc;
      for (unsigned char c : out) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
          esc += static_cast<char>(c);
        } else if (c == ' ') {
          esc += '+';
        } else {
          esc += fmt::format("%{:02X}", c);
        }
      }
      return Value{esc};
    }
    if (name == "js") {
      std::string out;
      for (size_t i = 0; i < a.size(); ++i) out += str(i);
      std::string esc;
      for (char c : out) {
        if (c == '\'' || c == '"' || c == '\\') esc += '\\';
        esc += c;
      }
      return Value{esc};
    }
    if (name == "query") {
      RETURN_IF_ERROR_X(want(1));
      if (!query_) return absl::InvalidArgumentError("query: no query function available");
      auto r = query_(str(0));
      if (!r.ok()) return absl::InvalidArgumentError(fmt::format("error executing query: {}", std::string(r.status().message())));
      return Value{*r};
    }
    if (name == "first") {
      RETURN_IF_ERROR_X(want(1));
      auto* v = std::get_if<Samples>(&a[0].v);
      if (v == nullptr || v->empty()) return absl::InvalidArgumentError("first() called on vector with no elements");
      return Value{v->front()};
    }
    if (name == "label") {
      RETURN_IF_ERROR_X(want(2));
      auto* s = std::get_if<QuerySample>(&a[1].v);
      if (s == nullptr) return Value{std::string()};
      return Value{std::string(s->labels.Get(str(0)))};
    }
    if (name == "value") {
      RETURN_IF_ERROR_X(want(1));
      auto* s = std::get_if<QuerySample>(&a[0].v);
      if (s == nullptr) return absl::InvalidArgumentError("value() needs a query sample");
      return Value{Num{s->value, false}};
    }
    if (name == "strvalue") {
      RETURN_IF_ERROR_X(want(1));
      auto* s = std::get_if<QuerySample>(&a[0].v);
      if (s == nullptr) return Value{std::string()};
      return Value{std::string(s->labels.Get("__value__"))};
    }
    if (name == "sortByLabel") {
      RETURN_IF_ERROR_X(want(2));
      auto* v = std::get_if<Samples>(&a[1].v);
      if (v == nullptr) return absl::InvalidArgumentError("sortByLabel needs a query result");
      Samples s = *v;
      const std::string l = str(0);
      std::stable_sort(s.begin(), s.end(), [&](const QuerySample& x, const QuerySample& y) {
        return x.labels.Get(l) < y.labels.Get(l);
      });
      return Value{s};
    }
    if (name == "humanize" || name == "humanize1024" || name == "humanizeDuration" ||
        name == "humanizePercentage" || name == "humanizeTimestamp" || name == "toTime") {
      RETURN_IF_ERROR_X(want(1));
      auto f = ToFloat(a[0], name);
      if (!f.ok()) return f.status();
      if (name == "humanize") return Value{Humanize(*f)};
      if (name == "humanize1024") return Value{Humanize1024(*f)};
      if (name == "humanizeDuration") return Value{HumanizeDuration(*f)};
      if (name == "humanizePercentage") return Value{HumanizePercentage(*f)};
      return Value{HumanizeTimestamp(*f)};
    }
    if (name == "parseDuration") {
      RETURN_IF_ERROR_X(want(1));
      auto d = config::ParseDuration(str(0));
      if (!d.ok()) return absl::InvalidArgumentError(fmt::format("parseDuration: not a valid duration string: \"{}\"", str(0)));
      return Value{Num{static_cast<double>(*d) / 1000.0, false}};
    }
    if (name == "title" || name == "toUpper" || name == "toLower") {
      RETURN_IF_ERROR_X(want(1));
      std::string s = str(0);
      bool start = true;
      for (char& c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if (name == "toUpper") {
          c = static_cast<char>(std::toupper(u));
        } else if (name == "toLower") {
          c = static_cast<char>(std::tolower(u));
        } else {
          if (start && std::isalpha(u)) c = static_cast<char>(std::toupper(u));
          start = !(std::isalnum(u) || c == '_' || c == '\'' || u >= 0x80);
        }
      }
      return Value{s};
    }
    if (name == "match") {
      RETURN_IF_ERROR_X(want(2));
      RE2 re(str(0));
      if (!re.ok()) return absl::InvalidArgumentError(fmt::format("match: bad regexp: {}", re.error()));
      return Value{RE2::PartialMatch(str(1), re)};
    }
    if (name == "reReplaceAll") {
      RETURN_IF_ERROR_X(want(3));
      RE2 re(str(0));
      if (!re.ok()) return absl::InvalidArgumentError(fmt::format("reReplaceAll: bad regexp: {}", re.error()));
      // Go's $1 / ${1} references become RE2's \1.
      std::string repl;
      const std::string r = str(1);
      for (size_t i = 0; i < r.size(); ++i) {
        if (r[i] == '$' && i + 1 < r.size()) {
          size_t j = i + 1;
          bool brace = r[j] == '{';
          if (brace) ++j;
          size_t k = j;
          while (k < r.size() && std::isdigit(static_cast<unsigned char>(r[k]))) ++k;
          if (k > j && (!brace || (k < r.size() && r[k] == '}'))) {
            repl += "\\" + r.substr(j, k - j);
            i = brace ? k : k - 1;
            continue;
          }
          if (r[j] == '$') {
            repl += '$';
            i = j;
            continue;
          }
        }
        if (r[i] == '\\') repl += '\\';
        repl += r[i];
      }
      std::string text = str(2);
      RE2::GlobalReplace(&text, re, repl);
      return Value{text};
    }
    if (name == "stripPort") {
      RETURN_IF_ERROR_X(want(1));
      std::string s = str(0);
      if (!s.empty() && s[0] == '[') {
        size_t e = s.find(']');
        return Value{e == std::string::npos ? s : s.substr(1, e - 1)};
      }
      size_t c = s.rfind(':');
      if (c != std::string::npos && s.find(':') == c) s = s.substr(0, c);
      return Value{s};
    }
    if (name == "stripDomain") {
      RETURN_IF_ERROR_X(want(1));
      std::string s = str(0);
      std::string port;
      size_t c = s.rfind(':');
      if (c != std::string::npos && s.find(':') == c) {
        port = s.substr(c);
        s = s.substr(0, c);
      }
      size_t d = s.find('.');
      bool ip = !s.empty() && std::all_of(s.begin(), s.end(), [](char ch) { return std::isdigit(static_cast<unsigned char>(ch)) || ch == '.'; });
      if (d != std::string::npos && !ip) s = s.substr(0, d);
      return Value{s + port};
    }
    if (name == "args") {
      Map m;
      for (size_t i = 0; i < a.size(); ++i) m[fmt::format("arg{}", i)] = str(i);
      return Value{m};
    }
    if (name == "externalURL") return Value{data_.external_url};
    if (name == "pathPrefix") {
      std::string u = data_.external_url;
      size_t s = u.find("://");
      size_t p = u.find('/', s == std::string::npos ? 0 : s + 3);
      return Value{p == std::string::npos ? std::string() : u.substr(p)};
    }
    return absl::InvalidArgumentError(fmt::format("function \"{}\" not defined", name));
  }

  const TemplateData& data_;
  const TemplateQueryFunc& query_;
  std::vector<std::pair<std::string, Value>> vars_;
};

}  // namespace

absl::StatusOr<Template> Template::Parse(std::string_view text) {
  Parser p(text);
  auto root = p.Run();
  if (!root.ok()) return root.status();
  Template t;
  t.root_ = *root;
  return t;
}

absl::StatusOr<std::string> Template::Execute(const TemplateData& data,
                                              const TemplateQueryFunc& query) const {
  Executor ex(data, query);
  std::string out;
  absl::Status st = ex.Run(*root_, Value{tmpl::DataRef{&data}}, &out);
  if (!st.ok()) return absl::InvalidArgumentError(fmt::format("template: {}", std::string(st.message())));
  return out;
}

absl::StatusOr<std::string> ExpandTemplate(std::string_view text, const TemplateData& data,
                                           const TemplateQueryFunc& query) {
  // Most label values contain no action; skip the parser for them.
  if (text.find("{{") == std::string_view::npos) return std::string(text);
  auto t = Template::Parse(text);
  if (!t.ok()) return t.status();
  return t->Execute(data, query);
}

}  // namespace vigil::rules
