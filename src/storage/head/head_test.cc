#include "storage/head/head.h"

#include <algorithm>
#include <bit>
#include <map>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::storage::head {
namespace {

using model::Labels;
using model::Matcher;
using model::MatchType;
using model::Sample;
using ::testing::HasSubstr;

using Result = std::map<std::string, std::vector<Sample>>;

Result Read(Querier& q, const model::Matchers& ms) {
  Result out;
  auto set = q.Select(true, {}, ms);
  while (set->Next()) {
    auto it = set->At().Iterator();
    auto& v = out[set->At().labels().ToString()];
    while (it->Next()) v.push_back(it->At());
    EXPECT_TRUE(it->Err().ok());
    // The bulk read returns the same samples.
    std::vector<Sample> bulk;
    auto bit = set->At().Iterator();
    bit->AppendRange(model::kMinTime, model::kMaxTime, &bulk);
    EXPECT_TRUE(bit->Err().ok());
    EXPECT_EQ(bulk, v);
  }
  EXPECT_TRUE(set->Err().ok());
  return out;
}

Result ReadAll(Head& h, std::string_view tenant = kDefaultTenant, int64_t mint = model::kMinTime,
               int64_t maxt = model::kMaxTime) {
  auto q = h.NewQuerier(tenant, mint, maxt);
  return Read(*q, {Matcher::MustMake(MatchType::kRegexMatch, "__name__", ".+")});
}

Labels Series(std::string_view name, std::string_view instance = "a") {
  return Labels{{"__name__", name}, {"instance", instance}, {"job", "node"}};
}

TEST(Head, SamplesBecomeVisibleOnlyAfterCommit) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Series("up"), 1000, 1).ok());
  EXPECT_TRUE(ReadAll(h).empty());
  ASSERT_TRUE(app->Commit().ok());
  Result r = ReadAll(h);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.begin()->first, "up{instance=\"a\", job=\"node\"}");
  EXPECT_EQ(r.begin()->second, (std::vector<Sample>{{1000, 1}}));
}

TEST(Head, RollbackDropsPendingSamples) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Series("up"), 1000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(app->Append(0, Series("up"), 2000, 2).ok());
  app->Rollback();
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(ReadAll(h).begin()->second, (std::vector<Sample>{{1000, 1}}));
  // The rolled back timestamp can be written again.
  ASSERT_TRUE(app->Append(0, Series("up"), 2000, 3).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(ReadAll(h).begin()->second, (std::vector<Sample>{{1000, 1}, {2000, 3}}));
}

TEST(Head, RefFromAppendSkipsTheLabelLookup) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  auto ref = app->Append(0, Series("up"), 1000, 1);
  ASSERT_TRUE(ref.ok());
  auto ref2 = app->Append(*ref, Labels{}, 2000, 2);
  ASSERT_TRUE(ref2.ok());
  EXPECT_EQ(*ref, *ref2);
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(ReadAll(h).begin()->second.size(), 2u);
}

TEST(Head, RejectsEachBadSampleWithItsReason) {
  struct Case {
    const char* name;
    Labels labels;
    int64_t t;
    double v;
    Reject want;
  };
  Labels unsorted;
  unsorted.mutable_vec() = {{"job", "x"}, {"__name__", "up"}};
  Labels repeated;
  repeated.mutable_vec() = {{"__name__", "up"}, {"job", "x"}, {"job", "y"}};
  std::vector<Case> cases = {
      {"accepted", Series("up"), 3000, 1, Reject::kNone},
      {"empty labels", Labels{}, 3000, 1, Reject::kInvalidLabels},
      {"unsorted labels", unsorted, 3000, 1, Reject::kInvalidLabels},
      {"repeated label name", repeated, 3000, 1, Reject::kInvalidLabels},
      {"reserved tenant label", Labels{{"__name__", "up"}, {"__tenant__", "x"}}, 3000, 1,
       Reject::kInvalidLabels},
      {"older than newest", Series("up"), 1000, 1, Reject::kOutOfOrder},
      {"same time other value", Series("up"), 2000, 5, Reject::kDuplicate},
      {"same time same value", Series("up"), 2000, 2, Reject::kNone},
      {"before persisted data", Series("other"), 10, 1, Reject::kTooOld},
  };
  for (const auto& c : cases) {
    Head h({});
    auto app = h.NewAppender(kDefaultTenant);
    ASSERT_TRUE(app->Append(0, Series("up"), 2000, 2).ok());
    ASSERT_TRUE(app->Commit().ok());
    h.Truncate(100);
    auto r = app->Append(0, c.labels, c.t, c.v);
    EXPECT_EQ(RejectOf(r.status()), c.want) << c.name << ": " << r.status();
    EXPECT_EQ(r.ok(), c.want == Reject::kNone) << c.name;
    ASSERT_TRUE(app->Commit().ok());
    if (c.want != Reject::kNone) {
      EXPECT_EQ(h.Stats().samples_rejected[static_cast<int>(c.want)], 1) << c.name;
    }
  }
}

