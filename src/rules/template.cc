#include "rules/template.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <cstring>
#include <map>
#include <optional>
#include <variant>

#include "base/json_string.h"
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

const Value* Struct::Get(std::string_view name) const {
  for (const auto& [k, v] : fields) {
    if (k == name) return &v;
  }
  return nullptr;
}

Value MakeString(std::string s) { return Value{std::move(s)}; }
Value MakeList(List l) { return Value{std::make_shared<const List>(std::move(l))}; }
Value MakeStruct(std::string type, std::vector<std::pair<std::string, Value>> fields) {
  auto st = std::make_shared<Struct>();
  st->type = std::move(type);
  st->fields = std::move(fields);
  return Value{std::shared_ptr<const Struct>(std::move(st))};
}
Value MakeTime(int64_t unix_ms) { return Value{Time{unix_ms}}; }

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
    std::string operator()(const std::shared_ptr<const List>& l) const {
      std::string out = "[";
      for (size_t i = 0; i < l->size(); ++i) {
        if (i > 0) out += ' ';
        out += Print((*l)[i]);
      }
      return out + "]";
    }
    std::string operator()(const std::shared_ptr<const Struct>& st) const {
      std::string out = "{";
      for (size_t i = 0; i < st->fields.size(); ++i) {
        if (i > 0) out += ' ';
        out += Print(st->fields[i].second);
      }
      return out + "}";
    }
    std::string operator()(const Time& t) const {
      return HumanizeTimestamp(static_cast<double>(t.unix_ms) / 1000.0);
    }
    std::string operator()(const Duration& d) const { return GoDurationString(d.seconds); }
    std::string operator()(const SafeHtml& h) const { return h.s; }
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
    bool operator()(const std::shared_ptr<const List>& l) const { return !l->empty(); }
    bool operator()(const std::shared_ptr<const Struct>&) const { return true; }
    bool operator()(const Time&) const { return true; }
    bool operator()(const Duration& d) const { return d.seconds != 0; }
    bool operator()(const SafeHtml& h) const { return !h.s.empty(); }
  };
  return std::visit(V{}, x.v);
}

Map ToMap(const model::Labels& l) {
  Map m;
  for (const auto& p : l) m[p.name] = p.value;
  return m;
}

}  // namespace tmpl

namespace tmpl {

Value MakeLabels(const model::Labels& l) { return Value{ToMap(l)}; }

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
  enum Kind { kList, kText, kAction, kIf, kRange, kWith, kTemplate } kind = kList;
  std::string text;  // kText: the text; kTemplate: the name called
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
      if (kw == "define" || kw == "block") {
        // {{ define "name" }}body{{ end }} (top level only, as in Go); {{ block "name" pipe }}
        // defines and calls at once.
        if (kw == "define" && !top) return Err(action_at, "unexpected {{define}}");
        if (toks_.size() < 2 || toks_[1].kind != Tok::kString) {
          return Err(action_at, fmt::format("{} needs a quoted template name", kw));
        }
        const std::string name = toks_[1].text;
        ti_ = 2;
        std::shared_ptr<Pipeline> pipe;
        if (kw == "block") {
          if (ti_ >= toks_.size()) return Err(action_at, "block needs a pipeline");
          auto pp = ParsePipeline(action_at, /*allow_decl=*/false);
          if (!pp.ok()) return pp.status();
          pipe = *pp;
        }
        if (ti_ != toks_.size()) return Err(action_at, fmt::format("unexpected \"{}\" in {}", toks_[ti_].text, kw));
        auto body = std::make_shared<Node>();
        std::string inner_end;
        RETURN_IF_ERROR_LOCAL(ParseList(body.get(), &inner_end, false));
        if (inner_end != "end") return Err(action_at, fmt::format("unexpected {{{{else}}}} in {}", kw));
        defs_[name] = body;
        if (kw == "block") {
          auto call = std::make_shared<Node>();
          call->kind = Node::kTemplate;
          call->text = name;
          call->pipe = pipe;
          parent->list.push_back(call);
        }
        continue;
      }
      if (kw == "template") {
        if (toks_.size() < 2 || toks_[1].kind != Tok::kString) {
          return Err(action_at, "template needs a quoted template name");
        }
        auto call = std::make_shared<Node>();
        call->kind = Node::kTemplate;
        call->text = toks_[1].text;
        ti_ = 2;
        if (ti_ < toks_.size()) {
          auto pp = ParsePipeline(action_at, /*allow_decl=*/false);
          if (!pp.ok()) return pp.status();
          call->pipe = *pp;
          if (ti_ != toks_.size()) return Err(action_at, fmt::format("unexpected \"{}\" in template", toks_[ti_].text));
        }
        parent->list.push_back(call);
        continue;
      }
      if (kw == "break" || kw == "continue") {
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
    bool spaced = false;  // whitespace before it: `.A .B` is two operands, `.A.B` one chain
  };

