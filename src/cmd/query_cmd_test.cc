// `vigil query`'s rendering of API answers as tables.
#include "cmd/query_cmd.h"

#include "gtest/gtest.h"

namespace vigil::cmd {
namespace {

TEST(FormatQueryAnswer, PrintsAVectorAsAlignedRows) {
  auto out = FormatQueryAnswer(
      R"({"status":"success","data":{"resultType":"vector","result":[)"
      R"({"metric":{"__name__":"up","instance":"h1","job":"a"},"value":[1700000000,"1"]},)"
      R"({"metric":{"job":"b"},"value":[1700000000.5,"+Inf"]}]}})");
  ASSERT_TRUE(out.ok) << out.text;
  EXPECT_EQ(out.text,
            "SERIES                      VALUE  TIME\n"
            "up{instance=\"h1\", job=\"a\"}  1      2023-11-14T22:13:20Z\n"
            "{job=\"b\"}                   +Inf   2023-11-14T22:13:20.500Z\n");
}

TEST(FormatQueryAnswer, PrintsAMatrixSeriesBySeries) {
  auto out = FormatQueryAnswer(
      R"({"status":"success","data":{"resultType":"matrix","result":[)"
      R"({"metric":{"__name__":"up"},"values":[[1700000000,"1"],[1700000060,"0"]]}]},)"
      R"("warnings":["PromQL warning: w"]})");
  ASSERT_TRUE(out.ok);
  EXPECT_EQ(out.text,
            "up\n  2023-11-14T22:13:20Z  1\n  2023-11-14T22:14:20Z  0\nwarning: PromQL warning: w\n");
}

TEST(FormatQueryAnswer, PrintsScalarsEmptyResultsAndErrors) {
  auto out = FormatQueryAnswer(R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"2.5"]}})");
  EXPECT_EQ(out.text, "scalar  2.5  @2023-11-14T22:13:20Z\n");
  out = FormatQueryAnswer(R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  EXPECT_EQ(out.text, "SERIES  VALUE  TIME\n(no series)\n");
  out = FormatQueryAnswer(R"({"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": x"})");
  EXPECT_FALSE(out.ok);
  EXPECT_EQ(out.text, "bad_data: invalid parameter \"query\": x");
  EXPECT_FALSE(FormatQueryAnswer("<html>").ok);
}

}  // namespace
}  // namespace vigil::cmd
