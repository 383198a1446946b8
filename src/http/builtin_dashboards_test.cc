// The dashboards compiled into the binary (src/http/dashboards/*.json) are valid: the store
// accepts them, their uid is their file name, and every query parses once the UI's
// variables are substituted. That their metric names are ones Vigil's /metrics exposes is
// checked end to end by tests/integration/test_dashboards.py.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_replace.h"
#include "fs/file_system.h"
#include "gtest/gtest.h"
#include "http/dashboard_store.h"
#include "http/embedded_files.h"
#include "promql/parser.h"
#include "simdjson.h"

namespace vigil::http {
namespace {

TEST(BuiltinDashboards, IncludeTheVigilOverview) {
  bool found = false;
  for (const EmbeddedFile& f : BuiltinDashboardFiles()) found |= f.path == "vigil-overview.json";
  EXPECT_TRUE(found);
}

TEST(BuiltinDashboards, AreValidAndTheirQueriesParse) {
  auto fs = fs::NewMemFileSystem();
  DashboardStore store(fs.get(), "/d");
  ASSERT_TRUE(store.Open({}).ok());
  for (const EmbeddedFile& f : BuiltinDashboardFiles()) {
    SCOPED_TRACE(std::string(f.path));
    auto saved = store.Create(f.data);
    ASSERT_TRUE(saved.ok()) << saved.status();
    EXPECT_EQ(saved->uid + ".json", f.path);

    simdjson::dom::parser p;
    simdjson::dom::element root;
    ASSERT_EQ(p.parse(f.data.data(), f.data.size()).get(root), simdjson::SUCCESS);
    // $name of each variable; All ('.*') is what a fresh dashboard shows.
    std::vector<std::pair<std::string, std::string>> subst = {{"$__rate_interval", "1m"},
                                                              {"$__interval", "15s"}};
    for (auto v : root["variables"].get_array()) {
      std::string_view name;
      ASSERT_EQ(v["name"].get(name), simdjson::SUCCESS);
      subst.emplace_back("$" + std::string(name), ".*");
      std::string_view match;
      if (v["match"].get(match) == simdjson::SUCCESS) {
        EXPECT_TRUE(promql::ParseMetricSelector(match).ok()) << match;
      }
    }
    std::set<int64_t> ids;
    int targets = 0;
    for (auto panel : root["panels"].get_array()) {
      int64_t id = 0;
      ASSERT_EQ(panel["id"].get(id), simdjson::SUCCESS);
      EXPECT_TRUE(ids.insert(id).second) << "duplicate panel id " << id;
      int64_t x = 0, w = 0;
      ASSERT_EQ(panel["gridPos"]["x"].get(x), simdjson::SUCCESS);
      ASSERT_EQ(panel["gridPos"]["w"].get(w), simdjson::SUCCESS);
      EXPECT_LE(x + w, 24) << "panel " << id << " is wider than the 24-column grid";
      for (auto t : panel["targets"].get_array()) {
        std::string_view expr;
        ASSERT_EQ(t["expr"].get(expr), simdjson::SUCCESS);
        const std::string q = absl::StrReplaceAll(std::string(expr), subst);
        auto parsed = promql::ParseExpr(q);
        EXPECT_TRUE(parsed.ok()) << "panel " << id << ": " << q << ": " << parsed.status();
        ++targets;
      }
    }
    EXPECT_GT(targets, 0);
  }
}

}  // namespace
}  // namespace vigil::http
