#include "promql/parser/lexer.h"

#include <cstdint>

#include "fmt/format.h"

namespace vigil::promql::parser {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsAlnum(char c) { return IsAlpha(c) || IsDigit(c); }
bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int HexVal(char c) {
  if (IsDigit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

void AppendUtf8(std::string* out, uint32_t r) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3F)));
  }
}

// Length of a duration starting at s[i] ("1h30m"), or 0 if there is none.
size_t ScanDuration(std::string_view s, size_t i) {
  size_t start = i;
  bool any = false;
  while (i < s.size() && IsDigit(s[i])) {
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (s.substr(i, 2) == "ms") {
      i += 2;
    } else if (i < s.size() && (s[i] == 'y' || s[i] == 'w' || s[i] == 'd' || s[i] == 'h' ||
                                s[i] == 'm' || s[i] == 's')) {
      ++i;
    } else {
      return 0;
    }
    any = true;
  }
  return any ? i - start : 0;
}

}  // namespace

bool ParseDurationMs(std::string_view s, int64_t* ms) {
  if (s == "0") {
    *ms = 0;
    return true;
  }
  static constexpr struct {
    std::string_view unit;
    int64_t mult;
  } kUnits[] = {{"y", 365LL * 24 * 3600 * 1000}, {"w", 7LL * 24 * 3600 * 1000},
                {"d", 24LL * 3600 * 1000},       {"h", 3600LL * 1000},
                {"m", 60LL * 1000},              {"s", 1000},
                {"ms", 1}};
  size_t i = 0;
  int next_unit = 0;
  int64_t total = 0;
  if (s.empty()) return false;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && IsDigit(s[j])) ++j;
    if (j == i) return false;
    std::string_view digits = s.substr(i, j - i);
    size_t k = j;
    while (k < s.size() && !IsDigit(s[k])) ++k;
    std::string_view unit = s.substr(j, k - j);
    int u = -1;
    for (int x = next_unit; x < 7; ++x) {
      if (kUnits[x].unit == unit) {
        u = x;
        break;
      }
    }
    if (u < 0) return false;
    next_unit = u + 1;
    int64_t v = 0;
    for (char c : digits) {
      if (v > (INT64_MAX - 9) / 10) return false;
      v = v * 10 + (c - '0');
    }
    if (v != 0 && kUnits[u].mult > INT64_MAX / v) return false;
    if (total > INT64_MAX - v * kUnits[u].mult) return false;
    total += v * kUnits[u].mult;
    i = k;
  }
  *ms = total;
  return true;
}

bool Unquote(std::string_view q, std::string* out, std::string* err) {
  out->clear();
  if (q.size() < 2) {
    *err = "unterminated quoted string";
    return false;
  }
  char quote = q[0];
  std::string_view body = q.substr(1, q.size() - 2);
  if (quote == '`') {
    out->assign(body);
    return true;
  }
  for (size_t i = 0; i < body.size(); ++i) {
    char c = body[i];
    if (c != '\\') {
      out->push_back(c);
      continue;
    }
    if (++i >= body.size()) {
      *err = "escape sequence not terminated";
      return false;
    }
    char e = body[i];
    switch (e) {
      case 'a': out->push_back('\a'); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'v': out->push_back('\v'); break;
      case '\\': out->push_back('\\'); break;
      case '"':
      case '\'':
        if (e != quote) {
          *err = fmt::format("unknown escape sequence U+{:04X} '{}'", static_cast<int>(e), e);
          return false;
        }
        out->push_back(e);
        break;
      case 'x':
      case 'u':
      case 'U': {
        int n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
        uint32_t v = 0;
        for (int k = 1; k <= n; ++k) {
          if (i + k >= body.size() || !IsHex(body[i + k])) {
            *err = "illegal character in escape sequence";
            return false;
          }
          v = v * 16 + HexVal(body[i + k]);
        }
        i += n;
        if (e == 'x') {
          out->push_back(static_cast<char>(v));
        } else {
          if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000)) {
            *err = "escape sequence is an invalid Unicode code point";
            return false;
          }
          AppendUtf8(out, v);
        }
        break;
      }
      default:
        if (e >= '0' && e <= '7') {
          uint32_t v = 0;
          for (int k = 0; k < 3; ++k) {
            if (i + k >= body.size() || body[i + k] < '0' || body[i + k] > '7') {
              *err = "illegal character in escape sequence";
              return false;
            }
            v = v * 8 + (body[i + k] - '0');
          }
          if (v > 255) {
            *err = "octal escape value > 255";
            return false;
          }
          i += 2;
          out->push_back(static_cast<char>(v));
          break;
        }
        *err = fmt::format("unknown escape sequence U+{:04X} '{}'",
                           static_cast<int>(static_cast<unsigned char>(e)), e);
        return false;
    }
  }
  return true;
}

