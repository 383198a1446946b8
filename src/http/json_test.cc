#include "http/json.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace vigil::http {
namespace {

TEST(FormatPromValue, MatchesGoFormatFloatAsPrometheusUsesIt) {
  const double inf = std::numeric_limits<double>::infinity();
  struct Case {
    double v;
    const char* want;
  } cases[] = {
      {0, "0"},
      {1, "1"},
      {-1.5, "-1.5"},
      {0.1, "0.1"},
      {123456789, "123456789"},
      {1e20, "100000000000000000000"},
      {1e21, "1e+21"},
      {1.5e-6, "0.0000015"},
      {1e-7, "1e-07"},
      {std::nan(""), "NaN"},
      {inf, "+Inf"},
      {-inf, "-Inf"},
  };
  for (const auto& c : cases) EXPECT_EQ(FormatPromValue(c.v), c.want) << c.v;
}

TEST(AppendPromTimestamp, WritesSecondsWithMillisecondsPadded) {
  struct Case {
    int64_t ms;
    const char* want;
  } cases[] = {{0, "0"}, {2000, "2"}, {1500, "1.500"}, {1005, "1.005"}, {-1500, "-1.500"},
               {1435781451781, "1435781451.781"}};
  for (const auto& c : cases) {
    std::string out;
    AppendPromTimestamp(&out, c.ms);
    EXPECT_EQ(out, c.want) << c.ms;
  }
}

TEST(AppendJsonString, EscapesLikeGoEncodingJson) {
  std::string out;
  AppendJsonString(&out, "a\"b\\c\nd\te<f>&g\x01h\xe2\x80\xa8i\xc3\xa9");
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\nd\\te\\u003cf\\u003e\\u0026g\\u0001h\\u2028i\xc3\xa9\"");
}

TEST(JsonWriter, InsertsCommasBetweenElements) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("a").Int(1).Key("b").BeginArray().String("x").Number(2.5).Null().EndArray();
  w.Key("c").BeginObject().EndObject().Key("d").Bool(true).EndObject();
  EXPECT_EQ(out, R"({"a":1,"b":["x",2.5,null],"c":{},"d":true})");
}

TEST(ErrorJson, HasPrometheusShape) {
  EXPECT_EQ(ErrorJson("bad_data", "no match[] parameter provided"),
            R"({"status":"error","errorType":"bad_data","error":"no match[] parameter provided"})");
}

}  // namespace
}  // namespace vigil::http
