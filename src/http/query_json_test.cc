// The query answer encoders against literal JSON from Prometheus's HTTP API documentation
// (https://prometheus.io/docs/prometheus/latest/querying/api/) and Go's float formatting.
#include "http/query_json.h"

#include <cmath>
#include <limits>

#include "gtest/gtest.h"

namespace vigil::http {
namespace {

using promql::QueryResult;
using promql::ValueType;

TEST(AppendPromValue, FormatsFloatsAsGoStrconvDoes) {
  struct Case {
    double v;
    const char* want;
  } cases[] = {
      {0, "0"},
      {1, "1"},
      {-2.5, "-2.5"},
      {0.1, "0.1"},
      {1.0 / 3, "0.3333333333333333"},
      {1e-6, "0.000001"},
      {1e-7, "1e-07"},
      {123456789, "123456789"},
      {1e20, "100000000000000000000"},
      {1e21, "1e+21"},
      {1.5e300, "1.5e+300"},
      {-0.0, "-0"},
      {std::numeric_limits<double>::quiet_NaN(), "NaN"},
      {std::numeric_limits<double>::infinity(), "+Inf"},
      {-std::numeric_limits<double>::infinity(), "-Inf"},
  };
  for (const auto& c : cases) {
    std::string out;
    AppendPromValue(&out, c.v);
    EXPECT_EQ(out, c.want) << c.v;
  }
}

TEST(QuerySuccessJson, WritesInstantVectorLikeThePrometheusDocs) {
  // The documentation's `up` example at 2015-07-01T20:10:51.781Z.
  QueryResult r;
  r.type = ValueType::kVector;
  r.vector.push_back({model::Labels{{"__name__", "up"}, {"job", "prometheus"}, {"instance", "localhost:9090"}},
                      1435781451781, 1});
  r.vector.push_back({model::Labels{{"__name__", "up"}, {"job", "node"}, {"instance", "localhost:9100"}},
                      1435781451781, 0});
  EXPECT_EQ(QuerySuccessJson(r),
            R"({"status":"success","data":{"resultType":"vector","result":[)"
            R"({"metric":{"__name__":"up","instance":"localhost:9090","job":"prometheus"},"value":[1435781451.781,"1"]},)"
            R"({"metric":{"__name__":"up","instance":"localhost:9100","job":"node"},"value":[1435781451.781,"0"]}]}})");
}

TEST(QuerySuccessJson, WritesRangeMatrixLikeThePrometheusDocs) {
  QueryResult r;
  r.type = ValueType::kMatrix;
  r.matrix.push_back({model::Labels{{"__name__", "up"}, {"job", "prometheus"}, {"instance", "localhost:9090"}},
                      {{1435781430781, 1}, {1435781445781, 1}, {1435781460781, 1}}});
  r.matrix.push_back({model::Labels{{"__name__", "up"}, {"job", "node"}, {"instance", "localhost:9091"}},
                      {{1435781430781, 0}, {1435781445781, 0}, {1435781460781, 1}}});
  EXPECT_EQ(QuerySuccessJson(r),
            R"({"status":"success","data":{"resultType":"matrix","result":[)"
            R"({"metric":{"__name__":"up","instance":"localhost:9090","job":"prometheus"},"values":[[1435781430.781,"1"],[1435781445.781,"1"],[1435781460.781,"1"]]},)"
            R"({"metric":{"__name__":"up","instance":"localhost:9091","job":"node"},"values":[[1435781430.781,"0"],[1435781445.781,"0"],[1435781460.781,"1"]]}]}})");
}

TEST(QuerySuccessJson, WritesScalarsStringsAndEmptyResults) {
  struct Case {
    QueryResult r;
    const char* want;
  };
  QueryResult scalar;
  scalar.type = ValueType::kScalar;
  scalar.scalar = {1700000000000, std::numeric_limits<double>::infinity()};
  QueryResult str;
  str.type = ValueType::kString;
  str.string = "a\"<b>";
  str.string_t = 1700000000500;
  QueryResult empty_vec;
  empty_vec.type = ValueType::kVector;
  QueryResult empty_matrix;
  empty_matrix.type = ValueType::kMatrix;
  QueryResult no_labels;
  no_labels.type = ValueType::kVector;
  no_labels.vector.push_back({model::Labels{}, 1000, std::nan("")});
  const Case cases[] = {
      {scalar, R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"+Inf"]}})"},
      {str, R"({"status":"success","data":{"resultType":"string","result":[1700000000.500,"a\"\u003cb\u003e"]}})"},
      {empty_vec, R"({"status":"success","data":{"resultType":"vector","result":[]}})"},
      {empty_matrix, R"({"status":"success","data":{"resultType":"matrix","result":[]}})"},
      {no_labels, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}})"},
  };
  for (const auto& c : cases) EXPECT_EQ(QuerySuccessJson(c.r), c.want);
}

TEST(QuerySuccessJson, PutsWarningsInfosAndStatsWherePrometheusDoes) {
  QueryResult r;
  r.type = ValueType::kVector;
  r.warnings = {"PromQL warning: w"};
  r.infos = {"PromQL info: i"};
  EXPECT_EQ(QuerySuccessJson(r, R"({"timings":{}})"),
            R"({"status":"success","data":{"resultType":"vector","result":[],"stats":{"timings":{}}},)"
            R"("warnings":["PromQL warning: w"],"infos":["PromQL info: i"]})");
}

TEST(AppendSeedData, WritesMillisecondsNumbersAndTheNameApart) {
  QueryResult m;
  m.type = ValueType::kMatrix;
  m.matrix.push_back({model::Labels{{"__name__", "cpu"}, {"host", "a"}},
                      {{60000, 0.5}, {120000, std::numeric_limits<double>::infinity()}}});
  std::string out;
  AppendSeedData(&out, m);
  EXPECT_EQ(out, R"({"resultType":"matrix","result":[{"name":"cpu","labels":{"host":"a"},)"
                 R"("timestamps":[60000,120000],"values":[0.5,"+Inf"]}]})");

  QueryResult v;
  v.type = ValueType::kVector;
  v.vector.push_back({model::Labels{{"host", "a"}}, 1000, 2});
  out.clear();
  AppendSeedData(&out, v);
  EXPECT_EQ(out, R"({"resultType":"vector","result":[{"name":"","labels":{"host":"a"},"timestamp":1000,"value":2}]})");

  QueryResult s;
  s.type = ValueType::kScalar;
  s.scalar = {1000, 3};
  out.clear();
  AppendSeedData(&out, s);
  EXPECT_EQ(out, R"({"resultType":"scalar","result":{"timestamp":1000,"value":3}})");
}

}  // namespace
}  // namespace vigil::http
