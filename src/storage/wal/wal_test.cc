#include "storage/wal/wal.h"

#include <stdlib.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include "base/crc32c.h"
#include "fs/faulty.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "storage/wal/records.h"
#include "storage/wal/segments_internal.h"

namespace vigil::storage::wal {
namespace {

using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr char kDir[] = "/data/wal";

// A record of type kSamples whose payload is `i` rendered and padded, so each is unique
// and their sizes vary.
std::string Rec(int i, size_t pad = 0) {
  std::string r(1, static_cast<char>(RecordType::kSamples));
  r += "record-" + std::to_string(i);
  r.append(pad, static_cast<char>('a' + i % 26));
  return r;
}

struct Replayed {
  std::vector<std::string> records;
  std::optional<Corruption> corruption;
  absl::Status status;
  std::vector<ReplayProgress> progress;
};

Replayed Replay(fs::FileSystem* fs, const std::string& dir = kDir) {
  Replayed out;
  auto r = Reader::Open(fs, dir, {.progress = [&](const ReplayProgress& p) { out.progress.push_back(p); }});
  if (!r.ok()) {
    out.status = r.status();
    return out;
  }
  while ((*r)->Next()) out.records.emplace_back((*r)->record());
  out.corruption = (*r)->corruption();
  out.status = (*r)->status();
  return out;
}

std::vector<std::string> Recs(int from, int to, size_t pad = 0) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back(Rec(i, pad));
  return v;
}

class WalTest : public ::testing::Test {
 protected:
  std::unique_ptr<Writer> OpenWriter(WriterOptions o = {.sync = SyncPolicy::kNever}) {
    auto w = Writer::Open(fs_, kDir, o);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? std::move(*w) : nullptr;
  }
  void LogAll(Writer* w, const std::vector<std::string>& recs) {
    for (const auto& r : recs) ASSERT_TRUE(w->Log(r).ok());
  }
  std::string SegPath(uint32_t i) { return fs::JoinPath(kDir, SegmentName(i)); }
  std::string Contents(uint32_t seg) { return *base_->ReadFile(SegPath(seg)); }
  void Overwrite(uint32_t seg, const std::string& data) {
    auto f = base_->NewWritableFile(SegPath(seg));
    ASSERT_TRUE(f.ok());
    ASSERT_TRUE((*f)->Append(data).ok());
    ASSERT_TRUE((*f)->Close().ok());
  }

