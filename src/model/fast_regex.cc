#include "model/fast_regex.h"

#include <cctype>
#include <utility>

#include "base/status.h"
#include "fmt/format.h"
#include "re2/re2.h"

namespace vigil::model {
namespace {

// Above this many values a hash set beats comparing one by one (Prometheus switches at
// the same size).
constexpr size_t kMinSetForHash = 16;
constexpr size_t kGlobalCacheCapacity = 4096;

bool IsMeta(char c) {
  return std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos;
}

// Appends to `out` the literal text of `p` from `*i` up to the next unescaped
// metacharacter (or the end) and advances `*i` past it. An escaped ASCII punctuation
// character stands for itself in RE2 and Go; any other escape (`\d`, `\n`, `\Q`, `\x41`)
// returns false so the pattern stays on RE2.
bool ScanLiteral(std::string_view p, size_t* i, std::string* out) {
  while (*i < p.size()) {
    char c = p[*i];
    if (c != '\\') {
      if (IsMeta(c)) return true;
      out->push_back(c);
      ++*i;
      continue;
    }
    if (*i + 1 == p.size()) return false;
    char e = p[*i + 1];
    if (static_cast<unsigned char>(e) >= 0x80 || !std::ispunct(static_cast<unsigned char>(e)) ||
        e == '_') {
      return false;
    }
    out->push_back(e);
    *i += 2;
  }
  return true;
}

// Fills `out` with the alternatives of a pattern made only of literals joined by '|'
// (an empty alternative accepts the empty string); false for any other pattern.
bool ParseLiteralAlternation(std::string_view p, std::vector<std::string>* out) {
  size_t i = 0;
  while (true) {
    std::string lit;
    if (!ScanLiteral(p, &i, &lit)) return false;
    out->push_back(std::move(lit));
    if (i == p.size()) return true;
    if (p[i] != '|') return false;
    ++i;
  }
}

// True if `s` is well-formed UTF-8 (no overlong forms, surrogates or code points past
// U+10FFFF). Every such value is a sequence of characters RE2's `.` accepts; RE2 is more
// lenient than this about some malformed sequences, but those values go to RE2 anyway.
bool IsValidUtf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len) return false;
    for (size_t j = 1; j < len; ++j) {
      auto b = static_cast<unsigned char>(s[i + j]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return false;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return false;
    i += len;
  }
  return true;
}

}  // namespace

FastRegex::~FastRegex() = default;

absl::StatusOr<std::shared_ptr<const FastRegex>> FastRegex::Compile(std::string_view pattern) {
  RE2::Options opts;
  opts.set_dot_nl(true);
  opts.set_log_errors(false);
  auto invalid = [&](const RE2& re) {
    return absl::InvalidArgumentError(
        fmt::format("invalid regular expression \"{}\": {}", pattern, re.error()));
  };
  // RE2 matches "^(?:pattern)$" about twice as fast as FullMatch on the bare pattern, but
  // the wrapper would accept an unbalanced pattern such as "a)|(b" (as the half-anchored
  // "^(?:a)|(b)$") where Prometheus, parsing the pattern alone, rejects it. Only a ')' or
  // a '\' can reach past the wrapper's group, so only then is the bare pattern checked.
  std::unique_ptr<RE2> bare;
  if (pattern.find_first_of(")\\") != std::string_view::npos) {
    bare = std::make_unique<RE2>(pattern, opts);
    if (!bare->ok()) return invalid(*bare);
  }
  auto re = std::make_unique<RE2>(fmt::format("^(?:{})$", pattern), opts);
  if (!re->ok()) {
    // A valid pattern breaks the wrapper only with an unterminated "\Q", which quotes the
    // wrapper's ")$" too; the bare pattern, matched anchored, means what was written.
    if (bare == nullptr) return invalid(*re);
    re = std::move(bare);
  }
  std::shared_ptr<FastRegex> r(new FastRegex());
  r->pattern_ = std::string(pattern);
  r->re_ = std::move(re);

  std::vector<std::string> alts;
  if (ParseLiteralAlternation(pattern, &alts)) {
    r->shape_ = Shape::kSet;
    absl::flat_hash_set<std::string> seen;
    for (auto& a : alts) {
      if (seen.insert(a).second) r->set_.push_back(std::move(a));
    }
    if (r->set_.size() > kMinSetForHash) r->set_lookup_ = std::move(seen);
    return r;
  }

  // [.* | .+] literal [.* | .+]
  auto scan_dots = [&](size_t* i) {
    std::string_view rest = pattern.substr(*i);
    if (rest.substr(0, 2) != ".*" && rest.substr(0, 2) != ".+") return Dots::kNone;
    *i += 2;
    return rest[1] == '*' ? Dots::kStar : Dots::kPlus;
  };
  size_t i = 0;
  Dots left = scan_dots(&i);
  std::string literal;
  if (!ScanLiteral(pattern, &i, &literal)) return r;
  Dots right = scan_dots(&i);
  if (i != pattern.size()) return r;
  if (literal.empty() && left != Dots::kNone && right != Dots::kNone) {
    // `.*.*`, `.*.+`, `.+.*` are `.*` or `.+`; `.+.+` needs two characters, which
    // counting bytes cannot tell, so it stays on RE2.
    if (left == Dots::kPlus && right == Dots::kPlus) return r;
    left = (left == Dots::kPlus || right == Dots::kPlus) ? Dots::kPlus : Dots::kStar;
    right = Dots::kNone;
  }
  // Both kNone would be a literal, which the alternation parse already took.
  VIGIL_CHECK(left != Dots::kNone || right != Dots::kNone);
  r->shape_ = Shape::kDots;
  r->left_ = left;
  r->literal_ = std::move(literal);
  r->right_ = right;
  return r;
}

