// TextParser against the Prometheus text format 0.0.4 and OpenMetrics 1.0 specs: what
// parses (names, escapes, timestamps, metadata, exemplars) and every malformed case with
// the line:col it is reported at.
#include "ingest/text_parser.h"

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "base/metrics.h"
#include "fmt/format.h"
#include "model/labels.h"

namespace vigil::ingest {
namespace {

using ::testing::HasSubstr;

struct Parsed {
  std::vector<std::string> series;  // "labels value [ts]"
  std::vector<std::string> meta;    // "HELP name text", "TYPE name type", "UNIT name u"
};

absl::StatusOr<Parsed> ParseAll(std::string_view in, TextFormat f) {
  TextParser p(in, f);
  Parsed out;
  while (true) {
    auto e = p.Next();
    if (!e.ok()) return e.status();
    switch (*e) {
      case TextParser::Entry::kEof: return out;
      case TextParser::Entry::kHelp:
        out.meta.push_back(fmt::format("HELP {} {}", p.meta_name(), p.help()));
        break;
      case TextParser::Entry::kType:
        out.meta.push_back(fmt::format("TYPE {} {}", p.meta_name(), MetricTypeName(p.type())));
        break;
      case TextParser::Entry::kUnit:
        out.meta.push_back(fmt::format("UNIT {} {}", p.meta_name(), p.unit()));
        break;
      case TextParser::Entry::kSeries: {
        model::Labels ls;
        p.FillLabels(&ls);
        std::string s;
        for (const auto& l : ls) s += fmt::format("{}=\"{}\" ", l.name, metrics::EscapeLabelValue(l.value));
        s += fmt::format("{}", p.value());
        if (p.timestamp_ms()) s += fmt::format(" @{}", *p.timestamp_ms());
        if (p.has_exemplar()) {
          model::Labels el;
          p.FillExemplarLabels(&el);
          s += fmt::format(" # {} {}", el.ToString(), p.exemplar_value());
          if (p.exemplar_timestamp_ms()) s += fmt::format(" @{}", *p.exemplar_timestamp_ms());
        }
        out.series.push_back(s);
        break;
      }
    }
  }
}

TEST(TextParser, ParsesThePrometheusExampleExposition) {
  constexpr std::string_view kIn = R"(# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\DIR\\FILE.TXT",error="Cannot find file:\n\"FILE.TXT\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47
something_weird{problem="division by zero"} +Inf -3982045
# HELP rpc_duration_seconds A summary of the RPC duration in seconds.
# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01",} 3102
rpc_duration_seconds_sum 1.7560473e+07
)";
  auto p = ParseAll(kIn, TextFormat::kPrometheus);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_THAT(p->series,
              ::testing::ElementsAre(
                  R"(__name__="http_requests_total" method="post" code="200" 1027 @1395066363000)",
                  R"(__name__="http_requests_total" method="post" code="400" 3 @1395066363000)",
                  R"(__name__="msdos_file_access_time_seconds" path="C:\\DIR\\FILE.TXT" error="Cannot find file:\n\"FILE.TXT\"" 1458255915)",
                  R"(__name__="metric_without_timestamp_and_labels" 12.47)",
                  R"(__name__="something_weird" problem="division by zero" inf @-3982045)",
                  R"(__name__="rpc_duration_seconds" quantile="0.01" 3102)",
                  R"(__name__="rpc_duration_seconds_sum" 17560473)"));
  EXPECT_THAT(p->meta, ::testing::ElementsAre(
                           "HELP http_requests_total The total number of HTTP requests.",
                           "TYPE http_requests_total counter",
                           "HELP rpc_duration_seconds A summary of the RPC duration in seconds.",
                           "TYPE rpc_duration_seconds summary"));
}

