// Who a request is: tokens, basic auth, the tenant header, route classes, and the 401
// answer a client sees through a real server.
#include "http/auth.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/test_client.h"

namespace vigil::http {
namespace {

using ::testing::HasSubstr;

Request Req(std::vector<std::pair<std::string, std::string>> headers) {
  Request r;
  r.headers = std::move(headers);
  return r;
}

AuthPolicy TwoTenants() {
  AuthPolicy p;
  p.tenants = {{"team-a", {"token-a1", "token-a2"}, false},
               {"team-b", {"token-b"}, false},
               {"default", {"token-default"}, false},
               {"ops", {"token-ops"}, true}};
  return p;
}

TEST(Auth, OffWithoutTenants) {
  Auth auth;
  EXPECT_FALSE(auth.enabled());
  Auth::Decision d = auth.Authorize(Req({}), "/api/v1/query");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.tenant, "default");
  EXPECT_EQ(auth.Authorize(Req({}), "/api/v1/admin/tsdb/snapshot").status, 200);
}

TEST(Auth, BearerTokensPickTheirTenant) {
  Auth auth;
  auth.Update(TwoTenants());
  EXPECT_TRUE(auth.enabled());
  struct Case {
    std::string header;
    int status;
    std::string tenant;
  } cases[] = {
      {"Bearer token-a1", 200, "team-a"},
      {"Bearer token-a2", 200, "team-a"},
      {"bearer   token-b ", 200, "team-b"},
      {"Bearer token-a", 401, ""},    // a prefix of a token is not a token
      {"Bearer token-a1x", 401, ""},  // nor is a longer string
      {"Bearer", 401, ""},
      {"Token token-a1", 401, ""},
      {"Basic dXNlcjp0b2tlbi1i", 200, "team-b"},  // user:token-b
      {"Basic OnRva2VuLWEx", 200, "team-a"},      // :token-a1 (no user)
      {"Basic dG9rZW4tYjo=", 401, ""},            // token-b: (token as user, empty password)
      {"Basic !!!", 401, ""},
  };
  for (const auto& c : cases) {
    Auth::Decision d = auth.Authorize(Req({{"authorization", c.header}}), "/api/v1/query");
    EXPECT_EQ(d.status, c.status) << c.header;
    EXPECT_EQ(d.tenant, c.tenant) << c.header;
    EXPECT_EQ(d.error.find("token-"), std::string::npos) << "never echo a token: " << d.error;
  }
  Auth::Decision missing = auth.Authorize(Req({}), "/api/v1/query");
  EXPECT_EQ(missing.status, 401);
  EXPECT_THAT(missing.error, HasSubstr("Authorization: Bearer"));
}

TEST(Auth, OpenPathsNeedNoToken) {
  Auth auth;
  AuthPolicy p = TwoTenants();
  EXPECT_EQ((auth.Update(p), auth.Authorize(Req({}), "/-/healthy").status), 200);
  EXPECT_EQ(auth.Authorize(Req({}), "/metrics").status, 200);
  EXPECT_EQ(auth.Authorize(Req({}), "/api/v1/series").status, 401);
  p.open_paths = {"/-/healthy"};
  auth.Update(p);
  EXPECT_EQ(auth.Authorize(Req({}), "/metrics").status, 401) << "open paths are configurable";
}

TEST(Auth, RouteClassesLimitWhoMayCall) {
  Auth auth;
  auth.Update(TwoTenants());
  auto status = [&](const std::string& token, std::string_view route) {
    return auth.Authorize(Req({{"authorization", "Bearer " + token}}), route).status;
  };
  EXPECT_EQ(status("token-a1", "/api/v1/admin/tsdb/delete_series"), 200) << "own series";
  EXPECT_EQ(status("token-a1", "/api/v1/admin/tsdb/snapshot"), 403);
  EXPECT_EQ(status("token-a1", "/-/reload"), 403);
  EXPECT_EQ(status("token-a1", "/api/v1/status/config"), 403);
  EXPECT_EQ(status("token-a1", "/api/v1/rules"), 403);
  EXPECT_EQ(status("token-a1", "/api/v2/silences"), 403);
  EXPECT_EQ(status("token-a1", "/api/v2/write"), 200) << "InfluxDB 2 writes are a tenant's";
  EXPECT_EQ(status("token-default", "/api/v1/rules"), 200);
  EXPECT_EQ(status("token-default", "/api/v1/targets"), 200);
  EXPECT_EQ(status("token-default", "/-/reload"), 403);
  EXPECT_EQ(status("token-ops", "/-/reload"), 200);
  EXPECT_EQ(status("token-ops", "/api/v1/alerts"), 200);
  EXPECT_EQ(auth.Authorize(Req({{"authorization", "Bearer token-ops"}}), "/api/v1/query").tenant,
            "ops");
}

TEST(Auth, TenantHeaderOnlyWhenConfigured) {
  Auth auth;
  AuthPolicy p = TwoTenants();
  auth.Update(p);
  EXPECT_EQ(auth.Authorize(Req({{"x-scope-orgid", "team-a"}}), "/api/v1/query").status, 401)
      << "the header is ignored unless the config names it";
  p.tenant_header = "X-Scope-OrgID";
  auth.Update(p);
  Auth::Decision d = auth.Authorize(Req({{"x-scope-orgid", "team-a"}}), "/api/v1/query");
  EXPECT_EQ(d.status, 200);
  EXPECT_EQ(d.tenant, "team-a");
  EXPECT_EQ(auth.Authorize(Req({{"x-scope-orgid", "nobody"}}), "/api/v1/query").status, 401);
  // A token and the header must agree.
  EXPECT_EQ(auth.Authorize(Req({{"authorization", "Bearer token-a1"}, {"x-scope-orgid", "team-b"}}),
                           "/api/v1/query")
                .status,
            403);
  EXPECT_EQ(auth.Authorize(Req({{"authorization", "Bearer token-a1"}, {"x-scope-orgid", "team-a"}}),
                           "/api/v1/query")
                .tenant,
            "team-a");
}

TEST(Auth, ReloadReplacesTokens) {
  Auth auth;
  auth.Update(TwoTenants());
  AuthPolicy p = TwoTenants();
  p.tenants[0].tokens = {"rotated"};
  auth.Update(p);
  EXPECT_EQ(auth.Authorize(Req({{"authorization", "Bearer token-a1"}}), "/api/v1/query").status, 401);
  EXPECT_EQ(auth.Authorize(Req({{"authorization", "Bearer rotated"}}), "/api/v1/query").tenant,
            "team-a");
  auth.Update(AuthPolicy{});
  EXPECT_EQ(auth.Authorize(Req({}), "/api/v1/query").tenant, "default") << "back to no auth";
}

TEST(Auth, ThroughAServerAnswers401WithChallengeAndJson) {
  metrics::Registry registry;
  Router router(&registry);
  Auth auth(&registry);
  auth.Update(TwoTenants());
  router.SetAuth(&auth);
  router.Handle("GET", "/whoami", [](const Request& req, Response* resp) {
    resp->Text(200, req.tenant);
  });
  ServerOptions opts;
  opts.listen_address = "127.0.0.1:0";
  Server server(opts, &router);
  ASSERT_TRUE(server.Start().ok());
  TestClient client(server.port());
  TestResponse r = client.Do("GET", "/whoami");
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(r.headers["www-authenticate"], HasSubstr("realm=\"vigil\""));
  EXPECT_EQ(r.headers["content-type"], "application/json");
  EXPECT_THAT(r.body, HasSubstr("\"status\":\"error\""));
  EXPECT_THAT(r.body, HasSubstr("\"errorType\":\"unauthorized\""));
  r = client.Do("GET", "/whoami", "", {{"Authorization", "Bearer token-b"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "team-b");
  r = client.Do("GET", "/whoami", "", {{"Authorization", "Bearer wrong"}});
  EXPECT_EQ(r.status, 401);
  EXPECT_THAT(registry.Render(), HasSubstr("vigil_auth_refused_requests_total{reason=\"invalid_token\"} 1"));
  EXPECT_THAT(registry.Render(), HasSubstr("vigil_auth_refused_requests_total{reason=\"missing\"} 1"));
  server.Stop();
}

}  // namespace
}  // namespace vigil::http
