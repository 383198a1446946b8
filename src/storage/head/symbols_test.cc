#include "storage/head/symbols.h"

#include "gtest/gtest.h"

namespace vigil::storage::head {
namespace {

TEST(SymbolTable, InternsEachStringOnce) {
  SymbolTable t;
  SymbolId a = t.Intern("job");
  SymbolId b = t.Intern("instance");
  EXPECT_NE(a, b);
  EXPECT_EQ(t.Intern("job"), a);
  EXPECT_EQ(t.Get(a), "job");
  EXPECT_EQ(t.Get(b), "instance");
  EXPECT_EQ(t.Find("job"), a);
  EXPECT_EQ(t.Find("absent"), kNoSymbol);
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.string_bytes(), 11u);
}

TEST(SymbolTable, ReusesIdsOnlyAfterTheLastReferenceIsReleased) {
  SymbolTable t;
  SymbolId a = t.Intern("a");
  t.Intern("a");
  t.Release(a);
  EXPECT_EQ(t.Find("a"), a);
  t.Release(a);
  EXPECT_EQ(t.Find("a"), kNoSymbol);
  SymbolId b = t.Intern("b");
  EXPECT_EQ(b, a);
  EXPECT_EQ(t.Get(b), "b");
}

TEST(SymbolTable, KeepsStringsStableAcrossManyBlocks) {
  SymbolTable t;
  std::vector<SymbolId> ids;
  for (int i = 0; i < 20000; i++) ids.push_back(t.Intern("value-" + std::to_string(i)));
  std::string_view first = t.Get(ids[0]);
  for (int i = 0; i < 20000; i++) EXPECT_EQ(t.Get(ids[i]), "value-" + std::to_string(i));
  EXPECT_EQ(first.data(), t.Get(ids[0]).data());
}

}  // namespace
}  // namespace vigil::storage::head
