// One table of behaviours, run against the real filesystem (in a temp dir) and the
// in-memory one, so tests that use NewMemFileSystem() exercise the semantics production
// gets from Posix().
#include <stdlib.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "fs/file_system.h"

namespace vigil::fs {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

struct Env {
  std::string name;
  // Returns the filesystem and a fresh empty directory on it.
  std::function<std::pair<FileSystem*, std::string>()> make;
};

class FileSystemTest : public ::testing::TestWithParam<Env> {
 protected:
  void SetUp() override {
    auto [fs, dir] = GetParam().make();
    fs_ = fs;
    dir_ = dir;
  }
  void TearDown() override { (void)fs_->RemoveAll(dir_); }

  std::string P(std::string_view name) const { return JoinPath(dir_, name); }

  void Write(const std::string& path, std::string_view data) {
    auto f = fs_->NewWritableFile(path);
    ASSERT_TRUE(f.ok()) << f.status();
    ASSERT_TRUE((*f)->Append(data).ok());
    ASSERT_TRUE((*f)->Close().ok());
  }
  std::string Read(const std::string& path) {
    auto r = fs_->ReadFile(path);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : "";
  }

  FileSystem* fs_ = nullptr;
  std::string dir_;
};

TEST_P(FileSystemTest, WrittenBytesReadBackAfterClose) {
  auto f = fs_->NewWritableFile(P("a"));
  ASSERT_TRUE(f.ok()) << f.status();
  ASSERT_TRUE((*f)->Append("hello ").ok());
  ASSERT_TRUE((*f)->Append("world").ok());
  EXPECT_EQ((*f)->Size(), 11u);
  ASSERT_TRUE((*f)->Sync().ok());
  ASSERT_TRUE((*f)->SyncFlushed().ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Read(P("a")), "hello world");
  EXPECT_EQ(*fs_->FileSize(P("a")), 11u);
}

TEST_P(FileSystemTest, FlushMakesBytesVisibleToReaders) {
  auto f = fs_->NewWritableFile(P("a"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("abc").ok());
  ASSERT_TRUE((*f)->Flush().ok());
  EXPECT_EQ(Read(P("a")), "abc");
}

TEST_P(FileSystemTest, LargeAppendsAreWrittenWhole) {
  std::string big(300 << 10, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  auto f = fs_->NewWritableFile(P("big"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Append("head").ok());
  ASSERT_TRUE((*f)->Append(big).ok());
  ASSERT_TRUE((*f)->Append("tail").ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Read(P("big")), "head" + big + "tail");
}

TEST_P(FileSystemTest, AppendModeContinuesAndTruncateModeClears) {
  Write(P("a"), "one");
  auto f = fs_->NewWritableFile(P("a"), /*append=*/true);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ((*f)->Size(), 3u);
  ASSERT_TRUE((*f)->Append("two").ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_EQ(Read(P("a")), "onetwo");
  Write(P("a"), "x");
  EXPECT_EQ(Read(P("a")), "x");
}

TEST_P(FileSystemTest, WritesAfterCloseFail) {
  auto f = fs_->NewWritableFile(P("a"));
  ASSERT_TRUE(f.ok());
  ASSERT_TRUE((*f)->Close().ok());
  EXPECT_FALSE((*f)->Append("x").ok());
}

TEST_P(FileSystemTest, MapFileSeesContentsAndEmptyFilesMapToEmptyView) {
  Write(P("a"), "mapped bytes");
  auto m = fs_->MapFile(P("a"));
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->data(), "mapped bytes");
  Write(P("empty"), "");
  auto e = fs_->MapFile(P("empty"));
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE((*e)->data().empty());
}

TEST_P(FileSystemTest, MissingFilesAreNotFoundAndErrorsNameThePath) {
  auto r = fs_->ReadFile(P("nope"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(P("nope")));
  EXPECT_EQ(fs_->MapFile(P("nope")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(fs_->FileSize(P("nope")).status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(*fs_->Exists(P("nope")));
  EXPECT_FALSE(*fs_->IsDir(P("nope")));
  EXPECT_FALSE(fs_->NewWritableFile(P("no/such/dir/file")).ok());
}

TEST_P(FileSystemTest, MkdirAllListDirAndIsDir) {
  ASSERT_TRUE(fs_->MkdirAll(P("x/y/z")).ok());
  ASSERT_TRUE(fs_->MkdirAll(P("x/y/z")).ok()) << "idempotent";
  Write(P("x/b"), "1");
  Write(P("x/a"), "2");
  EXPECT_THAT(*fs_->ListDir(P("x")), ElementsAre("a", "b", "y"));
  EXPECT_THAT(*fs_->ListDir(P("x/y/z")), IsEmpty());
  EXPECT_TRUE(*fs_->IsDir(P("x/y")));
  EXPECT_FALSE(*fs_->IsDir(P("x/a")));
  EXPECT_TRUE(*fs_->Exists(P("x/a")));
  EXPECT_TRUE(*fs_->Exists(P("x/y")));
  EXPECT_FALSE(fs_->MkdirAll(P("x/a/sub")).ok()) << "a file is in the way";
  EXPECT_EQ(fs_->ListDir(P("missing")).status().code(), absl::StatusCode::kNotFound);
}

TEST_P(FileSystemTest, RemoveRefusesNonEmptyDirectoriesAndRemoveAllDoesNot) {
  ASSERT_TRUE(fs_->MkdirAll(P("d/e")).ok());
  Write(P("d/e/f"), "x");
  EXPECT_FALSE(fs_->Remove(P("d")).ok());
  ASSERT_TRUE(fs_->Remove(P("d/e/f")).ok());
  ASSERT_TRUE(fs_->Remove(P("d/e")).ok());
  EXPECT_FALSE(*fs_->Exists(P("d/e")));
  ASSERT_TRUE(fs_->MkdirAll(P("d/e")).ok());
  Write(P("d/e/f"), "x");
  ASSERT_TRUE(fs_->RemoveAll(P("d")).ok());
  EXPECT_FALSE(*fs_->Exists(P("d")));
  EXPECT_FALSE(*fs_->Exists(P("d/e/f")));
  EXPECT_TRUE(fs_->RemoveAll(P("d")).ok()) << "absent is fine";
  EXPECT_EQ(fs_->Remove(P("d")).code(), absl::StatusCode::kNotFound);
}

TEST_P(FileSystemTest, RenameReplacesFilesAndMovesDirectories) {
  Write(P("a"), "new");
  Write(P("b"), "old");
  ASSERT_TRUE(fs_->Rename(P("a"), P("b")).ok());
  EXPECT_FALSE(*fs_->Exists(P("a")));
  EXPECT_EQ(Read(P("b")), "new");

  ASSERT_TRUE(fs_->MkdirAll(P("blk.tmp/chunks")).ok());
  Write(P("blk.tmp/chunks/000001"), "c");
  Write(P("blk.tmp/index"), "i");
  ASSERT_TRUE(fs_->Rename(P("blk.tmp"), P("blk")).ok());
  EXPECT_FALSE(*fs_->Exists(P("blk.tmp")));
  EXPECT_EQ(Read(P("blk/chunks/000001")), "c");
  EXPECT_EQ(Read(P("blk/index")), "i");
  EXPECT_THAT(*fs_->ListDir(dir_), ElementsAre("b", "blk"));
  EXPECT_FALSE(fs_->Rename(P("missing"), P("x")).ok());
}

TEST_P(FileSystemTest, TruncateShrinksAndExtendsWithZeros) {
  Write(P("a"), "abcdef");
  ASSERT_TRUE(fs_->Truncate(P("a"), 2).ok());
  EXPECT_EQ(Read(P("a")), "ab");
  ASSERT_TRUE(fs_->Truncate(P("a"), 4).ok());
  EXPECT_EQ(Read(P("a")), std::string("ab\0\0", 4));
}

TEST_P(FileSystemTest, LinkMakesASecondNameThatSurvivesRemovalOfTheFirst) {
  Write(P("a"), "data");
  ASSERT_TRUE(fs_->Link(P("a"), P("b")).ok());
  ASSERT_TRUE(fs_->Remove(P("a")).ok());
  EXPECT_EQ(Read(P("b")), "data");
  Write(P("c"), "x");
  EXPECT_EQ(fs_->Link(P("b"), P("c")).code(), absl::StatusCode::kAlreadyExists);
}

TEST_P(FileSystemTest, SyncDirWorksOnDirectoriesOnly) {
  EXPECT_TRUE(fs_->SyncDir(dir_).ok());
  EXPECT_FALSE(fs_->SyncDir(P("missing")).ok());
}

TEST_P(FileSystemTest, SecondLockOnTheSamePathFailsUntilTheFirstIsReleased) {
  auto first = fs_->Lock(P("lock"));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = fs_->Lock(P("lock"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), HasSubstr("locked by another process"));
  first->reset();
  auto third = fs_->Lock(P("lock"));
  EXPECT_TRUE(third.ok()) << third.status();
}

TEST_P(FileSystemTest, SyncFlushedRunsConcurrentlyWithAppends) {
  auto f = fs_->NewWritableFile(P("wal"));
  ASSERT_TRUE(f.ok());
  WritableFile* w = f->get();
  std::atomic<bool> done{false};
  std::thread syncer([&] {
    while (!done) ASSERT_TRUE(w->SyncFlushed().ok());
  });
  std::string expect;
  for (int i = 0; i < 2000; ++i) {
    std::string rec = "record-" + std::to_string(i) + ";";
    ASSERT_TRUE(w->Append(rec).ok());
    ASSERT_TRUE(w->Flush().ok());
    expect += rec;
  }
  done = true;
  syncer.join();
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(Read(P("wal")), expect);
}

std::pair<FileSystem*, std::string> MakePosix() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/vigil_fs_test.XXXXXX";
  char* dir = mkdtemp(tmpl.data());
  EXPECT_NE(dir, nullptr);
  return {Posix(), tmpl};
}

std::pair<FileSystem*, std::string> MakeMem() {
  static std::unique_ptr<FileSystem> mem = NewMemFileSystem();
  static int n = 0;
  std::string dir = "/mem/test" + std::to_string(++n);
  EXPECT_TRUE(mem->MkdirAll(dir).ok());
  return {mem.get(), dir};
}

INSTANTIATE_TEST_SUITE_P(AllFileSystems, FileSystemTest,
                         ::testing::Values(Env{"Posix", MakePosix}, Env{"Mem", MakeMem}),
                         [](const auto& info) { return info.param.name; });

TEST(MemFileSystem, RelativeAndAbsolutePathsDoNotMix) {
  auto fs = NewMemFileSystem();
  ASSERT_TRUE(fs->MkdirAll("rel/d").ok());
  ASSERT_TRUE(fs->MkdirAll("/abs").ok());
  EXPECT_THAT(*fs->ListDir(""), ElementsAre("rel"));
  EXPECT_THAT(*fs->ListDir("/"), ElementsAre("abs"));
  EXPECT_THAT(*fs->ListDir("rel//"), ElementsAre("d"));
}

}  // namespace
}  // namespace vigil::fs