TEST(TextParser, ReadsSpecialValuesAndHelpEscapes) {
  auto p = ParseAll("# HELP a line\\none \\\\ two\na NaN\nb -Inf\nc +inf\nd 1e-3\n",
                    TextFormat::kPrometheus);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->meta[0], "HELP a line\none \\ two");
  EXPECT_THAT(p->series[0], HasSubstr("nan"));
  EXPECT_THAT(p->series[1], HasSubstr("-inf"));
  EXPECT_THAT(p->series[3], HasSubstr("0.001"));
}

TEST(TextParser, SkipsFreeCommentsAndBlankLinesInPrometheusFormat) {
  auto p = ParseAll("# just a comment\n#\n  \n\t\n# HELPFUL thing\nx 1\r\n", TextFormat::kPrometheus);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->series.size(), 1u);
  EXPECT_TRUE(p->meta.empty());
}

TEST(TextParser, ParsesOpenMetricsWithUnitsExemplarsAndSecondTimestamps) {
  constexpr std::string_view kIn = R"(# TYPE foo_seconds counter
# UNIT foo_seconds seconds
# HELP foo_seconds Time spent.
foo_seconds_total{a="b"} 17.0 1520879607.789 # {trace_id="KOO5S4vxi0o"} 0.67
foo_seconds_created{a="b"} 1520430000.123
# TYPE h histogram
h_bucket{le="1"} 3 # {trace_id="a\"b",span_id="s"} 0.5 1520879607.5
h_bucket{le="+Inf"} 4 # {} 7
# TYPE st stateset
st{st="a"} 1
# TYPE i info
i_info{version="1"} 1
# EOF
)";
  auto p = ParseAll(kIn, TextFormat::kOpenMetrics);
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->series.size(), 6u);
  EXPECT_EQ(p->series[0],
            R"(__name__="foo_seconds_total" a="b" 17 @1520879607789 # {trace_id="KOO5S4vxi0o"} 0.67)");
  EXPECT_EQ(p->series[1], R"(__name__="foo_seconds_created" a="b" 1520430000.123)");
  EXPECT_EQ(p->series[2],
            R"(__name__="h_bucket" le="1" 3 # {span_id="s", trace_id="a\"b"} 0.5 @1520879607500)");
  EXPECT_EQ(p->series[3], R"(__name__="h_bucket" le="+Inf" 4 # {} 7)");
  EXPECT_THAT(p->meta, ::testing::ElementsAre("TYPE foo_seconds counter", "UNIT foo_seconds seconds",
                                              "HELP foo_seconds Time spent.", "TYPE h histogram",
                                              "TYPE st stateset", "TYPE i info"));
}

struct BadCase {
  const char* name;
  TextFormat format;
  const char* input;
  const char* error;  // substring, with line:col
};

class TextParserRejects : public ::testing::TestWithParam<BadCase> {};

TEST_P(TextParserRejects, WithPositionAndReason) {
  const BadCase& c = GetParam();
  auto p = ParseAll(c.input, c.format);
  ASSERT_FALSE(p.ok()) << "parsed: " << c.input;
  EXPECT_THAT(std::string(p.status().message()), HasSubstr(c.error));
}

constexpr TextFormat kProm = TextFormat::kPrometheus;
constexpr TextFormat kOM = TextFormat::kOpenMetrics;

