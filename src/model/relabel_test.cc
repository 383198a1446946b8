#include "model/relabel.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace vigil::model {
namespace {

RelabelConfig Rule(RelabelAction action, std::vector<std::string> source, std::string regex,
                   std::string target = "", std::string replacement = "$1",
                   uint64_t modulus = 0) {
  RelabelConfig c;
  c.action = action;
  c.source_labels = std::move(source);
  c.regex = std::move(regex);
  c.target_label = std::move(target);
  c.replacement = std::move(replacement);
  c.modulus = modulus;
  return c;
}

struct Case {
  std::string name;
  Labels input;
  std::vector<RelabelConfig> rules;
  std::optional<Labels> want;  // nullopt: dropped
};

using A = RelabelAction;

class RelabelTable : public ::testing::TestWithParam<Case> {};

TEST_P(RelabelTable, GivesPrometheusResult) {
  Case c = GetParam();
  for (RelabelConfig& r : c.rules) ASSERT_TRUE(r.Compile().ok()) << r.Compile();
  std::optional<Labels> got = Relabel(c.input, c.rules);
  ASSERT_EQ(got.has_value(), c.want.has_value()) << c.name;
  if (got) {
    EXPECT_EQ(got->ToString(), c.want->ToString()) << c.name;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Actions, RelabelTable,
    ::testing::Values(
        Case{"replace_with_group_twice",
             {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}},
             {Rule(A::kReplace, {"a"}, "f(.*)", "d", "ch${1}-ch${1}")},
             Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "choo-choo"}}},
        Case{"replace_joins_sources_with_separator",
             {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}},
             {Rule(A::kReplace, {"a", "b"}, "f(.*);(.*)r", "a", "b${1}${2}m")},
             Labels{{"a", "boobam"}, {"b", "bar"}, {"c", "baz"}}},
        Case{"replace_chain_sees_earlier_results",
             {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}},
             {Rule(A::kReplace, {"a"}, "f(.*)", "d", "ch$1-ch$1"),
              Rule(A::kReplace, {"b", "d"}, "(.*);(.*)", "b", "$2-$1")},
             Labels{{"a", "foo"}, {"b", "choo-choo-bar"}, {"c", "baz"}, {"d", "choo-choo"}}},
        Case{"replace_without_match_changes_nothing",
             {{"a", "foo"}},
             {Rule(A::kReplace, {"a"}, "bar", "b", "x")},
             Labels{{"a", "foo"}}},
        Case{"regex_is_anchored",
             {{"a", "foo"}},
             {Rule(A::kReplace, {"a"}, "o", "b", "x")},
             Labels{{"a", "foo"}}},
        Case{"empty_replacement_deletes_target",
             {{"a", "foo"}, {"b", "bar"}},
             {Rule(A::kReplace, {"a"}, "(.*)", "b", "")},
             Labels{{"a", "foo"}}},
        Case{"dollar_one_x_names_an_absent_group",
             {{"a", "foo"}, {"b", "bar"}},
             {Rule(A::kReplace, {"a"}, "(.*)", "b", "$1x")},
             Labels{{"a", "foo"}}},
        Case{"braces_end_the_group_name",
             {{"a", "foo"}},
             {Rule(A::kReplace, {"a"}, "(.*)", "b", "${1}x")},
             Labels{{"a", "foo"}, {"b", "foox"}}},
        Case{"named_groups_and_literal_dollar",
             {{"a", "host:9100"}},
             {Rule(A::kReplace, {"a"}, "(?P<host>[^:]+):(?P<port>\\d+)", "b",
                   "$$${host}/$port")},
             Labels{{"a", "host:9100"}, {"b", "$host/9100"}}},
        Case{"target_label_is_expanded",
             {{"a", "some_name"}},
             {Rule(A::kReplace, {"a"}, "(.*)", "${1}", "value")},
             Labels{{"a", "some_name"}, {"some_name", "value"}}},
        Case{"invalid_expanded_target_changes_nothing",
             {{"a", "1bad"}},
             {Rule(A::kReplace, {"a"}, "(.*)", "${1}", "value")},
             Labels{{"a", "1bad"}}},
        Case{"missing_sources_join_as_empty",
             {{"a", "foo"}},
             {Rule(A::kReplace, {"x", "a"}, ";(.*)", "b", "$1")},
             Labels{{"a", "foo"}, {"b", "foo"}}},
        Case{"dot_matches_newline",
             {{"a", "foo\nbar"}},
             {Rule(A::kKeep, {"a"}, "foo.*")},
             Labels{{"a", "foo\nbar"}}},
        Case{"keep_drops_non_matching",
             {{"a", "foo"}},
             {Rule(A::kKeep, {"a"}, "f")},
             std::nullopt},
        Case{"keep_keeps_matching",
             {{"a", "foo"}},
             {Rule(A::kKeep, {"a"}, "f.*")},
             Labels{{"a", "foo"}}},
        Case{"keep_on_missing_label_matches_empty",
             {{"a", "foo"}},
             {Rule(A::kKeep, {"b"}, "")},
             Labels{{"a", "foo"}}},
        Case{"drop_drops_matching",
             {{"a", "foo"}, {"b", "bar"}},
             {Rule(A::kDrop, {"a"}, "f.+")},
             std::nullopt},
        Case{"drop_keeps_non_matching",
             {{"a", "foo"}},
             {Rule(A::kDrop, {"a"}, "no")},
             Labels{{"a", "foo"}}},
        Case{"keepequal_keeps_equal",
             {{"a", "foo"}, {"b", "foo"}},
             {Rule(A::kKeepEqual, {"a"}, "(.*)", "b")},
             Labels{{"a", "foo"}, {"b", "foo"}}},
        Case{"keepequal_drops_different",
             {{"a", "foo"}, {"b", "bar"}},
             {Rule(A::kKeepEqual, {"a"}, "(.*)", "b")},
             std::nullopt},
        Case{"dropequal_drops_equal",
             {{"a", "foo"}, {"b", "foo"}},
             {Rule(A::kDropEqual, {"a"}, "(.*)", "b")},
             std::nullopt},
        Case{"dropequal_keeps_different",
             {{"a", "foo"}, {"b", "bar"}},
             {Rule(A::kDropEqual, {"a"}, "(.*)", "b")},
             Labels{{"a", "foo"}, {"b", "bar"}}},
        Case{"hashmod_is_md5_low_64_bits_mod_n",
             {{"a", "foo"}, {"b", "bar"}, {"c", "baz"}},
             {Rule(A::kHashMod, {"c"}, "(.*)", "d", "$1", 1000)},
             Labels{{"a", "foo"}, {"b", "bar"}, {"c", "baz"}, {"d", "976"}}},
        Case{"labelmap_copies_matching_names",
             {{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}},
             {Rule(A::kLabelMap, {}, "(b.*)", "", "bar_${1}")},
             Labels{{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}, {"bar_b1", "bar"},
                    {"bar_b2", "baz"}}},
        Case{"labelmap_of_meta_labels",
             {{"__meta_kubernetes_pod_label_app", "web"}, {"job", "k"}},
             {Rule(A::kLabelMap, {}, "__meta_kubernetes_pod_label_(.+)")},
             Labels{{"__meta_kubernetes_pod_label_app", "web"}, {"app", "web"}, {"job", "k"}}},
        Case{"labeldrop_removes_matching_names",
             {{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}},
             {Rule(A::kLabelDrop, {}, "(b.*)")},
             Labels{{"a", "foo"}}},
        Case{"labelkeep_removes_other_names",
             {{"a", "foo"}, {"b1", "bar"}, {"b2", "baz"}},
             {Rule(A::kLabelKeep, {}, "(b.*)")},
             Labels{{"b1", "bar"}, {"b2", "baz"}}},
        Case{"lowercase",
             {{"foo", "bAr123Foo"}},
             {Rule(A::kLowercase, {"foo"}, "(.*)", "foo_lower")},
             Labels{{"foo", "bAr123Foo"}, {"foo_lower", "bar123foo"}}},
        Case{"uppercase_joins_sources",
             {{"foo", "bAr123Foo"}, {"bar", "x"}},
             {Rule(A::kUppercase, {"foo", "bar"}, "(.*)", "up")},
             Labels{{"bar", "x"}, {"foo", "bAr123Foo"}, {"up", "BAR123FOO;X"}}}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(RelabelConfig, RejectsInvalidCombinations) {
  struct Bad {
    RelabelConfig c;
    std::string want;
  };
  std::vector<Bad> cases = {
      {Rule(A::kHashMod, {"a"}, "(.*)", "d"), "non-zero modulus"},
      {Rule(A::kReplace, {"a"}, "(.*)", ""), "requires 'target_label'"},
      {Rule(A::kReplace, {"a"}, "(.*)", "1abc"), "invalid 'target_label'"},
      {Rule(A::kLowercase, {"a"}, "(.*)", "$1"), "invalid 'target_label'"},
      {Rule(A::kLabelDrop, {"a"}, "x"), "requires only 'regex'"},
      {Rule(A::kKeepEqual, {"a"}, "x", "b"), "requires only 'source_labels'"},
      {Rule(A::kKeep, {"a"}, "(unclosed"), "invalid regex"},
  };
  for (Bad& b : cases) {
    absl::Status s = b.c.Compile();
    EXPECT_FALSE(s.ok()) << b.want;
    EXPECT_NE(std::string(s.message()).find(b.want), std::string::npos) << s;
  }
}

