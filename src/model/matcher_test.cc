#include "model/matcher.h"

#include "gtest/gtest.h"

namespace vigil::model {
namespace {

TEST(Matcher, AllFourTypes) {
  auto eq = Matcher::MustMake(MatchType::kEqual, "a", "x");
  EXPECT_TRUE(eq.Matches("x"));
  EXPECT_FALSE(eq.Matches("xx"));
  auto ne = Matcher::MustMake(MatchType::kNotEqual, "a", "x");
  EXPECT_TRUE(ne.Matches(""));
  EXPECT_FALSE(ne.Matches("x"));
  auto re = Matcher::MustMake(MatchType::kRegexMatch, "a", "fo+|bar");
  EXPECT_TRUE(re.Matches("fooo"));
  EXPECT_TRUE(re.Matches("bar"));
  EXPECT_FALSE(re.Matches("xfoo")) << "regexes are anchored at both ends";
  auto nre = Matcher::MustMake(MatchType::kRegexNoMatch, "a", "fo+");
  EXPECT_TRUE(nre.Matches("bar"));
  EXPECT_FALSE(nre.Matches("foo"));
}

TEST(Matcher, DotMatchesNewlineAsInPrometheus) {
  EXPECT_TRUE(Matcher::MustMake(MatchType::kRegexMatch, "a", "a.b").Matches("a\nb"));
}

TEST(Matcher, EmptyMatchSemantics) {
  EXPECT_TRUE(Matcher::MustMake(MatchType::kEqual, "a", "").MatchesEmpty());
  EXPECT_TRUE(Matcher::MustMake(MatchType::kRegexMatch, "a", ".*").MatchesEmpty());
  EXPECT_FALSE(Matcher::MustMake(MatchType::kRegexMatch, "a", ".+").MatchesEmpty());
}

TEST(Matcher, BadRegexIsAClearError) {
  auto m = Matcher::Make(MatchType::kRegexMatch, "a", "(unclosed");
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.status().message().find("invalid regular expression"), std::string::npos);
}

TEST(Matcher, SetMatchesForLiteralAlternations) {
  auto m = Matcher::MustMake(MatchType::kRegexMatch, "job", "api|db|web-1");
  EXPECT_EQ(m.set_matches(), (std::vector<std::string>{"api", "db", "web-1"}));
  EXPECT_TRUE(Matcher::MustMake(MatchType::kRegexMatch, "job", "a.*").set_matches().empty());
}

}  // namespace
}  // namespace vigil::model
