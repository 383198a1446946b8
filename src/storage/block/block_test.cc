#include "storage/block/block.h"

#include <unistd.h>

#include <cstdlib>

#include "gtest/gtest.h"
#include "storage/block/block_format.h"
#include "storage/block/block_test_util.h"
#include "storage/block/writer.h"

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

class BlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_ = fs::NewMemFileSystem();
    ASSERT_TRUE(fs_->MkdirAll("/data").ok());
    model_ = MakeModel(40, 480, kT0, 1);
    auto set = SetFromModel(model_);
    auto ulid = Write(fs_.get(), "/data", *set, kT0, kT0 + 2 * kHour);
    ASSERT_TRUE(ulid.ok()) << ulid.status();
    dir_ = "/data/" + ulid->ToString();
    auto b = Block::Open(fs_.get(), dir_);
    ASSERT_TRUE(b.ok()) << b.status();
    block_ = std::move(*b);
  }

  std::unique_ptr<fs::FileSystem> fs_;
  Model model_;
  std::string dir_;
  std::unique_ptr<Block> block_;
};

TEST_F(BlockTest, MetaDescribesTheBlock) {
  const auto& m = block_->meta();
  EXPECT_EQ(m.min_time, kT0);
  EXPECT_EQ(m.max_time, kT0 + 2 * kHour);
  EXPECT_EQ(m.num_series, 40u);
  EXPECT_EQ(m.num_samples, 40u * 480);
  EXPECT_EQ(m.num_chunks, 40u);  // one long block-codec chunk per series
  EXPECT_EQ(m.level, 1);
  ASSERT_EQ(m.sources.size(), 1u);
  EXPECT_EQ(m.sources[0], m.ulid);
  EXPECT_GT(block_->size_bytes(), 0u);
  auto names = fs_->ListDir("/data");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 1u) << "no .tmp left behind";
}

struct SelectCase {
  const char* name;
  std::vector<std::tuple<MatchType, std::string, std::string>> matchers;
};

class BlockSelect : public BlockTest, public ::testing::WithParamInterface<SelectCase> {};

