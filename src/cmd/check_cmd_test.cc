#include "cmd/check_cmd.h"
#include "cmd/check_config_cmd.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::cmd {
namespace {

std::string Write(const std::string& name, const std::string& content) {
  const std::string dir = ::testing::TempDir() + "/vigil_check_rules_" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/" + name) << content;
  return dir + "/" + name;
}

std::string Read(std::FILE* f) {
  std::rewind(f);
  std::string s;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) s.append(buf, n);
  return s;
}

TEST(CheckRules, ExitsZeroAndCountsRulesForGoodFiles) {
  const std::string f = Write("good.yml", "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: up\n  - alert: X\n    expr: up == 0\n");
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunCheckRules({f}, out, err), 0);
  EXPECT_THAT(Read(out), ::testing::HasSubstr("  SUCCESS: 2 rules found"));
  std::fclose(out);
  std::fclose(err);
}

TEST(CheckRules, ExitsOneWithPositionsForBadFiles) {
  const std::string good = Write("good2.yml", "groups: []\n");
  const std::string bad = Write("bad.yml", "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: up ==\n");
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunCheckRules({good, bad}, out, err), 1);
  EXPECT_THAT(Read(err), ::testing::HasSubstr("bad.yml:5:11: group \"g\", rule 1, \"X\": could not parse expression"));
  std::fclose(out);
  std::fclose(err);
}

TEST(CheckConfig, ChecksTheNotifySectionWithPositions) {
  const std::string good = Write("good.yml", "notify:\n  route: {receiver: r}\n  receivers: [{name: r}]\n");
  const std::string bad = Write("bad.yml",
                                "global: {}\nnotify:\n  route: {receiver: r}\n  receivers:\n"
                                "    - name: r\n      slack_configs: [{api_url: 'http://x', text: '{{ nosuch }}'}]\n");
  std::FILE* out = std::tmpfile();
  std::FILE* err = std::tmpfile();
  EXPECT_EQ(RunCheckConfig({good}, out, err), 0);
  EXPECT_THAT(Read(out), ::testing::HasSubstr("notify: 1 receiver(s)"));
  EXPECT_EQ(RunCheckConfig({bad}, out, err), 1);
  EXPECT_THAT(Read(err), ::testing::HasSubstr("bad.yml:6:51: text: template: 1:3: function \"nosuch\" not defined"));
  std::fclose(out);
  std::fclose(err);
}

}  // namespace
}  // namespace vigil::cmd
