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
        Case{"{{ pathPrefix }}", "/prefix"},
        Case{"{{ define \"t\" }}[{{ .Labels.job }}]{{ end }}{{ template \"t\" . }}", "[node]"},
        Case{"{{ toTime 1435065584.128 }}", "2015-06-23 13:19:44.128 +0000 UTC"}));

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

namespace vigil::rules {
namespace {

// Data shaped like Alertmanager's notification data (notify builds the real one).
tmpl::Value NotificationData() {
  auto alert = [](const char* status, const char* instance) {
    return tmpl::MakeStruct(
        "Alert", {{"Status", tmpl::MakeString(status)},
                  {"Labels", tmpl::MakeLabels(model::Labels{{"alertname", "Down"}, {"instance", instance}, {"job", "node"}})},
                  {"Annotations", tmpl::MakeLabels(model::Labels{{"summary", std::string(instance) + " <down>"}})},
                  {"StartsAt", tmpl::MakeTime(1435065584128)}});
  };
  return tmpl::MakeStruct(
      "Data", {{"Status", tmpl::MakeString("firing")},
               {"Alerts", tmpl::MakeList({alert("firing", "a"), alert("resolved", "b"), alert("firing", "c")})},
               {"GroupLabels", tmpl::MakeLabels(model::Labels{{"alertname", "Down"}})},
               {"CommonLabels", tmpl::MakeLabels(model::Labels{{"alertname", "Down"}, {"job", "node"}})},
               {"CommonAnnotations", tmpl::MakeLabels(model::Labels{})},
               {"ExternalURL", tmpl::MakeString("http://vigil:9460")}});
}

class NotificationTemplate : public ::testing::TestWithParam<Case> {};

TEST_P(NotificationTemplate, ExpandsAsAlertmanagerDoes) {
  TemplateSet set;
  ASSERT_TRUE(set.Add(R"({{ define "title" }}[{{ .Status | toUpper }}:{{ .Alerts.Firing | len }}] {{ .GroupLabels.SortedPairs.Values | join " " }}{{ end }})",
                      "defaults.tmpl")
                  .ok());
  auto out = set.Execute(GetParam().tmpl, NotificationData(), /*html=*/false);
  ASSERT_TRUE(out.ok()) << GetParam().tmpl << ": " << out.status();
  EXPECT_EQ(*out, GetParam().want) << GetParam().tmpl;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, NotificationTemplate,
    ::testing::Values(
        Case{"{{ template \"title\" . }}", "[FIRING:2] Down"},
        Case{"{{ .CommonLabels.alertname }} {{ .Status }} {{ .ExternalURL }}", "Down firing http://vigil:9460"},
        Case{"{{ range .Alerts.Firing }}{{ .Labels.instance }},{{ end }}", "a,c,"},
        Case{"{{ len .Alerts.Resolved }} {{ len .Alerts }}", "1 3"},
        Case{"{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}", "alertname=Down job=node "},
        Case{"{{ .CommonLabels.Names | join \",\" }}", "alertname,job"},
        Case{"{{ with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join \" \" }}{{ end }}", "node"},
        Case{"{{ if gt (len .CommonLabels) (len .GroupLabels) }}more{{ end }}", "more"},
        Case{"{{ (index .Alerts 0).StartsAt }}", "2015-06-23 13:19:44.128 +0000 UTC"},
        Case{"{{ (index .Alerts 0).StartsAt.Format \"2006-01-02T15:04:05Z07:00\" }}", "2015-06-23T13:19:44Z"},
        Case{"{{ date \"Jan 2, 15:04:05.000 MST\" (index .Alerts 0).StartsAt }}", "Jun 23, 13:19:44.128 UTC"},
        Case{"{{ (index .Alerts 0).StartsAt.Unix }}", "1435065584"},
        Case{"{{ stringSlice \"a\" \"b\" | join \"-\" }}", "a-b"},
        Case{"{{ trimSpace \"  x \" }}|{{ title \"disk full\" }}", "x|Disk Full"},
        Case{"{{ define \"local\" }}L{{ . }}{{ end }}{{ template \"local\" 1 }}", "L1"},
        Case{"{{ block \"blk\" .Status }}<{{ . }}>{{ end }}", "<firing>"},
        Case{"{{ range $i, $a := .Alerts }}{{ $i }}{{ $a.Status | printf \"%.1s\" }}{{ end }}", "0f1r2f"},
        Case{"{{ toJson .GroupLabels }}", "{\"alertname\":\"Down\"}"},
        Case{"{{ $.Status }}{{ range .Alerts }}{{ $.Status }}{{ end }}", "firingfiringfiringfiring"}));

TEST(NotificationTemplate, HtmlModeEscapesValuesButNotSafeHtmlOrText) {
  TemplateSet set;
  auto out = set.Execute("<b>{{ (index .Alerts 0).Annotations.summary }}</b>{{ \"<i>\" | safeHtml }}",
                         NotificationData(), /*html=*/true);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, "<b>a &lt;down&gt;</b><i>");
}

TEST(NotificationTemplate, ErrorsNameTheProblem) {
  TemplateSet set;
  EXPECT_THAT(std::string(set.Add("{{ define \"x\" }}{{ nosuch }}{{ end }}", "my.tmpl").message()),
              ::testing::HasSubstr("my.tmpl: template: 1:19: function \"nosuch\" not defined"));
  auto missing = set.Execute("{{ template \"absent\" . }}", NotificationData(), false);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), ::testing::HasSubstr("no such template \"absent\""));
  ASSERT_TRUE(set.Add("{{ define \"loop\" }}{{ template \"loop\" . }}{{ end }}", "loop.tmpl").ok());
  auto loop = set.Execute("{{ template \"loop\" . }}", NotificationData(), false);
  ASSERT_FALSE(loop.ok());
  EXPECT_THAT(std::string(loop.status().message()), ::testing::HasSubstr("maximum template depth"));
  // Two calls per level: bounded by the step budget instead of running 2^100 times.
  ASSERT_TRUE(set.Add("{{ define \"twice\" }}{{ template \"twice\" . }}{{ template \"twice\" . }}{{ end }}", "t").ok());
  auto twice = set.Execute("{{ template \"twice\" . }}", NotificationData(), false);
  ASSERT_FALSE(twice.ok());
  EXPECT_THAT(std::string(twice.status().message()), ::testing::HasSubstr("exceeded"));
  // A later definition replaces an earlier one (user templates override the defaults).
  ASSERT_TRUE(set.Add("{{ define \"x\" }}one{{ end }}", "a").ok());
  ASSERT_TRUE(set.Add("{{ define \"x\" }}two{{ end }}", "b").ok());
  EXPECT_EQ(*set.Execute("{{ template \"x\" }}", NotificationData(), false), "two");
}

TEST(Template, GoDurationsAndTimes) {
  EXPECT_EQ(GoDurationString(0), "0s");
  EXPECT_EQ(GoDurationString(0.25), "250ms");
  EXPECT_EQ(GoDurationString(3723.5), "1h2m3.5s");
  EXPECT_EQ(GoDurationString(60), "1m0s");
  EXPECT_EQ(FormatGoTime(1435065584128, "Mon, 02 Jan 2006 15:04:05 -0700"), "Tue, 23 Jun 2015 13:19:44 +0000");
  EXPECT_EQ(FormatGoTime(1435065584000, "15:04:05.999"), "13:19:44");
}

}  // namespace
}  // namespace vigil::rules
