#include "model/fast_regex.h"

#include <random>
#include <thread>

#include "gtest/gtest.h"

namespace vigil::model {
namespace {

std::shared_ptr<const FastRegex> MustCompile(std::string_view p) {
  auto r = FastRegex::Compile(p);
  EXPECT_TRUE(r.ok()) << p << ": " << r.status();
  return *std::move(r);
}

// Patterns with and without fast paths, and values chosen to hit their edges: empty
// strings, newlines, multi-byte characters, malformed UTF-8 (which RE2's `.` rejects).
const char* const kPatterns[] = {
    "", "api", "a|b|c", "api|db|web-1", "a|", "|", "|a|", "a|a", "a\\.b", "a\\.b|c\\|d",
    "a\\\\b", "a\\*", "é|ü", "x y", "a.b",
    ".*", ".+", ".*.*", ".*.+", ".+.*", ".+.+", "eth.*", "eth.+", "node_.+", ".*_total",
    ".+_total", ".*err.*", ".+err.+", ".*err.+", ".+err.*", ".*é.*", ".+é", "\\..*",
    ".*\\n", "a\\n.*", "(?i)api", "(?i)eth.*", "(?-s:.*)", "(?-s).*", "(?s:.*)", ".",
    "..", ".*?", "eth.*?", "a*", "a+b", "a|b.*", "[ab]", "(a|b)", "a{2}", "\\d+", "^a$",
    "\\Qa.b\\E", "\\Qa.b", "\\Qa)|(b", "a\\x2e", "a.*b.*", "\\pL+", ".*(a)", "eth[0-9]+"};

const std::string kValues[] = {"",
                               "a)|(b",
                               "a",
                               "b",
                               "c",
                               "aa",
                               "api",
                               "API",
                               "db",
                               "web-1",
                               "a.b",
                               "axb",
                               "a|b",
                               "c|d",
                               "a\\b",
                               "a*",
                               "é",
                               "ü",
                               "x y",
                               "eth",
                               "eth0",
                               "eth\n",
                               "\neth0",
                               "Eth0",
                               "node_",
                               "node_cpu",
                               "x_total",
                               "_total",
                               "http_requests_total\n",
                               "err",
                               "xerr",
                               "errx",
                               "xerrx",
                               "\n",
                               "\n\n",
                               "a\nb",
                               "a\n",
                               "\\n",
                               "ééé",
                               "aé",
                               "日本語",
                               "\xff",
                               "eth\xff",
                               "\xc3",
                               "\x80",
                               "err\xed\xa0\x80",
                               "\xe0\x80\x80",
                               "\xf4\x90\x80\x80",
                               std::string("a\0b", 3),
                               std::string("\0", 1),
                               "..",
                               ".x"};

TEST(FastRegex, AgreesWithRe2OnEveryPatternAndValue) {
  for (const char* p : kPatterns) {
    auto r = MustCompile(p);
    for (const std::string& v : kValues) {
      EXPECT_EQ(r->Matches(v), r->MatchesWithRe2(v))
          << "pattern \"" << p << "\" value \"" << v << "\" (fast path "
          << r->HasFastPath() << ")";
    }
  }
}

TEST(FastRegex, TakesFastPathsForCommonShapesOnly) {
  for (const char* p : {"", "api", "a|b|c", "a|", "a\\.b|c", "é|ü", ".*", ".+", "eth.*",
                        "node_.+", ".*_total", ".*err.*", ".+err.+", ".*.*"}) {
    EXPECT_TRUE(MustCompile(p)->HasFastPath()) << p;
  }
  for (const char* p : {"(?i)api", "(?-s:.*)", ".", ".+.+", ".*?", "a*", "[ab]", "(a|b)",
                        "\\d+", "\\Qa\\E", "a.*b.*", "^a$", "a|b.*"}) {
    EXPECT_FALSE(MustCompile(p)->HasFastPath()) << p;
  }
}

TEST(FastRegex, DotMatchesNewlineAsInPrometheus) {
  // Prometheus compiles "^(?s:" + pattern + ")$", so `.*` accepts every string.
  EXPECT_TRUE(MustCompile(".*")->Matches("a\nb"));
  EXPECT_TRUE(MustCompile("eth.+")->Matches("eth\n"));
  EXPECT_FALSE(MustCompile("(?-s:.*)")->Matches("a\nb"));
}

TEST(FastRegex, MalformedUtf8GetsRe2sAnswer) {
  // RE2's `.` does not accept a stray byte, so `.*` rejects it even though it accepts
  // any well-formed value.
  EXPECT_FALSE(MustCompile(".*")->Matches("\xff"));
  EXPECT_FALSE(MustCompile("eth.*")->Matches("eth\xff"));
  EXPECT_TRUE(MustCompile(".*")->Matches("日本語"));
}

TEST(FastRegex, SetMatchesListsLiteralValues) {
  EXPECT_EQ(MustCompile("api|db|web-1")->set_matches(),
            (std::vector<std::string>{"api", "db", "web-1"}));
  EXPECT_EQ(MustCompile("a\\.b|a|a|")->set_matches(), (std::vector<std::string>{"a.b", "a", ""}));
  EXPECT_EQ(MustCompile("api")->set_matches(), (std::vector<std::string>{"api"}));
  for (const char* p : {"a.*", ".*", "(?i)a|b", "[ab]", "a\\d"}) {
    EXPECT_TRUE(MustCompile(p)->set_matches().empty()) << p;
  }
}

TEST(FastRegex, LargeSetsUseTheHashedLookup) {
  std::string p;
  for (int i = 0; i < 100; ++i) p += (i ? "|" : "") + std::string("host-") + std::to_string(i);
  auto r = MustCompile(p);
  EXPECT_EQ(r->set_matches().size(), 100u);
  EXPECT_TRUE(r->Matches("host-0"));
  EXPECT_TRUE(r->Matches("host-99"));
  EXPECT_FALSE(r->Matches("host-100"));
  EXPECT_FALSE(r->Matches(""));
}

TEST(FastRegex, BadPatternIsAClearError) {
  auto r = FastRegex::Compile("(unclosed");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("invalid regular expression \"(unclosed\""),
            std::string::npos);
  // Valid only once wrapped in a group, as "^(?:a)|(b)$"; Prometheus rejects it.
  EXPECT_FALSE(FastRegex::Compile("a)|(b").ok());
  EXPECT_FALSE(FastRegex::Compile("a)(b").ok());
}

TEST(FastRegex, UnterminatedQuoteIsALiteralToTheEnd) {
  EXPECT_TRUE(MustCompile("\\Qa)|(b")->Matches("a)|(b"));
  EXPECT_FALSE(MustCompile("\\Qa.b")->Matches("axb"));
  EXPECT_TRUE(MustCompile("\\Qa.b")->Matches("a.b"));
}

TEST(FastRegex, AnchorsEveryAlternativeAtBothEnds) {
  auto r = MustCompile("a|b(c)");
  EXPECT_FALSE(r->Matches("ax"));
  EXPECT_FALSE(r->Matches("xbc"));
  EXPECT_TRUE(r->Matches("bc"));
  EXPECT_TRUE(MustCompile("^a$")->Matches("a"));
}

// Random patterns over a small alphabet of literal characters, escapes and metacharacters,
// so fast-path shapes and near misses both come up often.
TEST(FastRegex, AgreesWithRe2OnRandomPatterns) {
  const std::vector<std::string> pieces = {"a", "b", "é", ".", "*", "+", "?", "|", "\\.",
                                           "\\|", ".*", ".+", "(", ")", "\n", "x"};
  const std::vector<std::string> value_pieces = {"a", "b", "é", ".", "|", "\n", "x", "\xff"};
  std::mt19937 rng(42);
  int compiled = 0, fast = 0;
  for (int n = 0; n < 5000; ++n) {
    std::string p;
    for (int k = rng() % 6; k > 0; --k) p += pieces[rng() % pieces.size()];
    auto r = FastRegex::Compile(p);
    if (!r.ok()) continue;
    ++compiled;
    fast += (*r)->HasFastPath();
    for (int m = 0; m < 20; ++m) {
      std::string v;
      for (int k = rng() % 5; k > 0; --k) v += value_pieces[rng() % value_pieces.size()];
      ASSERT_EQ((*r)->Matches(v), (*r)->MatchesWithRe2(v))
          << "pattern \"" << p << "\" value \"" << v << "\"";
    }
  }
  EXPECT_GT(compiled, 1000);
  EXPECT_GT(fast, 300);
}

TEST(RegexCache, ReturnsTheSameRegexForAPattern) {
  RegexCache cache(4);
  auto a = cache.Get("eth.*");
  auto b = cache.Get("eth.*");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  EXPECT_EQ(cache.stats().hits, 1u);
  EXPECT_EQ(cache.stats().misses, 1u);
}

TEST(RegexCache, EvictsTheLeastRecentlyUsedAndKeepsEvictedRegexesUsable) {
  RegexCache cache(2);
  auto a = *cache.Get("a.*");
  ASSERT_TRUE(cache.Get("b.*").ok());
  ASSERT_TRUE(cache.Get("a.*").ok());  // a is now the most recent
  ASSERT_TRUE(cache.Get("c.*").ok());  // evicts b
  EXPECT_EQ(cache.stats().size, 2u);
  EXPECT_EQ(cache.Get("a.*")->get(), a.get());
  uint64_t misses = cache.stats().misses;
  ASSERT_TRUE(cache.Get("b.*").ok());  // evicts c
  EXPECT_EQ(cache.stats().misses, misses + 1);
  ASSERT_TRUE(cache.Get("d.*").ok());  // evicts a, which we still hold
  EXPECT_TRUE(a->Matches("abc"));
  EXPECT_EQ(cache.stats().size, 2u);
}

TEST(RegexCache, DoesNotCacheBadPatterns) {
  RegexCache cache(2);
  EXPECT_FALSE(cache.Get("(").ok());
  EXPECT_FALSE(cache.Get("(").ok());
  EXPECT_EQ(cache.stats().size, 0u);
}

TEST(RegexCache, IsSafeToUseFromManyThreads) {
  RegexCache cache(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&cache, t] {
      for (int i = 0; i < 2000; ++i) {
        auto r = cache.Get("p" + std::to_string((i * 7 + t) % 16) + ".*");
        ASSERT_TRUE(r.ok());
        const std::string& p = (*r)->pattern();
        ASSERT_TRUE((*r)->Matches(p.substr(0, p.size() - 2) + "x"));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_LE(cache.stats().size, 8u);
  EXPECT_EQ(cache.stats().hits + cache.stats().misses, 8000u);
}

}  // namespace
}  // namespace vigil::model
