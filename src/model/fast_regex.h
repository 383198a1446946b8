// FastRegex: a PromQL label regex compiled once, with fast paths that skip RE2 for the
// shapes queries use most, and a bounded process-wide cache of compiled regexes.
//
// Semantics are RE2's with Prometheus's settings: the pattern is fully anchored and `.`
// matches any character including '\n' (Prometheus compiles "^(?s:" + pattern + ")$").
// Matches() must answer exactly as RE2 does for every value, so each fast path is taken
// only for patterns whose meaning is certain:
//   - literals and alternations of literals (`api`, `a|b|c`, `a\.b|`) -> set lookup;
//   - one literal with `.*` or `.+` before and/or after (`eth.*`, `.+_total`, `.*err.*`),
//     including `.*` and `.+` alone -> prefix/suffix/substring checks.
// Anything else (classes, groups, flags such as `(?i)`, other escapes) stays on RE2. The
// dot shapes check the value is valid UTF-8 first: RE2's `.` rejects stray bytes, and such
// values go to RE2 so the answer stays RE2's.
//
// Thread-safety: a FastRegex is immutable and may be shared by any number of threads.
// RegexCache is thread-safe; the regexes it returns stay valid after eviction because
// callers hold shared_ptrs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace vigil::model {

class FastRegex {
 public:
  // Fails with InvalidArgument ("invalid regular expression ...") for a bad pattern.
  static absl::StatusOr<std::shared_ptr<const FastRegex>> Compile(std::string_view pattern);

  FastRegex(const FastRegex&) = delete;
  FastRegex& operator=(const FastRegex&) = delete;
  ~FastRegex();

  bool Matches(std::string_view v) const;
  // The answer of RE2 alone, without fast paths: the reference for tests, fuzzers and
  // benchmarks.
  bool MatchesWithRe2(std::string_view v) const;

  const std::string& pattern() const { return pattern_; }
  // The literal values the pattern accepts when it is a literal or an alternation of
  // literals (no duplicates, in pattern order), so storage can look them up in postings
  // instead of scanning every value; empty for any other pattern.
  const std::vector<std::string>& set_matches() const { return set_; }
  // True if Matches() can answer without RE2 (for valid UTF-8 values); for tests.
  bool HasFastPath() const { return shape_ != Shape::kRe2; }

 private:
  enum class Shape { kRe2, kSet, kDots };
  // What a leading or trailing `.*` / `.+` requires: nothing, any text, or non-empty text.
  enum class Dots { kNone, kStar, kPlus };

  FastRegex() = default;
  bool MatchesDots(std::string_view v) const;

  std::string pattern_;
  std::unique_ptr<re2::RE2> re_;
  Shape shape_ = Shape::kRe2;
  std::vector<std::string> set_;                 // kSet: the accepted values
  absl::flat_hash_set<std::string> set_lookup_;  // kSet with many values: same, hashed
  Dots left_ = Dots::kNone;                      // kDots: before literal_
  std::string literal_;                          // kDots: may be empty
  Dots right_ = Dots::kNone;                     // kDots: after literal_
};

// A bounded LRU cache of compiled regexes keyed by pattern, so a query compiles each of
// its regexes once per process rather than once per query (as Prometheus's
// FastRegexMatcher cache does). Bad patterns are not cached.
class RegexCache {
 public:
  explicit RegexCache(size_t capacity);

  absl::StatusOr<std::shared_ptr<const FastRegex>> Get(std::string_view pattern);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
    size_t size = 0;
  };
  Stats stats() const;

  // The cache Matcher::Make uses: a few thousand patterns.
  static RegexCache& Global();

 private:
  using Entry = std::shared_ptr<const FastRegex>;

  const size_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first; guarded by mu_
  // Keys view the pattern owned by the entry they point at; guarded by mu_.
  absl::flat_hash_map<std::string_view, std::list<Entry>::iterator> index_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace vigil::model
