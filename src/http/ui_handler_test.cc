// The web UI's static serving through a real server: types, the SPA fallback, caching
// headers, gzip, ETag revalidation, HEAD and the redirects.
#include "http/ui_handler.h"

#include <memory>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/test_client.h"

namespace vigil::http {
namespace {

constexpr EmbeddedFile kFiles[] = {
    {"assets/app-3F2A1B.css", "body{}", "", "\"c55\""},
    {"assets/app-3F2A1B.js", "console.log(1)", "GZIPPED-JS", "\"a11\""},
    {"favicon.svg", "<svg/>", "", "\"f00\""},
    {"index.html", "<!doctype html><div id=app></div>", "GZIPPED-HTML", "\"b22\""},
};

class UiHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ui_.Register(&router_);
    router_.Handle("GET", "/api/v1/labels", [](const Request&, Response* r) { r->Json(200, "{}"); });
    ServerOptions opts;
    opts.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(opts, &router_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
  }
  void TearDown() override { server_->Stop(); }

  metrics::Registry registry_;
  Router router_{&registry_};
  UiHandler ui_{kFiles};
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestClient> client_;
};

TEST_F(UiHandlerTest, RootAndBarePrefixRedirectToTheUi) {
  for (const char* path : {"/", "/ui"}) {
    auto r = client_->Do("GET", path);
    EXPECT_EQ(r.status, 302) << path;
    EXPECT_EQ(r.headers["location"], "/ui/") << path;
  }
}

TEST_F(UiHandlerTest, ServesIndexAtTheRootWithNoCache) {
  auto r = client_->Do("GET", "/ui/");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "<!doctype html><div id=app></div>");
  EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_EQ(r.headers["cache-control"], "no-cache");
  EXPECT_EQ(r.headers["etag"], "\"b22\"");
  EXPECT_EQ(r.headers["vary"], "Accept-Encoding");
  EXPECT_EQ(r.headers["x-content-type-options"], "nosniff");
}

TEST_F(UiHandlerTest, ServesAssetsAsImmutableWithTheirType) {
  auto js = client_->Do("GET", "/ui/assets/app-3F2A1B.js");
  EXPECT_EQ(js.status, 200);
  EXPECT_EQ(js.body, "console.log(1)");
  EXPECT_EQ(js.headers["content-type"], "text/javascript; charset=utf-8");
  EXPECT_EQ(js.headers["cache-control"], "public, max-age=31536000, immutable");
  auto css = client_->Do("GET", "/ui/assets/app-3F2A1B.css");
  EXPECT_EQ(css.headers["content-type"], "text/css; charset=utf-8");
  EXPECT_EQ(css.headers.count("vary"), 0u);  // no gzip copy, nothing varies
  auto svg = client_->Do("GET", "/ui/favicon.svg");
  EXPECT_EQ(svg.headers["content-type"], "image/svg+xml");
  EXPECT_EQ(svg.headers["cache-control"], "no-cache");
}

TEST_F(UiHandlerTest, ClientSideRoutesGetIndexHtml) {
  for (const char* path : {"/ui/explore", "/ui/dashboards", "/ui/dashboards/vigil-overview",
                           "/ui/alerts", "/ui/status", "/ui/assets/no-extension",
                           "/ui/explore?g0.expr=up"}) {
    auto r = client_->Do("GET", path);
    EXPECT_EQ(r.status, 200) << path;
    EXPECT_EQ(r.body, "<!doctype html><div id=app></div>") << path;
    EXPECT_EQ(r.headers["cache-control"], "no-cache") << path;
  }
}

TEST_F(UiHandlerTest, MissingFilesWithAnExtensionAre404) {
  for (const char* path : {"/ui/assets/app-OLD.js", "/ui/robots.txt", "/ui/dashboards/x.json"}) {
    EXPECT_EQ(client_->Do("GET", path).status, 404) << path;
  }
}

TEST_F(UiHandlerTest, GzipWhenAccepted) {
  auto r = client_->Do("GET", "/ui/assets/app-3F2A1B.js", "", {{"Accept-Encoding", "gzip, deflate, br"}});
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "GZIPPED-JS");
  EXPECT_EQ(r.headers["content-encoding"], "gzip");
  EXPECT_EQ(r.headers["etag"], "\"a11-gzip\"");
  EXPECT_EQ(r.headers["vary"], "Accept-Encoding");

  auto refused = client_->Do("GET", "/ui/assets/app-3F2A1B.js", "", {{"Accept-Encoding", "gzip;q=0"}});
  EXPECT_EQ(refused.body, "console.log(1)");
  EXPECT_EQ(refused.headers.count("content-encoding"), 0u);
  // A file without a gzip copy is sent as is.
  auto css = client_->Do("GET", "/ui/assets/app-3F2A1B.css", "", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(css.body, "body{}");
  EXPECT_EQ(css.headers.count("content-encoding"), 0u);
}

