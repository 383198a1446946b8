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

TEST_F(ServerTest, ReadsBodiesLargerThanOneReadIntact) {
  Start();
  TestClient c(server_->port());
  // Past the 64 KiB the server reads at once, and on a kept-alive connection twice, so the
  // second request is read with the buffer the first one left behind.
  std::string body;
  for (int i = 0; body.size() < 300'000; ++i) body += std::to_string(i) + ",";
  for (int round = 0; round < 2; ++round) {
    auto r = c.Do("POST", "/echo/big/x", body);
    ASSERT_EQ(r.status, 200);
    // Not EXPECT_EQ: a mismatch would print 300 KB twice.
    EXPECT_TRUE(r.body == "big||0||" + body) << "body of " << r.body.size() << " bytes differs";
  }
  EXPECT_EQ(c.Do("GET", "/hello?name=after").body, "hi after");
}

TEST_F(ServerTest, WritesAnswersLargerThanTheSocketBufferIntact) {
  // An answer is written at once while the socket takes it, then asynchronously: 16 MB
  // outgrows any send buffer, so the rest goes out as the client reads, and the
  // connection then serves the next request.
  std::string big;
  for (int i = 0; big.size() < (16u << 20); ++i) big += std::to_string(i) + ",";
  router_.Handle("GET", "/big", [&big](const Request&, Response* resp) { resp->Text(200, big); });
  Start();
  TestClient c(server_->port());
  for (int round = 0; round < 2; ++round) {
    auto r = c.Do("GET", "/big");
    ASSERT_EQ(r.status, 200);
    // Not EXPECT_EQ: a mismatch would print 16 MB twice.
    EXPECT_TRUE(r.body == big) << "body of " << r.body.size() << " bytes differs";
    EXPECT_EQ(c.Do("GET", "/hello?name=after").body, "hi after");
  }
}

// Opens a raw connection, sends `bytes` and returns what the server answers before it
// closes the connection.
std::string SendAndReadUntilClose(int port, const std::string& bytes) {
  namespace asio = boost::asio;
  asio::io_context ioc;
  asio::ip::tcp::socket sock(ioc);
  sock.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  asio::write(sock, asio::buffer(bytes));
  std::string got;
  boost::system::error_code ec;
  char buf[4096];
  while (!ec) {
    size_t n = sock.read_some(asio::buffer(buf), ec);
    got.append(buf, n);
  }
  return got;
}

TEST_F(ServerTest, ClosesIdleConnectionsAndStalledRequestsAfterTheIdleTimeout) {
  ServerOptions opts;
  opts.idle_timeout_ms = 200;
  Start(opts);
  const auto t0 = std::chrono::steady_clock::now();
  // Nothing sent at all.
  EXPECT_EQ(SendAndReadUntilClose(server_->port(), ""), "");
  // A request whose body never finishes.
  EXPECT_EQ(SendAndReadUntilClose(server_->port(),
                                  "POST /echo/a/x HTTP/1.1\r\nHost: x\r\n"
                                  "Content-Length: 100\r\n\r\nonly part"),
            "");
  // A request that was answered, then nothing more on the kept-alive connection.
  std::string answered =
      SendAndReadUntilClose(server_->port(), "GET /hello?name=x HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_THAT(answered, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(answered, HasSubstr("hi x"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
}

TEST_F(ServerTest, AnswersPipelinedRequestsInOrder) {
  Start();
  std::string got = SendAndReadUntilClose(
      server_->port(),
      "POST /echo/one/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
      "GET /hello?name=two HTTP/1.1\r\nHost: x\r\n\r\n"
      "GET /hello?name=three HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  size_t one = got.find("one||0||abc"), two = got.find("hi two"), three = got.find("hi three");
  ASSERT_NE(one, std::string::npos) << got;
  ASSERT_NE(two, std::string::npos) << got;
  ASSERT_NE(three, std::string::npos) << got;
  EXPECT_LT(one, two);
  EXPECT_LT(two, three);
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