TEST(Head, SameTimestampSameValueIsAcceptedSilently) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Series("up"), 1000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(app->Append(0, Series("up"), 1000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(ReadAll(h).begin()->second.size(), 1u);
  // The staleness marker is compared bit for bit, like any value.
  ASSERT_TRUE(app->Append(0, Series("up"), 2000, model::StaleNaN()).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_TRUE(app->Append(0, Series("up"), 2000, model::StaleNaN()).ok());
  auto r = app->Append(0, Series("up"), 2000, std::nan(""));
  EXPECT_EQ(RejectOf(r.status()), Reject::kDuplicate);
}

TEST(Head, PerTenantLimitNamesTheLimitMetricAndTenant) {
  HeadOptions o;
  o.limits.max_series_per_tenant = 2;
  Head h(o);
  auto app = h.NewAppender("acme");
  ASSERT_TRUE(app->Append(0, Series("a"), 1000, 1).ok());
  ASSERT_TRUE(app->Append(0, Series("b"), 1000, 1).ok());
  auto r = app->Append(0, Series("c"), 1000, 1);
  ASSERT_EQ(RejectOf(r.status()), Reject::kSeriesLimit);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("max_series_per_tenant"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"c\""));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"acme\""));
  // Existing series keep being accepted; other tenants are not affected.
  EXPECT_TRUE(app->Append(0, Series("a"), 2000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  auto other = h.NewAppender("other");
  EXPECT_TRUE(other->Append(0, Series("c"), 1000, 1).ok());
}

TEST(Head, PerMetricLimitNamesTheLimitMetricAndTenant) {
  HeadOptions o;
  o.limits.max_series_per_metric = 1;
  Head h(o);
  auto app = h.NewAppender("acme");
  ASSERT_TRUE(app->Append(0, Series("a", "1"), 1000, 1).ok());
  ASSERT_TRUE(app->Append(0, Series("b", "1"), 1000, 1).ok());
  auto r = app->Append(0, Series("a", "2"), 1000, 1);
  ASSERT_EQ(RejectOf(r.status()), Reject::kSeriesLimit);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("max_series_per_metric"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"a\""));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("\"acme\""));
  EXPECT_TRUE(app->Append(0, Series("a", "1"), 2000, 1).ok());
}

TEST(Head, TenantsHaveTheirOwnLimitsAndSetLimitsChangesThemWhileRunning) {
  HeadOptions o;
  o.limits.max_series_per_tenant = 1;
  o.tenant_limits["big"] = {3, 0};
  Head h(o);
  auto app = h.NewAppender("big");
  for (const char* m : {"a", "b", "c"}) ASSERT_TRUE(app->Append(0, Series(m), 1000, 1).ok()) << m;
  EXPECT_EQ(RejectOf(app->Append(0, Series("d"), 1000, 1).status()), Reject::kSeriesLimit);
  auto small = h.NewAppender("small");
  ASSERT_TRUE(small->Append(0, Series("a"), 1000, 1).ok());
  EXPECT_EQ(RejectOf(small->Append(0, Series("b"), 1000, 1).status()), Reject::kSeriesLimit);
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(small->Commit().ok());
  // Lowered for "big" (its series stay), raised for everyone else.
  h.SetLimits({5, 0}, {{"big", {1, 0}}});
  auto app2 = h.NewAppender("big");
  EXPECT_TRUE(app2->Append(0, Series("a"), 2000, 1).ok()) << "existing series keep going";
  EXPECT_EQ(RejectOf(app2->Append(0, Series("e"), 2000, 1).status()), Reject::kSeriesLimit);
  auto small2 = h.NewAppender("small");
  EXPECT_TRUE(small2->Append(0, Series("b"), 2000, 1).ok());
  ASSERT_TRUE(app2->Commit().ok());
  ASSERT_TRUE(small2->Commit().ok());
  EXPECT_EQ(h.SeriesByTenant(),
            (std::vector<std::pair<std::string, int64_t>>{{"big", 3}, {"small", 2}}));
}