std::string DescribeToken(const Token& t) {
  // Prometheus's wording: keywords as <by>, aggregators as <aggr:sum>, operators as <op:+>,
  // punctuation quoted, other tokens by kind and (Go-quoted) text.
  static const char* kKeywords[] = {"by",     "without",  "on",          "ignoring",
                                    "bool",   "offset",   "group_left",  "group_right",
                                    "start",  "end",      "step",        "anchored",
                                    "smoothed"};
  static const char* kAggregators[] = {"sum",    "avg",     "count",    "min",
                                       "max",    "group",   "stddev",   "stdvar",
                                       "topk",   "bottomk", "count_values", "quantile",
                                       "limitk", "limit_ratio"};
  switch (t.type) {
    case Tok::kEOF: return "end of input";
    case Tok::kError: return t.value;
    case Tok::kIdentifier: {
      std::string lower(t.text);
      for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      for (const char* k : kKeywords) {
        if (lower == k) return fmt::format("<{}>", t.text);
      }
      for (const char* k : kAggregators) {
        if (lower == k) return fmt::format("<aggr:{}>", t.text);
      }
      if (lower == "and" || lower == "or" || lower == "unless" || lower == "atan2") {
        return fmt::format("<op:{}>", t.text);
      }
      if (t.text.find(':') != std::string_view::npos) {
        return fmt::format("metric identifier \"{}\"", t.text);
      }
      return fmt::format("identifier \"{}\"", t.text);
    }
    case Tok::kNumber: return fmt::format("number \"{}\"", t.text);
    case Tok::kDuration: return fmt::format("duration \"{}\"", t.text);
    case Tok::kString: {
      // Go's %.10q: at most 10 characters of the raw text, quoted.
      std::string_view raw = t.text.substr(0, 10);
      std::string q = "\"";
      for (char c : raw) {
        if (c == '"' || c == '\\') q += '\\';
        q += c;
      }
      q += "\"";
      return "string " + q + (t.text.size() > 10 ? "..." : "");
    }
    case Tok::kAdd:
    case Tok::kSub:
    case Tok::kMul:
    case Tok::kDiv:
    case Tok::kMod:
    case Tok::kPow:
    case Tok::kEqlc:
    case Tok::kNeq:
    case Tok::kLss:
    case Tok::kLte:
    case Tok::kGtr:
    case Tok::kGte:
    case Tok::kEqlRegex:
    case Tok::kNeqRegex:
    case Tok::kTrimUpper:
    case Tok::kTrimLower: return fmt::format("<op:{}>", t.text);
    case Tok::kComma: return "\",\"";
    case Tok::kColon: return "\":\"";
    case Tok::kAt: return "\"@\"";
    default: return fmt::format("\"{}\"", t.text);
  }
}

