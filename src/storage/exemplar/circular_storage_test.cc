#include "storage/exemplar/circular_storage.h"

#include <cmath>
#include <string>
#include <thread>

#include "gtest/gtest.h"

namespace vigil::storage::exemplar {
namespace {

using model::Labels;
using model::Matcher;
using model::MatchType;

Labels Series(std::string_view name, std::string_view job = "a") {
  return Labels{{"__name__", name}, {"job", job}};
}

Exemplar Ex(std::string_view trace, double v, int64_t t) {
  return Exemplar{Labels{{"trace_id", trace}}, v, t};
}

std::vector<model::Matchers> NameIs(std::string_view name) {
  return {{Matcher::MustMake(MatchType::kEqual, "__name__", name)}};
}

std::vector<model::Matchers> All() {
  return {{Matcher::MustMake(MatchType::kRegexMatch, "__name__", ".+")}};
}

TEST(CircularExemplarStorage, StoresAndSelectsByMatchersAndTime) {
  CircularExemplarStorage st(10);
  ASSERT_TRUE(st.AppendExemplar("t", Series("a_total"), Ex("1", 1, 1000)).ok());
  ASSERT_TRUE(st.AppendExemplar("t", Series("a_total"), Ex("2", 2, 2000)).ok());
  ASSERT_TRUE(st.AppendExemplar("t", Series("b_total"), Ex("3", 3, 1500)).ok());

  auto got = st.SelectExemplars("t", 0, 10000, NameIs("a_total"));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].series_labels, Series("a_total"));
  EXPECT_EQ(got[0].exemplars, (std::vector<Exemplar>{Ex("1", 1, 1000), Ex("2", 2, 2000)}));

  // The range is inclusive at both ends.
  got = st.SelectExemplars("t", 1500, 2000, All());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].series_labels, Series("a_total"));  // sorted by series labels
  EXPECT_EQ(got[0].exemplars, (std::vector<Exemplar>{Ex("2", 2, 2000)}));
  EXPECT_EQ(got[1].exemplars, (std::vector<Exemplar>{Ex("3", 3, 1500)}));

  EXPECT_TRUE(st.SelectExemplars("t", 3000, 4000, All()).empty());
  EXPECT_TRUE(st.SelectExemplars("t", 0, 10000, {}).empty());
}

TEST(CircularExemplarStorage, AnyMatcherSetSelects) {
  CircularExemplarStorage st(10);
  ASSERT_TRUE(st.AppendExemplar("t", Series("a", "x"), Ex("1", 1, 1000)).ok());
  ASSERT_TRUE(st.AppendExemplar("t", Series("b", "y"), Ex("2", 1, 1000)).ok());
  ASSERT_TRUE(st.AppendExemplar("t", Series("c", "y"), Ex("3", 1, 1000)).ok());
  std::vector<model::Matchers> sets = {
      {Matcher::MustMake(MatchType::kEqual, "__name__", "a")},
      {Matcher::MustMake(MatchType::kEqual, "job", "y"),
       Matcher::MustMake(MatchType::kNotEqual, "__name__", "c")}};
  auto got = st.SelectExemplars("t", 0, 5000, sets);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].series_labels.MetricName(), "a");
  EXPECT_EQ(got[1].series_labels.MetricName(), "b");
}

TEST(CircularExemplarStorage, DuplicatesAreDroppedAndOutOfOrderRefused) {
  CircularExemplarStorage st(10);
  ASSERT_TRUE(st.AppendExemplar("t", Series("a"), Ex("1", 1, 1000)).ok());
  // The same exemplar again (a scrape repeats it): accepted, not stored twice.
  EXPECT_TRUE(st.AppendExemplar("t", Series("a"), Ex("1", 1, 1000)).ok());
  EXPECT_EQ(st.Size("t"), 1);
  // NaN values compare by bits.
  ASSERT_TRUE(st.AppendExemplar("t", Series("a"), Ex("n", std::nan(""), 1100)).ok());
  EXPECT_TRUE(st.AppendExemplar("t", Series("a"), Ex("n", std::nan(""), 1100)).ok());
  EXPECT_EQ(st.Size("t"), 2);
  // Same timestamp, different exemplar; or older: out of order.
  absl::Status s = st.AppendExemplar("t", Series("a"), Ex("2", 2, 1100));
  EXPECT_EQ(s.code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(s.message().find("out of order exemplar"), std::string_view::npos) << s;
  EXPECT_EQ(st.AppendExemplar("t", Series("a"), Ex("3", 3, 900)).code(),
            absl::StatusCode::kOutOfRange);
  // Another series has its own order.
  EXPECT_TRUE(st.AppendExemplar("t", Series("b"), Ex("3", 3, 900)).ok());
}

TEST(CircularExemplarStorage, FullRingOverwritesOldestAcrossSeries) {
  CircularExemplarStorage st(3);
  ASSERT_TRUE(st.AppendExemplar("t", Series("a"), Ex("1", 1, 1)).ok());
  ASSERT_TRUE(st.AppendExemplar("t", Series("b"), Ex("2", 2, 2)).ok());
  ASSERT_TRUE(st.AppendExemplar("t", Series("a"), Ex("3", 3, 3)).ok());
  ASSERT_TRUE(st.AppendExemplar("t", Series("c"), Ex("4", 4, 4)).ok());  // evicts a@1
  ASSERT_TRUE(st.AppendExemplar("t", Series("c"), Ex("5", 5, 5)).ok());  // evicts b@2
  EXPECT_EQ(st.Size("t"), 3);
  auto got = st.SelectExemplars("t", 0, 100, All());
  ASSERT_EQ(got.size(), 2u);  // b has no exemplar left and is gone from the index
  EXPECT_EQ(got[0].series_labels.MetricName(), "a");
  EXPECT_EQ(got[0].exemplars, (std::vector<Exemplar>{Ex("3", 3, 3)}));
  EXPECT_EQ(got[1].exemplars, (std::vector<Exemplar>{Ex("4", 4, 4), Ex("5", 5, 5)}));
  // The evicted series accepts an older exemplar again: its order restarts.
  EXPECT_TRUE(st.AppendExemplar("t", Series("b"), Ex("0", 0, 1)).ok());
}

TEST(CircularExemplarStorage, OneSeriesWrapsAroundItself) {
  CircularExemplarStorage st(2);
  for (int i = 1; i <= 7; ++i) {
    ASSERT_TRUE(st.AppendExemplar("t", Series("a"), Ex(std::to_string(i), i, i)).ok());
  }
  auto got = st.SelectExemplars("t", 0, 100, All());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].exemplars, (std::vector<Exemplar>{Ex("6", 6, 6), Ex("7", 7, 7)}));
}

