#include "base/encoding.h"

#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace vigil {
namespace {

TEST(Encbuf, RoundTripsEveryWidth) {
  Encbuf e;
  e.PutByte(0xab);
  e.PutBE16(0x1234);
  e.PutBE32(0xdeadbeef);
  e.PutBE64(0x0102030405060708);
  e.PutUvarint(300);
  e.PutVarint(-12345678901);
  e.PutUvarintStr("hello");
  e.PutDouble(-0.5);
  e.PutUvarint(std::numeric_limits<uint64_t>::max());

  Decbuf d(e.str());
  EXPECT_EQ(d.Byte(), 0xab);
  EXPECT_EQ(d.BE16(), 0x1234);
  EXPECT_EQ(d.BE32(), 0xdeadbeefu);
  EXPECT_EQ(d.BE64(), 0x0102030405060708u);
  EXPECT_EQ(d.Uvarint(), 300u);
  EXPECT_EQ(d.Varint(), -12345678901);
  EXPECT_EQ(d.UvarintStr(), "hello");
  EXPECT_EQ(d.Double(), -0.5);
  EXPECT_EQ(d.Uvarint(), std::numeric_limits<uint64_t>::max());
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(d.remaining(), 0u);
}

TEST(Decbuf, ReportsTruncationWithOffsetAndStaysFailed) {
  Encbuf e;
  e.PutBE32(7);
  Decbuf d(std::string_view(e.str()).substr(0, 3));
  EXPECT_EQ(d.BE32(), 0u);
  EXPECT_FALSE(d.ok());
  EXPECT_NE(d.err().message().find("offset 0"), std::string::npos) << d.err();
  EXPECT_EQ(d.Byte(), 0);
}

TEST(Decbuf, RejectsOverlongVarint) {
  std::string b(11, '\xff');
  Decbuf d(b);
  d.Uvarint();
  EXPECT_FALSE(d.ok());
}

TEST(BitStream, RoundTripsRandomWidths) {
  std::mt19937_64 rng(42);
  for (int round = 0; round < 50; ++round) {
    std::string out;
    BitWriter w(&out);
    std::vector<std::pair<uint64_t, int>> written;
    for (int i = 0; i < 500; ++i) {
      int n = static_cast<int>(rng() % 65);
      const uint64_t raw = rng();  // the writer must ignore the bits above `n`
      w.WriteBits(raw, n);
      written.emplace_back(n < 64 ? raw & ((uint64_t{1} << n) - 1) : raw, n);
    }
    BitReader r(reinterpret_cast<const uint8_t*>(out.data()), out.size());
    for (auto [v, n] : written) {
      uint64_t got;
      ASSERT_TRUE(r.ReadBits(n, &got));
      ASSERT_EQ(got, v) << "width " << n;
    }
  }
}

TEST(BitStream, ResumeContinuesAPartialByte) {
  std::string out;
  BitWriter w(&out);
  w.WriteBits(0b101, 3);
  int free_bits = w.free_bits();
  BitWriter w2(&out);
  w2.Resume(free_bits);
  w2.WriteBits(0b11111, 5);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(static_cast<uint8_t>(out[0]), 0b10111111);
}

TEST(BitReader, FailsPastTheEnd) {
  std::string b = "\x01";
  BitReader r(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  uint64_t v;
  EXPECT_TRUE(r.ReadBits(8, &v));
  EXPECT_FALSE(r.ReadBits(1, &v));
}

}  // namespace
}  // namespace vigil
