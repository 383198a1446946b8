// A hand-written precedence-climbing parser for PromQL, with Prometheus's type checks.
//
// Operator precedence, lowest first: `or`; `and` `unless`; comparisons; `+` `-`;
// `*` `/` `%` `atan2`; `^` (right-associative). Unary `+`/`-` binds like `*`, so `-2^2`
// is -(2^2) and `-a*b` is (-a)*b, as in Prometheus. Postfix modifiers (`[range]`,
// `[range:step]`, `offset`, `@`) bind tighter than any operator.

#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>

#include "base/status.h"
#include "fmt/format.h"
#include "promql/parser.h"
#include "promql/parser/lexer.h"
#include "re2/re2.h"

namespace vigil::promql {

const char* ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone: return "none";
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "instant vector";
    case ValueType::kMatrix: return "range vector";
    case ValueType::kString: return "string";
  }
  return "none";
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kAdd: return "+";
    case Op::kSub: return "-";
    case Op::kMul: return "*";
    case Op::kDiv: return "/";
    case Op::kMod: return "%";
    case Op::kPow: return "^";
    case Op::kAtan2: return "atan2";
    case Op::kEql: return "==";
    case Op::kNeq: return "!=";
    case Op::kGtr: return ">";
    case Op::kLss: return "<";
    case Op::kGte: return ">=";
    case Op::kLte: return "<=";
    case Op::kAnd: return "and";
    case Op::kOr: return "or";
    case Op::kUnless: return "unless";
    case Op::kSum: return "sum";
    case Op::kAvg: return "avg";
    case Op::kCount: return "count";
    case Op::kMin: return "min";
    case Op::kMax: return "max";
    case Op::kGroup: return "group";
    case Op::kStddev: return "stddev";
    case Op::kStdvar: return "stdvar";
    case Op::kTopk: return "topk";
    case Op::kBottomk: return "bottomk";
    case Op::kCountValues: return "count_values";
    case Op::kQuantile: return "quantile";
    case Op::kLimitk: return "limitk";
    case Op::kLimitRatio: return "limit_ratio";
    case Op::kTrimUpper: return "</";
    case Op::kTrimLower: return ">/";
  }
  return "?";
}

bool IsComparisonOp(Op op) {
  return op == Op::kEql || op == Op::kNeq || op == Op::kGtr || op == Op::kLss ||
         op == Op::kGte || op == Op::kLte;
}
bool IsSetOp(Op op) { return op == Op::kAnd || op == Op::kOr || op == Op::kUnless; }

ValueType Expr::Type() const {
  switch (kind) {
    case NodeKind::kNumberLiteral: return ValueType::kScalar;
    case NodeKind::kStringLiteral: return ValueType::kString;
    case NodeKind::kVectorSelector: return ValueType::kVector;
    case NodeKind::kMatrixSelector: return ValueType::kMatrix;
    case NodeKind::kSubquery: return ValueType::kMatrix;
    case NodeKind::kParen: return static_cast<const ParenExpr*>(this)->expr->Type();
    case NodeKind::kUnary: return static_cast<const UnaryExpr*>(this)->expr->Type();
    case NodeKind::kBinary: {
      auto* b = static_cast<const BinaryExpr*>(this);
      if (b->lhs->Type() == ValueType::kScalar && b->rhs->Type() == ValueType::kScalar) {
        return ValueType::kScalar;
      }
      return ValueType::kVector;
    }
    case NodeKind::kCall: {
      auto* c = static_cast<const Call*>(this);
      return c->func ? c->func->return_type : ValueType::kNone;
    }
    case NodeKind::kAggregate: return ValueType::kVector;
  }
  return ValueType::kNone;
}

namespace {

using parser::Tok;
using parser::Token;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<Op> AggregateOp(std::string_view lower) {
  static const std::pair<std::string_view, Op> kOps[] = {
      {"sum", Op::kSum},          {"avg", Op::kAvg},           {"count", Op::kCount},
      {"min", Op::kMin},          {"max", Op::kMax},           {"group", Op::kGroup},
      {"stddev", Op::kStddev},    {"stdvar", Op::kStdvar},     {"topk", Op::kTopk},
      {"bottomk", Op::kBottomk},  {"count_values", Op::kCountValues},
      {"quantile", Op::kQuantile}, {"limitk", Op::kLimitk},    {"limit_ratio", Op::kLimitRatio},
  };
  for (const auto& [n, op] : kOps) {
    if (n == lower) return op;
  }
  return std::nullopt;
}

bool AggregateTakesParam(Op op) {
  return op == Op::kTopk || op == Op::kBottomk || op == Op::kCountValues ||
         op == Op::kQuantile || op == Op::kLimitk || op == Op::kLimitRatio;
}

int Precedence(Op op) {
  switch (op) {
    case Op::kOr: return 1;
    case Op::kAnd:
    case Op::kUnless: return 2;
    case Op::kEql:
    case Op::kNeq:
    case Op::kGtr:
    case Op::kLss:
    case Op::kGte:
    case Op::kLte: return 3;
    case Op::kAdd:
    case Op::kSub: return 4;
    case Op::kMul:
    case Op::kDiv:
    case Op::kMod:
    case Op::kAtan2:
    case Op::kTrimUpper:
    case Op::kTrimLower: return 5;
    case Op::kPow: return 6;
    default: return 0;
  }
}
constexpr int kUnaryPrecedence = 6;  // the operand of unary minus: only `^` binds tighter

// Go's strconv.ParseInt(s, 0, 64) followed by ParseFloat, as Prometheus reads numbers.
bool ParseNumber(std::string_view s, double* out) {
  std::string str(s);
  std::string lower = Lower(s);
  if (lower == "inf" || lower == "+inf") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == "-inf") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (lower == "nan") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  if (lower.size() > 2 && lower[0] == '0' && lower[1] == 'x') {
    char* end = nullptr;
    errno = 0;
    unsigned long long v = std::strtoull(str.c_str() + 2, &end, 16);
    if (*end != 0) return false;
    *out = static_cast<double>(v);
    return true;
  }
  bool all_digits = !str.empty();
  for (char c : str) all_digits &= (c >= '0' && c <= '9');
  if (all_digits && str.size() > 1 && str[0] == '0') {
    // A leading zero means octal, as Go's base-0 integer parse reads it.
    bool octal = true;
    for (char c : str) octal &= (c <= '7');
    if (octal) {
      *out = static_cast<double>(std::strtoull(str.c_str(), nullptr, 8));
      return true;
    }
  }
  char* end = nullptr;
  *out = std::strtod(str.c_str(), &end);
  return end != nullptr && *end == 0;
}

