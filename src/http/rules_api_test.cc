#include "http/rules_api.h"

#include <filesystem>

#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::http {
namespace {

using ::testing::HasSubstr;

struct Env {
  std::string dir;
  rules::ApiRuleStore store;
  rules::Manager manager;
  Env()
      : dir(::testing::TempDir() + "/vigil_rules_api_" + std::to_string(::getpid())),
        store((std::filesystem::create_directories(dir), dir + "/api_rules.yml")),
        manager(Options()) {}
  static rules::ManagerOptions Options() {
    rules::ManagerOptions o;
    o.query = [](std::string_view q, int64_t t) -> absl::StatusOr<promql::QueryResult> {
      promql::QueryResult r;
      r.type = promql::ValueType::kVector;
      if (q.find("ALERTS_FOR_STATE") == 0) {
        r.type = promql::ValueType::kMatrix;
        return r;
      }
      r.vector.push_back({model::Labels{{"instance", "a"}}, t, 95});
      return r;
    };
    return o;
  }
  absl::Status Reload() {
    auto f = rules::ParseRuleFile(
        "groups:\n- name: g\n  rules:\n  - record: job:x\n    expr: x\n  - alert: High\n    expr: cpu > 90\n"
        "    for: 0s\n    labels: {severity: page}\n    annotations: {summary: 'at {{ $value }}'}\n",
        "rules.yml");
    if (!f.ok()) return f.status();
    manager.Update({*f, store.ToRuleFile()}, 60'000);
    return absl::OkStatus();
  }
};

TEST(RulesApi, RulesAndAlertsInPrometheusShape) {
  Env env;
  ASSERT_TRUE(env.Reload().ok());
  env.manager.EvalAllOnce(1'700'000'000'000);
  RulesApi api(&env.manager, &env.store, [&] { return env.Reload(); });
  Request req;
  Response resp;
  api.Rules(req, &resp);
  EXPECT_EQ(resp.status, 200);
  EXPECT_THAT(resp.body, HasSubstr("{\"status\":\"success\",\"data\":{\"groups\":[{\"name\":\"g\",\"file\":\"rules.yml\",\"rules\":[{\"name\":\"job:x\",\"query\":\"x\",\"health\":\"ok\""));
  EXPECT_THAT(resp.body, HasSubstr("{\"state\":\"firing\",\"name\":\"High\",\"query\":\"cpu \\u003e 90\",\"duration\":0,\"keepFiringFor\":0,\"labels\":{\"severity\":\"page\"},\"annotations\":{\"summary\":\"at {{ $value }}\"},\"alerts\":[{\"labels\":{\"alertname\":\"High\",\"instance\":\"a\",\"severity\":\"page\"},\"annotations\":{\"summary\":\"at 95\"},\"state\":\"firing\",\"activeAt\":\"2023-11-14T22:13:20Z\",\"value\":\"9.5e+01\"}]"));
  EXPECT_THAT(resp.body, HasSubstr("\"type\":\"alerting\""));
  EXPECT_THAT(resp.body, HasSubstr("\"interval\":60,\"limit\":0"));

  req.params = {{"type", "record"}};
  api.Rules(req, &resp);
  EXPECT_THAT(resp.body, ::testing::Not(HasSubstr("High")));

  Response alerts;
  api.Alerts(Request{}, &alerts);
  EXPECT_THAT(alerts.body, HasSubstr("{\"status\":\"success\",\"data\":{\"alerts\":[{\"labels\":{\"alertname\":\"High\""));
}

TEST(RulesApi, CreatesListsAndDeletesRuntimeRules) {
  Env env;
  ASSERT_TRUE(env.Reload().ok());
  RulesApi api(&env.manager, &env.store, [&] { return env.Reload(); });
  Request req;
  req.body = R"j({"name":"HighLoad","expr":"avg(load1)","threshold":4,"for":"2m","notify":"ops"})j";
  Response resp;
  api.CreateRule(req, &resp);
  ASSERT_EQ(resp.status, 201) << resp.body;
  EXPECT_THAT(resp.body, HasSubstr("\"query\":\"(avg(load1)) \\u003e 4\""));
  api.CreateRule(req, &resp);
  EXPECT_EQ(resp.status, 409);
  req.body = R"j({"name":"Bad","expr":"sum(","threshold":1})j";
  api.CreateRule(req, &resp);
  EXPECT_EQ(resp.status, 400);
  EXPECT_THAT(resp.body, HasSubstr("invalid expression"));

  Response list;
  api.ListRules(Request{}, &list);
  EXPECT_THAT(list.body, HasSubstr("\"name\":\"HighLoad\",\"expr\":\"avg(load1)\",\"threshold\":4,\"for\":\"2m\",\"notify\":\"ops\""));
  Response rules;
  api.Rules(Request{}, &rules);
  EXPECT_THAT(rules.body, HasSubstr("\"name\":\"vigil_api_rules\""));

  Request del;
  del.path_params = {{"name", "HighLoad"}};
  Response dr;
  api.DeleteRule(del, &dr);
  EXPECT_EQ(dr.status, 200);
  api.DeleteRule(del, &dr);
  EXPECT_EQ(dr.status, 404);
}

TEST(RulesApi, FormatsValuesAsPrometheus) {
  EXPECT_EQ(FormatFloatE(1), "1e+00");
  EXPECT_EQ(FormatFloatE(0.125), "1.25e-01");
  EXPECT_EQ(FormatRfc3339Nano(1'500), "1970-01-01T00:00:01.5Z");
  EXPECT_EQ(FormatRfc3339Nano(0), "0001-01-01T00:00:00Z");
}

}  // namespace
}  // namespace vigil::http
