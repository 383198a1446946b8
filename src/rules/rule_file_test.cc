#include "rules/rule_file.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::rules {
namespace {

using ::testing::HasSubstr;

TEST(RuleFile, ParsesGroupsRecordingAndAlertingRules) {
  auto f = ParseRuleFile(R"(groups:
  - name: g1
    interval: 30s
    limit: 5
    rules:
      - record: job:up:sum
        expr: sum by (job) (up)
        labels: {tier: "1"}
      - alert: Down
        expr: up == 0
        for: 5m
        keep_firing_for: 2m
        labels: {severity: page}
        annotations: {summary: "{{ $labels.instance }} down"}
)",
                         "r.yml");
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_EQ(f->groups.size(), 1u);
  const GroupSpec& g = f->groups[0];
  EXPECT_EQ(g.name, "g1");
  EXPECT_EQ(g.interval_ms, 30'000);
  EXPECT_EQ(g.limit, 5);
  ASSERT_EQ(g.rules.size(), 2u);
  EXPECT_EQ(g.rules[0].record, "job:up:sum");
  EXPECT_EQ(g.rules[0].line, 6);
  EXPECT_EQ(g.rules[1].alert, "Down");
  EXPECT_EQ(g.rules[1].for_ms, 300'000);
  EXPECT_EQ(g.rules[1].keep_firing_for_ms, 120'000);
  EXPECT_EQ(g.rules[1].labels[0].first, "severity");
  EXPECT_EQ(g.rules[1].annotations[0].second, "{{ $labels.instance }} down");
}

struct BadCase {
  const char* what;
  const char* yaml;
  const char* want;
};

class RuleFileErrors : public ::testing::TestWithParam<BadCase> {};

TEST_P(RuleFileErrors, NameFilePositionGroupAndRule) {
  auto f = ParseRuleFile(GetParam().yaml, "bad.yml");
  ASSERT_FALSE(f.ok()) << GetParam().what;
  EXPECT_THAT(std::string(f.status().message()), HasSubstr(GetParam().want)) << GetParam().what;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, RuleFileErrors,
    ::testing::Values(
        BadCase{"bad expr", "groups:\n- name: g\n  rules:\n  - record: a\n    expr: sum(\n",
                "bad.yml:5:11: group \"g\", rule 1, \"a\": could not parse expression: 1:5: parse error"},
        BadCase{"both kinds", "groups:\n- name: g\n  rules:\n  - record: a\n    alert: b\n    expr: up\n",
                "bad.yml:4:5: group \"g\", rule 1, \"a\": only one of 'record' and 'alert' must be set"},
        BadCase{"neither kind", "groups:\n- name: g\n  rules:\n  - expr: up\n",
                "one of 'record' or 'alert' must be set"},
        BadCase{"missing expr", "groups:\n- name: g\n  rules:\n  - alert: x\n",
                "field 'expr' must be set in rule"},
        BadCase{"for on record", "groups:\n- name: g\n  rules:\n  - record: a\n    expr: up\n    for: 1m\n",
                "invalid field 'for' in recording rule"},
        BadCase{"bad record name", "groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n",
                "invalid recording rule name: a-b"},
        BadCase{"bad label name", "groups:\n- name: g\n  rules:\n  - alert: a\n    expr: up\n    labels: {a-b: x}\n",
                "invalid label name: a-b"},
        BadCase{"unknown rule field", "groups:\n- name: g\n  rules:\n  - alert: a\n    expr: up\n    fore: 1m\n",
                "bad.yml:6:5: group \"g\", rule 1, \"a\": field fore not found in type rulefmt.Rule"},
        BadCase{"bad duration", "groups:\n- name: g\n  rules:\n  - alert: a\n    expr: up\n    for: 5x\n",
                "not a valid duration string: \"5x\""},
        BadCase{"repeated group", "groups:\n- name: g\n  rules: []\n- name: g\n  rules: []\n",
                "bad.yml:4:3: groupname: \"g\" is repeated in the same file"},
        BadCase{"empty group name", "groups:\n- rules: []\n", "Groupname must not be empty"},
        BadCase{"bad template", "groups:\n- name: g\n  rules:\n  - alert: a\n    expr: up\n    annotations: {s: \"{{ $labels.x \"}\n",
                "annotation s: template: 1:1: unclosed action"},
        BadCase{"yaml syntax", "groups:\n- name: [\n", "bad.yml:3:1"}));

TEST(RuleFile, CollectsEveryErrorOfAFile) {
  auto f = ParseRuleFile("groups:\n- name: g\n  rules:\n  - record: a-b\n    expr: up\n  - alert: x\n",
                         "m.yml");
  ASSERT_FALSE(f.ok());
  const std::string msg(f.status().message());
  EXPECT_THAT(msg, HasSubstr("invalid recording rule name"));
  EXPECT_THAT(msg, HasSubstr("field 'expr' must be set"));
}

TEST(RuleFile, EmptyFileHasNoGroups) {
  auto f = ParseRuleFile("", "e.yml");
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->groups.empty());
}

}  // namespace
}  // namespace vigil::rules
