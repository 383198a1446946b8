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

TEST(MemPostings, SetOperations) {
  struct Case {
    const char* name;
    std::vector<RefList> in;
    RefList intersect;
    RefList merge;
  };
  std::vector<Case> cases = {
      {"empty", {}, {}, {}},
      {"one list", {{1, 2, 3}}, {1, 2, 3}, {1, 2, 3}},
      {"overlap", {{1, 2, 3, 7}, {2, 3, 4, 7}}, {2, 3, 7}, {1, 2, 3, 4, 7}},
      {"disjoint", {{1, 3}, {2, 4}}, {}, {1, 2, 3, 4}},
      {"three", {{1, 2, 3, 4, 5}, {2, 4, 5}, {4, 5, 6}}, {4, 5}, {1, 2, 3, 4, 5, 6}},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(IntersectLists(c.in), c.intersect) << c.name;
    EXPECT_EQ(MergeLists(c.in), c.merge) << c.name;
  }
  EXPECT_EQ(WithoutList({1, 2, 3, 4}, {2, 4, 6}), (RefList{1, 3}));
}

}  // namespace
}  // namespace vigil::storage::head
