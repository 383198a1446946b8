#include "http/params.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::http {
namespace {

using ::testing::HasSubstr;

TEST(ParseQueryString, DecodesRepeatedKeysAndEscapes) {
  Params p;
  ASSERT_TRUE(ParseQueryString("match%5B%5D=up%7Bjob%3D%22a%22%7D&match[]=b+c&&flag&x=", &p).ok());
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0], (std::pair<std::string, std::string>{"match[]", "up{job=\"a\"}"}));
  EXPECT_EQ(p[1].second, "b c");
  EXPECT_EQ(p[2], (std::pair<std::string, std::string>{"flag", ""}));
  EXPECT_EQ(p[3].first, "x");
}

TEST(ParseQueryString, RejectsBadEscapes) {
  for (const char* s : {"a=%", "a=%2", "a=%zz", "%g0=1"}) {
    Params p;
    EXPECT_FALSE(ParseQueryString(s, &p).ok()) << s;
  }
}

TEST(ParseTime, AcceptsUnixSecondsAndRfc3339) {
  struct Case {
    const char* in;
    int64_t want;
  } cases[] = {
      {"0", 0},
      {"1700000000", 1700000000000},
      {"1700000000.5", 1700000000500},
      {"1.2344", 1234},  // rounded to milliseconds
      {"1.2346", 1235},
      {"-1.5", -1500},
      {"2023-11-14T22:13:20Z", 1700000000000},
      {"2023-11-14T22:13:20.123Z", 1700000000123},
      {"2023-11-14T22:13:20.123456789Z", 1700000000123},
      {"2023-11-15T00:13:20+02:00", 1700000000000},
      {"1970-01-01T00:00:00-01:30", 5400000},
  };
  for (const auto& c : cases) {
    auto t = ParseTime(c.in);
    ASSERT_TRUE(t.ok()) << c.in << ": " << t.status();
    EXPECT_EQ(*t, c.want) << c.in;
  }
}

TEST(ParseTime, RejectsGarbageWithPrometheusMessage) {
  for (const char* s : {"", "abc", "2023-13-01T00:00:00Z", "2023-02-30T00:00:00Z", "2023-11-14",
                        "2023-11-14T22:13:20", "1e400", "NaN"}) {
    auto t = ParseTime(s);
    EXPECT_FALSE(t.ok()) << s;
    EXPECT_THAT(std::string(t.status().message()), HasSubstr("to a valid timestamp")) << s;
  }
}

}  // namespace
}  // namespace vigil::http
