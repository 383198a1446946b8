// Remote read through a real server over a real DB: both response kinds decoded as a
// client would, the XOR chunks by an independent reader written from Prometheus's chunk
// layout.
#include "http/remote_read.h"

#include <bit>
#include <cmath>
#include <random>

#include "base/crc32c.h"
#include "base/encoding.h"
#include "fs/file_system.h"
#include "gtest/gtest.h"
#include "http/test_client.h"
#include "remote_read.pb.h"
#include "snappy.h"
#include "storage/db.h"

namespace vigil::http {
namespace {

namespace pb = ::vigil::remoteread;

constexpr int64_t kT0 = 1'700'000'000'000;

// Prometheus's XOR chunk reader, written independently of the encoder under test.
std::vector<std::pair<int64_t, double>> DecodeXor(const std::string& b) {
  std::vector<std::pair<int64_t, double>> out;
  if (b.size() < 2) return out;
  const int n = (static_cast<uint8_t>(b[0]) << 8) | static_cast<uint8_t>(b[1]);
  BitReader r(reinterpret_cast<const uint8_t*>(b.data()) + 2, b.size() - 2);
  auto bits = [&](int k) {
    uint64_t v = 0;
    EXPECT_TRUE(r.ReadBits(k, &v));
    return v;
  };
  auto uvarint = [&] {
    uint64_t v = 0;
    for (int shift = 0;; shift += 7) {
      uint64_t byte = bits(8);
      v |= (byte & 0x7f) << shift;
      if (byte < 0x80) return v;
    }
  };
  int64_t t = 0, delta = 0;
  uint64_t vbits = 0;
  int leading = 0, trailing = 0;
  auto read_value = [&] {
    if (bits(1) == 0) return;
    if (bits(1) == 1) {
      leading = static_cast<int>(bits(5));
      int sig = static_cast<int>(bits(6));
      if (sig == 0) sig = 64;
      trailing = 64 - leading - sig;
    }
    const int sig = 64 - leading - trailing;
    vbits ^= bits(sig) << trailing;
  };
  for (int i = 0; i < n; ++i) {
    if (i == 0) {
      uint64_t zz = uvarint();
      t = static_cast<int64_t>(zz >> 1) ^ -static_cast<int64_t>(zz & 1);
      vbits = bits(64);
    } else if (i == 1) {
      delta = static_cast<int64_t>(uvarint());
      t += delta;
      read_value();
    } else {
      int width = 0;
      int ones = 0;
      while (ones < 4 && bits(1) == 1) ++ones;
      const int widths[] = {0, 14, 17, 20, 64};
      width = widths[ones];
      int64_t dod = 0;
      if (width == 64) {
        dod = static_cast<int64_t>(bits(64));
      } else if (width > 0) {
        uint64_t raw = bits(width);
        // Prometheus reads values above 2^(w-1) as negative.
        if (raw > (uint64_t{1} << (width - 1))) raw -= uint64_t{1} << width;
        dod = static_cast<int64_t>(raw);
      }
      delta += dod;
      t += delta;
      read_value();
    }
    out.emplace_back(t, std::bit_cast<double>(vbits));
  }
  return out;
}

TEST(EncodePromXorChunk, RoundTripsThroughAnIndependentReader) {
  std::mt19937_64 rng(7);
  std::vector<int64_t> ts;
  std::vector<double> vs;
  int64_t t = -5000;  // a negative first timestamp exercises the zig-zag varint
  double v = 100;
  const int64_t gaps[] = {15000, 15000, 15001, 14990, 8192 + 15000, 15000 - 8191, 200000,
                          15000, 3'000'000'000LL, 1, 15000};
  for (int i = 0; i < 120; ++i) {
    ts.push_back(t);
    vs.push_back(v);
    t += gaps[i % std::size(gaps)];
    switch (i % 5) {
      case 0: break;  // repeat
      case 1: v += 1; break;
      case 2: v = std::bit_cast<double>(rng()); break;
      case 3: v = i % 2 ? std::nan("") : -0.0; break;
      default: v = static_cast<double>(rng() % 1000) / 7; break;
    }
    if (std::isnan(v) && i % 3 == 0) v = 1e300;
  }
  std::string chunk = EncodePromXorChunk(ts.data(), vs.data(), ts.size());
  auto got = DecodeXor(chunk);
  ASSERT_EQ(got.size(), ts.size());
  for (size_t i = 0; i < ts.size(); ++i) {
    EXPECT_EQ(got[i].first, ts[i]) << i;
    EXPECT_EQ(std::bit_cast<uint64_t>(got[i].second), std::bit_cast<uint64_t>(vs[i])) << i;
  }
}

TEST(AppendStreamFrame, WritesUvarintSizeBigEndianCrc32cThenTheMessage) {
  std::string msg(200, 'x');
  std::string out;
  AppendStreamFrame(&out, msg);
  ASSERT_EQ(out.size(), 2 + 4 + 200u);
  EXPECT_EQ(static_cast<uint8_t>(out[0]), 0xc8);  // 200 = 0b1_1001000
  EXPECT_EQ(static_cast<uint8_t>(out[1]), 0x01);
  const uint32_t crc = crc32c::Value(msg);
  EXPECT_EQ(static_cast<uint8_t>(out[2]), crc >> 24);
  EXPECT_EQ(static_cast<uint8_t>(out[5]), crc & 0xff);
  EXPECT_EQ(out.substr(6), msg);
}

class RemoteReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RemoteReadOptions o;
    o.max_bytes_in_frame = 64;  // small, so that a series spans several frames
    rr_ = std::make_unique<RemoteRead>(&api_, o);
    rr_->Register(&router_);
    ServerOptions opts;
    opts.listen_address = "127.0.0.1:0";
    server_ = std::make_unique<Server>(opts, &router_);
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>(server_->port());
    storage::Options so;
    so.path = "/data";
    so.fs = fs_.get();
    so.background_compaction = false;
    auto db = storage::DB::Open(so);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    api_.AttachStorage(db_.get(), nullptr);
    auto app = db_->NewAppender(storage::kDefaultTenant);
    for (int i = 0; i < 300; ++i) {
      ASSERT_TRUE(app->Append(0, {{"__name__", "m"}, {"job", "a"}}, kT0 + i * 15'000 + i % 7, i * 0.5).ok());
      ASSERT_TRUE(app->Append(0, {{"__name__", "m"}, {"job", "b"}}, kT0 + i * 15'000, 1).ok());
    }
    ASSERT_TRUE(app->Commit().ok());
  }
  void TearDown() override {
    client_.reset();
    server_->Stop();
    api_.DetachStorage();
    ASSERT_TRUE(db_->Close().ok());
  }

  TestResponse Read(const pb::ReadRequest& req) {
    std::string raw = req.SerializeAsString(), body;
    snappy::Compress(raw.data(), raw.size(), &body);
    return client_->Do("POST", "/api/v1/read", body,
                       {{"Content-Encoding", "snappy"}, {"Content-Type", "application/x-protobuf"},
                        {"X-Prometheus-Remote-Read-Version", "0.1.0"}});
  }

  static pb::ReadRequest Request(int64_t start, int64_t end, const std::string& job_re) {
    pb::ReadRequest req;
    pb::Query* q = req.add_queries();
    q->set_start_timestamp_ms(start);
    q->set_end_timestamp_ms(end);
    auto* m = q->add_matchers();
    m->set_type(pb::LabelMatcher::EQ);
    m->set_name("__name__");
    m->set_value("m");
    m = q->add_matchers();
    m->set_type(pb::LabelMatcher::RE);
    m->set_name("job");
    m->set_value(job_re);
    return req;
  }

  metrics::Registry registry_;
  Api api_{{"0.1.0", "abc123", "main", "tester", "20260101-00:00:00"}, &registry_};
  std::unique_ptr<RemoteRead> rr_;
  Router router_{&registry_};
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestClient> client_;
  std::unique_ptr<fs::FileSystem> fs_ = fs::NewMemFileSystem();
  std::unique_ptr<storage::DB> db_;
};

TEST_F(RemoteReadTest, SamplesResponseHoldsEverySampleInRange) {
  auto r = Read(Request(kT0, kT0 + 99 * 15'000 + 6, "a|b"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], "application/x-protobuf");
  EXPECT_EQ(r.headers["content-encoding"], "snappy");
  std::string raw;
  ASSERT_TRUE(snappy::Uncompress(r.body.data(), r.body.size(), &raw));
  pb::ReadResponse resp;
  ASSERT_TRUE(resp.ParseFromString(raw));
  ASSERT_EQ(resp.results_size(), 1);
  ASSERT_EQ(resp.results(0).timeseries_size(), 2);
  const auto& a = resp.results(0).timeseries(0);
  ASSERT_EQ(a.labels_size(), 2);  // no __tenant__
  EXPECT_EQ(a.labels(0).name(), "__name__");
  EXPECT_EQ(a.labels(1).value(), "a");
  ASSERT_EQ(a.samples_size(), 100);
  EXPECT_EQ(a.samples(99).timestamp(), kT0 + 99 * 15'000 + 1);
  EXPECT_EQ(a.samples(99).value(), 49.5);
}

TEST_F(RemoteReadTest, StreamedResponseCarriesXorChunksInCheckedFrames) {
  pb::ReadRequest req = Request(kT0, kT0 + 3'600'000 * 2, "a");
  req.add_accepted_response_types(pb::ReadRequest::STREAMED_XOR_CHUNKS);
  auto r = Read(req);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.headers["content-type"], kStreamedContentType);
  std::vector<std::pair<int64_t, double>> samples;
  size_t pos = 0;
  int frames = 0;
  while (pos < r.body.size()) {
    uint64_t n = 0;
    for (int shift = 0;; shift += 7) {
      uint8_t byte = static_cast<uint8_t>(r.body[pos++]);
      n |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if (byte < 0x80) break;
    }
    uint32_t crc = 0;
    for (int k = 0; k < 4; ++k) crc = crc << 8 | static_cast<uint8_t>(r.body[pos++]);
    std::string msg = r.body.substr(pos, n);
    pos += n;
    EXPECT_EQ(crc, crc32c::Value(msg));
    pb::ChunkedReadResponse cr;
    ASSERT_TRUE(cr.ParseFromString(msg));
    EXPECT_EQ(cr.query_index(), 0);
    ASSERT_EQ(cr.chunked_series_size(), 1);
    EXPECT_EQ(cr.chunked_series(0).labels(1).value(), "a");
    for (const auto& c : cr.chunked_series(0).chunks()) {
      EXPECT_EQ(c.type(), pb::Chunk::XOR);
      auto got = DecodeXor(c.data());
      ASSERT_FALSE(got.empty());
      EXPECT_LE(got.size(), 120u);
      EXPECT_EQ(got.front().first, c.min_time_ms());
      EXPECT_EQ(got.back().first, c.max_time_ms());
      samples.insert(samples.end(), got.begin(), got.end());
    }
    ++frames;
  }
  EXPECT_GT(frames, 1);
  ASSERT_EQ(samples.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(samples[i].first, kT0 + i * 15'000 + i % 7);
    EXPECT_EQ(samples[i].second, i * 0.5);
  }
}

TEST_F(RemoteReadTest, RejectsBadBodiesAndUnknownResponseTypes) {
  EXPECT_EQ(client_->Do("POST", "/api/v1/read", "not snappy").status, 400);
  pb::ReadRequest req = Request(kT0, kT0 + 1000, "a");
  req.add_accepted_response_types(static_cast<pb::ReadRequest::ResponseType>(7));
  auto r = Read(req);
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("none of the accepted response types"), std::string::npos);
  req = Request(kT0, kT0 + 1000, "(");
  EXPECT_EQ(Read(req).status, 400);
}

}  // namespace
}  // namespace vigil::http
