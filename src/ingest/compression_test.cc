// Decompress: every encoding senders use, corrupt input, and the size cap (413).
#include "ingest/compression.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "ingest/compress_testutil.h"

namespace vigil::ingest {
namespace {

using testutil::Gzip;
using testutil::Snappy;
using testutil::Zstd;

TEST(Decompress, RoundTripsEveryEncoding) {
  std::string big;
  for (int i = 0; i < 100000; ++i) big += "metric_" + std::to_string(i % 97) + " 1\n";
  const std::pair<const char*, std::string> cases[] = {
      {"", big}, {"identity", big}, {"gzip", Gzip(big, 31)}, {"x-gzip", Gzip(big, 31)},
      {"deflate", Gzip(big, 15)}, {"snappy", Snappy(big)}, {"zstd", Zstd(big)}};
  for (const auto& [enc, body] : cases) {
    std::string scratch;
    auto got = Decompress(enc, body, 64 << 20, &scratch);
    ASSERT_TRUE(got.ok()) << enc << ": " << got.status();
    EXPECT_EQ(*got, big) << enc;
  }
}

TEST(Decompress, CapsTheOutputSize) {
  const std::string zeros(10 << 20, '\0');
  for (const auto& [enc, body] : std::vector<std::pair<const char*, std::string>>{
           {"gzip", Gzip(zeros, 31)}, {"snappy", Snappy(zeros)}, {"zstd", Zstd(zeros)}, {"", zeros}}) {
    std::string scratch;
    auto got = Decompress(enc, body, 1 << 20, &scratch);
    ASSERT_FALSE(got.ok()) << enc;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kResourceExhausted) << enc;
    EXPECT_THAT(std::string(got.status().message()), ::testing::HasSubstr("exceeds the limit of 1048576 bytes"));
  }
}

TEST(Decompress, RejectsCorruptAndTruncatedInput) {
  const std::string text(1000, 'x');
  const std::string gz = Gzip(text, 31), zs = Zstd(text);
  const std::pair<const char*, std::string> cases[] = {
      {"gzip", "not gzip"}, {"gzip", gz.substr(0, gz.size() / 2)}, {"snappy", "\xff\xff\xff\xff\xff"},
      {"zstd", "nope"},     {"zstd", zs.substr(0, zs.size() - 3)}, {"deflate", "\x78\x9c\xff"}};
  for (const auto& [enc, body] : cases) {
    std::string scratch;
    auto got = Decompress(enc, body, 1 << 20, &scratch);
    ASSERT_FALSE(got.ok()) << enc;
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << enc;
  }
}

TEST(Decompress, RefusesUnknownEncodings) {
  std::string scratch;
  auto got = Decompress("br", "x", 100, &scratch);
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnimplemented);
}

}  // namespace
}  // namespace vigil::ingest