TEST_P(BlockSelect, ReturnsExactlyTheMatchingSeriesAndSamples) {
  model::Matchers ms;
  for (const auto& [t, n, v] : GetParam().matchers) ms.push_back(Matcher::MustMake(t, n, v));
  for (std::string tenant : {"default", "acme", "nobody"}) {
    for (auto [mint, maxt] : {std::pair{kT0, kT0 + 2 * kHour}, std::pair{kT0 + 1000, kT0 + kHour},
                              std::pair{kT0 - kHour, kT0 + 7}, std::pair{kT0 + 3 * kHour, kT0 + 4 * kHour}}) {
      SCOPED_TRACE(fmt::format("tenant {} [{}, {}]", tenant, mint - kT0, maxt - kT0));
      auto q = block_->Querier(tenant, mint, maxt);
      ExpectSameData(Expect(model_, tenant, ms, mint, maxt), Collect(*q, ms));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Matchers, BlockSelect,
    ::testing::Values(
        SelectCase{"equal", {{MatchType::kEqual, "job", "api"}}},
        SelectCase{"equal_name", {{MatchType::kEqual, "__name__", "up"}}},
        SelectCase{"equal_missing_value", {{MatchType::kEqual, "job", "nope"}}},
        SelectCase{"equal_empty_means_absent", {{MatchType::kEqual, "mode", ""}}},
        SelectCase{"not_equal", {{MatchType::kNotEqual, "job", "api"}}},
        SelectCase{"not_equal_empty_means_present", {{MatchType::kNotEqual, "mode", ""}}},
        SelectCase{"regex_set", {{MatchType::kRegexMatch, "job", "api|db"}}},
        SelectCase{"regex_scan", {{MatchType::kRegexMatch, "instance", "host-1.*"}}},
        SelectCase{"regex_matching_empty", {{MatchType::kRegexMatch, "mode", "idle|"}}},
        SelectCase{"regex_all", {{MatchType::kRegexMatch, "mode", ".*"}}},
        SelectCase{"regex_nonempty", {{MatchType::kRegexMatch, "mode", ".+"}}},
        SelectCase{"not_regex", {{MatchType::kRegexNoMatch, "instance", "host-0.*"}}},
        SelectCase{"not_regex_matching_empty", {{MatchType::kRegexNoMatch, "mode", "idle|"}}},
        SelectCase{"combined",
                   {{MatchType::kEqual, "__name__", "cpu_seconds_total"},
                    {MatchType::kNotEqual, "job", "db"},
                    {MatchType::kRegexMatch, "mode", "idle|user"},
                    {MatchType::kRegexNoMatch, "instance", "host-3.*"}}},
        SelectCase{"tenant_label_is_not_selectable_by_users",
                   {{MatchType::kEqual, "__tenant__", "acme"}}},
        SelectCase{"no_matchers", {}}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(BlockTest, LabelNamesAndValuesHideTheTenant) {
  auto q = block_->Querier("default", kT0, kT0 + 2 * kHour);
  auto names = q->LabelNames({});
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"__name__", "instance", "job", "mode"}));
  auto jobs = q->LabelValues("job", {});
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ(*jobs, (std::vector<std::string>{"api", "db", "node"}));
  auto tenants = q->LabelValues("__tenant__", {});
  ASSERT_TRUE(tenants.ok());
  EXPECT_TRUE(tenants->empty());
  auto modes = q->LabelValues("mode", {Matcher::MustMake(MatchType::kEqual, "__name__", "up")});
  ASSERT_TRUE(modes.ok());
  EXPECT_TRUE(modes->empty());  // series 0,4,8.. are "up" and have no mode
  auto up_names = q->LabelNames({Matcher::MustMake(MatchType::kEqual, "__name__", "up")});
  ASSERT_TRUE(up_names.ok());
  EXPECT_EQ(*up_names, (std::vector<std::string>{"__name__", "instance", "job"}));
  // Only acme's instances are visible to acme.
  auto acme = block_->Querier("acme", kT0, kT0 + 2 * kHour)->LabelValues("instance", {});
  ASSERT_TRUE(acme.ok());
  EXPECT_EQ(acme->size(), 8u);
}

TEST_F(BlockTest, SeriesIteratorSeeksInsideTheRange) {
  auto q = block_->Querier("default", kT0 + 60000, kT0 + kHour);
  auto ss = q->Select(true, {}, {Matcher::MustMake(MatchType::kEqual, "instance", "host-01")});
  ASSERT_TRUE(ss->Next());
  auto it = ss->At().Iterator();
  ASSERT_TRUE(it->Seek(0));  // clipped to the querier's mint
  EXPECT_EQ(it->At().t, kT0 + 60000);
  ASSERT_TRUE(it->Seek(kT0 + 100001));
  EXPECT_EQ(it->At().t, kT0 + 105000);
  ASSERT_TRUE(it->Seek(kT0 + 1000));  // never backwards
  EXPECT_EQ(it->At().t, kT0 + 105000);
  EXPECT_FALSE(it->Seek(kT0 + kHour + 1));
  EXPECT_FALSE(it->Next());
}

TEST_F(BlockTest, DeleteHidesSamplesAndSurvivesReopen) {
  model::Matchers ms{Matcher::MustMake(MatchType::kEqual, "job", "api")};
  const int64_t dmin = kT0 + 10 * 60000, dmax = kT0 + 20 * 60000;
  ASSERT_TRUE(block_->Delete("default", ms, dmin, dmax).ok());
  // Another tenant's series with the same matcher are untouched.
  Model want = model_;
  for (auto& [l, s] : want) {
    if (l.Get("job") != "api" || l.Get("__tenant__") != "default") continue;
    std::erase_if(s, [&](const model::Sample& x) { return x.t >= dmin && x.t <= dmax; });
  }
  for (int pass = 0; pass < 2; ++pass) {
    for (std::string tenant : {"default", "acme"}) {
      auto q = block_->Querier(tenant, kT0, kT0 + 2 * kHour);
      ExpectSameData(Expect(want, tenant, {}, kT0, kT0 + 2 * kHour), Collect(*q, {}));
    }
    auto b = Block::Open(fs_.get(), dir_);
    ASSERT_TRUE(b.ok()) << b.status();
    block_ = std::move(*b);
  }
  // Deleting everything of a series drops it from results.
  ASSERT_TRUE(block_->Delete("default", ms, model::kMinTime, model::kMaxTime).ok());
  auto q = block_->Querier("default", kT0, kT0 + 2 * kHour);
  EXPECT_TRUE(Collect(*q, ms).empty());
}

TEST_F(BlockTest, WriterDropsSamplesOutsideTheBlockRange) {
  auto set = SetFromModel(model_);
  auto ulid = Write(fs_.get(), "/data", *set, kT0 + kHour, kT0 + kHour + 15000 * 10);
  ASSERT_TRUE(ulid.ok());
  auto b = Block::Open(fs_.get(), "/data/" + ulid->ToString());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->meta().num_samples, 40u * 10);
  auto q = (*b)->Querier("default", model::kMinTime, model::kMaxTime);
  ExpectSameData(Expect(model_, "default", {}, kT0 + kHour, kT0 + kHour + 15000 * 10 - 1), Collect(*q, {}));
}

TEST_F(BlockTest, XorBlocksReadTheSame) {
  auto set = SetFromModel(model_);
  WriteOptions opts;
  opts.block_codec = false;
  auto ulid = Write(fs_.get(), "/data", *set, kT0, kT0 + 2 * kHour, opts);
  ASSERT_TRUE(ulid.ok());
  auto b = Block::Open(fs_.get(), "/data/" + ulid->ToString());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ((*b)->meta().num_chunks, 40u * 4);
  EXPECT_GT((*b)->size_bytes(), block_->size_bytes());
  auto q = (*b)->Querier("default", kT0, kT0 + 2 * kHour);
  ExpectSameData(Expect(model_, "default", {}, kT0, kT0 + 2 * kHour), Collect(*q, {}));
}

