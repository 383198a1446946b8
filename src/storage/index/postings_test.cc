#include "storage/index/postings.h"

#include <algorithm>
#include <random>
#include <set>

#include "gtest/gtest.h"

namespace vigil::storage::index {
namespace {

using Ids = std::vector<uint64_t>;

Ids Expand(PostingsPtr p) {
  auto r = ExpandPostings(*p);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : Ids{};
}

Ids RandomIds(std::mt19937_64& rng, size_t n, uint64_t max) {
  std::set<uint64_t> s;
  while (s.size() < n) s.insert(rng() % max);
  return Ids(s.begin(), s.end());
}

// Every kind of list: owned, a view, and encoded bytes (4- and 8-byte ids).
enum class Kind { kOwned, kView, kEncoded };

struct Holder {
  Ids ids;
  std::string bytes;
  PostingsPtr Make(Kind k) {
    switch (k) {
      case Kind::kOwned: return NewListPostings(ids);
      case Kind::kView: return NewListPostingsView(ids);
      case Kind::kEncoded:
        bytes.clear();
        EncodePostings(ids, &bytes);
        return NewEncodedPostings(bytes);
    }
    return nullptr;
  }
};

class PostingsKinds : public testing::TestWithParam<Kind> {};

TEST_P(PostingsKinds, IterateAndSeekLikeASortedSet) {
  std::mt19937_64 rng(1);
  for (uint64_t max : {uint64_t{1000}, uint64_t{1} << 40}) {
    Holder h{RandomIds(rng, 300, max)};
    EXPECT_EQ(Expand(h.Make(GetParam())), h.ids);
    for (int trial = 0; trial < 200; ++trial) {
      auto p = h.Make(GetParam());
      uint64_t last = 0;
      bool ended = false;
      for (int step = 0; step < 10 && !ended; ++step) {
        uint64_t target = last + rng() % (max / 20 + 1);
        auto it = std::lower_bound(h.ids.begin(), h.ids.end(), std::max(target, last));
        bool ok = p->Seek(target);
        ASSERT_EQ(ok, it != h.ids.end());
        if (!ok) {
          ended = true;
          break;
        }
        ASSERT_EQ(p->At(), *it);
        last = p->At();
      }
    }
  }
}

TEST_P(PostingsKinds, SeekNeverMovesBackwards) {
  Holder h{{2, 4, 6, 8}};
  auto p = h.Make(GetParam());
  ASSERT_TRUE(p->Seek(5));
  EXPECT_EQ(p->At(), 6u);
  ASSERT_TRUE(p->Seek(1));
  EXPECT_EQ(p->At(), 6u);
  ASSERT_TRUE(p->Next());
  EXPECT_EQ(p->At(), 8u);
  EXPECT_FALSE(p->Seek(9));
  EXPECT_FALSE(p->Next());
}

INSTANTIATE_TEST_SUITE_P(All, PostingsKinds, testing::Values(Kind::kOwned, Kind::kView, Kind::kEncoded));

// Property test: the combinators agree with std::set algebra on random inputs.
TEST(Postings, CombinatorsMatchSetAlgebraOverManySeeds) {
  for (uint64_t seed = 0; seed < 200; ++seed) {
    std::mt19937_64 rng(seed);
    int k = 1 + rng() % 4;
    uint64_t max = 10 + rng() % 2000;
    std::vector<Holder> hs;
    for (int i = 0; i < k; ++i) hs.push_back(Holder{RandomIds(rng, rng() % std::min<uint64_t>(max, 500), max)});

    Ids want_and = hs[0].ids, want_or;
    std::set<uint64_t> all;
    for (auto& h : hs) {
      Ids tmp;
      std::set_intersection(want_and.begin(), want_and.end(), h.ids.begin(), h.ids.end(),
                            std::back_inserter(tmp));
      want_and = tmp;
      all.insert(h.ids.begin(), h.ids.end());
    }
    want_or.assign(all.begin(), all.end());
    Ids want_without;
    std::set_difference(hs[0].ids.begin(), hs[0].ids.end(), hs.back().ids.begin(),
                        hs.back().ids.end(), std::back_inserter(want_without));

    auto kind = [&](int i) { return static_cast<Kind>((seed + i) % 3); };
    std::vector<PostingsPtr> a, o;
    for (int i = 0; i < k; ++i) {
      a.push_back(hs[i].Make(kind(i)));
    }
    SCOPED_TRACE(seed);
    EXPECT_EQ(Expand(Intersect(std::move(a))), want_and);
    // Encoded holders keep their bytes in the holder: rebuild for each use.
    std::vector<Holder> hs2 = hs;
    for (int i = 0; i < k; ++i) o.push_back(hs2[i].Make(kind(i + 1)));
    EXPECT_EQ(Expand(Merge(std::move(o))), want_or);
    Holder x = hs[0], y = hs.back();
    EXPECT_EQ(Expand(Without(x.Make(kind(0)), y.Make(kind(2)))), want_without);

    // Seek through the combinators too.
    std::vector<Holder> hs3 = hs;
    std::vector<PostingsPtr> m;
    for (int i = 0; i < k; ++i) m.push_back(hs3[i].Make(Kind::kOwned));
    auto merged = Merge(std::move(m));
    uint64_t target = rng() % max;
    auto it = std::lower_bound(want_or.begin(), want_or.end(), target);
    ASSERT_EQ(merged->Seek(target), it != want_or.end());
    if (it != want_or.end()) {
      EXPECT_EQ(merged->At(), *it);
    }
  }
}

TEST(Postings, EmptyInputsAndErrorsPropagate) {
  EXPECT_TRUE(Expand(Intersect({})).empty());
  EXPECT_TRUE(Expand(Merge({})).empty());
  std::vector<PostingsPtr> v;
  v.push_back(NewListPostings({1, 2, 3}));
  v.push_back(ErrPostings(absl::DataLossError("boom")));
  auto p = Intersect(std::move(v));
  EXPECT_FALSE(p->Next());
  EXPECT_FALSE(p->Err().ok());
}

TEST(Postings, MergeHandlesTheLargestId) {
  std::vector<PostingsPtr> v;
  v.push_back(NewListPostings({1, UINT64_MAX}));
  v.push_back(NewListPostings({UINT64_MAX}));
  EXPECT_EQ(Expand(Merge(std::move(v))), (Ids{1, UINT64_MAX}));
}

TEST(EncodedPostings, CorruptHeadersAreErrors) {
  for (std::string_view bad : {std::string_view(""), std::string_view("\x04\x00\x00", 3),
                               std::string_view("\x03\x00\x00\x00\x00", 5),
                               std::string_view("\x04\x00\x00\x00\x02\x00\x00\x00\x01", 9)}) {
    size_t len;
    EXPECT_FALSE(CheckEncodedPostings(bad, &len).ok());
    auto p = NewEncodedPostings(bad);
    EXPECT_FALSE(p->Next());
    EXPECT_FALSE(p->Err().ok());
  }
}

}  // namespace
}  // namespace vigil::storage::index