std::vector<Token> Lex(std::string_view s, LexError* err, bool* failed) {
  std::vector<Token> out;
  *failed = false;
  auto fail = [&](size_t pos, std::string msg) {
    err->pos = static_cast<int>(pos);
    err->message = msg;
    *failed = true;
    Token t;
    t.type = Tok::kError;
    t.pos = t.end = static_cast<int>(pos);
    t.value = std::move(msg);
    out.push_back(std::move(t));
  };
  auto emit = [&](Tok t, size_t b, size_t e) {
    Token tok;
    tok.type = t;
    tok.pos = static_cast<int>(b);
    tok.end = static_cast<int>(e);
    tok.text = s.substr(b, e - b);
    out.push_back(std::move(tok));
  };
  size_t i = 0;
  int bracket_depth = 0;
  int paren_depth = 0;
  int brace_depth = 0;
  while (i < s.size()) {
    char c = s[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    if (c == '#') {
      while (i < s.size() && s[i] != '\n') ++i;
      continue;
    }
    size_t b = i;
    if (IsDigit(c) || (c == '.' && i + 1 < s.size() && IsDigit(s[i + 1]))) {
      // A duration takes precedence when the digits run straight into a unit.
      if (size_t n = ScanDuration(s, i); n > 0 && (i + n >= s.size() || !IsAlnum(s[i + n]))) {
        emit(Tok::kDuration, b, i + n);
        i += n;
        continue;
      }
      if (c == '0' && i + 1 < s.size() && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        while (i < s.size() && IsHex(s[i])) ++i;
      } else {
        while (i < s.size() && IsDigit(s[i])) ++i;
        if (i < s.size() && s[i] == '.') {
          ++i;
          while (i < s.size() && IsDigit(s[i])) ++i;
        }
        if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
          size_t j = i + 1;
          if (j < s.size() && (s[j] == '+' || s[j] == '-')) ++j;
          if (j < s.size() && IsDigit(s[j])) {
            i = j;
            while (i < s.size() && IsDigit(s[i])) ++i;
          }
        }
      }
      if (i < s.size() && (IsAlnum(s[i]) || s[i] == '.')) {
        // Quote what was read before the offending character, as Prometheus does.
        fail(b, fmt::format("bad number or duration syntax: \"{}\"", s.substr(b, i - b)));
        return out;
      }
      emit(Tok::kNumber, b, i);
      continue;
    }
    // Inside brackets ':' separates a subquery's range from its step, so it cannot be
    // part of an identifier there.
    if (IsAlpha(c) || (c == ':' && bracket_depth == 0)) {
      while (i < s.size() && (IsAlnum(s[i]) || (s[i] == ':' && bracket_depth == 0))) ++i;
      emit(Tok::kIdentifier, b, i);
      continue;
    }
    if (c == '"' || c == '\'' || c == '`') {
      ++i;
      while (i < s.size() && s[i] != c) {
        if (s[i] == '\\' && c != '`') ++i;
        else if (s[i] == '\n' && c != '`') break;
        ++i;
      }
      if (i >= s.size() || s[i] != c) {
        fail(b, "unterminated quoted string");
        return out;
      }
      ++i;
      emit(Tok::kString, b, i);
      std::string uerr;
      if (!Unquote(s.substr(b, i - b), &out.back().value, &uerr)) {
        fail(b, uerr);
        return out;
      }
      continue;
    }
    auto next_is = [&](char n) { return i + 1 < s.size() && s[i + 1] == n; };
    Tok t;
    size_t len = 1;
    switch (c) {
      case '(':
        t = Tok::kLParen;
        ++paren_depth;
        break;
      case ')':
        if (paren_depth == 0) {
          fail(b + 1, "unexpected right parenthesis ')'");
          return out;
        }
        t = Tok::kRParen;
        --paren_depth;
        break;
      case '{':
        t = Tok::kLBrace;
        ++brace_depth;
        break;
      case '}':
        t = Tok::kRBrace;
        if (brace_depth > 0) --brace_depth;
        break;
      case '[':
        t = Tok::kLBracket;
        ++bracket_depth;
        break;
      case ']':
        t = Tok::kRBracket;
        if (bracket_depth > 0) --bracket_depth;
        break;
      case ':': t = Tok::kColon; break;
      case ',': t = Tok::kComma; break;
      case '@': t = Tok::kAt; break;
      case '+': t = Tok::kAdd; break;
      case '-': t = Tok::kSub; break;
      case '*': t = Tok::kMul; break;
      case '/': t = Tok::kDiv; break;
      case '%': t = Tok::kMod; break;
      case '^': t = Tok::kPow; break;
      case '=':
        if (next_is('=')) {
          t = Tok::kEqlc;
          len = 2;
        } else if (next_is('~')) {
          t = Tok::kEqlRegex;
          len = 2;
        } else {
          t = Tok::kAssign;
        }
        break;
      case '!':
        if (next_is('=')) {
          t = Tok::kNeq;
          len = 2;
        } else if (next_is('~')) {
          t = Tok::kNeqRegex;
          len = 2;
        } else {
          fail(b, "unexpected character after '!': '" +
                      std::string(i + 1 < s.size() ? s.substr(i + 1, 1) : "") + "'");
          return out;
        }
        break;
      case '<':
        if (next_is('=')) {
          t = Tok::kLte;
          len = 2;
        } else if (next_is('/')) {
          t = Tok::kTrimUpper;
          len = 2;
        } else {
          t = Tok::kLss;
        }
        break;
      case '>':
        if (next_is('=')) {
          t = Tok::kGte;
          len = 2;
        } else if (next_is('/')) {
          t = Tok::kTrimLower;
          len = 2;
        } else {
          t = Tok::kGtr;
        }
        break;
      default: {
        // Report the whole UTF-8 character.
        size_t n = 1;
        unsigned char uc = static_cast<unsigned char>(c);
        if (uc >= 0xF0) n = 4;
        else if (uc >= 0xE0) n = 3;
        else if (uc >= 0xC0) n = 2;
        fail(b, fmt::format("unexpected character: '{}'", s.substr(b, std::min(n, s.size() - b))));
        return out;
      }
    }
    emit(t, b, b + len);
    i = b + len;
  }
  // Unbalanced openers are reported where the input ends.
  if (brace_depth > 0) {
    fail(s.size(), "unexpected end of input inside braces");
    return out;
  }
  if (bracket_depth > 0) {
    fail(s.size(), "unclosed left bracket");
    return out;
  }
  if (paren_depth > 0) {
    fail(s.size(), "unclosed left parenthesis");
    return out;
  }
  emit(Tok::kEOF, s.size(), s.size());
  return out;
}

}  // namespace vigil::promql::parser
