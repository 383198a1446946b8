// The PromQL lexer: turns query text into tokens for the parser.
//
// One mode serves the whole language: label names inside braces are ordinary identifiers
// (keywords are recognised by the parser, by position, not here), and durations such as
// `1h30m` are their own token wherever a number may stand. `#` starts a comment that runs
// to the end of the line.
//
// Thread-safety: a Lexer is used by one thread; the input must outlive it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::promql::parser {

enum class Tok {
  kEOF,
  kError,       // a lexing error; Token::value holds the message. Always the last token.
  kIdentifier,  // foo, sum, by, offset, inf, foo:bar (keywords are identifiers here)
  kNumber,      // 1, 1.5, .5e3, 0x1f
  kDuration,    // 5m, 1h30m, 100ms
  kString,      // "a", 'a', `a` (value unescaped in Token::value)
  kLParen, kRParen, kLBrace, kRBrace, kLBracket, kRBracket,
  kComma, kColon, kAt,
  kAssign,    // =
  kEqlRegex,  // =~
  kNeqRegex,  // !~
  kEqlc,      // ==
  kNeq,       // !=
  kLss, kLte, kGtr, kGte,
  kTrimUpper,  // </
  kTrimLower,  // >/
  kAdd, kSub, kMul, kDiv, kMod, kPow,
};

struct Token {
  Tok type = Tok::kEOF;
  int pos = 0;  // byte offset of the first character
  int end = 0;  // one past the last character
  std::string_view text;  // the raw text
  std::string value;      // for kString: the unescaped value
};

// A lexing error: the byte offset and the message (without position).
struct LexError {
  int pos = 0;
  std::string message;
};

// Tokenizes the whole input; the last token is kEOF. On error, fills *err and returns the
// tokens read so far followed by a kError token, so that a parser can report the error only
// when it reaches it (as Prometheus's on-demand lexer does).
std::vector<Token> Lex(std::string_view input, LexError* err, bool* failed);

// Describes a token for an "unexpected ..." message: `identifier "foo"`, `number "1"`,
// `"("`, `end of input`.
std::string DescribeToken(const Token& t);

// Unescapes a Go-style quoted string (with its quotes). Returns false with a message on a
// malformed escape.
bool Unquote(std::string_view quoted, std::string* out, std::string* err);

// Parses a Prometheus duration ("1h30m", "5m", "100ms"); false if malformed.
bool ParseDurationMs(std::string_view s, int64_t* ms);

}  // namespace vigil::promql::parser
