// The dashboards API through a real server over an in-memory filesystem: every status
// code, and what a restart (a new store over the same files) keeps.
#include "http/dashboards_api.h"

#include <memory>

#include "fs/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/test_client.h"
#include "simdjson.h"

namespace vigil::http {
namespace {

using ::testing::HasSubstr;

constexpr EmbeddedFile kSeeds[] = {
    {"overview.json", R"({"uid":"overview","title":"Overview","tags":["built-in"],"panels":[]})", "", ""},
};

class DashboardsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_.Register(&router_);
    ServerOptions opts;
    opts.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(opts, &router_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void TearDown() override { server_->Stop(); }

  // Opens a fresh store over the same files, as a restarted server does.
  void Restart() {
    store_ = std::make_unique<DashboardStore>(fs_.get(), "/data/dashboards",
                                              [] { return int64_t{1'700'000'000'000}; });
    ASSERT_TRUE(store_->Open(kSeeds).ok());
    api_.Attach(store_.get());
  }

  // The "data" member of a success answer, minified; fails the test on another shape.
  std::string Data(const TestResponse& r) {
    simdjson::dom::parser p;
    simdjson::dom::element root;
    EXPECT_EQ(p.parse(r.body).get(root), simdjson::SUCCESS) << r.body;
    std::string_view status;
    EXPECT_EQ(root["status"].get(status), simdjson::SUCCESS) << r.body;
    EXPECT_EQ(status, "success") << r.body;
    return simdjson::minify(root["data"]);
  }
  void ExpectError(const TestResponse& r, int code, const char* type, const char* msg) {
    EXPECT_EQ(r.status, code) << r.body;
    EXPECT_THAT(r.body, HasSubstr(std::string("\"errorType\":\"") + type + "\"")) << r.body;
    EXPECT_THAT(r.body, HasSubstr(msg)) << r.body;
    EXPECT_THAT(r.body, HasSubstr("\"status\":\"error\"")) << r.body;
  }

  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
  std::unique_ptr<DashboardStore> store_;
  metrics::Registry registry_;
  Router router_{&registry_};
  DashboardsApi api_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(DashboardsApiTest, AnswersUnavailableUntilTheStoreIsAttached) {
  ExpectError(client_->Do("GET", "/api/v1/dashboards"), 503, "unavailable", "not loaded");
  ExpectError(client_->Do("POST", "/api/v1/dashboards", "{}"), 503, "unavailable", "not loaded");
}

TEST_F(DashboardsApiTest, CreateListGetUpdateDelete) {
  Restart();
  auto list = client_->Do("GET", "/api/v1/dashboards");
  EXPECT_EQ(list.status, 200);
  EXPECT_EQ(list.headers["content-type"], "application/json");
  EXPECT_EQ(Data(list),
            R"([{"uid":"overview","title":"Overview","tags":["built-in"],"version":1,"updated":"2023-11-14T22:13:20.000Z"}])");

  auto created = client_->Do("POST", "/api/v1/dashboards",
                             R"({"uid":"web","title":"Web","tags":["a","b"],"panels":[{"id":1}]})");
  EXPECT_EQ(created.status, 200);
  EXPECT_EQ(Data(created), R"({"uid":"web","version":1})");

  auto got = client_->Do("GET", "/api/v1/dashboards/web");
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(Data(got),
            R"({"uid":"web","title":"Web","tags":["a","b"],"panels":[{"id":1}],"version":1,"updated":"2023-11-14T22:13:20.000Z"})");

  auto put = client_->Do("PUT", "/api/v1/dashboards/web", R"({"title":"Web 2","panels":[],"version":1})");
  EXPECT_EQ(put.status, 200);
  EXPECT_EQ(Data(put), R"({"uid":"web","version":2})");
  auto listed = Data(client_->Do("GET", "/api/v1/dashboards"));
  EXPECT_THAT(listed, HasSubstr(R"({"uid":"web","title":"Web 2","tags":[],"version":2,)"));

  auto del = client_->Do("DELETE", "/api/v1/dashboards/web");
  EXPECT_EQ(del.status, 200);
  EXPECT_EQ(Data(del), "null");
  ExpectError(client_->Do("GET", "/api/v1/dashboards/web"), 404, "not_found", "dashboard \\\"web\\\" not found");
}

TEST_F(DashboardsApiTest, PostWithoutUidGeneratesOne) {
  Restart();
  auto r = client_->Do("POST", "/api/v1/dashboards", R"({"title":"T","panels":[]})");
  EXPECT_EQ(r.status, 200);
  simdjson::dom::parser p;
  std::string_view uid;
  ASSERT_EQ(p.parse(r.body)["data"]["uid"].get(uid), simdjson::SUCCESS);
  EXPECT_EQ(client_->Do("GET", "/api/v1/dashboards/" + std::string(uid)).status, 200);
}

TEST_F(DashboardsApiTest, ErrorStatuses) {
  Restart();
  ExpectError(client_->Do("POST", "/api/v1/dashboards", "not json"), 400, "bad_data", "invalid JSON");
  ExpectError(client_->Do("POST", "/api/v1/dashboards", R"({"title":"t"})"), 400, "bad_data",
              "\\\"panels\\\" is missing");
  ExpectError(client_->Do("POST", "/api/v1/dashboards", R"({"uid":"overview","title":"t","panels":[]})"),
              409, "conflict", "already exists");
  ExpectError(client_->Do("PUT", "/api/v1/dashboards/overview", R"({"title":"t","panels":[],"version":9})"),
              409, "conflict", "at version 1");
  ExpectError(client_->Do("PUT", "/api/v1/dashboards/a.b", R"({"title":"t","panels":[]})"), 400,
              "bad_data", "must match");
  ExpectError(client_->Do("PUT", "/api/v1/dashboards/x", R"({"uid":"y","title":"t","panels":[]})"), 400,
              "bad_data", "differs");
  ExpectError(client_->Do("DELETE", "/api/v1/dashboards/absent"), 404, "not_found", "not found");
  ExpectError(client_->Do("GET", "/api/v1/dashboards/absent"), 404, "not_found", "not found");
  EXPECT_EQ(client_->Do("PATCH", "/api/v1/dashboards/overview").status, 405);

  // 2 MiB is the limit for one dashboard.
  const std::string big = R"({"title":"t","panels":[],"pad":")" + std::string(2u << 20, 'x') + "\"}";
  ExpectError(client_->Do("POST", "/api/v1/dashboards", big), 413, "bad_data", "exceeds the limit of 2097152 bytes");
  ExpectError(client_->Do("PUT", "/api/v1/dashboards/big", big), 413, "bad_data", "exceeds the limit");
  const std::string fits = R"({"title":"t","panels":[],"pad":")" + std::string((2u << 20) - 64, 'x') + "\"}";
  EXPECT_EQ(client_->Do("PUT", "/api/v1/dashboards/big", fits).status, 200);
  // Nothing invalid was stored.
  EXPECT_EQ(Data(client_->Do("GET", "/api/v1/dashboards")).find("\"uid\":\"x\""), std::string::npos);
}

TEST_F(DashboardsApiTest, RestartKeepsDashboardsAndVersions) {
  Restart();
  ASSERT_EQ(client_->Do("POST", "/api/v1/dashboards", R"({"uid":"k","title":"Kept","panels":[{"id":3}]})").status, 200);
  ASSERT_EQ(client_->Do("PUT", "/api/v1/dashboards/k", R"({"title":"Kept","panels":[{"id":4}],"version":1})").status, 200);
  ASSERT_EQ(client_->Do("DELETE", "/api/v1/dashboards/overview").status, 200);
  Restart();
  EXPECT_EQ(Data(client_->Do("GET", "/api/v1/dashboards")),
            R"([{"uid":"k","title":"Kept","tags":[],"version":2,"updated":"2023-11-14T22:13:20.000Z"}])");
  EXPECT_THAT(Data(client_->Do("GET", "/api/v1/dashboards/k")), HasSubstr(R"("panels":[{"id":4}],"version":2)"));
  ExpectError(client_->Do("PUT", "/api/v1/dashboards/k", R"({"title":"Kept","panels":[],"version":1})"), 409,
              "conflict", "at version 2");
}

}  // namespace
}  // namespace vigil::http