TEST_F(UiHandlerTest, MatchingEtagIs304WithoutBody) {
  auto r = client_->Do("GET", "/ui/", "", {{"If-None-Match", "\"b22\""}});
  EXPECT_EQ(r.status, 304);
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.headers["etag"], "\"b22\"");
  EXPECT_EQ(r.headers["cache-control"], "no-cache");
  // The gzip representation has its own tag.
  auto gz = client_->Do("GET", "/ui/", "", {{"If-None-Match", "\"b22-gzip\""}, {"Accept-Encoding", "gzip"}});
  EXPECT_EQ(gz.status, 304);
  auto stale = client_->Do("GET", "/ui/", "", {{"If-None-Match", "\"old\""}});
  EXPECT_EQ(stale.status, 200);
  EXPECT_EQ(stale.body, "<!doctype html><div id=app></div>");
}

TEST_F(UiHandlerTest, HeadAnswersHeadersOnly) {
  auto r = client_->Do("HEAD", "/ui/assets/app-3F2A1B.js");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-length"], "14");
  EXPECT_EQ(r.headers["content-type"], "text/javascript; charset=utf-8");
  // The connection stays usable: no stray body bytes were sent.
  auto next = client_->Do("GET", "/ui/favicon.svg");
  EXPECT_EQ(next.status, 200);
  EXPECT_EQ(next.body, "<svg/>");
}

TEST_F(UiHandlerTest, ApiRoutesAreUntouched) {
  EXPECT_EQ(client_->Do("GET", "/api/v1/labels").status, 200);
  EXPECT_EQ(client_->Do("GET", "/api/v1/nope").status, 404);
  EXPECT_EQ(client_->Do("POST", "/ui/").status, 405);
}

TEST(UiHandler, ContentTypeByExtension) {
  EXPECT_EQ(UiHandler::ContentType("a/b.HTML"), "text/html; charset=utf-8");
  EXPECT_EQ(UiHandler::ContentType("x.woff2"), "font/woff2");
  EXPECT_EQ(UiHandler::ContentType("x.map"), "application/json");
  EXPECT_EQ(UiHandler::ContentType("x.png"), "image/png");
  EXPECT_EQ(UiHandler::ContentType("LICENSE"), "application/octet-stream");
  EXPECT_EQ(UiHandler::ContentType(".js"), "application/octet-stream");
}

TEST(UiHandler, AcceptEncodingParsing) {
  EXPECT_TRUE(AcceptsGzip("gzip"));
  EXPECT_TRUE(AcceptsGzip("deflate, GZIP;q=0.5"));
  EXPECT_TRUE(AcceptsGzip("*"));
  EXPECT_TRUE(AcceptsGzip("br, gzip ; q=1"));
  EXPECT_FALSE(AcceptsGzip(""));
  EXPECT_FALSE(AcceptsGzip("identity"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0"));
  EXPECT_FALSE(AcceptsGzip("gzip;q=0.000, br"));
  EXPECT_FALSE(AcceptsGzip("x-gzip2"));
}

TEST(UiHandler, IfNoneMatchParsing) {
  EXPECT_TRUE(EtagMatches("\"a\"", "\"a\""));
  EXPECT_TRUE(EtagMatches("\"x\", W/\"a\"", "\"a\""));
  EXPECT_TRUE(EtagMatches("*", "\"a\""));
  EXPECT_FALSE(EtagMatches("", "\"a\""));
  EXPECT_FALSE(EtagMatches("\"ab\"", "\"a\""));
}

TEST(Router, RestSegmentMatchesTheRemainingPath) {
  metrics::Registry registry;
  Router router(&registry);
  std::string got;
  router.Handle("GET", "/ui/*path", [&](const Request& req, Response* r) {
    got = std::string(req.PathParam("path"));
    r->Text(200, "");
  });
  for (auto [path, want] : std::vector<std::pair<std::string, std::string>>{
           {"/ui", ""}, {"/ui/", ""}, {"/ui/a", "a"}, {"/ui/a/b/c.js", "a/b/c.js"}}) {
    Request req;
    req.method = "GET";
    req.path = path;
    Response resp;
    router.Serve(req, &resp);
    EXPECT_EQ(resp.status, 200) << path;
    EXPECT_EQ(got, want) << path;
  }
  Request other;
  other.method = "GET";
  other.path = "/uix/a";
  Response resp;
  router.Serve(other, &resp);
  EXPECT_EQ(resp.status, 404);
}

}  // namespace
}  // namespace vigil::http
