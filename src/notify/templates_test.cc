#include "notify/templates.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "notify/config.h"
#include "notify/notifier.h"

namespace vigil::notify {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

Alert MakeAlert(const char* instance, int64_t start, int64_t end = 0) {
  Alert a;
  a.labels = model::Labels{{"alertname", "DiskFull"}, {"instance", instance}, {"job", "node"}, {"severity", "page"}};
  a.annotations = model::Labels{{"summary", std::string(instance) + " disk <95%>"}};
  a.starts_at_ms = start;
  a.ends_at_ms = end;
  a.generator_url = "http://vigil/graph?g0.expr=x&g0.tab=1";
  return a;
}

Notification MakeNotification() {
  Notification n;
  n.receiver = "ops";
  n.status = "firing";
  n.group_key = "{}/0:{alertname=\"DiskFull\"}";
  n.group_labels = model::Labels{{"alertname", "DiskFull"}};
  n.now_ms = 2'000'000;
  n.alerts = {MakeAlert("a", 1'000'000), MakeAlert("b", 1'000'000, 1'500'000)};
  n.common_labels = model::Labels{{"alertname", "DiskFull"}, {"job", "node"}, {"severity", "page"}};
  n.external_url = "http://vigil.example";
  return n;
}

std::string Expand(std::string_view text, const Notification& n, bool html = false) {
  auto out = ExpandField(*DefaultTemplateSet(), "test", text, TemplateData(n), html);
  EXPECT_TRUE(out.ok()) << text << ": " << out.status();
  return out.ok() ? *out : "";
}

TEST(NotifyTemplates, DefaultSubjectLikeAlertmanagers) {
  Notification n = MakeNotification();
  // Status, firing count, group label values, then the other common label values.
  EXPECT_EQ(Expand("{{ template \"__subject\" . }}", n), "[FIRING:1] DiskFull (node page)");
  n.status = "resolved";
  n.common_labels = n.group_labels;
  EXPECT_EQ(Expand("{{ template \"__subject\" . }}", n), "[RESOLVED] DiskFull");
}

TEST(NotifyTemplates, DataHasAlertmanagersFields) {
  const Notification n = MakeNotification();
  EXPECT_EQ(Expand("{{ .Receiver }} {{ .Status }} {{ .CommonLabels.alertname }} {{ .ExternalURL }}", n),
               "ops firing DiskFull http://vigil.example");
  EXPECT_EQ(Expand("{{ range .Alerts.Firing }}{{ .Labels.instance }}{{ end }}/"
                   "{{ range .Alerts.Resolved }}{{ .Labels.instance }} {{ .EndsAt }}{{ end }}",
                   n),
            "a/b 1970-01-01 00:25:00 +0000 UTC");
  EXPECT_EQ(Expand("{{ (index .Alerts 0).Fingerprint | len }} {{ (index .Alerts 0).StartsAt.Unix }}", n), "16 1000");
  EXPECT_EQ(Expand("{{ .GroupLabels.SortedPairs.Names | join \",\" }}", n), "alertname");
}

TEST(NotifyTemplates, ReceiverFieldsUseTemplatesAndTemplateFiles) {
  const std::string dir = ::testing::TempDir() + "/vigil_tmpl_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir + "/tmpl");
  std::ofstream(dir + "/tmpl/custom.tmpl") << R"({{ define "my.title" }}{{ .Status | toUpper }} on {{ .CommonLabels.job }}{{ end }}
{{ define "__alertmanager" }}VigilProd{{ end }})";
  std::ofstream(dir + "/am.yml") << R"(
templates: ['tmpl/*.tmpl']
route: {receiver: r}
receivers:
  - name: r
    slack_configs:
      - api_url: http://sink/slack
        title: '{{ template "my.title" . }}'
        text: '{{ range .Alerts }}{{ .Annotations.summary }};{{ end }}'
    pagerduty_configs:
      - routing_key: '{{ .CommonLabels.severity }}-key'
        url: http://sink/pd
        description: '{{ .CommonLabels.alertname }} x{{ len .Alerts }}'
        severity: '{{ if eq .CommonLabels.severity "page" }}critical{{ else }}warning{{ end }}'
        details: {team: '{{ .CommonLabels.job }}'}
    email_configs:
      - to: '{{ .CommonLabels.job }}@example.org'
        from: vigil@example.org
        smarthost: 127.0.0.1:25
        headers: {Subject: 'Alert: {{ .CommonLabels.alertname }}', X-Team: '{{ .CommonLabels.job }}'}
        text: 'plain {{ len .Alerts.Firing }}'
)";
  auto c = LoadConfigFile(dir + "/am.yml");
  ASSERT_TRUE(c.ok()) << c.status();
  Notification n = MakeNotification();
  n.templates = c->templates;
  const Receiver& r = c->receivers[0];

  auto slack = SlackPayload(n, r.slacks[0]);
  ASSERT_TRUE(slack.ok()) << slack.status();
  EXPECT_THAT(*slack, HasSubstr("\"title\":\"FIRING on node\""));
  EXPECT_THAT(*slack, HasSubstr("\"text\":\"a disk <95%>;b disk <95%>;\""));
  EXPECT_THAT(*slack, HasSubstr("\"username\":\"VigilProd\""));  // a default overridden by the file

  auto pd = PagerDutyPayload(n, r.pagerduties[0]);
  ASSERT_TRUE(pd.ok()) << pd.status();
  EXPECT_THAT(*pd, HasSubstr("\"routing_key\":\"page-key\""));
  EXPECT_THAT(*pd, HasSubstr("\"summary\":\"DiskFull x2\""));
  EXPECT_THAT(*pd, HasSubstr("\"severity\":\"critical\""));
  EXPECT_THAT(*pd, HasSubstr("\"team\":\"node\""));
  EXPECT_THAT(*pd, HasSubstr("\"num_firing\":\"1\""));  // defaults kept beside the given details

  auto env = EmailEnvelope(n, r.emails[0]);
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ(env->to, std::vector<std::string>{"node@example.org"});
  auto mail = EmailMessage(n, r.emails[0]);
  ASSERT_TRUE(mail.ok()) << mail.status();
  EXPECT_THAT(*mail, HasSubstr("Subject: Alert: DiskFull\r\n"));
  EXPECT_THAT(*mail, HasSubstr("X-Team: node\r\n"));
  EXPECT_THAT(*mail, HasSubstr("multipart/alternative"));  // html (default) and text
  EXPECT_THAT(*mail, HasSubstr("plain 1"));
  // The HTML part escapes values (quoted-printable encodes '=' as =3D).
  EXPECT_THAT(*mail, HasSubstr("a disk &lt;95%&gt;"));
  EXPECT_THAT(*mail, Not(HasSubstr("<95%>")));
  std::filesystem::remove_all(dir);
}

