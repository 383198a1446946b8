#include "fs/faulty.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace vigil::fs {
namespace {

using ::testing::HasSubstr;

class FaultyTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(base_->MkdirAll("/d").ok()); }

  std::unique_ptr<WritableFile> Open(const std::string& path, bool append = false) {
    auto f = faulty_.NewWritableFile(path, append);
    EXPECT_TRUE(f.ok()) << f.status();
    return std::move(*f);
  }
  std::string Contents(const std::string& path) { return *base_->ReadFile(path); }

  std::unique_ptr<FileSystem> base_ = NewMemFileSystem();
  FaultyFileSystem faulty_{base_.get(), /*seed=*/42};
};

TEST_F(FaultyTest, NthAppendFailsWithoutWriting) {
  auto f = Open("/d/a");
  faulty_.FailNth(FaultyFileSystem::Op::kAppend, 2);
  EXPECT_TRUE(f->Append("one").ok());
  EXPECT_FALSE(f->Append("two").ok());
  EXPECT_TRUE(f->Append("three").ok());
  EXPECT_EQ(Contents("/d/a"), "onethree");
}

TEST_F(FaultyTest, TornAppendWritesAPrefixThenFails) {
  auto f = Open("/d/a");
  faulty_.TearNthAppend(1, 3);
  absl::Status s = f->Append("abcdef");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(Contents("/d/a"), "abc");
}

TEST_F(FaultyTest, NthSyncAndRenameFail) {
  auto f = Open("/d/a");
  faulty_.FailNth(FaultyFileSystem::Op::kSync, 1, absl::DataLossError("fsync EIO"));
  EXPECT_EQ(f->Sync().code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(f->Sync().ok());
  faulty_.FailNth(FaultyFileSystem::Op::kRename, 1);
  EXPECT_FALSE(faulty_.Rename("/d/a", "/d/b").ok());
  EXPECT_TRUE(faulty_.Rename("/d/a", "/d/b").ok());
}

TEST_F(FaultyTest, SpaceLimitBehavesLikeENOSPC) {
  auto f = Open("/d/a");
  faulty_.SetSpaceLimit(5);
  EXPECT_TRUE(f->Append("abc").ok());
  absl::Status s = f->Append("defgh");
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(s.message()), HasSubstr("No space left"));
  EXPECT_EQ(Contents("/d/a"), "abcde");
  faulty_.SetSpaceLimit(-1);
  EXPECT_TRUE(f->Append("x").ok());
}

TEST_F(FaultyTest, FlippedBitsShowInReadFileAndMapFile) {
  auto f = Open("/d/seg");
  ASSERT_TRUE(f->Append("AAAA").ok());
  faulty_.FlipBitsOnRead("seg", 2, 0x01);
  EXPECT_EQ(*faulty_.ReadFile("/d/seg"), "AA@A");
  auto m = faulty_.MapFile("/d/seg");
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->data(), "AA@A");
  EXPECT_EQ(Contents("/d/seg"), "AAAA") << "the file itself is intact";
  faulty_.ClearFaults();
  EXPECT_EQ(*faulty_.ReadFile("/d/seg"), "AAAA");
}

TEST_F(FaultyTest, CrashDropsUnsyncedBytes) {
  auto f = Open("/d/a");
  ASSERT_TRUE(f->Append("durable").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Append("-lost").ok());
  ASSERT_TRUE(f->Flush().ok());
  auto g = Open("/d/never-synced");
  ASSERT_TRUE(g->Append("gone").ok());
  ASSERT_TRUE(faulty_.SimulateCrash().ok());
  EXPECT_EQ(Contents("/d/a"), "durable");
  EXPECT_EQ(Contents("/d/never-synced"), "");
  EXPECT_FALSE(f->Append("after").ok()) << "files open at the crash are dead";
  EXPECT_EQ(Contents("/d/a"), "durable");
}

TEST_F(FaultyTest, CrashWithRandomTailKeepsAPrefixBetweenSyncedAndWritten) {
  for (int round = 0; round < 20; ++round) {
    auto f = Open("/d/a");
    ASSERT_TRUE(f->Append("0123456789").ok());
    ASSERT_TRUE(f->Sync().ok());
    ASSERT_TRUE(f->Append("abcdefghij").ok());
    ASSERT_TRUE(faulty_.SimulateCrash({.keep_random_unsynced = true}).ok());
    std::string got = Contents("/d/a");
    ASSERT_GE(got.size(), 10u);
    ASSERT_LE(got.size(), 20u);
    EXPECT_EQ(got, std::string("0123456789abcdefghij").substr(0, got.size()));
  }
}

TEST_F(FaultyTest, CrashBookkeepingFollowsRenames) {
  auto f = Open("/d/x.tmp");
  ASSERT_TRUE(f->Append("synced").ok());
  ASSERT_TRUE(f->Sync().ok());
  ASSERT_TRUE(f->Close().ok());
  ASSERT_TRUE(faulty_.Rename("/d/x.tmp", "/d/x").ok());
  auto g = Open("/d/x", /*append=*/true);
  ASSERT_TRUE(g->Append("+unsynced").ok());
  ASSERT_TRUE(faulty_.SimulateCrash().ok());
  EXPECT_EQ(Contents("/d/x"), "synced");
}

TEST_F(FaultyTest, FilesWrittenBeforeWrappingCountAsDurable) {
  {
    auto w = base_->NewWritableFile("/d/old");
    ASSERT_TRUE((*w)->Append("old").ok());
  }
  auto f = Open("/d/old", /*append=*/true);
  ASSERT_TRUE(f->Append("new").ok());
  ASSERT_TRUE(faulty_.SimulateCrash().ok());
  EXPECT_EQ(Contents("/d/old"), "old");
}

}  // namespace
}  // namespace vigil::fs
