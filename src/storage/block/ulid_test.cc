#include "storage/block/ulid.h"

#include <set>

#include "gtest/gtest.h"

namespace vigil::storage::block {
namespace {

TEST(Ulid, RoundTripsThroughItsString) {
  for (int i = 0; i < 1000; ++i) {
    Ulid u = NewUlid(1700000000000 + i);
    std::string s = u.ToString();
    ASSERT_EQ(s.size(), 26u);
    auto p = Ulid::Parse(s);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(*p, u);
    EXPECT_EQ(p->time_ms(), 1700000000000u + i);
  }
}

TEST(Ulid, StringsSortByTime) {
  std::string a = NewUlid(1000).ToString(), b = NewUlid(2000).ToString();
  EXPECT_LT(a, b);
  EXPECT_LT(NewUlid(1000), NewUlid(2000));
}

TEST(Ulid, KnownEncoding) {
  Ulid zero;
  EXPECT_EQ(zero.ToString(), "00000000000000000000000000");
  Ulid max;
  max.bytes.fill(0xff);
  EXPECT_EQ(max.ToString(), "7ZZZZZZZZZZZZZZZZZZZZZZZZZ");
  EXPECT_EQ(*Ulid::Parse("7zzzzzzzzzzzzzzzzzzzzzzzzz"), max);
}

TEST(Ulid, RandomPartDiffers) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) seen.insert(NewUlid(5).ToString());
  EXPECT_EQ(seen.size(), 100u);
}

TEST(Ulid, ParseRejectsBadInput) {
  EXPECT_FALSE(Ulid::Parse("").ok());
  EXPECT_FALSE(Ulid::Parse("0000000000000000000000000").ok());     // 25
  EXPECT_FALSE(Ulid::Parse("8ZZZZZZZZZZZZZZZZZZZZZZZZZ").ok());    // overflow
  EXPECT_FALSE(Ulid::Parse("0000000000000000000000000U").ok());    // U is not Crockford
}

}  // namespace
}  // namespace vigil::storage::block