// The message Go's regexp package gives for a pattern RE2 rejects (PromQL regexes are Go's),
// as Prometheus reports it: "error parsing regexp: missing closing ): `^(?:()$`".
// A pattern that only fails on its own (`a)|(b`, which the anchoring wrapper balances) is
// described by its own error, quoting the pattern as written.
std::string RegexError(const std::string& pattern) {
  RE2::Options opts;
  opts.set_log_errors(false);
  std::string anchored = "^(?:" + pattern + ")$";
  RE2 wrapped(anchored, opts);
  RE2 bare(pattern, opts);
  const RE2& re = wrapped.ok() ? bare : wrapped;
  const char* what = "invalid regular expression";
  switch (re.error_code()) {
    case RE2::ErrorMissingParen: what = "missing closing )"; break;
    case RE2::ErrorUnexpectedParen: what = "unexpected )"; break;
    case RE2::ErrorMissingBracket: what = "missing closing ]"; break;
    case RE2::ErrorBadEscape: what = "invalid escape sequence"; break;
    case RE2::ErrorRepeatArgument: what = "missing argument to repetition operator"; break;
    case RE2::ErrorRepeatSize: what = "invalid repeat count"; break;
    case RE2::ErrorRepeatOp: what = "invalid nested repetition operator"; break;
    case RE2::ErrorBadCharRange: what = "invalid character class range"; break;
    case RE2::ErrorBadCharClass: what = "invalid character class"; break;
    case RE2::ErrorBadPerlOp: what = "invalid or unsupported Perl syntax"; break;
    case RE2::ErrorBadUTF8: what = "invalid UTF-8"; break;
    case RE2::ErrorBadNamedCapture: what = "invalid named capture"; break;
    case RE2::ErrorTrailingBackslash: what = "trailing backslash at end of expression"; break;
    default: break;
  }
  // Go quotes the offending part; for an unbalanced parenthesis that is the whole pattern.
  std::string arg = re.error_code() == RE2::ErrorMissingParen ? re.pattern() : re.error_arg();
  return fmt::format("error parsing regexp: {}: `{}`", what, arg);
}

class Parser {
 public:
  explicit Parser(std::string_view input) : input_(input) {}

  absl::StatusOr<ExprPtr> ParseTop() {
    if (!Init()) return Error();
    if (Peek().type == Tok::kEOF) {
      Fail(0, "no expression found in input");
      return Error();
    }
    ExprPtr e = ParseExpr(0);
    if (!failed_ && Peek().type != Tok::kEOF) {
      Unexpected(Peek(), "");
    }
    if (!errors_.empty() || !type_error_.empty()) return Error();
    return e;
  }

  absl::StatusOr<model::Matchers> ParseSelectorOnly() {
    if (!Init()) return Error();
    ExprPtr e = ParseExpr(0);
    if (!failed_ && Peek().type != Tok::kEOF) Unexpected(Peek(), "");
    if (!errors_.empty() || !type_error_.empty()) return Error();
    if (e->kind != NodeKind::kVectorSelector) {
      return absl::InvalidArgumentError(
          fmt::format("1:1: parse error: expected type instant vector selector, got {}",
                      ValueTypeName(e->Type())));
    }
    return static_cast<VectorSelector&>(*e).matchers;
  }

 private:
  bool Init() {
    parser::LexError lerr;
    bool lfailed = false;
    // A lexing error becomes a kError token, reported when the parser reaches it.
    toks_ = parser::Lex(input_, &lerr, &lfailed);
    return true;
  }