TEST(NotifyTemplates, BadTemplatesAreRefusedWithTheirPosition) {
  auto c = ParseConfig(R"(route: {receiver: r}
receivers:
  - name: r
    slack_configs:
      - api_url: http://sink/slack
        title: '{{ .Status | nosuchfunc }}'
)",
                       "am.yml");
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()),
              HasSubstr("am.yml:6:16: title: template: 1:3: function \"nosuchfunc\" not defined"));
  auto missing = ParseConfig("templates: ['/nonexistent-dir/*.tmpl']\nroute: {receiver: r}\nreceivers: [{name: r}]\n", "am.yml");
  EXPECT_TRUE(missing.ok()) << missing.status();  // a glob matching nothing is fine
}

TEST(NotifyTemplates, ATemplateThatFailsAtRunTimeNamesTheField) {
  auto c = ParseConfig(R"(route: {receiver: r}
receivers:
  - name: r
    slack_configs: [{api_url: http://sink/slack, text: '{{ template "absent" . }}'}]
)",
                       "am.yml");
  ASSERT_TRUE(c.ok()) << c.status();
  auto slack = SlackPayload(MakeNotification(), c->receivers[0].slacks[0]);
  ASSERT_FALSE(slack.ok());
  EXPECT_THAT(std::string(slack.status().message()), HasSubstr("slack_configs text: template: no such template \"absent\""));
}

}  // namespace
}  // namespace vigil::notify
