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

}  // namespace
}  // namespace vigil::storage::head