bool FastRegex::Matches(std::string_view v) const {
  switch (shape_) {
    case Shape::kSet:
      // Debian's abseil has its own string_view, which the heterogeneous lookup needs.
      if (!set_lookup_.empty()) return set_lookup_.contains(absl::string_view(v.data(), v.size()));
      for (const std::string& s : set_) {
        if (s == v) return true;
      }
      return false;
    case Shape::kDots: return MatchesDots(v);
    case Shape::kRe2: break;
  }
  return MatchesWithRe2(v);
}

bool FastRegex::MatchesWithRe2(std::string_view v) const { return RE2::FullMatch(v, *re_); }

bool FastRegex::MatchesDots(std::string_view v) const {
  if (!IsValidUtf8(v)) return MatchesWithRe2(v);
  // In valid UTF-8 a non-empty byte range between character boundaries holds at least
  // one character, and the literal (valid UTF-8 itself) can only be found at a boundary,
  // so `.+` reduces to "at least one byte".
  const size_t min_left = left_ == Dots::kPlus ? 1 : 0;
  const size_t min_right = right_ == Dots::kPlus ? 1 : 0;
  const size_t k = literal_.size();
  if (v.size() < min_left + k + min_right) return false;
  if (left_ == Dots::kNone) return v.starts_with(literal_);
  if (right_ == Dots::kNone) return v.ends_with(literal_);
  // The earliest occurrence leaves the most room on the right.
  size_t pos = v.find(literal_, min_left);
  return pos != std::string_view::npos && pos + k + min_right <= v.size();
}

RegexCache::RegexCache(size_t capacity) : capacity_(capacity) { VIGIL_CHECK(capacity > 0); }

RegexCache& RegexCache::Global() {
  // Never destroyed, so matchers in static objects may use it during shutdown.
  static RegexCache* cache = new RegexCache(kGlobalCacheCapacity);
  return *cache;
}

absl::StatusOr<std::shared_ptr<const FastRegex>> RegexCache::Get(std::string_view pattern) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (auto it = index_.find(pattern); it != index_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      hits_.fetch_add(1, std::memory_order_relaxed);
      return *it->second;
    }
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  // Compile without the lock: RE2 compilation is the slow part, and other patterns
  // should not wait for it.
  auto compiled = FastRegex::Compile(pattern);
  if (!compiled.ok()) return compiled.status();
  std::lock_guard<std::mutex> l(mu_);
  if (auto it = index_.find(pattern); it != index_.end()) return *it->second;  // raced
  lru_.push_front(*compiled);
  index_.emplace(lru_.front()->pattern(), lru_.begin());
  if (lru_.size() > capacity_) {
    index_.erase(lru_.back()->pattern());
    lru_.pop_back();
  }
  return compiled;
}

RegexCache::Stats RegexCache::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return {hits_.load(std::memory_order_relaxed), misses_.load(std::memory_order_relaxed),
          lru_.size()};
}

}  // namespace vigil::model
