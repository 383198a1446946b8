// StatsD aggregation as statsd_exporter does it, and the UDP server end to end.
#include "ingest/statsd.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/statsd_server.h"
#include "ingest/test_util.h"

namespace vigil::ingest {
namespace {

using ::testing::HasSubstr;

std::map<std::string, double> Flush(StatsdAggregator* a) {
  DecodedBatch b;
  a->Flush(1000, &b);
  std::map<std::string, double> out;
  for (auto& s : b.samples) {
    NormalizeLabels(&s.labels);
    out[s.labels.ToString()] = s.v;
  }
  return out;
}

TEST(StatsdAggregator, CountersGaugesSetsAndTags) {
  StatsdAggregator a;
  auto r = a.Ingest("api.hits:1|c\napi.hits:2|c|@0.5\ntemp:20|g\ntemp:+5|g\ntemp:-2|g\n"
                    "users:alice|s\nusers:bob|s\nusers:alice|s\n"
                    "req:1|c|#env:prod,region:eu\nreq,env=dev:4|c\nreq#env=qa:5|c\n"
                    "multi:1:2:3|c\n_e{5,4}:title|text\n",
                    0);
  EXPECT_EQ(r.bad_lines, 0) << r.first_error;
  auto m = Flush(&a);
  EXPECT_EQ(m["api_hits{}"], 5);  // 1 + 2/0.5
  EXPECT_EQ(m["temp{}"], 23);
  EXPECT_EQ(m["users{}"], 2);
  EXPECT_EQ(m["req{env=\"prod\", region=\"eu\"}"], 1);
  EXPECT_EQ(m["req{env=\"dev\"}"], 4);
  EXPECT_EQ(m["req{env=\"qa\"}"], 5);
  EXPECT_EQ(m["multi{}"], 6);
  // Sets start over each interval; counters and gauges keep their value.
  auto m2 = Flush(&a);
  EXPECT_EQ(m2["users{}"], 0);
  EXPECT_EQ(m2["api_hits{}"], 5);
}

TEST(StatsdAggregator, TimersBecomeSummariesInSeconds) {
  StatsdAggregator a;
  std::string packet;
  for (int i = 1; i <= 100; ++i) packet += "lat:" + std::to_string(i) + "|ms\n";
  a.Ingest(packet, 0);
  auto m = Flush(&a);
  EXPECT_DOUBLE_EQ(m["lat{quantile=\"0.5\"}"], 0.05);
  EXPECT_DOUBLE_EQ(m["lat{quantile=\"0.9\"}"], 0.09);
  EXPECT_DOUBLE_EQ(m["lat{quantile=\"0.99\"}"], 0.099);
  EXPECT_EQ(m["lat_count{}"], 100);
  EXPECT_NEAR(m["lat_sum{}"], 5.05, 1e-9);
}

TEST(StatsdAggregator, HistogramObserverWithSampleRate) {
  StatsdOptions o;
  o.observer = StatsdOptions::Observer::kHistogram;
  o.buckets = {1, 10};
  StatsdAggregator a(o);
  a.Ingest("size:0.5|h\nsize:5|h|@0.5\nsize:50|d\n", 0);
  auto m = Flush(&a);
  EXPECT_EQ(m["size_bucket{le=\"1\"}"], 1);
  EXPECT_EQ(m["size_bucket{le=\"10\"}"], 3);
  EXPECT_EQ(m["size_bucket{le=\"+Inf\"}"], 4);
  EXPECT_EQ(m["size_count{}"], 4);
  EXPECT_EQ(m["size_sum{}"], 60.5);
}

TEST(StatsdAggregator, CountsMalformedLines) {
  StatsdAggregator a;
  const char* bad[] = {"noval", ":1|c", "x:1", "x:1|q", "x:abc|c", "x:1|c|@2", "x:1|c|@0", "x:nan|g"};
  for (const char* line : bad) {
    auto r = a.Ingest(line, 0);
    EXPECT_EQ(r.bad_lines, 1) << line;
    EXPECT_FALSE(r.first_error.empty());
  }
  EXPECT_EQ(a.num_series(), 0u);
}

TEST(StatsdAggregator, DropsSeriesPastTheLimitAndKindClashes) {
  StatsdOptions o;
  o.max_series = 1;
  StatsdAggregator a(o);
  auto r = a.Ingest("a:1|c\nb:1|c\na:1|g\n", 0);
  EXPECT_EQ(r.dropped, 1);
  EXPECT_EQ(a.num_series(), 1u);
  EXPECT_EQ(Flush(&a)["a{}"], 1);
}

TEST(StatsdServer, ReceivesUdpAndWritesOnFlush) {
  MemDb db;
  IngestMetrics m(nullptr);
  StatsdServerOptions so;
  so.listen_address = "127.0.0.1:0";
  so.flush_interval_ms = 3'600'000;  // flushed by hand below
  StatsdServer server(so, db.db(), &m);
  ASSERT_TRUE(server.Start().ok());
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(server.port()));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const std::string msg = "jobs.done:3|c|#queue:q1";
  ASSERT_EQ(sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)),
            static_cast<ssize_t>(msg.size()));
  close(fd);
  // Wait for the receive thread to aggregate it.
  for (int i = 0; i < 200; ++i) {
    WriteResult r = server.FlushNow();
    if (r.samples_stored > 0) break;
    usleep(10'000);
  }
  server.Stop();
  auto d = db.Dump();
  ASSERT_EQ(d.count("jobs_done{queue=\"q1\"}"), 1u);
  EXPECT_EQ(d["jobs_done{queue=\"q1\"}"].back().second, 3);
}

TEST(StatsdServer, FailsToStartOnABadAddress) {
  MemDb db;
  IngestMetrics m(nullptr);
  StatsdServerOptions so;
  so.listen_address = "no-port";
  StatsdServer server(so, db.db(), &m);
  EXPECT_THAT(std::string(server.Start().message()), HasSubstr("want host:port"));
}

}  // namespace
}  // namespace vigil::ingest
