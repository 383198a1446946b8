#include "config/units.h"

#include "gtest/gtest.h"

namespace vigil::config {
namespace {

TEST(ParseDuration, AcceptsPrometheusForms) {
  struct Case {
    const char* in;
    int64_t ms;
  } cases[] = {{"0", 0},          {"15s", 15000},       {"5m", 300000},
               {"1h30m", 5400000}, {"2h", 7200000},      {"15d", 15LL * 86400000},
               {"1w", 604800000},  {"1y", 31536000000LL}, {"500ms", 500},
               {"1m30s500ms", 90500}};
  for (const auto& c : cases) {
    auto got = ParseDuration(c.in);
    ASSERT_TRUE(got.ok()) << c.in << ": " << got.status();
    EXPECT_EQ(*got, c.ms) << c.in;
  }
}

TEST(ParseDuration, RejectsWithAReason) {
  struct Case {
    const char* in;
    const char* why;
  } cases[] = {{"", "empty"},       {"5", "missing unit"}, {"5x", "unknown unit \"x\""},
               {"1m1h", "order"},   {"h", "expected a number"}, {"-5m", "expected a number"},
               {"99999999999999999999y", "too large"}, {"1.5h", "unit"}};
  for (const auto& c : cases) {
    auto got = ParseDuration(c.in);
    ASSERT_FALSE(got.ok()) << c.in;
    EXPECT_NE(got.status().message().find(c.why), std::string::npos) << got.status();
  }
}

TEST(FormatDuration, IsTheShortestForm) {
  EXPECT_EQ(FormatDuration(0), "0s");
  EXPECT_EQ(FormatDuration(90000), "1m30s");
  EXPECT_EQ(FormatDuration(15LL * 86400000), "2w1d");
  EXPECT_EQ(FormatDuration(1500), "1s500ms");
}

TEST(ParseBytes, UsesPowersOf1024LikePrometheus) {
  EXPECT_EQ(*ParseBytes("512MB"), 512LL << 20);
  EXPECT_EQ(*ParseBytes("10GB"), 10LL << 30);
  EXPECT_EQ(*ParseBytes("1TiB"), 1LL << 40);
  EXPECT_EQ(*ParseBytes("4096"), 4096);
  EXPECT_EQ(*ParseBytes("0"), 0);
  EXPECT_FALSE(ParseBytes("10XB").ok());
  EXPECT_FALSE(ParseBytes("GB").ok());
  EXPECT_FALSE(ParseBytes("99999999999EB").ok());
}

}  // namespace
}  // namespace vigil::config