INSTANTIATE_TEST_SUITE_P(
    Malformed, TextParserRejects,
    ::testing::Values(
        BadCase{"NoValue", kProm, "metric\n", "1:7: expected a value"},
        BadCase{"NoValueAfterLabels", kProm, "m{a=\"b\"}\n", "1:9: expected a value"},
        BadCase{"BadValue", kProm, "m 1x\n", "1:3: invalid value \"1x\""},
        BadCase{"DoubleSign", kProm, "m --1\n", "invalid value"},
        BadCase{"BadTimestamp", kProm, "m 1 1.5\n", "1:5: invalid timestamp \"1.5\""},
        BadCase{"TrailingText", kProm, "m 1 2 3\n", "1:7: unexpected text"},
        BadCase{"NameStartsWithDigit", kProm, "1m 1\n", "1:1: expected a metric name"},
        BadCase{"BadCharInName", kProm, "m-x 1\n", "1:2: invalid character '-'"},
        BadCase{"LabelWithoutEquals", kProm, "m{a} 1\n", "1:4: expected '=' after label name \"a\""},
        BadCase{"UnquotedValue", kProm, "m{a=b} 1\n", "1:5: expected '\"'"},
        BadCase{"UnterminatedValue", kProm, "m{a=\"b} 1\n", "1:6: unterminated value of label \"a\""},
        BadCase{"UnterminatedSet", kProm, "m{a=\"b\"\n", "expected ',' or '}'"},
        BadCase{"BadLabelName", kProm, "m{1a=\"b\"} 1\n", "1:3: expected a label name"},
        BadCase{"BadType", kProm, "# TYPE m countr\n", "1:10: invalid metric type \"countr\""},
        BadCase{"OmTypeInProm", kProm, "# TYPE m info\n", "invalid metric type \"info\""},
        BadCase{"TypeWithoutType", kProm, "# TYPE m\n", "expected a type"},
        BadCase{"TypeExtraText", kProm, "# TYPE m counter x\n", "unexpected text after TYPE"},
        BadCase{"ErrorOnLaterLine", kProm, "a 1\nb 2\nc{ 3\n", "3:"},
        BadCase{"OmMissingEof", kOM, "m 1\n", "2:1: OpenMetrics input must end with \"# EOF\""},
        BadCase{"OmDataAfterEof", kOM, "# EOF\nm 1\n", "2:1: unexpected data after \"# EOF\""},
        BadCase{"OmEmptyLine", kOM, "m 1\n\n# EOF\n", "2:1: empty line"},
        BadCase{"OmFreeComment", kOM, "# hello\n# EOF\n", "1:3: expected HELP, TYPE, UNIT or EOF"},
        BadCase{"OmUnitNotSuffix", kOM, "# UNIT m_bytes seconds\n# EOF\n", "unit \"seconds\" is not a suffix"},
        BadCase{"OmUntyped", kOM, "# TYPE m untyped\n# EOF\n", "invalid metric type \"untyped\""},
        BadCase{"OmBadTimestamp", kOM, "m 1 abc\n# EOF\n", "1:5: invalid timestamp"},
        BadCase{"OmNanTimestamp", kOM, "m 1 NaN\n# EOF\n", "invalid timestamp \"NaN\""},
        BadCase{"OmExemplarNoLabels", kOM, "m_total 1 # 2\n# EOF\n", "expected '{'"},
        BadCase{"OmExemplarNoValue", kOM, "m_total 1 # {a=\"b\"}\n# EOF\n", "exemplar's value"},
        BadCase{"OmExemplarBadValue", kOM, "m_total 1 # {a=\"b\"} x\n# EOF\n", "invalid exemplar value"},
        BadCase{"PromExemplar", kProm, "m_total 1 # {a=\"b\"} 1\n", "unexpected text '#'"},
        BadCase{"ControlByte", kProm, "m\x01 1\n", "byte 0x01"},
        // Found by text_parser_fuzzer: a line of blanks read past its end.
        BadCase{"OmBlankLine", kOM, " ", "1:2: expected a metric name, got end of line"}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(TextParser, StaysFailedAfterAnError) {
  TextParser p("bad{\nm 1\n", TextFormat::kPrometheus);
  EXPECT_FALSE(p.Next().ok());
  EXPECT_FALSE(p.Next().ok());
}

TEST(TextParser, PicksTheFormatFromContentType) {
  EXPECT_EQ(TextFormatFromContentType("application/openmetrics-text; version=1.0.0"),
            TextFormat::kOpenMetrics);
  EXPECT_EQ(TextFormatFromContentType("text/plain; version=0.0.4"), TextFormat::kPrometheus);
  EXPECT_EQ(TextFormatFromContentType(""), TextFormat::kPrometheus);
}

}  // namespace
}  // namespace vigil::ingest
