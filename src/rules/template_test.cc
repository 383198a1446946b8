#include "rules/template.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::rules {
namespace {

struct Case {
  const char* tmpl;
  const char* want;
};

class TemplateExpands : public ::testing::TestWithParam<Case> {};

TEST_P(TemplateExpands, AsPrometheusDoes) {
  TemplateData d;
  d.labels = model::Labels{{"instance", "host:9100"}, {"job", "node"}};
  d.external_labels = model::Labels{{"cluster", "eu1"}};
  d.external_url = "http://vigil:9460/prefix";
  d.value = 0.12345;
  TemplateQueryFunc q = [](std::string_view query) -> absl::StatusOr<std::vector<QuerySample>> {
    if (query == "none") return std::vector<QuerySample>{};
    return std::vector<QuerySample>{{model::Labels{{"instance", "b"}}, 2.5},
                                    {model::Labels{{"instance", "a"}}, 1500}};
  };
  auto out = ExpandTemplate(GetParam().tmpl, d, q);
  ASSERT_TRUE(out.ok()) << GetParam().tmpl << ": " << out.status();
  EXPECT_EQ(*out, GetParam().want) << GetParam().tmpl;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, TemplateExpands,
    ::testing::Values(
        Case{"plain text", "plain text"},
        Case{"{{ $labels.instance }} of {{ .Labels.job }}", "host:9100 of node"},
        Case{"{{ $externalLabels.cluster }} {{ $externalURL }}", "eu1 http://vigil:9460/prefix"},
        Case{"{{ $value }}", "0.12345"},
        Case{"{{ $value | humanizePercentage }}", "12.35%"},
        Case{"{{ printf \"%.2f\" $value }}", "0.12"},
        Case{"{{ printf \"%d items, %s\" 3 \"ok\" }}", "3 items, ok"},
        Case{"{{ humanize 1234567 }}", "1.235M"},
        Case{"{{ humanize 0.001234 }}", "1.234m"},
        Case{"{{ humanize1024 1048576 }}", "1Mi"},
        Case{"{{ humanizeDuration 90061 }}", "1d 1h 1m 1s"},
        Case{"{{ humanizeDuration 0.25 }}", "250ms"},
        Case{"{{ humanizeDuration 45.5 }}", "45.5s"},
        Case{"{{ humanizeTimestamp 1435065584.128 }}", "2015-06-23 13:19:44.128 +0000 UTC"},
        Case{"{{ if gt $value 0.1 }}high{{ else }}low{{ end }}", "high"},
        Case{"{{ if lt $value 0.1 }}low{{ else if lt $value 0.2 }}mid{{ else }}high{{ end }}", "mid"},
        Case{"{{ range query \"up\" }}{{ .Labels.instance }}={{ .Value }};{{ end }}", "b=2.5;a=1500;"},
        Case{"{{ range $i, $s := query \"up\" | sortByLabel \"instance\" }}{{ $i }}:{{ label \"instance\" $s }} {{ end }}", "0:a 1:b "},
        Case{"{{ with query \"up\" }}{{ . | first | value | humanize }}{{ end }}", "2.5"},
        Case{"{{ with query \"none\" }}yes{{ else }}empty{{ end }}", "empty"},
        Case{"{{ range query \"none\" }}x{{ else }}nothing{{ end }}", "nothing"},
        Case{"{{ toUpper \"abc\" }} {{ toLower \"ABC\" }} {{ title \"hello world\" }}", "ABC abc Hello World"},
        Case{"{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", "host"},
        Case{"{{ if match \"^host\" $labels.instance }}m{{ end }}", "m"},
        Case{"{{ $x := \"a\" }}{{ $x = \"b\" }}{{ $x }}", "b"},
        Case{"a  {{- \" b \" -}}  c", "a b c"},
        Case{"{{/* a comment */}}x", "x"},
        Case{"{{ stripPort $labels.instance }}", "host"},
        Case{"{{ (query \"up\" | first).Labels.instance }}", "b"},
        Case{"{{ len (query \"up\") }}", "2"},
        Case{"{{ index $labels \"job\" }}", "node"},
        Case{"{{ and 1 0 }} {{ or 0 \"x\" }} {{ not false }}", "0 x true"},
        Case{"{{ eq $labels.job \"node\" \"other\" }}", "true"},
        Case{"{{ $labels.missing }}", ""},
        Case{"{{ pathPrefix }}", "/prefix"}));

TEST(Template, ParseErrorsHavePositions) {
  auto t = Template::Parse("line1\n  {{ nosuchfn 1 }}");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(std::string(t.status().message()), "template: 2:5: function \"nosuchfn\" not defined");
  EXPECT_FALSE(Template::Parse("{{ if 1 }}x").ok());
  EXPECT_FALSE(Template::Parse("{{ end }}").ok());
}

TEST(Template, ExecutionErrorsAreReported) {
  auto out = ExpandTemplate("{{ query \"x\" | first }}", TemplateData{},
                            [](std::string_view) -> absl::StatusOr<std::vector<QuerySample>> {
                              return std::vector<QuerySample>{};
                            });
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), ::testing::HasSubstr("first() called on vector with no elements"));
}

}  // namespace
}  // namespace vigil::rules
