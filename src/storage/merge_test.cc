#include "storage/merge.h"

#include "gtest/gtest.h"
#include "storage/db_test_util.h"
#include "storage/head/head.h"

namespace vigil::storage {
namespace {

using model::Labels;
using model::Sample;

void Add(head::Head& h, const Labels& l, std::vector<Sample> samples) {
  auto app = h.NewAppender(kDefaultTenant);
  for (const auto& s : samples) ASSERT_TRUE(app->Append(0, l, s.t, s.v).ok());
  ASSERT_TRUE(app->Commit().ok());
}

TEST(MergeQuerier, MergesEqualSeriesAndDeduplicatesTimestamps) {
  head::Head a({}), b({});
  Add(a, Labels{{"__name__", "x"}}, {{1, 1}, {2, 2}, {4, 4}});
  Add(b, Labels{{"__name__", "x"}}, {{2, 20}, {3, 3}, {5, 5}});
  Add(a, Labels{{"__name__", "only_a"}}, {{1, 1}});
  Add(b, Labels{{"__name__", "z"}}, {{1, 1}});
  std::vector<std::unique_ptr<Querier>> qs;
  qs.push_back(a.NewQuerier(kDefaultTenant, model::kMinTime, model::kMaxTime));
  qs.push_back(b.NewQuerier(kDefaultTenant, model::kMinTime, model::kMaxTime));
  auto q = NewMergeQuerier(std::move(qs));
  auto got = testing::ReadQuerier(
      *q, {model::Matcher::MustMake(model::MatchType::kRegexMatch, "__name__", ".+")});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got["x{}"], (std::vector<Sample>{{1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 5}}));
  EXPECT_EQ(got["only_a{}"].size(), 1u);
  EXPECT_EQ(*q->LabelValues("__name__", {}), (std::vector<std::string>{"only_a", "x", "z"}));
  EXPECT_EQ(*q->LabelNames({}), (std::vector<std::string>{"__name__"}));

  // Seek across sources.
  auto set = q->Select(true, {}, {model::Matcher::MustMake(model::MatchType::kEqual, "__name__", "x")});
  ASSERT_TRUE(set->Next());
  auto it = set->At().Iterator();
  ASSERT_TRUE(it->Seek(3));
  EXPECT_EQ(it->At(), (Sample{3, 3}));
  ASSERT_TRUE(it->Seek(2));  // never backwards
  EXPECT_EQ(it->At(), (Sample{3, 3}));
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At(), (Sample{4, 4}));
  EXPECT_FALSE(set->Next());
}

}  // namespace
}  // namespace vigil::storage
