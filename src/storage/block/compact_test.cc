#include "storage/block/compact.h"

#include "gtest/gtest.h"
#include "storage/block/block_test_util.h"

namespace vigil::storage::block {
namespace {

using model::Matcher;
using model::MatchType;
using testing::Collect;
using testing::Expect;
using testing::ExpectSameData;
using testing::MakeModel;
using testing::Model;
using testing::SetFromModel;

constexpr int64_t kT0 = 1700000000000;
constexpr int64_t kHour = 3600 * 1000;

std::unique_ptr<Block> WriteAndOpen(fs::FileSystem* fs, const Model& m, int64_t mint, int64_t maxt) {
  auto set = SetFromModel(m);
  auto ulid = Write(fs, "/data", *set, mint, maxt);
  EXPECT_TRUE(ulid.ok()) << ulid.status();
  auto b = Block::Open(fs, "/data/" + ulid->ToString());
  EXPECT_TRUE(b.ok()) << b.status();
  return std::move(*b);
}

TEST(Compact, MergesAdjacentBlocksWithoutChangingTheData) {
  auto fs = fs::NewMemFileSystem();
  ASSERT_TRUE(fs->MkdirAll("/data").ok());
  // Two consecutive 2h blocks of the same series, plus series only in the second.
  Model a = MakeModel(20, 480, kT0, 1);
  Model b = MakeModel(30, 480, kT0 + 2 * kHour, 2);
  auto ba = WriteAndOpen(fs.get(), a, kT0, kT0 + 2 * kHour);
  auto bb = WriteAndOpen(fs.get(), b, kT0 + 2 * kHour, kT0 + 4 * kHour);
  Model all = a;
  for (const auto& [l, s] : b) all[l].insert(all[l].end(), s.begin(), s.end());

  auto ulid = Compact(fs.get(), "/data", {ba.get(), bb.get()});
  ASSERT_TRUE(ulid.ok()) << ulid.status();
  auto c = Block::Open(fs.get(), "/data/" + ulid->ToString());
  ASSERT_TRUE(c.ok()) << c.status();
  const auto& m = (*c)->meta();
  EXPECT_EQ(m.level, 2);
  EXPECT_EQ(m.min_time, kT0);
  EXPECT_EQ(m.max_time, kT0 + 4 * kHour);
  EXPECT_EQ(m.num_series, 30u);
  EXPECT_EQ(m.num_samples, 20u * 480 + 30u * 480);
  ASSERT_EQ(m.sources.size(), 2u);
  for (std::string tenant : {"default", "acme"}) {
    auto q = (*c)->Querier(tenant, model::kMinTime, model::kMaxTime);
    ExpectSameData(Expect(all, tenant, {}, model::kMinTime, model::kMaxTime), Collect(*q, {}));
  }
}

TEST(Compact, OverlappingBlocksAreDeduplicatedAndDeletesApplied) {
  auto fs = fs::NewMemFileSystem();
  ASSERT_TRUE(fs->MkdirAll("/data").ok());
  Model a = MakeModel(12, 240, kT0, 3);
  // The second block repeats the second half of the first (same samples) and goes on.
  Model b;
  for (const auto& [l, s] : a) {
    std::vector<model::Sample> x(s.begin() + 120, s.end());
    for (int k = 0; k < 120; ++k) x.push_back({s.back().t + (k + 1) * 15000, static_cast<double>(k)});
    b[l] = x;
  }
  auto ba = WriteAndOpen(fs.get(), a, kT0, kT0 + 2 * kHour);
  auto bb = WriteAndOpen(fs.get(), b, kT0, kT0 + 4 * kHour);
  model::Matchers del{Matcher::MustMake(MatchType::kEqual, "job", "db")};
  const int64_t dmin = kT0 + 30 * 60000, dmax = kT0 + 40 * 60000;
  ASSERT_TRUE(ba->Delete("default", del, dmin, dmax).ok());
  ASSERT_TRUE(bb->Delete("default", del, dmin, dmax).ok());

  Model want = a;
  for (const auto& [l, s] : b) {
    auto& w = want[l];
    for (const auto& x : s) {
      if (x.t > w.back().t) w.push_back(x);
    }
  }
  for (auto& [l, s] : want) {
    if (l.Get("job") == "db" && l.Get("__tenant__") == "default") {
      std::erase_if(s, [&](const model::Sample& x) { return x.t >= dmin && x.t <= dmax; });
    }
  }
  auto ulid = Compact(fs.get(), "/data", {ba.get(), bb.get()});
  ASSERT_TRUE(ulid.ok()) << ulid.status();
  auto c = Block::Open(fs.get(), "/data/" + ulid->ToString());
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE((*c)->tombstones()->empty());
  for (std::string tenant : {"default", "acme"}) {
    auto q = (*c)->Querier(tenant, model::kMinTime, model::kMaxTime);
    ExpectSameData(Expect(want, tenant, {}, model::kMinTime, model::kMaxTime), Collect(*q, {}));
  }
  // Compacting the compacted block again goes up a level and keeps the data.
  auto again = Compact(fs.get(), "/data", {c->get()});
  ASSERT_TRUE(again.ok());
  auto d = Block::Open(fs.get(), "/data/" + again->ToString());
  ASSERT_TRUE(d.ok());
  EXPECT_EQ((*d)->meta().level, 3);
  auto q = (*d)->Querier("default", model::kMinTime, model::kMaxTime);
  ExpectSameData(Expect(want, "default", {}, model::kMinTime, model::kMaxTime), Collect(*q, {}));
}

}  // namespace
}  // namespace vigil::storage::block