TEST(ParseRelabelConfigs, AppliesPrometheusDefaults) {
  auto cfgs = ParseRelabelConfigsYaml(R"(
- source_labels: [__address__]
  target_label: instance
- action: LabelMap
  regex: __meta_(.+)
- source_labels: [a]
  action: hashmod
  modulus: 8
  target_label: shard
)",
                                      "p.yml");
  ASSERT_TRUE(cfgs.ok()) << cfgs.status();
  ASSERT_EQ(cfgs->size(), 3u);
  EXPECT_EQ((*cfgs)[0].separator, ";");
  EXPECT_EQ((*cfgs)[0].regex, "(.*)");
  EXPECT_EQ((*cfgs)[0].replacement, "$1");
  EXPECT_EQ((*cfgs)[0].action, A::kReplace);
  EXPECT_EQ((*cfgs)[1].action, A::kLabelMap);
  EXPECT_EQ((*cfgs)[2].modulus, 8u);
  auto out = Relabel({{"__address__", "h:1"}, {"__meta_x", "y"}, {"a", "z"}}, *cfgs);
  ASSERT_TRUE(out);
  EXPECT_EQ(out->Get("instance"), "h:1");
  EXPECT_EQ(out->Get("x"), "y");
  EXPECT_FALSE(out->Get("shard").empty());
}

TEST(ParseRelabelConfigs, ErrorsNameLineAndColumn) {
  struct Bad {
    std::string yaml;
    std::string want;
  };
  std::vector<Bad> cases = {
      {"- action: keeep\n", "p.yml:1:11: unknown relabel action \"keeep\""},
      {"- source_labels: [a]\n  targt_label: b\n", "p.yml:2:3: unknown field \"targt_label\""},
      {"- action: hashmod\n  target_label: x\n", "p.yml:1:3: relabel configuration for hashmod"},
      {"- regex: '('\n", "p.yml:1:3: invalid regex"},
      {"x: 1\n", "p.yml:1:1: relabel configs must be a list"},
  };
  for (const Bad& b : cases) {
    auto r = ParseRelabelConfigsYaml(b.yaml, "p.yml");
    ASSERT_FALSE(r.ok()) << b.yaml;
    EXPECT_NE(std::string(r.status().message()).find(b.want), std::string::npos)
        << r.status() << " want " << b.want;
  }
}

}  // namespace
}  // namespace vigil::model