  absl::Status Lex(std::string_view body, size_t base) {
    size_t i = 0;
    bool space_before = false;
    while (i < body.size()) {
      char c = body[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
        space_before = true;
        continue;
      }
      const size_t ntoks = toks_.size();
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
      if (toks_.size() > ntoks) toks_[ntoks].spaced = space_before;
      space_before = false;
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
    while (ti_ < toks_.size() && toks_[ti_].kind == Tok::kField && !toks_[ti_].spaced && op.kind != Operand::kFunc &&
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
  tmpl::Defs& defs() { return defs_; }

 private:
  std::string_view src_;
  tmpl::Defs defs_;
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
    "pathPrefix", "join", "stringSlice", "trimSpace", "safeUrl", "urlUnescape", "date", "tz",
    "since", "toJson"};

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


std::string GoDurationString(double seconds) {
  if (std::isnan(seconds) || std::isinf(seconds)) return GoG4(seconds);
  // Go's Duration is integer nanoseconds.
  int64_t ns = static_cast<int64_t>(std::llround(seconds * 1e9));
  if (ns == 0) return "0s";
  std::string sign = ns < 0 ? "-" : "";
  uint64_t u = ns < 0 ? static_cast<uint64_t>(-(ns + 1)) + 1 : static_cast<uint64_t>(ns);
  auto frac = [](uint64_t v, uint64_t unit) {
    std::string f = fmt::format("{}", v / unit);
    uint64_t rest = v % unit;
    if (rest != 0) {
      int digits = 0;
      for (uint64_t x = unit; x > 1; x /= 10) ++digits;
      std::string r = fmt::format("{:0{}d}", rest, digits);
      while (!r.empty() && r.back() == '0') r.pop_back();
      f += "." + r;
    }
    return f;
  };
  if (u < 1000) return fmt::format("{}{}ns", sign, u);
  if (u < 1'000'000) return fmt::format("{}{}µs", sign, frac(u, 1000));
  if (u < 1'000'000'000) return fmt::format("{}{}ms", sign, frac(u, 1'000'000));
  const uint64_t h = u / 3'600'000'000'000ULL;
  u %= 3'600'000'000'000ULL;
  const uint64_t m = u / 60'000'000'000ULL;
  u %= 60'000'000'000ULL;
  std::string out = sign;
  if (h > 0) out += fmt::format("{}h", h);
  if (h > 0 || m > 0) out += fmt::format("{}m", m);
  return out + frac(u, 1'000'000'000) + "s";
}

std::string FormatGoTime(int64_t unix_ms, std::string_view layout) {
  const int64_t secs = unix_ms >= 0 ? unix_ms / 1000 : -((-unix_ms + 999) / 1000);
  const int ms = static_cast<int>(unix_ms - secs * 1000);
  const time_t tt = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&tt, &tm);
  static const char* const kMonths[] = {"January", "February", "March", "April", "May", "June", "July",
                                        "August", "September", "October", "November", "December"};
  static const char* const kDays[] = {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
                                      "Saturday"};
  // Go's reference time tokens, longest first where they share a prefix.
  std::string out;
  size_t i = 0;
  auto at = [&](std::string_view tok) { return layout.substr(i, tok.size()) == tok; };
  while (i < layout.size()) {
    if (at("January")) { out += kMonths[tm.tm_mon]; i += 7; }
    else if (at("Jan")) { out += std::string(kMonths[tm.tm_mon]).substr(0, 3); i += 3; }
    else if (at("Monday")) { out += kDays[tm.tm_wday]; i += 6; }
    else if (at("Mon")) { out += std::string(kDays[tm.tm_wday]).substr(0, 3); i += 3; }
    else if (at("MST")) { out += "UTC"; i += 3; }
    else if (at("2006")) { out += fmt::format("{:04d}", tm.tm_year + 1900); i += 4; }
    else if (at("Z07:00") || at("Z0700") || at("Z07")) {
      out += 'Z';
      i += at("Z07:00") ? 6 : at("Z0700") ? 5 : 3;
    }
    else if (at("-07:00")) { out += "+00:00"; i += 6; }
    else if (at("-0700")) { out += "+0000"; i += 5; }
    else if (at("-07")) { out += "+00"; i += 3; }
    else if (at("01")) { out += fmt::format("{:02d}", tm.tm_mon + 1); i += 2; }
    else if (at("02")) { out += fmt::format("{:02d}", tm.tm_mday); i += 2; }
    else if (at("_2")) { out += fmt::format("{:>2d}", tm.tm_mday); i += 2; }
    else if (at("03")) { out += fmt::format("{:02d}", tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12); i += 2; }
    else if (at("04")) { out += fmt::format("{:02d}", tm.tm_min); i += 2; }
    else if (at("05")) { out += fmt::format("{:02d}", tm.tm_sec); i += 2; }
    else if (at("06")) { out += fmt::format("{:02d}", (tm.tm_year + 1900) % 100); i += 2; }
    else if (at("15")) { out += fmt::format("{:02d}", tm.tm_hour); i += 2; }
    else if (at("PM")) { out += tm.tm_hour >= 12 ? "PM" : "AM"; i += 2; }
    else if (at("pm")) { out += tm.tm_hour >= 12 ? "pm" : "am"; i += 2; }
    else if ((at(".0") || at(".9") || at(",0") || at(",9")) ) {
      // Fractional seconds: .000 pads, .999 trims trailing zeros (Vigil keeps milliseconds).
      const char kind = layout[i + 1];
      size_t j = i + 1;
      while (j < layout.size() && layout[j] == kind) ++j;
      const size_t digits = j - i - 1;
      std::string f = fmt::format("{:03d}", ms) + std::string(9, '0');
      f.resize(digits);
      if (kind == '9') {
        while (!f.empty() && f.back() == '0') f.pop_back();
        if (!f.empty()) out += layout[i] + f;
      } else {
        out += layout[i] + f;
      }
      i = j;
    }
    else if (at("1")) { out += fmt::format("{}", tm.tm_mon + 1); i += 1; }
    else if (at("2")) { out += fmt::format("{}", tm.tm_mday); i += 1; }
    else if (at("3")) { out += fmt::format("{}", tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12); i += 1; }
    else if (at("4")) { out += fmt::format("{}", tm.tm_min); i += 1; }
    else if (at("5")) { out += fmt::format("{}", tm.tm_sec); i += 1; }
    else { out += layout[i]; ++i; }
  }
  return out;
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

std::string HtmlEscape(std::string_view in) {
  std::string esc;
  esc.reserve(in.size());
  for (char c : in) {
    switch (c) {
      case '<': esc += "&lt;"; break;
      case '>': esc += "&gt;"; break;
      case '&': esc += "&amp;"; break;
      case '"': esc += "&#34;"; break;
      case '\'': esc += "&#39;"; break;
      default: esc += c;
    }
  }
  return esc;
}

void JsonString(std::string_view s, std::string* out) {
  vigil::AppendJsonString(out, s, /*html_safe=*/false);
}

void ToJson(const Value& v, std::string* out) {
  if (std::holds_alternative<tmpl::Nil>(v.v)) {
    *out += "null";
  } else if (auto* b = std::get_if<bool>(&v.v)) {
    *out += *b ? "true" : "false";
  } else if (auto* n = std::get_if<Num>(&v.v)) {
    *out += std::isfinite(n->v) ? tmpl::Print(v) : "null";
  } else if (auto* m = std::get_if<Map>(&v.v)) {
    *out += '{';
    bool first = true;
    for (const auto& [k, val] : *m) {
      if (!first) *out += ',';
      first = false;
      JsonString(k, out);
      *out += ':';
      JsonString(val, out);
    }
    *out += '}';
  } else if (auto* l = std::get_if<std::shared_ptr<const tmpl::List>>(&v.v)) {
    *out += '[';
    for (size_t i = 0; i < (*l)->size(); ++i) {
      if (i > 0) *out += ',';
      ToJson((**l)[i], out);
    }
    *out += ']';
  } else if (auto* st = std::get_if<std::shared_ptr<const tmpl::Struct>>(&v.v)) {
    *out += '{';
    for (size_t i = 0; i < (*st)->fields.size(); ++i) {
      if (i > 0) *out += ',';
      JsonString((*st)->fields[i].first, out);
      *out += ':';
      ToJson((*st)->fields[i].second, out);
    }
    *out += '}';
  } else if (auto* t = std::get_if<tmpl::Time>(&v.v)) {
    JsonString(FormatGoTime(t->unix_ms, "2006-01-02T15:04:05.999999999Z07:00"), out);
  } else {
    JsonString(tmpl::Print(v), out);
  }
}

class Executor {
 public:
  // A rule template: Prometheus's predefined variables.
  Executor(const TemplateData& data, const TemplateQueryFunc& query, const tmpl::Defs* own)
      : data_(data), query_(query), own_defs_(own) {
    vars_.push_back({"$", Value{tmpl::DataRef{&data}}});
    vars_.push_back({"$labels", Value{tmpl::ToMap(data.labels)}});
    vars_.push_back({"$externalLabels", Value{tmpl::ToMap(data.external_labels)}});
    vars_.push_back({"$externalURL", Value{data.external_url}});
    vars_.push_back({"$value", Value{Num{data.value, false}}});
  }
  // A notification template: `.` and `$` are the data.
  Executor(const Value& dot, const tmpl::Defs* own, const TemplateSet* set, bool html)
      : data_(EmptyData()), query_(EmptyQuery()), own_defs_(own), set_(set), html_(html) {
    vars_.push_back({"$", dot});
  }

  static const TemplateData& EmptyData() {
    static const TemplateData d;
    return d;
  }
  static const TemplateQueryFunc& EmptyQuery() {
    static const TemplateQueryFunc q;
    return q;
  }

  absl::Status Run(const Node& n, const Value& dot, std::string* out) {
    // Bounded work: templates come from config files and rule files, and one that calls
    // itself twice per level or nests big ranges must fail, not stall a sender.
    if (++steps_ > kMaxSteps || out->size() > kMaxOutput) {
      return absl::ResourceExhaustedError(
          fmt::format("template execution exceeded {} steps or {} bytes of output", kMaxSteps, kMaxOutput));
    }
    switch (n.kind) {
      case Node::kList:
        for (const auto& c : n.list) RETURN_IF_ERROR_X(Run(*c, dot, out));
        return absl::OkStatus();
      case Node::kText:
        *out += n.text;
        return absl::OkStatus();
      case Node::kAction: {
        ASSIGN_X(Value v, EvalPipeline(*n.pipe, dot));
        if (n.pipe->decl.empty()) {
          if (html_ && !std::holds_alternative<tmpl::SafeHtml>(v.v)) {
            *out += HtmlEscape(tmpl::Print(v));
          } else {
            *out += tmpl::Print(v);
          }
        }
        return absl::OkStatus();
      }
      case Node::kTemplate: {
        const Node* def = FindDef(n.text);
        if (def == nullptr) return absl::InvalidArgumentError(fmt::format("no such template \"{}\"", n.text));
        Value arg;
        if (n.pipe) {
          ASSIGN_X(arg, EvalPipeline(*n.pipe, dot));
        }
        // Bounded so that a template calling itself cannot exhaust the stack.
        if (depth_ >= 100) return absl::InvalidArgumentError(fmt::format("exceeded maximum template depth calling \"{}\"", n.text));
        // The called template sees only `$` = its argument, as in Go.
        std::vector<std::pair<std::string, Value>> saved;
        saved.swap(vars_);
        vars_.push_back({"$", arg});
        ++depth_;
        absl::Status st = Run(*def, arg, out);
        --depth_;
        vars_.swap(saved);
        return st;
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
        } else if (auto* l = std::get_if<std::shared_ptr<const tmpl::List>>(&v.v)) {
          for (size_t i = 0; i < (*l)->size(); ++i) items.push_back({Value{Num{double(i), true}}, (**l)[i]});
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
  const Node* FindDef(std::string_view name) const {
    if (own_defs_ != nullptr) {
      auto it = own_defs_->find(name);
      if (it != own_defs_->end()) return it->second.get();
    }
    return set_ != nullptr ? set_->Find(name) : nullptr;
  }

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
      ASSIGN_X(v, Select(v, f, nullptr));
    }
    return v;
  }

  // `.name` on `v`: a field, a map key or a method (with `args` when the chain heads a
  // command with arguments). Methods take precedence over map keys, as in Go.
  absl::StatusOr<Value> Select(const Value& v, const std::string& f, const std::vector<Value>* args) {
    auto no_args = [&]() -> absl::Status {
      if (args != nullptr && !args->empty()) {
        return absl::InvalidArgumentError(fmt::format("{} takes no arguments", f));
      }
      return absl::OkStatus();
    };
    if (auto* d = std::get_if<tmpl::DataRef>(&v.v)) {
      RETURN_IF_ERROR_X(no_args());
      if (f == "Labels") return Value{tmpl::ToMap(d->d->labels)};
      if (f == "ExternalLabels") return Value{tmpl::ToMap(d->d->external_labels)};
      if (f == "ExternalURL") return Value{d->d->external_url};
      if (f == "Value") return Value{Num{d->d->value, false}};
      return absl::InvalidArgumentError(fmt::format("can't evaluate field {}", f));
    }
    if (auto* m = std::get_if<Map>(&v.v)) {
      if (f == "SortedPairs" || f == "Names" || f == "Values") {
        RETURN_IF_ERROR_X(no_args());
        tmpl::List out;
        for (const auto& [k, val] : *m) {  // std::map: sorted by name
          if (f == "SortedPairs") {
            out.push_back(tmpl::MakeStruct("Pair", {{"Name", Value{k}}, {"Value", Value{val}}}));
          } else {
            out.push_back(Value{f == "Names" ? k : val});
          }
        }
        return tmpl::MakeList(std::move(out));
      }
      if (f == "Remove") {
        if (args == nullptr || args->size() != 1) {
          return absl::InvalidArgumentError("wrong number of args for Remove: want 1");
        }
        Map out = *m;
        if (auto* l = std::get_if<std::shared_ptr<const tmpl::List>>(&(*args)[0].v)) {
          for (const auto& k : **l) out.erase(tmpl::Print(k));
        } else {
          out.erase(tmpl::Print((*args)[0]));
        }
        return Value{std::move(out)};
      }
      RETURN_IF_ERROR_X(no_args());
      auto it = m->find(f);
      return Value{it == m->end() ? std::string() : it->second};
    }
    if (auto* s = std::get_if<QuerySample>(&v.v)) {
      RETURN_IF_ERROR_X(no_args());
      if (f == "Labels") return Value{tmpl::ToMap(s->labels)};
      if (f == "Value") return Value{Num{s->value, false}};
      return absl::InvalidArgumentError(fmt::format("can't evaluate field {} in type *template.sample", f));
    }
    if (auto* st = std::get_if<std::shared_ptr<const tmpl::Struct>>(&v.v)) {
      RETURN_IF_ERROR_X(no_args());
      if (const Value* fv = (*st)->Get(f)) return *fv;
      return absl::InvalidArgumentError(fmt::format("can't evaluate field {} in type {}", f, (*st)->type));
    }
    if (auto* l = std::get_if<std::shared_ptr<const tmpl::List>>(&v.v)) {
      RETURN_IF_ERROR_X(no_args());
      if (f == "Names" || f == "Values") {
        // Alertmanager's Pairs.Names / Pairs.Values (on .SortedPairs).
        tmpl::List out;
        for (const Value& e : **l) {
          auto* p = std::get_if<std::shared_ptr<const tmpl::Struct>>(&e.v);
          const Value* x = p != nullptr ? (*p)->Get(f == "Names" ? "Name" : "Value") : nullptr;
          if (x == nullptr) return absl::InvalidArgumentError(fmt::format("can't evaluate field {} in a list", f));
          out.push_back(*x);
        }
        return tmpl::MakeList(std::move(out));
      }
      if (f == "Firing" || f == "Resolved") {
        // Alertmanager's Alerts.Firing / Alerts.Resolved.
        tmpl::List out;
        for (const Value& e : **l) {
          auto* a = std::get_if<std::shared_ptr<const tmpl::Struct>>(&e.v);
          const Value* status = a != nullptr ? (*a)->Get("Status") : nullptr;
          if (status != nullptr && tmpl::Print(*status) == (f == "Firing" ? "firing" : "resolved")) {
            out.push_back(e);
          }
        }
        return tmpl::MakeList(std::move(out));
      }
      return absl::InvalidArgumentError(fmt::format("can't evaluate field {} in a list", f));
    }
    if (auto* t = std::get_if<tmpl::Time>(&v.v)) {
      if (f == "Format") {
        if (args == nullptr || args->size() != 1) {
          return absl::InvalidArgumentError("wrong number of args for Format: want 1");
        }
        return Value{FormatGoTime(t->unix_ms, tmpl::Print((*args)[0]))};
      }
      RETURN_IF_ERROR_X(no_args());
      if (f == "Unix") return Value{Num{std::floor(static_cast<double>(t->unix_ms) / 1000.0), true}};
      if (f == "UnixMilli") return Value{Num{static_cast<double>(t->unix_ms), true}};
      if (f == "UTC" || f == "Local") return v;
      if (f == "String") return Value{tmpl::Print(v)};
      return absl::InvalidArgumentError(fmt::format("can't evaluate field {} in type time.Time", f));
    }
    return absl::InvalidArgumentError(fmt::format("can't evaluate field {} in {}", f, tmpl::Print(v)));
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
      // `.X.Method arg...`: a method call on what the chain before it selects.
      if (head.fields.empty()) return absl::InvalidArgumentError("can't give argument to non-function");
      Operand recv_op = head;
      recv_op.fields.pop_back();
      ASSIGN_X(Value recv, EvalOperand(recv_op, dot));
      std::vector<Value> args;
      for (size_t i = 1; i < c.args.size(); ++i) {
        ASSIGN_X(Value a, EvalOperand(c.args[i], dot));
        args.push_back(std::move(a));
      }
      if (piped != nullptr) args.push_back(*piped);
      return Select(recv, head.fields.back(), &args);
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
      if (auto* l = std::get_if<std::shared_ptr<const tmpl::List>>(&a[0].v)) {
        return Value{Num{double((*l)->size()), true}};
      }
      if (auto* h = std::get_if<tmpl::SafeHtml>(&a[0].v)) return Value{Num{double(h->s.size()), true}};
      return absl::InvalidArgumentError(fmt::format("len of type {}", tmpl::Print(a[0])));
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
      if (auto* l = std::get_if<std::shared_ptr<const tmpl::List>>(&a[0].v)) {
        auto i = ToFloat(a[1], name);
        if (!i.ok()) return i.status();
        if (*i < 0 || *i >= (*l)->size()) return absl::InvalidArgumentError("index out of range");
        return (**l)[static_cast<size_t>(*i)];
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
      if (name == "safeHtml") return Value{tmpl::SafeHtml{out}};
      return Value{HtmlEscape(out)};
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
      if (auto* d = std::get_if<tmpl::Duration>(&a[0].v); d != nullptr && name == "humanizeDuration") {
        return Value{HumanizeDuration(d->seconds)};
      }
      if (auto* t = std::get_if<tmpl::Time>(&a[0].v); t != nullptr && name == "humanizeTimestamp") {
        return Value{HumanizeTimestamp(static_cast<double>(t->unix_ms) / 1000.0)};
      }
      auto f = ToFloat(a[0], name);
      if (!f.ok()) return f.status();
      if (name == "humanize") return Value{Humanize(*f)};
      if (name == "humanize1024") return Value{Humanize1024(*f)};
      if (name == "humanizeDuration") return Value{HumanizeDuration(*f)};
      if (name == "humanizePercentage") return Value{HumanizePercentage(*f)};
      if (name == "toTime") return Value{tmpl::Time{static_cast<int64_t>(std::llround(*f * 1000))}};
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
    if (name == "join") {
      // Alertmanager's: join SEP LIST (so `.Values | join " "` works).
      RETURN_IF_ERROR_X(want(2));
      auto* l = std::get_if<std::shared_ptr<const tmpl::List>>(&a[1].v);
      if (l == nullptr) return absl::InvalidArgumentError(fmt::format("join: {} is not a list", str(1)));
      std::string out;
      for (size_t i = 0; i < (*l)->size(); ++i) {
        if (i > 0) out += str(0);
        out += tmpl::Print((**l)[i]);
      }
      return Value{out};
    }
    if (name == "stringSlice") {
      tmpl::List l;
      for (size_t i = 0; i < a.size(); ++i) l.push_back(Value{str(i)});
      return tmpl::MakeList(std::move(l));
    }
    if (name == "trimSpace") {
      RETURN_IF_ERROR_X(want(1));
      std::string s = str(0);
      size_t b = 0, e = s.size();
      while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
      while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
      return Value{s.substr(b, e - b)};
    }
    if (name == "safeUrl") {
      RETURN_IF_ERROR_X(want(1));
      return Value{tmpl::SafeHtml{str(0)}};
    }
    if (name == "urlUnescape") {
      RETURN_IF_ERROR_X(want(1));
      const std::string s = str(0);
      std::string out;
      for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%') {
          if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
              !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
            return absl::InvalidArgumentError(fmt::format("urlUnescape: invalid URL escape in \"{}\"", s));
          }
          out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
          i += 2;
        } else {
          out += s[i] == '+' ? ' ' : s[i];
        }
      }
      return Value{out};
    }
    if (name == "date" || name == "tz") {
      RETURN_IF_ERROR_X(want(2));
      auto* t = std::get_if<tmpl::Time>(&a[1].v);
      if (t == nullptr) return absl::InvalidArgumentError(fmt::format("{}: {} is not a time", name, str(1)));
      if (name == "date") return Value{FormatGoTime(t->unix_ms, str(0))};
      // Only UTC: Vigil has no time zone database at hand (documented).
      if (str(0) != "UTC" && str(0) != "Etc/UTC") {
        return absl::InvalidArgumentError(fmt::format("tz: unsupported time zone \"{}\" (only UTC)", str(0)));
      }
      return a[1];
    }
    if (name == "since") {
      RETURN_IF_ERROR_X(want(1));
      auto* t = std::get_if<tmpl::Time>(&a[0].v);
      if (t == nullptr) return absl::InvalidArgumentError(fmt::format("since: {} is not a time", str(0)));
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
      return Value{tmpl::Duration{static_cast<double>(now - t->unix_ms) / 1000.0}};
    }
    if (name == "toJson") {
      RETURN_IF_ERROR_X(want(1));
      std::string out;
      ToJson(a[0], &out);
      return Value{out};
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
  const tmpl::Defs* own_defs_ = nullptr;
  const TemplateSet* set_ = nullptr;
  const bool html_ = false;
  int depth_ = 0;
  static constexpr int64_t kMaxSteps = 5'000'000;
  static constexpr size_t kMaxOutput = 16 << 20;
  int64_t steps_ = 0;
  std::vector<std::pair<std::string, Value>> vars_;
};

}  // namespace

absl::StatusOr<Template> Template::Parse(std::string_view text) {
  Parser p(text);
  auto root = p.Run();
  if (!root.ok()) return root.status();
  Template t;
  t.root_ = *root;
  t.defs_ = std::make_shared<const tmpl::Defs>(std::move(p.defs()));
  return t;
}

absl::StatusOr<std::string> Template::Execute(const TemplateData& data,
                                              const TemplateQueryFunc& query) const {
  Executor ex(data, query, defs_.get());
  std::string out;
  absl::Status st = ex.Run(*root_, Value{tmpl::DataRef{&data}}, &out);
  if (!st.ok()) return absl::InvalidArgumentError(fmt::format("template: {}", std::string(st.message())));
  return out;
}

absl::StatusOr<std::string> Template::ExecuteWith(const tmpl::Value& dot, const TemplateSet* set,
                                                  bool html) const {
  Executor ex(dot, defs_.get(), set, html);
  std::string out;
  absl::Status st = ex.Run(*root_, dot, &out);
  if (!st.ok()) return absl::InvalidArgumentError(fmt::format("template: {}", std::string(st.message())));
  return out;
}

absl::Status TemplateSet::Add(std::string_view text, std::string_view source) {
  auto t = Template::Parse(text);
  if (!t.ok()) {
    return absl::InvalidArgumentError(fmt::format("{}: {}", std::string(source), std::string(t.status().message())));
  }
  for (const auto& [name, node] : t->defs()) defs_[name] = node;
  return absl::OkStatus();
}

const tmpl::Node* TemplateSet::Find(std::string_view name) const {
  auto it = defs_.find(name);
  return it == defs_.end() ? nullptr : it->second.get();
}

absl::StatusOr<std::string> TemplateSet::Execute(std::string_view text, const tmpl::Value& dot,
                                                 bool html) const {
  if (text.find("{{") == std::string_view::npos) return std::string(text);
  auto t = Template::Parse(text);
  if (!t.ok()) return t.status();
  return t->ExecuteWith(dot, this, html);
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
