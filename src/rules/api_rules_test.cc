#include "rules/api_rules.h"

#include <cstdio>
#include <filesystem>

#include "gtest/gtest.h"

namespace vigil::rules {
namespace {

std::string TempPath() {
  auto dir = std::filesystem::temp_directory_path() /
             ("vigil_api_rules_" + std::to_string(::getpid()) + "_" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return (dir / "api_rules.yml").string();
}

TEST(ApiRuleStore, PersistsAcrossReopenAndDeletes) {
  const std::string path = TempPath();
  {
    ApiRuleStore s(path);
    ASSERT_TRUE(s.Load().ok());
    ASSERT_TRUE(s.Add({"HighCpu", "avg(cpu{job=\"x\"})", 90, 300'000, "ops"}).ok());
    ASSERT_TRUE(s.Add({"LowDisk", "disk_free", 1e9, 0, ""}).ok());
    EXPECT_EQ(s.Add({"HighCpu", "x", 1, 0, ""}).code(), absl::StatusCode::kAlreadyExists);
  }
  ApiRuleStore s(path);
  ASSERT_TRUE(s.Load().ok());
  auto list = s.List();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].expr, "avg(cpu{job=\"x\"})");
  EXPECT_EQ(list[0].for_ms, 300'000);
  EXPECT_EQ(list[0].notify, "ops");
  RuleFile f = s.ToRuleFile();
  ASSERT_EQ(f.groups.size(), 1u);
  EXPECT_EQ(f.groups[0].rules[0].expr, "(avg(cpu{job=\"x\"})) > 90");
  EXPECT_EQ(f.groups[0].rules[1].expr, "(disk_free) > 1e+09");
  EXPECT_EQ(f.groups[0].rules[0].labels[0], (std::pair<std::string, std::string>{"notify", "ops"}));
  ASSERT_TRUE(s.Delete("HighCpu").ok());
  EXPECT_EQ(s.Delete("HighCpu").code(), absl::StatusCode::kNotFound);
  ApiRuleStore again(path);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.List().size(), 1u);
}

TEST(ApiRuleStore, RejectsBadNamesAndExpressions) {
  ApiRuleStore s(TempPath());
  EXPECT_EQ(s.Add({"bad name", "up", 1, 0, ""}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Add({"ok", "sum(", 1, 0, ""}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.Add({"ok", "up", 1, -5, ""}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(s.List().empty());
}

}  // namespace
}  // namespace vigil::rules