TEST(Head, TenantsCannotSeeEachOthersSeries) {
  Head h({});
  auto a = h.NewAppender("a");
  auto b = h.NewAppender("b");
  auto ref_a = a->Append(0, Series("up"), 1000, 1);
  ASSERT_TRUE(ref_a.ok());
  ASSERT_TRUE(b->Append(0, Series("up"), 1000, 2).ok());
  ASSERT_TRUE(a->Commit().ok());
  ASSERT_TRUE(b->Commit().ok());
  EXPECT_EQ(ReadAll(h, "a").begin()->second, (std::vector<Sample>{{1000, 1}}));
  EXPECT_EQ(ReadAll(h, "b").begin()->second, (std::vector<Sample>{{1000, 2}}));
  EXPECT_TRUE(ReadAll(h, "c").empty());
  // A ref handed to tenant a does not let tenant b write into a's series.
  auto r = b->Append(*ref_a, Series("up"), 2000, 9);
  ASSERT_TRUE(r.ok());
  EXPECT_NE(*r, *ref_a);
  ASSERT_TRUE(b->Commit().ok());
  EXPECT_EQ(ReadAll(h, "a").begin()->second.size(), 1u);
  auto q = h.NewQuerier("a", model::kMinTime, model::kMaxTime);
  EXPECT_EQ(*q->LabelNames({}), (std::vector<std::string>{"__name__", "instance", "job"}));
  EXPECT_TRUE(q->LabelValues("__tenant__", {})->empty());
}

TEST(Head, RegexOverManyValuesSelectsTheUnionOfTheirSeries) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  // 300 series of 6 metrics, created interleaved so that every metric's refs span words
  // of the union's bitmap.
  for (int i = 0; i < 300; i++) {
    ASSERT_TRUE(
        app->Append(0, Series("m" + std::to_string(i % 6), std::to_string(i)), 1000, i).ok());
  }
  ASSERT_TRUE(app->Commit().ok());
  auto q = h.NewQuerier(kDefaultTenant, model::kMinTime, model::kMaxTime);
  for (const auto& [regex, metrics] : std::vector<std::pair<std::string, std::string>>{
           {"m1|m2|m4", "124"}, {"m[0-4]", "01234"}, {"m.+", "012345"}, {"m5|x|y", "5"}}) {
    Result r = Read(*q, {Matcher::MustMake(MatchType::kRegexMatch, "__name__", regex)});
    EXPECT_EQ(r.size(), metrics.size() * 50) << regex;
    for (const auto& [labels, samples] : r) {
      EXPECT_NE(metrics.find(labels[1]), std::string::npos) << regex << " " << labels;
    }
  }
}

TEST(Head, OutOfOrderWindowAcceptsLateSamplesAndMergesThemIntoReads) {
  HeadOptions o;
  o.out_of_order_window_ms = 10000;
  Head h(o);
  auto app = h.NewAppender(kDefaultTenant);
  for (int64_t t : {10000, 20000, 30000}) ASSERT_TRUE(app->Append(0, Series("up"), t, t).ok());
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(app->Append(0, Series("up"), 25000, 25).ok());
  ASSERT_TRUE(app->Append(0, Series("up"), 21000, 21).ok());
  EXPECT_EQ(RejectOf(app->Append(0, Series("up"), 15000, 15).status()), Reject::kOutOfOrder);
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(RejectOf(app->Append(0, Series("up"), 25000, 26).status()), Reject::kDuplicate);
  EXPECT_EQ(ReadAll(h).begin()->second,
            (std::vector<Sample>{{10000, 10000}, {20000, 20000}, {21000, 21}, {25000, 25},
                                 {30000, 30000}}));
  // Seek lands on out-of-order samples too.
  auto q = h.NewQuerier(kDefaultTenant, 21000, 26000);
  auto set = q->Select(false, {}, {Matcher::MustMake(MatchType::kEqual, "__name__", "up")});
  ASSERT_TRUE(set->Next());
  auto it = set->At().Iterator();
  ASSERT_TRUE(it->Seek(22000));
  EXPECT_EQ(it->At(), (Sample{25000, 25}));
  EXPECT_FALSE(it->Next());
}

