#include "http/server.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/test_client.h"

namespace vigil::http {
namespace {

using ::testing::HasSubstr;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Handle("GET", "/hello", [](const Request& req, Response* resp) {
      resp->Text(200, "hi " + std::string(req.Param("name")));
    });
    router_.Handle("GET,POST", "/echo/:what/x", [](const Request& req, Response* resp) {
      resp->Text(200, std::string(req.PathParam("what")) + "|" + std::string(req.Param("a")) +
                          "|" + std::to_string(req.ParamValues("m").size()) + "|" +
                          std::string(req.Header("x-test")) + "|" + req.body);
    });
    router_.Handle("POST", "/slow", [this](const Request&, Response* resp) {
      started_.store(true);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      resp->Text(200, "done");
    });
  }

  void Start(ServerOptions opts = {}) {
    opts.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(opts, &router_);
    ASSERT_TRUE(server_->Start().ok());
  }

  metrics::Registry registry_;
  Router router_{&registry_};
  std::unique_ptr<Server> server_;
  std::atomic<bool> started_{false};
};

TEST_F(ServerTest, ServesRoutesOverOneKeepAliveConnection) {
  Start();
  TestClient c(server_->port());
  auto r1 = c.Do("GET", "/hello?name=vigil");
  EXPECT_EQ(r1.status, 200);
  EXPECT_EQ(r1.body, "hi vigil");
  EXPECT_TRUE(r1.keep_alive);
  auto r2 = c.Do("POST", "/echo/a%20b/x?a=1&m=x&m=y", "payload", {{"X-Test", "t"}});
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.body, "a b|1|2|t|payload");
}

TEST_F(ServerTest, MergesFormBodiesIntoParams) {
  Start();
  TestClient c(server_->port());
  auto r = c.Do("POST", "/echo/z/x?m=1", "m=2&a=b%20c",
                {{"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(r.body, "z|b c|2||m=2&a=b%20c");
}

TEST_F(ServerTest, AnswersUnknownPathsAndMethodsAndCountsThem) {
  Start();
  TestClient c(server_->port());
  EXPECT_EQ(c.Do("GET", "/nope").status, 404);
  EXPECT_EQ(c.Do("DELETE", "/hello").status, 405);
  EXPECT_EQ(c.Do("GET", "/hello").status, 200);
  std::string m = registry_.Render();
  EXPECT_THAT(m, HasSubstr("vigil_http_requests_total{handler=\"/hello\",code=\"200\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_http_requests_total{handler=\"not_found\",code=\"404\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_http_requests_total{handler=\"method_not_allowed\",code=\"405\"} 1\n"));
  EXPECT_THAT(m, HasSubstr("vigil_http_request_duration_seconds_count{handler=\"/hello\"} 1\n"));
}

TEST_F(ServerTest, RefusesBodiesOverTheLimitWith413) {
  ServerOptions opts;
  opts.max_body_bytes = 1000;
  Start(opts);
  TestClient c(server_->port());
  auto r = c.Do("POST", "/echo/a/x", std::string(5000, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_THAT(r.body, HasSubstr("exceeds the limit of 1000 bytes"));
  TestClient c2(server_->port());
  EXPECT_EQ(c2.Do("POST", "/echo/a/x", std::string(1000, 'x')).status, 200);
}

TEST_F(ServerTest, BadQueryEscapesAre400BadData) {
  Start();
  TestClient c(server_->port());
  auto r = c.Do("GET", "/hello?name=%zz");
  EXPECT_EQ(r.status, 400);
  EXPECT_THAT(r.body, HasSubstr("\"errorType\":\"bad_data\""));
}

TEST_F(ServerTest, StopFinishesInFlightRequestsFirst) {
  Start();
  auto fut = std::async(std::launch::async, [port = server_->port()] {
    TestClient c(port);
    return c.Do("POST", "/slow");
  });
  while (!started_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  server_->Stop();
  TestResponse r = fut.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "done");
  EXPECT_FALSE(r.keep_alive);
}

TEST_F(ServerTest, StopClosesIdleKeepAliveConnections) {
  Start();
  TestClient c(server_->port());
  EXPECT_EQ(c.Do("GET", "/hello").status, 200);
  auto t0 = std::chrono::steady_clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(ServerStart, FailsClearlyWhenThePortIsTaken) {
  metrics::Registry reg;
  Router router(&reg);
  ServerOptions opts;
  opts.listen_address = "127.0.0.1:0";
  Server a(opts, &router);
  ASSERT_TRUE(a.Start().ok());
  opts.listen_address = "127.0.0.1:" + std::to_string(a.port());
  Server b(opts, &router);
  absl::Status s = b.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.message()), HasSubstr("listen on 127.0.0.1:"));
  EXPECT_THAT(std::string(s.message()), HasSubstr("in use"));
}

TEST(ServerStart, RejectsAddressesWithoutPort) {
  metrics::Registry reg;
  Router router(&reg);
  ServerOptions opts;
  opts.listen_address = "localhost";
  Server s(opts, &router);
  EXPECT_THAT(std::string(s.Start().message()), HasSubstr("missing port"));
}

}  // namespace
}  // namespace vigil::http
