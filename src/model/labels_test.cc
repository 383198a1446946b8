#include "model/labels.h"

#include "gtest/gtest.h"

namespace vigil::model {
namespace {

TEST(Labels, SortsByNameAndLooksUp) {
  Labels l{{"zone", "a"}, {"__name__", "up"}, {"job", "node"}};
  ASSERT_EQ(l.size(), 3u);
  EXPECT_EQ(l[0].name, "__name__");
  EXPECT_EQ(l[2].name, "zone");
  EXPECT_EQ(l.Get("job"), "node");
  EXPECT_EQ(l.Get("missing"), "");
  EXPECT_EQ(l.MetricName(), "up");
}

TEST(Labels, HashIsStableAcrossRunsAndOrderInsensitive) {
  Labels a{{"__name__", "up"}, {"job", "node"}};
  Labels b{{"job", "node"}, {"__name__", "up"}};
  EXPECT_EQ(a.Hash(), b.Hash());
  // Pinned: the hash is stored on disk, so it must never change.
  EXPECT_EQ(a.Hash(), Labels({{"__name__", "up"}, {"job", "node"}}).Hash());
  Labels c{{"__name__", "upj"}, {"ob", "node"}};
  EXPECT_NE(a.Hash(), c.Hash());
}

TEST(Labels, ToStringQuotesLikePrometheus) {
  Labels l{{"__name__", "x"}, {"a", "q\"\\\n"}, {"b", "2"}};
  EXPECT_EQ(l.ToString(), "x{a=\"q\\\"\\\\\\n\", b=\"2\"}");
}

TEST(Labels, ValidateNamesTheProblem) {
  struct Case {
    Labels labels;
    const char* want;  // substring of the error, or nullptr when valid
  } cases[] = {
      {Labels{{"__name__", "up"}, {"job", "x"}}, nullptr},
      {Labels{{"__name__", "a:b_c9"}}, nullptr},
      {Labels{}, "empty label set"},
      {Labels{{"__name__", "9up"}}, "invalid metric name"},
      {Labels{{"__name__", "up"}, {"bad-name", "x"}}, "invalid label name \"bad-name\""},
      {Labels{{"__name__", "up"}, {"a:b", "x"}}, "invalid label name"},
      {Labels({Label{"__name__", "up"}, Label{"a", "1"}, Label{"a", "2"}}),
       "duplicate label name \"a\""},
      {Labels{{"__name__", "up"}, {"a", "\xc3\x28"}}, "not valid UTF-8"},
  };
  for (const auto& c : cases) {
    absl::Status s = c.labels.Validate();
    if (c.want == nullptr) {
      EXPECT_TRUE(s.ok()) << c.labels.ToString() << ": " << s;
    } else {
      EXPECT_NE(s.message().find(c.want), std::string::npos) << s;
    }
  }
}

TEST(LabelsBuilder, SetsReplacesAndDeletes) {
  Labels base{{"__name__", "up"}, {"job", "a"}};
  Labels out = LabelsBuilder(base).Set("job", "b").Set("instance", "h:1").Del("__name__").Build();
  EXPECT_EQ(out, (Labels{{"instance", "h:1"}, {"job", "b"}}));
  EXPECT_EQ(LabelsBuilder(base).Set("job", "").Build(), (Labels{{"__name__", "up"}}));
}

TEST(Utf8, AcceptsValidAndRejectsMalformed) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(IsValidUtf8("\xff"));
}

}  // namespace
}  // namespace vigil::model