TEST(Head, CutsChunksEvery120SamplesAndAtBlockBoundaries) {
  HeadOptions o;
  o.chunk_range_ms = 1000000;
  Head h(o);
  auto app = h.NewAppender(kDefaultTenant);
  for (int i = 0; i < 240; i++) ASSERT_TRUE(app->Append(0, Series("up"), i * 1000, i).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(h.Stats().chunks, 2);
  ASSERT_TRUE(app->Append(0, Series("up"), 1000000, 1).ok());  // crosses a boundary
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(h.Stats().chunks, 3);
  EXPECT_EQ(ReadAll(h).begin()->second.size(), 241u);
  EXPECT_EQ(ReadAll(h, kDefaultTenant, 5000, 7000).begin()->second,
            (std::vector<Sample>{{5000, 5}, {6000, 6}, {7000, 7}}));
}

TEST(Head, RecodingCompletedChunksKeepsEverySampleAndSavesMemory) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  double v = 1000;
  for (int i = 0; i < 500; i++) {
    v += 0.25 * (i % 3);
    ASSERT_TRUE(app->Append(0, Series("counter"), i * 15000, v).ok());
    ASSERT_TRUE(app->Append(0, Series("nan"), i * 15000, i % 7 ? model::StaleNaN() : -0.0).ok());
  }
  ASSERT_TRUE(app->Commit().ok());
  Result before = ReadAll(h);
  size_t mem_before = h.MemoryBytes();
  EXPECT_GT(h.RecodeChunks(), 0);
  EXPECT_LT(h.MemoryBytes(), mem_before);
  EXPECT_EQ(ReadAll(h), before);  // bit for bit (Sample== compares value bits)
  EXPECT_EQ(h.RecodeChunks(), 0);  // nothing new to do
  // Appending continues on the open chunk.
  ASSERT_TRUE(app->Append(0, Series("counter"), 500 * 15000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(ReadAll(h)["counter{instance=\"a\", job=\"node\"}"].size(), 501u);
}

TEST(Head, SelectsWithEveryMatcherType) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  ASSERT_TRUE(app->Append(0, Labels{{"__name__", "m"}, {"a", "1"}}, 1, 1).ok());
  ASSERT_TRUE(app->Append(0, Labels{{"__name__", "m"}, {"a", "2"}}, 1, 1).ok());
  ASSERT_TRUE(app->Append(0, Labels{{"__name__", "m"}, {"b", "1"}}, 1, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  struct Case {
    Matcher m;
    std::vector<std::string> want;
  };
  std::vector<Case> cases = {
      {Matcher::MustMake(MatchType::kEqual, "a", "1"), {"m{a=\"1\"}"}},
      {Matcher::MustMake(MatchType::kEqual, "a", ""), {"m{b=\"1\"}"}},
      {Matcher::MustMake(MatchType::kNotEqual, "a", "1"), {"m{a=\"2\"}", "m{b=\"1\"}"}},
      {Matcher::MustMake(MatchType::kNotEqual, "a", ""), {"m{a=\"1\"}", "m{a=\"2\"}"}},
      {Matcher::MustMake(MatchType::kRegexMatch, "a", "1|2"), {"m{a=\"1\"}", "m{a=\"2\"}"}},
      {Matcher::MustMake(MatchType::kRegexMatch, "a", "2|"), {"m{a=\"2\"}", "m{b=\"1\"}"}},
      {Matcher::MustMake(MatchType::kRegexMatch, "a", ".*"),
       {"m{a=\"1\"}", "m{a=\"2\"}", "m{b=\"1\"}"}},
      {Matcher::MustMake(MatchType::kRegexNoMatch, "a", "1"), {"m{a=\"2\"}", "m{b=\"1\"}"}},
      {Matcher::MustMake(MatchType::kRegexNoMatch, "a", ".+"), {"m{b=\"1\"}"}},
      {Matcher::MustMake(MatchType::kEqual, "zzz", "1"), {}},
      {Matcher::MustMake(MatchType::kNotEqual, "zzz", "1"),
       {"m{a=\"1\"}", "m{a=\"2\"}", "m{b=\"1\"}"}},
  };
  auto q = h.NewQuerier(kDefaultTenant, model::kMinTime, model::kMaxTime);
  for (const auto& c : cases) {
    std::vector<std::string> got;
    for (const auto& [k, v] : Read(*q, {c.m})) got.push_back(k);
    EXPECT_EQ(got, c.want) << c.m.ToString();
  }
  EXPECT_EQ(*q->LabelValues("a", {}), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(*q->LabelValues("a", {Matcher::MustMake(MatchType::kEqual, "a", "2")}),
            (std::vector<std::string>{"2"}));
  EXPECT_EQ(*q->LabelNames({Matcher::MustMake(MatchType::kEqual, "b", "1")}),
            (std::vector<std::string>{"__name__", "b"}));
}

// Commits series "old" with samples in [0, 10 s) and "new" in [0, 20 s): truncating at
// 10 s leaves "old" empty.
void AppendOldAndNew(storage::Appender& app) {
  for (int64_t t = 0; t < 10000; t += 1000) ASSERT_TRUE(app.Append(0, Series("old"), t, 1).ok());
  for (int64_t t = 0; t < 20000; t += 1000) ASSERT_TRUE(app.Append(0, Series("new"), t, 1).ok());
  ASSERT_TRUE(app.Commit().ok());
}

TEST(Head, TruncateDropsPersistedDataAndCollectsEmptySeries) {
  HeadOptions o;
  o.chunk_range_ms = 10000;
  Head h(o);
  auto app = h.NewAppender(kDefaultTenant);
  ASSERT_NO_FATAL_FAILURE(AppendOldAndNew(*app));
  EXPECT_EQ(h.Stats().series, 2);
  EXPECT_EQ(h.Truncate(10000), 1);
  EXPECT_EQ(h.Stats().series, 1);
  EXPECT_EQ(h.Stats().series_removed, 1);
  EXPECT_EQ(h.MinTime(), 10000);
  Result r = ReadAll(h);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r.begin()->second.front().t, 10000);
  EXPECT_EQ(RejectOf(app->Append(0, Series("new"), 5000, 1).status()), Reject::kTooOld);
  // The collected series can be created again (its symbols were released and reused).
  auto ref = app->Append(0, Series("old"), 30000, 1);
  ASSERT_TRUE(ref.ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(ReadAll(h).size(), 2u);
}

TEST(Head, SelectedSeriesOutliveTruncateUntilTheSetIsDropped) {
  HeadOptions o;
  o.chunk_range_ms = 10000;
  Head h(o);
  auto app = h.NewAppender(kDefaultTenant);
  ASSERT_NO_FATAL_FAILURE(AppendOldAndNew(*app));
  auto q = h.NewQuerier(kDefaultTenant, model::kMinTime, model::kMaxTime);
  auto set = q->Select(true, {}, {Matcher::MustMake(MatchType::kRegexMatch, "__name__", ".+")});
  // The set pins its series, so emptying "old" does not free it under the set; the set
  // reads the series as they are when it reaches them.
  EXPECT_EQ(h.Truncate(10000), 0);
  ASSERT_TRUE(set->Next());
  EXPECT_EQ(set->At().labels(), Series("new"));
  auto it = set->At().Iterator();
  ASSERT_TRUE(it->Next());
  EXPECT_EQ(it->At().t, 10000);
  EXPECT_FALSE(set->Next());
  set.reset();
  EXPECT_EQ(h.Truncate(10000), 1);
  // An iterator keeps its captured data after the set is gone.
  int n = 1;
  while (it->Next()) n++;
  EXPECT_EQ(n, 10);
}

// The labels of every series of `tenant`, from a sorted Select, in the order it gives.
std::vector<Labels> SortedSelectLabels(Head& h, std::string_view tenant) {
  auto q = h.NewQuerier(tenant, model::kMinTime, model::kMaxTime);
  auto set = q->Select(true, {}, {Matcher::MustMake(MatchType::kRegexMatch, "__name__", ".*")});
  std::vector<Labels> got;
  while (set->Next()) got.push_back(set->At().labels());
  return got;
}

TEST(Head, SortedSelectOrdersByLabelsWithoutTheTenant) {
  Head h({});
  // Upper-case names sort before "__tenant__" and lower-case ones after it, so the tenant
  // label sits at different positions in these series' stored labels.
  std::vector<Labels> series = {
      Labels{{"__name__", "m"}, {"Z", "1"}},
      Labels{{"__name__", "m"}, {"a", "2"}},
      Labels{{"__name__", "m"}, {"a", "10"}},
      Labels{{"__name__", "m"}},
      Labels{{"__name__", "m"}, {"Z", "1"}, {"b", "x"}},
      Labels{{"__name__", "l"}, {"a", "2"}},
      Labels{{"B", "1"}, {"__name__", "m"}},
  };
  auto app = h.NewAppender("t1");
  for (const Labels& l : series) ASSERT_TRUE(app->Append(0, l, 1000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  std::sort(series.begin(), series.end());
  EXPECT_EQ(SortedSelectLabels(h, "t1"), series);
}

TEST(Head, SortedSelectOrdersManyRandomSeriesAsLabelsCompare) {
  Head h({});
  std::mt19937 rng(3);
  // Few distinct strings, so that series share prefixes and differ late or only in length;
  // up to 15 label pairs, more than the sort's packed prefix holds.
  const std::vector<std::string> strings = {"a", "b", "B", "aa", "a0", "_", "z", "", "x1"};
  std::vector<Labels> series;
  auto app = h.NewAppender("t1");
  for (int i = 0; i < 3000; i++) {
    std::map<std::string, std::string> m{{"__name__", strings[rng() % 3]}};
    const int pairs = static_cast<int>(rng() % (i % 2 ? 4 : 15));
    for (int k = 0; k < pairs; k++) {
      std::string value = strings[rng() % strings.size()];
      std::string name = strings[rng() % strings.size()] + "l" + std::to_string(rng() % 3);
      if (!value.empty()) m[name] = value;
    }
    std::vector<model::Label> v;
    for (const auto& [name, value] : m) v.push_back({name, value});
    Labels l(v);
    if (std::find(series.begin(), series.end(), l) != series.end()) continue;
    series.push_back(l);
    ASSERT_TRUE(app->Append(0, l, 1000, 1).ok());
  }
  ASSERT_TRUE(app->Commit().ok());
  std::sort(series.begin(), series.end());
  EXPECT_EQ(SortedSelectLabels(h, "t1"), series);
}

TEST(Head, DeleteHidesSamplesOfMatchingSeries) {
  Head h({});
  auto app = h.NewAppender(kDefaultTenant);
  for (int64_t t = 1; t <= 5; t++) {
    ASSERT_TRUE(app->Append(0, Series("a"), t, t).ok());
    ASSERT_TRUE(app->Append(0, Series("b"), t, t).ok());
  }
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(h.Delete(kDefaultTenant, 2, 4, {Matcher::MustMake(MatchType::kEqual, "__name__", "a")})
                  .ok());
  ASSERT_TRUE(h.Delete("other", 0, 10, {Matcher::MustMake(MatchType::kEqual, "__name__", "b")})
                  .ok());
  Result r = ReadAll(h);
  EXPECT_EQ(r["a{instance=\"a\", job=\"node\"}"], (std::vector<Sample>{{1, 1}, {5, 5}}));
  EXPECT_EQ(r["b{instance=\"a\", job=\"node\"}"].size(), 5u);
}

// Each series' newest sample in [start, end] as a newest_only Select returns it (with its
// value's bits, so that stale markers compare), and as the full read has it.
using Newest = std::map<std::string, std::pair<int64_t, uint64_t>>;

Newest ReadNewest(Head& h, int64_t start, int64_t end) {
  auto q = h.NewQuerier(kDefaultTenant, start - 100000, end + 100000);
  SelectHints hints;
  hints.start = start;
  hints.end = end;
  hints.newest_only = true;
  Newest out;
  auto set = q->Select(true, hints, {Matcher::MustMake(MatchType::kRegexMatch, "__name__", ".+")});
  while (set->Next()) {
    std::vector<Sample> got;
    auto it = set->At().Iterator();
    it->AppendRange(start, end, &got);
    EXPECT_TRUE(it->Err().ok());
    if (got.empty()) continue;
    // A source may return more than the newest sample; the caller uses only that one.
    out[set->At().labels().ToString()] = {got.back().t, std::bit_cast<uint64_t>(got.back().v)};
  }
  return out;
}

Newest NewestOfFullRead(Head& h, int64_t start, int64_t end) {
  Newest out;
  for (const auto& [labels, samples] : ReadAll(h, kDefaultTenant, start, end)) {
    if (samples.empty()) continue;
    out[labels] = {samples.back().t, std::bit_cast<uint64_t>(samples.back().v)};
  }
  return out;
}

TEST(Head, NewestOnlySelectReturnsTheNewestSampleInTheRange) {
  HeadOptions o;
  o.out_of_order_window_ms = 100000;
  o.chunk_range_ms = 20000;
  Head h(o);
  auto app = h.NewAppender(kDefaultTenant);
  for (int64_t t = 1000; t <= 60000; t += 1000) {
    ASSERT_TRUE(app->Append(0, Series("steady"), t, t).ok());
    if (t <= 10000) {
      ASSERT_TRUE(app->Append(0, Series("gone"), t, t).ok());
    }
    if (t % 2000 == 0) {
      ASSERT_TRUE(app->Append(0, Series("ooo"), t, t).ok());
    }
    ASSERT_TRUE(app->Append(0, Series("deleted"), t, t).ok());
  }
  ASSERT_TRUE(app->Append(0, Series("stale"), 30000, 1).ok());
  ASSERT_TRUE(app->Append(0, Series("stale"), 45000, model::StaleNaN()).ok());
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(app->Append(0, Series("ooo"), 59000, -1).ok());  // older than its newest
  ASSERT_TRUE(app->Commit().ok());
  ASSERT_TRUE(h.Delete(kDefaultTenant, 55000, 60000,
                       {Matcher::MustMake(MatchType::kEqual, "__name__", "deleted")})
                  .ok());

  // At the newest samples; between them; with samples appended after the range's end (the
  // query's time is in the past); a range "gone" and "stale"'s marker have left behind.
  for (auto [start, end] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 60000}, {40001, 70000}, {20001, 44999}, {5001, 9500}, {45001, 50000}}) {
    SCOPED_TRACE(testing::Message() << "(" << start << ", " << end << ")");
    EXPECT_EQ(ReadNewest(h, start, end), NewestOfFullRead(h, start, end));
  }
  // The cheap answers themselves: the stale marker is returned as stored, a series whose
  // samples are all older than the range is left out.
  Newest n = ReadNewest(h, 40001, 70000);
  EXPECT_EQ(n.count("gone{instance=\"a\", job=\"node\"}"), 0u);
  EXPECT_EQ(n["stale{instance=\"a\", job=\"node\"}"],
            (std::pair<int64_t, uint64_t>{45000, model::kStaleNaNBits}));
  EXPECT_EQ(n["deleted{instance=\"a\", job=\"node\"}"].first, 54000);
  EXPECT_EQ(n["ooo{instance=\"a\", job=\"node\"}"].first, 60000);

  // A sample appended after the query's time is not its answer.
  ASSERT_TRUE(app->Append(0, Series("steady"), 61000, 0).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(ReadNewest(h, 1, 60000)["steady{instance=\"a\", job=\"node\"}"].first, 60000);
  // Nor is a series truncated away.
  h.Truncate(100000);
  EXPECT_TRUE(ReadNewest(h, 1, 200000).empty());
}

TEST(Head, ReplayedSeriesIsFoundAgainByItsLabels) {
  Head h({});
  Labels full{{"__name__", "up"}, {"__tenant__", "default"}, {"instance", "a"}, {"job", "node"}};
  h.ReplaySeries(42, full);
  std::vector<RefSample> batch = {{42, 1000, 1}, {43, 1000, 1}};
  EXPECT_EQ(h.ReplaySamples(batch), 1);  // 43 is unknown
  h.EndReplay();
  auto app = h.NewAppender(kDefaultTenant);
  auto ref = app->Append(0, Series("up"), 2000, 2);
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(*ref, 42u);  // same hash as model::Labels::Hash, same identity
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(ReadAll(h).begin()->second.size(), 2u);
  // New series get refs after the replayed ones.
  auto ref2 = app->Append(0, Series("other"), 2000, 2);
  ASSERT_TRUE(ref2.ok());
  EXPECT_GT(*ref2, 42u);
}

// Parallel replay: every series' samples land in one shard, in log order, also for a
// series logged under two refs; applying the shards on threads gives what a serial replay
// gives.
TEST(Head, ShardedReplayKeepsEachSeriesOnOneShardInOrder) {
  Head h({});
  constexpr int kSeries = 50, kSamples = 30;
  for (int i = 0; i < kSeries; i++) {
    h.ReplaySeries(i + 1, Labels{{"__name__", "m"}, {"__tenant__", "default"},
                                 {"i", std::to_string(i)}});
  }
  // Series 1 logged again under ref 100 (dropped and created again before a checkpoint).
  h.ReplaySeries(100, Labels{{"__name__", "m"}, {"__tenant__", "default"}, {"i", "0"}});
  std::vector<std::vector<Head::ReplayTarget>> shards(3);
  for (int t = 1; t <= kSamples; t++) {
    std::vector<RefSample> batch;
    for (int i = 0; i < kSeries; i++) {
      batch.push_back({static_cast<uint64_t>(t % 2 == 0 && i == 0 ? 100 : i + 1), t * 1000,
                       static_cast<double>(t)});
    }
    EXPECT_EQ(h.ResolveReplay(batch, shards), 0);
  }
  std::vector<std::thread> threads;
  for (auto& shard : shards) threads.emplace_back([&h, &shard] { h.ApplyReplay(shard); });
  for (auto& th : threads) th.join();
  h.EndReplay();
  Result r = ReadAll(h);
  ASSERT_EQ(r.size(), static_cast<size_t>(kSeries));
  for (const auto& [name, samples] : r) {
    ASSERT_EQ(samples.size(), static_cast<size_t>(kSamples)) << name;
    for (int t = 1; t <= kSamples; t++) EXPECT_EQ(samples[t - 1].t, t * 1000) << name;
  }
  EXPECT_EQ(h.Stats().samples_appended, kSeries * kSamples);
}

TEST(Head, ReplayedCompleteChunksAreRecoded) {
  Head h({});
  h.ReplaySeries(1, Labels{{"__name__", "m"}, {"__tenant__", "default"}});
  std::vector<RefSample> batch;
  for (int i = 0; i < 300; i++) batch.push_back({1, i * 15000, 1000.0 + (i % 5)});
  EXPECT_EQ(h.ReplaySamples(batch), 0);
  h.EndReplay();
  Result before = ReadAll(h);
  size_t mem_before = h.MemoryBytes();
  EXPECT_GT(h.RecodeChunks(), 0);  // the two complete chunks of 120 samples
  EXPECT_LT(h.MemoryBytes(), mem_before);
  EXPECT_EQ(ReadAll(h), before);
}

class RecordingLogger : public WalLogger {
 public:
  absl::Status LogCommit(std::span<const RefSeries> series,
                         std::span<const RefSample> samples) override {
    if (fail) return absl::UnavailableError("disk full");
    for (const auto& s : series) logged_series.push_back(s.ref);
    logged_samples += samples.size();
    return absl::OkStatus();
  }
  absl::Status LogTombstones(std::span<const RefTombstone> t) override {
    tombstones += t.size();
    return absl::OkStatus();
  }
  bool fail = false;
  std::vector<Ref> logged_series;
  size_t logged_samples = 0;
  size_t tombstones = 0;
};

TEST(Head, CommitLogsNewSeriesOnceAndAppliesNothingWhenTheLogFails) {
  RecordingLogger log;
  HeadOptions o;
  o.wal = &log;
  Head h(o);
  auto app = h.NewAppender(kDefaultTenant);
  auto ref = app->Append(0, Series("up"), 1000, 1);
  ASSERT_TRUE(app->Append(0, Series("up"), 2000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(log.logged_series, std::vector<Ref>{*ref});
  EXPECT_EQ(log.logged_samples, 2u);
  ASSERT_TRUE(app->Append(0, Series("up"), 3000, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  EXPECT_EQ(log.logged_series.size(), 1u);  // not logged again
  log.fail = true;
  ASSERT_TRUE(app->Append(0, Series("up"), 4000, 1).ok());
  EXPECT_FALSE(app->Commit().ok());
  EXPECT_EQ(ReadAll(h).begin()->second.size(), 3u);
}

TEST(Head, ConcurrentAppendersAndQueriersSeeConsistentData) {
  HeadOptions o;
  o.chunk_range_ms = 100000;
  Head h(o);
  constexpr int kWriters = 3, kSeries = 50, kSamples = 400;
  std::atomic<bool> done{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; w++) {
    threads.emplace_back([&, w] {
      auto app = h.NewAppender(kDefaultTenant);
      for (int i = 0; i < kSamples; i++) {
        for (int s = 0; s < kSeries; s++) {
          auto r = app->Append(0, Series("w" + std::to_string(w), std::to_string(s)), i * 1000, i);
          ASSERT_TRUE(r.ok()) << r.status();
        }
        ASSERT_TRUE(app->Commit().ok());
      }
    });
  }
  std::thread reader([&] {
    while (!done.load()) {
      for (const auto& [k, v] : ReadAll(h)) {
        for (size_t i = 1; i < v.size(); i++) ASSERT_LT(v[i - 1].t, v[i].t) << k;
      }
      h.Truncate(0);
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reader.join();
  Result r = ReadAll(h);
  ASSERT_EQ(r.size(), static_cast<size_t>(kWriters * kSeries));
  for (const auto& [k, v] : r) EXPECT_EQ(v.size(), static_cast<size_t>(kSamples)) << k;
  EXPECT_EQ(h.Stats().samples_appended, kWriters * kSeries * kSamples);
}

TEST(Head, ReportsCardinalityPerTenant) {
  Head h({});
  auto app = h.NewAppender("t");
  for (int i = 0; i < 3; i++) ASSERT_TRUE(app->Append(0, Series("a", std::to_string(i)), 1, 1).ok());
  ASSERT_TRUE(app->Append(0, Series("b"), 5, 1).ok());
  ASSERT_TRUE(app->Commit().ok());
  auto other = h.NewAppender("u");
  ASSERT_TRUE(other->Append(0, Series("c"), 1, 1).ok());
  ASSERT_TRUE(other->Commit().ok());
  TsdbStatus st = h.Status("t", 10);
  EXPECT_EQ(st.num_series, 4);
  EXPECT_EQ(st.min_time, 1);
  EXPECT_EQ(st.max_time, 5);
  EXPECT_EQ(st.chunk_count, 4);
  ASSERT_EQ(st.series_count_by_metric_name.size(), 2u);
  EXPECT_EQ(st.series_count_by_metric_name[0].name, "a");
  EXPECT_EQ(st.series_count_by_metric_name[0].value, 3);
  for (const auto& c : st.label_value_count_by_label_name) EXPECT_NE(c.name, "__tenant__");
  EXPECT_EQ(st.series_count_by_label_value_pair[0].name, "job=node");
  EXPECT_EQ(st.series_count_by_label_value_pair[0].value, 4);
}

}  // namespace
}  // namespace vigil::storage::head