TEST_F(BlockTest, CorruptIndexFailsOpenWithAClearError) {
  auto data = fs_->ReadFile(dir_ + "/index");
  ASSERT_TRUE(data.ok());
  std::string bad = *data;
  bad[bad.size() / 2] ^= 0x40;
  auto f = fs_->NewWritableFile(dir_ + "/index");
  ASSERT_TRUE((*f)->Append(bad).ok());
  ASSERT_TRUE((*f)->Close().ok());
  auto b = Block::Open(fs_.get(), dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(std::string(b.status().message()).find("open block"), std::string::npos) << b.status();
  EXPECT_NE(std::string(b.status().message()).find("crc mismatch"), std::string::npos) << b.status();
}

TEST_F(BlockTest, CorruptChunkFailsIterationNotTheProcess) {
  auto data = fs_->ReadFile(dir_ + "/chunks/000001");
  ASSERT_TRUE(data.ok());
  std::string bad = *data;
  bad[format::kChunksHeaderSize + 20] ^= 0x01;  // inside the first chunk
  auto f = fs_->NewWritableFile(dir_ + "/chunks/000001");
  ASSERT_TRUE((*f)->Append(bad).ok());
  ASSERT_TRUE((*f)->Close().ok());
  auto b = Block::Open(fs_.get(), dir_);
  ASSERT_TRUE(b.ok()) << b.status();
  int errors = 0;
  for (std::string tenant : {"default", "acme"}) {
    auto q = (*b)->Querier(tenant, kT0, kT0 + 2 * kHour);
    auto ss = q->Select(false, {}, {});
    while (ss->Next()) {
      auto it = ss->At().Iterator();
      while (it->Next()) {
      }
      if (!it->Err().ok()) {
        ++errors;
        EXPECT_NE(std::string(it->Err().message()).find("crc mismatch"), std::string::npos) << it->Err();
      }
    }
  }
  EXPECT_EQ(errors, 1);
}

TEST_F(BlockTest, BadMetaOrMissingFilesFailOpen) {
  {
    auto f = fs_->NewWritableFile(dir_ + "/meta.json");
    ASSERT_TRUE((*f)->Append("{\"ulid\": 3}").ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  auto b = Block::Open(fs_.get(), dir_);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(std::string(b.status().message()).find("meta.json"), std::string::npos) << b.status();
  EXPECT_FALSE(Block::Open(fs_.get(), "/data/nope").ok());
}

TEST(BlockEmpty, AnEmptySetWritesAnEmptyReadableBlock) {
  auto fs = fs::NewMemFileSystem();
  ASSERT_TRUE(fs->MkdirAll("/data").ok());
  auto set = NewVectorChunkSeriesSet({});
  auto ulid = Write(fs.get(), "/data", *set, kT0, kT0 + kHour);
  ASSERT_TRUE(ulid.ok()) << ulid.status();
  auto b = Block::Open(fs.get(), "/data/" + ulid->ToString());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->meta().num_series, 0u);
  auto q = (*b)->Querier("default", kT0, kT0 + kHour);
  EXPECT_TRUE(Collect(*q, {}).empty());
  auto names = q->LabelNames({});
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty());
}

TEST(BlockWrite, RejectsSeriesOutOfLabelOrder) {
  class Unsorted final : public ChunkSeriesSet {
   public:
    bool Next() override { return ++i_ < 2; }
    const ChunkSeries& At() const override { return s_[i_]; }
    absl::Status Err() const override { return absl::OkStatus(); }
    ChunkSeries s_[2] = {{model::Labels{{"a", "2"}}, testing::XorChunks({{1, 1}})},
                         {model::Labels{{"a", "1"}}, testing::XorChunks({{1, 1}})}};
    int i_ = -1;
  };
  auto fs = fs::NewMemFileSystem();
  ASSERT_TRUE(fs->MkdirAll("/data").ok());
  Unsorted set;
  auto ulid = Write(fs.get(), "/data", set, 0, 100);
  ASSERT_FALSE(ulid.ok());
  EXPECT_NE(std::string(ulid.status().message()).find("out of label order"), std::string::npos);
  auto names = fs->ListDir("/data");
  ASSERT_TRUE(names.ok());
  EXPECT_TRUE(names->empty()) << "the .tmp directory is removed on failure";
}

TEST(BlockPosix, WritesAndMapsRealFiles) {
  char tmpl[] = "/tmp/vigil_block_test_XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string root = tmpl;
  fs::FileSystem* fs = fs::Posix();
  Model m = MakeModel(10, 100, kT0, 9);
  auto set = SetFromModel(m);
  auto ulid = Write(fs, root, *set, kT0, kT0 + kHour);
  ASSERT_TRUE(ulid.ok()) << ulid.status();
  auto b = Block::Open(fs, root + "/" + ulid->ToString());
  ASSERT_TRUE(b.ok()) << b.status();
  auto q = (*b)->Querier("default", kT0, kT0 + kHour);
  ExpectSameData(Expect(m, "default", {}, kT0, kT0 + kHour), Collect(*q, {}));
  b->reset();
  ASSERT_TRUE(fs->RemoveAll(root).ok());
}

}  // namespace
}  // namespace vigil::storage::block