  // The token k ahead. Looking at a lexing error reports it (the first error wins).
  const Token& Peek(size_t k = 0) {
    size_t i = std::min(pos_ + k, toks_.size() - 1);
    if (toks_[i].type == Tok::kError) Fail(toks_[i].pos, toks_[i].value);
    return toks_[i];
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < toks_.size() - 1) ++pos_;
    return t;
  }
  bool PeekIdent(std::string_view lower_word, size_t k = 0) {
    const Token& t = Peek(k);
    return t.type == Tok::kIdentifier && Lower(t.text) == lower_word;
  }

  // Errors come in three kinds, as in Prometheus. A syntax error (Fail) stops the parse. A
  // grammar error (Grammar: unknown function, misplaced modifier, bad regex) is recorded
  // and parsing goes on, so a later syntax error is reported too. A type error (TypeError)
  // counts only if the parse found nothing else, as Prometheus type-checks only a tree
  // that parsed cleanly. Several errors are reported one per line.
  void Fail(int pos, std::string_view msg) {
    if (failed_) return;
    failed_ = true;
    errors_.push_back(Located(pos, msg));
  }
  void Grammar(int pos, std::string_view msg) {
    if (failed_) return;
    errors_.push_back(Located(pos, msg));
  }
  void TypeError(int pos, std::string_view msg) {
    if (type_error_.empty()) type_error_ = Located(pos, msg);
  }
  absl::Status Error() const {
    if (errors_.empty()) return absl::InvalidArgumentError(type_error_);
    std::string all;
    for (const auto& e : errors_) {
      if (!all.empty()) all += "\n";
      all += e;
    }
    return absl::InvalidArgumentError(all);
  }
  std::string Located(int pos, std::string_view msg) const {
    int line = 1, col = 1;
    for (int i = 0; i < pos && i < static_cast<int>(input_.size()); ++i) {
      if (input_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return fmt::format("{}:{}: parse error: {}", line, col, msg);
  }
  std::nullptr_t Unexpected(const Token& t, std::string_view context) {
    std::string msg = "unexpected " + parser::DescribeToken(t);
    if (!context.empty()) msg += fmt::format(" in {}", context);
    Fail(t.pos, msg);
    return nullptr;
  }
  bool Expect(Tok type, std::string_view context) {
    if (Peek().type != type) {
      Unexpected(Peek(), context);
      return false;
    }
    Next();
    return true;
  }

  template <typename T>
  std::unique_ptr<T> Node(int start, int end) {
    auto n = std::make_unique<T>();
    n->pos = {start, end};
    return n;
  }
  int LastEnd() const { return pos_ > 0 ? toks_[pos_ - 1].end : 0; }

  // ---- expressions ----

  std::optional<Op> BinaryOpAt(const Token& t) const {
    switch (t.type) {
      case Tok::kAdd: return Op::kAdd;
      case Tok::kSub: return Op::kSub;
      case Tok::kMul: return Op::kMul;
      case Tok::kDiv: return Op::kDiv;
      case Tok::kMod: return Op::kMod;
      case Tok::kPow: return Op::kPow;
      case Tok::kEqlc: return Op::kEql;
      case Tok::kNeq: return Op::kNeq;
      case Tok::kGtr: return Op::kGtr;
      case Tok::kLss: return Op::kLss;
      case Tok::kGte: return Op::kGte;
      case Tok::kLte: return Op::kLte;
      case Tok::kTrimUpper: return Op::kTrimUpper;
      case Tok::kTrimLower: return Op::kTrimLower;
      case Tok::kIdentifier: {
        std::string w = Lower(t.text);
        if (w == "and") return Op::kAnd;
        if (w == "or") return Op::kOr;
        if (w == "unless") return Op::kUnless;
        if (w == "atan2") return Op::kAtan2;
        return std::nullopt;
      }
      default: return std::nullopt;
    }
  }

  ExprPtr ParseExpr(int min_prec) {
    ExprPtr lhs = ParseUnary();
    if (!lhs) return nullptr;
    while (!failed_) {
      std::optional<Op> op = BinaryOpAt(Peek());
      if (!op || Precedence(*op) < min_prec) break;
      const Token& op_tok = Next();
      auto bin = Node<BinaryExpr>(lhs->pos.start, 0);
      bin->op = *op;
      if (!ParseBinaryModifiers(bin.get(), op_tok)) return nullptr;
      int next_min = *op == Op::kPow ? Precedence(*op) : Precedence(*op) + 1;
      ExprPtr rhs = ParseExpr(next_min);
      if (!rhs) {
        if (!failed_) Unexpected(Peek(), "");
        return nullptr;
      }
      bin->pos.end = rhs->pos.end;
      bin->lhs = std::move(lhs);
      bin->rhs = std::move(rhs);
      if (!CheckBinary(bin.get(), op_tok)) return nullptr;
      lhs = std::move(bin);
    }
    return lhs;
  }

  bool ParseBinaryModifiers(BinaryExpr* bin, const Token& op_tok) {
    if (PeekIdent("bool")) {
      Next();
      if (!IsComparisonOp(bin->op)) {
        Grammar(op_tok.pos, "bool modifier can only be used on comparison operators");
      }
      bin->return_bool = true;
    }
    bool has_matching = false;
    VectorMatching vm;
    if (IsSetOp(bin->op)) vm.card = Cardinality::kManyToMany;
    if (PeekIdent("on") || PeekIdent("ignoring")) {
      vm.on = PeekIdent("on");
      Next();
      if (!ParseLabelList(&vm.matching_labels, "grouping opts")) return false;
      has_matching = true;
      if (PeekIdent("group_left") || PeekIdent("group_right")) {
        const Token& g = Next();
        bool left = Lower(g.text) == "group_left";
        if (IsSetOp(bin->op)) {
          Grammar(bin->pos.start,
                  fmt::format("no grouping allowed for \"{}\" operation", OpName(bin->op)));
        }
        vm.card = left ? Cardinality::kManyToOne : Cardinality::kOneToMany;
        if (Peek().type == Tok::kLParen) {
          if (!ParseLabelList(&vm.include, "grouping opts")) return false;
        }
      }
    }
    // fill(v), fill_left(v), fill_right(v): only when followed by "(", so that a metric
    // called "fill" still works as an operand.
    while ((PeekIdent("fill") || PeekIdent("fill_left") || PeekIdent("fill_right")) &&
           Peek(1).type == Tok::kLParen) {
      std::string w = Lower(Next().text);
      Next();
      double v = 0;
      bool neg = false;
      if (Peek().type == Tok::kSub || Peek().type == Tok::kAdd) neg = Next().type == Tok::kSub;
      const Token& n = Next();
      if ((n.type != Tok::kNumber && n.type != Tok::kIdentifier) || !ParseNumber(n.text, &v)) {
        Unexpected(n, "fill modifier");
        return false;
      }
      if (neg) v = -v;
      if (!Expect(Tok::kRParen, "fill modifier")) return false;
      if (w != "fill_right") vm.fill_left = v;
      if (w != "fill_left") vm.fill_right = v;
      has_matching = true;
    }
    (void)op_tok;
    (void)has_matching;
    bin->matching = vm;
    return true;
  }

  bool CheckBinary(BinaryExpr* bin, const Token& op_tok) {
    ValueType lt = bin->lhs->Type(), rt = bin->rhs->Type();
    auto ok_type = [](ValueType t) { return t == ValueType::kScalar || t == ValueType::kVector; };
    if (!ok_type(lt) || !ok_type(rt)) {
      TypeError(bin->pos.start,
                "binary expression must contain only scalar and instant vector types");
      bin->matching.reset();
      return true;
    }
    bool both_vectors = lt == ValueType::kVector && rt == ValueType::kVector;
    VectorMatching& vm = *bin->matching;
    bool modifiers = vm.on || !vm.matching_labels.empty() || !vm.include.empty() ||
                     vm.card == Cardinality::kManyToOne || vm.card == Cardinality::kOneToMany;
    if (!both_vectors && modifiers) {
      TypeError(bin->pos.start, "vector matching only allowed between instant vectors");
    }
    if (!both_vectors && IsSetOp(bin->op)) {
      TypeError(bin->pos.start,
                fmt::format("set operator \"{}\" not allowed in binary scalar expression",
                            OpName(bin->op)));
    }
    if (lt == ValueType::kScalar && rt == ValueType::kScalar && IsComparisonOp(bin->op) &&
        !bin->return_bool) {
      TypeError(op_tok.pos, "comparisons between scalars must use BOOL modifier");
    }
    if (vm.on) {
      for (const auto& l : vm.include) {
        for (const auto& m : vm.matching_labels) {
          if (l == m) {
            Grammar(op_tok.pos,
                    fmt::format("label \"{}\" must not occur in ON and GROUP clause at once", l));
          }
        }
      }
    }
    if (!both_vectors) bin->matching.reset();
    return true;
  }

  ExprPtr ParseUnary() {
    const Token& t = Peek();
    if (t.type == Tok::kSub || t.type == Tok::kAdd) {
      Next();
      ExprPtr operand = ParseExpr(kUnaryPrecedence);
      if (!operand) {
        if (!failed_) Unexpected(Peek(), "");
        return nullptr;
      }
      ValueType ty = operand->Type();
      if (ty != ValueType::kScalar && ty != ValueType::kVector) {
        TypeError(t.pos, fmt::format("unary expression only allowed on expressions of type "
                                     "scalar or instant vector, got \"{}\"",
                                     ValueTypeName(ty)));
      }
      if (operand->kind == NodeKind::kNumberLiteral) {
        // Prometheus folds the sign into a number literal.
        auto* n = static_cast<NumberLiteral*>(operand.get());
        if (t.type == Tok::kSub) n->val = -n->val;
        n->pos.start = t.pos;
        return operand;
      }
      auto u = Node<UnaryExpr>(t.pos, operand->pos.end);
      u->op = t.type == Tok::kSub ? Op::kSub : Op::kAdd;
      u->expr = std::move(operand);
      return u;
    }
    ExprPtr e = ParsePrimary();
    if (!e) return nullptr;
    return ParsePostfix(std::move(e));
  }

  ExprPtr ParsePrimary() {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kNumber: {
        Next();
        double v;
        if (!ParseNumber(t.text, &v)) {
          Fail(t.pos, fmt::format("error parsing number: {}", t.text));
          return nullptr;
        }
        auto n = Node<NumberLiteral>(t.pos, t.end);
        n->val = v;
        return n;
      }
      case Tok::kDuration: {
        Next();
        int64_t ms;
        if (!parser::ParseDurationMs(t.text, &ms)) {
          Fail(t.pos, fmt::format("not a valid duration string: \"{}\"", t.text));
          return nullptr;
        }
        auto n = Node<NumberLiteral>(t.pos, t.end);
        n->val = static_cast<double>(ms) / 1000.0;
        n->duration = true;
        return n;
      }
      case Tok::kString: {
        Next();
        auto n = Node<StringLiteral>(t.pos, t.end);
        n->val = t.value;
        return n;
      }
      case Tok::kLParen: {
        Next();
        if (Peek().type == Tok::kEOF) return Unexpected(Peek(), "paren expression");
        ExprPtr inner = ParseExpr(0);
        if (!inner) {
          if (!failed_) Unexpected(Peek(), "paren expression");
          return nullptr;
        }
        if (Peek().type != Tok::kRParen) return Unexpected(Peek(), "paren expression");
        const Token& r = Next();
        auto p = Node<ParenExpr>(t.pos, r.end);
        p->expr = std::move(inner);
        return p;
      }
      case Tok::kLBrace: return ParseVectorSelector("", t.pos);
      case Tok::kIdentifier: return ParseIdentifierExpr();
      case Tok::kEOF: return Unexpected(t, "");
      default: return Unexpected(t, "");
    }
  }

  ExprPtr ParseIdentifierExpr() {
    const Token& t = Peek();
    std::string lower = Lower(t.text);
    bool next_paren = Peek(1).type == Tok::kLParen;
    if (auto agg = AggregateOp(lower);
        agg && (next_paren || PeekIdent("by", 1) || PeekIdent("without", 1))) {
      return ParseAggregate(*agg);
    }
    if (next_paren) return ParseCall();
    if (lower == "inf" || lower == "nan") {
      Next();
      auto n = Node<NumberLiteral>(t.pos, t.end);
      ParseNumber(lower, &n->val);
      return n;
    }
    Next();
    return ParseVectorSelector(std::string(t.text), t.pos);
  }

  ExprPtr ParseCall() {
    const Token& name = Next();
    const Function* f = LookupFunction(name.text);
    Next();  // (
    auto call = Node<Call>(name.pos, 0);
    call->func = f;
    if (Peek().type != Tok::kRParen) {
      while (true) {
        relax_empty_selector_ = f && f->name == "info" && call->args.size() == 1;
        if (Peek().type == Tok::kEOF) return Unexpected(Peek(), "");
        ExprPtr arg = ParseExpr(0);
        relax_empty_selector_ = false;
        if (!arg) {
          if (!failed_) Unexpected(Peek(), "");
          return nullptr;
        }
        call->args.push_back(std::move(arg));
        if (Peek().type == Tok::kComma) {
          const Token& c = Next();
          if (Peek().type == Tok::kRParen) {
            Grammar(c.pos, "trailing commas not allowed in function call args");
            break;
          }
          continue;
        }
        break;
      }
    }
    if (Peek().type != Tok::kRParen) return Unexpected(Peek(), "");
    call->pos.end = Next().end;
    // Checked once the call is complete, as Prometheus does when it reduces the rule.
    if (f == nullptr) {
      Grammar(name.pos, fmt::format("unknown function with name \"{}\"", name.text));
      return call;
    }
    CheckCall(call.get());
    return call;
  }

  bool ExpectType(const Expr& e, ValueType want, std::string_view context) {
    ValueType got = e.Type();
    if (got != want) {
      TypeError(e.pos.start, fmt::format("expected type {} in {}, got {}", ValueTypeName(want),
                                         context, ValueTypeName(got)));
      return false;
    }
    return true;
  }

  bool CheckCall(Call* call) {
    const Function& f = *call->func;
    int nargs = static_cast<int>(f.arg_types.size());
    int got = static_cast<int>(call->args.size());
    if (f.variadic == 0) {
      if (nargs != got) {
        TypeError(call->pos.start, fmt::format("expected {} argument(s) in call to \"{}\", got {}",
                                          nargs, f.name, got));
        return false;
      }
    } else {
      int min = nargs - 1;
      if (min > got) {
        TypeError(call->pos.start,
             fmt::format("expected at least {} argument(s) in call to \"{}\", got {}", min,
                         f.name, got));
        return false;
      }
      if (f.variadic > 0 && min + f.variadic < got) {
        TypeError(call->pos.start,
             fmt::format("expected at most {} argument(s) in call to \"{}\", got {}",
                         min + f.variadic, f.name, got));
        return false;
      }
    }
    for (int i = 0; i < got; ++i) {
      ValueType want = f.arg_types[std::min(i, nargs - 1)];
      if (!ExpectType(*call->args[i], want,
                      fmt::format("call to function \"{}\"", f.name))) {
        return false;
      }
    }
    return true;
  }

  ExprPtr ParseAggregate(Op op) {
    const Token& name = Next();
    auto agg = Node<AggregateExpr>(name.pos, 0);
    agg->op = op;
    bool grouped = false;
    if (PeekIdent("by") || PeekIdent("without")) {
      agg->without = Lower(Next().text) == "without";
      if (!ParseLabelList(&agg->grouping, "grouping opts")) return nullptr;
      grouped = true;
    }
    if (Peek().type != Tok::kLParen) return Unexpected(Peek(), "aggregation");
    const Token& lparen = Next();
    std::vector<ExprPtr> args;
    if (Peek().type != Tok::kRParen) {
      while (true) {
        if (Peek().type == Tok::kEOF) return Unexpected(Peek(), "aggregation");
        ExprPtr arg = ParseExpr(0);
        if (!arg) {
          if (!failed_) Unexpected(Peek(), "aggregation");
          return nullptr;
        }
        args.push_back(std::move(arg));
        if (Peek().type == Tok::kComma) {
          Next();
          if (Peek().type == Tok::kRParen) break;  // a trailing comma is allowed here
          continue;
        }
        break;
      }
    }
    if (Peek().type != Tok::kRParen) return Unexpected(Peek(), "aggregation");
    agg->pos.end = Next().end;
    if (!grouped && (PeekIdent("by") || PeekIdent("without"))) {
      agg->without = Lower(Next().text) == "without";
      if (!ParseLabelList(&agg->grouping, "grouping opts")) return nullptr;
      agg->pos.end = LastEnd();
    }
    size_t want = AggregateTakesParam(op) ? 2 : 1;
    if (args.size() != want) {
      (void)lparen;
      Fail(name.pos, fmt::format("wrong number of arguments for aggregate expression "
                                   "provided, expected {}, got {}",
                                   want, args.size()));
      return nullptr;
    }
    if (want == 2) {
      agg->param = std::move(args[0]);
      agg->expr = std::move(args[1]);
      ValueType pt = op == Op::kCountValues ? ValueType::kString : ValueType::kScalar;
      ExpectType(*agg->param, pt, "aggregation parameter");
    } else {
      agg->expr = std::move(args[0]);
    }
    ExpectType(*agg->expr, ValueType::kVector, "aggregation expression");
    return agg;
  }

  // ( a, b, "c.d", ) — label names; keywords are fine as names.
  bool ParseLabelList(std::vector<std::string>* out, std::string_view context) {
    if (Peek().type != Tok::kLParen) {
      Unexpected(Peek(), std::string(context) + ", expected \"(\"");
      return false;
    }
    Next();
    while (Peek().type != Tok::kRParen) {
      const Token& t = Next();
      if (t.type == Tok::kIdentifier) {
        if (!model::IsValidLabelName(t.text)) {
          Fail(t.pos, fmt::format("invalid label name \"{}\"", t.text));
          return false;
        }
        out->emplace_back(t.text);
      } else if (t.type == Tok::kString) {
        out->push_back(t.value);
      } else {
        Unexpected(t, context);
        return false;
      }
      if (Peek().type == Tok::kComma) {
        Next();
        continue;
      }
      if (Peek().type != Tok::kRParen) {
        Unexpected(Peek(), context);
        return false;
      }
    }
    Next();
    return true;
  }

  ExprPtr ParseVectorSelector(std::string name, int start) {
    auto vs = Node<VectorSelector>(start, LastEnd());
    vs->name = name;
    std::vector<std::pair<int, model::Matcher>> matchers;
    if (Peek().type == Tok::kLBrace) {
      Next();
      while (Peek().type != Tok::kRBrace) {
        const Token& lname = Next();
        std::string label;
        if (lname.type == Tok::kIdentifier) {
          label = std::string(lname.text);
        } else if (lname.type == Tok::kString) {
          label = lname.value;
          // A lone quoted string is the metric name (Prometheus 3 UTF-8 names).
          if (Peek().type == Tok::kComma || Peek().type == Tok::kRBrace) {
            if (!vs->name.empty()) {
              Fail(start, fmt::format("metric name must not be set twice: \"{}\" or \"{}\"",
                                      vs->name, label));
              return nullptr;
            }
            vs->name = label;
            if (Peek().type == Tok::kComma) Next();
            continue;
          }
        } else {
          return Unexpected(lname, "label matching");
        }
        const Token& opt = Next();
        model::MatchType mt;
        switch (opt.type) {
          case Tok::kAssign: mt = model::MatchType::kEqual; break;
          case Tok::kNeq: mt = model::MatchType::kNotEqual; break;
          case Tok::kEqlRegex: mt = model::MatchType::kRegexMatch; break;
          case Tok::kNeqRegex: mt = model::MatchType::kRegexNoMatch; break;
          default:
            return Unexpected(opt, "label matching, expected label matching operator");
        }
        const Token& val = Next();
        if (val.type != Tok::kString) {
          return Unexpected(val, "label matching, expected string");
        }
        auto m = model::Matcher::Make(mt, label, val.value);
        if (!m.ok()) {
          Grammar(lname.pos, RegexError(val.value));
          m = model::Matcher::Make(model::MatchType::kEqual, label, val.value);
        }
        if (label == model::kMetricName && !vs->name.empty() && !name.empty()) {
          Fail(start, fmt::format("metric name must not be set twice: \"{}\" or \"{}\"",
                                  vs->name, val.value));
          return nullptr;
        }
        matchers.emplace_back(lname.pos, *std::move(m));
        if (Peek().type == Tok::kComma) {
          Next();
          continue;
        }
        if (Peek().type != Tok::kRBrace) return Unexpected(Peek(), "label matching");
      }
      vs->pos.end = Next().end;
    }
    for (auto& [p, m] : matchers) vs->matchers.push_back(std::move(m));
    if (!vs->name.empty()) {
      vs->matchers.push_back(
          model::Matcher::MustMake(model::MatchType::kEqual, model::kMetricName, vs->name));
    }
    bool non_empty = false;
    for (const auto& m : vs->matchers) non_empty |= !m.MatchesEmpty();
    if (!non_empty && !relax_empty_selector_) {
      TypeError(vs->pos.start, "vector selector must contain at least one non-empty matcher");
    }
    return vs;
  }

  // ---- postfix modifiers ----

  ExprPtr ParsePostfix(ExprPtr e) {
    while (!failed_) {
      const Token& t = Peek();
      if (t.type == Tok::kLBracket) {
        e = ParseRangeOrSubquery(std::move(e));
      } else if (PeekIdent("offset")) {
        e = ParseOffset(std::move(e));
      } else if (t.type == Tok::kAt) {
        e = ParseAt(std::move(e));
      } else if ((PeekIdent("anchored") || PeekIdent("smoothed")) &&
                 (e->kind == NodeKind::kMatrixSelector ||
                  e->kind == NodeKind::kVectorSelector)) {
        bool anchored = Lower(Next().text) == "anchored";
        VectorSelector* vs = e->kind == NodeKind::kMatrixSelector
                                 ? &static_cast<MatrixSelector&>(*e).selector()
                                 : static_cast<VectorSelector*>(e.get());
        (anchored ? vs->anchored : vs->smoothed) = true;
        e->pos.end = LastEnd();
      } else {
        break;
      }
      if (!e) return nullptr;
    }
    return e;
  }

  ExprPtr ParseRangeOrSubquery(ExprPtr e) {
    const Token& lb = Next();
    Duration range;
    if (!ParseDurationExpr(&range, "range")) return nullptr;
    if (Peek().type == Tok::kColon) {
      Next();
      auto sq = Node<SubqueryExpr>(e->pos.start, 0);
      if (Peek().type != Tok::kRBracket) {
        if (!ParseDurationExpr(&sq->step, "subquery step")) return nullptr;
      }
      if (Peek().type != Tok::kRBracket) return Unexpected(Peek(), "subquery selector");
      sq->pos.end = Next().end;
      if (e->Type() != ValueType::kVector) {
        TypeError(e->pos.start,
                  fmt::format("subquery is only allowed on instant vector, got {} instead",
                              e->Type() == ValueType::kMatrix ? "matrix"
                                                               : ValueTypeName(e->Type())));
      }
      sq->range = std::move(range);
      sq->expr = std::move(e);
      return sq;
    }
    if (Peek().type != Tok::kRBracket) return Unexpected(Peek(), "matrix selector");
    int end = Next().end;
    if (e->kind != NodeKind::kVectorSelector) {
      Fail(lb.pos, "ranges only allowed for vector selectors");
      return nullptr;
    }
    auto& vs = static_cast<VectorSelector&>(*e);
    if (vs.offset.set) {
      Fail(lb.pos, "no offset modifiers allowed before range");
      return nullptr;
    }
    if (vs.at || vs.at_preproc != AtPreproc::kNone) {
      Fail(lb.pos, "no @ modifiers allowed before range");
      return nullptr;
    }
    auto ms = Node<MatrixSelector>(e->pos.start, end);
    ms->range = std::move(range);
    ms->vs = std::move(e);
    return ms;
  }

  // Where the offset/@ of `e` lives, or nullptr if `e` cannot carry one.
  struct ModTarget {
    Duration* offset = nullptr;
    std::optional<int64_t>* at = nullptr;
    AtPreproc* preproc = nullptr;
  };
  ModTarget TargetOf(Expr* e) {
    switch (e->kind) {
      case NodeKind::kVectorSelector: {
        auto* vs = static_cast<VectorSelector*>(e);
        return {&vs->offset, &vs->at, &vs->at_preproc};
      }
      case NodeKind::kMatrixSelector: {
        auto& vs = static_cast<MatrixSelector*>(e)->selector();
        return {&vs.offset, &vs.at, &vs.at_preproc};
      }
      case NodeKind::kSubquery: {
        auto* sq = static_cast<SubqueryExpr*>(e);
        return {&sq->offset, &sq->at, &sq->at_preproc};
      }
      default: return {};
    }
  }

  ExprPtr ParseOffset(ExprPtr e) {
    const Token& kw = Next();
    ModTarget tgt = TargetOf(e.get());
    if (!tgt.offset) {
      Fail(e->pos.start, "offset modifier must be preceded by an instant vector selector or "
                         "range vector selector or a subquery");
      return nullptr;
    }
    if (tgt.offset->set) {
      Fail(e->pos.start, "offset may not be set multiple times");
      return nullptr;
    }
    (void)kw;
    // `offset` takes one signed atom; `x offset 1m + 1` adds 1 to the selector.
    const Token& first = Peek();
    ExprPtr atom;
    bool neg = false;
    if (first.type == Tok::kSub || first.type == Tok::kAdd) {
      neg = first.type == Tok::kSub;
      Next();
    }
    atom = ParseDurationAtom("offset, expected duration");
    if (!atom) return nullptr;
    if (neg) {
      auto u = Node<UnaryExpr>(first.pos, atom->pos.end);
      u->op = Op::kSub;
      u->expr = std::move(atom);
      atom = std::move(u);
    }
    if (!FinishDuration(std::move(atom), tgt.offset)) return nullptr;
    e->pos.end = LastEnd();
    return e;
  }

  ExprPtr ParseAt(ExprPtr e) {
    const Token& at = Next();
    ModTarget tgt = TargetOf(e.get());
    if (!tgt.at) {
      Fail(e->pos.start, "@ modifier must be preceded by an instant vector selector or range "
                         "vector selector or a subquery");
      return nullptr;
    }
    if (tgt.at->has_value() || *tgt.preproc != AtPreproc::kNone) {
      Fail(e->pos.start, "@ <timestamp> may not be set multiple times");
      return nullptr;
    }
    (void)at;
    if ((PeekIdent("start") || PeekIdent("end")) && Peek(1).type == Tok::kLParen &&
        Peek(2).type == Tok::kRParen) {
      *tgt.preproc = PeekIdent("start") ? AtPreproc::kStart : AtPreproc::kEnd;
      Next();
      Next();
      Next();
      e->pos.end = LastEnd();
      return e;
    }
    bool neg = false;
    if (Peek().type == Tok::kSub || Peek().type == Tok::kAdd) neg = Next().type == Tok::kSub;
    const Token& n = Next();
    double v;
    if (n.type == Tok::kNumber || (n.type == Tok::kIdentifier &&
                                   (Lower(n.text) == "inf" || Lower(n.text) == "nan"))) {
      if (!ParseNumber(n.text, &v)) return Unexpected(n, "@, expected timestamp");
    } else if (n.type == Tok::kDuration) {
      int64_t ms;
      if (!parser::ParseDurationMs(n.text, &ms)) return Unexpected(n, "@, expected timestamp");
      v = static_cast<double>(ms) / 1000.0;
    } else {
      return Unexpected(n, "@, expected timestamp");
    }
    if (neg) v = -v;
    if (!std::isfinite(v) || std::abs(v) * 1000 > 9.2e18) {
      Fail(e->pos.start,
           fmt::format("timestamp out of bounds for @ modifier: {}", FormatFloat(v)));
      return nullptr;
    }
    *tgt.at = static_cast<int64_t>(std::llround(v * 1000.0));
    e->pos.end = LastEnd();
    return e;
  }

  // ---- durations ----

  // Stores a parsed duration: a literal is folded to milliseconds now; anything else stays
  // an expression for the engine (it may call step() or range()).
  bool FinishDuration(ExprPtr e, Duration* out) {
    out->set = true;
    double secs;
    if (ConstSeconds(*e, &secs)) {
      out->ms = static_cast<int64_t>(std::llround(secs * 1000.0));
      if (e->kind != NodeKind::kNumberLiteral &&
          !(e->kind == NodeKind::kUnary &&
            static_cast<UnaryExpr&>(*e).expr->kind == NodeKind::kNumberLiteral)) {
        out->expr = std::move(e);
      }
      return true;
    }
    out->expr = std::move(e);
    return true;
  }

  // Folds a constant duration expression to seconds; false if it calls step()/range().
  static bool ConstSeconds(const Expr& e, double* out) {
    switch (e.kind) {
      case NodeKind::kNumberLiteral: *out = static_cast<const NumberLiteral&>(e).val; return true;
      case NodeKind::kParen: return ConstSeconds(*static_cast<const ParenExpr&>(e).expr, out);
      case NodeKind::kUnary: {
        const auto& u = static_cast<const UnaryExpr&>(e);
        if (!ConstSeconds(*u.expr, out)) return false;
        if (u.op == Op::kSub) *out = -*out;
        return true;
      }
      default: return false;
    }
  }

  bool ParseDurationExpr(Duration* out, std::string_view context) {
    ExprPtr e = ParseDurExpr(0, context);
    if (!e) return false;
    return FinishDuration(std::move(e), out);
  }

  // A duration expression: numbers (seconds) and durations combined with + - * / % ^,
  // parentheses, unary signs, step(), range(), min_of(a, b) and max_of(a, b).
  ExprPtr ParseDurExpr(int min_prec, std::string_view context) {
    ExprPtr lhs;
    const Token& t = Peek();
    if (t.type == Tok::kSub || t.type == Tok::kAdd) {
      Next();
      ExprPtr operand = ParseDurExpr(kUnaryPrecedence, context);
      if (!operand) return nullptr;
      auto u = Node<UnaryExpr>(t.pos, operand->pos.end);
      u->op = t.type == Tok::kSub ? Op::kSub : Op::kAdd;
      u->expr = std::move(operand);
      lhs = std::move(u);
    } else {
      lhs = ParseDurationAtom(context);
      if (!lhs) return nullptr;
    }
    while (!failed_) {
      const Token& o = Peek();
      Op op;
      switch (o.type) {
        case Tok::kAdd: op = Op::kAdd; break;
        case Tok::kSub: op = Op::kSub; break;
        case Tok::kMul: op = Op::kMul; break;
        case Tok::kDiv: op = Op::kDiv; break;
        case Tok::kMod: op = Op::kMod; break;
        case Tok::kPow: op = Op::kPow; break;
        default: return lhs;
      }
      if (Precedence(op) < min_prec) break;
      Next();
      ExprPtr rhs = ParseDurExpr(op == Op::kPow ? Precedence(op) : Precedence(op) + 1, context);
      if (!rhs) return nullptr;
      auto b = Node<BinaryExpr>(lhs->pos.start, rhs->pos.end);
      b->op = op;
      b->lhs = std::move(lhs);
      b->rhs = std::move(rhs);
      lhs = std::move(b);
    }
    return lhs;
  }

  ExprPtr ParseDurationAtom(std::string_view context) {
    const Token& t = Peek();
    if (t.type == Tok::kNumber || t.type == Tok::kDuration) return ParsePrimary();
    if (t.type == Tok::kLParen) {
      Next();
      ExprPtr inner = ParseDurExpr(0, context);
      if (!inner) return nullptr;
      if (Peek().type != Tok::kRParen) return Unexpected(Peek(), context);
      auto p = Node<ParenExpr>(t.pos, Next().end);
      p->expr = std::move(inner);
      return p;
    }
    if (t.type == Tok::kIdentifier && Peek(1).type == Tok::kLParen) {
      std::string w = Lower(t.text);
      if (w == "step" || w == "range") {
        Next();
        Next();
        if (Peek().type != Tok::kRParen) return Unexpected(Peek(), context);
        auto c = Node<Call>(t.pos, Next().end);
        c->func = LookupFunction(w);
        return c;
      }
      if (w == "min_of" || w == "max_of") {
        Next();
        Next();
        auto c = Node<Call>(t.pos, 0);
        c->func = LookupFunction(w);
        ExprPtr a = ParseDurExpr(0, context);
        if (!a) return nullptr;
        if (!Expect(Tok::kComma, context)) return nullptr;
        ExprPtr b = ParseDurExpr(0, context);
        if (!b) return nullptr;
        if (Peek().type != Tok::kRParen) return Unexpected(Peek(), context);
        c->pos.end = Next().end;
        c->args.push_back(std::move(a));
        c->args.push_back(std::move(b));
        return c;
      }
    }
    return Unexpected(t, context);
  }

  std::string_view input_;
  std::vector<Token> toks_;
  size_t pos_ = 0;
  bool failed_ = false;               // a syntax error stopped the parse
  std::vector<std::string> errors_;  // syntax and grammar errors, in order
  std::string type_error_;           // the first type error
  // info()'s second argument selects data labels and may match everything.
  bool relax_empty_selector_ = false;
};

}  // namespace

absl::StatusOr<ExprPtr> ParseExpr(std::string_view query) {
  Parser p(query);
  return p.ParseTop();
}

absl::StatusOr<model::Matchers> ParseMetricSelector(std::string_view selector) {
  Parser p(selector);
  return p.ParseSelectorOnly();
}

}  // namespace vigil::promql