  std::unique_ptr<fs::FileSystem> base_ = fs::NewMemFileSystem();
  fs::FaultyFileSystem faulty_{base_.get(), 3};
  fs::FileSystem* fs_ = &faulty_;
};

TEST_F(WalTest, RecordsReadBackInOrderAcrossManySegments) {
  auto w = OpenWriter({.sync = SyncPolicy::kNever, .segment_bytes = 4096});
  std::vector<std::string> recs;
  std::mt19937 rng(1);
  for (int i = 0; i < 2000; ++i) recs.push_back(Rec(i, rng() % 200));
  recs.push_back(Rec(99999, 10000));  // larger than a segment: gets one of its own
  LogAll(w.get(), recs);
  ASSERT_TRUE(w->Close().ok());
  auto segs = ListSegments(fs_, kDir);
  ASSERT_TRUE(segs.ok());
  EXPECT_EQ(segs->first, 1u);
  EXPECT_GT(segs->last, 50u);
  for (uint32_t s = segs->first; s < segs->last; ++s) {
    EXPECT_LE(*fs_->FileSize(SegPath(s)), 4096u) << "segment " << s;
  }
  Replayed r = Replay(fs_);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_FALSE(r.corruption) << r.corruption->ToString();
  EXPECT_EQ(r.records, recs);
  ASSERT_EQ(r.progress.size(), segs->last);
  EXPECT_EQ(r.progress[2].file, 3u);
  EXPECT_EQ(r.progress[2].files, segs->last);
  EXPECT_EQ(r.progress[2].segment, 3u);
  EXPECT_EQ(w->stats().records_written, static_cast<int64_t>(recs.size()));
  EXPECT_EQ(w->stats().segments_created, static_cast<int64_t>(segs->last));
}

TEST_F(WalTest, MultiRecordLogStaysInOneSegmentAndInOrder) {
  auto w = OpenWriter({.sync = SyncPolicy::kNever, .segment_bytes = 300});
  std::vector<std::string> all;
  for (int batch = 0; batch < 20; ++batch) {
    std::vector<std::string> recs = Recs(batch * 3, batch * 3 + 3, 40);
    std::vector<std::string_view> views(recs.begin(), recs.end());
    ASSERT_TRUE(w->Log(views).ok());
    all.insert(all.end(), recs.begin(), recs.end());
  }
  ASSERT_TRUE(w->Close().ok());
  auto r = *Reader::Open(fs_, kDir);
  std::vector<std::string> got;
  std::vector<uint32_t> segs;
  while (r->Next()) {
    got.emplace_back(r->record());
    segs.push_back(r->segment());
  }
  EXPECT_EQ(got, all);
  for (size_t i = 0; i < segs.size(); i += 3) {
    EXPECT_EQ(segs[i], segs[i + 2]) << "batch " << i / 3 << " split across segments";
  }
}

TEST_F(WalTest, ReopenStartsANewSegmentAfterTheLast) {
  auto w = OpenWriter();
  LogAll(w.get(), Recs(0, 3));
  ASSERT_TRUE(w->Close().ok());
  w = OpenWriter();
  EXPECT_EQ(w->current_segment(), 2u);
  LogAll(w.get(), Recs(3, 6));
  auto closed = w->NextSegment();
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(*closed, 2u);
  EXPECT_EQ(w->current_segment(), 3u);
  LogAll(w.get(), Recs(6, 7));
  EXPECT_EQ(*w->Segments(), (SegmentRange{1, 3}));
  ASSERT_TRUE(w->Close().ok());
  EXPECT_EQ(Replay(fs_).records, Recs(0, 7));
}

TEST_F(WalTest, InvalidRecordsAreRefused) {
  auto w = OpenWriter();
  EXPECT_EQ(w->Log("").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w->Log(std::string("\0abc", 4)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(w->Log(Rec(1)).ok()) << "a refused record does not fail the writer";
}

TEST_F(WalTest, LogAfterCloseFails) {
  auto w = OpenWriter();
  ASSERT_TRUE(w->Close().ok());
  EXPECT_FALSE(w->Log(Rec(1)).ok());
  EXPECT_TRUE(w->Close().ok());
}

// Damage done to the log on disk, and what replay must make of it.
struct DamageCase {
  std::string name;
  // Applied to a log of segments 1 (records 0..9) and 2 (records 10..19).
  std::function<void(WalTest*)> damage;
  size_t intact;        // records replayed before the damage
  uint32_t segment;     // where the corruption is reported
  std::string reason;   // substring of Corruption::reason
};

class WalDamageTest : public WalTest, public ::testing::WithParamInterface<DamageCase> {
 public:
  using WalTest::base_;
  using WalTest::Contents;
  using WalTest::Overwrite;
  using WalTest::SegPath;
  // Offset of record `i` (0-based) within its segment.
  uint64_t RecordOffset(uint32_t seg, int i) {
    uint64_t off = kSegmentHeaderSize;
    int first = seg == 1 ? 0 : 10;
    for (int k = first; k < i; ++k) off += kRecordHeaderSize + Rec(k).size();
    return off;
  }
};

const std::vector<DamageCase>& DamageCases() {
  static const auto* cases = new std::vector<DamageCase>{
      {"TornRecordAtTail",
       [](WalTest* t) {
         auto* d = static_cast<WalDamageTest*>(t);
         std::string s = d->Contents(2);
         d->Overwrite(2, s.substr(0, s.size() - 3));
       },
       19, 2, "runs past end of file"},
      {"TornRecordHeader",
       [](WalTest* t) {
         auto* d = static_cast<WalDamageTest*>(t);
         std::string s = d->Contents(2);
         d->Overwrite(2, s.substr(0, d->RecordOffset(2, 19) + 5));
       },
       19, 2, "torn record header"},
      {"ZeroFilledTail",
       [](WalTest* t) {
         auto* d = static_cast<WalDamageTest*>(t);
         d->Overwrite(2, d->Contents(2) + std::string(4096, '\0'));
       },
       20, 2, "zero-filled tail of 4096 bytes"},
      {"FlippedBitInPayload",
       [](WalTest* t) {
         auto* d = static_cast<WalDamageTest*>(t);
         std::string s = d->Contents(1);
         s[d->RecordOffset(1, 4) + kRecordHeaderSize + 3] ^= 0x10;
         d->Overwrite(1, s);
       },
       4, 1, "crc mismatch"},
      {"FlippedBitInLength",
       [](WalTest* t) {
         auto* d = static_cast<WalDamageTest*>(t);
         std::string s = d->Contents(1);
         s[d->RecordOffset(1, 7) + 3] ^= 0x01;
         d->Overwrite(1, s);
       },
       7, 1, ""},
      {"EmptyLastSegment",
       [](WalTest* t) { static_cast<WalDamageTest*>(t)->Overwrite(3, ""); },
       20, 3, "empty segment file"},
      {"TruncatedSegmentHeader",
       [](WalTest* t) { static_cast<WalDamageTest*>(t)->Overwrite(2, "VWA"); },
       10, 2, "truncated segment header"},
      {"GarbageFirstSegment",
       [](WalTest* t) {
         std::mt19937 rng(5);
         std::string junk(5000, '\0');
         for (char& c : junk) c = static_cast<char>(rng());
         static_cast<WalDamageTest*>(t)->Overwrite(1, junk);
       },
       0, 1, "bad segment magic"},
      {"UnknownFormatVersion",
       [](WalTest* t) {
         auto* d = static_cast<WalDamageTest*>(t);
         std::string s = d->Contents(2);
         s[4] = 9;
         d->Overwrite(2, s);
       },
       10, 2, "unsupported segment format version 9"},
      {"MissingMiddleSegment",
       [](WalTest* t) {
         auto* d = static_cast<WalDamageTest*>(t);
         d->Overwrite(3, d->Contents(2));
         ASSERT_TRUE(d->base_->Remove(d->SegPath(2)).ok());
       },
       10, 2, "missing"},
  };
  return *cases;
}

TEST_P(WalDamageTest, ReplayKeepsIntactRecordsAndRepairLetsTheLogContinue) {
  const DamageCase& c = GetParam();
  {
    auto w = OpenWriter();
    LogAll(w.get(), Recs(0, 10));
    ASSERT_TRUE(w->NextSegment().ok());
    LogAll(w.get(), Recs(10, 20));
    ASSERT_TRUE(w->Close().ok());
  }
  c.damage(this);

  Replayed r = Replay(fs_);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.records, Recs(0, static_cast<int>(c.intact)));
  ASSERT_TRUE(r.corruption.has_value());
  EXPECT_EQ(r.corruption->segment, c.segment);
  EXPECT_THAT(r.corruption->reason, HasSubstr(c.reason));
  EXPECT_THAT(r.corruption->ToString(), HasSubstr(SegmentName(c.segment)));

  auto repaired = Repair(fs_, kDir, *r.corruption);
  ASSERT_TRUE(repaired.ok()) << repaired.status();

  Replayed again = Replay(fs_);
  EXPECT_FALSE(again.corruption) << again.corruption->ToString();
  EXPECT_EQ(again.records, Recs(0, static_cast<int>(c.intact)));

  // The log continues after the repaired tail.
  auto w = OpenWriter();
  LogAll(w.get(), Recs(100, 103));
  ASSERT_TRUE(w->Close().ok());
  Replayed after = Replay(fs_);
  EXPECT_FALSE(after.corruption) << after.corruption->ToString();
  std::vector<std::string> want = Recs(0, static_cast<int>(c.intact));
  for (auto& x : Recs(100, 103)) want.push_back(x);
  EXPECT_EQ(after.records, want);
}

INSTANTIATE_TEST_SUITE_P(Damage, WalDamageTest, ::testing::ValuesIn(DamageCases()),
                         [](const auto& info) { return info.param.name; });

TEST_F(WalTest, FlippedBitOnReadIsReportedAsCorruption) {
  auto w = OpenWriter();
  LogAll(w.get(), Recs(0, 5));
  ASSERT_TRUE(w->Close().ok());
  faulty_.FlipBitsOnRead(SegmentName(1), kSegmentHeaderSize + kRecordHeaderSize + 2, 0x80);
  Replayed r = Replay(fs_);
  EXPECT_TRUE(r.records.empty());
  ASSERT_TRUE(r.corruption);
  EXPECT_EQ(r.corruption->offset, kSegmentHeaderSize);
  EXPECT_THAT(r.corruption->reason, HasSubstr("crc mismatch"));
}

TEST_F(WalTest, ReadErrorIsAStatusNotCorruption) {
  auto w = OpenWriter();
  LogAll(w.get(), Recs(0, 2));
  ASSERT_TRUE(w->Close().ok());
  faulty_.FailNth(fs::FaultyFileSystem::Op::kRead, 1, absl::InternalError("EIO"));
  Replayed r = Replay(fs_);
  EXPECT_FALSE(r.status.ok());
  EXPECT_THAT(std::string(r.status.message()), HasSubstr("replay wal segment 1"));
  EXPECT_FALSE(r.corruption);
}

TEST_F(WalTest, NoLogAtAllReplaysNothing) {
  Replayed r = Replay(fs_);
  EXPECT_TRUE(r.status.ok());
  EXPECT_TRUE(r.records.empty());
  EXPECT_FALSE(r.corruption);
}

TEST_F(WalTest, TornWriteFailsTheWriterAndReplayRecoversWhatCameBefore) {
  auto w = OpenWriter();
  LogAll(w.get(), Recs(0, 5));
  faulty_.TearNthAppend(2, 3);  // the record body after its header
  EXPECT_FALSE(w->Log(Rec(5, 100)).ok());
  absl::Status again = w->Log(Rec(6));
  EXPECT_FALSE(again.ok()) << "the writer stays failed";
  EXPECT_THAT(std::string(again.message()), HasSubstr("wal segment 1"));
  w.reset();
  Replayed r = Replay(fs_);
  EXPECT_EQ(r.records, Recs(0, 5));
  ASSERT_TRUE(r.corruption);
  EXPECT_THAT(r.corruption->reason, HasSubstr("runs past end of file"));
  ASSERT_TRUE(Repair(fs_, kDir, *r.corruption).ok());
  EXPECT_FALSE(Replay(fs_).corruption);
}

TEST_F(WalTest, DiskFullFailsTheLogAndEarlierRecordsSurvive) {
  auto w = OpenWriter({.sync = SyncPolicy::kAlways});
  LogAll(w.get(), Recs(0, 5));
  faulty_.SetSpaceLimit(20);
  absl::Status s = w->Log(Rec(5, 100));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  faulty_.ClearFaults();
  w.reset();
  ASSERT_TRUE(faulty_.SimulateCrash().ok());
  Replayed r = Replay(fs_);
  EXPECT_EQ(r.records, Recs(0, 5));
}

TEST_F(WalTest, FailedFsyncFailsTheCommitAndTheWriter) {
  auto w = OpenWriter({.sync = SyncPolicy::kAlways});
  ASSERT_TRUE(w->Log(Rec(0)).ok());
  faulty_.FailNth(fs::FaultyFileSystem::Op::kSync, 1, absl::InternalError("fsync: EIO"));
  absl::Status s = w->Log(Rec(1));
  EXPECT_THAT(std::string(s.message()), HasSubstr("fsync: EIO"));
  EXPECT_FALSE(w->Log(Rec(2)).ok());
  EXPECT_FALSE(w->Sync().ok());
}

TEST_F(WalTest, SyncNeverLosesRecordsOnlyAfterTheLastSync) {
  auto w = OpenWriter({.sync = SyncPolicy::kNever});
  LogAll(w.get(), Recs(0, 10));
  ASSERT_TRUE(w->Sync().ok());
  LogAll(w.get(), Recs(10, 20));
  ASSERT_TRUE(faulty_.SimulateCrash().ok());
  w.reset();
  Replayed r = Replay(fs_);
  EXPECT_EQ(r.records, Recs(0, 10));
  EXPECT_FALSE(r.corruption);
}

TEST_F(WalTest, SegmentCutMakesTheClosedSegmentDurable) {
  auto w = OpenWriter({.sync = SyncPolicy::kNever});
  LogAll(w.get(), Recs(0, 10));
  ASSERT_TRUE(w->NextSegment().ok());
  LogAll(w.get(), Recs(10, 20));
  ASSERT_TRUE(faulty_.SimulateCrash().ok());
  w.reset();
  EXPECT_EQ(Replay(fs_).records, Recs(0, 10));
}

TEST_F(WalTest, GroupedSyncFsyncsInTheBackground) {
  auto w = OpenWriter({.sync = SyncPolicy::kGrouped, .sync_interval_ms = 5});
  LogAll(w.get(), Recs(0, 50));
  for (int i = 0; i < 400 && w->stats().fsyncs == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT(w->stats().fsyncs, 0);
  ASSERT_TRUE(faulty_.SimulateCrash().ok());
  w.reset();
  EXPECT_EQ(Replay(fs_).records, Recs(0, 50));
}

// Under kAlways every Log that returned OK must survive a power loss, while concurrent
// committers share fsyncs.
TEST_F(WalTest, GroupCommitMakesEveryAcknowledgedLogDurable) {
  for (int round = 0; round < 5; ++round) {
    auto w = OpenWriter({.sync = SyncPolicy::kAlways, .segment_bytes = 16 << 10});
    std::mutex mu;
    std::set<std::string> acked;
    std::atomic<bool> crash{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 300 && !crash; ++i) {
          std::string r = Rec(round * 100000 + t * 1000 + i, i % 50);
          if (w->Log(r).ok()) {
            std::lock_guard<std::mutex> l(mu);
            acked.insert(r);
          }
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + round));
    ASSERT_TRUE(faulty_.SimulateCrash({.keep_random_unsynced = true}).ok());
    crash = true;
    for (auto& th : threads) th.join();
    // At most one fsync per commit plus one per segment cut (the in-memory fs syncs
    // instantly, so grouping is shown by the Posix test below).
    EXPECT_LE(w->stats().fsyncs, w->stats().records_written + w->stats().segments_created);
    w.reset();

    Replayed r = Replay(fs_);
    ASSERT_TRUE(r.status.ok());
    std::set<std::string> got(r.records.begin(), r.records.end());
    for (const auto& a : acked) {
      ASSERT_TRUE(got.count(a)) << "acknowledged record lost: " << a.substr(0, 20);
    }
    if (r.corruption) {
      ASSERT_TRUE(Repair(fs_, kDir, *r.corruption).ok());
    }
  }
}

// The same on the real filesystem, where fsync takes time, so grouping shows.
TEST(WalPosix, ConcurrentAlwaysCommitsShareFsyncs) {
  std::string tmpl = "/tmp/vigil_wal_test.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  fs::FileSystem* fs = fs::Posix();
  {
    auto w = Writer::Open(fs, tmpl, {.sync = SyncPolicy::kAlways});
    ASSERT_TRUE(w.ok()) << w.status();
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) ASSERT_TRUE((*w)->Log(Rec(t * 1000 + i)).ok());
      });
    }
    for (auto& th : threads) th.join();
    WriterStats st = (*w)->stats();
    EXPECT_EQ(st.records_written, 800);
    EXPECT_LT(st.fsyncs, 800) << "no commit shared an fsync";
    std::printf("800 kAlways commits from 8 threads took %lld fsyncs\n",
                static_cast<long long>(st.fsyncs));
    ASSERT_TRUE((*w)->Close().ok());
  }
  Replayed r = Replay(fs, tmpl);
  EXPECT_EQ(r.records.size(), 800u);
  EXPECT_FALSE(r.corruption);
  ASSERT_TRUE(fs->RemoveAll(tmpl).ok());
}

TEST(WalSegments, NamesAreEightDigitsAndOtherFilesAreIgnored) {
  EXPECT_EQ(SegmentName(1), "00000001");
  EXPECT_EQ(SegmentName(12345678), "12345678");
  auto fs = fs::NewMemFileSystem();
  ASSERT_TRUE(fs->MkdirAll("/w/checkpoint.00000002.tmp").ok());
  for (const char* n : {"00000003", "00000004", "0000005", "lock", "00000004.bak"}) {
    ASSERT_TRUE((*fs->NewWritableFile(fs::JoinPath("/w", n)))->Close().ok());
  }
  EXPECT_EQ(*ListSegments(fs.get(), "/w"), (SegmentRange{3, 4}));
  EXPECT_TRUE(ListSegments(fs.get(), "/nowhere")->empty());
}

}  // namespace
}  // namespace vigil::storage::wal
