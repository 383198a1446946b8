#include "cmd/flags.h"

#include "gtest/gtest.h"

namespace vigil::cmd {
namespace {

TEST(ParseDuration, AcceptsPrometheusSyntax) {
  struct Case {
    const char* in;
    int64_t want;
  } cases[] = {
      {"0", 0},        {"15d", 15LL * 86400000}, {"2h30m", 9000000}, {"100ms", 100},
      {"1s500ms", 1500}, {"1y", 365LL * 86400000}, {"2w", 14LL * 86400000}, {"90s", 90000},
  };
  for (const auto& c : cases) {
    auto d = ParseDuration(c.in);
    ASSERT_TRUE(d.ok()) << c.in << ": " << d.status();
    EXPECT_EQ(*d, c.want) << c.in;
  }
}

TEST(ParseDuration, RejectsMalformedDurations) {
  for (const char* s : {"", "15", "d", "1.5h", "30m2h", "1h1h", "-1d", "5x", "1h 2m",
                        "99999999999999999999y"}) {
    EXPECT_FALSE(ParseDuration(s).ok()) << s;
  }
}

TEST(ParseBytes, ReadsUnitsAsPowersOf1024) {
  struct Case {
    const char* in;
    int64_t want;
  } cases[] = {{"0", 0},           {"100", 100},        {"100B", 100},
               {"512MB", 512LL << 20}, {"10GB", 10LL << 30}, {"1TiB", 1LL << 40},
               {"3KiB", 3072}};
  for (const auto& c : cases) {
    auto b = ParseBytes(c.in);
    ASSERT_TRUE(b.ok()) << c.in << ": " << b.status();
    EXPECT_EQ(*b, c.want) << c.in;
  }
}

TEST(ParseBytes, RejectsUnknownUnits) {
  for (const char* s : {"", "MB", "10mb", "10XB", "1.5GB", "10 GB", "9999999EB"}) {
    EXPECT_FALSE(ParseBytes(s).ok()) << s;
  }
}

TEST(ParseWalSync, AcceptsAlwaysOrAPositiveDuration) {
  auto a = ParseWalSync("always");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->always);
  auto g = ParseWalSync("250ms");
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->always);
  EXPECT_EQ(g->interval_ms, 250);
  EXPECT_FALSE(ParseWalSync("0").ok());
  EXPECT_FALSE(ParseWalSync("sometimes").ok());
}

}  // namespace
}  // namespace vigil::cmd
