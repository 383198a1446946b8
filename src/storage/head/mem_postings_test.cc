#include "storage/head/mem_postings.h"

#include "gtest/gtest.h"

namespace vigil::storage::head {
namespace {

TEST(MemPostings, KeepsListsSortedWhenRefsArriveOutOfOrder) {
  MemPostings p;
  std::vector<SymbolId> pairs = {1, 2};
  p.Add(5, pairs);
  p.Add(3, pairs);
  p.Add(9, pairs);
  EXPECT_EQ(p.Get(1, 2), (RefList{3, 5, 9}));
  EXPECT_EQ(p.All(), (RefList{3, 5, 9}));
  p.Delete(5, pairs);
  EXPECT_EQ(p.Get(1, 2), (RefList{3, 9}));
  p.Delete(3, pairs);
  p.Delete(9, pairs);
  EXPECT_TRUE(p.Get(1, 2).empty());
  EXPECT_TRUE(p.Names().empty());
}

TEST(MemPostings, IntersectsPairsWithoutRegardToListLengths) {
  // Pair (1, 10) on every ref (a tenant), (2, 20) on every 7th, (3, 30) on every 3rd:
  // short lists walked against long ones, gaps of every size.
  MemPostings p;
  RefList every7, every21;
  for (Ref ref = 1; ref <= 5000; ++ref) {
    std::vector<SymbolId> pairs = {1, 10};
    if (ref % 7 == 0) pairs.insert(pairs.end(), {2, 20});
    if (ref % 3 == 0) pairs.insert(pairs.end(), {3, 30});
    p.Add(ref, pairs);
    if (ref % 7 == 0) every7.push_back(ref);
    if (ref % 21 == 0) every21.push_back(ref);
  }
  using Pairs = std::vector<std::pair<SymbolId, SymbolId>>;
  EXPECT_EQ(p.Intersect(Pairs{{1, 10}}), p.All());
  EXPECT_EQ(p.Intersect(Pairs{{1, 10}, {2, 20}}), every7);
  EXPECT_EQ(p.Intersect(Pairs{{2, 20}, {1, 10}}), every7);
  EXPECT_EQ(p.Intersect(Pairs{{3, 30}, {1, 10}, {2, 20}}), every21);
  p.Add(9000, std::vector<SymbolId>{1, 11});
  EXPECT_EQ(p.Intersect(Pairs{{1, 11}, {1, 10}}), RefList{});
  EXPECT_EQ(p.Intersect(Pairs{{1, 10}, {2, 21}}), RefList{});
  EXPECT_EQ(p.Intersect(Pairs{{4, 10}}), RefList{});
  EXPECT_EQ(p.Intersect(Pairs{}), RefList{});
}

}  // namespace
}  // namespace vigil::storage::head
