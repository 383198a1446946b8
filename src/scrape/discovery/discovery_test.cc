#include "scrape/discovery/discovery.h"

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "scrape/test_util.h"

namespace vigil::scrape::discovery {
namespace {

TEST(ParseTargetGroups, ReadsJsonAndYamlWithMetaLabels) {
  const std::string json =
      R"([{"targets": ["a:1", "b:2"], "labels": {"env": "prod"}}, {"targets": ["c:3"]}])";
  const std::string yaml = "- targets: [a:1, b:2]\n  labels:\n    env: prod\n- targets: [c:3]\n";
  for (const std::string& text : {json, yaml}) {
    auto got = ParseTargetGroups(text, "f.json", model::Labels{{"__meta_filepath", "f.json"}});
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 2u);
    EXPECT_EQ((*got)[0].source, "f.json:0");
    EXPECT_EQ((*got)[0].targets.size(), 2u);
    EXPECT_EQ((*got)[0].labels.Get("env"), "prod");
    EXPECT_EQ((*got)[0].labels.Get("__meta_filepath"), "f.json");
    EXPECT_EQ((*got)[1].targets[0].Get("__address__"), "c:3");
  }
}

TEST(ParseTargetGroups, RejectsMalformedDocuments) {
  for (std::string bad : {"{\"targets\": []}", "[{\"targetz\": []}]", "[{\"targets\": [\"\"]}]",
                          "[{\"targets\": [\"a\"], \"labels\": {\"1x\": \"v\"}}]", "[{"}) {
    EXPECT_FALSE(ParseTargetGroups(bad, "s", {}).ok()) << bad;
  }
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/vigil_sd_XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  std::ofstream(tmp) << text;
  std::filesystem::rename(tmp, path);
}

TEST(FileProvider, NoticesEditsThroughChanged) {
  TempDir dir;
  const std::string f = dir.path() + "/t.json";
  WriteFile(f, R"([{"targets": ["a:1"]}])");
  FileSdConfig cfg;
  cfg.files = {dir.path() + "/*.json"};
  auto p = NewFileProvider(cfg);
  auto first = p->Refresh();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->size(), 1u);
  EXPECT_FALSE(p->Changed());
  WriteFile(f, R"([{"targets": ["a:1", "b:2"]}])");
  EXPECT_TRUE(p->Changed());
  auto second = p->Refresh();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)[0].targets.size(), 2u);
  WriteFile(dir.path() + "/u.json", R"([{"targets": ["c:3"]}])");
  EXPECT_TRUE(p->Changed());  // a new file matching the glob
}

TEST(DnsProvider, ResolvesARecordsThroughTheSystemResolver) {
  DnsSdConfig cfg;
  cfg.names = {"localhost"};
  cfg.type = "A";
  cfg.port = 9100;
  auto got = NewDnsProvider(cfg)->Refresh();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  ASSERT_FALSE((*got)[0].targets.empty());
  EXPECT_EQ((*got)[0].targets[0].Get("__address__"), "127.0.0.1:9100");
  EXPECT_EQ((*got)[0].targets[0].Get("__meta_dns_name"), "localhost");
}

TEST(HttpProvider, FetchesGroupsAndAddsMetaUrl) {
  testing::FakeExporter server;
  server.Set("/sd", {200, R"([{"targets": ["x:1"], "labels": {"team": "a"}}])",
                     "application/json"});
  HttpSdConfig cfg;
  cfg.url = "http://" + server.address() + "/sd";
  auto got = NewHttpProvider(cfg)->Refresh();
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].labels.Get("__meta_url"), cfg.url);
  EXPECT_EQ((*got)[0].labels.Get("team"), "a");

  server.Set("/sd", {500, "boom"});
  EXPECT_FALSE(NewHttpProvider(cfg)->Refresh().ok());
}

// Collects what the manager publishes.
struct Sink {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::vector<TargetGroup>> jobs;
  int calls = 0;

  size_t NumTargets(const std::string& job) {
    size_t n = 0;
    for (const auto& g : jobs[job]) n += g.targets.size();
    return n;
  }
  bool WaitFor(const std::string& job, size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return NumTargets(job) == n; });
  }
};

TEST(DiscoveryManager, FileEditsMakeTargetsComeAndGo) {
  TempDir dir;
  const std::string f = dir.path() + "/targets.yml";
  WriteFile(f, "- targets: ['a:1']\n");
  Sink sink;
  DiscoveryManager dm(
      [&](const std::string& job, std::vector<TargetGroup> groups) {
        std::lock_guard lock(sink.mu);
        sink.jobs[job] = std::move(groups);
        ++sink.calls;
        sink.cv.notify_all();
      },
      /*poll_ms=*/50);
  ScrapeConfig c;
  c.job_name = "files";
  c.fingerprint = "1";
  c.static_configs = {TargetGroup{"0", {model::Labels{{"__address__", "static:1"}}}, {}}};
  c.file_sd_configs = {FileSdConfig{{f}, 3600'000}};
  dm.ApplyConfig({c});
  dm.Start();
  ASSERT_TRUE(sink.WaitFor("files", 2));  // static + file
  WriteFile(f, "- targets: ['a:1', 'b:2', 'c:3']\n");
  ASSERT_TRUE(sink.WaitFor("files", 4));
  WriteFile(f, "[]\n");
  ASSERT_TRUE(sink.WaitFor("files", 1));
  dm.Stop();
}

}  // namespace
}  // namespace vigil::scrape::discovery
