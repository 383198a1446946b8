#include "storage/block/tombstones.h"

#include <limits>

#include "gtest/gtest.h"

namespace vigil::storage::block {
namespace {

struct AddCase {
  const char* name;
  Intervals start;
  Interval add;
  Intervals want;
};

class IntervalsAdd : public testing::TestWithParam<AddCase> {};

TEST_P(IntervalsAdd, MergesOverlappingAndAdjacentRanges) {
  Intervals ivs = GetParam().start;
  AddInterval(&ivs, GetParam().add);
  EXPECT_EQ(ivs, GetParam().want);
}

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

INSTANTIATE_TEST_SUITE_P(
    Cases, IntervalsAdd,
    testing::Values(AddCase{"into_empty", {}, {1, 2}, {{1, 2}}},
                    AddCase{"before", {{10, 20}}, {1, 5}, {{1, 5}, {10, 20}}},
                    AddCase{"after", {{10, 20}}, {30, 40}, {{10, 20}, {30, 40}}},
                    AddCase{"adjacent_merges", {{10, 20}}, {21, 30}, {{10, 30}}},
                    AddCase{"bridges_two", {{1, 5}, {10, 20}}, {4, 12}, {{1, 20}}},
                    AddCase{"inside", {{1, 50}}, {10, 20}, {{1, 50}}},
                    AddCase{"empty_interval_ignored", {{1, 5}}, {9, 8}, {{1, 5}}},
                    AddCase{"full_range", {{1, 5}}, {kMin, kMax}, {{kMin, kMax}}},
                    AddCase{"at_max", {{kMax - 1, kMax}}, {kMin, kMin}, {{kMin, kMin}, {kMax - 1, kMax}}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(Tombstones, IsDeletedChecksInclusiveEnds) {
  Intervals ivs{{10, 20}, {30, 40}};
  EXPECT_FALSE(IsDeleted(ivs, 9));
  EXPECT_TRUE(IsDeleted(ivs, 10));
  EXPECT_TRUE(IsDeleted(ivs, 20));
  EXPECT_FALSE(IsDeleted(ivs, 25));
  EXPECT_TRUE(IsDeleted(ivs, 40));
  EXPECT_FALSE(IsDeleted(ivs, 41));
}

TEST(Tombstones, EncodeDecodeRoundTripAndCorruptionIsCaught) {
  Tombstones t;
  t.Add(3, {100, 200});
  t.Add(3, {500, 600});
  t.Add(70000, {kMin, kMax});
  std::string b = t.Encode();
  auto d = Tombstones::Decode(b);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->all(), t.all());
  for (size_t i = 0; i < b.size(); ++i) {
    std::string bad = b;
    bad[i] ^= 0x10;
    EXPECT_FALSE(Tombstones::Decode(bad).ok()) << i;
  }
  EXPECT_FALSE(Tombstones::Decode(b.substr(0, b.size() - 1)).ok());
}

}  // namespace
}  // namespace vigil::storage::block
