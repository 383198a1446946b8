// Matcher: one label selector (`name="v"`, `!=`, `=~`, `!~`) as PromQL and the storage
// Querier use it.
//
// Regex matchers use RE2 with Go's semantics as Prometheus does: fully anchored, `.`
// matches newlines (Prometheus sets the `s` flag). They are compiled through a
// process-wide cache and match common shapes (literals, `a|b|c`, `eth.*`) without RE2;
// see fast_regex.h. An unset label matches as the empty string, so `{a=""}` selects
// series without `a` and `{a=~".*"}` selects all.
//
// Thread-safety: a built Matcher is immutable and may be shared; so is its FastRegex.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace vigil::model {

class FastRegex;

enum class MatchType { kEqual, kNotEqual, kRegexMatch, kRegexNoMatch };

class Matcher {
 public:
  // Fails with InvalidArgument ("invalid regular expression ...") for a bad regex.
  static absl::StatusOr<Matcher> Make(MatchType type, std::string_view name,
                                      std::string_view value);
  // For tests and literals known to be valid; a bad regex is a BUG check.
  static Matcher MustMake(MatchType type, std::string_view name, std::string_view value);

  bool Matches(std::string_view v) const;

  MatchType type() const { return type_; }
  const std::string& name() const { return name_; }
  const std::string& value() const { return value_; }
  // For regex matchers: the literal values when the regex is a literal or a list such as
  // "a|b|c" or "a\\.b|c" (so storage can look them up in postings instead of scanning);
  // else empty. Valid as long as the Matcher.
  const std::vector<std::string>& set_matches() const;
  // True if the matcher accepts the empty string (and so series lacking the label).
  bool MatchesEmpty() const { return Matches(""); }

  // name="value" with the operator, as PromQL prints it.
  std::string ToString() const;

 private:
  Matcher() = default;

  MatchType type_ = MatchType::kEqual;
  std::string name_;
  std::string value_;
  std::shared_ptr<const FastRegex> re_;  // set for regex matchers
};

using Matchers = std::vector<Matcher>;

}  // namespace vigil::model