TEST(CircularExemplarStorage, TenantsAreSeparate) {
  CircularExemplarStorage st(1);
  ASSERT_TRUE(st.AppendExemplar("t1", Series("a"), Ex("1", 1, 1)).ok());
  ASSERT_TRUE(st.AppendExemplar("t2", Series("a"), Ex("2", 2, 2)).ok());
  auto got = st.SelectExemplars("t1", 0, 100, All());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].exemplars, (std::vector<Exemplar>{Ex("1", 1, 1)}));
  EXPECT_TRUE(st.SelectExemplars("nobody", 0, 100, All()).empty());
}

TEST(CircularExemplarStorage, ResizeKeepsNewest) {
  CircularExemplarStorage st(4);
  for (int i = 1; i <= 6; ++i) {  // wraps: holds 3..6
    ASSERT_TRUE(st.AppendExemplar("t", Series(i % 2 ? "odd" : "even"), Ex("x", i, i)).ok());
  }
  st.Resize(2);
  EXPECT_EQ(st.Size("t"), 2);
  auto got = st.SelectExemplars("t", 0, 100, All());
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].exemplars, (std::vector<Exemplar>{Ex("x", 6, 6)}));  // even
  EXPECT_EQ(got[1].exemplars, (std::vector<Exemplar>{Ex("x", 5, 5)}));  // odd
  st.Resize(10);
  ASSERT_TRUE(st.AppendExemplar("t", Series("odd"), Ex("x", 7, 7)).ok());
  EXPECT_EQ(st.Size("t"), 3);
  st.Resize(0);
  EXPECT_EQ(st.Size("t"), 0);
  EXPECT_TRUE(st.AppendExemplar("t", Series("odd"), Ex("x", 8, 8)).ok());
  EXPECT_EQ(st.Size("t"), 0);
}

TEST(CircularExemplarStorage, RefusesBadLabels) {
  CircularExemplarStorage st(10);
  EXPECT_EQ(st.AppendExemplar("t", Series("a"), Exemplar{Labels{{"1bad", "x"}}, 1, 1}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      st.AppendExemplar("t", Series("a"), Exemplar{Labels{{"a", "\xff"}}, 1, 1}).code(),
      absl::StatusCode::kInvalidArgument);
  // 128 characters are allowed (multi-byte runes count once), 129 are not.
  std::string v120;
  for (int i = 0; i < 60; ++i) v120 += "\xc3\xa9";  // 60 x U+00E9, 120 bytes
  v120 += std::string(60, 'x');                    // 120 runes
  EXPECT_TRUE(
      st.AppendExemplar("t", Series("a"), Exemplar{Labels{{"trace_id", v120}}, 1, 1}).ok());
  absl::Status s =
      st.AppendExemplar("t", Series("a"), Exemplar{Labels{{"trace_id", v120 + "x"}}, 1, 2});
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("129 characters"), std::string_view::npos) << s;
  // No labels at all is a valid exemplar.
  EXPECT_TRUE(st.AppendExemplar("t", Series("a"), Exemplar{Labels{}, 1, 3}).ok());
}

TEST(CircularExemplarStorage, ConcurrentAppendsAndQueries) {
  CircularExemplarStorage st(100);
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&st, w] {
      for (int i = 1; i <= 2000; ++i) {
        (void)st.AppendExemplar(w % 2 ? "t1" : "t2", Series("s", std::to_string(w)),
                                Ex("x", i, i));
        if (i % 100 == 0) (void)st.SelectExemplars("t1", 0, i, All());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(st.Size("t1"), 100);
  EXPECT_EQ(st.Size("t2"), 100);
}

}  // namespace
}  // namespace vigil::storage::exemplar
